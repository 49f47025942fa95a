"""TFLite export of the export twins (offline: batch 1, dynamic time; streaming: fixed chunk).

Route measured in the conversion-matrix notes: export the twin as a SavedModel with a
``(1, None, F)`` signature (Keras ``ExportArchive``) and ``TFLiteConverter.from_saved_model``.
(``from_concrete_functions([cf])`` also converts, but leaves no SignatureDef and names the
outputs ``Identity_k``.) The signature reads ``the_input -> probs`` (offline) or
``feats, state_in_i -> probs, state_out_i`` (streaming): run artifacts through the signature
runner, whose keys are these names.

Precisions: fp32; fp16 (float16 weights, float compute); int8-dynamic (dynamic range: int8
weights, float activations); int8-dynamic-per-tensor (the same with per-tensor Dense kernels:
FULLY_CONNECTED version 9 instead of 12, so tflite-runtime 2.14 loads it); int8-full
(integer-only kernels and activations calibrated on real feature windows; float I/O unless
``int8_io``); int16x8-full (the same with int16 activations and
state, int8 weights: TFLite's 16x8 mode, the usual choice for audio on MCUs/NPUs, int16 I/O with
``int8_io``). Full-integer quantization is only offered for the unrolled streaming graph: the
calibrator segfaults on every WHILE-loop RNN (notes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError
from runtime.formats import PRECISIONS as _BY_FORMAT
from runtime.formats import StreamSpec

PRECISIONS = _BY_FORMAT["tflite"]

#: What each precision really quantizes in TFLite (recorded in bundle.json).
QUANTIZED_WEIGHTS = {
    "fp32": "nothing (float32)",
    "fp16": "all weights stored as float16 (dequantized to float32 at load; float32 compute)",
    "int8-dynamic": (
        "Dense/Conv/recurrent kernels int8 (dynamic range: activations quantized on the fly, "
        "float32 biases and state)"
    ),
    "int8-dynamic-per-tensor": (
        "Dense/recurrent kernels int8 per-tensor, Conv kernels int8 per-channel (dynamic range: "
        "activations quantized on the fly, float32 biases and state); loads in tflite-runtime "
        "2.14"
    ),
    "int8-full": (
        "all kernels int8 per-channel, activations and recurrent state int8 (calibrated), "
        "biases int32; integer-only builtins"
    ),
    "int16x8-full": (
        "all kernels int8 per-channel, activations and recurrent state int16 (calibrated, "
        "symmetric), biases int64; 16x8 integer-only builtins"
    ),
}
#: Full-integer precisions and the op set each converts to.
FULL_INTEGER = {
    "int8-full": "TFLITE_BUILTINS_INT8",
    "int16x8-full": "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8",
}


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _write_saved_model(twin: Any, directory: str, specs: list[Any], names: list[str]) -> None:
    """A SavedModel whose ``serving_default`` signature maps named inputs to named outputs.

    Keras' ExportArchive freezes the weights properly (a bare ``tf.saved_model.save`` of the
    function leaves READ_VARIABLE ops that fail inside TFLite's WHILE loops)."""
    import keras

    def serve(*inputs: Any) -> dict[str, Any]:
        outputs = twin(list(inputs) if len(inputs) > 1 else inputs[0], training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return dict(zip(names, outputs, strict=True))

    archive = keras.export.ExportArchive()
    archive.track(twin)
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=specs)
    archive.write_out(directory, verbose=False)


def offline_saved_model(model: Any, directory: str) -> None:
    """SavedModel of the export twin: ``the_input (1, None, F) -> probs``."""
    from edge_asr.models.twin import inference_twin

    tf = _tf()
    twin, _ = inference_twin(model, copy=True, batch=1, name="export")
    features = int(twin.inputs[0].shape[-1])
    specs = [tf.TensorSpec((1, None, features), tf.float32, "the_input")]
    _write_saved_model(twin, directory, specs, ["probs"])


def streaming_saved_model(model: Any, spec: StreamSpec, directory: str) -> None:
    """SavedModel of the streaming twin: ``feats, state_in_i -> probs, state_out_i``."""
    from converters.streaming import streaming_twin

    tf = _tf()
    twin = streaming_twin(model, spec)
    features = int(twin.inputs[0].shape[-1])
    specs = [tf.TensorSpec((1, spec.window_frames, features), tf.float32, "feats")]
    specs += [tf.TensorSpec(s.shape, tf.float32, s.input) for s in spec.states]
    names = ["probs", *(s.output for s in spec.states)]
    _write_saved_model(twin, directory, specs, names)


