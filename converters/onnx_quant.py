"""fp16 and int8 variants of a native-RNN ONNX model (from ``onnx_export.export_onnx``).

onnxruntime's quantizers never touch GRU or RNN weights (only MatMul, Conv and, dynamically,
LSTM), and in these models the GRUs hold most of the parameters, so a plain
``quantize_dynamic`` leaves a GRU model near fp32 size. After the library quantizer has done
what it can, ``_weight_only_int8`` stores every remaining big float weight (GRU/LSTM/RNN W and R,
MatMul/Conv weights left float) as int8 with one symmetric scale per output channel, feeding the
op through ``DequantizeLinear``: the file shrinks ~4x while the recurrence itself runs in float.

onnxruntime does not constant-fold DequantizeLinear by default (it keeps QDQ patterns), so these
weights are dequantized on every call: about +0.25 ms per 16-frame chunk for
final_model_streaming. A session with ``session.disable_quant_qdq=1`` folds them once at load
(measured: int8-dynamic chunk 0.70 -> 0.46 ms, the fp32 speed); that is the runtime's choice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from runtime.errors import EdgeASRError
from runtime.fileio import write_bytes

PRECISIONS = ("fp16", "int8-dynamic", "int8-static")
#: Float initializers with at least this many elements count as weights worth quantizing.
MIN_WEIGHT_ELEMENTS = 1024
_RECURRENT = ("GRU", "LSTM", "RNN")
#: (op type, input index) pairs that take a weight matrix: where weight-only int8 may go.
_WEIGHT_INPUTS = {
    **{(op, i): "rnn" for op in _RECURRENT for i in (1, 2)},
    ("MatMul", 1): "matmul",
    ("Conv", 1): "conv",
}


class OnnxQuantError(EdgeASRError):
    """A precision variant could not be produced (the reason is in the message)."""


def _load(src: str | os.PathLike) -> onnx.ModelProto:
    try:
        return onnx.load(os.fspath(src))
    except FileNotFoundError:
        raise OnnxQuantError(f"{src}: no such ONNX file") from None
    except Exception as exc:
        raise OnnxQuantError(f"{src}: not a readable ONNX model ({exc})") from None


def _per_channel_int8(w: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per slice along ``axis`` (zero point 0)."""
    moved = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    peak = np.abs(moved).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def _weight_only_int8(model: onnx.ModelProto, min_elements: int = MIN_WEIGHT_ELEMENTS) -> Counter:
    """Replace big float weight initializers by int8 + DequantizeLinear (in place).

    Recurrent W/R ``(directions, gates * H, in)`` are flattened to ``(directions * gates * H,
    in)`` so every gate row of every direction gets its own scale, then reshaped back.
    Returns a count of what was converted, keyed by op type.
    """
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in inits:
                consumers.setdefault(name, []).append((node, i))
    done: Counter = Counter()
    new_nodes: list[onnx.NodeProto] = []
    for name, uses in consumers.items():
        tensor = inits[name]
        if tensor.data_type != TensorProto.FLOAT or int(np.prod(tensor.dims)) < min_elements:
            continue
        kinds = {_WEIGHT_INPUTS.get((n.op_type, i)) for n, i in uses}
        if len(kinds) != 1 or None in kinds:
            continue  # biases, shapes, or a tensor used in several roles: leave it float
        kind = kinds.pop()
        w = numpy_helper.to_array(tensor).astype(np.float32)
        if kind == "rnn":
            flat, axis = w.reshape(-1, w.shape[-1]), 0
        elif kind == "matmul" and w.ndim == 2:
            flat, axis = w, 1
        elif kind == "conv":
            flat, axis = w, 0
        else:
            continue
        q, scale = _per_channel_int8(flat, axis)
        q_name, s_name, z_name = f"{name}_int8", f"{name}_scale", f"{name}_zero_point"
        graph.initializer.extend(
            [
                numpy_helper.from_array(q, q_name),
                numpy_helper.from_array(scale, s_name),
                numpy_helper.from_array(np.zeros(scale.shape, np.int8), z_name),
            ]
        )
        deq = f"{name}_dequantized" if flat.shape != w.shape else name
        new_nodes.append(
            helper.make_node(
                "DequantizeLinear", [q_name, s_name, z_name], [deq], name=f"{name}_dq", axis=axis
            )
        )
        if flat.shape != w.shape:
            shape_name = f"{name}_shape"
            graph.initializer.append(
                numpy_helper.from_array(np.array(w.shape, np.int64), shape_name)
            )
            new_nodes.append(
                helper.make_node("Reshape", [deq, shape_name], [name], name=f"{name}_reshape")
            )
        graph.initializer.remove(tensor)
        done[uses[0][0].op_type] += 1
    # Dequantize nodes go first: the graph must stay topologically sorted.
    nodes = new_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    return done


