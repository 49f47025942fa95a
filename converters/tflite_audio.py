"""TFLite audio-in artifacts: a float32 front-end graph joined to the acoustic artifact.

Why join flatbuffers instead of converting one graph: the TFLite converter quantizes every
constant it can (float16 storage for fp16, int8 kernels for dynamic range and full integer),
and it has no switch to leave a subgraph alone. Measured on a random ``final_model_streaming``:
the one-graph fp16 and int8-dynamic audio-in variants differed from Keras by 2.4e-3 and 9.1e-3
(decode agreement 0.83 / 0.17) where the feature-input variants of the same precision differ by
3.5e-5 / 4.8e-4 (agreement 1.0): the quantized DFT and mel matrices wreck low-energy bins. So
the acoustic model is converted exactly as its feature-input variant (same quantization, same
calibration), the front end (``converters.frontend``, builtin ops only) is converted alone in
float32, and the two op lists are joined into one subgraph: the front end's features tensor
replaces the acoustic input. The ONNX side does the same with ``onnx.compose``.

A small "post" graph is joined the same way after the acoustic ops: the greedy ``ids``
(ArgMax) offline, and the warm-up hold of the recurrent states (``where(valid, new, old)``)
when streaming.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from runtime.errors import EdgeASRError
from runtime.features import FeatureConfig

if TYPE_CHECKING:
    from converters.audio_in import AudioLayout


def convert_function(fn: Any, input_names: Sequence[str], output_names: Sequence[str]) -> Any:
    """A float32 TFLite model object of a variable-free tf.function, builtin ops only, with its
    inputs and outputs named (the converter names them after placeholders / ``Identity_k``)."""
    import tensorflow as tf
    from tensorflow.lite.tools import flatbuffer_utils

    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(converter.convert()))
    graph = model.subgraphs[0]
    if len(model.subgraphs) != 1:
        raise EdgeASRError("front-end graph must not contain control flow")
    if len(graph.inputs) != len(input_names) or len(graph.outputs) != len(output_names):
        raise EdgeASRError("front-end graph has unexpected inputs/outputs")
    by_name = {graph.tensors[i].name.decode().split(":")[0]: i for i in graph.inputs}
    ordered = []
    for name in input_names:
        index = by_name.get(name)
        if index is None:
            raise EdgeASRError(f"front-end graph has no input {name!r} (has {sorted(by_name)})")
        ordered.append(index)
    graph.inputs = np.array(ordered, np.int32)
    for name, index in zip(input_names, ordered, strict=True):
        graph.tensors[index].name = name.encode()
    for name, index in zip(output_names, graph.outputs, strict=True):
        graph.tensors[index].name = name.encode()
    return model


def _names(graph: Any) -> dict[str, int]:
    return {t.name.decode(): i for i, t in enumerate(graph.tensors)}


def join(
    main: Any,
    extra: Any,
    links: dict[str, str],
    *,
    before: bool,
    rename: dict[str, str] | None = None,
) -> Any:
    """Merge ``extra``'s single subgraph into ``main``'s subgraph 0 (in place; returns main).

    ``links`` maps a tensor name of the consuming side to the producing side's tensor that
    replaces it: ``before`` (extra runs first, e.g. the front end) links main inputs to extra
    outputs; otherwise extra inputs to main tensors. ``rename`` renames main tensors first
    (e.g. an output that a post graph will take over). Graph inputs/outputs are set by the
    caller (``finish``)."""
    for old, new in (rename or {}).items():
        graph = main.subgraphs[0]
        graph.tensors[_names(graph)[old]].name = new.encode()
    graph, other = main.subgraphs[0], extra.subgraphs[0]
    buffer_base = len(main.buffers)
    main.buffers.extend(extra.buffers[1:])  # buffer 0 is the shared empty sentinel

    def buffer(b: int) -> int:
        return 0 if b == 0 else buffer_base + b - 1

    codes: list[int] = []
    for code in extra.operatorCodes:
        key = (code.builtinCode, code.deprecatedBuiltinCode, code.customCode, code.version)
        for j, have in enumerate(main.operatorCodes):
            if (have.builtinCode, have.deprecatedBuiltinCode, have.customCode, have.version) == key:
                codes.append(j)
                break
        else:
            main.operatorCodes.append(code)
            codes.append(len(main.operatorCodes) - 1)
    offset = len(graph.tensors)
    for tensor in other.tensors:
        tensor.buffer = buffer(tensor.buffer)
        graph.tensors.append(tensor)
    main_names, extra_names = (
        _names(graph),
        {t.name.decode(): i + offset for i, t in enumerate(other.tensors)},
    )

    def moved(index: int) -> int:
        return -1 if index < 0 else index + offset

    ops = []
    for op in other.operators:
        op.opcodeIndex = codes[op.opcodeIndex]
        op.inputs = np.array([moved(i) for i in op.inputs], np.int32)
        op.outputs = np.array([moved(i) for i in op.outputs], np.int32)
        ops.append(op)
    if before:  # main inputs named in links now read extra's outputs
        swap = {main_names[m]: extra_names[e] for m, e in links.items()}
        for op in graph.operators:
            op.inputs = np.array([swap.get(int(i), int(i)) for i in op.inputs], np.int32)
        for m in links:
            graph.tensors[main_names[m]].name = f"unused_{m}".encode()
        graph.operators = ops + list(graph.operators)
    else:  # extra inputs named in links read main's tensors
        swap = {extra_names[e]: main_names[m] for e, m in links.items()}
        for op in ops:
            op.inputs = np.array([swap.get(int(i), int(i)) for i in op.inputs], np.int32)
        for e in links:
            graph.tensors[extra_names[e]].name = f"unused_{e}".encode()
        graph.operators = list(graph.operators) + ops
    return main


def finish(model: Any, inputs: Sequence[str], outputs: Sequence[str]) -> bytes:
    """Set the graph's and the ``serving_default`` signature's inputs/outputs by name."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    graph = model.subgraphs[0]
    names = _names(graph)
    missing = [n for n in (*inputs, *outputs) if n not in names]
    if missing:
        raise EdgeASRError(f"joined TFLite graph lacks tensors {missing}")
    graph.inputs = np.array([names[n] for n in inputs], np.int32)
    graph.outputs = np.array([names[n] for n in outputs], np.int32)

    def tensor_map(name: str) -> Any:
        entry = schema.TensorMapT()
        entry.name, entry.tensorIndex = name.encode(), names[name]
        return entry

    signature = schema.SignatureDefT()
    signature.signatureKey = b"serving_default"
    signature.subgraphIndex = 0
    signature.inputs = [tensor_map(n) for n in inputs]
    signature.outputs = [tensor_map(n) for n in outputs]
    model.signatureDefs = [signature]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def read(flatbuffer: bytes) -> Any:
    from tensorflow.lite.tools import flatbuffer_utils

    return flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))


