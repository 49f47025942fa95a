"""Transcribe a list of files with one artifact and report timings and peak memory.

Run as ``python -m edge_asr.measure`` with a JSON request on stdin; prints JSON lines. The
validation report and bench/runtime_speed.py run each artifact in such a fresh process, so its
peak RSS is that of a process that only transcribes, as on a device: this module imports the
runtime, ``edge_asr.data.audio`` (soundfile only for non-WAV files) and nothing heavy -- no
TensorFlow, Keras or converters (tests/test_measure.py checks).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

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
    the load time and this process's peak RSS (MB). Latency is features + model + decoding:
    reading and resampling the file is not what a device's microphone path pays."""
    from edge_asr.data.audio import load_audio
    from runtime.recognizer import Recognizer

    t0 = time.perf_counter()
    rec = Recognizer.from_bundle(bundle, artifact, threads=threads)
    load_s = time.perf_counter() - t0
    rate = rec.bundle.features.sample_rate
    for file in files:
        try:
            res = rec.transcribe(load_audio(file, rate))
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


def _zeros(shape: list[int], dtype: str = "float32") -> np.ndarray:
    """A zero input for a declared shape: batch 1, and for an unknown time axis 64 feature
    frames (longer than any builder's convolution kernel) or, for audio-in ``(1, N)``
    inputs, one second of samples at 16 kHz."""
    unknown = 64 if len(shape) == 3 else 16000
    return np.zeros(
        [d if d > 0 else (1 if i == 0 else unknown) for i, d in enumerate(shape)], dtype
    )


def loadable_by(path: str, fmt: str) -> dict[str, str]:
    """Every interpreter the runtime supports for ``fmt`` (``runtime.backends.INTERPRETERS``),
    installed here or not: ``'yes'`` when it loads the artifact and runs it once on zeros,
    ``'no: not installed (pip install ...)'``, or ``'no: why'``."""
    from runtime.backends import interpreter_status, open_backend

    try:
        statuses = interpreter_status(fmt)
    except KeyError:
        return {fmt: f"no: unknown artifact format {fmt!r}"}
    verdicts = {}
    for name, status in statuses.items():
        if status != "installed":
            verdicts[name] = f"no: {status}"
            continue
        try:
            backend = open_backend(path, fmt, interpreter=name)
            backend.run({t["name"]: _zeros(t["shape"], t["dtype"]) for t in backend.inputs})
            verdicts[name] = "yes"
        except EdgeASRError as exc:
            verdicts[name] = f"no: {str(exc).splitlines()[0][:120]}"
    return verdicts


def not_installed(verdicts: list[dict[str, str]]) -> list[str]:
    """Interpreters some ``loadable_by`` verdict says are not installed here (not tried)."""
    return sorted(
        {k for v in verdicts for k, why in v.items() if why.startswith("no: not installed")}
    )


def make_request(bundle: Any, artifact: Any, files: list[str], threads: int = 1) -> dict:
    """The request ``run_isolated`` sends: one artifact (a ``runtime.formats.ArtifactEntry``)
    of a loaded ``runtime.bundle.Bundle``, over ``files``."""
    return {
        "bundle": str(bundle.path),
        "artifact": artifact.name,
        "path": str(bundle.path / artifact.file),
        "format": artifact.format,
        "files": files,
        "threads": threads,
    }


def run_isolated(
    request: dict[str, Any], on_result: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Run ``request`` in a fresh ``python -m edge_asr.measure`` process (so its timings and
    peak RSS are its own); returns the summary plus ``results``, or ``error`` if it failed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_asr.measure"],
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
