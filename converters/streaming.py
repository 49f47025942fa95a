"""Streaming: the stream spec of a unidirectional model and its chunk-by-chunk export twin.

A streaming artifact takes a fixed window of feature frames (the chunk plus the convolutions'
left context) and the recurrent states as explicit tensors, and returns the chunk's posteriors
and the new states (docs/formats.md, ``STREAM``). Fixed shapes let the RNNs be unrolled, which is
what makes full-integer TFLite quantization possible at all (WHILE loops crash the calibrator).

Exactness argument for the window: a chain of 'valid' convolutions with total stride ``S`` and
receptive field ``R`` maps frames ``[k*chunk, k*chunk + chunk + R - S)`` to exactly the
``chunk / S`` model frames ``[k*chunk/S, (k+1)*chunk/S)`` of the whole-utterance output. A
'causal' convolution on the input is a 'valid' one after ``(kernel - 1) * dilation`` zero frames,
so the device pads the stream instead. 'same'/'full' convolutions look into the future: not
streamable exactly. A 'valid' ``MaxPooling1D`` (pool ``p``, stride ``s``) maps frames exactly as a
'valid' convolution with kernel ``p`` and stride ``s`` does, so it enters the same window math.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from converters.unrolled import UnrolledRecurrent
from edge_asr.models.chain import BIDIRECTIONAL, POINTWISE, POOLING, RECURRENT, inference_layers
from edge_asr.models.twin import apply_chain, copy_layer
from runtime.errors import EdgeASRError
from runtime.formats import StateSpec, StreamSpec


def _analyse(model: keras.Model, chunk_frames: int) -> tuple[StreamSpec | None, str | None]:
    """(spec, None) for a streamable model, (None, reason) otherwise."""
    if chunk_frames < 1:
        raise EdgeASRError(f"chunk must be at least 1 feature frame, not {chunk_frames}")
    field, stride, left_pad = 1, 1, 0
    states: list[StateSpec] = []
    seen_rnn = False
    for index, layer in enumerate(inference_layers(model)):
        kind = type(layer).__name__
        if kind == BIDIRECTIONAL:
            return None, f"layer {layer.name!r} is bidirectional: it needs the whole utterance"
        if kind in RECURRENT:
            if layer.go_backwards:
                return None, f"layer {layer.name!r} runs backwards: it needs the whole utterance"
            if not layer.return_sequences:
                return None, f"layer {layer.name!r} returns one vector, not a sequence"
            seen_rnn = True
            roles = ("h", "c") if kind == "LSTM" else ("h",)
            for role in roles:
                i = len(states)
                states.append(
                    StateSpec(
                        input=f"state_in_{i}",
                        output=f"state_out_{i}",
                        shape=(1, int(layer.units)),
                        layer=layer.name,
                        role=role,
                    )
                )
        elif kind == "Conv1D":
            kernel = int(layer.kernel_size[0])
            dilation = int(layer.dilation_rate[0])
            span = (kernel - 1) * dilation  # frames of context beyond the current one
            if seen_rnn:
                return None, f"convolution {layer.name!r} after a recurrent layer"
            if layer.padding in ("same", "full") and span > 0:
                return None, (
                    f"convolution {layer.name!r} uses {layer.padding!r} padding: it needs "
                    "future frames (use 'valid' or 'causal')"
                )
            if layer.padding == "causal" and span > 0:
                if index != 0:
                    return None, (
                        f"causal convolution {layer.name!r} is not the first layer: its zero "
                        "padding cannot be reproduced on the input stream"
                    )
                left_pad += span
            field += span * stride
            stride *= int(layer.strides[0])
        elif kind in POOLING:
            # A 'valid' pooling window is a strided convolution's window: same window math.
            span = int(layer.pool_size[0]) - 1
            if seen_rnn:
                return None, f"pooling {layer.name!r} after a recurrent layer"
            if layer.padding != "valid" and span > 0:
                return None, (
                    f"pooling {layer.name!r} uses {layer.padding!r} padding: its last window "
                    "depends on where the utterance ends (use 'valid')"
                )
            field += span * stride
            stride *= int(layer.strides[0])
        elif kind not in POINTWISE:
            return None, f"layer {layer.name!r} ({kind}) is not supported for streaming"
    if chunk_frames % stride:
        raise EdgeASRError(
            f"chunk of {chunk_frames} frames is not a multiple of the model's total stride {stride}"
        )
    spec = StreamSpec(
        chunk_frames=chunk_frames,
        window_frames=chunk_frames + field - stride,
        left_pad_frames=left_pad,
        output_frames=chunk_frames // stride,
        states=tuple(states),
    )
    return spec, None


def stream_spec(model: keras.Model, chunk_frames: int = 16) -> StreamSpec | None:
    """The ``STREAM`` spec of docs/formats.md for ``model``, or None when it cannot stream
    exactly (bidirectional, 'same' convolutions...; ``not_streamable_reason`` says why).

    States are numbered in layer order; an LSTM contributes ``h`` then ``c``. Each state entry
    also names its ``layer`` and ``role`` (informational). Raises ``EdgeASRError`` when the chunk
    is not a multiple of the total convolution stride.
    """
    return _analyse(model, chunk_frames)[0]


def not_streamable_reason(model: keras.Model) -> str | None:
    """Why ``model`` has no exact streaming form, or None if it has one."""
    return _analyse(model, 1024 * 1024 * 3 * 5 * 7)[1]


def streaming_twin(model: keras.Model, spec: StreamSpec) -> keras.Model:
    """The chunk model: inputs ``feats (1, window, F)`` and ``state_in_i``; outputs ``probs
    (1, output_frames, 29)`` then ``state_out_i``. Same weights; RNNs unrolled with explicit
    initial and final states and their biases hoisted out of the steps (``converters.unrolled``);
    causal convolutions become 'valid' (the stream is left-padded)."""
    features = model.inputs[0].shape[-1]
    feats = keras.Input(batch_shape=(1, spec.window_frames, features), name="feats")
    state_inputs = [keras.Input(batch_shape=s.shape, name=s.input) for s in spec.states]
    new_states: list[Any] = []

    def stream_layer(layer: keras.layers.Layer, x: Any) -> Any:
        kind = type(layer).__name__
        if kind == "Conv1D" and layer.padding == "causal":
            return copy_layer(layer, x, {"padding": "valid"})
        if kind in RECURRENT:
            n = 2 if kind == "LSTM" else 1
            initial = state_inputs[len(new_states) : len(new_states) + n]
            x, *final = UnrolledRecurrent(layer)([x, *initial])
            new_states.extend(final)
            return x
        return None

    x = apply_chain(model, feats, copy=True, override=stream_layer)
    if len(new_states) != len(state_inputs):
        raise EdgeASRError(f"{model.name}: stream spec does not match the model's states")
    outputs = [keras.layers.Identity(name="probs")(x)]
    outputs += [
        keras.layers.Identity(name=s.output)(t)
        for s, t in zip(spec.states, new_states, strict=True)
    ]
    return keras.Model([feats, *state_inputs], outputs, name=f"{model.name}_stream")


def chunk_windows(features: np.ndarray, spec: StreamSpec, n_out: int) -> list[np.ndarray]:
    """The feature windows fed to a streaming artifact for one utterance (numpy; used by tests
    and the Keras-side reference of chunked inference)."""
    calls = -(-n_out // spec.output_frames)
    dim = features.shape[-1]
    pad, chunk, window = spec.left_pad_frames, spec.chunk_frames, spec.window_frames
    total = pad + (calls - 1) * chunk + window
    padded = np.zeros((total, dim), np.float32)
    real = features[: total - pad]
    padded[pad : pad + len(real)] = real
    return [padded[k * chunk : k * chunk + window] for k in range(calls)]
