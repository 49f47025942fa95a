"""Speech to text on a device: a bundle's feature pipeline, one artifact, a CTC decoder.

The shape follows sherpa-onnx: a ``Recognizer`` is loaded once (bundle verified, interpreter
opened once) and then serves any number of light ``Stream``s and whole-utterance
``transcribe`` calls, from any number of threads::

    rec = Recognizer.from_bundle("bundle", streaming=True, endpoint=EndpointConfig())
    stream = rec.create_stream(hotwords=["birch"])
    while audio := microphone():
        stream.accept_waveform(48000, audio)       # resampled to the bundle's rate
        print(stream.partial)                      # greedy text of the current utterance
        for result in stream.pop_results():        # utterances closed by an endpoint
            print(result.text)
    print(rec.finish(stream).text)                 # the last utterance

A stream holds its own feature buffer, recurrent state and posteriors (one thread at a time
per stream); the backend is shared and safe to call concurrently (``runtime.backends``).

Audio in (``transcribe`` and ``accept_waveform``): 1-D float samples in [-1, 1] (up to
``MAX_ABS_SAMPLE``, for filter overshoot), or int16 samples, divided by 32768. Anything else
(another integer type, NaN/Inf, louder floats, 2-D arrays) is refused with one line.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Self

import numpy as np

from runtime import decoding
from runtime.audio import Resampler, iter_wav, wav_info
from runtime.backends import Backend, backend_choice, open_backend
from runtime.bundle import Bundle, BundleError, check_io
from runtime.endpoint import EndpointConfig, EndpointDetector
from runtime.errors import EdgeASRError
from runtime.formats import ArtifactEntry
from runtime.long_audio import Labeler, LongAudio
from runtime.sample_runs import SampleRun, concat, sample_run
from runtime.text import SYMBOLS, normalize_text

__all__ = [
    "MAX_ABS_SAMPLE",
    "DecoderOptions",
    "EndpointConfig",
    "LongAudio",
    "Recognizer",
    "Result",
    "Stream",
    "StreamingRecognizer",
    "check_samples",
]

#: Float samples beyond this magnitude are refused (int16 values passed as floats, garbage).
MAX_ABS_SAMPLE = 1.5
#: Beam width used when an LM or hot words are given with ``beam_width`` 1.
DEFAULT_BEAM = 16


class AudioInputError(EdgeASRError):
    """Samples the recognizer cannot take (shape, type, range, NaN)."""


def check_samples(samples: Any) -> np.ndarray:
    """1-D float32 samples in [-1, 1] from float or int16 input, or a one-line error."""
    x = np.asarray(samples)
    if x.ndim != 1:
        raise AudioInputError(f"audio must be 1-D mono samples, got shape {x.shape}")
    if x.dtype == np.int16:
        return (x / np.float32(32768.0)).astype(np.float32)
    if not np.issubdtype(x.dtype, np.floating):
        raise AudioInputError(f"audio samples must be float in [-1, 1] or int16, got {x.dtype}")
    if x.size and not np.isfinite(x).all():
        raise AudioInputError("audio contains NaN or Inf")
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak > MAX_ABS_SAMPLE:
        raise AudioInputError(
            f"float samples must lie in [-1, 1], max |x| is {peak:.4g} "
            "(int16 values as floats? divide by 32768)"
        )
    return x.astype(np.float32, copy=False)


@dataclass(frozen=True)
class Result:
    """One utterance: text, words (``word``, ``start``, ``end`` in seconds from the start of
    the audio or stream), its span and timings; the same keys offline and streaming."""

    text: str
    words: list[dict[str, Any]] = field(default_factory=list)
    start: float = 0.0
    end: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "words": self.words,
            "start": self.start,
            "end": self.end,
            "timings": self.timings,
        }


@dataclass(frozen=True)
class DecoderOptions:
    """Greedy when ``beam_width`` is 1 with no LM and no hot words; prefix beam search
    otherwise (``DEFAULT_BEAM`` wide when an LM or hot words come with ``beam_width`` 1).

    ``partial_decoder``: stream partials use this decoder on the utterance so far (cost grows
    with the utterance, up to the endpoint's ``max_utterance_s``) instead of the incremental
    greedy text (cheap, the default). Finals always use this decoder.
    """

    beam_width: int = 1
    lm: Any = None  # runtime.lm.ArpaLM
    alpha: float = 0.5
    beta: float = 1.0
    hotwords: tuple[str, ...] = ()
    partial_decoder: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.beam_width, bool) or not isinstance(self.beam_width, int):
            raise decoding.DecodeError(f"beam width must be an integer, got {self.beam_width!r}")
        if self.beam_width < 1:
            raise decoding.DecodeError(f"beam width must be >= 1, got {self.beam_width}")
        words = []
        for h in self.hotwords or ():
            if not isinstance(h, str) or not normalize_text(h):
                raise decoding.DecodeError(f"hot word {h!r} has no letters")
            words.append(normalize_text(h))
        object.__setattr__(self, "hotwords", tuple(words))

    @property
    def greedy(self) -> bool:
        return self.beam_width == 1 and self.lm is None and not self.hotwords

    def decode(self, log_probs: np.ndarray) -> tuple[list[int], list[int], list[int] | None]:
        """Labels, the posterior frame where each label starts and (beam search) ends."""
        if self.greedy:
            labels, starts = decoding.greedy_decode_with_frames(log_probs)
            return labels, starts, None
        width = self.beam_width if self.beam_width > 1 else DEFAULT_BEAM
        res = decoding.beam_search_result(
            log_probs,
            beam_width=max(width, 2),
            lm=self.lm,
            alpha=self.alpha,
            beta=self.beta,
            hotwords=self.hotwords,
        )
        return res.labels, res.frames, res.end_frames


def _timings(
    audio_s: float, features_ms: float, decode_ms: float, call_ms: list[float]
) -> dict[str, float]:
    model_ms = float(sum(call_ms))
    calls = np.asarray(call_ms or [0.0])
    total_s = (features_ms + model_ms + decode_ms) / 1e3
    return {
        "audio_s": audio_s,
        "features_ms": features_ms,
        "model_ms": model_ms,
        "decode_ms": decode_ms,
        "rtf": total_s / audio_s if audio_s else 0.0,
        "chunks": float(len(call_ms)),
        "chunk_p50_ms": float(np.percentile(calls, 50)),
        "chunk_p95_ms": float(np.percentile(calls, 95)),
    }


class Recognizer:
    """One verified artifact of a bundle, its interpreter and a decoder; thread-safe."""

    def __init__(
        self,
        bundle: Bundle,
        artifact: ArtifactEntry,
        backend: Backend,
        decoder: DecoderOptions | None = None,
        endpoint: EndpointConfig | None = None,
        long_audio: LongAudio | None = None,
    ) -> None:
        self.bundle = bundle
        self.artifact = artifact
        self.backend = backend
        self.decoder = decoder or DecoderOptions()
        self.endpoint = endpoint
        self.long_audio = long_audio or LongAudio()
        self.labels = bundle.labels
        self.sample_rate = bundle.features.sample_rate
        self.load_seconds = 0.0
        if self.labels.blank != len(self.labels.symbols):
            raise BundleError(
                f"{bundle.path}: labels put the blank at {self.labels.blank}; the runtime's "
                f"decoders need it last ({len(self.labels.symbols)})"
            )
        self._check_decoder(self.decoder)

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
        *,
        streaming: bool | None = None,
        endpoint: EndpointConfig | None = None,
    ) -> Self:
        """Verify the bundle (schema, sha256, tensor shapes) and open ``artifact`` (default:
        the smallest one that passed the gate; ``streaming=True``: the smallest streaming
        one, which ``create_stream`` needs). ``endpoint``: the rules that split a stream into
        utterances (None: one utterance per stream, until ``finish``)."""
        fmt, interpreter = backend_choice(backend)  # "litert": TFLite files on LiteRT only
        start = time.perf_counter()
        streaming = streaming or cls.needs_streaming
        bundle = Bundle.load(path)
        if streaming and not bundle.header.model.streamable:
            raise BundleError(
                f"{bundle.path}: model {bundle.header.model.name} is not streamable "
                "(bidirectional): use offline transcription"
            )
        art = bundle.select(artifact, fmt=fmt, streaming=streaming)
        if streaming and not art.streaming:
            raise BundleError(f"artifact {art.name!r} is not a streaming artifact")
        be = open_backend(bundle.verify(art), art.format, threads, interpreter)
        check_io(art, be.inputs, be.outputs)
        rec = cls(bundle, art, be, decoder, endpoint)
        rec.load_seconds = time.perf_counter() - start
        return rec

    def _check_decoder(self, decoder: DecoderOptions) -> None:
        if (decoder.lm is not None or decoder.hotwords) and self.labels.symbols != SYMBOLS:
            raise EdgeASRError("an LM and hot words need the bundle to use the 29-symbol alphabet")

    # ------------------------------------------------------------------ shared by both paths
    def _result(
        self,
        log_probs: np.ndarray,
        decoder: DecoderOptions,
        offset: int,
        timing: tuple[float, float, list[float]],
    ) -> Result:
        """Decode one utterance's log-posteriors; ``offset``: its first frame in the stream."""
        t0 = time.perf_counter()
        labels, starts, ends = decoder.decode(log_probs)
        if offset:
            starts = [s + offset for s in starts]
            ends = None if ends is None else [e + offset for e in ends]
        decode_ms = (time.perf_counter() - t0) * 1e3
        return self._labels_result(labels, starts, ends, offset, len(log_probs), decode_ms, timing)

    def _labels_result(
        self,
        labels: list[int],
        starts: list[int],
        ends: list[int] | None,
        offset: int,
        frames: int,
        decode_ms: float,
        timing: tuple[float, float, list[float]],
    ) -> Result:
        """A Result from decoded labels (their frames counted from the stream's start)."""
        t0 = time.perf_counter()
        fs = self.bundle.frame_seconds
        words = decoding.words_with_times(labels, starts, fs, ends, symbols=self.labels.symbols)
        decode_ms += (time.perf_counter() - t0) * 1e3
        audio_s, features_ms, call_ms = timing
        return Result(
            text=self.labels.text(labels),
            words=words,
            start=round(offset * fs, 3),
            end=round((offset + frames) * fs, 3),
            timings=_timings(audio_s, features_ms, decode_ms, call_ms),
        )

    # ------------------------------------------------------------------ whole utterances
    def posteriors(self, samples: np.ndarray) -> tuple[np.ndarray, list[float]]:
        """Per-frame posteriors (T', C) of a whole recording (samples at the bundle's rate),
        whatever the artifact takes (features or audio), and the time of each model call (ms).
        Exactly the gated function up to ``long_audio.whole_seconds``."""
        x = check_samples(samples)
        run = self._sample_run(seconds=len(x) / self.sample_rate)
        probs = concat(run.push(x), run.finish())
        if not probs.size:
            probs = np.zeros((0, self.labels.num_classes), np.float32)
        return probs.astype(np.float32, copy=False), run.call_ms

    def transcribe(self, audio: np.ndarray | str | os.PathLike) -> Result:
        """Text, word times and timings of a whole recording: samples at the bundle's rate
        (see the module docstring) or a WAV file (any rate; resampled). Memory does not grow
        with the length (``runtime.long_audio``): exact for streaming artifacts, greedy
        decoding and inputs up to ``long_audio.whole_seconds``; windowed beyond."""
        return self._transcribe_blocks(*self._audio_blocks(audio))

    def _audio_blocks(
        self, audio: np.ndarray | str | os.PathLike
    ) -> tuple[Iterator[np.ndarray], float]:
        """A file or samples as blocks of ``long_audio.block_seconds`` at the bundle's rate,
        and the duration (seconds; a file's from its header)."""
        block = self.long_audio.block_seconds
        if isinstance(audio, str | os.PathLike):
            return iter_wav(audio, self.sample_rate, block), wav_info(audio).seconds
        samples = check_samples(audio)
        n = max(1, int(block * self.sample_rate))
        blocks = (samples[i : i + n] for i in range(0, len(samples), n))
        return blocks, len(samples) / self.sample_rate

    def _sample_run(self, streaming: bool = False, seconds: float = 0.0) -> SampleRun:
        """Samples in, posteriors out, for this artifact (``runtime.sample_runs``: numpy
        features in front of a feature-input artifact; nothing in front of an audio-in one)."""
        return sample_run(
            self.backend,
            self.artifact,
            self.bundle.header,
            self.long_audio,
            streaming=streaming,
            seconds=seconds,
        )

    def _transcribe_blocks(self, blocks: Iterable[np.ndarray], seconds: float) -> Result:
        """Audio blocks through the artifact (and its features) and the decoder, one block at
        a time (``seconds``: the expected duration; longer than ``whole_seconds`` starts
        windowing an offline artifact at once)."""
        limits = self.long_audio
        run = self._sample_run(seconds=seconds)
        max_frames = int(limits.whole_seconds / self.bundle.frame_seconds)
        d = self.decoder
        labeler = Labeler(d.decode, d.greedy, self.labels.blank, self.labels.symbols, max_frames)
        samples = 0
        for block in blocks:
            samples += len(block)
            labeler.push(run.push(block))
        labeler.push(run.finish())
        labeler.finish()
        timing = (samples / self.sample_rate, run.features_ms, run.call_ms)
        ends = labeler.ends
        return self._labels_result(
            labeler.labels, labeler.starts, ends, 0, labeler.frames, labeler.decode_ms, timing
        )

    # ------------------------------------------------------------------ streams
    def create_stream(self, hotwords: list[str] | tuple[str, ...] | None = None) -> Stream:
        """A new stream (needs a streaming artifact); ``hotwords`` replace the decoder's hot
        words for this stream only."""
        decoder = self.decoder
        if hotwords is not None:
            decoder = replace(decoder, hotwords=tuple(hotwords))
            self._check_decoder(decoder)
        return Stream(self, decoder)

    def finish(self, stream: Stream) -> Result:
        """End ``stream``'s input and return its last utterance (everything after the last
        endpoint; the whole stream without endpointing). Results of earlier utterances stay
        in ``stream.pop_results()``. The stream is then ready for new audio."""
        stream.input_finished()
        return stream._last


class Stream:
    """One audio stream of a ``Recognizer`` (create with ``rec.create_stream``).

    Holds the feature buffer, the artifact's recurrent state and the current utterance's
    posteriors; after an endpoint only decoding restarts (the recurrent state runs on, as
    the model saw continuous audio; see docs), and memory is bounded by the utterance.
    """

    def __init__(self, rec: Recognizer, decoder: DecoderOptions) -> None:
        self.rec = rec
        self.decoder = decoder
        self._run = rec._sample_run(streaming=True)
        fs = rec.bundle.frame_seconds
        silent = {rec.labels.blank} | {i for i, s in enumerate(rec.labels.symbols) if s.isspace()}
        self._detector = (
            EndpointDetector(rec.endpoint, fs, silent) if rec.endpoint is not None else None
        )
        self._resampler: Resampler | None = None
        self._results: list[Result] = []
        self._last = Result("")
        self._new_stream()

    def _new_stream(self) -> None:
        self._new_utterance(0)

    def _new_utterance(self, start: int) -> None:
        self._start = start
        self._probs = np.zeros((0, self.rec.labels.num_classes), np.float32)
        self._ids: list[int] = []
        self._previous = -1
        self._calls_before = len(self._run.call_ms)  # model calls of earlier utterances
        self._features_before = self._run.features_ms
        if self._detector is not None:
            self._detector.reset()

    # ------------------------------------------------------------------ input
    def accept_waveform(self, sample_rate: int, samples: Any) -> None:
        """Add audio (see the module docstring for types); resampled to the bundle's rate."""
        x = check_samples(samples)
        rate = self.rec.sample_rate
        if sample_rate != rate:
            if self._resampler is None or self._resampler.src != sample_rate:
                if self._resampler is not None:
                    raise AudioInputError(
                        f"a stream keeps one sample rate ({self._resampler.src} Hz), "
                        f"got {sample_rate} Hz"
                    )
                if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
                    raise AudioInputError(f"sample rate must be an integer, got {sample_rate!r}")
                if not 1000 <= sample_rate <= 384000:
                    raise AudioInputError(f"sample rate {sample_rate} Hz is out of range")
                self._resampler = Resampler(sample_rate, rate)
            x = self._resampler.push(x)
        self._push(x)

    def _push(self, x: np.ndarray, final: bool = False) -> None:
        out = self._run.push(x)
        if final:
            out = concat(out, self._run.finish())
        self._consume(out)

    def input_finished(self) -> None:
        """End of the audio: flush features and model, decode the last utterance (kept for
        ``rec.finish``) and reset the stream for new audio."""
        if self._resampler is not None:
            self._push(self._resampler.flush())
            self._resampler = None
        self._push(np.zeros(0, np.float32), final=True)
        self._last = self._close()
        self._run = self.rec._sample_run(streaming=True)
        self._new_stream()

    # ------------------------------------------------------------------ posteriors
    def _consume(self, out: np.ndarray) -> None:
        if not len(out):
            return
        best = out.argmax(axis=1).tolist()
        det = self._detector
        first = 0
        if det is not None:
            for i, b in enumerate(best):
                if det.step(b):
                    self._append(out[first : i + 1], best[first : i + 1])
                    self._results.append(self._close())
                    first = i + 1
        self._append(out[first:], best[first:])
        if det is not None and (drop := det.excess_silence()):
            self._probs = self._probs[drop:]
            self._start += drop
            self._ids, self._previous = [], -1

    def _append(self, probs: np.ndarray, best: list[int]) -> None:
        self._probs = np.concatenate([self._probs, probs])
        blank = self.rec.labels.blank
        for label in best:
            if label != self._previous and label != blank:
                self._ids.append(label)
            self._previous = label

    def _close(self) -> Result:
        """The current utterance's result; the next utterance starts after it."""
        fs = self.rec.bundle.frame_seconds
        audio_s = len(self._probs) * fs
        calls = list(self._run.call_ms[self._calls_before :])
        timing = (audio_s, self._run.features_ms - self._features_before, calls)
        result = self.rec._result(
            decoding.to_log_probs(self._probs), self.decoder, self._start, timing
        )
        self._new_utterance(self._start + len(self._probs))
        return result

    # ------------------------------------------------------------------ output
    @property
    def partial(self) -> str:
        """Text of the current utterance so far (greedy unless ``partial_decoder``)."""
        if self.decoder.partial_decoder and not self.decoder.greedy:
            labels, _, _ = self.decoder.decode(decoding.to_log_probs(self._probs))
            return self.rec.labels.text(labels)
        return self.rec.labels.text(self._ids)

    @property
    def complete_words(self) -> list[str]:
        """The words of ``partial`` that are complete (a space was decoded after them). Greedy
        partials only grow, so these never change within the utterance: a client may append
        them as they come (``transcribe --stream --partial-new-words``)."""
        words = self.partial.split()
        if self.decoder.partial_decoder and not self.decoder.greedy:
            return words[:-1]  # beam partials: no such guarantee (any word may be revised)
        symbols = self.rec.labels.symbols
        ends_word = (
            bool(self._ids) and self._ids[-1] < len(symbols) and symbols[self._ids[-1]].isspace()
        )
        return words if ends_word else words[:-1]

    @property
    def is_endpoint(self) -> bool:
        """True while utterances closed by an endpoint wait in ``pop_results``."""
        return bool(self._results)

    def pop_results(self) -> list[Result]:
        """Utterances closed by an endpoint since the last call, oldest first."""
        results, self._results = self._results, []
        return results


class StreamingRecognizer(Recognizer):
    """A recognizer with one built-in stream.

    Deprecated (kept for one release): use ``Recognizer.from_bundle(..., streaming=True)``,
    ``rec.create_stream()``, ``stream.accept_waveform(rate, samples)``, ``stream.partial`` and
    ``rec.finish(stream)``, which also serve many streams from one interpreter.
    """

    needs_streaming = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stream = self.create_stream()

    @property
    def chunk_latencies_ms(self) -> list[float]:
        """Model time of each chunk of the current utterance (ms)."""
        return list(self._stream._run.call_ms[self._stream._calls_before :])

    def accept_audio(self, samples: np.ndarray) -> str:
        """Deprecated: ``stream.accept_waveform`` then ``stream.partial``."""
        self._stream.accept_waveform(self.sample_rate, samples)
        return self._stream.partial

    def finalize(self) -> Result:
        """Deprecated: ``rec.finish(stream)``."""
        return self.finish(self._stream)
