"""Audio-in artifacts vs numpy features + feature-input artifacts, side by side in one run.

Per pair (same format, precision and mode, e.g. ``onnx-fp32-stream`` vs
``onnx-fp32-audio-stream``), each in a fresh process that only transcribes the test WAVs (one
interpreter thread): real-time factor, peak RSS, and whether ``runtime.features`` (the numpy
feature code) was imported at all; plus the size overhead of the front end in the file.
Goals (issue 12): audio-in no slower, no feature code on that path, front end <= 5 % of the
fp32 model.

    python bench/audio_in.py [--bundle demo/bundle] [--manifest demo/corpus/test.jsonl] [-n 20]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from runtime.recognizer import Recognizer
bundle, name, files = sys.argv[1], sys.argv[2], sys.argv[3:]
rec = Recognizer.from_bundle(bundle, name)
rec.transcribe(files[0])  # warm-up
audio = busy = 0.0
for f in files:
    t0 = time.perf_counter()
    result = rec.transcribe(f)
    busy += time.perf_counter() - t0
    audio += result.timings["audio_s"]
print(json.dumps({
    "rtf": busy / audio,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "features_imported": "runtime.features" in sys.modules,
}))
"""


def measure(bundle: Path, name: str, files: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(bundle), name, *files],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=Path("demo/bundle"))
    parser.add_argument("--manifest", type=Path, default=Path("demo/corpus/test.jsonl"))
    parser.add_argument("-n", type=int, default=20, help="test utterances (default 20)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from edge_asr.data.manifest import load_manifest
    from runtime.bundle import Bundle

    bundle = Bundle.load(args.bundle)
    files = [str(u.path) for u in load_manifest(args.manifest)[: args.n]]
    by_name = {a.name: a for a in bundle.passing()}
    fp32 = by_name.get("tflite-fp32") or by_name.get("onnx-fp32")
    rows = []
    for audio in [a for a in by_name.values() if a.audio is not None]:
        plain = by_name.get(audio.name.replace("-audio", ""))
        if plain is None:
            continue
        a, f = measure(args.bundle, audio.name, files), measure(args.bundle, plain.name, files)
        overhead = (audio.size_bytes or 0) - (plain.size_bytes or 0)
        rows.append(
            (
                audio.name,
                f["rtf"],
                a["rtf"],
                a["rtf"] / f["rtf"],
                f["rss_mb"],
                a["rss_mb"],
                a["features_imported"],
                overhead,
                100 * overhead / (fp32.size_bytes or 1) if fp32 else float("nan"),
            )
        )
    print(
        "| audio-in artifact | RTF features+model | RTF audio-in | ratio | RSS MB features | "
        "RSS MB audio-in | feature code imported | front-end bytes | % of fp32 model |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r[0]} | {r[1]:.4f} | {r[2]:.4f} | {r[3]:.2f}x | {r[4]:.0f} | {r[5]:.0f} | "
            f"{'yes' if r[6] else 'no'} | {r[7]:,} | {r[8]:.1f} % |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
