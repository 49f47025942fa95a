"""Quality bench for the default deployable model (``final_model_streaming``).

Generates (or reuses) an H-hour corpus of both engines (espeak-ng and Piper, with the
acoustics chain), trains with a fixed wall-clock budget using the recommended recipe on one
engine's share (``--train-on``), then prints the validation CER/time curve from train_log.csv
and the greedy CER/WER of the best checkpoint on the validation split (sentences never trained
on) and on each engine's test split (sentences AND espeak voice variants never trained on; the
other engine's split is the cross-engine check). Bars: espeak test CER <= 0.20 and held-out
engine CER <= 0.45 within 20 minutes of training on a 2-core machine.

    python bench/train_default.py                          # 10 h corpus, 20 min: the bars
    python bench/train_default.py --hours 1 --minutes 5    # a quick look
    python bench/train_default.py --train-on matrix        # espeak / piper / all: the table

Why 10 hours: in 20 minutes the model sees ~40 h of audio. On 4 h it either memorizes
(no augmentation: val loss flat from minute 13, CER .219) or, regularized, learns too slowly
(SpecAugment + dropout .2: CER .209, still improving). Fresh audio is the cheap regularizer:
synthesis costs ~25 s per hour on 2 cores and is not part of the training budget; MFCC
features of 10 h take under 100 MB in memory.

Each run prints the exact commands it ran. The CPU is shared in development, so the load
average and the CPU seconds actually used are printed beside wall time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("espeak", "piper")
EDGE_ASR = [sys.executable, "-m", "edge_asr"]

# The recommended recipe (see the "Training" section of the README / report).
RECIPE = [
    "--model", "final_model_streaming",
    "--features", "mfcc",
    "--param", "kernel_size=21",
    "--param", "conv_stride=3",
    "--param", "units=256",
    "--param", "dropout=0.1",
    "--optimizer", "adam",
    "--lr", "2e-3",
    "--lr-schedule", "cosine",
    "--batch-size", "16",
    "--no-augment",
]  # fmt: skip


def run(cmd: list[str]) -> None:
    print("$ " + shlex.join(["edge-asr", *cmd[len(EDGE_ASR) :]]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def evaluate(model: Path, manifest: Path) -> dict:
    cmd = [*EDGE_ASR, "evaluate", str(model), "--manifest", str(manifest), "--json", "--quiet"]
    print("$ " + shlex.join(["edge-asr", *cmd[len(EDGE_ASR) :]]), flush=True)
    proc = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
    return json.loads(proc.stdout)


def train_and_score(args: argparse.Namespace, corpus: Path, train_on: str) -> dict:
    """Train on ``train_on``'s share of the corpus (``all``: every engine) for the budget and
    score the validation split and every engine's test split."""
    suffix = "" if train_on == "all" else f".{train_on}"
    model = args.work / f"model-{args.hours:g}h-{args.minutes:g}min-{train_on}"
    load_before = os.getloadavg()[0]
    cpu0, t1 = cpu_seconds(), time.monotonic()
    run(
        [
            *EDGE_ASR, "train", *RECIPE,
            "--train", str(corpus / f"train{suffix}.jsonl"),
            "--valid", str(corpus / f"valid{suffix}.jsonl"),
            "--out", str(model), "--minutes", str(args.minutes), "--threads", args.threads,
            "--overwrite", "--quiet", *args.extra,
        ]
    )  # fmt: skip
    with open(model / "train_log.csv", newline="") as fh:
        log = list(csv.DictReader(fh))
    result = {
        "train_on": train_on,
        "train_wall_min": (time.monotonic() - t1) / 60,
        "train_cpu_min": (cpu_seconds() - cpu0) / 60,
        "load": (load_before, os.getloadavg()[0]),
        "log": log,
        "scores": {"valid": evaluate(model, corpus / f"valid{suffix}.jsonl")},
    }
    for engine in ENGINES:
        test = corpus / f"test.{engine}.jsonl"
        if test.is_file():
            result["scores"][f"test {engine}"] = evaluate(model, test)
    return result


