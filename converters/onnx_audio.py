"""ONNX audio-in graphs: the front end (tf2onnx of ``converters.audio_in``'s TensorFlow ops)
joined to the native-RNN acoustic graph (``converters.onnx_export``).

Why join two graphs: the acoustic graph is built op by op with native GRU/LSTM/RNN (tf2onnx turns
Keras 3 RNNs into slow Loop nodes), while the front end has no recurrence, so tf2onnx translates
its Conv/MatMul/Log ops one to one, from the same TensorFlow definition the TFLite artifact uses:
one front end, exported by each format's own tool. The acoustic graph is joined after it has
been quantized (``converters.onnx_quant``), so the front end stays float32 at every precision
(``converters.tflite_audio`` says why that matters).
"""

from __future__ import annotations

from typing import Any

import onnx
from onnx import TensorProto, helper

from converters.audio_in import (
    AUDIO_INPUT,
    FEATS,
    IDS_OUTPUT,
    STREAM_FRONT_OUTPUTS,
    AudioLayout,
    offline_front,
    stream_front,
)
from converters.onnx_export import (
    INPUT_NAME,
    IR_VERSION,
    OPSET,
    OUTPUT_NAME,
    STREAM_INPUT_NAME,
    OnnxExportError,
    run_tf2onnx,
)
from runtime.features import FeatureConfig

FRONTEND_PREFIX = "frontend/"


def _tf2onnx(fn: Any, signature: list[Any], outputs: list[str]) -> onnx.ModelProto:
    """tf2onnx of ``fn``; graph outputs renamed to ``outputs``, every node named frontend/*."""
    proto = run_tf2onnx(fn, signature, "the feature front end")
    graph = proto.graph
    renames = {o.name: new for o, new in zip(graph.output, outputs, strict=True)}
    renames.update({i.name: i.name.split(":")[0] for i in graph.input})
    for node in graph.node:
        node.name = FRONTEND_PREFIX + node.name
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    for value in (*graph.input, *graph.output):
        value.name = renames.get(value.name, value.name)
    domains = {n.domain for n in graph.node} - {"", "ai.onnx"}
    if domains:
        raise OnnxExportError(f"front end needs non-default ONNX domains {sorted(domains)}")
    proto.ir_version = IR_VERSION
    return proto


def offline_onnx(acoustic: onnx.ModelProto, config: FeatureConfig, dtype: str) -> Any:
    """``audio (1, N) -> probs (1, T', C), ids (1, T')``: front end + the offline acoustic
    graph (any precision) + ArgMax."""
    fn = offline_front(config, dtype)
    head = _tf2onnx(fn, list(fn.input_signature), [FEATS])
    merged = onnx.compose.merge_models(head, acoustic, io_map=[(FEATS, INPUT_NAME)])
    graph = merged.graph
    graph.node.extend(
        [
            helper.make_node(
                "ArgMax", [OUTPUT_NAME], ["ids_int64"], name="ids_argmax", axis=-1, keepdims=0
            ),
            helper.make_node(
                "Cast", ["ids_int64"], [IDS_OUTPUT], name="ids_cast", to=TensorProto.INT32
            ),
        ]
    )
    graph.output.append(helper.make_tensor_value_info(IDS_OUTPUT, TensorProto.INT32, [1, "frames"]))
    return _checked(merged)


def stream_onnx(
    acoustic: onnx.ModelProto, layout: AudioLayout, config: FeatureConfig, dtype: str
) -> Any:
    """One audio-in streaming call: front end + the acoustic streaming graph (any precision)
    + the warm-up hold; inputs and outputs in ``layout.spec`` order."""
    spec = layout.spec
    fn = stream_front(layout, config, dtype)
    head = _tf2onnx(fn, list(fn.input_signature), list(STREAM_FRONT_OUTPUTS))
    rnn = layout.feature_spec.states
    outs = {s.output for s in rnn}
    # Hold the recurrent states during warm-up: the acoustic graph's new states become
    # internal tensors, Where(valid, new, old) the public outputs.
    for node in acoustic.graph.node:
        node.output[:] = [f"{o}_next" if o in outs else o for o in node.output]
    for value in acoustic.graph.output:
        if value.name in outs:
            value.name = f"{value.name}_next"
    merged = onnx.compose.merge_models(head, acoustic, io_map=[(FEATS, STREAM_INPUT_NAME)])
    graph = merged.graph
    for s in rnn:
        graph.node.append(
            helper.make_node(
                "Where", ["valid", f"{s.output}_next", s.input], [s.output], name=f"hold_{s.output}"
            )
        )
    outputs = {o.name: o for o in graph.output}
    new_outputs = [outputs[OUTPUT_NAME]]
    for s in spec.states:
        if s.output in outputs:
            new_outputs.append(outputs[s.output])
        else:
            new_outputs.append(helper.make_tensor_value_info(s.output, TensorProto.FLOAT, s.shape))
    del graph.output[:]
    graph.output.extend(new_outputs)
    inputs = {i.name: i for i in graph.input}
    ordered = [inputs[AUDIO_INPUT], *(inputs[s.input] for s in spec.states)]
    del graph.input[:]
    graph.input.extend(ordered)
    return _checked(merged)


def _checked(proto: onnx.ModelProto) -> onnx.ModelProto:
    del proto.opset_import[:]
    proto.opset_import.extend([helper.make_opsetid("", OPSET)])
    proto.ir_version = IR_VERSION
    proto.producer_name = "edge-asr"
    try:
        onnx.checker.check_model(proto, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise OnnxExportError(f"audio-in ONNX graph failed the checker: {exc}") from None
    return proto