def _float_weights_left(model: onnx.ModelProto) -> str:
    """Big float initializers other than biases and quantization scales, by consumer."""
    biases = {("GRU", 3), ("LSTM", 3), ("RNN", 3), ("DynamicQuantizeLSTM", 3), ("Conv", 2)}
    skip = {"DequantizeLinear", "QuantizeLinear", "DynamicQuantizeLinear"}
    big = {
        t.name: int(np.prod(t.dims))
        for t in model.graph.initializer
        if t.data_type == TensorProto.FLOAT and int(np.prod(t.dims)) >= MIN_WEIGHT_ELEMENTS
    }
    found: Counter = Counter()
    for node in model.graph.node:
        for i, name in enumerate(node.input):
            if name in big and node.op_type not in skip and (node.op_type, i) not in biases:
                found[f"{node.op_type} input {i}"] += big.pop(name)
    return ", ".join(f"{what} ({n} values)" for what, n in sorted(found.items()))


def _drop_unused_initializers(model: onnx.ModelProto) -> None:
    used = {name for node in model.graph.node for name in node.input}
    used |= {o.name for o in model.graph.output}
    keep = [t for t in model.graph.initializer if t.name in used]
    if len(keep) != len(model.graph.initializer):
        del model.graph.initializer[:]
        model.graph.initializer.extend(keep)


def _describe(model: onnx.ModelProto, precision: str, weight_only: Counter) -> str:
    """What the variant really quantized, read off the final graph."""
    ops = Counter(n.op_type for n in model.graph.node)
    parts = []
    if precision == "int8-dynamic":
        lib = [
            f"{orig} ({new})"
            for orig, new in (
                ("MatMul", "MatMulInteger"),
                ("MatMul", "DynamicQuantizeMatMul"),
                ("Conv", "ConvInteger"),
                ("LSTM", "DynamicQuantizeLSTM"),
            )
            if ops[new]
        ]
        if lib:
            parts.append(
                ", ".join(lib) + ": int8 weights per channel, activations quantized at run time"
            )
    if precision == "int8-static":
        inits = {t.name for t in model.graph.initializer}
        dq_out = {
            n.output[0]: n.input[0] in inits
            for n in model.graph.node
            if n.op_type == "DequantizeLinear"
        }
        # A QDQ-quantized op reads its activation from a DequantizeLinear of a QuantizeLinear
        # and its weight from a DequantizeLinear of an int8 initializer.
        quantized = sorted(
            {
                n.op_type
                for n in model.graph.node
                if n.op_type not in ("DequantizeLinear", "QuantizeLinear")
                and any(dq_out.get(i) is False for i in n.input)
                and any(dq_out.get(i) is True for i in n.input)
            }
        )
        if quantized:
            parts.append(
                f"{', '.join(quantized)}: int8 weights (per channel) and int8 input activations "
                "(QDQ, calibrated)"
            )
    if weight_only:
        names = ", ".join(f"{op} W/R" if op in _RECURRENT else op for op in sorted(weight_only))
        parts.append(f"{names}: int8 weight-only (DequantizeLinear, per output channel)")
    recurrent = sorted(op for op in _RECURRENT if ops[op])
    if recurrent:
        parts.append(f"{', '.join(recurrent)} recurrence in float32")
    left = _float_weights_left(model)
    parts.append("float32: biases, BatchNorm" + (f", {left}" if left else ""))
    return "; ".join(parts)


