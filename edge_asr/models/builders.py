"""Builders with the seed project's signatures and layer sequences."""

from __future__ import annotations

import dataclasses
from typing import Any

import keras
from keras import layers

from runtime.formats import LengthRule, ModelMeta
from runtime.text import NUM_CLASSES


def _finish(
    inputs: keras.KerasTensor,
    outputs: keras.KerasTensor,
    name: str,
    params: dict[str, Any],
    convs: list[dict[str, Any]] | None = None,
    streamable: bool = True,
) -> keras.Model:
    """Wrap up a model and attach its metadata (what ``save_model`` writes beside it)."""
    model = keras.Model(inputs=inputs, outputs=outputs, name=name)
    rule = LengthRule.from_dict({"layers": convs or []})
    attach_metadata(model, ModelMeta(name, params, rule, streamable))
    return model


def attach_metadata(model: keras.Model, meta: ModelMeta) -> None:
    """Give ``model`` its metadata: ``model.meta`` (the ModelMeta that model.json holds),
    ``model.edge_asr`` (the same as a dict) and ``model.output_length(n)`` (None -> None, the
    seed's semantics)."""
    model.meta = meta
    model.edge_asr = meta.to_dict()
    rule = meta.output_length
    model.output_length = lambda n: None if n is None else rule(n)


def _input(input_dim: int) -> keras.KerasTensor:
    return keras.Input(shape=(None, input_dim), name="the_input")


@keras.saving.register_keras_serializable(package="edge_asr", name="keras2_hard_sigmoid")
def keras2_hard_sigmoid(x: Any) -> Any:
    """Keras 2's ``hard_sigmoid``, ``clip(0.2 x + 0.5, 0, 1)``: the recurrent activation of
    GRU/LSTM in standalone Keras 2.0-2.3 (the seed's Keras). Keras 3's ``hard_sigmoid`` is
    ``relu6(x + 3) / 6``, a different function under the same name, so a Keras 2 model rebuilt
    with it would silently compute something else."""
    return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)


#: Activation names the builders accept beyond Keras 3's own.
CUSTOM_ACTIVATIONS = {"keras2_hard_sigmoid": keras2_hard_sigmoid}
#: Defaults of the recurrent options (``_rnn_options``); only other values go into params.
RNN_DEFAULTS: dict[str, Any] = {"reset_after": True, "recurrent_activation": "sigmoid"}


def _rnn_options(
    reset_after: bool, recurrent_activation: str, gru: bool = True
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(recurrent layer kwargs, the params to record) for the Keras 2 compatibility options.

    ``reset_after=False`` is standalone Keras 2's GRU (one bias vector, reset gate before the
    recurrent matmul); True is tf.keras 2 / Keras 3. Only values other than the defaults are
    recorded, so model.json of a default model is what it always was."""
    if recurrent_activation not in CUSTOM_ACTIVATIONS:
        keras.activations.get(recurrent_activation)  # an unknown name fails here, by name
    kwargs: dict[str, Any] = {
        "recurrent_activation": CUSTOM_ACTIVATIONS.get(recurrent_activation, recurrent_activation)
    }
    given = {"recurrent_activation": recurrent_activation}
    if gru:
        kwargs["reset_after"] = bool(reset_after)
        given["reset_after"] = bool(reset_after)
    recorded = {k: v for k, v in given.items() if v != RNN_DEFAULTS[k]}
    return kwargs, recorded


def _conv_rule(kernel_size: int, conv_stride: int, padding: str) -> dict[str, Any]:
    return {"kernel": kernel_size, "stride": conv_stride, "padding": padding, "dilation": 1}


def simple_rnn_model(
    input_dim: int,
    output_dim: int = NUM_CLASSES,
    reset_after: bool = True,
    recurrent_activation: str = "sigmoid",
) -> keras.Model:
    """Model 0: one GRU straight to the softmax."""
    rnn, extra = _rnn_options(reset_after, recurrent_activation)
    x = _input(input_dim)
    y = layers.GRU(output_dim, return_sequences=True, name="rnn", **rnn)(x)
    y = layers.Activation("softmax", name="softmax")(y)
    params = {"input_dim": input_dim, "output_dim": output_dim, **extra}
    return _finish(x, y, "simple_rnn_model", params)


def rnn_model(
    input_dim: int,
    units: int = 200,
    activation: str = "tanh",
    output_dim: int = NUM_CLASSES,
    cell: str = "lstm",
    reset_after: bool = True,
    recurrent_activation: str = "sigmoid",
) -> keras.Model:
    """Model 1: LSTM -> BatchNorm -> TimeDistributed(Dense) -> softmax.

    ``cell="gru"`` is the seed's own version of this model (its template has a GRU)."""
    if cell not in ("lstm", "gru"):
        raise ValueError(f"rnn_model: cell must be 'lstm' or 'gru', not {cell!r}")
    rnn, extra = _rnn_options(reset_after, recurrent_activation, gru=cell == "gru")
    recurrent = layers.GRU if cell == "gru" else layers.LSTM
    x = _input(input_dim)
    y = recurrent(units, activation=activation, return_sequences=True, name="rnn", **rnn)(x)
    y = layers.BatchNormalization(name="bn_rnn")(y)
    y = layers.TimeDistributed(layers.Dense(output_dim), name="time_dense")(y)
    y = layers.Activation("softmax", name="softmax")(y)
    params = {"input_dim": input_dim, "units": units, "activation": activation}
    if cell != "lstm":
        extra = {"cell": cell, **extra}
    return _finish(x, y, "rnn_model", {**params, "output_dim": output_dim, **extra})


