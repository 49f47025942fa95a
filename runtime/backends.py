"""One small interface over the two interpreters a device may have.

``open_backend(path)`` returns a ``Backend`` whose ``run`` takes and returns float32 arrays by
tensor name, whatever the artifact's I/O types: int8 I/O is (de)quantized here with the model's
own scale and zero point, and the TFLite time axis is resized on demand. ``run`` is safe to
call from many threads at once (onnxruntime sessions are; TFLite gets one interpreter per
concurrent caller), and every interpreter failure is a ``BackendError``.

TFLite files run on LiteRT (``ai_edge_litert``, the maintained wheel) or ``tflite_runtime``
(older devices' wheel; it cannot run TF 2.21's int8 kernels): ``interpreter=`` picks one, by
default the first installed in ``INTERPRETERS`` order. ``interpreter_status`` says, per
interpreter, whether it is installed, so callers can tell "not installed" from "cannot load".
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError
from runtime.quiet import quiet_native_stderr


class BackendError(EdgeASRError):
    """An artifact cannot be loaded or run by its interpreter."""


#: Interpreters per artifact format, in the order ``interpreter=None`` tries them.
INTERPRETERS: dict[str, tuple[str, ...]] = {
    "tflite": ("litert", "tflite-runtime"),
    "onnx": ("onnxruntime",),
}
#: interpreter -> (module to import, pip package)
_PACKAGES = {
    "litert": ("ai_edge_litert.interpreter", "ai-edge-litert"),
    "tflite-runtime": ("tflite_runtime.interpreter", "tflite-runtime"),
    "onnxruntime": ("onnxruntime", "onnxruntime"),
}
#: ``backend=`` values of ``Recognizer.from_bundle`` and ``--backend``: a format (its
#: interpreters in order) or one interpreter.
BACKENDS = ("auto", "tflite", "onnx", *_PACKAGES)


class InterpreterMissing(BackendError):
    """The interpreter asked for is not installed here."""


def interpreter_format(interpreter: str) -> str:
    """The artifact format an interpreter runs (``litert`` -> ``tflite``)."""
    for fmt, names in INTERPRETERS.items():
        if interpreter in names:
            return fmt
    raise BackendError(f"unknown interpreter {interpreter!r} (one of {', '.join(_PACKAGES)})")


def backend_choice(backend: str) -> tuple[str | None, str | None]:
    """``backend=`` as (artifact format or None for any, interpreter or None for the first
    installed one)."""
    if backend not in BACKENDS:
        raise BackendError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if backend == "auto":
        return None, None
    if backend in INTERPRETERS:
        return backend, None
    return interpreter_format(backend), backend


def interpreter_installed(interpreter: str) -> bool:
    """Whether ``interpreter``'s package is importable here (without importing it)."""
    top = _PACKAGES[interpreter][0].split(".")[0]
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def interpreter_status(fmt: str) -> dict[str, str]:
    """``{interpreter: "installed" | "not installed (pip install ...)"}`` for ``fmt``."""
    return {
        name: "installed"
        if interpreter_installed(name)
        else f"not installed (pip install {_PACKAGES[name][1]})"
        for name in INTERPRETERS[fmt]
    }


def _import_interpreter(interpreter: str) -> Any:
    module, package = _PACKAGES[interpreter]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InterpreterMissing(f"{interpreter} is not installed: pip install {package}") from None


def _tflite_interpreter_class(interpreter: str | None = None) -> tuple[str, Any]:
    """(name, Interpreter class) of ``interpreter``, or of the first installed one."""
    if interpreter is not None:
        return interpreter, _import_interpreter(interpreter).Interpreter
    for name in INTERPRETERS["tflite"]:
        if interpreter_installed(name):
            return name, _import_interpreter(name).Interpreter
    raise InterpreterMissing(
        "no TFLite interpreter: pip install ai-edge-litert (or tflite-runtime)"
    )


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
    interpreter: str  # litert | tflite-runtime | onnxruntime
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

    def __init__(self, path: Path, threads: int, interpreter_cls: Any) -> None:
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

    def __init__(self, path: Path, threads: int = 1, interpreter: str | None = None) -> None:
        self.interpreter, self._cls = _tflite_interpreter_class(interpreter)
        self._path, self._threads = path, threads
        first = _TFLiteSession(path, threads, self._cls)
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
        return _TFLiteSession(self._path, self._threads, self._cls)

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
    interpreter = "onnxruntime"

    def __init__(self, path: Path, threads: int = 1) -> None:
        ort = _import_interpreter("onnxruntime")
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


def open_backend(
    path: str | os.PathLike,
    format: str | None = None,
    threads: int = 1,
    interpreter: str | None = None,
) -> Backend:
    """Load an artifact with its interpreter (format from the suffix when not given;
    ``interpreter``: one of ``INTERPRETERS[format]``, default the first installed)."""
    path = Path(path)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise BackendError(f"threads must be an integer >= 1, got {threads!r}")
    if not path.is_file():
        raise BackendError(f"{path}: no such artifact")
    fmt = format or path.suffix.lstrip(".")
    if fmt not in INTERPRETERS:
        raise BackendError(f"{path}: unknown artifact format {fmt!r} (tflite or onnx)")
    if interpreter is not None and interpreter_format(interpreter) != fmt:
        raise BackendError(
            f"{path}: {interpreter} runs {interpreter_format(interpreter)}, not {fmt}"
        )
    if fmt == "tflite":
        return TFLiteBackend(path, threads, interpreter)
    return OnnxBackend(path, threads)
