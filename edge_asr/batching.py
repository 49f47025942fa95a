"""Zero-padded batches of variable-length utterances: one helper for training, validation,
``edge-asr evaluate`` and the converters' Keras reference.

Padding is at the end with zeros (the normalized mean). For a causal model (every layer looks
back only; BatchNorm in inference mode is per frame) the first ``output_length(T)`` outputs of
a padded row equal those of the utterance alone, which is what makes batching exact there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


def pad_features(features: Sequence[np.ndarray], dtype: type = np.float32) -> np.ndarray:
    """Stack ``(T_i, D)`` arrays into one ``(B, max T_i, D)`` array, zero-padded at the end."""
    if not features:
        raise ValueError("no utterances to batch")
    longest = max(len(f) for f in features)
    batch = np.zeros((len(features), longest, features[0].shape[-1]), dtype)
    for row, feats in enumerate(features):
        batch[row, : len(feats)] = feats
    return batch


def length_sorted_groups(lengths: Sequence[int], size: int) -> Iterator[list[int]]:
    """Indices in groups of at most ``size``, shortest first (little padding per group)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    size = max(1, size)
    for start in range(0, len(order), size):
        yield order[start : start + size]
