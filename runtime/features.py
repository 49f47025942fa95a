"""Acoustic features: ONE implementation shared by training and the device.

Two kinds, each bit-compatible with the reference the seed models were trained on:

* ``spectrogram``: the seed project's log power spectrogram (udacity AIND-VUI-Capstone
  ``utils.spectrogram_from_file``): Hann window of ``window_ms`` (20 ms), hop ``step_ms``, bins up
  to ``max_freq`` (161 at 16 kHz), ``log(pxx + 1e-14)``. The trailing partial window is dropped, so
  audio shorter than one window gives 0 frames.
* ``mfcc``: ``python_speech_features.mfcc(signal, samplerate)`` with its defaults (rectangular
  25 ms frames, 512-point FFT, 26 mel filters, 13 cepstra, lifter 22, log energy in c0). Like psf
  the last partial frame is zero-padded (at least one frame for non-empty audio); empty audio gives
  0 frames where psf would crash.

``extract`` computes a whole utterance; ``FeatureStream`` computes the same frames incrementally
(any chunking gives the same frames, tested to 1e-5), so a streaming device sees the features the
model was trained on. Computation is float64 inside, float32 out.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np

from runtime.feature_config import EPS, FeatureConfig, FeatureConfigError

__all__ = [
    "EPS",
    "FeatureConfig",
    "FeatureConfigError",
    "FeatureStream",
    "extract",
    "extract_raw",
    "fit_stats",
    "normalize",
]

_BLOCK = 2048  # frames per FFT batch: bounds memory on long audio and keeps data in cache


# -------------------------------------------------------------------- per-kind frame math
@lru_cache(maxsize=16)
def _spectrogram_consts(window: int, sample_rate: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Hann window and per-bin scale exactly as the seed (one-sided PSD scaling)."""
    win = np.hanning(window)
    scale = np.sum(win**2) * sample_rate
    bin_scale = np.full(window // 2 + 1, 2.0 / scale)
    bin_scale[0] = 1.0 / scale
    bin_scale[-1] = 1.0 / scale  # the seed treats the last rfft bin as Nyquist even for odd n
    win.setflags(write=False)
    out = bin_scale[:dim].copy()
    out.setflags(write=False)
    return win, out


def _mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595 * np.log10(1 + np.asarray(hz) / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700 * (10 ** (mel / 2595.0) - 1)


@lru_cache(maxsize=16)
def _mfcc_consts(
    n_fft: int, sample_rate: int, n_filters: int, n_mfcc: int, ceplifter: float
) -> tuple[np.ndarray, np.ndarray]:
    """psf's triangular mel filterbank (plus an all-ones column for frame energy) and the
    orthonormal DCT-II rows with the lifter folded in."""
    highfreq = sample_rate / 2
    melpoints = np.linspace(_mel(0), _mel(highfreq), n_filters + 2)
    bins = np.floor((n_fft + 1) * _mel_to_hz(melpoints) / sample_rate)
    fb = np.zeros((n_filters, n_fft // 2 + 1))
    for j in range(n_filters):
        lo, mid, hi = int(bins[j]), int(bins[j + 1]), int(bins[j + 2])
        for i in range(lo, mid):
            fb[j, i] = (i - bins[j]) / (bins[j + 1] - bins[j])
        for i in range(mid, hi):
            fb[j, i] = (bins[j + 2] - i) / (bins[j + 2] - bins[j + 1])
    fb_energy = np.concatenate([fb.T, np.ones((n_fft // 2 + 1, 1))], axis=1) / n_fft
    n = np.arange(n_filters)
    k = np.arange(n_mfcc)[:, None]
    dct = np.sqrt(2.0 / n_filters) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_filters))
    dct[0] *= np.sqrt(0.5)
    if ceplifter > 0:
        lift = 1 + (ceplifter / 2.0) * np.sin(np.pi * np.arange(n_mfcc) / ceplifter)
        dct *= lift[:, None]
    dct_t = np.ascontiguousarray(dct.T)
    fb_energy.setflags(write=False)
    dct_t.setflags(write=False)
    return fb_energy, dct_t


def _frames_view(x: np.ndarray, window: int, step: int, n: int) -> np.ndarray:
    """(n, window) read-only strided view of frames starting every ``step`` samples."""
    return np.lib.stride_tricks.as_strided(
        x, shape=(n, window), strides=(x.strides[0] * step, x.strides[0]), writeable=False
    )


def _compute_frames(x: np.ndarray, n: int, config: FeatureConfig) -> np.ndarray:
    """Raw (unnormalized) float64 features of the first ``n`` frames of ``x``.

    ``x`` holds at least ``(n - 1) * step + window`` samples (already pre-emphasized for MFCC).
    """
    window, step, dim = config.window, config.step, config.dim
    out = np.empty((n, dim), dtype=np.float64)
    if n == 0:
        return out
    x = np.ascontiguousarray(x, dtype=np.float64)
    if config.kind == "spectrogram":
        win, bin_scale = _spectrogram_consts(window, config.sample_rate, dim)
        for start in range(0, n, _BLOCK):
            stop = min(n, start + _BLOCK)
            frames = _frames_view(x[start * step :], window, step, stop - start) * win
            spec = np.fft.rfft(frames, axis=1)[:, :dim]
            power = spec.real**2 + spec.imag**2
            power *= bin_scale
            power += EPS
            np.log(power, out=out[start:stop])
        return out
    fb_energy, dct_t = _mfcc_consts(
        config.n_fft, config.sample_rate, config.n_filters, config.n_mfcc, config.ceplifter
    )
    tiny = np.finfo(float).eps
    padded = np.zeros((min(n, _BLOCK), config.n_fft))  # zero tail = psf's FFT padding
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        # Copying frames into a contiguous zero-padded buffer makes the FFT ~2x faster than
        # rfft(n=n_fft) on the strided view.
        buf = padded[: stop - start]
        buf[:, :window] = _frames_view(x[start * step :], window, step, stop - start)
        spec = np.fft.rfft(buf, axis=1)
        power = spec.real**2 + spec.imag**2
        mel_energy = power @ fb_energy  # (frames, n_filters + 1): filterbank, then total energy
        mel_energy[mel_energy == 0] = tiny
        np.log(mel_energy, out=mel_energy)
        out[start:stop] = mel_energy[:, :-1] @ dct_t
        if config.append_energy:
            out[start:stop, 0] = mel_energy[:, -1]
    return out


def _as_signal(samples: Any) -> np.ndarray:
    try:
        x = np.asarray(samples, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FeatureConfigError("audio samples must be a 1-D array of numbers") from exc
    if x.ndim != 1:
        raise FeatureConfigError(f"audio samples must be 1-D (mono), got shape {x.shape}")
    return x


def _preemphasize(x: np.ndarray, coeff: float, previous: float | None) -> np.ndarray:
    """y[n] = x[n] - coeff * x[n-1]; y[0] = x[0] for the first sample of an utterance."""
    if coeff == 0 or len(x) == 0:
        return x
    y = np.empty_like(x)
    y[1:] = x[1:] - coeff * x[:-1]
    y[0] = x[0] if previous is None else x[0] - coeff * previous
    return y


def _stats(config: FeatureConfig) -> tuple[np.ndarray, np.ndarray] | None:
    if config.mean is None:
        return None
    return np.asarray(config.mean, dtype=np.float64), np.asarray(config.std, dtype=np.float64) + EPS


def _normalize(features: np.ndarray, stats: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    if stats is not None:
        features = (features - stats[0]) / stats[1]
    return features.astype(np.float32)


def normalize(features: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Apply the config's stats (if any), ``(x - mean) / (std + 1e-14)``, and return float32."""
    return _normalize(np.asarray(features, dtype=np.float64), _stats(config))


def extract_raw(samples: Any, config: FeatureConfig) -> np.ndarray:
    """Unnormalized features, (T, dim) float64. Used to fit the normalization stats."""
    x = _as_signal(samples)
    n = config.num_frames(len(x))
    if config.kind == "mfcc" and n:
        x = _preemphasize(x, config.preemphasis, None)
        needed = (n - 1) * config.step + config.window
        if needed > len(x):  # psf zero-pads the last partial frame
            x = np.concatenate([x, np.zeros(needed - len(x))])
    return _compute_frames(x, n, config)


def extract(samples: Any, config: FeatureConfig) -> np.ndarray:
    """Features of one utterance, (T, dim) float32, normalized when the config holds stats."""
    return normalize(extract_raw(samples, config), config)


def fit_stats(feature_arrays: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and (population) std over all frames, one array at a time.

    Merges per-array moments with Chan's parallel update in float64, so a generator over the
    training set is consumed once and never held in memory.
    """
    count = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None
    for arr in feature_arrays:
        a = np.asarray(arr, dtype=np.float64)
        if a.ndim != 2:
            raise FeatureConfigError(f"feature arrays must be (frames, dim), got shape {a.shape}")
        if mean is not None and a.shape[1] != mean.shape[0]:
            raise FeatureConfigError(
                f"feature arrays differ in dim: {a.shape[1]} vs {mean.shape[0]}"
            )
        n_b = a.shape[0]
        if n_b == 0:
            if mean is None:
                mean, m2 = np.zeros(a.shape[1]), np.zeros(a.shape[1])
            continue
        mean_b = a.mean(axis=0)
        m2_b = ((a - mean_b) ** 2).sum(axis=0)
        if mean is None or count == 0:
            count, mean, m2 = n_b, mean_b, m2_b
            continue
        total = count + n_b
        delta = mean_b - mean
        mean = mean + delta * (n_b / total)
        m2 = m2 + m2_b + delta**2 * (count * n_b / total)
        count = total
    if mean is None or m2 is None or count == 0:
        raise FeatureConfigError("cannot fit feature statistics: no frames")
    return mean, np.sqrt(m2 / count)


class FeatureStream:
    """Incremental ``extract``: push audio chunks of any size, get the frames they complete.

    Keeps only the samples of the next, unfinished frame (less than one window plus one hop) and
    the last raw sample for pre-emphasis, so each push costs O(new samples). ``flush`` ends the
    utterance (MFCC: the zero-padded last frame) and resets the stream for the next one.
    """

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self._norm = _stats(config)
        self.reset()

    def reset(self) -> None:
        self._buffer = np.zeros(0, dtype=np.float64)
        self._previous: float | None = None  # last raw sample, for pre-emphasis
        self._samples = 0
        self._frames = 0

    @property
    def frames_emitted(self) -> int:
        return self._frames

    @property
    def samples_seen(self) -> int:
        return self._samples

    def push(self, samples: Any) -> np.ndarray:
        """Add samples; return the (n, dim) float32 frames they complete (n may be 0)."""
        cfg = self.config
        x = _as_signal(samples)
        if len(x) == 0:
            return np.zeros((0, cfg.dim), dtype=np.float32)
        if cfg.kind == "mfcc":
            y = _preemphasize(x, cfg.preemphasis, self._previous)
            self._previous = float(x[-1])
        else:
            y = x
        self._samples += len(x)
        buf = np.concatenate([self._buffer, y]) if len(self._buffer) else y
        n = 0 if len(buf) < cfg.window else (len(buf) - cfg.window) // cfg.step + 1
        feats = _compute_frames(buf, n, cfg)
        self._buffer = buf[n * cfg.step :].copy()
        self._frames += n
        return _normalize(feats, self._norm)

    def flush(self) -> np.ndarray:
        """End the utterance: return the remaining frames and reset."""
        cfg = self.config
        n = cfg.num_frames(self._samples) - self._frames
        buf = self._buffer
        if n > 0:
            needed = (n - 1) * cfg.step + cfg.window
            buf = np.concatenate([buf, np.zeros(max(0, needed - len(buf)))])
        feats = _compute_frames(buf, max(n, 0), cfg)
        self.reset()
        return _normalize(feats, self._norm)
