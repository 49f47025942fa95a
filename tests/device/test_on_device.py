"""The runtime's own checks, run ON the target (inside the emulated aarch64 root by
tests/test_aarch64.py; natively too): audio, features, decoding, bundle checks, streaming.

Only numpy, pytest and ``runtime`` are importable on the device (no TensorFlow, soundfile,
hypothesis or espeak), so these tests build their inputs from the bundle and WAVs staged for
them: ``EDGE_ASR_DEVICE_BUNDLE`` (a bundle directory) and ``EDGE_ASR_DEVICE_WAVS``
(colon-separated WAV paths). Without them (a plain host run) the module is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

BUNDLE = os.environ.get("EDGE_ASR_DEVICE_BUNDLE")
WAVS = [w for w in os.environ.get("EDGE_ASR_DEVICE_WAVS", "").split(":") if w]
pytestmark = pytest.mark.skipif(
    not (BUNDLE and WAVS),
    reason="device-side tests: run inside the target by tests/test_aarch64.py",
)


def test_wav_round_trip_and_resampling_keep_the_signal(tmp_path: Path):
    from runtime.audio import read_audio, resample, write_wav

    t = np.arange(16000) / 16000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    write_wav(tmp_path / "t.wav", tone, 16000)
    back = read_audio(tmp_path / "t.wav", 16000)
    assert np.max(np.abs(back - tone)) < 1e-4
    up = resample(tone, 16000, 44100)
    spectrum = np.abs(np.fft.rfft(up * np.hanning(len(up))))
    assert abs(np.argmax(spectrum) * 44100 / len(up) - 440) < 2
    assert abs(np.sqrt(np.mean(up**2)) - np.sqrt(np.mean(tone**2))) < 0.01


def test_bad_audio_is_a_clear_error(tmp_path: Path):
    from runtime.audio import AudioError, read_audio

    (tmp_path / "x.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(AudioError):
        read_audio(tmp_path / "x.wav")


def test_streaming_features_equal_offline():
    from runtime.audio import read_audio
    from runtime.bundle import Bundle
    from runtime.features import FeatureStream, extract

    config = Bundle.load(BUNDLE).features
    x = read_audio(WAVS[0], config.sample_rate)
    whole = extract(x, config)
    stream = FeatureStream(config)
    parts = [stream.push(x[i : i + 1234]) for i in range(0, len(x), 1234)]
    parts.append(stream.flush())
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-5)


def test_greedy_and_beam_decoding():
    from runtime.decoding import beam_search, greedy_decode, to_log_probs

    probs = np.full((6, 29), 1e-3, np.float32)
    for frame, label in enumerate([2, 2, 28, 3, 28, 4]):
        probs[frame, label] = 1.0
    probs /= probs.sum(axis=1, keepdims=True)
    lp = to_log_probs(probs)
    assert greedy_decode(lp) == [2, 3, 4]
    assert beam_search(lp, beam_width=8) == [2, 3, 4]


def test_tampered_artifact_and_newer_schema_are_refused(tmp_path: Path):
    from runtime.bundle import Bundle, BundleError
    from runtime.errors import EdgeASRError
    from runtime.recognizer import Recognizer

    dst = tmp_path / "b"
    shutil.copytree(BUNDLE, dst)
    art = Bundle.load(dst).artifacts[0]
    with open(dst / art.file, "r+b") as fh:
        fh.seek(100)
        byte = fh.read(1)
        fh.seek(100)
        fh.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(EdgeASRError, match=r"sha256|tampered|changed"):
        Recognizer.from_bundle(dst, art.name)
    doc = json.loads((dst / "bundle.json").read_text())
    doc["schema_version"] = 999
    (dst / "bundle.json").write_text(json.dumps(doc))
    with pytest.raises(BundleError, match=r"newer|schema"):
        Bundle.load(dst)


def test_every_artifact_transcribes_and_streaming_equals_offline():
    from runtime.audio import read_audio
    from runtime.bundle import Bundle
    from runtime.recognizer import Recognizer

    bundle = Bundle.load(BUNDLE)
    for art in bundle.artifacts:
        if not art.passed:
            continue
        rec = Recognizer.from_bundle(BUNDLE, art.name)
        text = rec.transcribe(WAVS[0]).text
        if art.streaming:
            stream = rec.create_stream()
            x = read_audio(WAVS[0], rec.sample_rate)
            for i in range(0, len(x), 3200):
                stream.accept_waveform(rec.sample_rate, x[i : i + 3200])
            assert rec.finish(stream).text == text, art.name
