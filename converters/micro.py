"""TensorFlow Lite Micro check of a TFLite artifact: does it run on a microcontroller runtime?

Per artifact: the ops it uses that TFLM has no kernel for, whether every tensor shape is static
(TFLM plans one arena ahead of time and cannot resize; NNAPI/GPU/NPU delegates need the same),
the smallest tensor arena that works (binary search), the flash it needs (the flatbuffer), and
the greedy-decode agreement of TFLM with LiteRT on the check utterances. TFLM runs only
full-integer (or float) models: dynamic-range "hybrid" int8 models fail to prepare there.
Audio-in streaming artifacts (front end in the graph) are fed PCM chunks with their audio,
frames and call-counter states, exactly as ``runtime.streaming.AudioChunkRunner`` feeds them
on a device; feature-input ones are fed feature windows (``ChunkRunner``).

TFLM runs in a child process (``python -m converters.micro``): a kernel that aborts or crashes
must cost the artifact its ``compatible`` flag, never the conversion. The child imports only
numpy, ``runtime`` and the ``tflite-micro`` wheel.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from runtime.backends import Backend, BackendError
from runtime.formats import ArtifactEntry, MicroCheck, StreamSpec

# Builtin operators the tflite-micro wheel's Python interpreter registers
# (python/tflite_micro/python_ops_resolver.cc), in TFLite's BuiltinOperator spelling. A model
# op outside this set is reported by name without trying to load it.
TFLM_OPS = frozenset(
    """ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_TO_SPACE_ND
    BROADCAST_ARGS BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM
    DEPTH_TO_SPACE DEPTHWISE_CONV_2D DEQUANTIZE DETECTION_POSTPROCESS DIV ELU EQUAL EXP
    EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GREATER
    GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG
    LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC LOG_SOFTMAX MAX_POOL_2D MAXIMUM MEAN MINIMUM
    MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE READ_VARIABLE REDUCE_MAX RELU
    RELU6 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR ROUND RSQRT SELECT_V2 SHAPE SIN SLICE
    SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE SQUEEZE
    STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK
    VAR_HANDLE WHILE ZEROS_LIKE""".split()
)
MAX_ARENA = 64 << 20  # bigger than any MCU; a model that needs more is not micro-compatible
ARENA_STEP = 256  # search resolution (bytes)
CHECK_UTTERANCES = 8
_NOT_FOUND = re.compile(r"Didn't find op for builtin opcode '([A-Z0-9_]+)'")
_FAILED_NODE = re.compile(r"Node ([A-Z0-9_]+) \(number \d+\w*\) failed to (prepare|invoke)")


def model_ops(path: str | Path) -> list[str]:
    """The builtin op names the artifact uses, sorted (LiteRT reads the flatbuffer)."""
    from ai_edge_litert.interpreter import Interpreter

    ops = Interpreter(model_path=str(path))._get_ops_details()
    return sorted({op["op_name"] for op in ops})


def static_shapes(path: str | Path) -> bool:
    """True when no tensor has an unknown dimension (shape_signature -1)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    for t in interp.get_tensor_details():
        sig = t.get("shape_signature", t["shape"])
        if any(int(d) < 0 for d in sig):
            return False
    return True


class MicroBackend(Backend):
    """A TFLM interpreter behind the runtime's Backend surface, so the runtime's own chunk
    runner (states, windows, (de)quantization) drives it exactly as it drives LiteRT."""

    format = "tflite"

    def __init__(self, path: str | Path, arena_size: int) -> None:
        from tflite_micro.python.tflite_micro import runtime as tflm

        self.interp = tflm.Interpreter.from_file(str(path), arena_size=arena_size)
        self._ins = [self.interp.get_input_details(i) for i in range(_count(self.interp, True))]
        self._outs = [self.interp.get_output_details(i) for i in range(_count(self.interp, False))]
        self.inputs = [_info(d, n) for d, n in zip(self._ins, _names(path, True), strict=True)]
        self.outputs = [_info(d, n) for d, n in zip(self._outs, _names(path, False), strict=True)]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from runtime.backends import _dequantize, _quantize

        self._check_feeds(feeds)
        for i, info in enumerate(self.inputs):
            self.interp.set_input(_quantize(np.asarray(feeds[info["name"]]), info), i)
        self.interp.invoke()
        return {
            info["name"]: _dequantize(self.interp.get_output(i), info)
            for i, info in enumerate(self.outputs)
        }


def _count(interp: Any, inputs: bool) -> int:
    """TFLM's Python API has no tensor count: probe indices until one is out of range."""
    get = interp.get_input_details if inputs else interp.get_output_details
    n = 0
    while True:
        try:
            get(n)
        except (IndexError, RuntimeError, ValueError):
            return n
        n += 1
        if n > 64:
            return n


