"""Acoustic realism (edge_asr/data/acoustics.py): each transform measured on real espeak speech
or on test signals whose answer is known (tones, harmonic series, white noise)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from edge_asr.data import acoustics as ac
from runtime.errors import EdgeASRError

RATE = 16000


# ----------------------------------------------------------------------------- signals
@pytest.fixture(scope="module")
def speech() -> list[np.ndarray]:
    """Three espeak utterances at 16 kHz, padded with a noise floor as the corpus pads them."""
    from edge_asr.data import espeak
    from runtime.audio import resample

    rng = np.random.default_rng(0)
    out = []
    for text, voice in (
        ("the quick brown fox jumps over the lazy dog", "en-us+m3"),
        ("please call me back before noon tomorrow", "en+f2"),
        ("seven hundred people waited in the rain", "en-us+klatt2"),
    ):
        samples, sr = espeak.synthesize(text, voice)
        speech = resample(espeak.trim_silence(samples), sr, RATE)
        out.append(espeak.pad_with_floor(speech, RATE, rng).astype(np.float64))
    return out


def harmonic(f0: float, seconds: float = 2.0, fc: float | None = None, sd: float = 300.0):
    """A harmonic series on ``f0`` up to 7 kHz: 1/k amplitudes, or a formant (Gaussian
    envelope at ``fc``, ``sd`` Hz) over a -34 dB floor."""
    t = np.arange(int(seconds * RATE)) / RATE
    x = np.zeros_like(t)
    for k in range(1, int(7000 / f0)):
        amp = 1.0 / k if fc is None else math.exp(-0.5 * ((k * f0 - fc) / sd) ** 2) + 0.02
        x += amp * np.sin(2 * np.pi * k * f0 * t + k * k)
    return 0.3 * x / np.max(np.abs(x))


def f0_of(x: np.ndarray) -> float:
    """F0 by autocorrelation of the middle half: the shortest lag whose peak is within 10 % of
    the highest (no octave errors), refined by parabolic interpolation."""
    seg = x[len(x) // 4 : 3 * len(x) // 4]
    seg = seg - seg.mean()
    ac_ = np.fft.irfft(np.abs(np.fft.rfft(seg, 2 * seg.size)) ** 2)[: seg.size]
    lo, hi = RATE // 500, RATE // 50
    r = ac_[lo:hi]
    peaks = np.flatnonzero((r[1:-1] > r[:-2]) & (r[1:-1] >= r[2:])) + 1
    k = lo + int(peaks[np.argmax(r[peaks] >= 0.9 * r[peaks].max())])  # first near-top peak
    a, b, c = ac_[k - 1 : k + 2]
    return RATE / (k + 0.5 * (a - c) / (a - 2 * b + c))


def psd(x: np.ndarray, n: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectrum (Hann, 50 % overlap): frequencies, power per bin."""
    win = np.hanning(n)
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[:: n // 2]
    return np.fft.rfftfreq(n, 1 / RATE), np.mean(np.abs(np.fft.rfft(frames * win)) ** 2, axis=0)


def band_energy(f: np.ndarray, p: np.ndarray, lo: float, hi: float) -> float:
    return float(np.sum(p[(f >= lo) & (f <= hi)]))


def db(ratio: float) -> float:
    return 10 * math.log10(ratio)


# ----------------------------------------------------------------------------- rooms
@pytest.mark.parametrize("rt60", [0.1, 0.3, 0.5, 0.8])
def test_estimated_rt60_is_within_20_percent_of_the_request(rt60):
    for seed in range(4):
        for drr in (-2.0, 5.0, 12.0):
            ir = ac.room_impulse_response(rt60, RATE, np.random.default_rng(seed), drr_db=drr)
            assert abs(ac.estimate_rt60(ir, RATE) / rt60 - 1) < 0.2, (seed, drr)


def test_room_response_has_the_requested_direct_to_reverberant_ratio():
    ir = ac.room_impulse_response(0.4, RATE, np.random.default_rng(1), drr_db=3.0)
    assert ir[0] == 1.0 == np.max(np.abs(ir))
    assert db(1.0 / np.sum(ir[1:] ** 2)) == pytest.approx(3.0, abs=1e-6)
    assert ir.size == int(0.4 * RATE) + 1
    again = ac.room_impulse_response(0.4, RATE, np.random.default_rng(1), drr_db=3.0)
    assert np.array_equal(ir, again)


def test_reverberation_is_a_convolution_aligned_to_the_direct_path(speech):
    x = speech[0]
    ir = ac.room_impulse_response(0.5, RATE, np.random.default_rng(2), drr_db=0.0)
    delayed = np.concatenate([np.zeros(37), 0.5 * ir])  # a measured IR with propagation delay
    y = ac.reverberate(x, delayed)
    assert y.shape == x.shape
    assert np.allclose(y, np.convolve(x, 0.5 * ir)[: x.size], atol=1e-9)
    lags = np.arange(-200, 201)
    xc = [np.dot(x[200:-200], y[200 + k : y.size - 200 + k]) for k in lags]
    assert lags[int(np.argmax(xc))] == 0  # transcript timing kept


# ----------------------------------------------------------------------------- channel
@pytest.mark.parametrize("band", ["telephone", "laptop"])
def test_band_limit_removes_30_db_outside_the_band(band, speech):
    low, high = ac.BANDS[band]
    noise = np.random.default_rng(0).standard_normal(4 * RATE)
    for x in (noise, speech[1]):
        f, before = psd(x)
        _, after = psd(ac.band_limit(x, RATE, low, high))
        outside = band_energy(f, after, 0, low) + band_energy(f, after, high, RATE / 2)
        was = band_energy(f, before, 0, low) + band_energy(f, before, high, RATE / 2)
        assert db(outside / was) < -30
    inside = band_energy(f, after, low + 100, high - 100) / band_energy(
        f, before, low + 100, high - 100
    )
    assert abs(db(inside)) < 0.5


def test_8k_round_trip_removes_what_8k_cannot_carry(speech):
    x = speech[2]
    y = ac.narrowband(x, RATE)
    assert y.shape == x.shape
    f, before = psd(x)
    _, after = psd(y)
    assert db(band_energy(f, after, 4200, 8000) / band_energy(f, before, 4200, 8000)) < -30
    assert abs(db(band_energy(f, after, 100, 3500) / band_energy(f, before, 100, 3500))) < 0.5


def test_eq_gain_at_test_tones_matches_the_curve():
    curve = ac.random_eq(np.random.default_rng(3), bands=(4, 4))
    freqs = np.array([100.0, 250.0, 700.0, 1500.0, 3000.0, 6000.0])
    expected = curve.gain_db(freqs)
    assert np.all(np.abs(expected) <= 6.0) and np.ptp(expected) > 2.0
    t = np.arange(RATE) / RATE
    for freq, want in zip(freqs, expected, strict=True):
        tone = np.sin(2 * np.pi * freq * t)
        out = ac.equalize(tone, RATE, curve)
        mid = slice(RATE // 4, 3 * RATE // 4)
        got = 20 * math.log10(np.std(out[mid]) / np.std(tone[mid]))
        assert got == pytest.approx(want, abs=0.1), freq
    json.dumps(curve.to_json())


# ----------------------------------------------------------------------------- speaker
@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_perturbation_changes_tempo_and_pitch(factor):
    x = harmonic(150.0)
    y = ac.speed_perturb(x, factor)
    assert abs(y.size - x.size / factor) <= 1
    assert f0_of(y) / f0_of(x) == pytest.approx(factor, rel=0.005)


@pytest.mark.parametrize("semitones", [-3.0, -1.5, 2.0, 4.0])
def test_pitch_shift_moves_f0_and_keeps_duration(semitones):
    x = harmonic(140.0)
    y = ac.pitch_shift(x, RATE, semitones)
    assert abs(y.size / x.size - 1) < 0.01
    target = f0_of(x) * 2 ** (semitones / 12)
    assert abs(f0_of(y) / target - 1) < 0.03
    # in fact within 0.2 %: the resampler's ratio is exact to 1e-5 and WSOLA keeps periods
    assert abs(f0_of(y) / target - 1) < 0.002


def test_time_stretch_keeps_pitch(speech):
    x = harmonic(180.0)
    for factor in (0.8, 1.25):
        y = ac.time_stretch(x, RATE, factor)
        assert y.size == round(x.size * factor)
        assert f0_of(y) == pytest.approx(f0_of(x), rel=0.005)
    s = ac.pitch_shift(speech[0], RATE, -2.0)
    assert s.shape == speech[0].shape and np.all(np.isfinite(s))


def formant_peak(x: np.ndarray, f0: float) -> float:
    """The envelope peak: a parabola through the harmonics' dB levels within 8 dB of the top."""
    seg = x[RATE // 2 : RATE // 2 + RATE] * np.hanning(RATE)
    spectrum = np.abs(np.fft.rfft(seg))  # 1 Hz bins
    k = np.arange(1, int(7000 / f0))
    amps = np.array([spectrum[int(i * f0) - 3 : int(i * f0) + 4].max() for i in k])
    level = 20 * np.log10(amps / amps.max())
    top = level > -8
    c = np.polyfit(k[top] * f0, level[top], 2)
    return -c[1] / (2 * c[0])


@pytest.mark.parametrize("alpha", [0.9, 1.1])
def test_formant_warp_moves_the_spectral_peak_by_alpha_and_keeps_pitch(alpha):
    for f0, fc in ((100.0, 1000.0), (150.0, 1500.0), (120.0, 700.0)):
        x = harmonic(f0, fc=fc)
        y = ac.formant_shift(x, RATE, alpha)
        assert y.shape == x.shape
        assert formant_peak(y, f0) / formant_peak(x, f0) == pytest.approx(alpha, rel=0.03)
        assert f0_of(y) == pytest.approx(f0_of(x), rel=0.01)


def test_speaker_transform_alone(speech):
    realism = replace(ac.Realism(), speeds=(1.1,), p_pitch=1.0, p_formant=1.0)
    y, info = ac.speaker_transform(speech[0], RATE, np.random.default_rng(5), realism)
    assert set(info) == {"speed", "pitch_semitones", "formant_alpha"}
    assert abs(y.size - speech[0].size / 1.1) <= 1
    assert -2 <= info["pitch_semitones"] <= 2 and 0.9 <= info["formant_alpha"] <= 1.1


# ----------------------------------------------------------------------------- noise
@pytest.mark.parametrize(("kind", "exponent"), [("white", 0), ("pink", 1), ("brown", 2)])
def test_colored_noise_has_unit_rms_and_its_slope(kind, exponent):
    x = ac.colored_noise(5 * RATE + 17, exponent, np.random.default_rng(0))
    assert x.size == 5 * RATE + 17
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0, rel=1e-9)
    f, p = psd(x, 4096)
    sel = (f >= 100) & (f <= 4000)
    slope = np.polyfit(np.log10(f[sel]), 10 * np.log10(p[sel]), 1)[0]  # dB per decade
    assert slope == pytest.approx(-10 * exponent, abs=1.0)
    again = ac.colored_noise(5 * RATE + 17, exponent, np.random.default_rng(0))
    assert np.array_equal(x, again)


def test_babble_mixes_other_utterances(speech):
    calls = []

    def source(rng):
        calls.append(1)
        return speech[int(rng.integers(0, len(speech)))]

    x = ac.babble_noise(3 * RATE, source, np.random.default_rng(0), talkers=5)
    assert len(calls) == 5
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0)
    f, p = psd(x)
    assert band_energy(f, p, 100, 4000) / band_energy(f, p, 0, 8000) > 0.8  # speech-like


def test_hum_sits_on_mains_harmonics():
    x = ac.hum(2 * RATE, RATE, np.random.default_rng(0), mains=60.0)
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2  # 0.5 Hz bins
    f = np.fft.rfftfreq(x.size, 1 / RATE)
    near = np.abs(f - 60.0 * np.round(f / 60.0)) < 3.0
    assert spectrum[near].sum() / spectrum.sum() > 0.99
    assert f[int(np.argmax(spectrum))] == pytest.approx(60.0, abs=1.0)


@pytest.mark.parametrize("kind", ["white", "pink", "brown", "hum"])
@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
def test_mixing_hits_the_requested_snr(kind, snr):
    rng = np.random.default_rng(7)
    x = harmonic(130.0)  # steady: active level = mean power
    noise = (
        ac.hum(x.size, RATE, rng)
        if kind == "hum"
        else ac.colored_noise(x.size, ac.NOISE_EXPONENTS[kind], rng)
    )
    y = ac.mix_at_snr(x, noise, snr, RATE)
    measured = db(np.sum(x**2) / np.sum((y - x) ** 2))
    assert abs(measured - snr) < 0.5


def test_snr_ignores_padding_and_pauses(speech):
    x = speech[0]
    padded = np.concatenate([np.zeros(RATE), x, np.zeros(RATE)])
    noise = ac.colored_noise(padded.size, 1.0, np.random.default_rng(0))
    a = ac.mix_at_snr(x, noise[RATE : RATE + x.size], 10.0, RATE) - x
    b = ac.mix_at_snr(padded, noise, 10.0, RATE)[RATE : RATE + x.size] - x
    assert abs(db(np.sum(a**2) / np.sum(b**2))) < 0.5


def test_clip_reports_the_clipped_fraction(speech):
    x = speech[1] / np.max(np.abs(speech[1]))
    y, fraction = ac.clip(x, 0.3)
    assert np.max(np.abs(y)) == pytest.approx(0.3)
    assert fraction == pytest.approx(np.mean(np.abs(x) > 0.3)) and 0 < fraction < 0.5
    assert ac.clip(x, 2.0)[1] == 0.0


# ----------------------------------------------------------------------------- codecs
@pytest.mark.parametrize("codec", ["mulaw", "transform"])
def test_codecs_change_the_signal_but_keep_it_finite_and_in_range(codec, speech):
    x = 0.99 * speech[2] / np.max(np.abs(speech[2]))
    if codec == "mulaw":
        y = ac.mu_law(x, RATE)
    else:
        y = ac.transform_codec(x, RATE, cutoff_hz=4000, bits=3)
    assert y.shape == x.shape and np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0
    snr = db(np.sum(x**2) / np.sum((y - x) ** 2))
    assert 3 < snr < 35, snr  # audibly changed, still the same speech
    f, before = psd(x)
    _, after = psd(y)
    cut = 4200 if codec == "mulaw" else 4100
    assert db(band_energy(f, after, cut, 8000) / band_energy(f, before, cut, 8000)) < -30


def test_transform_codec_is_transparent_at_high_resolution(speech):
    x = speech[0]
    y = ac.transform_codec(x, RATE, cutoff_hz=8000, bits=12, floor_db=200)
    assert db(np.sum(x**2) / np.sum((y - x) ** 2)) > 50  # the MDCT reconstructs perfectly


# ----------------------------------------------------------------------------- the chain
def test_degrade_is_deterministic_in_range_and_described(speech):
    def source(rng):
        return speech[int(rng.integers(0, len(speech)))]

    seen: dict[str, set] = {}
    clean = 0
    for seed in range(60):
        x = speech[seed % 3]
        y, info = ac.degrade(x, RATE, np.random.default_rng(seed), babble=source)
        assert y.dtype == np.float32 and np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0
        assert x.size / 1.1 - 1 <= y.size <= x.size / 0.9 + 1
        assert json.loads(json.dumps(info)) == info
        for key, value in info.items():
            seen.setdefault(key, set()).add(json.dumps(value))
        clean += bool(info.get("clean"))
        if seed < 6:
            y2, info2 = ac.degrade(x, RATE, np.random.default_rng(seed), babble=source)
            assert np.array_equal(y, y2) and info == info2
    assert 0.1 < clean / 60 < 0.45
    for key in ("room_rt60", "noise", "snr", "eq", "band", "codec", "level_db", "speed"):
        assert key in seen, key
    assert {'"babble"', '"pink"'} <= seen["noise"]
    other, _ = ac.degrade(speech[0], RATE, np.random.default_rng(1), babble=source)
    first, _ = ac.degrade(speech[0], RATE, np.random.default_rng(0), babble=source)
    assert not np.array_equal(first, other)


def test_degrade_with_every_stage_on(speech):
    realism = replace(
        ac.Realism(),
        clean=0.0,
        speeds=(0.9,),
        p_pitch=1,
        p_formant=1,
        p_room=1,
        p_noise=1,
        p_eq=1,
        p_band=1,
        p_codec=1,
        p_clip=1,
        level_db=(-20.0, -20.0),
    )
    y, info = ac.degrade(speech[1], RATE, np.random.default_rng(3), realism)
    assert {"room_rt60", "noise", "snr", "eq", "band", "codec", "clip_fraction"} <= set(info)
    assert info["noise"] != "babble"  # no source given
    assert abs(y.size - speech[1].size / 0.9) <= 1 and np.max(np.abs(y)) <= 1.0


def test_degrade_without_speaker_keeps_length_and_clean_keeps_signal(speech):
    x = speech[0]
    realism = replace(ac.Realism(), speaker=False, clean=1.0, level_db=None)
    y, info = ac.degrade(x, RATE, np.random.default_rng(0), realism)
    assert info == {"clean": True}
    assert np.allclose(y, x.astype(np.float32) * min(1.0, 0.98 / np.max(np.abs(x))))


def test_bad_input_gets_a_one_line_error():
    rng = np.random.default_rng(0)
    cases = [
        (lambda: ac.degrade(np.zeros((2, 100)), RATE, rng), "1-D"),
        (lambda: ac.degrade(np.array([0.1, np.nan]), RATE, rng), "NaN"),
        (lambda: ac.degrade(np.zeros(0), RATE, rng), "empty"),
        (lambda: ac.Realism(p_room=1.5), "p_room"),
        (lambda: ac.Realism(noise_kinds=("rain",)), "rain"),
        (lambda: ac.Realism(rt60=(0.8, 0.1)), "rt60"),
        (lambda: ac.room_impulse_response(0.0, RATE, rng), "rt60"),
        (lambda: ac.band_limit(np.zeros(10), 8000, 300, 7000), "Nyquist"),
        (lambda: ac.pitch_shift(np.zeros(10), RATE, 30), "semitones"),
        (lambda: ac.mix_at_snr(np.zeros(10), np.ones(10), 10, RATE), "silent"),
        (lambda: ac.degrade(np.zeros(100), 44.5, rng), "sample rate"),
    ]
    for call, words in cases:
        with pytest.raises(ac.AcousticsError, match=words) as err:
            call()
        assert isinstance(err.value, EdgeASRError) and "\n" not in str(err.value)


def test_augment_version_is_an_int():
    assert isinstance(ac.AUGMENT_VERSION, int) and ac.AUGMENT_VERSION >= 1
