"""Run one artifact over a list of WAV files and save its texts and posteriors.

``python -m edge_asr.targets.runner`` with a JSON request on stdin. It runs both natively (the
host reference) and inside the emulated aarch64 root, with the same code on both sides, so a
difference between the two runs is the instruction set's, not ours. Imports only ``runtime``
and numpy (the aarch64 root has nothing else); ``interpreter: "tflite-runtime"`` hides
ai-edge-litert so the runtime falls back to the legacy tflite-runtime wheel.

Request: ``{"bundle", "artifact", "files", "out", "interpreter"}``; writes ``out`` (npz: one
array per file, ``p0``, ``p1``, ...) and prints one JSON line ``{"texts": [...], "load_s"}`` or
``{"error": ...}``.
"""

from __future__ import annotations

import json
import platform
import sys
import time


def run(request: dict) -> dict:
    """Texts and posteriors of ``request["artifact"]`` for each file (see module docstring)."""
    if request.get("interpreter") == "tflite-runtime":
        sys.modules["ai_edge_litert"] = None  # type: ignore[assignment]  # import -> ImportError
    import numpy as np

    from runtime.audio import read_audio
    from runtime.decoding import greedy_decode, to_log_probs
    from runtime.recognizer import Recognizer

    t0 = time.perf_counter()
    rec = Recognizer.from_bundle(request["bundle"], request["artifact"])
    load_s = time.perf_counter() - t0
    texts, arrays = [], {}
    for i, file in enumerate(request["files"]):
        samples = read_audio(file, rec.sample_rate)
        probs, _ = rec.posteriors(samples)  # audio-in artifacts compute features in the graph
        arrays[f"p{i}"] = np.asarray(probs, np.float32)
        labels = greedy_decode(to_log_probs(probs))
        texts.append(rec.labels.text(labels))
    np.savez(request["out"], **arrays)
    interp = "onnxruntime" if rec.artifact.format == "onnx" else _tflite_name()
    return {"texts": texts, "load_s": load_s, "machine": platform.machine(), "interp": interp}


def _tflite_name() -> str:
    return "tflite-runtime" if "tflite_runtime" in sys.modules else "litert"


def main() -> int:
    request = json.load(sys.stdin)
    try:
        print(json.dumps(run(request)), flush=True)
    except Exception as exc:  # any failure is a result of this target, reported, not raised
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(json.dumps({"error": f"{type(exc).__name__}: {first[:300]}"}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
