"""Quality bench for the default deployable model (``final_model_streaming``).

Generates (or reuses) an H-hour espeak corpus, trains with a fixed wall-clock budget using the
recommended recipe, then prints the validation CER/time curve from train_log.csv and the
greedy CER/WER of the best checkpoint on the validation split (sentences never trained on) and
the test split (sentences AND voice variants never trained on). Target: CER <= 0.20 within 20
minutes of training on a 2-core machine.

    python bench/train_default.py                          # 10 h corpus, 20 min: the bar
    python bench/train_default.py --hours 1 --minutes 5    # a quick look

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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=10.0, help="corpus size (hours of audio)")
    p.add_argument("--minutes", type=float, default=20.0, help="training time budget")
    p.add_argument("--seed", type=int, default=4, help="corpus seed")
    p.add_argument("--work", type=Path, default=ROOT / "demo" / "bench", help="work folder")
    p.add_argument("--threads", default="2", help="TF threads (N or N,M)")
    p.add_argument("extra", nargs="*", help="extra `edge-asr train` flags (after --)")
    args = p.parse_args()

    corpus = args.work / f"corpus-{args.hours:g}h-seed{args.seed}"
    model = args.work / f"model-{args.hours:g}h-{args.minutes:g}min"
    t0 = time.monotonic()
    run([*EDGE_ASR, "corpus", "--out", str(corpus), "--hours", str(args.hours),
         "--seed", str(args.seed)])  # fmt: skip
    corpus_s = time.monotonic() - t0

    load_before = os.getloadavg()[0]
    cpu0, t1 = cpu_seconds(), time.monotonic()
    run(
        [
            *EDGE_ASR, "train", *RECIPE,
            "--train", str(corpus / "train.jsonl"), "--valid", str(corpus / "valid.jsonl"),
            "--out", str(model), "--minutes", str(args.minutes), "--threads", args.threads,
            "--overwrite", "--quiet", *args.extra,
        ]
    )  # fmt: skip
    train_wall, train_cpu = time.monotonic() - t1, cpu_seconds() - cpu0
    load_after = os.getloadavg()[0]

    scores = {}
    for split in ("valid", "test"):
        manifest = str(corpus / f"{split}.jsonl")
        cmd = [*EDGE_ASR, "evaluate", str(model), "--manifest", manifest, "--json"]
        print("$ " + shlex.join(["edge-asr", *cmd[len(EDGE_ASR) :]]), flush=True)
        proc = subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True, text=True)
        scores[split] = json.loads(proc.stdout)

    print("\nvalidation CER / training time")
    print(f"{'epoch':>5} {'min':>6} {'loss':>8} {'val_loss':>8} {'val_cer':>8} {'val_wer':>8}")
    with open(model / "train_log.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            print(
                f"{row['epoch']:>5} {float(row['seconds']) / 60:6.1f} {float(row['loss']):8.2f} "
                f"{float(row['val_loss']):8.2f} {float(row['val_cer']):8.3f} "
                f"{float(row['val_wer']):8.3f}"
            )
    print(
        f"\ncorpus {args.hours:g} h (made/reused in {corpus_s:.0f} s); training wall "
        f"{train_wall / 60:.1f} min (incl. feature extraction), CPU {train_cpu / 60:.1f} min; "
        f"load average {load_before:.1f} -> {load_after:.1f}"
    )
    for split, s in scores.items():
        print(
            f"final {split:5}: CER {s['cer']:.4f}  WER {s['wer']:.4f}  "
            f"({s['utterances']} utterances)"
        )
    ok = scores["valid"]["cer"] <= 0.20
    print(f"bar (validation CER <= 0.20 in {args.minutes:g} min): {'PASS' if ok else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
