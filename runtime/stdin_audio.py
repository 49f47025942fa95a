"""What arrives on stdin for ``edge-asr transcribe --stream``: raw S16_LE PCM, or a WAV stream.

A WAV header (``RIFF``) is walked chunk by chunk as it arrives: chunks before ``data`` other
than ``fmt`` (LIST/INFO metadata, cover art, ``fact``, ...) are read past without being kept,
so a header of any size up to ``MAX_SKIPPED`` costs no memory, and the format is then checked
by ``runtime.audio``'s reader (rate, channels and sample format honoured). The data chunk's
declared size ends the audio: chunks after it (metadata written at the end) are not read as
samples. A declared size of 0 or 0xFFFFFFFF (a writer that streamed without knowing the
length) means "until end of input". FLAC and Ogg are refused in one line.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

import numpy as np

from runtime.audio import AudioError, WavInfo, decode_frames, parse_wav_header

__all__ = ["MAX_SKIPPED", "PcmDecoder", "detect"]

#: Bytes of non-audio chunks before ``data`` read past before giving up (a stream of garbage
#: after a RIFF tag is refused rather than read forever); real metadata is far smaller.
MAX_SKIPPED = 64 << 20
_UNKNOWN_SIZES = (0, 0xFFFFFFFF)
_PIECE = 1 << 16


class PcmDecoder:
    """Bytes to mono float32 samples, carrying an incomplete frame to the next call and
    stopping at the end of the data chunk (``remaining`` bytes; None: until end of input)."""

    def __init__(self, info: WavInfo, remaining: int | None = None) -> None:
        self.info = info
        self.rate = info.rate
        self.frame_bytes = info.frame_bytes
        self.remaining = remaining
        self._carry = b""

    @property
    def finished(self) -> bool:
        """True once the data chunk's declared bytes have all arrived."""
        return self.remaining == 0

    def decode(self, data: bytes) -> np.ndarray:
        if self.remaining is not None:
            data = data[: self.remaining]
            self.remaining -= len(data)
        data = self._carry + data
        cut = len(data) - len(data) % self.frame_bytes
        self._carry = data[cut:]
        return decode_frames(data[:cut], self.info, "stdin").astype(np.float32)


def _read(stdin: BinaryIO, n: int) -> bytes:
    """Exactly ``n`` bytes, or fewer at end of input (a pipe may return short reads)."""
    parts, got = [], 0
    while got < n:
        part = stdin.read(n - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _skip(stdin: BinaryIO, n: int) -> int:
    """Read past ``n`` bytes in bounded pieces; return how many there were."""
    left = n
    while left > 0 and (piece := stdin.read(min(left, _PIECE))):
        left -= len(piece)
    return n - left


def detect(stdin: BinaryIO, raw_rate: int) -> tuple[PcmDecoder, bytes]:
    """The decoder for what ``stdin`` holds and the audio bytes already read past the header
    (raw PCM is S16_LE mono at ``raw_rate``)."""
    head = _read(stdin, 4)
    if head in (b"fLaC", b"OggS"):
        kind = "FLAC" if head == b"fLaC" else "Ogg"
        raise AudioError(f"stdin: {kind} is not supported; send raw S16_LE PCM or WAV")
    if head != b"RIFF":
        return PcmDecoder(WavInfo(1, 1, raw_rate, 16, 0, 0)), head
    riff = head + _read(stdin, 8)
    if len(riff) < 12 or riff[8:12] != b"WAVE":
        parse_wav_header(riff, "stdin")  # raises the reader's one-line error
    fmt, skipped = b"", 0
    while True:
        chunk = _read(stdin, 8)
        if len(chunk) < 8:
            raise AudioError("stdin: WAV stream ends before its first sample")
        chunk_id, size = struct.unpack("<4sI", chunk)
        if chunk_id == b"data":
            break
        padded = size + (size & 1)  # chunks are word-aligned
        if chunk_id == b"fmt ":
            fmt = chunk + _read(stdin, padded)
            if len(fmt) < 8 + padded:
                raise AudioError("stdin: WAV stream ends before its first sample")
            continue
        skipped += padded
        if skipped > MAX_SKIPPED:
            raise AudioError(
                f"stdin: more than {MAX_SKIPPED >> 20} MiB of WAV chunks before the audio"
            )
        if _skip(stdin, padded) < padded:
            raise AudioError("stdin: WAV stream ends before its first sample")
    remaining = None if size in _UNKNOWN_SIZES else size
    # The reader checks the format on a header of our own: fmt, then data "to the end".
    header = b"RIFF" + riff[4:8] + b"WAVE" + fmt + b"data" + struct.pack("<I", 0xFFFFFFFF)
    audio = b""
    while True:
        try:
            info = parse_wav_header(header + audio, "stdin")
            break
        except AudioError as exc:
            if "no audio samples" not in str(exc):
                raise
        more = stdin.read(512)
        if not more or (remaining is not None and len(audio) >= remaining):
            raise AudioError("stdin: WAV stream ends before its first sample") from None
        audio += more
    return PcmDecoder(info, remaining), audio
