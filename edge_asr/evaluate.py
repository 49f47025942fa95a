"""``edge-asr evaluate DIR --manifest test.jsonl``: greedy-decoded CER/WER of a Keras model dir.

Features come from the one manifest loader (``edge_asr.data.loading``) with the model
directory's stats, posteriors from ``keras_posteriors`` and transcripts from the runtime's
greedy decoder, so the numbers are what a device running the same network would score and
what training logged as val_cer. Bad rows are skipped and counted (``--strict``: refused).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from edge_asr.cli_types import output_file, positive_int

EXAMPLE = """example:
  edge-asr evaluate demo/model --manifest demo/corpus/test.jsonl --out demo/test_results.json"""


def evaluate_model_dir(
    model_dir: str | Path,
    manifest: str | Path,
    batch_size: int = 16,
    strict: bool = False,
    progress: bool = True,
    where: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Totals and per-utterance results (file, reference, hypothesis, cer, wer) as a dict;
    ``where`` scores only the rows whose fields match (e.g. ``{"engine": "piper"}``)."""
    from edge_asr.data.loading import load_set
    from edge_asr.inference import greedy_texts, keras_posteriors
    from edge_asr.metrics import cer, char_errors, wer, word_errors
    from edge_asr.models import load_model_dir

    model, folder = load_model_dir(model_dir)
    start = time.monotonic()
    loaded = load_set(
        manifest,
        folder.features,
        strict=strict,
        progress="features" if progress else None,
        where=where,
    )
    hyps = greedy_texts(
        keras_posteriors(model, loaded.features, batch_size=batch_size), folder.labels
    )
    refs = loaded.texts
    rows = [
        {
            "file": str(utt.path),
            "reference": ref,
            "hypothesis": hyp,
            "cer": round(char_errors(ref, hyp).rate, 4),
            "wer": round(word_errors(ref, hyp).rate, 4),
        }
        for utt, ref, hyp in zip(loaded.utterances, refs, hyps, strict=True)
    ]
    return {
        "model_dir": str(model_dir),
        "model": folder.meta.name,
        "manifest": str(manifest),
        "where": where or {},
        "cer": cer(refs, hyps),
        "wer": wer(refs, hyps),
        "utterances": len(rows),
        "skipped": loaded.skipped.n,
        "audio_seconds": round(sum(u.duration for u in loaded.utterances), 2),
        "seconds": round(time.monotonic() - start, 2),
        "results": rows,
        "skipped_reasons": dict(loaded.skipped.counts),
        "skipped_examples": loaded.skipped.examples,
    }


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="greedy-decoded CER/WER of a trained model directory on a manifest",
        description="Score a model directory (edge-asr train) on a manifest: greedy CTC "
        "decoding, corpus-level CER and WER, the worst utterances. Bad rows and unreadable "
        "audio are skipped and counted (one line each on stderr) unless --strict.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model_dir", type=Path, metavar="DIR", help="model directory (edge-asr train)")
    p.add_argument("--manifest", required=True, type=Path, help="JSON-lines manifest to score")
    p.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="score only rows whose manifest field equals VALUE, e.g. engine=piper or "
        "voice=en-us+m3 (repeatable: all must match)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    p.add_argument(
        "--out",
        type=output_file,
        metavar="FILE",
        help="also write the JSON results to this file (default: none)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=16,
        help="utterances per forward pass, causal models only (default %(default)s)",
    )
    p.add_argument(
        "--show",
        type=int,
        default=5,
        metavar="N",
        help="worst utterances to print in text mode (default %(default)s)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first bad manifest row or unreadable audio (default: skip and count)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge_asr.data.manifest import parse_where
    from runtime.fileio import write_json

    where = parse_where(args.where)
    report = evaluate_model_dir(
        args.model_dir,
        args.manifest,
        args.batch_size,
        args.strict,
        progress=not args.quiet,
        where=where,
    )
    if args.out:
        write_json(args.out, report)
    if args.json:
        print(json.dumps(report))
        return 0
    only = "".join(f" [{k}={v}]" for k, v in where.items())
    print(
        f"{report['model']} on {report['manifest']}{only}: CER {report['cer']:.4f}  "
        f"WER {report['wer']:.4f}  ({report['utterances']} utterances, "
        f"{report['skipped']} skipped)"
    )
    worst = sorted(report["results"], key=lambda r: -r["cer"])[: max(0, args.show)]
    for r in worst:
        print(f"  cer {r['cer']:.3f}  {Path(r['file']).name}")
        print(f"    ref: {r['reference']}")
        print(f"    hyp: {r['hypothesis']}")
    return 0
