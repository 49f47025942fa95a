"""Acoustic realism for synthetic speech: rooms, microphones, channels, codecs, noise, speakers.

Models trained on clean synthetic speech fail on real recordings, which are reverberant, noisy,
band-limited, coloured by a microphone, compressed and sometimes clipped. ``degrade`` bakes a
random but seeded mix of those into each corpus utterance, in physical order::

    speaker (speed, pitch, formants) -> room -> noise -> mic EQ and band -> codec -> gain/clip

and returns a small JSON-able dict of what it applied (it goes into the manifest row).
``speaker_transform`` is callable on its own: it turns one neural voice into many.

Everything is numpy (no scipy: the project does not depend on it); resampling is
``runtime.audio.resample``. Every random choice comes from the caller's ``np.random.Generator``,
so the same input and seed give bitwise the same output, for a given BLAS thread count: the
resampler's float32 matrix products (speed, pitch, 8 kHz, mu-law) round differently on 1 and 2
OpenBLAS threads; corpus workers pin one. Everything else here is FFTs and elementwise numpy.
Bump ``AUGMENT_VERSION`` on any change of the output: corpus caches key on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from fractions import Fraction
from typing import Any

import numpy as np

from runtime.audio import resample
from runtime.errors import EdgeASRError

__all__ = [
    "AUGMENT_VERSION",
    "BANDS",
    "CODECS",
    "NOISE_KINDS",
    "AcousticsError",
    "BabbleSource",
    "EqBand",
    "EqCurve",
    "Realism",
    "active_power",
    "babble_noise",
    "band_limit",
    "clip",
    "colored_noise",
    "degrade",
    "equalize",
    "estimate_rt60",
    "formant_shift",
    "gain",
    "hum",
    "mix_at_snr",
    "mu_law",
    "narrowband",
    "pitch_shift",
    "random_eq",
    "reverberate",
    "room_impulse_response",
    "set_level",
    "speaker_transform",
    "speed_perturb",
    "time_stretch",
    "transform_codec",
]

#: Bump on any change of what ``degrade`` / ``speaker_transform`` output for a given seed.
AUGMENT_VERSION = 1

#: Microphone/channel bandwidths (Hz); "8k" is a round trip through an 8 kHz resampler instead.
BANDS = {"telephone": (300.0, 3400.0), "laptop": (100.0, 7000.0)}
BAND_KINDS = ("telephone", "laptop", "8k")
NOISE_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
NOISE_KINDS = ("white", "pink", "brown", "babble", "hum")
CODECS = ("mulaw", "transform")

#: Returns one other utterance (float samples at the same rate) each call; babble mixes several.
BabbleSource = Callable[[np.random.Generator], np.ndarray]

_LN10_20 = math.log(10.0) / 20.0
_NOMINAL_DB = -24.0  # line level the channel and codec see (speech peaks stay below full scale)
_PEAK = 0.98  # final peak guard, as the corpus always did


class AcousticsError(EdgeASRError):
    """Bad arguments to an acoustic transform (range, shape, rate)."""


# ------------------------------------------------------------------------------- helpers
def _audio(x: np.ndarray, name: str = "audio") -> np.ndarray:
    """``x`` as finite 1-D float64 (a copy where the dtype changes)."""
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise AcousticsError(f"{name} must be 1-D (mono) samples, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise AcousticsError(f"{name} contains NaN or Inf samples")
    return a


def _rate(rate: int) -> int:
    if int(rate) != rate or rate < 1000:
        raise AcousticsError(f"sample rate must be an integer of at least 1000 Hz, got {rate!r}")
    return int(rate)


def _pow2(n: int) -> int:
    """The smallest power of two >= n (pocketfft is fastest there)."""
    return 1 << max(int(n) - 1, 1).bit_length()


def _range(value: tuple[float, float], name: str) -> None:
    lo, hi = value
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise AcousticsError(f"{name} must be (low, high) with low <= high, got {value!r}")


def _ratio(factor: float, what: str, limit: int = 400) -> Fraction:
    """``factor`` as a small fraction: the resampler's polyphase matrix is ``up x taps`` and is
    cached per ratio, so denominators stay bounded (400: error < 1e-5, 0.0001 semitone)."""
    if not (math.isfinite(factor) and 0.25 <= factor <= 4.0):
        raise AcousticsError(f"{what} must be in [0.25, 4], got {factor!r}")
    return Fraction(factor).limit_denominator(limit)


def _fft_filter(x: np.ndarray, rate: int, gain_of: Callable[[np.ndarray], np.ndarray]):
    """Zero-phase filtering by one FFT of the whole (zero-padded) signal: ``gain_of(freqs)`` is
    the linear magnitude. No delay, so transcript timing is kept; the padding (>= 4096 samples)
    takes the ringing of smooth curves instead of wrapping it onto the start."""
    size = _pow2(len(x) + 4096)
    spectrum = np.fft.rfft(x, size)
    spectrum *= gain_of(np.fft.rfftfreq(size, 1.0 / rate))
    return np.fft.irfft(spectrum, size)[: len(x)]


def _r(v: float, digits: int = 3) -> float:
    return round(float(v), digits)


# ------------------------------------------------------------------------------- rooms
def room_impulse_response(
    rt60: float, rate: int, rng: np.random.Generator, *, drr_db: float = 5.0, reflections: int = 8
) -> np.ndarray:
    """A synthetic room: a unit direct path at sample 0, a few early reflections, and a diffuse
    tail of Gaussian noise decaying by 60 dB over ``rt60`` seconds.

    ``drr_db`` is the direct-to-reverberant energy ratio (about +10 dB close to the mic, 0 or
    below across a room). Image-source rooms are slower and, for ASR augmentation, no better
    than this statistical model (Kaldi/ESPnet recipes use the same idea). The response lasts
    ``rt60`` (it has decayed 60 dB by then).
    """
    rate = _rate(rate)
    if not (math.isfinite(rt60) and 0.05 <= rt60 <= 3.0):
        raise AcousticsError(f"rt60 must be in [0.05, 3] seconds, got {rt60!r}")
    if not (math.isfinite(drr_db) and -20.0 <= drr_db <= 40.0):
        raise AcousticsError(f"drr_db must be in [-20, 40] dB, got {drr_db!r}")
    n = int(rt60 * rate) + 1
    t = np.arange(n) / rate
    envelope = np.exp(-3.0 * math.log(10.0) * t / rt60)  # amplitude: -60 dB at t = rt60
    mixing = 0.004 + 0.02 * rt60  # the diffuse field builds up over the first ~10 ms
    tail = rng.standard_normal(n) * envelope * np.minimum(1.0, np.sqrt(t / mixing))
    first = max(1, int(0.001 * rate))  # reflections arrive 1 ms .. mixing time after the direct
    last = max(first + 1, int(mixing * rate))
    delays = rng.integers(first, last, size=reflections)
    amps = rng.uniform(0.2, 0.7, size=reflections) * rng.choice([-1.0, 1.0], size=reflections)
    np.add.at(tail, delays, amps * envelope[delays])
    tail[0] = 0.0
    tail *= math.sqrt(10 ** (-drr_db / 10) / max(float(np.sum(tail**2)), 1e-30))
    tail[0] = 1.0
    return tail


def estimate_rt60(ir: np.ndarray, rate: int) -> float:
    """RT60 of an impulse response by Schroeder backward integration: a least-squares line
    through the energy decay curve from -5 to -35 dB (T30), or -5 to -25 dB (T20) when the
    response does not decay that far, extrapolated to 60 dB."""
    h = _audio(ir, "impulse response")
    rate = _rate(rate)
    edc = np.cumsum((h**2)[::-1])[::-1]
    if edc[0] <= 0:
        raise AcousticsError("impulse response is all zeros")
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(edc / edc[0])
    for low in (-35.0, -25.0):
        below = np.flatnonzero(db <= low)
        if below.size:
            start, stop = int(np.flatnonzero(db <= -5.0)[0]), int(below[0])
            if stop - start >= 4:
                t = np.arange(start, stop + 1) / rate
                slope = np.polyfit(t, db[start : stop + 1], 1)[0]  # dB per second
                if slope < 0:
                    return float(-60.0 / slope)
    raise AcousticsError("impulse response decays by less than 25 dB: cannot estimate RT60")


def reverberate(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """``x`` convolved with ``ir`` (by FFT), cut to ``len(x)`` starting at the direct path (the
    response's largest sample), so the reverberant copy has the transcript's timing."""
    a, h = _audio(x), _audio(ir, "impulse response")
    if h.size == 0:
        raise AcousticsError("impulse response is empty")
    if a.size == 0:
        return a
    d = int(np.argmax(np.abs(h)))
    h = h[d:]
    size = _pow2(a.size + h.size - 1)
    y = np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(h, size), size)
    return y[: a.size]


# ------------------------------------------------------------------------------- channel
@dataclass(frozen=True)
class EqBand:
    """One band of a smooth EQ in log frequency: ``peak`` is a Gaussian bump of ``width``
    octaves (standard deviation), shelves are tanh steps ``width`` octaves wide."""

    kind: str  # "peak", "lowshelf" or "highshelf"
    freq: float  # Hz
    gain_db: float
    width: float  # octaves

    def gain(self, freqs: np.ndarray) -> np.ndarray:
        u = np.log2(np.maximum(freqs, 1.0) / self.freq) / self.width
        if self.kind == "peak":
            return self.gain_db * np.exp(-0.5 * u * u)
        step = 0.5 * (1.0 + np.tanh(u))
        return self.gain_db * (step if self.kind == "highshelf" else 1.0 - step)


@dataclass(frozen=True)
class EqCurve:
    """A microphone/room colouring: the sum of a few bands, limited to +-``limit_db``."""

    bands: tuple[EqBand, ...]
    limit_db: float = 6.0

    def gain_db(self, freqs: np.ndarray) -> np.ndarray:
        f = np.asarray(freqs, dtype=np.float64)
        total = np.zeros_like(f)
        for band in self.bands:
            total += band.gain(f)
        return np.clip(total, -self.limit_db, self.limit_db)

    def to_json(self) -> list[list[Any]]:
        return [[b.kind, _r(b.freq, 1), _r(b.gain_db, 2), _r(b.width, 2)] for b in self.bands]


def random_eq(
    rng: np.random.Generator, *, bands: tuple[int, int] = (2, 4), max_db: float = 6.0
) -> EqCurve:
    """A random smooth colouring: ``bands`` peaks/shelves at log-uniform 80-6000 Hz, each
    +-``max_db``, the sum limited to +-``max_db`` (cheap mics and laptop grilles are within
    that; bigger swings are what band-limiting models)."""
    if not (0 < max_db <= 24):
        raise AcousticsError(f"max_db must be in (0, 24], got {max_db!r}")
    count = int(rng.integers(bands[0], bands[1] + 1))
    out = []
    for _ in range(count):
        kind = ("peak", "lowshelf", "highshelf")[int(rng.integers(0, 3))]
        freq = float(np.exp(rng.uniform(math.log(80.0), math.log(6000.0))))
        out.append(EqBand(kind, freq, float(rng.uniform(-max_db, max_db)), rng.uniform(0.3, 1.2)))
    return EqCurve(tuple(out), max_db)


def equalize(x: np.ndarray, rate: int, curve: EqCurve) -> np.ndarray:
    """``x`` through ``curve`` (zero phase, in the frequency domain)."""
    a, rate = _audio(x), _rate(rate)
    if a.size == 0:
        return a
    return _fft_filter(a, rate, lambda f: np.exp(curve.gain_db(f) * _LN10_20))


def band_limit(
    x: np.ndarray, rate: int, low: float, high: float, *, transition: float = 50.0
) -> np.ndarray:
    """Keep ``low``..``high`` Hz: nothing outside passes; raised-cosine edges ``transition`` Hz
    wide lie just inside the band (a telephone channel's 300-3400 Hz, a laptop's 100-7000 Hz)."""
    a, rate = _audio(x), _rate(rate)
    nyquist = rate / 2
    if not (0.0 <= low < high <= nyquist):
        raise AcousticsError(
            f"band {low:g}-{high:g} Hz must satisfy 0 <= low < high <= {nyquist:g} (Nyquist)"
        )
    w = min(transition, (high - low) / 4)
    if a.size == 0:
        return a

    def mask(f: np.ndarray) -> np.ndarray:
        up = np.clip((f - low) / w, 0.0, 1.0) if low > 0 else np.ones_like(f)
        down = np.clip((high - f) / w, 0.0, 1.0) if high < nyquist else np.ones_like(f)
        return (0.5 - 0.5 * np.cos(np.pi * up)) * (0.5 - 0.5 * np.cos(np.pi * down))

    return _fft_filter(a, rate, mask)


def narrowband(x: np.ndarray, rate: int, via: int = 8000) -> np.ndarray:
    """Down to ``via`` Hz and back (the band-limited resampler: a lowpass at ~0.95 of via/2 and
    its slight ripple), as when audio went through an 8 kHz system. Same length and timing."""
    a, rate = _audio(x), _rate(rate)
    if a.size == 0 or via == rate:
        return a.copy()
    return resample(resample(a, rate, via), via, rate)[: a.size].astype(np.float64)


# ------------------------------------------------------------------------------- speaker
def speed_perturb(x: np.ndarray, factor: float) -> np.ndarray:
    """Kaldi-style speed perturbation: tempo and pitch both times ``factor`` (1.1 makes it
    1/1.1 as long), by band-limited resampling."""
    a = _audio(x)
    ratio = _ratio(factor, "speed factor")
    if ratio == 1 or a.size == 0:
        return a.copy()
    return resample(a, ratio.numerator, ratio.denominator).astype(np.float64)


def time_stretch(x: np.ndarray, rate: int, factor: float) -> np.ndarray:
    """``x`` made ``factor`` times as long at the same pitch, by WSOLA.

    Each 32 ms Hann frame is taken from near its nominal input position, shifted within +-8 ms
    to the offset whose waveform best continues the previous frame (cross-correlation), and
    overlap-added at half-frame hops. Unlike a phase vocoder it keeps speech crisp (no phasiness).
    Output length is ``round(len(x) * factor)``.
    """
    a, rate = _audio(x), _rate(rate)
    if not (math.isfinite(factor) and 0.25 <= factor <= 4.0):
        raise AcousticsError(f"stretch factor must be in [0.25, 4], got {factor!r}")
    n_out = round(a.size * factor)
    if a.size == 0 or n_out == 0:
        return np.zeros(n_out)
    frame = 2 * int(0.016 * rate)
    hop = frame // 2
    tol = int(0.008 * rate)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)  # periodic Hann: sums to 1
    count = n_out // hop + 2
    # Frame k covers output [(k-1)*hop, (k-1)*hop + frame); its centre maps to centre / factor.
    starts = np.round(((np.arange(count) - 1) * hop + frame / 2) / factor - frame / 2)
    starts = starts.astype(np.int64)
    pad = frame + tol + hop
    last = int(np.max(starts)) + frame + tol + hop
    xp = np.zeros(pad + max(a.size, last) + pad)
    xp[pad : pad + a.size] = a
    y = np.zeros(count * hop + frame)
    prev = pad + int(starts[0])
    y[:frame] += win * xp[prev : prev + frame]
    half = frame // 2
    for k in range(1, count):
        nominal = pad + int(starts[k])
        template = xp[prev + hop : prev + hop + half]  # what would naturally come next
        region = xp[nominal - tol : nominal + tol + half]
        best = int(np.argmax(np.correlate(region, template, "valid")))
        prev = nominal - tol + best
        y[k * hop : k * hop + frame] += win * xp[prev : prev + frame]
    return y[hop : hop + n_out]


def pitch_shift(x: np.ndarray, rate: int, semitones: float) -> np.ndarray:
    """``x`` with its pitch (and formants) moved by ``semitones``, same duration: resample by
    2**(s/12) (pitch and tempo), then WSOLA-stretch back to the original length."""
    a, rate = _audio(x), _rate(rate)
    if not (math.isfinite(semitones) and abs(semitones) <= 12):
        raise AcousticsError(f"pitch shift must be within +-12 semitones, got {semitones!r}")
    ratio = _ratio(2.0 ** (semitones / 12.0), "pitch ratio")
    if ratio == 1 or a.size == 0:
        return a.copy()
    faster = resample(a, ratio.numerator, ratio.denominator).astype(np.float64)
    y = time_stretch(faster, rate, a.size / faster.size)
    return np.pad(y, (0, max(0, a.size - y.size)))[: a.size]


def _stft(x: np.ndarray, frame: int, hop: int) -> tuple[np.ndarray, np.ndarray]:
    """Centred STFT (zero padding of ``frame`` on both sides): (frames x bins), window."""
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)
    n_frames = (x.size + frame) // hop + 1
    xp = np.zeros((n_frames - 1) * hop + frame)
    xp[frame : frame + x.size] = x
    view = np.lib.stride_tricks.sliding_window_view(xp, frame)[::hop]
    return np.fft.rfft(view * win, axis=1), win


def _istft(spec: np.ndarray, win: np.ndarray, hop: int, n: int) -> np.ndarray:
    """Overlap-add inverse of ``_stft`` (frames of one residue class mod frame/hop never overlap,
    so each class is one contiguous add)."""
    frame = win.size
    frames = np.fft.irfft(spec, frame, axis=1) * win
    total = (frames.shape[0] - 1) * hop + frame
    out = np.zeros(total + frame)
    norm = np.zeros(total + frame)
    per = frame // hop
    for r in range(per):
        part = frames[r::per]
        flat = part.reshape(-1)
        out[r * hop : r * hop + flat.size] += flat
        norm[r * hop : r * hop + flat.size] += np.tile(win * win, part.shape[0])
    return out[frame : frame + n] / np.maximum(norm[frame : frame + n], 1e-8)


def _vtlp_inverse(freqs: np.ndarray, alpha: float, nyquist: float) -> np.ndarray:
    """Where each output frequency comes from under the VTLP warp (Jaitly & Hinton 2013):
    f -> alpha*f up to a knee, then linear so Nyquist stays Nyquist."""
    knee = min(0.6 * nyquist * min(alpha, 1.0) / alpha, 0.9 * nyquist)
    src = np.linspace(0.0, nyquist, 257)
    warped = np.where(
        src <= knee,
        alpha * src,
        nyquist - (nyquist - alpha * knee) / (nyquist - knee) * (nyquist - src),
    )
    return np.interp(freqs, warped, src)


def formant_shift(x: np.ndarray, rate: int, alpha: float) -> np.ndarray:
    """``x`` with its spectral envelope (formants, i.e. vocal-tract length) stretched by
    ``alpha`` in frequency and its pitch kept: a shorter (alpha > 1) or longer vocal tract.

    Per 32 ms STFT frame the envelope is the cepstrally smoothed log magnitude (a tapered
    lifter to 1.5 ms, below the pitch period of voices up to ~600 Hz); each bin is scaled by
    envelope(warp^-1(f)) / envelope(f), at most +-20 dB, and the phase is kept.
    """
    a, rate = _audio(x), _rate(rate)
    if not (math.isfinite(alpha) and 0.7 <= alpha <= 1.4):
        raise AcousticsError(f"formant warp alpha must be in [0.7, 1.4], got {alpha!r}")
    if alpha == 1.0 or a.size == 0:
        return a.copy()
    frame = _pow2(int(0.032 * rate))
    hop = frame // 4
    spec, win = _stft(a, frame, hop)
    log_mag = np.log(np.abs(spec) + 1e-9)
    lifter = max(4, int(0.0015 * rate))
    taper = np.zeros(frame)  # a Hann-tapered lifter: a hard cut rings (Gibbs) and skews peaks
    ramp = 0.5 + 0.5 * np.cos(np.pi * np.arange(lifter) / lifter)
    taper[:lifter] = ramp
    taper[frame - lifter + 1 :] = ramp[1:][::-1]
    env = np.fft.rfft(np.fft.irfft(log_mag, frame, axis=1) * taper, axis=1).real
    bins = np.arange(spec.shape[1])
    src = _vtlp_inverse(bins * (rate / frame), alpha, rate / 2) / (rate / frame)
    i0 = np.clip(np.floor(src).astype(np.int64), 0, bins.size - 2)
    frac = src - i0
    warped = env[:, i0] * (1.0 - frac) + env[:, i0 + 1] * frac
    spec *= np.exp(np.clip(warped - env, -20 * _LN10_20, 20 * _LN10_20))
    return _istft(spec, win, hop, a.size)


# ------------------------------------------------------------------------------- noise
def colored_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power ~ 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS; shaped
    in one power-of-two FFT (pocketfft is slow on odd sizes)."""
    if n < 0 or not (math.isfinite(exponent) and 0 <= exponent <= 3):
        raise AcousticsError(f"noise needs n >= 0 and an exponent in [0, 3], got {n}, {exponent}")
    if n == 0:
        return np.zeros(0)
    if exponent == 0:
        x = rng.standard_normal(n)
    else:
        size = _pow2(n)
        spectrum = np.fft.rfft(rng.standard_normal(size))
        k = np.arange(spectrum.size, dtype=np.float64)
        k[0] = 1.0  # DC gets the lowest bin's level (brown noise would otherwise be infinite)
        spectrum *= k ** (-exponent / 2)
        x = np.fft.irfft(spectrum, size)[:n]
    x -= x.mean()
    return x / max(float(np.sqrt(np.mean(x * x))), 1e-12)


def babble_noise(
    n: int, source: BabbleSource, rng: np.random.Generator, talkers: int = 4
) -> np.ndarray:
    """``talkers`` other utterances from ``source``, each at unit RMS, looped from a random
    offset to ``n`` samples and summed; unit RMS (a cafe, or the TV in the background)."""
    if talkers < 1:
        raise AcousticsError(f"babble needs at least one talker, got {talkers}")
    mix = np.zeros(n)
    for _ in range(talkers):
        speech = _audio(source(rng), "babble utterance")
        rms = float(np.sqrt(np.mean(speech**2))) if speech.size else 0.0
        if rms < 1e-9:
            continue
        start = int(rng.integers(0, speech.size))
        mix += np.resize(np.roll(speech, -start), n) / rms
    rms = float(np.sqrt(np.mean(mix**2))) if n else 0.0
    if rms < 1e-12:
        raise AcousticsError("babble source returned only silent or empty utterances")
    return mix / rms


def hum(
    n: int, rate: int, rng: np.random.Generator, *, mains: float | None = None, harmonics: int = 8
) -> np.ndarray:
    """Mains hum and buzz: ``mains`` (50 or 60 Hz, random if None) and its harmonics below
    2 kHz with random phases and ~1/k amplitudes (odd ones stronger, as a rectifier makes them),
    a slow drift of a few tenths of a hertz; unit RMS."""
    rate = _rate(rate)
    f0 = float(mains) if mains is not None else (50.0, 60.0)[int(rng.integers(0, 2))]
    if not (20.0 <= f0 <= 400.0):
        raise AcousticsError(f"mains frequency must be in [20, 400] Hz, got {f0}")
    t = np.arange(n) / rate
    drift = rng.uniform(-0.3, 0.3) * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t)
    phase = 2 * np.pi * np.cumsum(f0 + drift) / rate
    x = np.zeros(n)
    for k in range(1, harmonics + 1):
        if k * f0 >= min(2000.0, rate / 2):
            break
        amp = rng.uniform(0.3, 1.0) / k * (2.0 if k % 2 else 1.0)
        x += amp * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    rms = float(np.sqrt(np.mean(x * x))) if n else 0.0
    return x / max(rms, 1e-12)


