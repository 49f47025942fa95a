"""Running a streaming artifact chunk after chunk, with its recurrent state carried.

The stream spec (docs/formats.md) says how many feature frames each call takes (``window``),
how far the window advances (``chunk``), how many zero frames precede the first real frame
(``left_pad``) and which state tensors go round. ``ChunkRunner`` is the incremental form a
device uses; ``run_chunked`` runs a whole utterance and must equal the offline model.
"""

from __future__ import annotations

import numpy as np

from runtime.backends import Backend
from runtime.formats import StreamSpec


class ChunkRunner:
    """Feed feature frames as they come; get posterior frames as soon as a window is full."""

    def __init__(self, backend: Backend, stream: StreamSpec) -> None:
        self.backend = backend
        self.chunk = stream.chunk_frames
        self.window = stream.window_frames
        self.left_pad = stream.left_pad_frames
        self.output_frames = stream.output_frames
        self.states_spec = stream.states
        self.feats_name = "feats" if "feats" in backend.input_names else backend.input_names[0]
        self.probs_name = "probs" if "probs" in backend.output_names else backend.output_names[0]
        feats = next(i for i in backend.inputs if i["name"] == self.feats_name)
        self._dim = int(feats["shape"][-1])
        self.reset()

    def reset(self) -> None:
        self._buf = np.zeros((self.left_pad, self._dim), np.float32)
        self._states = {s.input: np.zeros(s.shape, np.float32) for s in self.states_spec}
        self.frames_in = 0

    def _call(self, window: np.ndarray) -> np.ndarray:
        feeds = {self.feats_name: window[None].astype(np.float32), **self._states}
        out = self.backend.run(feeds)
        for s in self.states_spec:
            self._states[s.input] = out[s.output]
        return out[self.probs_name][0]

    def push(self, frames: np.ndarray) -> np.ndarray:
        """Add feature frames (n, D); return the posterior frames completed by them."""
        if len(frames):
            self._buf = np.concatenate([self._buf, np.asarray(frames, np.float32)])
            self.frames_in += len(frames)
        outs = []
        while len(self._buf) >= self.window:
            outs.append(self._call(self._buf[: self.window]))
            self._buf = self._buf[self.chunk :]
        return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)

    def flush(self) -> np.ndarray:
        """Run the last, zero-padded window and reset the buffer (end of an utterance).

        Frames left in the buffer that are only the next window's left context produce no
        output, so at most one padded call is ever needed.
        """
        buf, self._buf = self._buf, np.zeros((0, self._dim), np.float32)
        if len(buf) <= self.window - self.chunk:
            return np.zeros((0, 0), np.float32)
        pad = np.zeros((self.window - len(buf), self._dim), np.float32)
        return self._call(np.concatenate([buf, pad]))


def run_chunked(
    backend: Backend, stream: StreamSpec, features: np.ndarray, n_out: int
) -> np.ndarray:
    """Posteriors (n_out, C) of a whole utterance run chunk by chunk (``n_out`` from the
    bundle's output_length rule)."""
    runner = ChunkRunner(backend, stream)
    parts = [p for p in (runner.push(features), runner.flush()) if p.size]
    if not parts:
        return np.zeros((0, int(backend.outputs[0]["shape"][-1])), np.float32)
    return np.concatenate(parts)[:n_out]
