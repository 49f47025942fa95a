"""runtime.audio on real WAVs: every format written by an independent writer (libsndfile through
soundfile), resampling quality and speed, and a clear AudioError for every bad input."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge_asr.data.espeak import synthesize
from runtime.audio import AudioError, pcm16_to_float, read_audio, resample, write_wav
from runtime.errors import EdgeASRError


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    """Real (synthetic) speech at espeak's native 22050 Hz, peak ~0.5."""
    x, rate = synthesize("Seven hundred and forty two people crossed the bridge.", "en-us+m3")
    return (x / np.abs(x).max() * 0.5).astype(np.float32), rate


def _riff(
    payload: bytes,
    code: int = 1,
    channels: int = 1,
    rate: int = 16000,
    bits: int = 16,
    data_size: int | None = None,
) -> bytes:
    """A hand-made WAV image, for the malformed cases no library would write."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", code, channels, rate, rate * block, block, bits)
    size = len(payload) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data"
    body += struct.pack("<I", size) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _tone(freqs, rate: int, seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return sum(amp * np.sin(2 * np.pi * f * t) for f in freqs)


def _spectrum_db(x: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    spec = np.abs(np.fft.rfft(x * np.blackman(len(x))))
    return np.fft.rfftfreq(len(x), 1 / rate), 20 * np.log10(spec / spec.max() + 1e-20)


# ------------------------------------------------------------------ formats
@pytest.mark.parametrize(
    ("subtype", "fmt", "atol"),
    [
        ("PCM_U8", "WAV", 0),
        ("PCM_16", "WAV", 0),
        ("PCM_24", "WAV", 0),
        ("PCM_32", "WAV", 0),
        ("FLOAT", "WAV", 0),
        ("DOUBLE", "WAV", 0),
        ("PCM_24", "WAVEX", 0),  # WAVE_FORMAT_EXTENSIBLE
        ("FLOAT", "WAVEX", 0),
    ],
)
def test_every_format_reads_like_libsndfile(tmp_path, speech, subtype, fmt, atol):
    x, rate = speech
    path = tmp_path / f"speech_{subtype}_{fmt}.wav"
    sf.write(path, x, rate, subtype=subtype, format=fmt)
    ours = read_audio(path, target_rate=rate)
    ref, ref_rate = sf.read(path, dtype="float64")
    assert ref_rate == rate and ours.dtype == np.float32 and ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=atol + 1e-7)
    # and the speech survived the format (8-bit is coarse)
    np.testing.assert_allclose(ours, x, atol=1 / 64 if subtype == "PCM_U8" else 1e-4)


@pytest.mark.parametrize("channels", [2, 3])
def test_multichannel_is_averaged(tmp_path, speech, channels):
    x, rate = speech
    tone = _tone([440], rate, len(x) / rate)[: len(x)]
    data = np.stack([x, tone, -x][:channels], axis=1)
    path = tmp_path / f"multi{channels}.wav"
    sf.write(path, data, rate, subtype="PCM_16")
    ours = read_audio(path, target_rate=rate)
    np.testing.assert_allclose(ours, sf.read(path)[0].mean(axis=1), atol=1e-7)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_any_rate_is_resampled_to_16k(tmp_path, rate):
    freqs = [440.0, 3000.0] if rate == 8000 else [440.0, 3000.0, 7000.0]
    path = tmp_path / f"tones_{rate}.wav"
    write_wav(path, _tone(freqs, rate, 1.0), rate)
    ours = read_audio(path)
    assert len(ours) == 16000
    expected = _tone(freqs, 16000, 1.0)
    # the interior, away from the zero-padded ends; 16-bit quantization + passband ripple
    np.testing.assert_allclose(ours[400:-400], expected[400:-400], atol=3e-3)


def test_speech_resampled_keeps_its_energy(tmp_path, speech):
    x, rate = speech
    path = tmp_path / "speech.wav"
    write_wav(path, x, rate)
    y = read_audio(path)
    assert abs(len(y) - len(x) * 16000 / rate) <= 1
    ratio = np.mean(y.astype(np.float64) ** 2) / np.mean(x.astype(np.float64) ** 2)
    assert 0.97 < ratio < 1.01  # espeak has little energy above 8 kHz


# ------------------------------------------------------------------ resample quality and speed
@pytest.mark.parametrize(
    ("src", "freq"), [(22050, 1234.5), (44100, 5000.0), (48000, 700.0), (8000, 3000.0)]
)
def test_resample_keeps_tone_frequency_and_amplitude(src, freq):
    x = _tone([freq], src, 2.0, amp=0.5)
    y = resample(x, src, 16000)
    assert y.dtype == np.float32 and len(y) == 32000
    mid = y[2000:-2000].astype(np.float64)
    t = (np.arange(len(mid)) + 2000) / 16000
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, mid, rcond=None)
    assert abs(np.hypot(*coef) - 0.5) < 0.005
    assert np.abs(mid - basis @ coef).max() < 1e-3  # nothing but the tone
    f, db = _spectrum_db(y, 16000)
    assert abs(f[np.argmax(db)] - freq) < 2


@pytest.mark.parametrize(
    ("src", "high"), [(22050, 10000.0), (44100, 9000.0), (48000, 12000.0), (44100, 20000.0)]
)
def test_resample_attenuates_aliases(src, high):
    """A tone above the new Nyquist (8 kHz) must not fold back into the band."""
    x = _tone([1000.0], src, 2.0) + _tone([high], src, 2.0)
    y = resample(x, src, 16000)[1000:-1000]
    f, db = _spectrum_db(y, 16000)
    alias = 16000 - high if high < 16000 else abs(high - 16000 * round(high / 16000))
    near = np.abs(f - alias) < 30
    assert db[near].max() < -40, f"alias at {alias} Hz only {-db[near].max():.0f} dB down"


def test_upsampling_suppresses_images():
    y = resample(_tone([3000.0], 8000, 2.0), 8000, 16000)[1000:-1000]
    f, db = _spectrum_db(y, 16000)
    assert db[np.abs(f - 5000) < 30].max() < -40  # the image of 3 kHz at 8 - 3 kHz


@pytest.mark.parametrize("src", [22050, 44100, 48000, 8000])
def test_resample_is_fast(speech, src):
    x = np.tile(speech[0], 1 + int(20 * src / len(speech[0])))[: 20 * src]  # 20 s
    best = min(_timed(resample, x, src, 16000) for _ in range(3))
    assert 20 / best >= 200, f"{src} -> 16000 only {20 / best:.0f}x real time"


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def test_resample_identity_and_empty():
    x = np.linspace(-1, 1, 100, dtype=np.float32)
    np.testing.assert_array_equal(resample(x, 16000, 16000), x)
    assert resample(np.zeros(0), 44100, 16000).shape == (0,)
    assert len(resample(np.ones(3), 44100, 16000)) == 2  # ceil(3 * 160 / 441)


# ------------------------------------------------------------------ writing and raw PCM
def test_write_wav_round_trip_is_atomic(tmp_path, speech):
    x, rate = speech
    path = tmp_path / "sub" / "out.wav"
    write_wav(path, x, rate)
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.wav"]  # no temp left behind
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype) == (rate, 1, "PCM_16")
    np.testing.assert_allclose(read_audio(path, target_rate=rate), x, atol=1 / 32767)
    with pytest.raises(AudioError, match="NaN"):
        write_wav(tmp_path / "bad.wav", np.array([0.0, np.nan]), rate)
    assert not (tmp_path / "bad.wav").exists()


def test_pcm16_to_float():
    raw = np.array([0, 16384, -32768, 32767], dtype="<i2").tobytes()
    np.testing.assert_allclose(pcm16_to_float(raw), [0, 0.5, -1, 32767 / 32768])
    assert pcm16_to_float(b"").shape == (0,)
    with pytest.raises(AudioError, match="even number of bytes"):
        pcm16_to_float(b"\x00\x01\x02")


def test_truncated_data_reads_whole_frames(tmp_path):
    pcm = (np.arange(-100, 100, dtype="<i2") * 100).tobytes()  # 100 stereo 16-bit frames
    path = tmp_path / "cut.wav"
    path.write_bytes(_riff(pcm[:-3], channels=2, data_size=len(pcm) * 4))
    y = read_audio(path)
    frames = (len(pcm) - 3) // 4
    expected = np.frombuffer(pcm[: frames * 4], "<i2").reshape(-1, 2).mean(axis=1) / 32768
    np.testing.assert_allclose(y, expected, atol=1e-7)


# ------------------------------------------------------------------ bad input
def _bad(path: Path, content: bytes | None) -> Path:
    if content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("missing.wav", lambda p: None, "no such file"),
        ("notes.wav", lambda p: b"hello, this is a text file\n" * 4, "not a WAV file"),
        ("empty.wav", lambda p: b"", "empty (0 bytes)"),
        ("noid3.mp3", lambda p: b"\xff\xfb\x90\x64" + bytes(400), "looks like MP3"),
        ("id3.mp3", lambda p: b"ID3\x04" + bytes(400), "looks like MP3"),
        ("short.wav", lambda p: b"RIFF\x10\x00", "truncated WAV header"),
        ("header.wav", lambda p: _riff(b"\x00\x00" * 50)[:30], "truncated WAV header"),
        ("zero.wav", lambda p: _riff(b""), "no audio samples"),
        ("half_frame.wav", lambda p: _riff(b"\x01\x02", channels=2), "no audio samples"),
        ("adpcm.wav", lambda p: _riff(b"\x00" * 64, code=2, bits=4), "unsupported"),
        ("mulaw.wav", lambda p: _riff(b"\x00" * 64, code=7, bits=8), "format code 0x0007"),
        ("pcm12.wav", lambda p: _riff(b"\x00" * 64, bits=12), "bit depth 12"),
        ("pcm40.wav", lambda p: _riff(b"\x00" * 60, bits=40), "PCM bit depth 40"),
        ("float16.wav", lambda p: _riff(b"\x00" * 64, code=3, bits=16), "float bit depth 16"),
        ("norate.wav", lambda p: _riff(b"\x00" * 64, rate=0), "sample rate of 0"),
        ("mulaw2.wav", lambda p: _riff(b"\x00" * 64, code=7, bits=8), "PCM 8/16/24/32-bit"),
        (
            "nan.wav",
            lambda p: _riff(np.array([0.1, np.nan, 0.2], "<f4").tobytes(), code=3, bits=32),
            "NaN or Inf",
        ),
        (
            "inf.wav",
            lambda p: _riff(np.array([0.1, np.inf], "<f8").tobytes(), code=3, bits=64),
            "NaN or Inf",
        ),
    ],
)
def test_bad_input_is_a_clear_audio_error(tmp_path, name, make, message):
    path = _bad(tmp_path / name, make(tmp_path))
    with pytest.raises(AudioError) as info:
        read_audio(path)
    text = str(info.value)
    assert message in text and str(path) in text
    assert "\n" not in text and isinstance(info.value, EdgeASRError)


def test_flac_and_ogg_point_to_the_data_loader(tmp_path, speech):
    x, rate = speech
    for fmt, ext in (("FLAC", "flac"), ("OGG", "ogg")):
        path = tmp_path / f"speech.{ext}"
        sf.write(path, x, rate, format=fmt)
        with pytest.raises(AudioError, match=f"not a WAV file .*convert FLAC/OGG/MP3.*{fmt}"):
            read_audio(path)


def test_directory_is_a_clear_error(tmp_path):
    with pytest.raises(AudioError, match="directory"):
        read_audio(tmp_path)


@pytest.mark.parametrize(
    ("src", "dst"), [(44100, 16000), (48000, 16000), (8000, 16000), (22050, 16000), (44101, 16000)]
)
def test_stream_resampler_equals_whole_signal(src, dst):
    """Any chunking through ``Resampler`` equals ``resample`` of the whole (polyphase and the
    direct path for co-prime rates), so a microphone at 44.1 kHz streams exactly."""
    from runtime.audio import Resampler

    rng = np.random.default_rng(src)
    x = rng.normal(size=src).astype(np.float32)
    whole = resample(x, src, dst)
    stream, parts, i = Resampler(src, dst), [], 0
    while i < len(x):
        n = int(rng.integers(1, 3000))
        parts.append(stream.push(x[i : i + n]))
        i += n
    parts.append(stream.flush())
    chunked = np.concatenate(parts)
    assert len(chunked) == len(whole) == -(-len(x) * dst // src)
    assert np.abs(chunked - whole).max() <= 2e-6
