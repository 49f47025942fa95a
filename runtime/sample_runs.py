"""Samples in, posteriors out: one interface over feature-input and audio-in artifacts.

A feature-input artifact needs ``runtime.features`` in front of it; an audio-in artifact
(docs/formats.md, "Audio-in artifacts") computes its features in the graph, so on that path
the runtime runs no numpy feature code at all. ``sample_run`` picks the right one; the
recognizer's file transcription and its streams both go through it (``push`` blocks of
samples at the bundle's rate, then ``finish``).
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from runtime.backends import Backend
from runtime.errors import EdgeASRError
from runtime.formats import ArtifactEntry, BundleHeader
from runtime.long_audio import LongAudio, StreamRun, WindowRun
from runtime.streaming import AudioChunkRunner, as_pcm

__all__ = ["AudioStreamRun", "AudioWindowRun", "FeatureRun", "SampleRun", "concat", "sample_run"]


class SampleRun(Protocol):
    @property
    def call_ms(self) -> list[float]: ...

    @property
    def features_ms(self) -> float: ...

    def push(self, samples: np.ndarray) -> np.ndarray: ...

    def finish(self) -> np.ndarray: ...


class FeatureRun:
    """``runtime.features`` (incremental) in front of a feature-input artifact's run."""

    def __init__(self, header: BundleHeader, inner: StreamRun | WindowRun) -> None:
        from runtime.features import FeatureStream  # only this path needs the feature code

        self._features = FeatureStream(header.features)
        self._inner = inner
        self.features_ms = 0.0

    @property
    def call_ms(self) -> list[float]:
        return self._inner.call_ms

    def push(self, samples: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        feats = self._features.push(samples)
        self.features_ms += (time.perf_counter() - t0) * 1e3
        return self._inner.push(feats)

    def finish(self) -> np.ndarray:
        t0 = time.perf_counter()
        feats = self._features.flush()
        self.features_ms += (time.perf_counter() - t0) * 1e3
        out = self._inner.push(feats)
        return concat(out, self._inner.finish())


class AudioStreamRun:
    """An audio-in streaming artifact (exact at any length)."""

    features_ms = 0.0

    def __init__(self, backend: Backend, artifact: ArtifactEntry, header: BundleHeader) -> None:
        assert artifact.stream is not None
        self._runner = AudioChunkRunner(backend, artifact.stream, header.output_length)

    @property
    def call_ms(self) -> list[float]:
        return self._runner.call_ms

    def push(self, samples: np.ndarray) -> np.ndarray:
        return self._runner.push(samples)

    def finish(self) -> np.ndarray:
        return self._runner.flush()


class AudioWindowRun(WindowRun):
    """An audio-in offline artifact: ``WindowRun``'s windows, cut from buffered samples (frame
    ``j`` is samples ``[j*H, j*H + W)``), so long inputs stay in bounded memory too."""

    features_ms = 0.0

    def __init__(
        self, backend: Backend, header: BundleHeader, limits: LongAudio, windowed: bool = False
    ) -> None:
        super().__init__(
            backend, header.output_length, _frame_step_seconds(header), limits, windowed
        )
        cfg = header.features
        self._config = cfg
        self._window_samples, self._step = cfg.window, cfg.step
        self._dtype = np.dtype(backend.inputs[0]["dtype"])
        self._samples: list[np.ndarray] = []
        self._sample_origin = 0  # stream index of the first buffered sample
        self._total = 0

    def _call(self, samples: np.ndarray) -> np.ndarray:
        feeds = {self.backend.input_names[0]: as_pcm(samples, self._dtype)[None]}
        t0 = time.perf_counter()
        probs = self.backend.run(feeds)[self.backend.output_names[0]][0]
        self.call_ms.append((time.perf_counter() - t0) * 1e3)
        return probs

    def _features(self, start: int, stop: int) -> np.ndarray:
        """The samples of frames [start, stop); drops those before frame ``start``."""
        first = start * self._step
        buf = np.concatenate(self._samples) if len(self._samples) > 1 else self._samples[0]
        buf = buf[first - self._sample_origin :]
        self._samples, self._sample_origin = [buf], first
        return buf[: (stop - 1) * self._step + self._window_samples - first]

    def _complete_frames(self) -> int:
        n, w = self._total, self._window_samples
        return 0 if n < w else (n - w) // self._step + 1

    def push(self, samples: np.ndarray) -> np.ndarray:
        x = np.asarray(samples, np.float32).reshape(-1)
        if len(x):
            self._samples.append(x)
            self._total += len(x)
        new = self._complete_frames() - self._in
        return super().push(np.zeros((max(0, new), 0), np.float32))

    def finish(self) -> np.ndarray:
        if not self._samples:
            return np.zeros((0, 0), np.float32)
        self._in = self._config.num_frames(self._total)  # MFCC: the zero-padded last frame
        return super().finish()


def _frame_step_seconds(header: BundleHeader) -> float:
    """Seconds per feature frame (what ``WindowRun`` measures its windows in)."""
    return float(header.features.step_ms) / 1e3


def concat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two posterior blocks end to end; either may be empty (a window run returns (0, 0))."""
    if not a.size:
        return b
    if not b.size:
        return a
    return np.concatenate([a, b])


def sample_run(
    backend: Backend,
    artifact: ArtifactEntry,
    header: BundleHeader,
    limits: LongAudio,
    *,
    streaming: bool = False,
    seconds: float = 0.0,
) -> SampleRun:
    """The run for ``artifact``: audio-in or feature-input, streaming or offline windows.
    ``streaming=True`` (a live stream) requires a streaming artifact; ``seconds`` (the
    expected duration) beyond ``limits.whole_seconds`` windows an offline artifact at once."""
    if streaming and artifact.stream is None:
        raise EdgeASRError(
            f"artifact {artifact.name!r} is offline: streams need a streaming artifact "
            "(Recognizer.from_bundle(..., streaming=True) or a *-stream artifact)"
        )
    windowed = seconds > limits.whole_seconds
    if artifact.audio is not None:
        if artifact.stream is not None:
            return AudioStreamRun(backend, artifact, header)
        return AudioWindowRun(backend, header, limits, windowed)
    inner: StreamRun | WindowRun
    if artifact.stream is not None:
        inner = StreamRun(backend, artifact.stream, header.output_length)
    else:
        fs = _frame_step_seconds(header)
        inner = WindowRun(backend, header.output_length, fs, limits, windowed)
    return FeatureRun(header, inner)
