"""WAV input/output and resampling in numpy alone (a device installs no scipy or soundfile).

``read_audio`` parses RIFF itself because the stdlib ``wave`` module rejects IEEE-float and
WAVE_FORMAT_EXTENSIBLE files, which is what most recorders and editors write. Supported: PCM
8 (unsigned), 16, 24 and 32-bit, IEEE float 32/64-bit, any channel count (averaged to mono), any
sample rate (resampled). A data chunk that declares more bytes than the file holds (a recording
cut short) is read up to the last whole frame; a file with no whole frame is an error. Float
samples outside [-1, 1] are clipped; NaN or Inf is an error.
"""

from __future__ import annotations

import io
import os
import struct
import wave
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from math import gcd
from typing import BinaryIO

import numpy as np

from runtime.errors import EdgeASRError
from runtime.fileio import atomic_path

__all__ = [
    "AudioError",
    "Resampler",
    "WavInfo",
    "iter_wav",
    "parse_wav_header",
    "pcm16_to_float",
    "read_audio",
    "resample",
    "wav_info",
    "write_wav",
]

_PCM, _FLOAT, _EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
#: What the runtime's WAV reader takes (named in its errors).
WAV_ENCODINGS = "PCM 8/16/24/32-bit or IEEE float 32/64-bit, any rate and channel count"
_NOT_WAV = f"not a WAV file (the runtime reads WAV: {WAV_ENCODINGS}; convert FLAC/OGG/MP3 first)"
#: Sample rates a WAV may declare: real audio is 8-384 kHz; a corrupt header claiming 1 Hz would
#: otherwise be resampled into 16,000x as many samples.
MIN_RATE, MAX_RATE = 1000, 768_000
_BLOCK_ROWS = 1024  # polyphase rows per matrix product: bounds memory on long audio


class AudioError(EdgeASRError):
    """Audio that cannot be read or written: missing, not a WAV, truncated, unsupported."""


# ------------------------------------------------------------------------------------ reading
def _sniff(head: bytes) -> str:
    """Name what a non-WAV file looks like, for the error message."""
    for magic, name in (
        (b"fLaC", "FLAC"),
        (b"OggS", "OGG"),
        (b"ID3", "MP3"),
        (b"RF64", "RF64"),
        (b"FORM", "AIFF"),
    ):
        if head.startswith(magic):
            return f" (looks like {name})"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # MPEG frame sync
        return " (looks like MP3)"
    return ""


@dataclass(frozen=True)
class WavInfo:
    """Where a WAV file's samples are and how they are stored."""

    code: int  # 1 PCM, 3 IEEE float (WAVE_FORMAT_EXTENSIBLE resolved to its sub-format)
    channels: int
    rate: int
    bits: int
    offset: int  # byte offset of the first sample
    size: int  # bytes of whole frames present (a cut-short recording keeps what it has)

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.bits // 8

    @property
    def frames(self) -> int:
        return self.size // self.frame_bytes

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


