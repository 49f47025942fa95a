"""The one inference twin of a chain model: the same layers (shared) or copies of them, without
TimeDistributed or Dropout, safe to trace with an unknown time axis (see
``chain.inference_layer`` for why). Training, ``keras_posteriors`` and every exporter use it.

``copy=False`` shares the weight objects (training steps through it update the model);
``copy=True`` re-creates each layer from its config with the original weights, so exports
(which may rewrite layers, e.g. the streaming twin's unrolled RNNs) never add call sites to the
source model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from edge_asr.models.chain import inference_layers

#: ``override(layer, x)`` returns the output for a layer it handles itself, or None.
Override = Callable[[keras.layers.Layer, Any], Any]


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


def apply_chain(
    model: keras.Model,
    x: Any,
    copy: bool,
    override: Override | None = None,
    stop_before_softmax: bool = False,
) -> Any:
    """Call the model's inference layers on ``x`` in order (shared or copied)."""
    layers = inference_layers(model)
    if stop_before_softmax and layers and layers[-1].name == "softmax":
        layers = layers[:-1]
    for layer in layers:
        custom = override(layer, x) if override is not None else None
        if custom is None:
            custom = copy_layer(layer, x) if copy else layer(x)
        x = custom
    return x


def inference_twin(
    model: keras.Model,
    *,
    copy: bool = False,
    batch: int | None = None,
    logits: bool = False,
    name: str = "twin",
) -> tuple[keras.Model, bool]:
    """(twin with input ``the_input (batch, None, F)``, True if it gives pre-softmax logits).

    ``logits=True`` stops before a final layer named "softmax" (every builder ends in one;
    CTC wants logits). Metadata (``edge_asr``, ``output_length``) is carried over."""
    features = model.inputs[0].shape[-1]
    inputs = keras.Input(batch_shape=(batch, None, features), name="the_input")
    has_logits = logits and inference_layers(model)[-1].name == "softmax"
    out = apply_chain(model, inputs, copy, stop_before_softmax=has_logits)
    twin = keras.Model(inputs, out, name=f"{model.name}_{name}")
    carry_metadata(model, twin)
    return twin, has_logits


def carry_metadata(source: keras.Model, target: keras.Model) -> None:
    for attr in ("edge_asr", "output_length"):
        value = getattr(source, attr, None)
        if value is not None:
            setattr(target, attr, value)