def _names(path: str | Path, inputs: bool) -> list[str]:
    """Tensor names as LiteRT sees them (TFLM's details carry none), in subgraph order."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    details = interp.get_input_details() if inputs else interp.get_output_details()
    return [d["name"] for d in details]


def _info(d: dict[str, Any], name: str) -> dict[str, Any]:
    q = d.get("quantization_parameters") or {}
    scales = np.asarray(q.get("scales", []))
    zeros = np.asarray(q.get("zero_points", []))
    dtype = np.dtype(d["dtype"])
    quant = None
    if dtype.kind in "iu" and scales.size and scales[0]:
        quant = {"scale": float(scales[0]), "zero_point": int(zeros[0]) if zeros.size else 0}
    return {"name": name, "shape": [int(s) for s in d["shape"]], "dtype": dtype.name,
            "quantization": quant}  # fmt: skip


def _try_load(path: str, arena: int, feeds: dict[str, np.ndarray] | None) -> bool:
    try:
        backend = MicroBackend(path, arena)
        if feeds is not None:
            backend.run(feeds)
        return True
    except (RuntimeError, ValueError, BackendError):
        return False


def _loads(path: str, arena: int, feeds: dict[str, np.ndarray] | None) -> bool:
    """Does the model allocate (and run once) in an ``arena``-byte arena? Tried in a forked
    process: TFLM's Python interpreter can segfault on a too-small arena instead of failing
    (measured: "Failed to allocate tail memory" then SIGSEGV, 16x8 at 64 KB), which would end
    the whole search; a crash there just means "too small"."""
    if not hasattr(os, "fork"):
        return _try_load(path, arena, feeds)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the forked child)
        import faulthandler

        faulthandler.disable()  # an expected crash here is a verdict, not a traceback to print
        ok = False
        try:
            ok = _try_load(path, arena, feeds)
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def smallest_arena(path: str, feeds: dict[str, np.ndarray]) -> int:
    """The smallest arena (to ``ARENA_STEP`` bytes) that allocates and runs once; 0 if none
    up to ``MAX_ARENA`` does."""
    if not _loads(path, MAX_ARENA, feeds):
        return 0
    lo, hi = 0, MAX_ARENA  # lo fails, hi works
    while hi - lo > ARENA_STEP:
        mid = (lo + hi) // 2 // ARENA_STEP * ARENA_STEP or ARENA_STEP
        if mid in (lo, hi):
            break
        lo, hi = (lo, mid) if _loads(path, mid, feeds) else (mid, hi)
    return hi


def _child(request: dict[str, Any]) -> dict[str, Any]:
    """In the child: find the arena, then the posteriors of each check utterance."""
    path = request["path"]
    with np.load(request["features"]) as data:
        features = [data[f"f{i}"] for i in range(len(data.files))]
    spec = StreamSpec.from_dict(request["stream"]) if request["stream"] else None
    lengths = request.get("lengths")
    try:
        probe = MicroBackend(path, MAX_ARENA)
    except (RuntimeError, ValueError) as exc:
        return {"error": f"TFLM cannot load it: {str(exc).splitlines()[0][:200]}"}
    zeros = {t["name"]: np.zeros(t["shape"], np.float32) for t in probe.inputs}
    del probe
    arena = smallest_arena(path, zeros)
    if not arena:
        return {"error": f"TFLM cannot allocate or run it with a {MAX_ARENA >> 20} MB arena"}
    backend = MicroBackend(path, arena)
    out = {f"p{i}": _posteriors(backend, spec, x, lengths and lengths[i])
           for i, x in enumerate(features)}  # fmt: skip
    np.savez(request["out"], **out)
    return {"arena_bytes": arena}


def _posteriors(backend: Backend, spec: StreamSpec | None, x: np.ndarray, need: Any) -> np.ndarray:
    """One utterance through ``backend``: ``x`` is features, or PCM samples when ``spec`` is an
    audio-in stream (``need``: the posterior frames the utterance has, output_length rule)."""
    from runtime.streaming import ChunkRunner, run_audio_chunked

    if spec is not None and spec.audio is not None:
        return run_audio_chunked(backend, spec, x, lambda _frames: int(need))
    if spec is not None:
        runner = ChunkRunner(backend, spec)
        return np.concatenate([runner.push(x), runner.flush()])
    name = backend.inputs[0]["name"]
    return backend.run({name: x[None]})[backend.outputs[0]["name"]][0]


def _litert_posteriors(path: Path, spec: StreamSpec | None, x: np.ndarray, need: Any) -> np.ndarray:
    from runtime.backends import open_backend

    return _posteriors(open_backend(path, "tflite"), spec, x, need)


def _greedy(probs: np.ndarray) -> list[int]:
    from runtime.decoding import greedy_decode, to_log_probs

    return greedy_decode(to_log_probs(probs))


def check_artifact(
    path: str | Path,
    stream: StreamSpec | None,
    features: Sequence[np.ndarray],
    output_length: Any = None,
    timeout: float = 900,
) -> MicroCheck:
    """The TFLM verdict for one TFLite file; ``features``: normalized check utterances (the
    first ``CHECK_UTTERANCES`` are used), or float PCM samples in [-1, 1] when ``stream`` is an
    audio-in stream spec; ``output_length``: frames to keep per utterance (feature frames in,
    posterior frames out; required for audio-in)."""
    path = Path(path)
    flash = path.stat().st_size
    ops = model_ops(path)
    static = static_shapes(path)
    missing = [op for op in ops if op not in TFLM_OPS]
    base = {"flash_bytes": flash, "static_shapes": static}
    if missing:
        why = f"TFLM has no kernel for {', '.join(missing)}"
        return MicroCheck(False, tuple(missing), reason=why, **base)
    if not static:
        why = "dynamic tensor shapes (TFLM plans a fixed arena and cannot resize)"
        return MicroCheck(False, (), reason=why, **base)
    feats = list(features[:CHECK_UTTERANCES])
    audio = stream.audio if stream is not None else None
    if audio is not None and output_length is None:
        raise ValueError("an audio-in stream needs output_length")
    # Posterior frames per utterance: for PCM, the model's rule on the frames the samples make.
    needs = [
        (output_length(audio.num_frames(len(x)) if audio else len(x)) if output_length else None)
        for x in feats
    ]
    with tempfile.TemporaryDirectory(prefix="edge-asr-micro-") as tmp:
        np.savez(Path(tmp) / "features.npz", **{f"f{i}": f for i, f in enumerate(feats)})
        request = {
            "path": str(path),
            "features": str(Path(tmp) / "features.npz"),
            "stream": stream.to_dict() if stream else None,
            "out": str(Path(tmp) / "probs.npz"),
            "lengths": needs if audio is not None else None,
        }
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "converters.micro"],
                input=json.dumps(request),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return MicroCheck(False, (), reason=f"TFLM timed out after {timeout:.0f} s", **base)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        result = json.loads(lines[-1]) if lines else {}
        if "arena_bytes" not in result:
            return _failure(proc, result, base)
        with np.load(Path(tmp) / "probs.npz") as data:
            micro = [data[f"p{i}"] for i in range(len(feats))]
    agree = []
    for x, p, need in zip(feats, micro, needs, strict=True):
        n = need if need is not None else len(p)
        ref = _litert_posteriors(path, stream, x, need)[:n]
        agree.append(_greedy(p[:n]) == _greedy(ref))
    return MicroCheck(
        True,
        (),
        arena_bytes=int(result["arena_bytes"]),
        decode_agreement=float(np.mean(agree)) if agree else 1.0,
        **base,
    )


def _failure(proc: subprocess.CompletedProcess[str], result: dict, base: dict) -> MicroCheck:
    """Name the op TFLM rejected (from its log) and why; a crash is a verdict, not an error."""
    log = proc.stdout + proc.stderr
    ops = sorted(set(_NOT_FOUND.findall(log)) | {m[0] for m in _FAILED_NODE.findall(log)})
    hybrid = "Hybrid models are not supported" in log
    if hybrid:
        why = "dynamic-range (hybrid) int8: TFLM runs full-integer or float models only"
    elif result.get("error"):
        why = result["error"]
    elif proc.returncode < 0:
        why = f"TFLM crashed with signal {-proc.returncode}"
    else:
        tail = [ln for ln in proc.stderr.splitlines() if ln.strip()][-1:] or ["no output"]
        why = f"TFLM failed: {tail[0][:200]}"
    if ops and not hybrid:
        why += f" (op {', '.join(ops)})"
    return MicroCheck(False, tuple(ops), reason=why, **base)


def with_micro(entry: ArtifactEntry, bundle: Path, checks: Any, model: Any) -> ArtifactEntry:
    """``entry`` with its ``micro`` check when it is a TFLite artifact that passed the gate
    (the hook ``converters.convert`` calls once per finalized entry): feature-input ones get
    the check utterances' features, audio-in ones their PCM samples; ``model``: the converted
    model (its ``output_length`` trims the streamed posteriors)."""
    import dataclasses

    if entry.format != "tflite" or not entry.passed:
        return entry
    length = getattr(model, "output_length", None)
    inputs = checks.features if entry.audio is None else (checks.audio or [])
    micro = check_artifact(bundle / entry.file, entry.stream, inputs, length)
    return dataclasses.replace(entry, micro=micro)


def main() -> int:
    request = json.load(sys.stdin)
    print(json.dumps(_child(request)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
