"""Training data: examples backed by the disk feature cache, and length-bucketed batches.

Features are extracted once into ``edge_asr.train.feature_cache`` (the seed recomputed them
every epoch, which on 2 cores costs more than the model) and read back per batch, so memory
does not grow with the corpus. On top of the loader's policy (bad rows and bad audio skipped
and counted), training also skips utterances too short for their transcript under CTC: one
broken file in a large corpus should not cost an hour.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_asr.batching import pad_features
from runtime.text import text_to_int

TOO_SHORT = "too short for its transcript"


@dataclass
class Example:
    """One utterance ready for training: its labels and where its normalized features lie.

    ``features`` maps them from the cache on every access (cheap), so a list of examples
    holds no feature data.
    """

    source: Any  # edge_asr.train.feature_cache.FeatureSet
    item: int  # index in ``source``
    length: int  # feature frames
    labels: np.ndarray  # (L,) int32
    path: str
    text: str  # normalized (what the labels spell)
    line: int  # manifest line

    @property
    def features(self) -> np.ndarray:
        """(T, D) normalized features, a view of a memory map."""
        return self.source.features(self.item)


def ctc_min_frames(labels: Sequence[int]) -> int:
    """Fewest output frames CTC needs for ``labels``: one each, plus a blank between repeats."""
    labels = list(labels)
    repeats = sum(1 for a, b in itertools.pairwise(labels) if a == b)
    return len(labels) + repeats


def make_examples(source: Any, output_length: Callable[[int], int], name: str) -> list[Example]:
    """Pair a FeatureSet's features with labels, skipping (into ``source.skipped``) utterances
    CTC cannot align: fewer model output frames than their labels need. Reads no features."""
    examples = []
    rows = zip(source.lengths, source.utterances, source.texts, source.lines, strict=True)
    for item, (frames, utt, text, line) in enumerate(rows):
        labels = np.asarray(text_to_int(text), np.int32)
        outputs = output_length(int(frames))
        if outputs < ctc_min_frames(labels):
            detail = f"{utt.path}: {frames} frames give {outputs} outputs for {len(labels)}"
            source.skipped.add(TOO_SHORT, f"{name} line {line}", detail + " labels")
            continue
        examples.append(Example(source, item, int(frames), labels, str(utt.path), text, line))
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
