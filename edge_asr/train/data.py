"""Training data: features computed once and cached in memory, and length-bucketed batches.

Features are extracted once per run by ``edge_asr.data.loading.load_set`` (the seed recomputed
them every epoch, which on 2 cores costs more than the model). On top of that loader's policy
(bad rows and bad audio skipped and counted), training also skips utterances too short for
their transcript under CTC: one broken file in a large corpus should not cost an hour.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_asr.batching import pad_features
from edge_asr.data.loading import LoadedSet
from runtime.text import text_to_int

TOO_SHORT = "too short for its transcript"


@dataclass
class Example:
    """One utterance ready for training: normalized features, label indices, its source."""

    features: np.ndarray  # (T, D) float16 or float32, normalized
    labels: np.ndarray  # (L,) int32
    path: str
    text: str  # normalized (what the labels spell)


def ctc_min_frames(labels: Sequence[int]) -> int:
    """Fewest output frames CTC needs for ``labels``: one each, plus a blank between repeats."""
    labels = list(labels)
    repeats = sum(1 for a, b in itertools.pairwise(labels) if a == b)
    return len(labels) + repeats


def fit_and_normalize(raw: list[np.ndarray], config: Any, dtype: Any = np.float16) -> Any:
    """Fit mean/std on ``raw`` (the training set) and normalize the list IN PLACE to ``dtype``.

    Returns the config with stats. In place so a few hours of float32 features are never held
    twice. The formula is the runtime's (``extract`` on a config with stats), so the device
    sees exactly what training saw.
    """
    from runtime.features import fit_stats

    mean, std = fit_stats(raw)
    stats_config = config.with_stats(mean, std)
    normalize_all(raw, stats_config, dtype)
    return stats_config


def normalize_all(features: list[np.ndarray], config: Any, dtype: Any = np.float32) -> None:
    """Apply the config's stats with the runtime's own function, IN PLACE, stored as ``dtype``."""
    from runtime.features import normalize

    for i, x in enumerate(features):
        features[i] = normalize(x, config).astype(dtype, copy=False)


def make_examples(
    loaded: LoadedSet, output_length: Callable[[int], int], name: str
) -> list[Example]:
    """Pair features with labels, skipping (into ``loaded.skipped``) utterances CTC cannot
    align: fewer model output frames than their labels need."""
    examples = []
    rows = zip(loaded.features, loaded.utterances, loaded.texts, loaded.lines, strict=True)
    for feats, utt, text, line in rows:
        labels = np.asarray(text_to_int(text), np.int32)
        outputs = output_length(len(feats))
        if outputs < ctc_min_frames(labels):
            detail = f"{utt.path}: {len(feats)} frames give {outputs} outputs for {len(labels)}"
            loaded.skipped.add(TOO_SHORT, f"{name} line {line}", detail + " labels")
            continue
        examples.append(Example(feats, labels, str(utt.path), text))
    return examples


# --- batching --------------------------------------------------------------------------------


def bucket_batches(
    lengths: Sequence[int],
    batch_size: int,
    rng: np.random.Generator,
    jitter: float = 0.1,
    shuffle: bool = True,
) -> list[np.ndarray]:
    """Index batches of similar lengths (little padding), in random order.

    Lengths are jittered by up to ``jitter`` (relative) before sorting so batch membership
    changes from epoch to epoch; ``shuffle=False`` keeps short-to-long order (SortaGrad).
    """
    lengths = np.asarray(lengths, np.float64)
    keys = lengths * (1.0 + jitter * rng.uniform(-1.0, 1.0, len(lengths)))
    order = np.argsort(keys, kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle:
        perm = rng.permutation(len(batches))
        batches = [batches[i] for i in perm]
    return batches


@dataclass
class Batch:
    """Zero-padded arrays for one step (features pad with 0 = the normalized mean)."""

    features: np.ndarray  # (B, T, D) float32
    labels: np.ndarray  # (B, L) int32
    output_lengths: np.ndarray  # (B,) int32 model frames per utterance
    label_lengths: np.ndarray  # (B,) int32


def pad_labels(labels: Sequence[np.ndarray]) -> np.ndarray:
    """Label sequences as one ``(B, max L)`` int32 array, zero-padded (at least one column)."""
    y = pad_features([np.asarray(lab, np.int32).reshape(-1, 1) for lab in labels], np.int32)
    return y[:, :, 0] if y.shape[1] else np.zeros((len(labels), 1), np.int32)


def pad_batch(
    features: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    output_length: Callable[[int], int],
) -> Batch:
    """Stack variable-length utterances into padded arrays with their true lengths."""
    out_len = np.array([output_length(len(f)) for f in features], np.int32)
    lab_len = np.array([len(lab) for lab in labels], np.int32)
    return Batch(pad_features(features), pad_labels(labels), out_len, lab_len)
