"""SpecAugment-style augmentation on cached features (training only, never validation).

Overfitting is the wall on synthetic corpora (the model memorizes a few hours of espeak within
minutes), and masking/warping the cached features gives fresh-looking inputs every epoch at
almost no cost, without recomputing features from audio. Features are normalized, so a masked
region is set to 0 = the training mean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """How hard to augment. Widths are maxima; each mask's width is uniform in [0, max].

    The defaults are deliberately light: in a 20-minute budget on a few hours of audio,
    heavier masking (2 frequency masks, 1 time mask/s of up to 120 ms) cost ~2 CER points at
    5 minutes and the run ends before it pays back.
    """

    freq_masks: int = 1
    freq_width: float = 0.15  # fraction of the feature dimension per mask
    time_masks_per_second: float = 0.5  # at 100 feature frames a second
    time_width: int = 8  # frames (80 ms): part of a phone
    max_time_fraction: float = 0.2  # never mask more than this share of an utterance
    stretch: float = 0.1  # speed change in [1 - stretch, 1 + stretch] by frame resampling

    def to_dict(self) -> dict:
        return asdict(self)


NO_AUGMENT = AugmentConfig(0, 0.0, 0.0, 0, 0.0, 0.0)


def time_stretch(feats: np.ndarray, rate: float) -> np.ndarray:
    """Resample frames linearly: ``rate`` > 1 is faster speech (fewer frames)."""
    n = len(feats)
    m = max(1, round(n / rate))
    if m == n or n < 2:
        return feats
    pos = np.linspace(0.0, n - 1.0, m)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    w = (pos - lo).astype(np.float32)[:, None]
    return feats[lo] * (1.0 - w) + feats[hi] * w


def augment(
    feats: np.ndarray,
    rng: np.random.Generator,
    config: AugmentConfig,
    min_outputs: int = 0,
    output_length: Callable[[int], int] | None = None,
) -> np.ndarray:
    """A randomly stretched and masked float32 copy of ``feats`` (T, D).

    A stretch that would leave fewer than ``min_outputs`` model frames (CTC infeasible) is
    not applied.
    """
    x = np.array(feats, dtype=np.float32)
    if config.stretch > 0:
        rate = float(rng.uniform(1.0 - config.stretch, 1.0 + config.stretch))
        stretched = time_stretch(x, rate)
        if output_length is None or output_length(len(stretched)) >= min_outputs:
            x = stretched
    n, dim = x.shape
    width = int(config.freq_width * dim)
    if width > 0:
        for _ in range(config.freq_masks):
            w = int(rng.integers(0, width + 1))
            f0 = int(rng.integers(0, dim - w + 1))
            x[:, f0 : f0 + w] = 0.0
    if config.time_width > 0 and config.time_masks_per_second > 0 and n > 1:
        budget = int(config.max_time_fraction * n)
        count = int(rng.poisson(config.time_masks_per_second * n / 100.0))
        for _ in range(count):
            w = min(int(rng.integers(0, config.time_width + 1)), budget)
            if w <= 0:
                break
            t0 = int(rng.integers(0, n - w + 1))
            x[t0 : t0 + w] = 0.0
            budget -= w
    return x