def _session_check(model: onnx.ModelProto, what: str) -> None:
    """The variant must load in onnxruntime; a graph it rejects is no artifact."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise OnnxQuantError(f"{what}: onnxruntime cannot load the result ({exc})") from None


class _FeedReader:
    """onnxruntime CalibrationDataReader over a list of input dicts (any time lengths)."""

    def __init__(self, feeds: Iterable[dict[str, np.ndarray]], names: list[str]) -> None:
        self._feeds = []
        for i, feed in enumerate(feeds):
            missing = set(names) - set(feed)
            if missing:
                raise OnnxQuantError(f"calibration feed {i} lacks input(s) {sorted(missing)}")
            self._feeds.append({k: np.asarray(feed[k], np.float32) for k in names})
        if not self._feeds:
            raise OnnxQuantError("int8-static needs at least one calibration feed")
        self._it = iter(self._feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._feeds)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime.quantization logs advice through the root logger; keep stderr readable."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _fp16(model: onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    from onnxconverter_common import float16

    with warnings.catch_warnings():  # one warning per tiny weight clamped to 1e-7: noise
        warnings.simplefilter("ignore", UserWarning)
        half = float16.convert_float_to_float16(model, keep_io_types=True)
    # Measured: onnxruntime's CPU provider has no float16 GRU/LSTM/RNN/MatMul kernels and
    # inserts casts, so on CPU this is float16 storage with float32 arithmetic.
    return half, (
        "all weights and activations float16 in the graph (float32 inputs/outputs); "
        "onnxruntime's CPU provider casts back and computes in float32"
    )


def _int8_dynamic(src: Path, tmp: Path) -> tuple[onnx.ModelProto, str]:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = tmp / "dynamic.onnx"
    # Conv stays out: onnxruntime's ConvInteger ran 3-4x slower than the float Conv (measured
    # on cnn_rnn_model / final_model_streaming); the weight-only pass below still stores the
    # Conv kernel as int8, so the size is the same and the arithmetic stays fast.
    with _quiet_root_logger():
        quantize_dynamic(
            src,
            out,
            op_types_to_quantize=["MatMul", "Gemm", "LSTM"],
            per_channel=True,
            weight_type=QuantType.QInt8,
        )
    model = onnx.load(out)
    weight_only = _weight_only_int8(model)
    return model, _describe(model, "int8-dynamic", weight_only)


def _int8_static(
    src: Path, tmp: Path, calib_feeds: Iterable[dict[str, np.ndarray]] | None
) -> tuple[onnx.ModelProto, str]:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if calib_feeds is None:
        raise OnnxQuantError("int8-static needs calibration feeds (calib_feeds)")
    names = [i.name for i in _load(src).graph.input]
    reader = _FeedReader(calib_feeds, names)
    pre = tmp / "pre.onnx"
    # Shape inference gives the quantizer tensor types everywhere; ORT's graph optimizations
    # are skipped so the exported structure (and the recurrent ops) stays as it is.
    quant_pre_process(src, pre, skip_optimization=True, skip_symbolic_shape=True)
    out = tmp / "static.onnx"
    with _quiet_root_logger():
        quantize_static(
            pre,
            out,
            reader,
            quant_format=QuantFormat.QDQ,
            # Only the matrix ops: QDQ around BatchNorm, Transpose or the final Softmax adds
            # rounding (1/255 on the posteriors) and saves nothing.
            op_types_to_quantize=["Conv", "MatMul", "Gemm"],
            per_channel=True,
            activation_type=QuantType.QUInt8,  # u8 activations x s8 weights: ORT's fast CPU path
            weight_type=QuantType.QInt8,
        )
    model = onnx.load(out)
    _drop_unused_initializers(model)
    weight_only = _weight_only_int8(model)
    return model, _describe(model, "int8-static", weight_only)


def quantize(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    precision: str,
    calib_feeds: Iterable[dict[str, np.ndarray]] | None = None,
) -> str:
    """Write the ``precision`` variant of the fp32 ONNX model ``src`` to ``dst`` atomically.

    ``precision``: "fp16" (float16 graph, float32 I/O), "int8-dynamic"
    (onnxruntime dynamic quantization + weight-only int8 for the rest), "int8-static" (QDQ,
    calibrated on ``calib_feeds``: a list of input dicts keyed by the graph's input names, any
    time lengths, + weight-only int8 for the rest). Returns what really got quantized.
    Failures raise ``OnnxQuantError`` and leave no file at ``dst``.
    """
    if precision not in PRECISIONS:
        raise OnnxQuantError(f"unknown ONNX precision {precision!r}; choose from {PRECISIONS}")
    src = Path(src)
    model = _load(src)
    try:
        with tempfile.TemporaryDirectory(prefix="edge_asr_onnxq_") as tmp:
            if precision == "fp16":
                result, description = _fp16(model)
            elif precision == "int8-dynamic":
                result, description = _int8_dynamic(src, Path(tmp))
            else:
                result, description = _int8_static(src, Path(tmp), calib_feeds)
            del result.metadata_props[:]
            for prop in model.metadata_props:
                result.metadata_props.add(key=prop.key, value=prop.value)
            onnx.checker.check_model(result)
    except EdgeASRError:
        raise
    except Exception as exc:
        raise OnnxQuantError(f"{src}: {precision} quantization failed ({exc})") from None
    _session_check(result, f"{src} -> {precision}")
    write_bytes(dst, result.SerializeToString())
    return description