def active_power(x: np.ndarray, rate: int) -> float:
    """Mean power of the active 20 ms frames (those within 30 dB of the loudest), a simple
    active speech level: padding and pauses do not lower it, so an SNR means the same for a
    padded and an unpadded utterance."""
    a, rate = _audio(x), _rate(rate)
    if a.size == 0:
        return 0.0
    hop = max(1, int(0.02 * rate))
    m = a.size // hop
    if m < 2:
        return float(np.mean(a * a))
    energy = np.mean((a[: m * hop] ** 2).reshape(m, hop), axis=1)
    loud = energy >= energy.max() * 1e-3
    return float(np.mean(energy[loud]))


def mix_at_snr(x: np.ndarray, noise: np.ndarray, snr_db: float, rate: int) -> np.ndarray:
    """``x`` plus ``noise`` scaled so that active speech power / noise power is ``snr_db``."""
    a, v = _audio(x), _audio(noise, "noise")
    if a.shape != v.shape:
        raise AcousticsError(f"noise has {v.size} samples, the signal {a.size}")
    if not (math.isfinite(snr_db) and -30 <= snr_db <= 100):
        raise AcousticsError(f"SNR must be in [-30, 100] dB, got {snr_db!r}")
    p_signal, p_noise = active_power(a, rate), float(np.mean(v * v)) if v.size else 0.0
    if p_signal <= 0 or p_noise <= 0:
        raise AcousticsError("SNR is undefined for a silent signal or silent noise")
    return a + v * math.sqrt(p_signal / p_noise * 10 ** (-snr_db / 10))


