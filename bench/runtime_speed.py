"""Runtime speed and memory, measured side by side with Keras in one run.

Per artifact of a bundle, on the test split, one interpreter thread:
  * offline real-time factor (features + model + greedy decoding), in a fresh process that only
    transcribes (numpy + one interpreter), with that process's peak RSS;
  * streaming artifacts: latency p50/p95 of each 100 ms block (``accept_waveform`` then
    ``partial``: features, the model calls the block completes, greedy text; what a live
    client waits for) and streaming RTF, through one ``Recognizer``'s stream (``finish`` ends
    each utterance);
  * the ratio against Keras ``predict`` (features + model + the same decoder) on the same
    utterances, timed in this run.
Goals (issue 5): streaming RTF <= 0.01 for the default model, >= 20x faster than Keras,
peak RSS <= 60 MB.

    python bench/runtime_speed.py [--bundle demo/bundle] [--manifest demo/corpus/test.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def keras_seconds(bundle, files: list[str]) -> tuple[float, float]:
    """Keras predict (batch 1, as on a device) + features + greedy decode: seconds, audio s."""
    import edge_asr.tensorflow_quiet  # noqa: F401
    from edge_asr.data.audio import load_audio
    from edge_asr.models import load_model
    from runtime.decoding import greedy_decode, to_log_probs
    from runtime.features import extract

    model = load_model(bundle.source_file, bundle.header.model_meta)
    audio = [load_audio(f, bundle.features.sample_rate) for f in files]
    model.predict(extract(audio[0], bundle.features)[None], verbose=0)  # warm-up / trace
    start = time.perf_counter()
    for samples in audio:
        probs = model.predict(extract(samples, bundle.features)[None], verbose=0)[0]
        greedy_decode(to_log_probs(probs))
    total_audio = sum(len(a) for a in audio) / bundle.features.sample_rate
    return time.perf_counter() - start, total_audio


def streaming_stats(bundle_path: Path, name: str, files: list[str]) -> dict[str, float]:
    """Per-block latency (ms) and streaming RTF over ``files``."""
    from edge_asr.data.audio import load_audio
    from runtime.recognizer import Recognizer

    rec = Recognizer.from_bundle(bundle_path, name, streaming=True)
    stream = rec.create_stream()
    rate = rec.sample_rate
    block = rate // 10
    lat: list[float] = []
    audio_s = busy = 0.0
    for f in files:
        samples = load_audio(f, rate)
        start = time.perf_counter()
        for i in range(0, len(samples), block):
            t0 = time.perf_counter()
            stream.accept_waveform(rate, samples[i : i + block])
            _ = stream.partial  # what a live client reads after every block
            lat.append((time.perf_counter() - t0) * 1e3)
        rec.finish(stream)
        busy += time.perf_counter() - start
        audio_s += len(samples) / rate
    arr = np.asarray(lat or [0.0])
    return {
        "block_p50_ms": float(np.percentile(arr, 50)),
        "block_p95_ms": float(np.percentile(arr, 95)),
        "stream_rtf": busy / audio_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="demo/bundle")
    parser.add_argument("--manifest", default="demo/corpus/test.jsonl")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()

    from edge_asr.data.manifest import load_manifest
    from edge_asr.measure import make_request, run_isolated
    from runtime.bundle import Bundle

    if not Path(args.bundle, "bundle.json").is_file():
        print(f"no bundle at {args.bundle}: run `make demo` first", file=sys.stderr)
        return 2
    bundle = Bundle.load(args.bundle)
    files = [str(u.path) for u in load_manifest(args.manifest)[: args.limit]]
    keras_s, audio_s = keras_seconds(bundle, files)
    keras_rtf = keras_s / audio_s
    print(f"{len(files)} utterances, {audio_s:.0f} s of audio; Keras predict RTF {keras_rtf:.4f}")
    header = (
        f"{'artifact':26} {'KB':>7} {'RTF':>7} {'x Keras':>8} {'RSS MB':>7} "
        f"{'block p50':>10} {'p95 ms':>7} {'stream RTF':>10}"
    )
    print(header)
    rows = []
    for art in bundle.passing():
        run = run_isolated(make_request(bundle, art, files))
        if "error" in run:
            print(f"{art.name:26} error: {run['error']}")
            continue
        busy = sum(r["latency_ms"] for r in run["results"] if "latency_ms" in r) / 1e3
        row = {
            "artifact": art.name,
            "size_kb": (art.size_bytes or 0) / 1024,
            "rtf": busy / audio_s,
            "speedup_vs_keras": keras_s / busy,
            "peak_rss_mb": run["peak_rss_mb"],
        }
        if art.streaming:
            row |= streaming_stats(bundle.path, art.name, files)
        rows.append(row)
        stream = (
            f"{row['block_p50_ms']:10.2f} {row['block_p95_ms']:7.2f} {row['stream_rtf']:10.4f}"
            if art.streaming
            else f"{'-':>10} {'-':>7} {'-':>10}"
        )
        print(
            f"{art.name:26} {row['size_kb']:7.0f} {row['rtf']:7.4f} "
            f"{row['speedup_vs_keras']:7.1f}x {row['peak_rss_mb']:7.1f} {stream}"
        )
    if args.json:
        numbers = {"keras_rtf": keras_rtf, "artifacts": rows}
        Path(args.json).write_text(json.dumps(numbers, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
