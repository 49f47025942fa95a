"""Where one utterance of a long stream ends: trailing silence after speech, or a length cap.

Silence is read off the model, not the waveform: a frame whose best class is the blank (or a
space) is silent, any other is speech, as sherpa-onnx does. A microphone session then yields
one result per utterance, and a stream never holds more than ``max_utterance_s`` of posteriors.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from runtime.errors import EdgeASRError

__all__ = ["EndpointConfig", "EndpointDetector"]


@dataclass(frozen=True)
class EndpointConfig:
    """Endpoint rules (defaults suit dictation; sherpa-onnx uses 1.2 s and 20 s).

    ``trailing_silence_s``: an utterance ends after this much silence that follows speech.
    ``max_utterance_s``: an utterance is cut after this long even without a pause (bounds the
    decoder's work and the stream's memory). Before the first speech frame, silence older
    than ``trailing_silence_s`` is dropped, so long pauses cost nothing and yield no result.
    """

    trailing_silence_s: float = 0.8
    max_utterance_s: float = 20.0

    def __post_init__(self) -> None:
        for name in ("trailing_silence_s", "max_utterance_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise EdgeASRError(f"endpoint {name} must be a positive number, got {value!r}")
        if self.max_utterance_s <= self.trailing_silence_s:
            raise EdgeASRError(
                f"endpoint max_utterance_s ({self.max_utterance_s}) must exceed "
                f"trailing_silence_s ({self.trailing_silence_s})"
            )


class EndpointDetector:
    """Frame-by-frame endpoint rules for one stream (frame = one posterior frame)."""

    def __init__(self, config: EndpointConfig, frame_seconds: float, silent: Iterable[int]):
        self.silence_frames = max(1, round(config.trailing_silence_s / frame_seconds))
        self.max_frames = max(
            self.silence_frames + 1, round(config.max_utterance_s / frame_seconds)
        )
        self.silent = frozenset(silent)
        self.reset()

    def reset(self) -> None:
        """A new utterance starts."""
        self.frames = 0  # frames in the utterance so far
        self.trailing = 0  # silent frames at its end
        self.speech = False

    def step(self, best: int) -> bool:
        """Account one frame (its best class); True when the utterance ends with this frame."""
        self.frames += 1
        if best in self.silent:
            self.trailing += 1
        else:
            self.trailing = 0
            self.speech = True
        return (self.speech and self.trailing >= self.silence_frames) or (
            self.frames >= self.max_frames
        )

    def excess_silence(self) -> int:
        """Leading frames to drop while no speech has come (keeps ``silence_frames``)."""
        if self.speech or self.frames <= self.silence_frames:
            return 0
        drop = self.frames - self.silence_frames
        self.frames -= drop
        self.trailing = self.frames
        return drop
