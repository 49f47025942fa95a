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

import numpy as np

from runtime.backends import Backend
from runtime.formats import StreamSpec

__all__ = ["ChunkRunner", "run_chunked"]


def _pick(names: list[str], preferred: str) -> str:
    return preferred if preferred in names else names[0]


class ChunkRunner:
    """Feed feature frames as they come; get posterior frames as soon as a window is full."""

    def __init__(self, backend: Backend, spec: StreamSpec) -> None:
        self.backend = backend
        self.spec = spec
        self.feats_name = _pick(backend.input_names, "feats")
        self.probs_name = _pick(backend.output_names, "probs")
        feats = next(i for i in backend.inputs if i["name"] == self.feats_name)
        probs = next(o for o in backend.outputs if o["name"] == self.probs_name)
        self._dim = int(feats["shape"][-1])
        self.classes = int(probs["shape"][-1])
        self.call_ms: list[float] = []  # interpreter time of each call since the last reset
        self.reset()

    @property
    def output_frames(self) -> int:
        return self.spec.output_frames

    def reset(self) -> None:
        """Back to the start of a stream: zero states, only the left padding buffered."""
        self._restart()
        self.call_ms = []

    def _restart(self) -> None:
        self._buf = np.zeros((self.spec.left_pad_frames, self._dim), np.float32)
        self._states = {s.input: np.zeros(s.shape, np.dtype(s.dtype)) for s in self.spec.states}

    def _empty(self) -> np.ndarray:
        return np.zeros((0, self.classes), np.float32)

    def _call(self, window: np.ndarray) -> np.ndarray:
        feeds = {self.feats_name: window[None].astype(np.float32, copy=False), **self._states}
        t0 = time.perf_counter()
        out = self.backend.run(feeds)
        self.call_ms.append((time.perf_counter() - t0) * 1e3)
        for s in self.spec.states:
            self._states[s.input] = out[s.output]
        return out[self.probs_name][0]

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
            pad = np.zeros((window - len(buf), self._dim), np.float32)
            out = self._call(np.concatenate([buf, pad]))
        self._restart()
        return out


def run_chunked(backend: Backend, spec: StreamSpec, features: np.ndarray, n_out: int) -> np.ndarray:
    """Posteriors (n_out, C) of a whole utterance run chunk by chunk (``n_out`` from the
    bundle's output_length rule)."""
    runner = ChunkRunner(backend, spec)
    return np.concatenate([runner.push(features), runner.flush()])[:n_out]
