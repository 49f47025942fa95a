"""Feature extraction speed, side by side on the same ~60 s of espeak speech.

Compares runtime.features against the references it must match: the seed project's spectrogram
(udacity AIND-VUI-Capstone utils.py, copied verbatim below) and python_speech_features.mfcc.
Also times FeatureStream (10 ms pushes, the device's streaming path) and runtime.audio.resample.
Goals: spectrogram >= 1,000x real time, MFCC >= 2x faster than psf, resampling >= 200x.

Run: .venv/bin/python bench/features.py [--seconds 60] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import as_strided

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


# --------------------------------------------------------------------------- seed reference
def seed_spectrogram(samples, fft_length=256, sample_rate=2, hop_length=128):
    """The seed's utils.spectrogram, verbatim (asserts aside)."""
    window = np.hanning(fft_length)[:, None]
    window_norm = np.sum(window**2)
    scale = window_norm * sample_rate
    trunc = (len(samples) - fft_length) % hop_length
    x = samples[: len(samples) - trunc]
    nshape = (fft_length, (len(x) - fft_length) // hop_length + 1)
    nstrides = (x.strides[0], x.strides[0] * hop_length)
    x = as_strided(x, shape=nshape, strides=nstrides)
    x = np.fft.rfft(x * window, axis=0)
    x = np.absolute(x) ** 2
    x[1:-1, :] *= 2.0 / scale
    x[(0, -1), :] /= scale
    freqs = float(sample_rate) / fft_length * np.arange(x.shape[0])
    return x, freqs


def seed_spectrogram_features(
    audio, sample_rate=16000, step=10, window=20, max_freq=8000, eps=1e-14
):
    """The seed's utils.spectrogram_from_file after reading the file: (T, 161) log power."""
    hop_length = int(0.001 * step * sample_rate)
    fft_length = int(0.001 * window * sample_rate)
    pxx, freqs = seed_spectrogram(
        audio, fft_length=fft_length, sample_rate=sample_rate, hop_length=hop_length
    )
    ind = np.where(freqs <= max_freq)[0][-1] + 1
    return np.transpose(np.log(pxx[:ind, :] + eps))


# --------------------------------------------------------------------------- audio
SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "She sells sea shells by the sea shore every summer morning.",
    "A small model listens on the device and writes down what it hears.",
    "Numbers like forty two and seven hundred are spoken slowly and clearly.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "The weather today is cloudy with a chance of rain in the late afternoon.",
]


def speech(seconds: float) -> np.ndarray:
    """~``seconds`` of espeak speech at 16 kHz with a low noise floor (no exact zeros)."""
    from edge_asr.data.espeak import synthesize
    from runtime.audio import resample

    rng = np.random.default_rng(0)
    parts, total, i = [], 0.0, 0
    voices = ["en-us", "en-us+f3", "en+m3", "en-gb-scotland"]
    while total < seconds:
        x, rate = synthesize(
            SENTENCES[i % len(SENTENCES)], voices[i % len(voices)], 150 + (10 * i) % 60
        )
        parts.append(x)
        total += len(x) / rate
        i += 1
    x16 = resample(np.concatenate(parts), rate, 16000)[: int(seconds * 16000)]
    return (x16 + rng.standard_normal(len(x16)).astype(np.float32) * 1e-3).astype(np.float32)


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import python_speech_features as psf

    from runtime.audio import resample
    from runtime.features import FeatureConfig, FeatureStream, extract

    audio = speech(args.seconds)
    dur = len(audio) / 16000
    print(f"audio: {dur:.1f} s of espeak speech at 16 kHz; best of {args.repeats} runs")

    def report(label: str, seconds: float, frames: int, base: float | None = None) -> None:
        ratio = f"  {base / seconds:6.2f}x vs reference" if base else ""
        print(
            f"  {label:<34} {seconds * 1000:8.1f} ms  {frames / seconds:12,.0f} frames/s"
            f"  {dur / seconds:8,.0f}x real time{ratio}"
        )

    spec_cfg, mfcc_cfg = FeatureConfig.spectrogram(), FeatureConfig.mfcc()
    ours = extract(audio, spec_cfg)
    ref = seed_spectrogram_features(audio)
    print(f"spectrogram {ours.shape}, max |ours - seed| = {np.abs(ours - ref).max():.2e}")
    t_ref = best_time(lambda: seed_spectrogram_features(audio), args.repeats)
    t_ours = best_time(lambda: extract(audio, spec_cfg), args.repeats)
    report("seed reference", t_ref, len(ref))
    report("runtime.features.extract", t_ours, len(ours), t_ref)
    t_stream = best_time(lambda: stream_all(FeatureStream(spec_cfg), audio), args.repeats)
    report("FeatureStream (160-sample pushes)", t_stream, len(ours), t_ref)

    # Both get float64: psf pre-emphasizes float32 input in float32 and drifts by ~1e-4 itself.
    audio64 = audio.astype(np.float64)
    ours = extract(audio64, mfcc_cfg)
    ref = psf.mfcc(audio64, 16000)
    print(f"mfcc {ours.shape}, max |ours - psf| = {np.abs(ours - ref).max():.2e}")
    t_ref = best_time(lambda: psf.mfcc(audio64, 16000), args.repeats)
    t_ours = best_time(lambda: extract(audio64, mfcc_cfg), args.repeats)
    report("python_speech_features.mfcc", t_ref, len(ref))
    report("runtime.features.extract", t_ours, len(ours), t_ref)
    t_stream = best_time(lambda: stream_all(FeatureStream(mfcc_cfg), audio), args.repeats)
    report("FeatureStream (160-sample pushes)", t_stream, len(ours), t_ref)

    print("resample to 16 kHz (same audio, treated as recorded at each rate)")
    for rate in (8000, 22050, 44100, 48000):
        t = best_time(lambda rate=rate: resample(audio, rate, 16000), args.repeats)
        print(
            f"  {rate:>5} Hz -> 16000 Hz {t * 1000:8.1f} ms"
            f"  {len(audio) / rate / t:8,.0f}x real time"
        )
    return 0


def stream_all(stream, audio: np.ndarray, chunk: int = 160) -> int:
    n = 0
    for start in range(0, len(audio), chunk):
        n += len(stream.push(audio[start : start + chunk]))
    return n + len(stream.flush())


if __name__ == "__main__":
    raise SystemExit(main())