def cnn_rnn_model(
    input_dim: int,
    filters: int = 200,
    kernel_size: int = 11,
    conv_stride: int = 2,
    conv_border_mode: str = "valid",
    units: int = 200,
    output_dim: int = NUM_CLASSES,
) -> keras.Model:
    """Model 2: Conv1D(relu) -> BN -> SimpleRNN(relu) -> BN -> TimeDistributed(Dense) -> softmax."""
    x = _input(input_dim)
    y = layers.Conv1D(
        filters,
        kernel_size,
        strides=conv_stride,
        padding=conv_border_mode,
        activation="relu",
        name="conv1d",
    )(x)
    y = layers.BatchNormalization(name="bn_conv_1d")(y)
    y = layers.SimpleRNN(units, activation="relu", return_sequences=True, name="rnn")(y)
    y = layers.BatchNormalization(name="bn_rnn")(y)
    y = layers.TimeDistributed(layers.Dense(output_dim), name="time_dense")(y)
    y = layers.Activation("softmax", name="softmax")(y)
    params = {
        "input_dim": input_dim,
        "filters": filters,
        "kernel_size": kernel_size,
        "conv_stride": conv_stride,
        "conv_border_mode": conv_border_mode,
        "units": units,
        "output_dim": output_dim,
    }
    conv = _conv_rule(kernel_size, conv_stride, conv_border_mode)
    return _finish(x, y, "cnn_rnn_model", params, [conv], conv_border_mode != "same")


def deep_rnn_model(
    input_dim: int,
    units: int = 200,
    recur_layers: int = 2,
    output_dim: int = NUM_CLASSES,
    reset_after: bool = True,
    recurrent_activation: str = "sigmoid",
) -> keras.Model:
    """Model 3: ``recur_layers`` GRUs, each followed by BatchNorm -> TimeDistributed(Dense)."""
    rnn, extra = _rnn_options(reset_after, recurrent_activation)
    x = _input(input_dim)
    y = x
    for i in range(recur_layers):
        y = layers.GRU(units, return_sequences=True, name=f"rnn_{i}", **rnn)(y)
        y = layers.BatchNormalization(name=f"bn_rnn_{i}")(y)
    y = layers.TimeDistributed(layers.Dense(output_dim), name="time_dense")(y)
    y = layers.Activation("softmax", name="softmax")(y)
    params = {"input_dim": input_dim, "units": units, "recur_layers": recur_layers}
    return _finish(x, y, "deep_rnn_model", {**params, "output_dim": output_dim, **extra})


def bidirectional_rnn_model(
    input_dim: int,
    units: int = 200,
    output_dim: int = NUM_CLASSES,
    reset_after: bool = True,
    recurrent_activation: str = "sigmoid",
    batch_norm: bool = True,
) -> keras.Model:
    """Model 4: Bidirectional(GRU) -> BN -> TimeDistributed(Dense) -> softmax (not streamable).

    ``batch_norm=False`` is the seed's own version (its template has no BatchNorm here)."""
    rnn, extra = _rnn_options(reset_after, recurrent_activation)
    x = _input(input_dim)
    gru = layers.GRU(units, return_sequences=True, **rnn)
    y = layers.Bidirectional(gru, name="bidir_rnn")(x)
    if batch_norm:
        y = layers.BatchNormalization(name="bn_rnn")(y)
    else:
        extra = {"batch_norm": False, **extra}
    y = layers.TimeDistributed(layers.Dense(output_dim), name="time_dense")(y)
    y = layers.Activation("softmax", name="softmax")(y)
    params = {"input_dim": input_dim, "units": units, "output_dim": output_dim, **extra}
    return _finish(x, y, "bidirectional_rnn_model", params, streamable=False)


