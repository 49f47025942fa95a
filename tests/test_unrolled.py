"""The hoisted-bias unrolled RNN: same numbers as the Keras layer, and a full-integer TFLite
artifact whose size does not grow with the number of unrolled steps."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pytest

from converters.unrolled import UnrolledRecurrent

CASES = {
    "gru": lambda: keras.layers.GRU(8, return_sequences=True),
    "gru-reset-before": lambda: keras.layers.GRU(8, return_sequences=True, reset_after=False),
    "gru-no-bias": lambda: keras.layers.GRU(8, return_sequences=True, use_bias=False),
    "gru-relu": lambda: keras.layers.GRU(
        8, return_sequences=True, activation="relu", recurrent_activation="hard_sigmoid"
    ),
    "lstm": lambda: keras.layers.LSTM(8, return_sequences=True),
    "simple-rnn": lambda: keras.layers.SimpleRNN(8, return_sequences=True),
}


def _randomized(layer: keras.layers.Layer, rng: np.random.Generator) -> keras.layers.Layer:
    layer.build((1, 5, 6))
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.weights])
    return layer


@pytest.mark.parametrize("case", list(CASES))
def test_matches_keras_layer(case):
    rng = np.random.default_rng(0)
    layer = _randomized(CASES[case](), rng)
    states = [rng.normal(0, 0.5, (1, 8)).astype("float32")]
    if case == "lstm":
        states.append(rng.normal(0, 0.5, (1, 8)).astype("float32"))
    x = rng.normal(0, 1, (1, 5, 6)).astype("float32")
    expected = np.asarray(layer(x, initial_state=states))
    sequence, *finals = UnrolledRecurrent(layer)([x, *states])
    np.testing.assert_allclose(np.asarray(sequence), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(finals[0]), expected[:, -1], atol=1e-5)
    assert len(finals) == len(states)


def _int8_bias_bytes(steps: int, tmp_path) -> int:
    """Bytes of int32 (bias) tensors in a full-integer TFLite GRU stack unrolled ``steps``."""
    from tensorflow.lite.tools import flatbuffer_utils

    from converters.streaming import stream_spec
    from converters.tflite_export import convert, streaming_saved_model

    rng = np.random.default_rng(1)
    inputs = keras.Input((None, 6))
    x = keras.layers.GRU(16, return_sequences=True)(inputs)
    x = keras.layers.GRU(16, return_sequences=True)(x)
    model = keras.Model(inputs, keras.layers.Dense(29, activation="softmax")(x))
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.weights])
    spec = stream_spec(model, steps)
    saved = str(tmp_path / f"saved{steps}")
    streaming_saved_model(model, spec, saved)
    feeds = [
        {"feats": rng.normal(0, 1, (1, steps, 6)), "state_in_0": np.zeros((1, 16)),
         "state_in_1": np.zeros((1, 16))}
        for _ in range(4)
    ]  # fmt: skip
    tflite = flatbuffer_utils.convert_bytearray_to_object(
        bytearray(convert(saved, "int8-full", feeds))
    )
    int32 = 2
    total = 0
    for tensor in tflite.subgraphs[0].tensors:
        data = tflite.buffers[tensor.buffer].data
        scale = tensor.quantization.scale if tensor.quantization else None
        if tensor.type == int32 and data is not None and scale is not None:  # a bias
            total += len(data) + 12 * len(scale)
    return total


def test_int8_biases_do_not_repeat_per_step(tmp_path):
    """The root cause of the 0.35x full-integer streaming artifact: one int32 bias per unrolled
    step. With the biases hoisted, 4 and 12 steps store the same biases."""
    assert _int8_bias_bytes(4, tmp_path) == _int8_bias_bytes(12, tmp_path)
