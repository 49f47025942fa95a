"""``edge-asr evaluate DIR --manifest test.jsonl``: greedy-decoded CER/WER of a Keras model dir.

Features go through the runtime's own ``extract`` with the model directory's stats, so the
numbers are what a device running the same network would score; unreadable rows are skipped
and counted rather than aborting a long evaluation.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from runtime.errors import EdgeASRError


def evaluate_model_dir(
    model_dir: str | Path, manifest: str | Path, batch_size: int = 16
) -> dict[str, Any]:
    """Totals and per-utterance results (file, reference, hypothesis, cer, wer) as a dict."""
    from edge_asr.data.audio import load_audio
    from edge_asr.data.manifest import load_manifest
    from edge_asr.inference import greedy_texts, keras_posteriors, load_model_dir
    from edge_asr.metrics import cer, char_errors, wer, word_errors
    from edge_asr.progress import track
    from runtime.features import extract
    from runtime.text import normalize_text

    model, features = load_model_dir(model_dir)
    utterances = load_manifest(manifest)
    start = time.monotonic()
    feats, kept, skipped = [], [], []
    for utt in track(utterances, "features"):
        try:
            feats.append(extract(load_audio(utt.path, features.sample_rate), features))
            kept.append(utt)
        except EdgeASRError as exc:
            warnings.warn(f"skipping {exc}", stacklevel=2)
            skipped.append({"file": str(utt.path), "error": str(exc)})
    if not kept:
        raise EdgeASRError(f"{manifest}: no readable utterances to evaluate")
    hyps = greedy_texts(keras_posteriors(model, feats, batch_size=batch_size))
    refs = [normalize_text(u.text) for u in kept]
    rows = []
    for utt, ref, hyp in zip(kept, refs, hyps, strict=True):
        rows.append(
            {
                "file": str(utt.path),
                "reference": ref,
                "hypothesis": hyp,
                "cer": round(char_errors(ref, hyp).rate, 4),
                "wer": round(word_errors(ref, hyp).rate, 4),
            }
        )
    return {
        "model_dir": str(model_dir),
        "model": model.edge_asr.get("name"),
        "manifest": str(manifest),
        "cer": cer(refs, hyps),
        "wer": wer(refs, hyps),
        "utterances": len(rows),
        "skipped": len(skipped),
        "audio_seconds": round(sum(float(u.duration or 0) for u in kept), 2),
        "seconds": round(time.monotonic() - start, 2),
        "results": rows,
        "skipped_files": skipped,
    }


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="greedy-decoded CER/WER of a trained model directory on a manifest",
    )
    p.add_argument("model_dir", type=Path, metavar="DIR", help="model directory (edge-asr train)")
    p.add_argument("--manifest", required=True, type=Path, help="JSON-lines manifest to score")
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    p.add_argument("--out", type=Path, help="also write the JSON results to this file")
    p.add_argument("--batch-size", type=int, default=16, help="utterances per forward pass")
    p.add_argument("--show", type=int, default=5, help="worst utterances to print (text mode)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runtime.fileio import write_json

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate_model_dir(args.model_dir, args.manifest, max(1, args.batch_size))
    for w in caught:
        print(f"edge-asr evaluate: warning: {w.message}", file=sys.stderr)
    if args.out:
        write_json(args.out, report)
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"{report['model']} on {report['manifest']}: CER {report['cer']:.4f}  "
        f"WER {report['wer']:.4f}  ({report['utterances']} utterances, "
        f"{report['skipped']} skipped)"
    )
    worst = sorted(report["results"], key=lambda r: -r["cer"])[: max(0, args.show)]
    for r in worst:
        print(f"  cer {r['cer']:.3f}  {Path(r['file']).name}")
        print(f"    ref: {r['reference']}")
        print(f"    hyp: {r['hypothesis']}")
    return 0
