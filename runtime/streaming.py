"""Running a streaming artifact chunk after chunk, with its recurrent state carried.

The ``StreamSpec`` (docs/formats.md) says how many feature frames each call takes (``window``),
how far the window advances (``chunk``), how many zero frames precede the first real frame
(``left_pad``) and which state tensors go round. ``ChunkRunner`` is the incremental form a
device uses; ``run_chunked`` runs a whole utterance and must equal the offline model.

A runner owns its buffer and states and nothing else, so any number of runners (one per stream)
share one backend: the backend is what makes concurrent calls safe (``runtime.backends``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from runtime.backends import Backend
from runtime.formats import StreamSpec

__all__ = ["AudioChunkRunner", "ChunkRunner", "as_pcm", "run_audio_chunked", "run_chunked"]


def _pick(names: list[str], preferred: str) -> str:
    return preferred if preferred in names else names[0]


class _StreamRunner:
    """What every streaming runner shares: the input and output tensors, the states carried
    from call to call, and the time of each call."""

    def __init__(self, backend: Backend, spec: StreamSpec, input_name: str) -> None:
        self.backend = backend
        self.spec = spec
        self.input_name = _pick(backend.input_names, input_name)
        self.probs_name = _pick(backend.output_names, "probs")
        self._input = next(i for i in backend.inputs if i["name"] == self.input_name)
        probs = next(o for o in backend.outputs if o["name"] == self.probs_name)
        self.classes = int(probs["shape"][-1])
        self.call_ms: list[float] = []  # interpreter time of each call since the last reset
        self.reset()

    @property
    def output_frames(self) -> int:
        return self.spec.output_frames

    def reset(self) -> None:
        """Back to the start of a stream (zero states) and a fresh call-time list."""
        self._restart()
        self.call_ms = []

    def _restart(self) -> None:
        self._states = {s.input: np.zeros(s.shape, np.dtype(s.dtype)) for s in self.spec.states}

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.classes), np.float32)

    def _run(self, x: np.ndarray) -> np.ndarray:
        """One call on input ``x`` (batch axis added) with the carried states; the posteriors."""
        t0 = time.perf_counter()
        out = self.backend.run({self.input_name: x[None], **self._states})
        self.call_ms.append((time.perf_counter() - t0) * 1e3)
        for s in self.spec.states:
            self._states[s.input] = out[s.output]
        return out[self.probs_name][0]


class ChunkRunner(_StreamRunner):
    """Feed feature frames as they come; get posterior frames as soon as a window is full."""

    def __init__(self, backend: Backend, spec: StreamSpec) -> None:
        super().__init__(backend, spec, "feats")

    def _restart(self) -> None:
        super()._restart()
        dim = int(self._input["shape"][-1])
        self._buf = np.zeros((self.spec.left_pad_frames, dim), np.float32)

    def _call(self, window: np.ndarray) -> np.ndarray:
        return self._run(window.astype(np.float32, copy=False))

    def push(self, frames: np.ndarray) -> np.ndarray:
        """Add feature frames (n, D); return the posterior frames (m, C) completed by them."""
        if len(frames):
            self._buf = np.concatenate([self._buf, np.asarray(frames, np.float32)])
        window, chunk = self.spec.window_frames, self.spec.chunk_frames
        outs = []
        while len(self._buf) >= window:
            outs.append(self._call(self._buf[:window]))
            self._buf = self._buf[chunk:]
        return np.concatenate(outs) if outs else self._empty()

    def flush(self) -> np.ndarray:
        """Run the last, zero-padded window and restart the buffer and states (end of a stream).

        Frames left in the buffer that are only the next window's left context produce no
        output, so at most one padded call is ever needed.
        """
        buf = self._buf
        window, chunk = self.spec.window_frames, self.spec.chunk_frames
        out = self._empty()
        if len(buf) > window - chunk:
            pad = np.zeros((window - len(buf), buf.shape[1]), np.float32)
            out = self._call(np.concatenate([buf, pad]))
        self._restart()
        return out


def run_chunked(backend: Backend, spec: StreamSpec, features: np.ndarray, n_out: int) -> np.ndarray:
    """Posteriors (n_out, C) of a whole utterance run chunk by chunk (``n_out`` from the
    bundle's output_length rule)."""
    runner = ChunkRunner(backend, spec)
    return np.concatenate([runner.push(features), runner.flush()])[:n_out]


def as_pcm(samples: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float samples in [-1, 1] as an audio-in artifact's input type (float32 or int16 PCM)."""
    x = np.asarray(samples, np.float32)
    if np.dtype(dtype) == np.int16:
        return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)
    return x


class AudioChunkRunner(_StreamRunner):
    """Feed PCM samples to an audio-in streaming artifact (features computed in the graph).

    Follows the ``stream.audio`` rules of docs/formats.md: chunks of ``chunk_samples``, every
    state carried, the outputs of the first ``warmup_calls`` calls dropped, and at the end zero
    chunks until the ``output_length(num_frames(N))`` frames of the utterance are out.
    """

    def __init__(
        self, backend: Backend, spec: StreamSpec, output_length: Callable[[int], int]
    ) -> None:
        if spec.audio is None:
            raise ValueError("not an audio-in stream spec")
        self.audio = spec.audio
        self.output_length = output_length
        super().__init__(backend, spec, "audio")
        self.dtype = np.dtype(self._input["dtype"])

    def _restart(self) -> None:
        super()._restart()
        self._buf = np.zeros(0, np.float32)
        self._calls = 0
        self._samples = 0
        self._emitted = 0
        self._last = 0.0  # the last real sample (end padding, ``AudioStream.end_padding``)

    def _call(self, chunk: np.ndarray) -> np.ndarray | None:
        """One chunk; None for a warm-up call (its outputs are not frames of the utterance)."""
        probs = self._run(as_pcm(chunk, self.dtype))
        self._calls += 1
        return None if self._calls <= self.audio.warmup_calls else probs

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Add float samples in [-1, 1]; return the posterior frames (m, C) they complete."""
        x = np.asarray(samples, np.float32).reshape(-1)
        if len(x):
            self._last = float(x[-1])
        self._samples += len(x)
        self._buf = np.concatenate([self._buf, x]) if len(self._buf) else x
        size = self.audio.chunk_samples
        outs = []
        while len(self._buf) >= size:
            out = self._call(self._buf[:size])
            self._buf = self._buf[size:]
            if out is not None:
                outs.append(out)
        probs = np.concatenate(outs) if outs else self._empty()
        self._emitted += len(probs)
        return probs

    def flush(self) -> np.ndarray:
        """End the utterance: zero-padded chunks until all its frames are out; then restart."""
        need = self.output_length(self.audio.num_frames(self._samples))
        size = self.audio.chunk_samples
        outs = []
        got = self._emitted
        buf, padded = self._buf, 0
        while got < need:
            pad = self.audio.end_padding(self._last, padded, size - len(buf))
            chunk = np.concatenate([buf, pad]) if len(buf) else pad
            buf, padded = buf[:0], padded + len(pad)
            out = self._call(chunk)
            if out is not None:
                outs.append(out)
                got += len(out)
        probs = np.concatenate(outs) if outs else self._empty()
        keep = max(0, need - self._emitted)
        self._restart()
        return probs[:keep]


def run_audio_chunked(
    backend: Backend,
    spec: StreamSpec,
    samples: np.ndarray,
    output_length: Callable[[int], int],
) -> np.ndarray:
    """Posteriors of a whole utterance through an audio-in streaming artifact."""
    runner = AudioChunkRunner(backend, spec, output_length)
    head = runner.push(samples)
    need = output_length(spec.audio.num_frames(len(samples))) if spec.audio else 0
    return np.concatenate([head, runner.flush()])[:need]