# ------------------------------------------------------------------------------- codecs
def mu_law(x: np.ndarray, rate: int, *, bits: int = 8, mu: float = 255.0) -> np.ndarray:
    """G.711-style telephony: to 8 kHz, mu-law companding quantized to ``bits`` bits, and
    back to ``rate``. The quantization noise follows the level (~38 dB SNR over a wide range),
    so it is heard in speech, not in pauses, as on a phone line."""
    a, rate = _audio(x), _rate(rate)
    if not 2 <= bits <= 16:
        raise AcousticsError(f"mu-law bits must be in [2, 16], got {bits}")
    if a.size == 0:
        return a
    y = np.clip(resample(a, rate, 8000) if rate != 8000 else a, -1.0, 1.0).astype(np.float64)
    companded = np.sign(y) * np.log1p(mu * np.abs(y)) / math.log1p(mu)
    levels = (1 << bits) - 1
    q = np.round((companded + 1.0) * (levels / 2)) * (2 / levels) - 1.0
    y = np.sign(q) * np.expm1(np.abs(q) * math.log1p(mu)) / mu
    if rate != 8000:
        y = resample(y, 8000, rate)[: a.size].astype(np.float64)
    return np.clip(y, -1.0, 1.0)


def _band_edges(bins: int) -> np.ndarray:
    """Bark-like band edges over ``bins`` MDCT lines: 4-line bands at the bottom, ~1/4 octave
    above."""
    edges = [0]
    while edges[-1] < bins:
        edges.append(min(bins, edges[-1] + max(4, int(edges[-1] * 0.19))))
    return np.array(edges)


