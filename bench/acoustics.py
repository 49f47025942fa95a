"""Speed of the acoustic realism chain (edge_asr/data/acoustics.py) on one core.

The corpus builder runs ``degrade`` on every utterance of a 10-hour corpus on 2 cores, so the
goal is >= 100x real time on one core for 16 kHz audio. Times each transform and the full chain
(default ``Realism``, and with every stage forced on) on espeak utterances padded like the
corpus's; prints x real time (audio seconds per compute second).

Run: .venv/bin/python bench/acoustics.py [--utterances 12] [--repeats 3] [--chains 200]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # one core, as in a corpus worker

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_asr.data import acoustics as ac  # noqa: E402

RATE = 16000
SENTENCES = [
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "She sells sea shells by the sea shore every summer morning.",
    "A small model listens on the device and writes down what it hears.",
    "Please call me back before noon tomorrow.",
    "Turn left at the second light and park behind the old library.",
    "Seven hundred people waited in the rain for the doors to open.",
]


def utterances(count: int) -> list[np.ndarray]:
    """``count`` espeak utterances at 16 kHz, padded with a noise floor as the corpus does."""
    from edge_asr.data import espeak
    from runtime.audio import resample

    rng = np.random.default_rng(0)
    voices = ["en-us+m3", "en+f2", "en-us+klatt2", "en-gb-scotland+m1"]
    out = []
    for i in range(count):
        samples, sr = espeak.synthesize(SENTENCES[i % len(SENTENCES)], voices[i % len(voices)])
        speech = resample(espeak.trim_silence(samples), sr, RATE)
        out.append(espeak.pad_with_floor(speech, RATE, rng).astype(np.float64))
    return out


def timed(fn, utts: list[np.ndarray], repeats: int) -> float:
    """x real time of ``fn(x, rng)`` over ``utts`` (best of ``repeats``)."""
    seconds = sum(u.size for u in utts) / RATE
    best = float("inf")
    for r in range(repeats):
        rng = np.random.default_rng(r)
        start = time.perf_counter()
        for u in utts:
            fn(u, rng)
        best = min(best, time.perf_counter() - start)
    return seconds / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chains", type=int, default=200, help="seeds for the default chain")
    args = parser.parse_args()
    utts = utterances(args.utterances)
    seconds = sum(u.size for u in utts) / RATE
    mean = seconds / len(utts)
    print(f"{len(utts)} utterances, {seconds:.1f} s of 16 kHz audio (mean {mean:.2f} s)")
    ir = {rt: ac.room_impulse_response(rt, RATE, np.random.default_rng(0)) for rt in (0.3, 0.8)}
    curve = ac.random_eq(np.random.default_rng(1))
    babble_pool = utts[:4]

    def source(rng):
        return babble_pool[int(rng.integers(0, len(babble_pool)))]

    def with_noise(make):
        return lambda x, rng: ac.mix_at_snr(x, make(x.size, rng), 10.0, RATE)

    cases = {
        "speed 1.1": lambda x, rng: ac.speed_perturb(x, 1.1),
        "pitch +1.5 semitones": lambda x, rng: ac.pitch_shift(x, RATE, 1.5),
        "formant alpha 1.08": lambda x, rng: ac.formant_shift(x, RATE, 1.08),
        "room IR 0.5 s (make)": lambda x, rng: ac.room_impulse_response(0.5, RATE, rng),
        "reverberate RT60 0.3 s": lambda x, rng: ac.reverberate(x, ir[0.3]),
        "reverberate RT60 0.8 s": lambda x, rng: ac.reverberate(x, ir[0.8]),
        "white noise + mix": with_noise(lambda n, rng: ac.colored_noise(n, 0.0, rng)),
        "pink noise + mix": with_noise(lambda n, rng: ac.colored_noise(n, 1.0, rng)),
        "brown noise + mix": with_noise(lambda n, rng: ac.colored_noise(n, 2.0, rng)),
        "babble (4 talkers) + mix": with_noise(lambda n, rng: ac.babble_noise(n, source, rng)),
        "hum + mix": with_noise(lambda n, rng: ac.hum(n, RATE, rng)),
        "EQ": lambda x, rng: ac.equalize(x, RATE, curve),
        "telephone band": lambda x, rng: ac.band_limit(x, RATE, 300.0, 3400.0),
        "8 kHz round trip": lambda x, rng: ac.narrowband(x, RATE),
        "mu-law 8 kHz": lambda x, rng: ac.mu_law(x, RATE),
        "transform codec": lambda x, rng: ac.transform_codec(x, RATE, cutoff_hz=5000, bits=3),
        "clip": lambda x, rng: ac.clip(x, 0.05),
    }
    print(f"{'transform':34s} {'x real time':>12s}")
    for name, fn in cases.items():
        print(f"{name:34s} {timed(fn, utts, args.repeats):12.0f}")

    default = ac.Realism()
    everything = replace(
        default,
        clean=0.0,
        speeds=(1.1,),
        p_pitch=1.0,
        p_formant=1.0,
        p_room=1.0,
        rt60=(0.8, 0.8),
        p_noise=1.0,
        noise_kinds=("babble",),
        p_eq=1.0,
        p_band=1.0,
        bands=("8k",),
        p_codec=1.0,
        codecs=("transform",),
        p_clip=1.0,
    )
    for label, realism, seeds in (
        ("chain, default Realism", default, args.chains),
        ("chain, every stage on (worst case)", everything, max(20, args.chains // 10)),
    ):
        start = time.perf_counter()
        audio = 0
        for seed in range(seeds):
            x = utts[seed % len(utts)]
            ac.degrade(x, RATE, np.random.default_rng(seed), realism, babble=source)
            audio += x.size
        speed = audio / RATE / (time.perf_counter() - start)
        print(f"{label:34s} {speed:12.0f}   ({seeds} utterances)")


if __name__ == "__main__":
    main()