def _walk_wav(fh: BinaryIO, length: int, name: str) -> WavInfo:
    """Read a RIFF/WAVE header from ``fh`` (``length`` bytes in all) chunk by chunk, seeking
    over everything but ``fmt`` (so a long file's samples are never read here) and check it."""
    head = fh.read(12)
    if not head:
        raise AudioError(f"{name}: empty (0 bytes)")
    if len(head) < 12:
        if head[:4] == b"RIFF":
            raise AudioError(f"{name}: truncated WAV header ({len(head)} bytes)")
        raise AudioError(f"{name}: {_NOT_WAV}{_sniff(head)}")
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise AudioError(f"{name}: {_NOT_WAV}{_sniff(head)}")
    fmt = None
    pos = 12
    while pos + 8 <= length:
        fh.seek(pos)
        chunk_id, size = struct.unpack("<4sI", fh.read(8))
        body = pos + 8
        if chunk_id == b"fmt ":
            raw = fh.read(min(size, 40))
            if size < 16 or len(raw) < 16:
                raise AudioError(f"{name}: truncated WAV header (fmt chunk of {size} bytes)")
            code, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", raw)
            if code == _EXTENSIBLE:
                if size < 40 or len(raw) < 40:
                    raise AudioError(f"{name}: truncated WAV header (extensible fmt chunk)")
                (code,) = struct.unpack_from("<H", raw, 24)  # SubFormat GUID's first field
            fmt = (code, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioError(f"{name}: malformed WAV (data chunk before fmt chunk)")
            if size == 0xFFFFFFFF:  # streamed WAV whose writer never learned the length
                size = length - body
            info = WavInfo(*fmt, offset=body, size=max(0, min(size, length - body)))
            return _check_format(info, name)
        pos = body + size + (size & 1)  # chunks are word-aligned
    if fmt is None:
        raise AudioError(f"{name}: truncated WAV header (no fmt chunk)")
    raise AudioError(f"{name}: truncated WAV header (no data chunk)")


def _check_format(info: WavInfo, name: str) -> WavInfo:
    if info.channels < 1:
        raise AudioError(f"{name}: WAV declares {info.channels} channels")
    if not MIN_RATE <= info.rate <= MAX_RATE:
        raise AudioError(
            f"{name}: WAV declares a sample rate of {info.rate} Hz (supported: {MIN_RATE} to "
            f"{MAX_RATE} Hz)"
        )
    if info.bits < 1 or info.bits % 8:
        raise AudioError(f"{name}: unsupported bit depth {info.bits}")
    _decode(info.code, info.bits, memoryview(b""), name)  # unsupported encodings fail here
    frames = info.size // info.frame_bytes
    if frames == 0:
        raise AudioError(f"{name}: WAV has no audio samples")
    return replace(info, size=frames * info.frame_bytes)


def parse_wav_header(data: bytes, name: str = "<stdin>") -> WavInfo:
    """The ``WavInfo`` of a WAV image whose start is ``data`` (e.g. the first bytes of a pipe);
    ``size`` counts the samples present in ``data``."""
    return _walk_wav(io.BytesIO(data), len(data), name)


def wav_info(path: str | os.PathLike) -> WavInfo:
    """Header of a WAV file, reading only the header."""
    name = str(path)
    try:
        with open(path, "rb") as fh:
            return _walk_wav(fh, os.fstat(fh.fileno()).st_size, name)
    except FileNotFoundError:
        raise AudioError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise AudioError(f"{name}: is a directory, not a WAV file") from None
    except OSError as exc:
        raise AudioError(f"{name}: cannot read ({exc.strerror or exc})") from None


def decode_frames(raw: bytes | memoryview, info: WavInfo, name: str = "<stdin>") -> np.ndarray:
    """Whole frames of ``raw`` as mono float64 in [-1, 1] (channels averaged)."""
    usable = len(raw) - len(raw) % info.frame_bytes
    x = _decode(info.code, info.bits, memoryview(raw)[:usable], name)
    return x.reshape(-1, info.channels).mean(axis=1) if info.channels > 1 else x


def iter_wav(
    path: str | os.PathLike, target_rate: int = 16000, block_seconds: float = 10.0
) -> Iterator[np.ndarray]:
    """A WAV file as mono float32 blocks at ``target_rate``: memory bounded by the block, not
    by the file (a 20-minute recording never sits in memory whole)."""
    info = wav_info(path)
    name = str(path)
    block = max(1, int(block_seconds * info.rate)) * info.frame_bytes
    stream = Resampler(info.rate, target_rate)
    with open(path, "rb") as fh:
        fh.seek(info.offset)
        left = info.size
        while left > 0:
            raw = fh.read(min(block, left))
            if not raw:
                break
            left -= len(raw)
            out = stream.push(decode_frames(raw, info, name))
            if out.size:
                yield out
    tail = stream.flush()
    if tail.size:
        yield tail


def _decode(code: int, bits: int, raw: memoryview, name: str) -> np.ndarray:
    """Interleaved samples as float64 in [-1, 1]."""
    if code == _PCM:
        if bits == 8:
            return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
        if bits == 16:
            return np.frombuffer(raw, dtype="<i2") / 32768.0
        if bits == 24:
            b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
            v = np.where(v >= 1 << 23, v - (1 << 24), v)
            return v / float(1 << 23)
        if bits == 32:
            return np.frombuffer(raw, dtype="<i4") / float(1 << 31)
        raise AudioError(f"{name}: unsupported PCM bit depth {bits} (supported: {WAV_ENCODINGS})")
    if code == _FLOAT:
        if bits not in (32, 64):
            raise AudioError(
                f"{name}: unsupported float bit depth {bits} (supported: {WAV_ENCODINGS})"
            )
        x = np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float64)
        if not np.all(np.isfinite(x)):
            raise AudioError(f"{name}: float WAV contains NaN or Inf samples")
        return np.clip(x, -1.0, 1.0)
    raise AudioError(
        f"{name}: unsupported WAV format code {code:#06x} (supported: {WAV_ENCODINGS})"
    )