def convert(
    saved_model: str,
    precision: str,
    calibration: Iterable[dict[str, np.ndarray]] | None = None,
    int8_io: bool = False,
) -> bytes:
    """TFLite flatbuffer of a SavedModel at ``precision``; ``calibration`` yields input dicts
    (signature names) for int8-full."""
    if precision not in (*PRECISIONS, *FULL_INTEGER):
        raise EdgeASRError(f"unknown TFLite precision {precision!r}; choose from {PRECISIONS}")
    tf = _tf()
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    if precision != "fp32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "fp16":
        converter.target_spec.supported_types = [tf.float16]
    if precision == "int8-dynamic-per-tensor":
        # Per-channel hybrid Dense kernels make FULLY_CONNECTED version 12, which runtimes
        # before TF 2.15 (tflite-runtime 2.14, the last wheel) lack; per-tensor ones are v9.
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    if precision in FULL_INTEGER:
        if calibration is None:
            raise EdgeASRError(f"{precision} needs calibration data (--calib)")
        samples = [{k: np.asarray(a, np.float32) for k, a in feed.items()} for feed in calibration]
        if not samples:
            raise EdgeASRError(f"{precision} needs calibration data; none was given")
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [getattr(tf.lite.OpsSet, FULL_INTEGER[precision])]
        if int8_io:  # integer I/O: int8, or int16 for 16x8
            io_type = tf.int16 if precision == "int16x8-full" else tf.int8
            converter.inference_input_type = io_type
            converter.inference_output_type = io_type
    return converter.convert()


def canonical_io(flatbuffer: bytes, default_frames: int | None = None) -> bytes:
    """Name every signature tensor after its signature key and order the subgraph's inputs and
    outputs as the signature lists them (features / probs first). ``default_frames`` sets the
    static time length of a dynamic-time input (the shape the interpreter allocates at load).

    The converter names tensors ``serving_default_feats:0`` / ``StatefulPartitionedCall:1`` and
    orders inputs arbitrarily; the bundle contract (docs/formats.md) wants input 0 to be the
    features and output 0 the posteriors, addressed by the names in bundle.json, whether a
    device uses the signature runner or plain tensor indices.

    The converter's default time length of 1 frame makes a model with a convolution front end
    fail ``allocate_tensors`` at load (XNNPack cannot reshape a 0-frame convolution output), so
    offline artifacts get ``default_frames`` = the model's shortest useful input."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    if not model.signatureDefs:
        raise EdgeASRError("converted TFLite model has no signature to name its tensors from")
    signature = model.signatureDefs[0]
    graph = model.subgraphs[signature.subgraphIndex]
    inputs = [(m.name.decode(), m.tensorIndex) for m in signature.inputs]
    outputs = [(m.name.decode(), m.tensorIndex) for m in signature.outputs]
    for name, index in inputs + outputs:
        graph.tensors[index].name = name.encode()
    for _, index in inputs:
        tensor = graph.tensors[index]
        signature_shape = tensor.shapeSignature
        dynamic_time = signature_shape is not None and list(signature_shape)[1:2] == [-1]
        if default_frames and dynamic_time and len(signature_shape) == 3:
            tensor.shape = np.array([tensor.shape[0], default_frames, tensor.shape[2]], np.int32)
        if default_frames and dynamic_time and len(signature_shape) == 2:  # audio samples
            tensor.shape = np.array([tensor.shape[0], default_frames], np.int32)
    graph.inputs = np.array(
        [i for _, i in _ordered(inputs, "the_input", "feats", "audio")], np.int32
    )
    graph.outputs = np.array([i for _, i in _ordered(outputs, "probs")], np.int32)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _ordered(pairs: list[tuple[str, int]], *first: str) -> list[tuple[str, int]]:
    """Main tensor first, then the states in numeric order (state_in_2 before state_in_10)."""

    def key(pair: tuple[str, int]) -> tuple[int, int, int, str]:
        name = pair[0]
        tail = name.rsplit("_", 1)[-1]
        extra = ("audio", "frames", "calls")  # audio-in states follow the recurrent ones
        rank = extra.index(tail) + 1 if tail in extra else 0
        return (0 if name in first else 1, rank, int(tail) if tail.isdigit() else 0, name)

    return sorted(pairs, key=key)
