"""Memory bench for training from the disk feature cache: peak RSS must not grow with the corpus.

For each corpus size (default 1 h and 10 h; corpora made once with ``edge-asr corpus`` and
reused), trains ``final_model_streaming`` on MFCC features for a fixed number of steps (batches
drawn from the whole length range, not SortaGrad's shortest first) twice:
``cold`` (empty cache: the run featurizes and builds it) and ``warm`` (the cache reused). For
each run it prints the training process's peak RSS (``wait4``'s ru_maxrss; the peak anonymous
and file-backed parts sampled from /proc), the wall time, and the cache's size and build time.
Target: peak RSS within 15 % from 1 h to 10 h.

    python bench/train_memory.py                       # 1 h and 10 h under /work/data
    python bench/train_memory.py --hours 1 --steps 10  # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EDGE_ASR = [sys.executable, "-m", "edge_asr"]


def _status_kb(pid: int, fields: tuple[str, ...]) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in fields:
                out[key] = int(value.split()[0])
    except (OSError, ValueError):
        pass
    return out


def run_measured(cmd: list[str]) -> dict:
    """Run ``cmd``; its peak RSS (MB) and the peaks of its anonymous and file-backed parts."""
    print("$ " + shlex.join(["edge-asr", *cmd[len(EDGE_ASR) :]]), flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    peaks = {"RssAnon": 0, "RssFile": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            for key, kb in _status_kb(proc.pid, tuple(peaks)).items():
                peaks[key] = max(peaks[key], kb)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stderr is not None
    err = proc.stderr.read()  # drained while it runs (a full pipe would stall it)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    if proc.returncode:
        sys.stderr.write(err[-4000:])
        raise SystemExit(f"training failed ({proc.returncode})")
    lines = [line for line in err.splitlines() if line.startswith(("features ", "epoch "))]
    return {
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "peak_anon_mb": peaks["RssAnon"] / 1024,
        "peak_file_mb": peaks["RssFile"] / 1024,
        "wall_s": time.monotonic() - t0,
        "log": lines,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", default="1,10", help="corpus sizes, comma-separated (default 1,10)")
    p.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    p.add_argument("--work", type=Path, default=Path("/work/data"), help="corpora live here")
    p.add_argument("--steps", type=int, default=100, help="training steps per run (default 100)")
    p.add_argument("--threads", default="1", help="TF threads (default 1: a shared machine)")
    p.add_argument("--jobs", default="2", help="feature extraction processes (default 2)")
    p.add_argument("--features", default="mfcc", help="mfcc (default) or spectrogram")
    p.add_argument("--runs", default="cold,warm", help="which runs (default cold,warm)")
    args = p.parse_args()

    results = {}
    for hours in [float(h) for h in args.hours.split(",")]:
        corpus = args.work / f"corpus-{hours:g}h-seed{args.seed}"
        if not (corpus / "corpus.json").exists():
            subprocess.run(
                [*EDGE_ASR, "corpus", "--out", str(corpus), "--hours", str(hours),
                 "--seed", str(args.seed)],
                check=True, cwd=ROOT,
            )  # fmt: skip
        bench = args.work / "train-memory" / f"{hours:g}h-{args.features}"
        cache = bench / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        cmd = [
            *EDGE_ASR, "train", "--model", "final_model_streaming", "--features", args.features,
            "--train", str(corpus / "train.jsonl"), "--valid", str(corpus / "valid.jsonl"),
            "--out", str(bench / "model"), "--overwrite", "--quiet", "--optimizer", "adam",
            "--epochs", "1", "--steps-per-epoch", str(args.steps), "--no-sortagrad",
            "--threads", args.threads,
            "--jobs", args.jobs, "--cache", str(cache),
        ]  # fmt: skip
        names = args.runs.split(",")
        runs = {name: run_measured(cmd) for name in names}
        metas = [json.loads(m.read_text()) for m in cache.glob("*/meta.json")]
        results[hours] = {
            **runs,
            "cache_mb": sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) / 1e6,
            "build_s": sum(m["seconds"] for m in metas),
            "frames": sum(m["frames"] for m in metas),
        }
        for name, r in runs.items():
            print(f"  {hours:g} h {name}: " + "; ".join(r["log"]), flush=True)

    print(f"\n{'corpus':>7} {'run':>5} {'peak RSS MB':>12} {'anon MB':>8} {'file MB':>8} "
          f"{'wall s':>7} {'cache MB':>9} {'build s':>8}")  # fmt: skip
    for hours, r in results.items():
        for name in names:
            x = r[name]
            print(
                f"{hours:6g}h {name:>5} {x['peak_rss_mb']:12.0f} {x['peak_anon_mb']:8.0f} "
                f"{x['peak_file_mb']:8.0f} {x['wall_s']:7.0f} {r['cache_mb']:9.1f} "
                f"{r['build_s']:8.1f}"
            )
    sizes = sorted(results)
    if len(sizes) > 1:
        lo, hi = results[sizes[0]], results[sizes[-1]]
        for name in names:
            growth = hi[name]["peak_rss_mb"] / lo[name]["peak_rss_mb"] - 1
            verdict = "PASS" if growth <= 0.15 else "FAIL"
            print(
                f"peak RSS {sizes[0]:g} h -> {sizes[-1]:g} h ({name}): {growth * 100:+.1f} % "
                f"(target <= +15 %): {verdict}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
