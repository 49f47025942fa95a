"""Whole-file transcription in bounded memory (runtime.long_audio): the same text as the
whole-input path, and a peak RSS that does not grow with the file's length."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import editdistance
import numpy as np
import pytest

from runtime import decoding
from runtime.audio import read_audio, write_wav
from runtime.features import extract
from runtime.long_audio import Labeler, LongAudio
from runtime.recognizer import DecoderOptions, Recognizer, Result
from runtime.streaming import run_chunked

RATE = 16000


def whole_input(rec: Recognizer, samples: np.ndarray) -> Result:
    """The whole-input path of a feature-input artifact (all features, one model run or
    every chunk, one decode), independent of ``runtime.long_audio``: what ``transcribe`` did
    before it went block by block, and what it still must equal."""
    feats = extract(samples, rec.bundle.features)
    if rec.artifact.stream is not None:
        n_out = rec.bundle.output_length(len(feats))
        probs = run_chunked(rec.backend, rec.artifact.stream, feats, n_out)
    else:
        be = rec.backend
        probs = be.run({be.input_names[0]: feats[None]})[be.output_names[0]][0]
    return rec._result(decoding.to_log_probs(probs), rec.decoder, 0, (0.0, 0.0, []))


def long_wav(corpus: Path, path: Path, seconds: float) -> np.ndarray:
    """The corpus's test and valid utterances, repeated to ``seconds``, written to ``path``."""
    files = sorted(corpus.glob("wav/test/*.wav")) + sorted(corpus.glob("wav/valid/*.wav"))
    x = np.concatenate([read_audio(f) for f in files])
    x = np.tile(x, int(np.ceil(seconds * RATE / len(x))))[: int(seconds * RATE)]
    write_wav(path, x, RATE)
    return read_audio(path)


@pytest.fixture(scope="module")
def three_minutes(tiny_corpus: Path, tmp_path_factory) -> tuple[Path, np.ndarray]:
    path = tmp_path_factory.mktemp("long") / "three_minutes.wav"
    return path, long_wav(tiny_corpus, path, 180.0)


def test_long_file_gives_the_whole_input_text(tiny_bundle: Path, three_minutes):
    """Streaming artifacts are exact at any length; offline ones are windowed beyond 60 s
    (an approximation: CER vs the whole input bounded here, exact on this model)."""
    path, samples = three_minutes
    for name in ("tflite-fp32-stream", "onnx-fp32-stream", "tflite-fp32", "onnx-fp32"):
        rec = Recognizer.from_bundle(tiny_bundle, name)
        got, want = rec.transcribe(path), whole_input(rec, samples)
        assert got.end == want.end and got.timings["audio_s"] == pytest.approx(180.0)
        if rec.artifact.streaming:
            assert got.text == want.text and got.words == want.words, name
        else:
            assert got.timings["chunks"] > 1  # windows, not one call on 3 minutes
            assert editdistance.eval(got.text, want.text) <= 0.02 * len(want.text), name


def test_short_input_is_one_call_exactly_as_before(tiny_bundle: Path, three_minutes):
    _, samples = three_minutes
    rec = Recognizer.from_bundle(tiny_bundle, "tflite-fp32")
    clip = samples[: 50 * RATE]  # under LongAudio.whole_seconds
    got, want = rec.transcribe(clip), whole_input(rec, clip)
    assert got.timings["chunks"] == 1
    assert (got.text, got.words, got.end) == (want.text, want.words, want.end)


def test_windows_stitch_to_the_whole_input_posteriors(tiny_bundle: Path, three_minutes):
    """Every window keeps the posteriors with context on both sides: one frame per model
    frame, none twice, and (this model's recurrences forget within the 2 s context) the same
    best path as one call on the whole input."""
    _, samples = three_minutes
    clip = samples[: 40 * RATE]
    rec = Recognizer.from_bundle(tiny_bundle, "onnx-fp32")
    rec.long_audio = LongAudio(whole_seconds=6, window_seconds=6, context_seconds=2)
    got, want = rec.transcribe(clip), whole_input(rec, clip)
    assert got.timings["chunks"] >= 15  # each window keeps ~2 s
    assert got.end == want.end
    assert got.text == want.text


def _pause_posteriors(rng: np.random.Generator, words: int, classes: int = 29) -> np.ndarray:
    """Posteriors of ``words`` random words, each followed by a pause (blank then space then
    blank frames), sharp enough that beam search and greedy agree."""
    frames = []
    for _ in range(words):
        for label in rng.integers(2, 28, rng.integers(2, 7)):
            frames += [int(label)] * int(rng.integers(1, 4)) + [28]
        frames += [28] * int(rng.integers(3, 12)) + [1] + [28] * int(rng.integers(3, 12))
    probs = np.full((len(frames), classes), 0.02 / (classes - 1), np.float32)
    probs[np.arange(len(frames)), frames] = 0.98
    return probs


def test_beam_search_is_cut_in_pauses(tiny_bundle: Path):
    """Beam search decodes bounded spans cut in pauses and joins them at word boundaries:
    the text and word times of one search over everything."""
    rec = Recognizer.from_bundle(tiny_bundle, "onnx-fp32-stream")
    options = DecoderOptions(beam_width=4)
    probs = _pause_posteriors(np.random.default_rng(0), 300)
    whole = options.decode(decoding.to_log_probs(probs))
    labeler = Labeler(options.decode, False, 28, rec.labels.symbols, max_frames=200)
    for i in range(0, len(probs), 77):
        labeler.push(probs[i : i + 77])
    labeler.finish()
    assert len(probs) > 20 * 200  # many cuts
    assert rec.labels.text(labeler.labels) == rec.labels.text(whole[0])
    words = decoding.words_with_times(labeler.labels, labeler.starts, 0.03, labeler.ends)
    assert words == decoding.words_with_times(whole[0], whole[1], 0.03, whole[2])


_PEAK = """
import json, sys
from edge_asr.measure import peak_rss_mb
from runtime.recognizer import Recognizer
rec = Recognizer.from_bundle(sys.argv[1], sys.argv[2])
before = peak_rss_mb()
result = rec.transcribe(sys.argv[3])
print(json.dumps({"loaded": before, "peak": peak_rss_mb(), "audio_s": result.timings["audio_s"]}))
"""


def peak_rss(bundle: Path, artifact: str, wav: Path) -> dict[str, float]:
    """Peak RSS (MB) of a fresh process that transcribes ``wav``, and after loading alone."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, str(bundle), artifact, str(wav)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_memory_does_not_grow_with_the_file(tiny_bundle: Path, three_minutes, tmp_path: Path):
    """70 s vs 3 min at 44.1 kHz (both past ``whole_seconds``): the whole-input path's peak
    grew by 36-52 MB over these 110 s (samples, float64 copies, every frame's FFT); block by
    block it grows by the transcript only (measured 1-8 MB, allocator noise included)."""
    from runtime.audio import resample

    _, samples = three_minutes
    wavs = {}
    for seconds in (70, 180):
        wavs[seconds] = tmp_path / f"{seconds}s.wav"
        write_wav(wavs[seconds], resample(samples[: seconds * RATE], RATE, 44100), 44100)
    for artifact in ("tflite-fp32", "onnx-fp32-stream"):
        short, long = (peak_rss(tiny_bundle, artifact, wavs[s]) for s in (70, 180))
        assert long["audio_s"] == pytest.approx(180.0) and short["audio_s"] == pytest.approx(70.0)
        assert long["peak"] - short["peak"] < 15, (artifact, short, long)