def read_audio(path: str | os.PathLike, target_rate: int = 16000) -> np.ndarray:
    """Read a WAV file as mono float32 in [-1, 1] at ``target_rate`` Hz (``iter_wav`` whole)."""
    blocks = list(iter_wav(path, target_rate))
    if len(blocks) == 1:
        return blocks[0]
    return np.concatenate(blocks) if blocks else np.zeros(0, np.float32)


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Raw signed 16-bit little-endian mono PCM (e.g. ``arecord -f S16_LE``) as float32."""
    if len(data) % 2:
        raise AudioError(f"raw S16_LE audio must have an even number of bytes, got {len(data)}")
    return (np.frombuffer(data, dtype="<i2") / np.float32(32768.0)).astype(np.float32)


# ------------------------------------------------------------------------------------ writing
def write_wav(path: str | os.PathLike, samples: np.ndarray, rate: int) -> None:
    """Write mono 16-bit PCM atomically; samples are floats in [-1, 1] (clipped)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise AudioError(f"{path}: write_wav takes mono 1-D samples, got shape {x.shape}")
    if len(x) == 0:
        raise AudioError(f"{path}: refusing to write a WAV with no samples")
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{path}: samples contain NaN or Inf")
    if int(rate) != rate or rate < 1:
        raise AudioError(f"{path}: invalid sample rate {rate!r}")
    pcm = np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")
    with atomic_path(path) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(rate))
        w.writeframes(pcm.tobytes())


