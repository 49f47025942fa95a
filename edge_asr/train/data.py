"""Training data: features computed once and cached in memory, and length-bucketed batches.

Features are extracted once per run (the seed recomputed them every epoch, which on 2 cores
costs more than the model). Bad rows (missing or unreadable audio, text with no valid symbol,
utterances too short for their transcript under CTC) are skipped and counted, never fatal:
one broken file in a large corpus should not cost an hour of training.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError
from runtime.text import text_to_int

# Skip reasons (the keys of ``Skipped.counts``).
MISSING_AUDIO = "missing audio"
BAD_AUDIO = "unreadable audio"
NO_TEXT = "no valid symbol in text"
TOO_SHORT = "too short for its transcript"

# Below this much audio, worker start-up costs more than it saves.
_PARALLEL_MIN_SECONDS = 600.0


@dataclass
class Example:
    """One utterance ready for training: normalized features, label indices, its source."""

    features: np.ndarray  # (T, D) float16 or float32, normalized
    labels: np.ndarray  # (L,) int32
    path: str
    text: str


@dataclass
class Skipped:
    """Utterances left out of a split, with why (reported in the log and a summary line)."""

    total: int = 0
    counts: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, reason: str, where: str) -> None:
        self.counts[reason] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{where}: {reason}")

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def summary(self, split: str) -> str:
        if not self.n:
            return f"{split}: all {self.total} utterances used"
        why = ", ".join(f"{n} {reason}" for reason, n in self.counts.most_common())
        return f"{split}: skipped {self.n} of {self.total} utterances ({why})"


def ctc_min_frames(labels: Sequence[int]) -> int:
    """Fewest output frames CTC needs for ``labels``: one each, plus a blank between repeats."""
    labels = list(labels)
    repeats = sum(1 for a, b in itertools.pairwise(labels) if a == b)
    return len(labels) + repeats


# --- feature extraction (worker processes) ---------------------------------------------------

_WORKER_CONFIG: Any = None


def _init_worker(config_json: str) -> None:
    global _WORKER_CONFIG
    from runtime.features import FeatureConfig

    _WORKER_CONFIG = FeatureConfig.from_json(config_json)


def _featurize(path: str) -> tuple[np.ndarray | None, str | None, str | None]:
    """Raw (unnormalized) float32 features of one file, or (None, reason, message)."""
    from edge_asr.data.audio import load_audio
    from runtime.features import extract_raw

    if not os.path.exists(path):
        return None, MISSING_AUDIO, f"{path}: no such file"
    try:
        samples = load_audio(path, _WORKER_CONFIG.sample_rate)
        feats = extract_raw(samples, _WORKER_CONFIG)
    except EdgeASRError as exc:
        return None, BAD_AUDIO, str(exc)
    except Exception as exc:  # a decoder failing on a corrupt file must not end the run
        return None, BAD_AUDIO, f"{path}: {type(exc).__name__}: {exc}"
    return np.asarray(feats, np.float32), None, None


def extract_all(
    paths: Sequence[str],
    config: Any,
    jobs: int = 2,
    total_seconds: float | None = None,
    on_done: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, np.ndarray | None, str | None, str | None]]:
    """Yield ``(index, raw features or None, skip reason, message)`` for every path, in order.

    Runs in ``jobs`` spawned processes when there is enough audio for it to pay (spawn, not
    fork: the parent may already hold TensorFlow's threads).
    """
    config_json = config.to_json()
    parallel = jobs > 1 and len(paths) > 1 and (total_seconds or 0) >= _PARALLEL_MIN_SECONDS
    if not parallel:
        _init_worker(config_json)
        for i, path in enumerate(paths):
            yield (i, *_featurize(path))
            if on_done:
                on_done(1)
        return
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        jobs, mp_context=ctx, initializer=_init_worker, initargs=(config_json,)
    ) as pool:
        for i, result in enumerate(pool.map(_featurize, paths, chunksize=16)):
            feats, reason, msg = result
            yield i, feats, reason, msg
            if on_done:
                on_done(1)


def fit_and_normalize(raw: list[np.ndarray], config: Any, dtype: Any = np.float16) -> Any:
    """Fit mean/std on ``raw`` (the training set) and normalize the list IN PLACE to ``dtype``.

    Returns the config with stats. In place so a few hours of float32 features are never held
    twice. The formula is the runtime's (``extract`` on a config with stats), so the device
    sees exactly what training saw.
    """
    from runtime.features import fit_stats

    mean, std = fit_stats(raw)
    stats_config = config.with_stats(mean, std)
    for i, x in enumerate(raw):
        raw[i] = normalize(x, stats_config, dtype)
    return stats_config


def normalize(raw: np.ndarray, config: Any, dtype: Any = np.float32) -> np.ndarray:
    """Apply the config's stats with the runtime's own function, stored as ``dtype``."""
    from runtime.features import normalize as runtime_normalize

    return runtime_normalize(raw, config).astype(dtype, copy=False)


def load_split(
    utterances: Sequence[Any],
    config: Any,
    split: str,
    jobs: int = 2,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[np.ndarray], list[Any], Skipped]:
    """Raw features and the kept utterances of one split; skips bad audio and empty labels."""
    skipped = Skipped(total=len(utterances))
    keep = []
    for utt in utterances:
        if not text_to_int(utt.text):
            skipped.add(NO_TEXT, str(utt.path))
        else:
            keep.append(utt)
    total_seconds = sum(float(u.duration or 0.0) for u in keep)
    raw: list[np.ndarray] = []
    kept: list[Any] = []
    paths = [str(u.path) for u in keep]
    for i, feats, reason, msg in extract_all(paths, config, jobs, total_seconds, progress):
        if feats is None:
            skipped.add(reason or BAD_AUDIO, msg or paths[i])
            warnings.warn(f"{split}: skipping {msg}", stacklevel=2)
            continue
        raw.append(feats)
        kept.append(keep[i])
    return raw, kept, skipped


def make_examples(
    features: Sequence[np.ndarray],
    utterances: Sequence[Any],
    output_length: Callable[[int], int],
    skipped: Skipped,
    split: str,
) -> list[Example]:
    """Pair features with labels, dropping utterances CTC cannot align (too few output frames)."""
    examples = []
    for feats, utt in zip(features, utterances, strict=True):
        labels = np.asarray(text_to_int(utt.text), np.int32)
        if output_length(len(feats)) < ctc_min_frames(labels):
            skipped.add(TOO_SHORT, str(utt.path))
            warnings.warn(
                f"{split}: skipping {utt.path}: {len(feats)} frames give "
                f"{output_length(len(feats))} outputs for {len(labels)} labels",
                stacklevel=2,
            )
            continue
        examples.append(Example(feats, labels, str(utt.path), utt.text))
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


def pad_batch(
    features: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    output_length: Callable[[int], int],
) -> Batch:
    """Stack variable-length utterances into padded arrays with their true lengths."""
    n = len(features)
    longest = max(len(f) for f in features)
    dim = features[0].shape[1]
    x = np.zeros((n, longest, dim), np.float32)
    y = np.zeros((n, max(1, max(len(lab) for lab in labels))), np.int32)
    for i, (f, lab) in enumerate(zip(features, labels, strict=True)):
        x[i, : len(f)] = f
        y[i, : len(lab)] = lab
    out_len = np.array([output_length(len(f)) for f in features], np.int32)
    lab_len = np.array([len(lab) for lab in labels], np.int32)
    return Batch(x, y, out_len, lab_len)
