"""``transcribe --stream --json --partial-new-words``: partial lines carry only the words
completed since the previous line; appended, they are the utterance's final words."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime.audio import read_audio
from runtime.recognizer import Recognizer

RATE = 16000


def _audio(corpus: Path, n: int = 3) -> np.ndarray:
    return np.concatenate([read_audio(f) for f in sorted(corpus.glob("wav/test/*.wav"))[:n]])


@pytest.fixture(scope="module")
def spaced_bundle(tiny_corpus: Path, feature_config, tmp_path_factory) -> Path:
    """A streaming bundle of a seeded random model whose space class wins about one frame in
    six on the test audio (a random model may never emit a space, so no word would end)."""
    import keras

    from converters.convert import Options, convert_model_dir, load_utterances, resolve_targets
    from edge_asr.models import save_model
    from edge_asr.models.saving import load_model_dir
    from runtime.features import extract
    from tests.conftest import make_model_dir

    keras.utils.set_random_seed(3)
    root = tmp_path_factory.mktemp("spaced")
    model_dir = make_model_dir(root, "final_model_streaming", feature_config, seed=3)
    model, folder = load_model_dir(model_dir)
    dense = model.get_layer("dense")
    hidden = keras.Model(model.inputs, dense.input)
    h = hidden.predict(extract(_audio(tiny_corpus), feature_config)[None], verbose=0)[0]
    kernel, bias = (w.numpy() for w in dense.weights)
    logits = h @ kernel + bias
    others = np.delete(logits, 1, axis=1).max(axis=1)
    bias[1] += float(np.quantile(others - logits[:, 1], 1 / 6))
    dense.set_weights([kernel, bias])
    save_model(model, folder.keras_file)
    check = load_utterances(tiny_corpus / "valid.jsonl", feature_config, 2)
    options = Options(targets=resolve_targets(["tflite-fp32-stream"]), long_seconds=0)
    outcome = convert_model_dir(model_dir, root / "bundle", check, None, options)
    assert not outcome.failed, outcome.failed
    return root / "bundle"


def test_complete_words_only_grow_and_end_as_the_final(spaced_bundle: Path, tiny_corpus: Path):
    rec = Recognizer.from_bundle(spaced_bundle, streaming=True)
    stream = rec.create_stream()
    audio, seen = _audio(tiny_corpus), []
    for i in range(0, len(audio), 1600):
        stream.accept_waveform(RATE, audio[i : i + 1600])
        words = stream.complete_words
        assert words[: len(seen)] == seen  # never revised
        assert stream.partial.split()[: len(words)] == words
        seen = words
    final = rec.finish(stream).text.split()
    assert len(seen) > 3 and final[: len(seen)] == seen and len(final) - len(seen) <= 1


def test_cli_partial_lines_carry_only_new_words(spaced_bundle: Path, tiny_corpus: Path):
    audio = _audio(tiny_corpus)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    argv = [sys.executable, "-m", "edge_asr", "transcribe", str(spaced_bundle), "--stream"]
    proc = subprocess.run(
        [*argv, "--json", "--partial-new-words", "--endpoint", "0"],
        input=pcm,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    lines = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    *partials, final = lines
    assert final["final"] is True and partials
    appended: list[str] = []
    for p in partials:
        assert set(p) == {"new", "index", "final"} and p["final"] is False and p["new"]
        assert p["index"] == len(appended)
        appended += p["new"].split()
    words = final["text"].split()
    assert words[: len(appended)] == appended and len(words) - len(appended) <= 1

    usage = subprocess.run([*argv, "--partial-new-words"], input=b"", capture_output=True)
    assert usage.returncode == 2
    assert b"--partial-new-words is for --stream --json" in usage.stderr
