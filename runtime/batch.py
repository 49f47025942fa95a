"""Transcribe a list of files with one artifact and report timings and peak memory.

Run as ``python -m runtime.batch`` with a JSON request on stdin; prints JSON lines. The
validation report runs each artifact in such a fresh process, so its peak RSS is that of a
process that only transcribes (numpy + one interpreter, no TensorFlow), as on a device.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from runtime.errors import EdgeASRError


def peak_rss_mb() -> float:
    """Peak resident memory of this process image. ``ru_maxrss`` survives exec, so a child
    started from a big parent would report the parent's peak; VmHWM (Linux) starts afresh."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def transcribe_files(
    bundle: str, artifact: str, files: list[str], threads: int = 1
) -> Iterator[dict[str, Any]]:
    """Yield one record per file (text, audio seconds, latency), then a summary record with
    the load time and this process's peak RSS (MB)."""
    from runtime.recognizer import Recognizer

    t0 = time.perf_counter()
    rec = Recognizer.from_bundle(bundle, artifact, threads=threads)
    load_s = time.perf_counter() - t0
    for file in files:
        try:
            res = rec.transcribe(file)
        except EdgeASRError as exc:
            yield {"type": "result", "file": file, "error": str(exc)}
            continue
        t = res.timings
        latency = t["features_ms"] + t["model_ms"] + t["decode_ms"]
        yield {
            "type": "result",
            "file": file,
            "text": res.text,
            "audio_s": t["audio_s"],
            "latency_ms": latency,
        }
    yield {"type": "summary", "artifact": artifact, "load_s": load_s, "peak_rss_mb": peak_rss_mb()}


def loadable_by(path: str, fmt: str) -> dict[str, str]:
    """Which interpreters installed here can load and run the artifact ('yes', 'no: why',
    'not checked' when that interpreter is absent)."""
    import importlib.util

    import numpy as np

    status: dict[str, str] = {}
    candidates = {
        "tflite": [("litert", "ai_edge_litert.interpreter"), ("tflite-runtime", "tflite_runtime")],
        "onnx": [("onnxruntime", "onnxruntime")],
    }[fmt]
    for label, module in candidates:
        if importlib.util.find_spec(module.split(".")[0]) is None:
            status[label] = "not checked"
            continue
        try:
            if label == "tflite-runtime":
                from tflite_runtime.interpreter import Interpreter
            elif label == "litert":
                from ai_edge_litert.interpreter import Interpreter
            if fmt == "onnx":
                import onnxruntime as ort

                sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
                feeds = {}
                for i in sess.get_inputs():
                    shape = [d if isinstance(d, int) else 32 for d in i.shape]
                    feeds[i.name] = np.zeros(shape, np.float16 if "16" in i.type else np.float32)
                sess.run(None, feeds)
            else:
                interp = Interpreter(model_path=path)
                interp.allocate_tensors()
                interp.invoke()
            status[label] = "yes"
        except Exception as exc:  # any failure to load or run is the answer
            status[label] = f"no: {str(exc).splitlines()[0][:120]}"
    return status


def make_request(bundle: Any, artifact: dict[str, Any], files: list[str], threads: int = 1) -> dict:
    """The request ``run_isolated`` sends: one ``runtime.bundle.Bundle`` artifact over files."""
    return {
        "bundle": str(bundle.path),
        "artifact": artifact["name"],
        "path": str(bundle.path / artifact["file"]),
        "format": artifact["format"],
        "files": files,
        "threads": threads,
    }


def run_isolated(
    request: dict[str, Any], on_result: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Run ``request`` in a fresh ``python -m runtime.batch`` process (so its timings and peak
    RSS are its own); returns the summary plus ``results``, or ``error`` if it failed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "runtime.batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin and proc.stdout and proc.stderr
    proc.stdin.write(json.dumps(request))
    proc.stdin.close()
    results: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for line in proc.stdout:
        record = json.loads(line)
        if record["type"] == "result":
            results.append(record)
            if on_result:
                on_result(record)
        else:
            summary = record
    stderr = proc.stderr.read()
    proc.wait()
    if summary.get("type") == "error" or proc.returncode:
        tail = stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        return {"error": summary.get("error") or tail[0], "results": results}
    return {**summary, "results": results}


def main() -> int:
    """Read a request {bundle, artifact, path, format, files, threads} from stdin; print JSON
    lines: one per file, then the summary (with ``loadable_by``)."""
    request = json.load(sys.stdin)
    try:
        for record in transcribe_files(
            request["bundle"], request["artifact"], request["files"], request.get("threads", 1)
        ):
            if record["type"] == "summary":
                record["loadable_by"] = loadable_by(request["path"], request["format"])
            print(json.dumps(record), flush=True)
    except EdgeASRError as exc:
        print(json.dumps({"type": "error", "error": str(exc)}), flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