def check_builtin_only(flatbuffer: bytes) -> None:
    """Refuse Flex (select TF) and custom ops: stock LiteRT/TFLM must run the artifact."""
    model = read(flatbuffer)
    custom = sorted({c.customCode.decode() for c in model.operatorCodes if c.customCode})
    if custom:
        raise EdgeASRError(f"audio-in TFLite graph needs non-builtin ops: {', '.join(custom)}")


def offline_artifact(acoustic: bytes, config: FeatureConfig, dtype: str, min_samples: int) -> bytes:
    """``audio (1, N) -> probs, ids``: front end + the offline acoustic artifact + ArgMax."""
    import tensorflow as tf

    from converters.audio_in import AUDIO_INPUT, FEATS, IDS_OUTPUT, offline_front
    from converters.tflite_export import canonical_io

    main = read(acoustic)
    front = convert_function(offline_front(config, dtype), [AUDIO_INPUT], [FEATS])
    join(main, front, {"the_input": FEATS}, before=True)
    classes = int(main.subgraphs[0].tensors[_names(main.subgraphs[0])["probs"]].shape[-1])
    ids = tf.function(
        lambda probs: tf.argmax(probs, axis=-1, output_type=tf.int32),
        input_signature=[tf.TensorSpec((1, None, classes), tf.float32, "probs_in")],
    )
    join(
        main, convert_function(ids, ["probs_in"], [IDS_OUTPUT]), {"probs_in": "probs"}, before=False
    )
    flat = finish(main, [AUDIO_INPUT], ["probs", IDS_OUTPUT])
    check_builtin_only(flat)
    return canonical_io(flat, min_samples)


def stream_artifact(
    acoustic: bytes, layout: AudioLayout, config: FeatureConfig, dtype: str
) -> bytes:
    """One audio-in streaming call: front end + the acoustic streaming artifact + the warm-up
    hold of the recurrent states; inputs and outputs in ``layout.spec`` order."""
    import tensorflow as tf

    from converters.audio_in import (
        AUDIO_INPUT,
        AUDIO_STATE,
        CALLS_STATE,
        FEATS,
        FRAMES_STATE,
        STREAM_FRONT_OUTPUTS,
        stream_front,
    )
    from converters.tflite_export import canonical_io

    main = read(acoustic)
    front_inputs = [AUDIO_INPUT, AUDIO_STATE[0], FRAMES_STATE[0], CALLS_STATE[0]]
    front = convert_function(
        stream_front(layout, config, dtype), front_inputs, list(STREAM_FRONT_OUTPUTS)
    )
    join(main, front, {"feats": FEATS}, before=True)
    rnn = layout.feature_spec.states
    if rnn:
        specs = [tf.TensorSpec((1,), tf.bool, "valid_in")]
        specs += [tf.TensorSpec(s.shape, tf.float32, f"{s.output}_new") for s in rnn]
        specs += [tf.TensorSpec(s.shape, tf.float32, f"{s.input}_old") for s in rnn]
        n = len(rnn)

        def hold(valid: Any, *states: Any) -> list[Any]:
            return [
                tf.where(valid, new, old) for new, old in zip(states[:n], states[n:], strict=True)
            ]

        post = convert_function(
            tf.function(hold, input_signature=specs),
            [s.name for s in specs],
            [s.output for s in rnn],
        )
        links = {"valid_in": "valid"}
        links.update({f"{s.output}_new": f"{s.output}_next" for s in rnn})
        links.update({f"{s.input}_old": s.input for s in rnn})
        renames = {s.output: f"{s.output}_next" for s in rnn}
        join(main, post, links, before=False, rename=renames)
    spec = layout.spec
    flat = finish(
        main,
        [AUDIO_INPUT, *(s.input for s in spec.states)],
        ["probs", *(s.output for s in spec.states)],
    )
    check_builtin_only(flat)
    return canonical_io(flat)