def held_out(train_on: str, split: str) -> bool:
    """Is ``split`` ("valid", "test espeak", ...) the test split of an engine not trained on?"""
    return split.startswith("test ") and train_on not in ("all", split.split()[-1])


def report(args: argparse.Namespace, corpus_s: float, result: dict) -> None:
    print(f"\ntrained on: {result['train_on']}; validation CER / training time")
    print(f"{'epoch':>5} {'min':>6} {'loss':>8} {'val_loss':>8} {'val_cer':>8} {'val_wer':>8}")
    for row in result["log"]:
        print(
            f"{row['epoch']:>5} {float(row['seconds']) / 60:6.1f} {float(row['loss']):8.2f} "
            f"{float(row['val_loss']):8.2f} {float(row['val_cer']):8.3f} "
            f"{float(row['val_wer']):8.3f}"
        )
    lo, hi = result["load"]
    print(
        f"\ncorpus {args.hours:g} h (made/reused in {corpus_s:.0f} s); training wall "
        f"{result['train_wall_min']:.1f} min (incl. feature extraction), CPU "
        f"{result['train_cpu_min']:.1f} min; load average {lo:.1f} -> {hi:.1f}"
    )
    for split, s in result["scores"].items():
        held = "  (engine held out of training)" if held_out(result["train_on"], split) else ""
        print(
            f"final {split:12}: CER {s['cer']:.4f}  WER {s['wer']:.4f}  "
            f"({s['utterances']} utterances){held}"
        )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=10.0, help="corpus size (hours of audio)")
    p.add_argument("--minutes", type=float, default=20.0, help="training time budget")
    p.add_argument("--seed", type=int, default=4, help="corpus seed")
    p.add_argument("--work", type=Path, default=ROOT / "demo" / "bench", help="work folder")
    p.add_argument("--threads", default="2", help="TF threads (N or N,M)")
    p.add_argument(
        "--train-on",
        default="espeak",
        help="engine(s) to train on: espeak (default: Piper is the held-out engine), piper, "
        "all, or 'matrix' for all three one after the other (the cross-engine table)",
    )
    p.add_argument("extra", nargs="*", help="extra `edge-asr train` flags (after --)")
    args = p.parse_args()

    corpus = args.work / f"corpus-{args.hours:g}h-seed{args.seed}"
    t0 = time.monotonic()
    run([*EDGE_ASR, "corpus", "--out", str(corpus), "--hours", str(args.hours),
         "--seed", str(args.seed)])  # fmt: skip
    corpus_s = time.monotonic() - t0
    runs = ["espeak", "piper", "all"] if args.train_on == "matrix" else [args.train_on]
    results = [train_and_score(args, corpus, train_on) for train_on in runs]
    for result in results:
        report(args, corpus_s, result)
    print("\ncross-engine CER (rows: trained on; columns: test split of one engine)")
    tests = [k for k in results[0]["scores"] if k.startswith("test ")]
    print(f"{'trained on':12} " + " ".join(f"{t:>14}" for t in tests))
    for result in results:
        cells = " ".join(f"{result['scores'][t]['cer']:14.4f}" for t in tests)
        print(f"{result['train_on']:12} {cells}")
    for result in results:
        own = result["scores"].get("test espeak")
        held = [s for k, s in result["scores"].items() if held_out(result["train_on"], k)]
        if own is not None and result["train_on"] in ("espeak", "all"):
            print(f"bar (espeak test CER <= 0.20), trained on {result['train_on']}: "
                  f"{'PASS' if own['cer'] <= 0.20 else 'FAIL'} ({own['cer']:.3f})")  # fmt: skip
        for s in held:
            print(f"bar (held-out engine CER <= 0.45), trained on {result['train_on']}: "
                  f"{'PASS' if s['cer'] <= 0.45 else 'FAIL'} ({s['cer']:.3f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