def transform_codec(
    x: np.ndarray, rate: int, *, cutoff_hz: float = 5000.0, bits: int = 3, floor_db: float = 30.0
) -> np.ndarray:
    """A coarse perceptual transform codec, like MP3/Opus at low bitrate: 16 ms sine-window
    MDCT frames, lines above ``cutoff_hz`` dropped, each band quantized to ``bits`` bits of its
    peak (one fewer above 2 kHz) with a dead zone, and bands more than ``floor_db`` below the
    frame's loudest zeroed (the spectral holes and "swirl" such codecs leave)."""
    a, rate = _audio(x), _rate(rate)
    if not 1 <= bits <= 12:
        raise AcousticsError(f"codec bits must be in [1, 12], got {bits}")
    if not (0 < cutoff_hz <= rate / 2):
        raise AcousticsError(f"codec cutoff must be in (0, {rate / 2:g}] Hz, got {cutoff_hz}")
    if a.size == 0:
        return a
    half = 2 * int(0.008 * rate)  # N: hop and number of lines
    win = np.sin(np.pi * (np.arange(2 * half) + 0.5) / (2 * half))  # Princen-Bradley
    m = -(-a.size // half) + 1
    xp = np.zeros((m + 1) * half)
    xp[half : half + a.size] = a
    frames = np.lib.stride_tricks.sliding_window_view(xp, 2 * half)[::half][:m]
    coef = _mdct(frames * win, half)  # (m, N)
    line_hz = rate / (2 * half)
    coef[:, int(cutoff_hz / line_hz) :] = 0.0
    edges = _band_edges(half)
    peaks = np.stack([np.abs(coef[:, lo:hi]).max(axis=1) for lo, hi in _pairs(edges)], 1)
    frame_peak = peaks.max(axis=1, keepdims=True)
    keep = peaks >= frame_peak * 10 ** (-floor_db / 20)
    band_bits = np.array([bits - (1 if lo * line_hz >= 2000 else 0) for lo, _ in _pairs(edges)])
    step = peaks / np.maximum(2.0 ** (np.maximum(band_bits, 1) - 1), 1.0)
    widths = np.diff(edges)
    step_lines = np.repeat(np.where(keep, step, 0.0), widths, axis=1)
    safe = np.where(step_lines > 0, step_lines, 1.0)
    q = np.where(np.abs(coef) < 0.6 * safe, 0.0, np.round(coef / safe)) * safe
    q[step_lines == 0] = 0.0
    out_frames = _imdct(q, half) * win * (2.0 / half)
    y = np.zeros((m + 1) * half)
    y[: m * half] += out_frames[:, :half].reshape(-1)
    y[half : (m + 1) * half] += out_frames[:, half:].reshape(-1)
    return np.clip(y[half : half + a.size], -1.0, 1.0)


def _pairs(edges: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive (low, high) pairs of band edges."""
    return [(int(edges[i]), int(edges[i + 1])) for i in range(len(edges) - 1)]


def _mdct(frames: np.ndarray, half: int) -> np.ndarray:
    """MDCT of (m, 2N) windowed frames -> (m, N), by one 2N-point FFT a frame. FFTs rather than
    a matrix product: pocketfft gives the same bits whatever the BLAS thread count."""
    n0 = 0.5 + half / 2
    pre = np.exp(-1j * np.pi * np.arange(2 * half) / (2 * half))
    post = np.exp(-1j * np.pi * n0 * (np.arange(half) + 0.5) / half)
    return (np.fft.fft(frames * pre, axis=1)[:, :half] * post).real


def _imdct(coef: np.ndarray, half: int) -> np.ndarray:
    """sum_k X[k] cos(pi/N (n + n0)(k + 1/2)) for n < 2N: the unscaled inverse of ``_mdct``."""
    n0 = 0.5 + half / 2
    spectrum = np.zeros((coef.shape[0], 2 * half), complex)
    spectrum[:, :half] = coef * np.exp(1j * np.pi * n0 * np.arange(half) / half)
    n = np.arange(2 * half)
    twiddle = np.exp(1j * np.pi * (n + n0) / (2 * half))
    return (np.fft.ifft(spectrum, axis=1) * (2 * half) * twiddle).real


# ------------------------------------------------------------------------------- level
def gain(x: np.ndarray, db: float) -> np.ndarray:
    """``x`` times 10**(db/20)."""
    return _audio(x) * 10 ** (db / 20)


def set_level(x: np.ndarray, rate: int, level_db: float) -> np.ndarray:
    """``x`` scaled so its active level (``active_power``) is ``level_db`` dBFS (a full-scale
    sine is -3 dBFS); silence is returned as is."""
    a = _audio(x)
    power = active_power(a, rate)
    return a if power <= 0 else a * (10 ** (level_db / 20) / math.sqrt(power))


def clip(x: np.ndarray, level: float) -> tuple[np.ndarray, float]:
    """Hard clipping at +-``level`` (an overdriven preamp or converter); returns the clipped
    signal and the fraction of samples that were clipped."""
    a = _audio(x)
    if not (math.isfinite(level) and level > 0):
        raise AcousticsError(f"clip level must be positive, got {level!r}")
    over = np.abs(a) > level
    return np.clip(a, -level, level), float(np.mean(over)) if a.size else 0.0


# ------------------------------------------------------------------------------- the chain
@dataclass(frozen=True)
class Realism:
    """How often each stage runs (``p_*``) and the ranges its parameters are drawn from.

    Defaults: a quarter of the utterances stay acoustically clean (speaker transforms and level
    only); of the rest, 60 % are in a room and 60 % get a microphone EQ, so most get one or the
    other; 60 % get noise, 30 % a narrow band, 15 % a codec, 5 % clipping.
    """

    clean: float = 0.25
    # speaker (``speaker_transform``; set ``speaker=False`` if the caller applied it already)
    speaker: bool = True
    speeds: tuple[float, ...] = (0.9, 1.0, 1.1)  # Kaldi's three, drawn uniformly
    p_pitch: float = 0.3
    semitones: tuple[float, float] = (-2.0, 2.0)
    p_formant: float = 0.3
    alpha: tuple[float, float] = (0.9, 1.1)
    # room
    p_room: float = 0.6
    rt60: tuple[float, float] = (0.1, 0.8)
    drr_db: tuple[float, float] = (-2.0, 12.0)
    # noise
    p_noise: float = 0.6
    noise_kinds: tuple[str, ...] = NOISE_KINDS
    snr_db: tuple[float, float] = (5.0, 30.0)
    talkers: tuple[int, int] = (3, 6)
    # channel
    p_eq: float = 0.6
    eq_db: float = 6.0
    p_band: float = 0.3
    bands: tuple[str, ...] = BAND_KINDS
    # codec
    p_codec: float = 0.15
    codecs: tuple[str, ...] = CODECS
    codec_cutoff_hz: tuple[float, float] = (3500.0, 7000.0)
    codec_bits: tuple[int, int] = (2, 4)
    # gain and clipping; level_db None keeps the level the chain leaves
    level_db: tuple[float, float] | None = (-32.0, -16.0)
    p_clip: float = 0.05
    clip_ratio: tuple[float, float] = (0.3, 0.8)  # clip threshold as a fraction of the peak

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            is_probability = f.name == "clean" or f.name.startswith("p_")
            if is_probability and not (isinstance(value, int | float) and 0.0 <= value <= 1.0):
                raise AcousticsError(f"Realism.{f.name} must be in [0, 1], got {value!r}")
        for name in ("semitones", "alpha", "rt60", "drr_db", "snr_db", "talkers", "clip_ratio"):
            _range(getattr(self, name), f"Realism.{name}")
        _range(self.codec_cutoff_hz, "Realism.codec_cutoff_hz")
        _range(self.codec_bits, "Realism.codec_bits")
        if self.level_db is not None:
            _range(self.level_db, "Realism.level_db")
        for name, allowed in (
            ("noise_kinds", NOISE_KINDS),
            ("bands", BAND_KINDS),
            ("codecs", CODECS),
        ):
            unknown = set(getattr(self, name)) - set(allowed)
            if unknown:
                raise AcousticsError(
                    f"Realism.{name}: unknown {sorted(unknown)} (known: {', '.join(allowed)})"
                )
        if not self.speeds or not all(0.5 <= s <= 2.0 for s in self.speeds):
            raise AcousticsError(f"Realism.speeds must be factors in [0.5, 2], got {self.speeds}")


def speaker_transform(
    x: np.ndarray, rate: int, rng: np.random.Generator, realism: Realism | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Speed perturbation (one of ``realism.speeds``), then maybe a pitch shift and a formant
    warp: one voice becomes many. Returns the audio (length / speed) and what was applied."""
    r = realism or Realism()
    a, rate = _audio(x), _rate(rate)
    info: dict[str, Any] = {}
    speed = float(r.speeds[int(rng.integers(0, len(r.speeds)))])
    if speed != 1.0:
        a = speed_perturb(a, speed)
        info["speed"] = speed
    if rng.random() < r.p_pitch:
        semitones = _r(rng.uniform(*r.semitones), 2)
        a = pitch_shift(a, rate, semitones)
        info["pitch_semitones"] = semitones
    if rng.random() < r.p_formant:
        alpha = _r(rng.uniform(*r.alpha), 3)
        a = formant_shift(a, rate, alpha)
        info["formant_alpha"] = alpha
    return a, info


def _noise(
    kind: str,
    n: int,
    rate: int,
    rng: np.random.Generator,
    r: Realism,
    babble: BabbleSource | None,
    info: dict[str, Any],
) -> np.ndarray:
    if kind == "babble":
        talkers = int(rng.integers(r.talkers[0], r.talkers[1] + 1))
        info["babble_talkers"] = talkers
        if babble is None:
            raise AcousticsError("babble noise needs a source of other utterances")
        return babble_noise(n, babble, rng, talkers)
    if kind == "hum":
        noise = hum(n, rate, rng)
        # a hum alone is unusual: hiss under it
        return noise + 0.3 * colored_noise(n, 1.0, rng)
    return colored_noise(n, NOISE_EXPONENTS[kind], rng)


def degrade(
    x: np.ndarray,
    rate: int,
    rng: np.random.Generator,
    realism: Realism | None = None,
    babble: BabbleSource | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One random, seeded degradation of an utterance, in physical order: speaker transforms ->
    room -> noise -> microphone EQ and band -> codec -> gain/clip.

    Returns float32 audio in [-1, 1] at ``rate`` (length changes only by the speed factor) and a
    JSON-able dict of what was applied (e.g. ``{"room_rt60": 0.42, "noise": "pink", "snr": 14.2,
    "band": "telephone", "level_db": -21.3}``; ``{"clean": True, ...}`` for a clean one).
    Babble needs ``babble`` (other utterances); without it babble is never drawn. The channel
    and codec see a -24 dBFS line level; the final gain sets ``realism.level_db``.
    """
    r = realism or Realism()
    a, rate = _audio(x), _rate(rate)
    if a.size == 0:
        raise AcousticsError("cannot degrade an empty utterance")
    info: dict[str, Any] = {}
    if r.speaker:
        a, applied = speaker_transform(a, rate, rng, r)
        info.update(applied)
    if rng.random() < r.clean:
        info["clean"] = True
    else:
        if rng.random() < r.p_room:
            rt60 = _r(rng.uniform(*r.rt60))
            drr = _r(rng.uniform(*r.drr_db), 1)
            a = reverberate(a, room_impulse_response(rt60, rate, rng, drr_db=drr))
            info.update(room_rt60=rt60, room_drr_db=drr)
        kinds = [k for k in r.noise_kinds if babble is not None or k != "babble"]
        if kinds and rng.random() < r.p_noise and active_power(a, rate) > 0:
            kind = kinds[int(rng.integers(0, len(kinds)))]
            snr = _r(rng.uniform(*r.snr_db), 1)
            drawn: dict[str, Any] = {"noise": kind, "snr": snr}
            noise = _noise(kind, a.size, rate, rng, r, babble, drawn)
            if np.any(noise):  # a clip of a few samples can have a zero-mean noise of zeros
                a = mix_at_snr(a, noise, snr, rate)
                info.update(drawn)
        a = set_level(a, rate, _NOMINAL_DB)
        if rng.random() < r.p_eq:
            curve = random_eq(rng, max_db=r.eq_db)
            a = equalize(a, rate, curve)
            info["eq"] = curve.to_json()
        if r.bands and rng.random() < r.p_band:
            band = r.bands[int(rng.integers(0, len(r.bands)))]
            if band == "8k":
                a = narrowband(a, rate)
            else:
                low, high = BANDS[band]
                a = band_limit(a, rate, low, min(high, 0.45 * rate))
            info["band"] = band
        if r.codecs and rng.random() < r.p_codec:
            codec = r.codecs[int(rng.integers(0, len(r.codecs)))]
            if codec == "mulaw":
                a = mu_law(np.clip(a, -1.0, 1.0), rate)
            else:
                cutoff = _r(min(rng.uniform(*r.codec_cutoff_hz), rate / 2), 0)
                bits = int(rng.integers(r.codec_bits[0], r.codec_bits[1] + 1))
                a = transform_codec(a, rate, cutoff_hz=cutoff, bits=bits)
                info.update(codec_cutoff_hz=cutoff, codec_bits=bits)
            info["codec"] = codec
    if r.level_db is not None:
        level = _r(rng.uniform(*r.level_db), 1)
        a = set_level(a, rate, level)
        info["level_db"] = level
    if not info.get("clean") and rng.random() < r.p_clip:
        peak = float(np.max(np.abs(a)))
        if peak > 0:
            a, fraction = clip(a, peak * rng.uniform(*r.clip_ratio))
            info["clip_fraction"] = _r(fraction, 4)
    peak = float(np.max(np.abs(a)))
    if peak > _PEAK:
        a = a * (_PEAK / peak)
    return a.astype(np.float32), info