def final_model(
    input_dim: int,
    filters: int = 200,
    kernel_size: int = 11,
    conv_stride: int = 2,
    units: int = 160,
    recur_layers: int = 2,
    dropout: float = 0.2,
    bidirectional: bool = True,
    output_dim: int = NUM_CLASSES,
    reset_after: bool = True,
    recurrent_activation: str = "sigmoid",
) -> keras.Model:
    """Model 5: Conv1D front end (stride 2 halves the frame rate) -> BN -> stacked (Bi)GRUs, each
    with BN and dropout -> Dense -> softmax.

    ``bidirectional=False`` is the streamable variant (the default deployable model): every
    layer looks only at the past, and the 'valid' convolution needs ``kernel_size - stride``
    frames of left context, which the streaming artifact carries.
    Defaults (161 spectrogram bins): 1.18 M parameters (4.7 MB fp32); the streaming builder's
    defaults (units 256): 1.11 M. The demo recipe (13 MFCCs, kernel 21, stride 3): 0.80 M.
    """
    rnn, extra = _rnn_options(reset_after, recurrent_activation)
    x = _input(input_dim)
    y = layers.Conv1D(
        filters, kernel_size, strides=conv_stride, padding="valid", activation="relu", name="conv1d"
    )(x)
    y = layers.BatchNormalization(name="bn_conv_1d")(y)
    for i in range(recur_layers):
        gru = layers.GRU(units, return_sequences=True, name=f"rnn_{i}", **rnn)
        y = layers.Bidirectional(gru, name=f"bidir_rnn_{i}")(y) if bidirectional else gru(y)
        y = layers.BatchNormalization(name=f"bn_rnn_{i}")(y)
        if dropout:
            y = layers.Dropout(dropout, name=f"dropout_{i}")(y)
    y = layers.Dense(output_dim, name="dense")(y)
    y = layers.Activation("softmax", name="softmax")(y)
    params = {
        "input_dim": input_dim,
        "filters": filters,
        "kernel_size": kernel_size,
        "conv_stride": conv_stride,
        "units": units,
        "recur_layers": recur_layers,
        "dropout": dropout,
        "bidirectional": bidirectional,
        "output_dim": output_dim,
        **extra,
    }
    name = "final_model" if bidirectional else "final_model_streaming"
    conv = _conv_rule(kernel_size, conv_stride, "valid")
    return _finish(x, y, name, params, [conv], streamable=not bidirectional)


def final_model_streaming(input_dim: int, **params: Any) -> keras.Model:
    """The streamable (unidirectional) ``final_model``: the default deployable model."""
    defaults = {"units": 256}
    return final_model(input_dim, **{**defaults, **params, "bidirectional": False})


#: Sizes of ``final_model_micro``, measured with ``bench/micro_preset.py`` (13 MFCCs): its
#: ``tflite-int8-full-stream`` artifact is 243,672 B of flash with an 89,856 B TFLM arena;
#: filters 64 / units 96 is 206,312 B, filters 96 / units 128 307,560 B (over 256 KB).
MICRO_DEFAULTS: dict[str, Any] = {"filters": 64, "kernel_size": 21, "conv_stride": 3, "units": 112}


def final_model_micro(input_dim: int, **params: Any) -> keras.Model:
    """final_model_streaming sized for microcontrollers (int8: <= 256 KB flash, <= 128 KB arena).

    Conv1D 64x21 stride 3, 2x GRU 112: 0.16 M parameters with 13 MFCCs (train with
    ``--features mfcc``; spectrogram input makes the convolution 12x bigger). The same layers
    and streaming rules as ``final_model_streaming``, only smaller defaults, so every converter
    and runtime path that handles that model handles this one.
    """
    model = final_model(input_dim, **{**MICRO_DEFAULTS, **params, "bidirectional": False})
    attach_metadata(model, dataclasses.replace(model.meta, name="final_model_micro"))
    return model
