"""runtime.features against its references (the seed's spectrogram, python_speech_features),
its JSON contract, normalization, and streaming == offline for any chunking."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import python_speech_features as psf  # needs scipy (dev extra)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_asr.data.espeak import synthesize
from runtime.audio import resample
from runtime.errors import EdgeASRError
from runtime.features import (
    FeatureConfig,
    FeatureConfigError,
    FeatureStream,
    extract,
    extract_raw,
    fit_stats,
)

_BENCH = Path(__file__).resolve().parents[1] / "bench" / "features.py"
_spec = importlib.util.spec_from_file_location("bench_features", _BENCH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)  # the seed's reference spectrogram lives there, verbatim


def _speech(text: str, voice: str = "en-us") -> np.ndarray:
    x, rate = synthesize(text, voice)
    x16 = resample(x, rate, 16000)
    rng = np.random.default_rng(len(text))
    return (x16 + rng.standard_normal(len(x16)).astype(np.float32) * 1e-3).astype(np.float32)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return _speech("The quick brown fox jumps over the lazy dog. Seven hundred and forty two.")


SPEECH_CACHE: dict[str, np.ndarray] = {}


def speech_clip() -> np.ndarray:
    if "clip" not in SPEECH_CACHE:
        SPEECH_CACHE["clip"] = _speech("Please call Stella.", "en-us+f3")
    return SPEECH_CACHE["clip"]


# ------------------------------------------------------------------ references
@pytest.mark.parametrize("length", [None, 320, 321, 479, 480, 481, 16000])
def test_spectrogram_equals_seed(speech, length):
    x = speech if length is None else speech[:length]
    ours = extract(x, FeatureConfig.spectrogram())
    ref = bench.seed_spectrogram_features(x)
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape == (len(ref), 161)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5)


def test_spectrogram_other_settings_equal_seed(speech):
    cfg = FeatureConfig.spectrogram(window_ms=25, step_ms=12, max_freq=4000)
    ref = bench.seed_spectrogram_features(speech, step=12, window=25, max_freq=4000)
    assert cfg.dim == ref.shape[1] == 101
    np.testing.assert_allclose(extract(speech, cfg), ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("length", [None, 1, 399, 400, 401, 560, 16001])
def test_mfcc_matches_python_speech_features(speech, length):
    # psf is fed float64: given float32 it pre-emphasizes in float32 and drifts by ~2e-5 itself.
    x = (speech if length is None else speech[:length]).astype(np.float64)
    ours = extract(x, FeatureConfig.mfcc())
    ref = psf.mfcc(x, samplerate=16000)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-4)
    np.testing.assert_allclose(extract_raw(x, FeatureConfig.mfcc()), ref, rtol=0, atol=1e-9)


def test_mfcc_non_default_settings_match_psf(speech):
    x = speech.astype(np.float64)
    cfg = FeatureConfig.mfcc(
        n_mfcc=20, n_filters=40, preemphasis=0.0, ceplifter=0, append_energy=False, step_ms=15
    )
    ref = psf.mfcc(
        x, 16000, winstep=0.015, numcep=20, nfilt=40, preemph=0, ceplifter=0, appendEnergy=False
    )
    np.testing.assert_allclose(extract_raw(x, cfg), ref, rtol=0, atol=1e-9)


# ------------------------------------------------------------------ sizes and short audio
def test_dims_and_sizes():
    spec, mfcc = FeatureConfig.spectrogram(), FeatureConfig.mfcc()
    assert (spec.dim, spec.window, spec.step, spec.window_ms) == (161, 320, 160, 20)
    assert (mfcc.dim, mfcc.window, mfcc.step, mfcc.window_ms) == (13, 400, 160, 25)


@pytest.mark.parametrize("kind", ["spectrogram", "mfcc"])
@pytest.mark.parametrize("n", [0, 1, 2, 159, 319, 320, 399, 400, 401, 481, 1000])
def test_short_audio_and_num_frames(kind, n):
    cfg = FeatureConfig(kind=kind)
    x = speech_clip()[:n]
    feats = extract(x, cfg)
    assert feats.shape == (cfg.num_frames(n), cfg.dim)
    if kind == "spectrogram":
        assert len(feats) == (0 if n < 320 else (n - 320) // 160 + 1)
    else:
        assert len(feats) == (0 if n == 0 else max(1, 1 + -(-(n - 400) // 160)))
        if n:
            ref = psf.mfcc(x.astype(np.float64), 16000)
            np.testing.assert_allclose(feats, ref, rtol=0, atol=1e-4)
    assert np.all(np.isfinite(feats))


def test_bad_samples_are_clear_errors():
    with pytest.raises(FeatureConfigError, match="1-D"):
        extract(np.zeros((2, 400)), FeatureConfig.mfcc())
    with pytest.raises(FeatureConfigError, match="numbers"):
        extract(["a", "b"], FeatureConfig.mfcc())


# ------------------------------------------------------------------ config contract
def test_json_round_trip_with_stats():
    cfg = FeatureConfig.mfcc().with_stats(np.arange(13) * 0.5, np.ones(13) * 2)
    text = cfg.to_json()
    data = json.loads(text)
    assert data["kind"] == "mfcc" and data["window_ms"] == 25 and len(data["mean"]) == 13
    assert data["dim"] == 13 and FeatureConfig.spectrogram().to_dict()["dim"] == 161
    back = FeatureConfig.from_json(text)
    assert back == cfg
    assert FeatureConfig.from_dict(FeatureConfig.spectrogram().to_dict()) == FeatureConfig()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "fbank"}, "unknown feature kind"),
        ({"kind": "spectrogram", "step_ms": 30}, "step_ms"),
        ({"kind": "spectrogram", "max_freq": 9000}, "max_freq"),
        ({"kind": "spectrogram", "mean": [0.0] * 13, "std": [1.0] * 13}, "dim 161"),
        ({"kind": "mfcc", "mean": [0.0] * 13}, "together"),
        ({"kind": "mfcc", "n_fft": 256}, "n_fft"),
        ({"kind": "mfcc", "n_mfcc": 30}, "n_mfcc"),
        ({"kind": "mfcc", "bogus": 1}, "unknown feature config keys: bogus"),
        ({"window_ms": 20}, "no 'kind'"),
        ({"kind": "mfcc", "sample_rate": "16k"}, "sample_rate"),
        ({"kind": "spectrogram", "dim": 13}, "says dim 13 but its settings give 161"),
    ],
)
def test_invalid_configs(data, message):
    with pytest.raises(FeatureConfigError, match=message) as info:
        FeatureConfig.from_dict(data)
    assert isinstance(info.value, EdgeASRError)


def test_bad_json_is_a_clear_error():
    with pytest.raises(FeatureConfigError, match="not valid JSON"):
        FeatureConfig.from_json("{kind: mfcc")
    with pytest.raises(FeatureConfigError, match="JSON object"):
        FeatureConfig.from_json("[1, 2]")


# ------------------------------------------------------------------ normalization
@pytest.mark.parametrize("kind", ["spectrogram", "mfcc"])
def test_fit_stats_and_normalization(speech, kind):
    cfg = FeatureConfig(kind=kind)
    pieces = [extract_raw(speech[i : i + 9000], cfg) for i in range(0, len(speech), 9000)]
    pieces.append(np.zeros((0, cfg.dim)))
    mean, std = fit_stats(iter(pieces))
    allf = np.concatenate(pieces)
    np.testing.assert_allclose(mean, allf.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(std, allf.std(axis=0), rtol=1e-10, atol=1e-12)

    norm_cfg = cfg.with_stats(mean, std)
    assert norm_cfg.normalized and not cfg.normalized
    feats = extract(speech, norm_cfg)
    raw = extract_raw(speech, cfg)
    np.testing.assert_allclose(feats, (raw - mean) / (std + 1e-14), rtol=1e-6, atol=1e-5)
    whole = np.concatenate(
        [extract(speech[i : i + 9000], norm_cfg) for i in range(0, len(speech), 9000)]
    )
    np.testing.assert_allclose(whole.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(whole.std(axis=0), 1, atol=1e-4)


def test_fit_stats_errors():
    with pytest.raises(FeatureConfigError, match="no frames"):
        fit_stats([])
    with pytest.raises(FeatureConfigError, match="differ in dim"):
        fit_stats([np.zeros((3, 13)), np.zeros((3, 161))])


# ------------------------------------------------------------------ streaming
def _stream(cfg: FeatureConfig, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    stream = FeatureStream(cfg)
    out, pos, i = [], 0, 0
    while pos < len(x):
        size = sizes[i % len(sizes)] if sizes else len(x)
        chunk = x[pos : pos + size]
        got = stream.push(chunk)
        assert got.dtype == np.float32 and got.shape[1] == cfg.dim
        out.append(got)
        pos += size
        i += 1
    out.append(stream.flush())
    return np.concatenate(out)


def _configs() -> list[FeatureConfig]:
    spec, mfcc = FeatureConfig.spectrogram(), FeatureConfig.mfcc()
    rng = np.random.default_rng(0)
    return [
        spec,
        mfcc,
        spec.with_stats(rng.normal(-10, 2, 161), rng.uniform(1, 3, 161)),
        mfcc.with_stats(rng.normal(0, 5, 13), rng.uniform(1, 10, 13)),
    ]


CONFIGS = _configs()


@pytest.mark.parametrize("cfg", CONFIGS, ids=["spec", "mfcc", "spec-norm", "mfcc-norm"])
@pytest.mark.parametrize("size", [1, 16, 160, 400, 1000])
def test_stream_fixed_chunks_equal_extract(cfg, size):
    x = speech_clip()[: 4000 if size == 1 else None]
    np.testing.assert_allclose(_stream(cfg, x, [size]), extract(x, cfg), rtol=0, atol=1e-5)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cfg_index=st.integers(0, len(CONFIGS) - 1),
    start=st.integers(0, 4000),
    length=st.integers(0, 3000),
    sizes=st.lists(st.integers(0, 700), min_size=1, max_size=12).filter(any),
)
def test_stream_any_chunking_equals_extract(cfg_index, start, length, sizes):
    cfg = CONFIGS[cfg_index]
    x = speech_clip()[start : start + length]
    expected = extract(x, cfg)
    got = _stream(cfg, x, sizes)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_stream_empty_pushes_and_reuse():
    cfg = FeatureConfig.mfcc()
    stream = FeatureStream(cfg)
    assert stream.push(np.zeros(0)).shape == (0, 13)
    assert stream.flush().shape == (0, 13)  # nothing pushed: no frames, like extract
    x = speech_clip()[:1234]
    first = np.concatenate(
        [stream.push(x[:700]), stream.push([]), stream.push(x[700:]), stream.flush()]
    )
    again = np.concatenate([stream.push(x), stream.flush()])  # flush reset the stream
    np.testing.assert_allclose(first, extract(x, cfg), atol=1e-5)
    np.testing.assert_array_equal(first, again)
    assert stream.frames_emitted == 0 and stream.samples_seen == 0
