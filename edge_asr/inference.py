"""Run a Keras acoustic model on utterances of any length: the reference the converters' parity
gate compares every artifact against, and what validation and ``edge-asr evaluate`` decode.

Each utterance's posteriors are exactly what the model gives that utterance alone. Batching
pads with zero frames at the end, which is exact only for causal models (every layer looks
back only, and BatchNorm in inference mode is per frame): ``model.edge_asr["streamable"]``
says so. Other models (bidirectional RNNs, strided 'same' convolutions) run one utterance at a
time.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError
from runtime.text import int_to_text


def graph_model(model: Any, logits: bool = False) -> tuple[Any, bool]:
    """A twin of ``model`` sharing its weight objects, safe to trace with an unknown time axis:
    each ``TimeDistributed(layer)`` is replaced by ``layer`` itself. With ``logits=True`` it
    stops before the final softmax. Returns (model, True if it gives pre-softmax logits).

    Why: Keras 3.15's ``TimeDistributed`` maps over ``range(batch)`` instead of ``range(time)``
    when the time axis is unknown at trace time (``time_distributed.py`` takes
    ``arange(input_shape[0])`` before its transpose), so a ``tf.function`` over
    ``(None, None, D)`` silently returns ``batch`` frames. Dense (the only wrapped layer in the
    builders) already acts on the last axis of a 3-D tensor, so calling it directly is exact.
    A model that is not a plain chain is returned as is (no logits).
    """
    import keras

    from edge_asr.models.chain import NotAChainError, chain_layers

    try:
        chain = chain_layers(model)
    except NotAChainError:
        return model, False
    has_logits = logits and chain[-1].name == "softmax"
    if has_logits:
        chain = chain[:-1]
    x = inputs = keras.Input(shape=tuple(model.inputs[0].shape[1:]), name="the_input")
    for layer in chain:
        x = (layer.layer if isinstance(layer, keras.layers.TimeDistributed) else layer)(x)
    return keras.Model(inputs, x, name=f"{model.name}_graph"), has_logits


def _forward(model: Any, eager: bool) -> Any:
    """A callable features (B, T, D) -> posteriors (B, T', C), traced once for all shapes."""
    if eager:
        return lambda x: model(x, training=False)
    cached = getattr(model, "_edge_asr_forward", None)
    if cached is not None:
        return cached
    import tensorflow as tf

    dim = int(model.inputs[0].shape[-1])
    spec = tf.TensorSpec((None, None, dim), tf.float32)
    twin, _ = graph_model(model)
    fn = tf.function(lambda x: twin(x, training=False), input_signature=[spec])
    model._edge_asr_forward = fn
    return fn


def keras_posteriors(
    model: Any,
    features_list: Sequence[np.ndarray],
    batch_size: int = 1,
    eager: bool = False,
) -> list[np.ndarray]:
    """Per-frame softmax posteriors ``(output_length(T), 29)`` float32 for each ``(T, D)`` input.

    ``batch_size > 1`` groups length-sorted utterances into zero-padded batches when the model
    is causal (exact, see the module doc) and falls back to one utterance per call otherwise.
    ``eager=True`` calls the model eagerly instead of through one traced ``tf.function`` (same
    numbers, slower).
    """
    causal = bool(getattr(model, "edge_asr", {}).get("streamable", False))
    if not causal:
        batch_size = 1
    forward = _forward(model, eager)
    out: list[np.ndarray | None] = [None] * len(features_list)
    classes = int(model.outputs[0].shape[-1])
    runnable = []
    for i, feats in enumerate(features_list):
        if model.output_length(len(feats)) > 0:
            runnable.append(i)
        else:  # too short for the convolution: no frames, nothing to run
            out[i] = np.zeros((0, classes), np.float32)
    order = sorted(runnable, key=lambda i: len(features_list[i]))
    for start in range(0, len(order), max(1, batch_size)):
        idx = order[start : start + max(1, batch_size)]
        longest = max(len(features_list[i]) for i in idx)
        dim = features_list[idx[0]].shape[1]
        batch = np.zeros((len(idx), longest, dim), np.float32)
        for row, i in enumerate(idx):
            batch[row, : len(features_list[i])] = features_list[i]
        probs = np.asarray(forward(batch), dtype=np.float32)
        for row, i in enumerate(idx):
            n = model.output_length(len(features_list[i]))
            out[i] = probs[row, :n]
    return out  # type: ignore[return-value]


def greedy_texts(posteriors: Sequence[np.ndarray]) -> list[str]:
    """Best-path (greedy CTC) transcripts of per-utterance posteriors."""
    from runtime.decoding import greedy_decode, to_log_probs

    return [int_to_text(greedy_decode(to_log_probs(p))) for p in posteriors]


def load_model_dir(model_dir: str | Path) -> tuple[Any, Any]:
    """(Keras model with ``output_length``, FeatureConfig with stats) of a model directory."""
    from edge_asr.models import load_model
    from runtime.features import FeatureConfig

    folder = Path(model_dir)
    if not folder.is_dir():
        raise EdgeASRError(f"{folder}: no such model directory")
    try:
        features = FeatureConfig.from_json((folder / "features.json").read_text())
    except FileNotFoundError:
        raise EdgeASRError(f"{folder}: no features.json (not a trained model directory)") from None
    return load_model(folder / "model.keras"), features
