"""Export twins: copies of a model, built from its own layers, that trace correctly.

Keras 3 ``TimeDistributed`` reads ``ops.shape(inputs)`` before its batch/time transpose, so a
graph traced with an unknown time length maps over the *batch* axis and is silently wrong
(conversion-matrix notes). ``Dense`` on the 3-D tensor is the same math with the same weights,
so the twin swaps it in; ``Dropout`` (identity at inference) is dropped. Everything else is
re-created from ``get_config`` and given the original weights. The builders keep their layers:
only the exported graph changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from edge_asr.models.chain import chain_layers
from runtime.errors import EdgeASRError

#: Layers that are the identity at inference time.
INFERENCE_IDENTITY = (
    "Dropout",
    "SpatialDropout1D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
)
RECURRENT = ("GRU", "LSTM", "SimpleRNN")


class UnsupportedModelError(EdgeASRError):
    """The model has a layer the converters do not know how to copy."""


def copy_layer(
    layer: keras.layers.Layer, x: Any, config_update: dict[str, Any] | None = None
) -> Any:
    """Re-create ``layer`` from its config (plus ``config_update``), call it on ``x`` and give it
    the original weights. Returns the call's output."""
    config = layer.get_config()
    config.update(config_update or {})
    clone = type(layer).from_config(config)
    out = clone(x)
    clone.set_weights(layer.get_weights())
    return out


def unwrap_time_distributed(layer: keras.layers.Layer) -> keras.layers.Layer:
    """The inner layer of ``TimeDistributed(Dense)``; other wrapped layers are refused."""
    inner = layer.layer
    if type(inner).__name__ != "Dense":
        raise UnsupportedModelError(
            f"layer {layer.name!r}: TimeDistributed({type(inner).__name__}) is not supported "
            "(only TimeDistributed(Dense))"
        )
    return inner


def copy_chain(
    layers: list[keras.layers.Layer],
    x: Any,
    override: Callable[[keras.layers.Layer, Any], Any] | None = None,
) -> Any:
    """Copy ``layers`` onto ``x`` in order: inference identities dropped, ``TimeDistributed(Dense)``
    as ``Dense``, the rest re-created. ``override(layer, x)`` may return the output for a layer
    it handles itself (None: copy as usual)."""
    for layer in layers:
        kind = type(layer).__name__
        if kind in INFERENCE_IDENTITY:
            continue
        custom = override(layer, x) if override is not None else None
        if custom is not None:
            x = custom
        elif kind == "TimeDistributed":
            x = copy_layer(unwrap_time_distributed(layer), x, {"name": layer.name})
        else:
            x = copy_layer(layer, x)
    return x


def export_twin(model: keras.Model, batch: int | None = 1) -> keras.Model:
    """The offline export twin: input ``(batch, None, F)``, same outputs as ``model`` in eager
    mode, with no TimeDistributed and no Dropout. Metadata (``edge_asr``) is carried over."""
    features = model.inputs[0].shape[-1]
    inputs = keras.Input(batch_shape=(batch, None, features), name="the_input")
    twin = keras.Model(inputs, copy_chain(chain_layers(model), inputs), name=f"{model.name}_export")
    _carry_metadata(model, twin)
    return twin


def _carry_metadata(source: keras.Model, target: keras.Model) -> None:
    meta = getattr(source, "edge_asr", None)
    if meta is not None:
        target.edge_asr = meta
    length: Callable[[int], int] | None = getattr(source, "output_length", None)
    if length is not None:
        target.output_length = length