# ------------------------------------------------------------------------------------ resampling
@lru_cache(maxsize=16)
def _polyphase_matrix(up: int, down: int) -> tuple[np.ndarray, int]:
    """Dense (taps x up) matrix G with y[q*up + r] = sum_s x[q*down + s + s0] * G[s, r].

    The prototype is a Kaiser-windowed sinc (60 dB stopband, beta 5.65) whose stopband starts at
    the lower Nyquist and whose passband is flat to 90% of it, so nothing above the new Nyquist
    aliases by more than -60 dB. Grouping outputs by phase turns the polyphase filter into one
    BLAS matrix product per block, which is what makes it fast in plain numpy.
    """
    max_rate = max(up, down)
    cutoff = 0.95 / max_rate  # fraction of the upsampled Nyquist (half-amplitude point)
    transition = 0.1 / max_rate
    atten = 60.0
    beta = 0.1102 * (atten - 8.7)
    half_len = int(np.ceil((atten - 7.95) / (2.285 * np.pi * transition) / 2))
    m = np.arange(-half_len, half_len + 1, dtype=np.float64)
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(2 * half_len + 1, beta)
    h *= up / h.sum()  # unit DC gain after zero-stuffing by `up`
    s0 = -((half_len) // up)  # = ceil(-half_len / up)
    s_max = ((up - 1) * down + half_len) // up
    s = np.arange(s0, s_max + 1)[:, None]
    r = np.arange(up)[None, :]
    idx = r * down + half_len - s * up
    valid = (idx >= 0) & (idx < len(h))
    g = np.where(valid, h[np.clip(idx, 0, len(h) - 1)], 0.0).astype(np.float32)
    g.setflags(write=False)
    return g, int(s0)


#: Largest polyphase matrix (elements) worth building: common ratios (48k, 44.1k, 22.05k, 8k to
#: 16k) need at most ~0.3M; a co-prime pair such as 44101 -> 16000 would need 700M (2.8 GB).
_MAX_MATRIX = 4_000_000
_DIRECT_BLOCK = 1024  # outputs per block of the direct method: bounds its index matrices


def _direct_half_width(src_rate: int, dst_rate: int) -> int:
    """Half-width in input samples of the direct path's windowed sinc (60 dB Kaiser, the
    polyphase prototype's transition band)."""
    ratio = min(1.0, dst_rate / src_rate)
    return int(np.ceil((60.0 - 7.95) / (2.285 * np.pi * 0.1 * ratio) / 2))


class Resampler:
    """Band-limited rational resampling of a stream, block by block: the outputs of any
    chunking, concatenated, equal ``resample`` of the whole signal (within float rounding).

    Two kernels. Polyphase (the common ratios: 48k, 44.1k, 22.05k, 8k to 16k): a dense
    ``(taps x up)`` matrix of the Kaiser-windowed sinc, one BLAS product per block of ``up``
    outputs. Direct (co-prime pairs such as 44101 -> 16000, whose matrix would need gigabytes):
    the same sinc evaluated at each output instant, each row of weights normalized to sum 1.
    Either way memory is bounded by the block sizes, not by the signal's length.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        if int(src_rate) != src_rate or int(dst_rate) != dst_rate or src_rate < 1 or dst_rate < 1:
            raise AudioError(f"invalid resampling rates {src_rate!r} -> {dst_rate!r}")
        self.src, self.dst = int(src_rate), int(dst_rate)
        g = gcd(self.src, self.dst)
        self.up, self.down = self.dst // g, self.src // g
        self.direct = self.up * self.down + 72 * max(self.up, self.down) > _MAX_MATRIX
        if self.direct:
            self._half = _direct_half_width(self.src, self.dst)
            ratio = min(1.0, self.dst / self.src)
            self._cutoff = 0.95 * ratio
        elif self.up != self.down:
            self._mat, s0 = _polyphase_matrix(self.up, self.down)
            self._lo = -s0  # zeros the polyphase filter sees before the first sample
        self._reset()

    def _reset(self) -> None:
        self._buf = np.zeros(0, np.float32)
        self._origin = 0  # input index of _buf[0]
        self._n_in = 0
        self._next = 0  # next unit to compute: a row of ``up`` outputs, or one output (direct)
        self._done = 0  # output samples returned so far

    # ------------------------------------------------------------------ units
    def _span(self, unit: int) -> tuple[int, int]:
        """Input samples [first, stop) that ``unit`` reads."""
        if self.direct:
            base = unit * self.src // self.dst
            return base - self._half + 1, base + self._half + 1
        first = unit * self.down - self._lo
        return first, first + self._mat.shape[0]

    def _ready_units(self) -> int:
        """How many units have every input they read (the last ``_span(u)[1] <= n_in``)."""
        if self.direct:
            m = self._n_in - self._half - 1  # floor(u * src / dst) may be at most this
            return (m * self.dst + self.dst - 1) // self.src + 1 if m >= 0 else 0
        room = self._n_in + self._lo - self._mat.shape[0]
        return room // self.down + 1 if room >= 0 else 0

    def _units_for(self, n_out: int) -> int:
        return n_out if self.direct else -(-n_out // self.up)

    def _inputs(self, first: int, stop: int) -> np.ndarray:
        """Input samples [first, stop), zero outside what was pushed."""
        out = np.zeros(stop - first, np.float32)
        lo, hi = max(first, self._origin), min(stop, self._origin + len(self._buf))
        if hi > lo:
            out[lo - first : hi - first] = self._buf[lo - self._origin : hi - self._origin]
        return out

    def _compute(self, u0: int, u1: int) -> np.ndarray:
        if self.direct:
            return self._compute_direct(u0, u1)
        parts = []
        taps = self._mat.shape[0]
        for start in range(u0, u1, _BLOCK_ROWS):
            stop = min(u1, start + _BLOCK_ROWS)
            first = self._span(start)[0]
            x = self._inputs(first, self._span(stop - 1)[1])
            view = np.lib.stride_tricks.as_strided(
                x, shape=(stop - start, taps), strides=(x.strides[0] * self.down, x.strides[0])
            )
            # A contiguous copy lets BLAS take the product (overlapping rows are 10x slower).
            parts.append((np.ascontiguousarray(view) @ self._mat).reshape(-1))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def _compute_direct(self, n0: int, n1: int) -> np.ndarray:
        beta = 0.1102 * (60.0 - 8.7)
        offsets = np.arange(-self._half + 1, self._half + 1)
        parts = []
        for start in range(n0, n1, _DIRECT_BLOCK):
            n = np.arange(start, min(n1, start + _DIRECT_BLOCK))
            t = n * (self.src / self.dst)
            k = (n * self.src // self.dst)[:, None] + offsets[None, :]
            first = int(k[0, 0])
            x = self._inputs(first, int(k[-1, -1]) + 1)
            tau = t[:, None] - k
            edge = np.clip(1.0 - (tau / self._half) ** 2, 0.0, None)
            w = np.sinc(self._cutoff * tau) * np.i0(beta * np.sqrt(edge)) / np.i0(beta)
            w /= w.sum(axis=1, keepdims=True)
            parts.append(np.einsum("ij,ij->i", x[k - first], w).astype(np.float32))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    # ------------------------------------------------------------------ streaming
    def _release(self, units: int, n_out: int) -> np.ndarray:
        """Compute units up to ``units`` and return the outputs below ``n_out`` not yet given."""
        out = self._compute(self._next, units) if units > self._next else np.zeros(0, np.float32)
        first_sample = self._next * (1 if self.direct else self.up)
        self._next = max(self._next, units)
        keep = out[max(0, self._done - first_sample) : max(0, n_out - first_sample)]
        self._done += len(keep)
        drop = self._span(self._next)[0] - self._origin  # inputs no later unit reads
        if drop > 0:
            self._buf = self._buf[drop:]
            self._origin += drop
        return keep

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add input samples; return the output samples they complete."""
        x = np.asarray(samples, np.float32).reshape(-1)
        if self.up == self.down:
            self._done += len(x)
            return x.copy()
        self._buf = np.concatenate([self._buf, x])
        self._n_in += len(x)
        n_out = -(-self._n_in * self.up // self.down)
        return self._release(self._ready_units(), n_out)

    def flush(self) -> np.ndarray:
        """The remaining outputs (the signal is zero past its end); ready for a new stream."""
        if self.up == self.down:
            return np.zeros(0, np.float32)
        n_out = -(-self._n_in * self.up // self.down)
        out = self._release(self._units_for(n_out), n_out)
        self._reset()
        return out


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited rational resampling (like ``scipy.signal.resample_poly``), float32 out.

    Output has ``ceil(len * dst / src)`` samples aligned with the input (sample 0 at time 0);
    the signal is taken as zero outside the given samples. The whole signal through one
    ``Resampler``.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise AudioError(f"resample takes 1-D samples, got shape {x.shape}")
    stream = Resampler(src_rate, dst_rate)
    head = stream.push(x)
    return np.concatenate([head, stream.flush()])
