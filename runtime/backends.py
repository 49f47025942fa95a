"""One small interface over the two interpreters a device may have.

``open_backend(path)`` returns a ``Backend`` whose ``run`` takes and returns float32 arrays by
tensor name, whatever the artifact's I/O types: int8 I/O is (de)quantized here with the model's
own scale and zero point, and the TFLite time axis is resized on demand. ``run`` is safe to
call from many threads at once (onnxruntime sessions are; TFLite gets one interpreter per
concurrent caller), and every interpreter failure is a ``BackendError``. LiteRT
(``ai_edge_litert``) is preferred for TFLite, ``tflite_runtime`` is the fallback.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError
from runtime.quiet import quiet_native_stderr


class BackendError(EdgeASRError):
    """An artifact cannot be loaded or run by its interpreter."""


def _tflite_interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise BackendError(
                "no TFLite interpreter: pip install ai-edge-litert (or tflite-runtime)"
            ) from None
    return Interpreter


def _quantize(x: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    q = info.get("quantization")
    if not q:
        return x.astype(info["dtype"], copy=False)
    dtype = np.dtype(info["dtype"])
    lim = np.iinfo(dtype)
    y = np.round(x / q["scale"] + q["zero_point"])
    return np.clip(y, lim.min, lim.max).astype(dtype)


def _dequantize(x: np.ndarray, info: dict[str, Any]) -> np.ndarray:
    q = info.get("quantization")
    if not q:  # integer tensors that are not quantized (ids, counters) keep their type
        return x if x.dtype.kind in "iub" else x.astype(np.float32, copy=False)
    return ((x.astype(np.float32) - q["zero_point"]) * q["scale"]).astype(np.float32)


class Backend:
    """Common surface: ``inputs``/``outputs`` (name, shape, dtype, quantization) and ``run``."""

    format: str
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]

    @property
    def input_names(self) -> list[str]:
        return [t["name"] for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t["name"] for t in self.outputs]

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _check_feeds(self, feeds: dict[str, np.ndarray]) -> None:
        missing = set(self.input_names) - set(feeds)
        if missing:
            names = ", ".join(sorted(missing))
            raise BackendError(f"missing input(s) {names}; the model takes {self.input_names}")


class _TFLiteSession:
    """One interpreter and the input shapes it is allocated for (used by one caller at a time)."""

    def __init__(self, path: Path, threads: int) -> None:
        interpreter_cls = _tflite_interpreter_class()
        try:
            with quiet_native_stderr():
                self.interp = interpreter_cls(model_path=str(path), num_threads=threads)
                self.interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"{path}: cannot load TFLite model: {exc}") from None
        self.ins = self.interp.get_input_details()
        self.outs = self.interp.get_output_details()
        self.shapes: dict[int, tuple[int, ...]] = {d["index"]: tuple(d["shape"]) for d in self.ins}

    def run(
        self, feeds: dict[str, np.ndarray], inputs: list[dict], outputs: list[dict]
    ) -> dict[str, np.ndarray]:
        resized = False
        for d, info in zip(self.ins, inputs, strict=True):
            shape = tuple(np.shape(feeds[info["name"]]))
            if self.shapes[d["index"]] != shape:
                self.interp.resize_tensor_input(d["index"], shape, strict=False)
                self.shapes[d["index"]] = shape
                resized = True
        if resized:
            self.interp.allocate_tensors()
        for d, info in zip(self.ins, inputs, strict=True):
            self.interp.set_tensor(d["index"], _quantize(np.asarray(feeds[info["name"]]), info))
        self.interp.invoke()
        return {
            info["name"]: _dequantize(self.interp.get_tensor(d["index"]), info)
            for d, info in zip(self.outs, outputs, strict=True)
        }


class TFLiteBackend(Backend):
    """LiteRT interpreters are not thread-safe (and ``run`` resizes them per input length), so
    each concurrent caller borrows an interpreter of its own from a pool that grows to the
    number of callers running at once: one caller pays for one interpreter, N threads get N
    interpreters running in parallel (measured faster than one locked interpreter from 2
    threads up; see docs)."""

    format = "tflite"

    def __init__(self, path: Path, threads: int = 1) -> None:
        self._path, self._threads = path, threads
        first = _TFLiteSession(path, threads)
        self._idle = [first]
        self._lock = threading.Lock()
        self.interpreters = 1  # opened so far: the most callers that ever ran at once
        self.inputs = [self._info(d) for d in first.ins]
        self.outputs = [self._info(d) for d in first.outs]

    @staticmethod
    def _info(d: dict[str, Any]) -> dict[str, Any]:
        scale, zero = d.get("quantization", (0.0, 0))
        dtype = np.dtype(d["dtype"])
        quant = None
        if dtype.kind in "iu" and scale:
            quant = {"scale": float(scale), "zero_point": int(zero)}
        shape = d.get("shape_signature", d["shape"])
        return {
            "name": d["name"],
            "shape": [int(s) for s in shape],
            "dtype": dtype.name,
            "quantization": quant,
        }

    def _borrow(self) -> _TFLiteSession:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.interpreters += 1
        return _TFLiteSession(self._path, self._threads)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._check_feeds(feeds)
        session = self._borrow()
        try:
            return session.run(feeds, self.inputs, self.outputs)
        except (ValueError, RuntimeError, TypeError) as exc:
            raise BackendError(f"TFLite run failed: {exc}") from None
        finally:
            with self._lock:
                self._idle.append(session)


class OnnxBackend(Backend):
    format = "onnx"

    def __init__(self, path: Path, threads: int = 1) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendError("onnxruntime is not installed: pip install onnxruntime") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self._sess = ort.InferenceSession(
                str(path), sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise BackendError(f"{path}: cannot load ONNX model: {exc}") from None
        self.inputs = [self._info(t) for t in self._sess.get_inputs()]
        self.outputs = [self._info(t) for t in self._sess.get_outputs()]

    @staticmethod
    def _info(t: Any) -> dict[str, Any]:
        dtype = t.type.removeprefix("tensor(").removesuffix(")")
        dtype = {"float": "float32", "double": "float64", "bool": "bool"}.get(dtype, dtype)
        shape = [s if isinstance(s, int) else -1 for s in t.shape]
        return {"name": t.name, "shape": shape, "dtype": dtype, "quantization": None}

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._check_feeds(feeds)
        try:
            typed = {i["name"]: np.asarray(feeds[i["name"]], i["dtype"]) for i in self.inputs}
            values = self._sess.run(None, typed)
        except Exception as exc:
            raise BackendError(f"ONNX run failed: {exc}") from None
        return {
            o["name"]: v if v.dtype.kind in "iub" else np.asarray(v, dtype=np.float32)
            for o, v in zip(self.outputs, values, strict=True)
        }


def open_backend(path: str | os.PathLike, format: str | None = None, threads: int = 1) -> Backend:
    """Load an artifact with its interpreter (format from the suffix when not given)."""
    path = Path(path)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise BackendError(f"threads must be an integer >= 1, got {threads!r}")
    if not path.is_file():
        raise BackendError(f"{path}: no such artifact")
    fmt = format or path.suffix.lstrip(".")
    if fmt == "tflite":
        return TFLiteBackend(path, threads)
    if fmt == "onnx":
        return OnnxBackend(path, threads)
    raise BackendError(f"{path}: unknown artifact format {fmt!r} (tflite or onnx)")
