"""Audio reading for training and evaluation: WAV, FLAC, OGG and whatever libsndfile reads.

WAV goes through ``runtime.audio.read_audio`` so training sees exactly the samples the device
will; other formats (LibriSpeech is FLAC) go through soundfile, then the same mono mix, the same
resampler and the same checks.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from runtime.audio import AudioError, read_audio, resample

__all__ = ["AudioError", "audio_info", "is_wav", "load_audio"]


def is_wav(path: str | os.PathLike) -> bool:
    """True when the file starts with a RIFF/RF64 WAVE header."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    return len(head) == 12 and head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE"


def _soundfile_read(path: Path) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, TypeError, ValueError) as exc:  # LibsndfileError is a RuntimeError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioError(f"{path}: not a readable audio file ({reason})") from None
    return data, int(rate)


def load_audio(path: str | os.PathLike, target_rate: int = 16000) -> np.ndarray:
    """Mono float32 samples in [-1, 1] at ``target_rate`` from any file libsndfile can read."""
    path = Path(path)
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty (0 bytes)")
    if is_wav(path):
        return read_audio(path, target_rate)
    data, rate = _soundfile_read(path)
    if data.size == 0:
        raise AudioError(f"{path}: file has no audio samples")
    mono = data.mean(axis=1, dtype=np.float64) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        raise AudioError(f"{path}: file contains NaN or Inf samples")
    if rate != target_rate:
        mono = resample(mono, rate, target_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def audio_info(path: str | os.PathLike) -> tuple[float, int]:
    """(duration in seconds, sample rate) from the header, without decoding the samples."""
    import soundfile as sf

    path = Path(path)
    try:
        info = sf.info(str(path))
    except (RuntimeError, TypeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioError(f"{path}: not a readable audio file ({reason})") from None
    return info.frames / info.samplerate, int(info.samplerate)
