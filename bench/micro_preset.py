"""What the MCU-sized preset (``final_model_micro``) costs: train, evaluate, convert, measure.

Trains ``final_model_micro`` with the demo's recipe and budget (``edge_asr.demo.RECIPE`` minus
its ``units=256``, which would undo the preset; 9 minutes) on a corpus, scores the test split
(greedy CER/WER), converts with ``--targets all`` (every variant, TFLM check on each TFLite
one) and once more with ``--int8-io``, then prints flash bytes, TFLM arena bytes and TFLM vs
LiteRT decode agreement of the full-integer streaming artifacts beside the default demo
model's CER, and whether each fits the budget (flash <= 256 KB, arena <= 128 KB).

    python bench/micro_preset.py [--corpus /work/data/corpus-1h-seed0]
        [--work /work/data/micro/preset] [--minutes 9] [--threads 1]

Each step is skipped when its output exists (delete --work to redo). The commands it ran are
printed first, so the numbers can be reproduced by hand.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EDGE_ASR = [sys.executable, "-m", "edge_asr"]
FLASH_BUDGET = 256 * 1024
ARENA_BUDGET = 128 * 1024
# The demo model (final_model_streaming, units 256, same recipe, 9 min, 2 threads) on the 1 h
# seed-0 corpus's test split, as measured for the demo.
DEMO_CER = 0.320
MICRO_TARGETS = ("tflite-int8-full-stream", "tflite-int16x8-full-stream")
# The default gate (delta_cer <= 0.005) rejects some of this small model's int8 variants:
# measured on 40 check utterances int8-full-stream +0.0065, int8-dynamic-per-tensor +0.0052,
# onnx-int8-static +0.0082; on 60, int8-full-stream +0.0043 but its --int8-io twin +0.0068 and
# onnx-int8-static +0.006. The bench keeps them, at 0.01, so their cost is measured and printed
# (the dCER column) instead of hidden by a rejection.
TOLERANCE = ("*:delta_cer=0.01",)


def recipe() -> list[str]:
    """The demo recipe without its ``--param units=256`` (the preset's own sizes apply)."""
    sys.path.insert(0, str(ROOT))
    from edge_asr.demo import RECIPE

    args = list(RECIPE)
    out: list[str] = []
    i = 0
    while i < len(args):
        if args[i] == "--param" and args[i + 1].startswith(("units=", "filters=")):
            i += 2
            continue
        out.append(args[i])
        i += 1
    return out


def run(argv: list[str], log: list[str], capture: bool = False, reuse: bool = False) -> str:
    """Run ``edge-asr ARGV`` (or, with ``reuse``, only record it: its output exists); record
    the command line as a user would type it."""
    line = "edge-asr " + shlex.join(argv)
    log.append(line + ("   # output existed: reused" if reuse else ""))
    if reuse:
        return ""
    print(f"$ {line}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    proc = subprocess.run([*EDGE_ASR, *argv], cwd=ROOT, text=True, capture_output=capture)
    print(f"  ({time.perf_counter() - start:.0f} s, exit {proc.returncode})", file=sys.stderr)
    if proc.returncode not in (0, 1) or (capture and proc.returncode):
        sys.exit(f"micro_preset: `{line}` failed (exit {proc.returncode})")
    return proc.stdout or ""


def entries(bundle: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((bundle / "bundle.json").read_text())
    return {a["name"]: a for a in doc["artifacts"]}


def row(label: str, entry: dict[str, Any] | None) -> str:
    if entry is None:
        return f"| {label} | not in bundle | - | - | - | - | - |"
    micro = entry.get("micro") or {}
    flash = int(micro.get("flash_bytes") or entry["size_bytes"])
    delta = entry["parity"].get("delta_cer")
    dcer = f"{delta:+.4f}" if delta is not None else "-"
    if not micro.get("compatible"):
        why = micro.get("reason", "no TFLM check")
        return f"| {label} | {flash:,} | - | - | {dcer} | no: {why} | - |"
    arena = int(micro["arena_bytes"])
    fits = "yes" if flash <= FLASH_BUDGET and arena <= ARENA_BUDGET else "**no**"
    agree = f"{micro['decode_agreement']:.2f}"
    return f"| {label} | {flash:,} | {arena:,} | {agree} | {dcer} | yes | {fits} |"


def tflm_test_cer(bundle: Path, names: tuple[str, ...], manifest: Path) -> list[str]:
    """Greedy CER on the whole test split of each artifact under TFLM and under LiteRT (the
    bundle's ``micro`` agreement is whole-utterance equality on 8 check utterances; this says
    what a difference costs)."""
    sys.path.insert(0, str(ROOT))
    from converters.convert import load_utterances
    from converters.micro import MicroBackend, _greedy, _posteriors
    from edge_asr.metrics import cer
    from runtime.backends import open_backend
    from runtime.bundle import Bundle
    from runtime.text import int_to_text

    loaded = Bundle.load(bundle)
    utts = load_utterances(manifest, loaded.features, 10**6)
    lines = []
    for art in loaded.artifacts:
        if art.name not in names or art.micro is None or not art.micro.compatible:
            continue
        path = loaded.path / art.file
        hyps: dict[str, list[str]] = {}
        for key, backend in (
            ("TFLM", MicroBackend(path, art.micro.arena_bytes)),
            ("LiteRT", open_backend(path, "tflite")),
        ):
            hyps[key] = []
            for feats in utts.features:
                n = loaded.output_length(len(feats))
                probs = _posteriors(backend, art.stream, feats, n)[:n]
                hyps[key].append(int_to_text(_greedy(probs)))
        same = sum(a == b for a, b in zip(hyps["TFLM"], hyps["LiteRT"], strict=True))
        lines.append(
            f"{art.name}: test CER under TFLM {cer(utts.texts, hyps['TFLM']):.4f}, under LiteRT "
            f"{cer(utts.texts, hyps['LiteRT']):.4f}; same text on {same} of {len(utts.texts)}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=Path("/work/data/corpus-1h-seed0"))
    parser.add_argument("--work", type=Path, default=Path("/work/data/micro/preset"))
    parser.add_argument("--minutes", type=float, default=9.0)
    parser.add_argument("--threads", default="1", help="TF threads for training (default 1)")
    parser.add_argument("--check-count", type=int, default=60, help="as the demo (60)")
    parser.add_argument(
        "--tolerance",
        action="append",
        default=None,
        help=f"gate bound for convert (repeatable; default {' '.join(TOLERANCE)})",
    )
    args = parser.parse_args()
    args.tolerance = args.tolerance or list(TOLERANCE)
    corpus, work = args.corpus.resolve(), args.work.resolve()
    if not (corpus / "corpus.json").is_file():
        sys.exit(f"micro_preset: no finished corpus at {corpus} (corpus.json missing)")
    model, bundle, bundle_io = work / "model", work / "bundle-all", work / "bundle-int8-io"
    work.mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    argv = ["train", "--model", "final_model_micro", "--out", str(model)]
    argv += ["--train", str(corpus / "train.jsonl"), "--valid", str(corpus / "valid.jsonl")]
    argv += ["--minutes", str(args.minutes), "--epochs", "200", "--seed", "0"]
    reuse = (model / "model.keras").is_file()
    run([*argv, "--threads", args.threads, *recipe()], log, reuse=reuse)
    scores = work / "test_scores.json"
    argv = ["evaluate", str(model), "--manifest", str(corpus / "test.jsonl"), "--json"]
    if scores.is_file():
        run(argv, log, reuse=True)
    else:
        scores.write_text(run(argv, log, capture=True))
    common = ["--check", str(corpus / "valid.jsonl"), "--calib", str(corpus / "train.jsonl")]
    common += ["--check-count", str(args.check_count)]
    common += [x for t in args.tolerance for x in ("--tolerance", t)]
    argv = ["convert", str(model), "--out", str(bundle), "--targets", "all", *common]
    run(argv, log, reuse=(bundle / "bundle.json").is_file())
    argv = ["convert", str(model), "--out", str(bundle_io), "--int8-io"]
    argv += ["--targets", ",".join(MICRO_TARGETS), *common]
    run(argv, log, reuse=(bundle_io / "bundle.json").is_file())

    result = json.loads(scores.read_text())
    meta = json.loads((model / "model.json").read_text())
    params = {k: v for k, v in meta["params"].items() if k != "input_dim"}
    print("commands:")
    print("\n".join(f"  {line}" for line in log))
    print(f"\nmodel: {meta['name']} {params}")
    print(f"test split ({corpus / 'test.jsonl'}): {_scores(result)}")
    print(f"default demo model (final_model_streaming, units 256): CER {DEMO_CER:.3f}\n")
    head = "| artifact | flash bytes | TFLM arena bytes | TFLM vs LiteRT agree | dCER vs Keras"
    print(head + " (check set) | TFLM | fits |")
    print("|---|---|---|---|---|---|---|")
    feats, ints = entries(bundle), entries(bundle_io)
    for name in MICRO_TARGETS:
        print(row(name, feats.get(name)))
        print(row(f"{name} --int8-io", ints.get(name)))
    for name in ("tflite-int8-full-audio-stream", "tflite-int16x8-full-audio-stream"):
        print(row(name, feats.get(name)))
    print(f"\nbudget: flash <= {FLASH_BUDGET:,} B, arena <= {ARENA_BUDGET:,} B\n")
    print("\n".join(tflm_test_cer(bundle, MICRO_TARGETS, corpus / "test.jsonl")))
    return 0


def _scores(result: dict[str, Any]) -> str:
    """CER/WER from ``edge-asr evaluate --json`` (keys as that command writes them)."""
    cer = result.get("cer", result.get("CER"))
    wer = result.get("wer", result.get("WER"))
    n = result.get("utterances", result.get("count", "?"))
    return f"CER {cer:.3f}, WER {wer:.3f} ({n} utterances)"


if __name__ == "__main__":
    sys.exit(main())
