"""Speech to text on a device: a bundle's feature pipeline, one artifact, a CTC decoder.

``Recognizer`` transcribes whole utterances; ``StreamingRecognizer`` takes audio as it arrives
and carries the recurrent state between chunks. Both run any artifact that passed the gate: an
offline one on the whole utterance, a streaming one chunk by chunk (same numbers either way).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np

from runtime import decoding
from runtime.audio import read_audio
from runtime.backends import Backend, open_backend
from runtime.bundle import Bundle, BundleError, check_io
from runtime.errors import EdgeASRError
from runtime.features import FeatureStream, extract
from runtime.streaming import ChunkRunner, run_chunked
from runtime.text import int_to_text

_FORMATS = {"auto": None, "tflite": "tflite", "onnx": "onnx"}


@dataclass
class Result:
    text: str
    words: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "words": self.words, "timings": self.timings}


@dataclass
class DecoderOptions:
    """Greedy when ``beam_width <= 1`` and no LM; prefix beam search otherwise."""

    beam_width: int = 1
    lm: Any = None  # runtime.lm.ArpaLM
    alpha: float = 0.5
    beta: float = 1.0
    hotwords: list[str] | None = None

    def decode(self, log_probs: np.ndarray) -> tuple[list[int], list[int], list[int] | None]:
        """Labels, the posterior frame where each label starts and (beam search) ends."""
        if self.beam_width <= 1 and self.lm is None and not self.hotwords:
            labels, starts = decoding.greedy_decode_with_frames(log_probs)
            return labels, starts, None
        res = decoding.beam_search_result(
            log_probs,
            beam_width=max(self.beam_width, 2),
            lm=self.lm,
            alpha=self.alpha,
            beta=self.beta,
            hotwords=self.hotwords,
        )
        return res.labels, res.frames, res.end_frames


class _Base:
    def __init__(
        self,
        bundle: Bundle,
        artifact: dict[str, Any],
        backend: Backend,
        decoder: DecoderOptions | None = None,
    ) -> None:
        self.bundle = bundle
        self.artifact = artifact
        self.backend = backend
        self.decoder = decoder or DecoderOptions()
        self.load_seconds = 0.0

    #: None: any artifact (offline or streaming); True: a streaming artifact is required.
    needs_streaming: bool | None = None

    @classmethod
    def from_bundle(
        cls,
        path: str | os.PathLike,
        artifact: str | None = None,
        backend: str = "auto",
        threads: int = 1,
        decoder: DecoderOptions | None = None,
    ) -> Self:
        """Verify the bundle (schema, sha256, tensor shapes) and pick ``artifact`` (default:
        the smallest one that passed the gate, of the kind this class needs)."""
        if backend not in _FORMATS:
            raise EdgeASRError(f"backend must be one of {', '.join(_FORMATS)}, not {backend!r}")
        start = time.perf_counter()
        bundle = Bundle.load(path)
        if cls.needs_streaming and not bundle.meta.get("model", {}).get("streamable", True):
            raise BundleError(
                f"{bundle.path}: model {bundle.meta['model'].get('name')} is not streamable "
                "(bidirectional): use offline transcription"
            )
        art = bundle.select(artifact, fmt=_FORMATS[backend], streaming=cls.needs_streaming)
        if cls.needs_streaming and not art["streaming"]:
            raise BundleError(f"artifact {art['name']!r} is not a streaming artifact")
        be = open_backend(bundle.verify(art), art["format"], threads=threads)
        check_io(art, be.inputs, be.outputs)
        rec = cls(bundle, art, be, decoder)
        rec.load_seconds = time.perf_counter() - start
        return rec

    def _decode(self, log_probs: np.ndarray) -> tuple[str, list[dict[str, Any]]]:
        labels, starts, ends = self.decoder.decode(log_probs)
        words = decoding.words_with_times(labels, starts, self.bundle.frame_seconds, ends)
        return int_to_text(labels), words


class Recognizer(_Base):
    """Whole-utterance transcription with one artifact of a bundle."""

    def posteriors(self, features: np.ndarray) -> np.ndarray:
        """Per-frame posteriors (T', 29) for normalized features (T, D)."""
        n_out = self.bundle.output_length(len(features))
        if n_out <= 0:
            return np.zeros((0, len(self.bundle.labels) + 1), np.float32)
        if self.artifact["streaming"]:
            return run_chunked(self.backend, self.artifact["stream"], features, n_out)
        feeds = {self.backend.input_names[0]: features[None].astype(np.float32)}
        return self.backend.run(feeds)[self.backend.output_names[0]][0]

    def transcribe(self, audio: np.ndarray | str | os.PathLike) -> Result:
        """Text, word times and timings for a waveform (float32 at the bundle rate) or a WAV."""
        rate = self.bundle.features.sample_rate
        samples = read_audio(audio, rate) if isinstance(audio, str | Path) else audio
        samples = np.asarray(samples, np.float32)
        if samples.ndim != 1 or not np.isfinite(samples).all():
            raise EdgeASRError("audio must be finite mono samples")
        t0 = time.perf_counter()
        feats = extract(samples, self.bundle.features)
        t1 = time.perf_counter()
        log_probs = decoding.to_log_probs(self.posteriors(feats))
        t2 = time.perf_counter()
        text, words = self._decode(log_probs)
        t3 = time.perf_counter()
        audio_s = len(samples) / rate
        timings = {
            "audio_s": audio_s,
            "features_ms": (t1 - t0) * 1e3,
            "model_ms": (t2 - t1) * 1e3,
            "decode_ms": (t3 - t2) * 1e3,
            "rtf": (t3 - t0) / audio_s if audio_s else 0.0,
        }
        return Result(text, words, timings)


class StreamingRecognizer(_Base):
    """Audio in as it arrives; partial text out; ``finalize`` gives the final text.

    Needs a streaming artifact (chunked input, explicit recurrent state). The final text equals
    ``Recognizer`` on the same audio with the same artifact, for any chunking of the audio.
    """

    needs_streaming = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._features = FeatureStream(self.bundle.features)
        self._runner = ChunkRunner(self.backend, self.artifact["stream"])
        self._probs: list[np.ndarray] = []
        self._partial: list[int] = []
        self._previous = -1
        self._frames_in = 0
        self.chunk_latencies_ms: list[float] = []

    def reset(self) -> None:
        self._features = FeatureStream(self.bundle.features)
        self._runner.reset()
        self._probs = []
        self._partial = []
        self._previous = -1
        self._frames_in = 0
        self.chunk_latencies_ms = []

    def _consume(self, frames: np.ndarray, final: bool) -> None:
        self._frames_in += len(frames)
        t0 = time.perf_counter()
        out = self._runner.push(frames)
        if final:
            out = np.concatenate([o for o in (out, self._runner.flush()) if o.size] or [out])
        if not out.size:
            return
        self._probs.append(out)
        calls = max(1, round(len(out) / self._runner.output_frames))
        self.chunk_latencies_ms += [(time.perf_counter() - t0) * 1e3 / calls] * calls
        if not final:  # partial text: greedy over the new frames only
            for label in out.argmax(axis=1).tolist():
                if label != self._previous and label != self.bundle.blank:
                    self._partial.append(label)
                self._previous = label

    def _log_probs(self) -> np.ndarray:
        n_out = self.bundle.output_length(self._frames_in)
        if not self._probs or n_out <= 0:
            return np.zeros((0, len(self.bundle.labels) + 1), np.float32)
        return decoding.to_log_probs(np.concatenate(self._probs)[:n_out])

    def accept_audio(self, samples: np.ndarray) -> str:
        """Push audio samples (float32 at the bundle rate); return the partial text so far."""
        samples = np.asarray(samples, np.float32)
        if not np.isfinite(samples).all():
            raise EdgeASRError("audio contains NaN or Inf")
        self._consume(self._features.push(samples), final=False)
        return int_to_text(self._partial)

    def finalize(self) -> Result:
        """Flush features and model; decode everything with the configured decoder; reset."""
        self._consume(self._features.flush(), final=True)
        log_probs = self._log_probs()
        text, words = self._decode(log_probs)
        lat = np.asarray(self.chunk_latencies_ms or [0.0])
        timings = {
            "chunks": float(len(self.chunk_latencies_ms)),
            "chunk_p50_ms": float(np.percentile(lat, 50)),
            "chunk_p95_ms": float(np.percentile(lat, 95)),
        }
        result = Result(text, words, timings)
        self.reset()
        return result
