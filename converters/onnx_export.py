"""Keras model -> ONNX graph with native recurrent ops (GRU, LSTM, RNN), built layer by layer.

Why not tf2onnx: on Keras 3 it turns every GRU/SimpleRNN into a Loop node (3-25x slower in
onnxruntime, measured per architecture; fp16 conversion fails on Loop graphs), and the tf-keras
detour needs full TensorFlow and still loops SimpleRNN. The builders are linear layer chains, so
a direct translation with ``onnx.helper`` is small, exact, and gives the ops onnxruntime has fast
kernels for. ``export_onnx_tf2onnx`` keeps the naive route for the bench and the gate's
regression test.

Layout: ONNX recurrent ops are time-major and onnxruntime's CPU kernels reject ``layout=1``, so
the graph transposes ``(B, T, F) -> (T, B, F)`` before the first recurrent layer and stays
time-major (BatchNorm, Dense and Softmax act on the last axis either way) until the output.

Streaming graph (``stream`` = a stream spec, docs/formats.md STREAM): input ``feats``
``(1, window_frames, F)`` then ``state_in_{i}`` ``(1, units)``; outputs ``probs``
``(1, output_frames, 29)`` then ``state_out_{i}``. States are numbered in layer order; an LSTM
takes two consecutive states, h then c. Convolutions run 'valid' on the window (the stream's
zero left padding stands in for 'causal' padding).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edge_asr.models.chain import RECURRENT, NotAChainError, inference_layers
from runtime.errors import EdgeASRError
from runtime.fileio import write_bytes
from runtime.formats import StreamSpec

OPSET = 17
IR_VERSION = 8  # opset 17 needs IR 8; newer IR versions than onnxruntime knows would not load
INPUT_NAME = "the_input"
STREAM_INPUT_NAME = "feats"
OUTPUT_NAME = "probs"

#: Keras 2's hard sigmoid clip(0.2x + 0.5, 0, 1) is ONNX HardSigmoid with its default
#: alpha/beta (Keras 3's hard_sigmoid is another function; ``edge_asr.models.builders``).
_RNN_ACTIVATIONS = {
    "tanh": "Tanh",
    "relu": "Relu",
    "sigmoid": "Sigmoid",
    "keras2_hard_sigmoid": "HardSigmoid",
}


class OnnxExportError(EdgeASRError):
    """The model holds something the native ONNX exporter cannot translate exactly."""


@dataclass
class _Graph:
    """Accumulates nodes and initializers; hands out unique tensor names."""

    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    shared: dict[str, str] = field(default_factory=dict)

    def name(self, hint: str) -> str:
        base = hint.replace("/", "_")
        name, i = base, 1
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        return name

    def const(self, hint: str, value: np.ndarray) -> str:
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def ints(self, key: str, values: list[int]) -> str:
        """One int64 initializer per small constant used in many places (axes, shapes)."""
        if key not in self.shared:
            self.shared[key] = self.const(key, np.array(values, np.int64))
        return self.shared[key]

    def op(self, op_type: str, inputs: list[str], hint: str, n_out: int = 1, **attrs: Any):
        """Add a node; returns its output name (or the list when ``n_out > 1``)."""
        outs = [self.name(f"{hint}_{op_type}" + (f"_{k}" if k else "")) for k in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name(hint), **attrs))
        return outs[0] if n_out == 1 else outs


@dataclass
class _Tensor:
    """The running (3-D) activation: its name and whether it is time-major (T, B, C)."""

    name: str
    time_major: bool = False


def _f32(value: Any) -> np.ndarray:
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float32)


def _act_name(fn: Any) -> str:
    return getattr(fn, "__name__", str(fn))


def _to_time_major(g: _Graph, t: _Tensor, hint: str) -> _Tensor:
    if t.time_major:
        return t
    return _Tensor(g.op("Transpose", [t.name], hint, perm=[1, 0, 2]), True)


def _to_batch_major(g: _Graph, t: _Tensor, hint: str) -> _Tensor:
    if not t.time_major:
        return t
    return _Tensor(g.op("Transpose", [t.name], hint, perm=[1, 0, 2]), False)


def _activation(g: _Graph, t: _Tensor, fn: Any, hint: str) -> _Tensor:
    """Elementwise activations and the last-axis softmax (layout-independent)."""
    name = _act_name(fn)
    if name == "linear":
        return t
    if name == "softmax":
        return _Tensor(g.op("Softmax", [t.name], hint, axis=-1), t.time_major)
    simple = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "elu": "Elu"}
    if name in simple:
        return _Tensor(g.op(simple[name], [t.name], hint), t.time_major)
    raise OnnxExportError(f"layer {hint!r}: activation {name!r} is not supported by the exporter")


def _dense(g: _Graph, t: _Tensor, layer: Any, hint: str) -> _Tensor:
    """Dense on the last axis: MatMul broadcasts over (B, T) or (T, B) alike."""
    y = g.op("MatMul", [t.name, g.const(f"{hint}_kernel", _f32(layer.kernel))], hint)
    if layer.use_bias:
        y = g.op("Add", [y, g.const(f"{hint}_bias", _f32(layer.bias))], hint)
    return _activation(g, _Tensor(y, t.time_major), layer.activation, hint)


def _batch_norm(g: _Graph, t: _Tensor, layer: Any, hint: str) -> _Tensor:
    """Inference BatchNorm folded into Mul + Add, as tf.nn.batch_normalization computes it."""
    axis = layer.axis if isinstance(layer.axis, int) else layer.axis[0]
    if axis not in (-1, 2):
        raise OnnxExportError(f"layer {hint!r}: BatchNormalization over axis {axis} unsupported")
    var = _f32(layer.moving_variance)
    inv = 1.0 / np.sqrt(var + np.float32(layer.epsilon), dtype=np.float32)
    if layer.scale:
        inv = inv * _f32(layer.gamma)
    shift = -_f32(layer.moving_mean) * inv
    if layer.center:
        shift = shift + _f32(layer.beta)
    y = g.op("Mul", [t.name, g.const(f"{hint}_scale", inv.astype(np.float32))], hint)
    y = g.op("Add", [y, g.const(f"{hint}_shift", shift.astype(np.float32))], hint)
    return _Tensor(y, t.time_major)


def _conv1d(g: _Graph, t: _Tensor, layer: Any, hint: str, streaming: bool) -> _Tensor:
    """Conv1D (channels_last) as ONNX Conv on (B, C, T); 'causal' pads left, 'same' via auto_pad."""
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise OnnxExportError(f"layer {hint!r}: only channels_last Conv1D is supported")
    kernel = _f32(layer.kernel)  # (k, in / groups, out)
    k = kernel.shape[0]
    (stride,), (dilation,) = layer.strides, layer.dilation_rate
    attrs: dict[str, Any] = {
        "kernel_shape": [k],
        "strides": [stride],
        "dilations": [dilation],
        "group": int(getattr(layer, "groups", 1)),
    }
    padding = layer.padding
    if streaming and padding == "same":
        raise OnnxExportError(f"layer {hint!r}: a 'same' convolution cannot stream exactly")
    if padding == "causal" and not streaming:
        attrs["pads"] = [(k - 1) * dilation, 0]
    elif padding == "same":
        attrs["auto_pad"] = "SAME_UPPER"  # TensorFlow puts the odd pad frame at the end too
    elif padding in ("valid", "causal"):
        attrs["pads"] = [0, 0]
    else:
        raise OnnxExportError(f"layer {hint!r}: Conv1D padding {padding!r} is not supported")
    perm_in = [1, 2, 0] if t.time_major else [0, 2, 1]
    x = g.op("Transpose", [t.name], hint, perm=perm_in)
    inputs = [x, g.const(f"{hint}_kernel", kernel.transpose(2, 1, 0))]
    if layer.use_bias:
        inputs.append(g.const(f"{hint}_bias", _f32(layer.bias)))
    y = g.op("Conv", inputs, hint, **attrs)
    y = g.op("Transpose", [y], hint, perm=[0, 2, 1])
    return _activation(g, _Tensor(y, False), layer.activation, hint)


def _max_pool1d(g: _Graph, t: _Tensor, layer: Any, hint: str, streaming: bool) -> _Tensor:
    """MaxPooling1D (channels_last) as ONNX MaxPool on (B, C, T)."""
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise OnnxExportError(f"layer {hint!r}: only channels_last MaxPooling1D is supported")
    (pool,), (stride,) = layer.pool_size, layer.strides
    attrs: dict[str, Any] = {"kernel_shape": [pool], "strides": [stride]}
    if layer.padding == "same":
        if streaming:
            raise OnnxExportError(f"layer {hint!r}: a 'same' pooling cannot stream exactly")
        attrs["auto_pad"] = "SAME_UPPER"
    elif layer.padding == "valid":
        attrs["pads"] = [0, 0]
    else:
        raise OnnxExportError(f"layer {hint!r}: MaxPooling1D padding {layer.padding!r}")
    perm_in = [1, 2, 0] if t.time_major else [0, 2, 1]
    x = g.op("Transpose", [t.name], hint, perm=perm_in)
    y = g.op("MaxPool", [x], hint, **attrs)
    return _Tensor(g.op("Transpose", [y], hint, perm=[0, 2, 1]), False)


def _direction_weights(rnn: Any, hint: str) -> tuple[str, dict[str, Any], list[np.ndarray]]:
    """ONNX op type, attributes and [W, R, B] (one direction) for a Keras GRU/LSTM/SimpleRNN."""
    kind = type(rnn).__name__
    cell = rnn.cell
    units = int(cell.units)
    kernel = _f32(cell.kernel)
    recurrent = _f32(cell.recurrent_kernel)
    bias = _f32(cell.bias) if cell.use_bias else None
    names = [_act_name(cell.activation)]
    if kind in ("GRU", "LSTM"):
        names.insert(0, _act_name(cell.recurrent_activation))
    if kind == "LSTM":
        names.append(names[1])  # Keras applies `activation` to the cell input and the output
    unknown = [n for n in names if n not in _RNN_ACTIVATIONS]
    if unknown:
        raise OnnxExportError(f"layer {hint!r}: recurrent activation {unknown[0]!r} unsupported")
    attrs: dict[str, Any] = {"activations": [_RNN_ACTIVATIONS[n] for n in names]}
    if kind == "GRU":
        # Gate blocks are z, r, h in both Keras and ONNX. Keras reset_after == ONNX
        # linear_before_reset: r multiplies (h @ R_h + Rb_h), so the two biases stay apart.
        attrs["linear_before_reset"] = int(bool(cell.reset_after))
        if bias is None:
            wb = rb = np.zeros(3 * units, np.float32)
        elif cell.reset_after:
            wb, rb = bias[0], bias[1]
        else:
            wb, rb = bias, np.zeros(3 * units, np.float32)
        return "GRU", attrs, [kernel.T, recurrent.T, np.concatenate([wb, rb])]
    if kind == "LSTM":
        # Keras blocks i, f, c, o -> ONNX i, o, f, c.
        order = [0, 3, 1, 2]

        def reorder(a: np.ndarray) -> np.ndarray:
            return np.concatenate([np.split(a, 4, axis=-1)[j] for j in order], axis=-1)

        wb = reorder(bias) if bias is not None else np.zeros(4 * units, np.float32)
        b = np.concatenate([wb, np.zeros(4 * units, np.float32)])
        return "LSTM", attrs, [reorder(kernel).T, reorder(recurrent).T, b]
    if kind == "SimpleRNN":
        wb = bias if bias is not None else np.zeros(units, np.float32)
        b = np.concatenate([wb, np.zeros(units, np.float32)])
        return "RNN", attrs, [kernel.T, recurrent.T, b]
    raise OnnxExportError(f"layer {hint!r}: recurrent layer {kind} is not supported")


def _recurrent(
    g: _Graph, t: _Tensor, layer: Any, hint: str, states: list[dict[str, Any]] | None
) -> tuple[_Tensor, list[tuple[str, str]]]:
    """GRU / LSTM / SimpleRNN / Bidirectional(...) as one native ONNX op.

    ``states`` (streaming) is the queue of spec states still unassigned; this layer pops its
    own and returns (state input name, ONNX state output name) pairs for the caller to expose.
    """
    bidirectional = type(layer).__name__ == "Bidirectional"
    if bidirectional:
        if layer.merge_mode != "concat":
            raise OnnxExportError(f"layer {hint!r}: Bidirectional merge_mode must be 'concat'")
        fwd, bwd = layer.forward_layer, layer.backward_layer
        if fwd.go_backwards or not bwd.go_backwards or type(fwd) is not type(bwd):
            raise OnnxExportError(f"layer {hint!r}: unexpected Bidirectional direction setup")
        if states is not None:
            raise OnnxExportError(f"layer {hint!r}: a Bidirectional layer cannot stream")
        parts = [_direction_weights(fwd, hint), _direction_weights(bwd, hint)]
        op_type, attrs = parts[0][0], dict(parts[0][1])
        attrs["activations"] = parts[0][1]["activations"] + parts[1][1]["activations"]
        w, r, b = (np.stack([parts[0][2][j], parts[1][2][j]]) for j in range(3))
        direction, units, rnn = "bidirectional", int(fwd.cell.units), fwd
    else:
        op_type, attrs, (w1, r1, b1) = _direction_weights(layer, hint)
        w, r, b = w1[None], r1[None], b1[None]
        direction = "reverse" if layer.go_backwards else "forward"
        units, rnn = int(layer.cell.units), layer
        if layer.go_backwards and states is not None:
            raise OnnxExportError(f"layer {hint!r}: a backwards recurrent layer cannot stream")
    if getattr(rnn, "return_state", False) or not rnn.return_sequences:
        raise OnnxExportError(
            f"layer {hint!r}: only return_sequences=True, return_state=False recurrent layers "
            "are supported (the model emits per-frame posteriors)"
        )
    x = _to_time_major(g, t, hint)
    inputs = [
        x.name,
        g.const(f"{hint}_W", w.astype(np.float32)),
        g.const(f"{hint}_R", r.astype(np.float32)),
        g.const(f"{hint}_B", b.astype(np.float32)),
    ]
    n_states = 2 if op_type == "LSTM" else 1
    pairs: list[tuple[str, str]] = []
    if states is not None:
        mine = [states.pop(0) for _ in range(n_states) if states]
        if len(mine) != n_states:
            raise OnnxExportError(f"stream spec has too few states for layer {hint!r}")
        for spec in mine:
            if spec.get("layer", hint) != hint:
                raise OnnxExportError(
                    f"stream state {spec['input']!r} belongs to layer {spec['layer']!r}, "
                    f"not {hint!r}"
                )
            if list(spec["shape"]) != [1, units]:
                raise OnnxExportError(
                    f"stream state {spec['input']!r} has shape {spec['shape']}, "
                    f"layer {hint!r} needs [1, {units}]"
                )
        axes0 = g.ints("axes0", [0])
        initial = [g.op("Unsqueeze", [s["input"], axes0], hint) for s in mine]
        inputs += ["", *initial]  # no sequence_lens; initial_h (and initial_c)
    n_out = 3 if op_type == "LSTM" else 2
    outs = g.op(op_type, inputs, hint, n_out=n_out, hidden_size=units, direction=direction, **attrs)
    y, final = outs[0], outs[1:]
    if states is not None:
        pairs = [(s["output"], f) for s, f in zip(mine, final, strict=True)]
    if bidirectional:  # Y (T, 2, B, H) -> (T, B, 2, H) -> (T, B, 2H)
        y = g.op("Transpose", [y], hint, perm=[0, 2, 1, 3])
        y = g.op("Reshape", [y, g.ints("shape_t_b_m1", [0, 0, -1])], hint)
    else:
        y = g.op("Squeeze", [y, g.ints("axes1", [1])], hint)
        if layer.go_backwards:  # Keras returns a go_backwards sequence in processing order
            start, end = g.ints("minus1", [-1]), g.ints("int64_min", [np.iinfo(np.int64).min])
            y = g.op("Slice", [y, start, end, g.ints("axes0", [0]), g.ints("minus1", [-1])], hint)
    return _Tensor(y, True), pairs


def _layer_chain(model: Any) -> list[Any]:
    """The model's inference layers in order (``chain.inference_layers``: no Dropout, Dense for
    TimeDistributed(Dense)), refusing anything that is not a single linear chain."""
    try:
        return inference_layers(model)
    except NotAChainError as exc:
        raise OnnxExportError(str(exc)) from None


def _translate(
    g: _Graph, t: _Tensor, layer: Any, states: list[dict[str, Any]] | None
) -> tuple[_Tensor, list[tuple[str, str]]]:
    kind, hint = type(layer).__name__, layer.name
    if kind in (*RECURRENT, "Bidirectional"):
        return _recurrent(g, t, layer, hint, states)
    if kind == "Dense":
        return _dense(g, t, layer, hint), []
    if kind == "Activation":
        return _activation(g, t, layer.activation, hint), []
    if kind == "ReLU" and not (layer.negative_slope or layer.threshold or layer.max_value):
        return _activation(g, t, "relu", hint), []
    if kind == "Softmax" and layer.axis in (-1, [-1], 2):
        return _activation(g, t, "softmax", hint), []
    if kind == "BatchNormalization":
        return _batch_norm(g, t, layer, hint), []
    if kind == "Conv1D":
        return _conv1d(g, t, layer, hint, streaming=states is not None), []
    if kind == "MaxPooling1D":
        return _max_pool1d(g, t, layer, hint, streaming=states is not None), []
    raise OnnxExportError(f"layer {hint!r} ({kind}) is not supported by the ONNX exporter")


def _info(name: str, shape: list[int], dtype: str = "float32") -> dict[str, Any]:
    return {"name": name, "shape": shape, "dtype": dtype, "quantization": None}


def _value_info(name: str, dims: list[int | str]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def build_onnx(
    model: Any, stream: StreamSpec | None = None, dynamic_batch: bool = False
) -> tuple[onnx.ModelProto, dict[str, Any]]:
    """The ONNX model and its tensor infos, without writing anything (see ``export_onnx``)."""
    chain = _layer_chain(model)
    features = model.inputs[0].shape[-1]
    if len(model.inputs[0].shape) != 3 or len(model.outputs[0].shape) != 3 or features is None:
        raise OnnxExportError(
            f"{model.name}: expected (batch, time, features) in and (batch, frames, classes) out"
        )
    g = _Graph()
    states = None
    if stream is not None:
        if dynamic_batch:
            raise OnnxExportError("streaming graphs have batch 1")
        states = [s.to_dict() for s in stream.states]
        in_name = STREAM_INPUT_NAME
        window, n_out = stream.window_frames, stream.output_frames
        in_dims: list[int | str] = [1, window, features]
        g.used.update([in_name, OUTPUT_NAME], (s["input"] for s in states))
        g.used.update(s["output"] for s in states)
    else:
        in_name = INPUT_NAME
        in_dims = ["batch" if dynamic_batch else 1, "time", features]
        g.used.update([in_name, OUTPUT_NAME])
    t = _Tensor(in_name)
    state_outputs: list[tuple[str, str]] = []
    for layer in chain:
        t, pairs = _translate(g, t, layer, states)
        state_outputs += pairs
    if states:
        raise OnnxExportError(f"stream spec lists {len(states)} state(s) the model does not have")
    t = _to_batch_major(g, t, "output")
    if t.name == in_name:
        raise OnnxExportError("the model has no layers to export")
    classes = int(model.outputs[0].shape[-1])
    # Rename the final tensor to the public output name (rewrite the producing node).
    for node in g.nodes:
        for i, out in enumerate(node.output):
            if out == t.name:
                node.output[i] = OUTPUT_NAME
    for public, internal in state_outputs:
        g.nodes.append(
            helper.make_node(
                "Squeeze",
                [internal, g.ints("axes0", [0])],
                [public],
                name=g.name(f"{public}_squeeze"),
            )
        )
    if stream is not None:
        spec_states = [s.to_dict() for s in stream.states]
        inputs = [_value_info(in_name, in_dims)]
        inputs += [_value_info(s["input"], list(s["shape"])) for s in spec_states]
        outputs = [_value_info(OUTPUT_NAME, [1, n_out, classes])]
        outputs += [_value_info(s["output"], list(s["shape"])) for s in spec_states]
        infos = {
            "inputs": [_info(in_name, [1, window, features])]
            + [_info(s["input"], list(s["shape"])) for s in spec_states],
            "outputs": [_info(OUTPUT_NAME, [1, n_out, classes])]
            + [_info(s["output"], list(s["shape"])) for s in spec_states],
        }
    else:
        batch: int | str = "batch" if dynamic_batch else 1
        inputs = [_value_info(in_name, in_dims)]
        outputs = [_value_info(OUTPUT_NAME, [batch, "frames", classes])]
        b = -1 if dynamic_batch else 1
        infos = {
            "inputs": [_info(in_name, [b, -1, features])],
            "outputs": [_info(OUTPUT_NAME, [b, -1, classes])],
        }
    graph = helper.make_graph(g.nodes, model.name, inputs, outputs, g.initializers)
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        ir_version=IR_VERSION,
        producer_name="edge-asr",
        doc_string=f"{model.name}: native-RNN ONNX export"
        + (" (streaming)" if stream is not None else ""),
    )
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        # e.g. a stream spec whose window does not yield output_frames frames
        raise OnnxExportError(f"exported ONNX graph failed the checker: {exc}") from None
    return proto, infos


def export_onnx(
    model: Any,
    path: str | os.PathLike,
    stream: StreamSpec | None = None,
    *,
    dynamic_batch: bool = False,
) -> dict[str, Any]:
    """Write ``model`` as an ONNX file with native GRU/LSTM/RNN ops; return its tensor infos.

    Offline: input ``the_input`` ``(1, time, F)`` (``dynamic_batch``: any batch), output
    ``probs`` ``(1, frames, classes)``. With ``stream`` (a ``StreamSpec``): the chunk graph
    described in the module docstring. Written atomically; checked with ``onnx.checker``.
    """
    proto, infos = build_onnx(model, stream=stream, dynamic_batch=dynamic_batch)
    write_bytes(path, proto.SerializeToString())
    return infos


def run_tf2onnx(fn: Any, signature: list[Any], what: str, opset: int = OPSET) -> onnx.ModelProto:
    """tf2onnx on a tf.function, quietly (one "missing output shape" line per loop tensor
    otherwise); any failure is one ``OnnxExportError`` naming ``what``."""
    import tf2onnx

    tf_logger = logging.getLogger("tf2onnx")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=signature, opset=opset)
    except Exception as exc:  # tf2onnx raises bare exceptions of many kinds
        raise OnnxExportError(f"tf2onnx failed on {what}: {exc}") from None
    finally:
        tf_logger.setLevel(level)
    return proto


def export_onnx_tf2onnx(model: Any, path: str | os.PathLike, opset: int = OPSET) -> dict[str, Any]:
    """The naive route: tf2onnx on the Keras 3 model as it is (RNNs become Loop nodes, and
    TimeDistributed traced with unknown time maps over the batch). Kept for the bench (native
    vs Loop latency) and for the gate's regression test; never a shipped artifact.
    """
    import tensorflow as tf

    features = int(model.inputs[0].shape[-1])
    spec = [tf.TensorSpec((None, None, features), tf.float32, name=INPUT_NAME)]
    fn = tf.function(lambda x: {OUTPUT_NAME: model(x, training=False)}, input_signature=spec)
    proto = run_tf2onnx(fn, spec, model.name, opset)
    out = proto.graph.output[0].name
    if out != OUTPUT_NAME:  # tf2onnx names outputs after the dict key or the TF tensor
        for node in proto.graph.node:
            node.output[:] = [OUTPUT_NAME if o == out else o for o in node.output]
            node.input[:] = [OUTPUT_NAME if i == out else i for i in node.input]
        proto.graph.output[0].name = OUTPUT_NAME
    write_bytes(path, proto.SerializeToString())
    return {
        "inputs": [_info(proto.graph.input[0].name, [-1, -1, features])],
        "outputs": [_info(OUTPUT_NAME, [-1, -1, int(model.outputs[0].shape[-1])])],
    }
