"""What arrives on stdin for ``edge-asr transcribe --stream``: raw S16_LE PCM, or a WAV stream.

A WAV header (``RIFF``) is parsed with ``runtime.audio``'s reader, so its rate, channels and
sample format are honoured and its data streamed; FLAC and Ogg are refused in one line.
"""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

from runtime.audio import AudioError, WavInfo, decode_frames, parse_wav_header

__all__ = ["PcmDecoder", "detect"]

_MAX_HEADER = 1 << 16  # a WAV header (with LIST/metadata chunks) larger than this is refused


class PcmDecoder:
    """Bytes to mono float32 samples, carrying an incomplete frame to the next call."""

    def __init__(self, info: WavInfo) -> None:
        self.info = info
        self.rate = info.rate
        self.frame_bytes = info.frame_bytes
        self._carry = b""

    def decode(self, data: bytes) -> np.ndarray:
        data = self._carry + data
        cut = len(data) - len(data) % self.frame_bytes
        self._carry = data[cut:]
        return decode_frames(data[:cut], self.info, "stdin").astype(np.float32)


def detect(stdin: BinaryIO, raw_rate: int) -> tuple[PcmDecoder, bytes]:
    """The decoder for what ``stdin`` holds and the audio bytes already read past the header
    (raw PCM is S16_LE mono at ``raw_rate``)."""
    head = stdin.read(4)
    if head in (b"fLaC", b"OggS"):
        kind = "FLAC" if head == b"fLaC" else "Ogg"
        raise AudioError(f"stdin: {kind} is not supported; send raw S16_LE PCM or WAV")
    if head != b"RIFF":
        return PcmDecoder(WavInfo(1, 1, raw_rate, 16, 0, 0)), head
    data = head
    while True:
        try:
            info = parse_wav_header(data, "stdin")
            return PcmDecoder(info), data[info.offset :]
        except AudioError as exc:
            retry = "truncated" in str(exc) or "no audio samples" in str(exc)
            if not retry or len(data) > _MAX_HEADER:
                raise
        more = stdin.read(512)
        if not more:
            raise AudioError("stdin: WAV stream ends before its first sample")
        data += more
