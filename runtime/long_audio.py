"""Whole-input transcription in bounded memory: feature frames to posteriors to labels, block
by block, so a one-hour file costs what a one-minute file costs.

Two runners turn feature blocks into posterior blocks (``push`` then ``finish``):

- ``StreamRun``: a streaming artifact, chunk after chunk with its state carried; exact at any
  length (the chunked graph equals the offline model, docs/formats.md).
- ``WindowRun``: an offline artifact. Up to ``LongAudio.whole_seconds`` of input it is one call
  on the whole input, exactly as converted and gated. Longer inputs run in overlapping windows:
  each call sees ``window_seconds`` of features and keeps only the posteriors that have
  ``context_seconds`` of real input on both sides (the first window keeps its start, the last
  its end). For a recurrent model this is an approximation (the state starts from zeros
  ``context_seconds`` before each kept span and a backward pass sees only that far ahead);
  README "Long files" has the measured effect.

``Labeler`` turns posterior blocks into labels: greedy decoding is incremental and exact; beam
search decodes at most ``whole_seconds`` of posteriors at a time, cut in the middle of the
longest pause of that span's second half (the LM history restarts at a cut).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from runtime import decoding
from runtime.backends import Backend
from runtime.errors import EdgeASRError
from runtime.formats import LengthRule, StreamSpec
from runtime.streaming import ChunkRunner

__all__ = ["Labeler", "LongAudio", "StreamRun", "WindowRun"]

#: labels, their start frames, their end frames (None: greedy has no end frames)
Decoded = tuple[list[int], list[int], list[int] | None]


@dataclass(frozen=True)
class LongAudio:
    """Limits of whole-input transcription (seconds of audio); see the module docstring."""

    whole_seconds: float = 60.0
    window_seconds: float = 40.0
    context_seconds: float = 5.0
    block_seconds: float = 2.0

    def __post_init__(self) -> None:
        if not (self.block_seconds > 0 and self.context_seconds >= 0):
            raise EdgeASRError("LongAudio: block_seconds must be > 0, context_seconds >= 0")
        if not self.window_seconds > 2 * self.context_seconds:
            raise EdgeASRError("LongAudio: window_seconds must exceed 2 * context_seconds")
        if not self.whole_seconds >= self.window_seconds:
            raise EdgeASRError("LongAudio: whole_seconds must be >= window_seconds")


class StreamRun:
    """A streaming artifact over one whole input (exact at any length)."""

    def __init__(self, backend: Backend, spec: StreamSpec, rule: LengthRule) -> None:
        self._runner = ChunkRunner(backend, spec)
        self._rule = rule
        self._in = self._out = 0

    @property
    def call_ms(self) -> list[float]:
        return self._runner.call_ms

    def push(self, frames: np.ndarray) -> np.ndarray:
        self._in += len(frames)
        out = self._runner.push(frames)
        self._out += len(out)
        return out

    def finish(self) -> np.ndarray:
        """The last posteriors: the zero-padded window, cut at ``output_length`` frames."""
        return self._runner.flush()[: max(0, self._rule(self._in) - self._out)]


class WindowRun:
    """An offline artifact over one whole input: one call up to ``whole_seconds``, overlapping
    windows beyond (bounded memory; see the module docstring)."""

    def __init__(
        self,
        backend: Backend,
        rule: LengthRule,
        frame_seconds: float,
        limits: LongAudio,
        windowed: bool = False,
    ) -> None:
        """``windowed``: the input is known to be long (windows from the start, so only one
        window is ever buffered); otherwise windowing starts past ``whole_seconds``."""
        self.backend = backend
        self._rule = rule
        self._stride = s = rule.total_stride
        self._whole = int(limits.whole_seconds / frame_seconds)
        self._window = max(s, int(limits.window_seconds / frame_seconds) // s * s)
        self._context = math.ceil(limits.context_seconds / frame_seconds / s)  # model frames
        if rule(self._window) <= 2 * self._context:
            raise EdgeASRError("LongAudio: the window leaves no posteriors between its contexts")
        self._buf: list[np.ndarray] = []
        self._origin = 0  # feature index of the first buffered frame
        self._in = 0  # feature frames pushed
        self._out = 0  # posterior frames returned
        self._windowed = windowed
        self.call_ms: list[float] = []

    def _call(self, features: np.ndarray) -> np.ndarray:
        feeds = {self.backend.input_names[0]: features[None].astype(np.float32, copy=False)}
        t0 = time.perf_counter()
        probs = self.backend.run(feeds)[self.backend.output_names[0]][0]
        self.call_ms.append((time.perf_counter() - t0) * 1e3)
        return probs

    def _start(self) -> int:
        """First feature frame of the next window."""
        return self._stride * max(0, self._out - self._context)

    def _features(self, start: int, stop: int) -> np.ndarray:
        """Buffered feature frames [start, stop) (global indices); drops those before start."""
        buf = np.concatenate(self._buf) if len(self._buf) > 1 else self._buf[0]
        buf = buf[start - self._origin :]
        self._buf, self._origin = [buf], start
        return buf[: stop - start]

    def _run(self, stop: int, keep_to: int | None) -> np.ndarray:
        """Run the window that starts ``context`` posteriors before the next one to return
        (the last window: a whole window before the end, for one input shape and more
        context) and ends at feature ``stop``; keep posteriors up to ``keep_to`` (None: all but
        the right context). Starts are multiples of the total stride, so local posterior j is
        global posterior start/stride + j."""
        start = self._start()
        if keep_to is not None and self._windowed:
            start = min(start, max(0, (stop - self._window) // self._stride * self._stride))
        probs = self._call(self._features(start, stop))
        first = start // self._stride
        end = first + len(probs) - self._context if keep_to is None else keep_to
        out = probs[self._out - first : end - first]
        self._out = end
        return out

    def push(self, frames: np.ndarray) -> np.ndarray:
        if len(frames):
            self._buf.append(np.asarray(frames, np.float32))
            self._in += len(frames)
        if not self._windowed and self._in <= self._whole:
            return np.zeros((0, 0), np.float32)
        self._windowed = True
        outs = []
        while (stop := self._start() + self._window) <= self._in:
            outs.append(self._run(stop, None))
        return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)

    def finish(self) -> np.ndarray:
        """The rest: the whole input in one call (short inputs) or the last window."""
        total = self._rule(self._in)
        if total <= self._out:
            return np.zeros((0, 0), np.float32)
        return self._run(self._in, total)


class Labeler:
    """Posterior blocks to labels with frames, in bounded memory (see the module docstring)."""

    def __init__(
        self,
        decode: Callable[[np.ndarray], Decoded],
        greedy: bool,
        blank: int,
        symbols: tuple[str, ...],
        max_frames: int,
    ) -> None:
        self._decode, self._greedy, self._blank = decode, greedy, blank
        self._space = next((i for i, s in enumerate(symbols) if s.isspace()), None)
        self._silent = np.array(sorted({blank} | {i for i, s in enumerate(symbols) if s.isspace()}))
        self._max = max(2, max_frames)
        self.labels: list[int] = []
        self.starts: list[int] = []
        self.ends: list[int] | None = None if greedy else []
        self.frames = 0  # posterior frames seen
        self.decode_ms = 0.0
        self._previous = -1  # greedy: the last frame's best label
        self._pending: list[np.ndarray] = []  # beam: log-posteriors not decoded yet
        self._pending_start = 0
        self._space_at_cut = False  # the last cut was in a pause with a space frame

    def push(self, probs: np.ndarray) -> None:
        if not len(probs):
            return
        t0 = time.perf_counter()
        log_probs = decoding.to_log_probs(probs)
        if self._greedy:
            best = log_probs.argmax(axis=1)
            before = np.concatenate([[self._previous], best[:-1]])
            keep = np.flatnonzero((best != before) & (best != self._blank))
            self.labels += best[keep].tolist()
            self.starts += (keep + self.frames).tolist()
            self._previous = int(best[-1])
        else:
            self._pending.append(log_probs)
            while self.frames + len(probs) - self._pending_start > self._max:
                self._segment(final=False)
        self.frames += len(probs)
        self.decode_ms += (time.perf_counter() - t0) * 1e3

    def finish(self) -> None:
        if self._pending:
            t0 = time.perf_counter()
            self._segment(final=True)
            self.decode_ms += (time.perf_counter() - t0) * 1e3

    def _segment(self, final: bool) -> None:
        """Beam-decode the pending posteriors (all, or up to the best pause) and keep the rest."""
        lp = np.concatenate(self._pending)
        cut, space_at_cut = len(lp), False
        if not final:
            cut, space_at_cut = self._pause(lp[: self._max])
        labels, starts, ends = self._decode(lp[:cut])
        space = self._space
        joined = self._space_at_cut and self.labels and labels
        if space is not None and joined and space not in (self.labels[-1], labels[0]):
            labels, starts = [space, *labels], [0, *starts]
            ends = None if ends is None else [0, *ends]
        offset = self._pending_start
        self.labels += labels
        self.starts += [s + offset for s in starts]
        if self.ends is not None and ends is not None:
            self.ends += [e + offset for e in ends]
        self._pending = [lp[cut:]] if cut < len(lp) else []
        self._pending_start = offset + cut
        self._space_at_cut = space_at_cut

    def _pause(self, lp: np.ndarray) -> tuple[int, bool]:
        """Where to cut: the middle of the longest run of blank/space frames in the second half
        (the end when there is none), and whether that run has a space frame."""
        best = lp.argmax(axis=1)
        silent = np.isin(best, self._silent)
        half = len(lp) // 2
        run_start, longest = -1, (0, len(lp), len(lp))  # (length, start, stop)
        for i in range(half, len(lp) + 1):
            if i < len(lp) and silent[i]:
                run_start = i if run_start < 0 else run_start
                continue
            if run_start >= 0 and i - run_start > longest[0]:
                longest = (i - run_start, run_start, i)
            run_start = -1
        length, start, stop = longest
        if not length:
            return len(lp), False
        has_space = self._space is not None and bool((best[start:stop] == self._space).any())
        return (start + stop) // 2, has_space
