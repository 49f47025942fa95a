"""Run a Keras acoustic model on utterances of any length: the one Keras-side path behind
training validation, ``edge-asr evaluate``, ``edge-asr validate`` and the converters' gate.

Each utterance's posteriors are exactly what the model gives that utterance alone. Batching
pads with zero frames at the end, which is exact only for causal models (every layer looks
back only, and BatchNorm in inference mode is per frame): ``model.meta.streamable`` says so.
Other models (bidirectional RNNs, strided 'same' convolutions) run one utterance at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from edge_asr.batching import length_sorted_groups, pad_features
from runtime.formats import Labels


def _forward(model: Any, eager: bool) -> Callable[[np.ndarray], Any]:
    """A callable features (B, T, D) -> posteriors (B, T', C).

    ``eager``: the model itself, eagerly (the gate's truth: nothing traced). Otherwise one
    ``tf.function`` over the inference twin (``edge_asr.models.twin``), traced once for all
    shapes and cached on the model."""
    if eager:
        return lambda x: model(x, training=False)
    cached = getattr(model, "_edge_asr_forward", None)
    if cached is not None:
        return cached
    import tensorflow as tf

    from edge_asr.models.twin import inference_twin

    dim = int(model.inputs[0].shape[-1])
    spec = tf.TensorSpec((None, None, dim), tf.float32)
    twin, _ = inference_twin(model)
    fn = tf.function(lambda x: twin(x, training=False), input_signature=[spec])
    model._edge_asr_forward = fn
    return fn


def keras_posteriors(
    model: Any,
    features_list: Sequence[np.ndarray],
    batch_size: int = 1,
    eager: bool = False,
) -> list[np.ndarray]:
    """Per-frame softmax posteriors ``(output_length(T), C)`` float32 for each ``(T, D)`` input.

    ``batch_size > 1`` groups length-sorted utterances into zero-padded batches when the model
    is causal (exact, see the module doc) and runs one utterance per call otherwise. ``eager``
    calls the model eagerly instead of through one traced ``tf.function`` (same numbers; the
    gate's reference, since a traced graph is what the artifacts are checked *against*).
    Inputs too short for the convolution front end give no frames (the model is not run).
    """
    meta = getattr(model, "meta", None)
    if not (meta is not None and meta.streamable):
        batch_size = 1
    forward = _forward(model, eager)
    classes = int(model.outputs[0].shape[-1])
    out: list[np.ndarray] = [np.zeros((0, classes), np.float32)] * len(features_list)
    runnable = [i for i, f in enumerate(features_list) if model.output_length(len(f)) > 0]
    lengths = [len(features_list[i]) for i in runnable]
    for group in length_sorted_groups(lengths, batch_size):
        idx = [runnable[g] for g in group]
        probs = np.asarray(forward(pad_features([features_list[i] for i in idx])), np.float32)
        for row, i in enumerate(idx):
            out[i] = probs[row, : model.output_length(len(features_list[i]))]
    return out


def greedy_texts(posteriors: Sequence[np.ndarray], labels: Labels | None = None) -> list[str]:
    """Best-path (greedy CTC) transcripts of per-utterance posteriors, spelled with the
    model's ``labels`` (default: the 29-symbol alphabet)."""
    from runtime.decoding import greedy_decode, to_log_probs

    spell = (labels or Labels.default()).text
    return [spell(greedy_decode(to_log_probs(p))) for p in posteriors]
