"""A WAV on stdin (``transcribe --stream``): metadata chunks after the data chunk are not
audio, a header larger than 64 KiB (a big LIST chunk before the data) is read past in
bounded memory, and a streamed WAV of unknown length is read to the end of input."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime.audio import AudioError, read_audio
from runtime.stdin_audio import detect

RATE = 16000


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def wav_bytes(
    pcm: np.ndarray,
    rate: int = RATE,
    before: bytes = b"",
    after: bytes = b"",
    data_size: int | None = None,
    channels: int = 1,
) -> bytes:
    """A 16-bit PCM WAV with extra chunks ``before`` and ``after`` the data chunk."""
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    data = pcm.astype("<i2").tobytes()
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + chunk(b"fmt ", fmt) + before + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body) + len(after)) + body + after


def info_list(text: str, pad_to: int = 0) -> bytes:
    """A LIST/INFO chunk (title, software), optionally padded with a JUNK sub-chunk."""
    items = chunk(b"INAM", text.encode() + b"\0") + chunk(b"ISFT", b"Lavf60.16.100\0")
    if pad_to:
        items += chunk(b"JUNK", bytes(pad_to))
    return chunk(b"LIST", b"INFO" + items)


class Trickle(io.RawIOBase):
    """A pipe that returns at most ``step`` bytes per read and counts what was read."""

    def __init__(self, data: bytes, step: int = 4096) -> None:
        self._data, self._pos, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._step if n < 0 else min(n, self._step)
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out


def drain(data: bytes, step: int = 4096) -> tuple[np.ndarray, Trickle]:
    """Decode ``data`` as the CLI does: detect, then blocks until the data chunk ends."""
    pipe = Trickle(data, step)
    pcm, head = detect(pipe, RATE)  # type: ignore[arg-type]
    out = [pcm.decode(head)]
    while not pcm.finished and (block := pipe.read(3200)):
        out.append(pcm.decode(block))
    return np.concatenate(out), pipe


def test_metadata_after_the_data_chunk_is_not_audio():
    pcm = (np.sin(np.arange(8000) / 7.0) * 20000).astype(np.int16)
    junk = info_list("a title written at the end") + chunk(b"id3 ", bytes(range(256)) * 8)
    samples, _ = drain(wav_bytes(pcm, after=junk))
    np.testing.assert_array_equal(samples, pcm / np.float32(32768))


def test_header_over_64_kib_is_read_past():
    pcm = (np.cos(np.arange(4000) / 3.0) * 9000).astype(np.int16)
    before = info_list("cover art next", pad_to=300_000) + chunk(b"fact", struct.pack("<I", 4000))
    data = wav_bytes(pcm, before=before, after=info_list("trailer", pad_to=20_000))
    assert data.index(b"data") > 300_000
    samples, pipe = drain(data, step=1000)
    np.testing.assert_array_equal(samples, pcm / np.float32(32768))
    assert pipe._pos < len(data)  # the trailing chunk was never read


@pytest.mark.parametrize("declared", [0, 0xFFFFFFFF])
def test_streamed_wav_of_unknown_length_reads_to_the_end(declared: int):
    pcm = np.arange(-3000, 3000, 3, dtype=np.int16)
    stereo = np.stack([pcm, pcm], axis=1).reshape(-1)
    samples, _ = drain(wav_bytes(stereo, data_size=declared, channels=2), step=777)
    np.testing.assert_array_equal(samples, pcm / np.float32(32768))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"RIFF\x10\0\0\0WAVEfmt ", "ends before its first sample"),
        (b"RIFF\x10\0\0\0WAVE" + chunk(b"LIST", bytes(1000))[:500], "ends before its first"),
        (wav_bytes(np.zeros(0, np.int16)), "ends before its first sample"),
        (b"RIFF\x10\0\0\0WAVE" + b"data\x04\0\0\0abcd", "data chunk before fmt chunk"),
        (b"RIFF\x10\0\0\0AVI LIST", "not a WAV file"),
    ],
)
def test_broken_wav_streams_are_one_line_errors(data: bytes, message: str):
    with pytest.raises(AudioError, match=message):
        detect(io.BytesIO(data), RATE)


def test_stream_cli_reads_a_wav_with_metadata_on_both_sides(tiny_bundle: Path, tiny_corpus: Path):
    """End to end: the final text is the file's (trailing metadata would add noise frames)."""
    from runtime.recognizer import Recognizer

    wav = sorted(tiny_corpus.glob("wav/test/*.wav"))[0]
    audio = read_audio(wav)
    pcm = np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16)
    after = chunk(b"LIST", b"INFO" + np.random.default_rng(0).bytes(64_000))  # loud if decoded
    data = wav_bytes(pcm, before=info_list("a long header", pad_to=100_000), after=after)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge_asr",
            "transcribe",
            str(tiny_bundle),
            "--stream",
            "--json",
            "--endpoint",
            "0",
        ],
        input=data,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    final = json.loads(proc.stdout.decode().splitlines()[-1])
    rec = Recognizer.from_bundle(tiny_bundle, streaming=True)
    whole = rec.transcribe(pcm / np.float32(32768))
    assert final["final"] is True
    assert (final["text"], final["end"]) == (whole.text, whole.end)
