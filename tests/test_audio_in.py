"""Audio-in artifacts (PCM in, features in the graph) through the gate, on real speech.

The gate must pass a correct audio-in graph and catch one built for other features: a wrong
window, a wrong pre-emphasis, stale normalization statistics. Reading side: a bundle whose
features were edited after conversion is refused at load; schema-1 bundles still load.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from converters.parity import build_check_set, gate_artifact, keras_reference
from converters.tolerances import TOLERANCES
from runtime.fileio import write_bytes
from tests.conftest import randomize_weights

FP32_AUDIO = TOLERANCES["fp32-audio"]


@pytest.fixture(scope="module")
def mfcc_config(tiny_corpus: Path):
    from edge_asr.data.audio import load_audio
    from edge_asr.data.manifest import load_manifest
    from runtime.features import FeatureConfig, extract, fit_stats

    config = FeatureConfig.mfcc()
    utts = load_manifest(tiny_corpus / "train.jsonl")[:10]
    mean, std = fit_stats(extract(load_audio(u.path), config) for u in utts)
    return config.with_stats(mean, std)


@pytest.fixture(scope="module")
def model(mfcc_config):
    """cnn_rnn_model on MFCCs: a strided convolution front end, so frame alignment matters."""
    from edge_asr.models import build

    m = build("cnn_rnn_model", input_dim=mfcc_config.dim, filters=12, units=16)
    return randomize_weights(m, 1, scales=False)


@pytest.fixture(scope="module")
def checks(model, mfcc_config, tiny_corpus: Path):
    from converters.convert import load_utterances

    utts = load_utterances(tiny_corpus / "valid.jsonl", mfcc_config, 4)
    checks = build_check_set(
        model,
        utts.names,
        utts.features,
        utts.texts,
        long_seconds=3.0,
        audio=utts.audio(mfcc_config.sample_rate),
        config=mfcc_config,
    )
    checks.reference = keras_reference(model, checks.features)
    return checks


@pytest.fixture(scope="module")
def acoustic(model):
    from converters.onnx_export import build_onnx

    return build_onnx(model)[0]


def _audio_onnx(acoustic, config, path: Path) -> Path:
    import onnx

    from converters.onnx_audio import offline_onnx

    proto = offline_onnx(onnx.load_from_string(acoustic.SerializeToString()), config, "float32")
    write_bytes(path, proto.SerializeToString())
    return path


def test_check_set_audio_matches_its_features(checks, mfcc_config):
    """Every check input's audio gives exactly its features (short and long cases too)."""
    from runtime.features import extract

    assert checks.audio is not None and len(checks.audio) == len(checks.features)
    for samples, feats in zip(checks.audio, checks.features, strict=True):
        np.testing.assert_allclose(extract(samples, mfcc_config), feats, atol=1e-5)


def test_correct_audio_graph_passes(acoustic, checks, mfcc_config, tmp_path):
    path = _audio_onnx(acoustic, mfcc_config, tmp_path / "ok.onnx")
    result = gate_artifact(path, checks, FP32_AUDIO, audio=True)
    assert result.passed, result.failures
    assert result.max_abs_diff < 1e-4


@pytest.mark.parametrize(
    "change",
    [
        {"window_ms": 30},  # wrong window (same dim)
        {"preemphasis": 0.9},  # wrong pre-emphasis
        "stale",  # normalization statistics of another corpus
    ],
    ids=["window", "preemphasis", "stale-normalization"],
)
def test_audio_graph_for_other_features_fails(acoustic, checks, mfcc_config, tmp_path, change):
    if change == "stale":
        mean = np.asarray(mfcc_config.mean) + 0.5 * np.asarray(mfcc_config.std)
        wrong = mfcc_config.with_stats(mean, np.asarray(mfcc_config.std) * 1.2)
    else:
        wrong = dataclasses.replace(mfcc_config, **change)
    path = _audio_onnx(acoustic, wrong, tmp_path / "wrong.onnx")
    result = gate_artifact(path, checks, FP32_AUDIO, audio=True)
    assert not result.passed
    assert any("max_abs_diff" in f for f in result.failures), result.failures


def test_edited_features_refused_and_schema1_reads(tiny_bundle: Path, tmp_path):
    """The bundle's features edited after conversion: refused at load, one line naming the
    artifact; a schema-1 bundle (no audio-in fields) still loads."""
    from runtime.bundle import Bundle
    from runtime.formats import FormatError

    doc = json.loads((tiny_bundle / "bundle.json").read_text())
    audio = [a for a in doc["artifacts"] if a["audio"]]
    assert audio, "tiny_bundle has audio-in artifacts"
    edited = tmp_path / "edited"
    shutil.copytree(tiny_bundle, edited)
    bad = json.loads(json.dumps(doc))
    bad["features"]["preemphasis"] = 0.5
    (edited / "bundle.json").write_text(json.dumps(bad))
    with pytest.raises(FormatError, match=r"built for other features") as err:
        Bundle.load(edited)
    assert "\n" not in str(err.value)

    old = tmp_path / "schema1"
    shutil.copytree(tiny_bundle, old)
    v1 = json.loads(json.dumps(doc))
    v1["schema_version"] = 1
    v1["artifacts"] = [a for a in v1["artifacts"] if not a["audio"]]
    for a in v1["artifacts"]:
        del a["audio"]
    (old / "bundle.json").write_text(json.dumps(v1))
    bundle = Bundle.load(old)
    assert bundle.doc.header.schema_version == 1
    assert all(a.audio is None for a in bundle.artifacts)


def test_audio_stream_equals_offline_for_any_chunking(tiny_bundle: Path, tiny_corpus: Path):
    """onnx-fp32-audio-stream vs onnx-fp32-audio on real utterances: within 1e-5, and pushing
    the audio in blocks of any size gives bit-identical posteriors (one chunk graph)."""
    from edge_asr.data.audio import load_audio
    from edge_asr.data.manifest import load_manifest
    from runtime.backends import open_backend
    from runtime.bundle import Bundle
    from runtime.streaming import AudioChunkRunner

    bundle = Bundle.load(tiny_bundle)
    arts = {a.name: a for a in bundle.artifacts}
    stream, offline = arts["onnx-fp32-audio-stream"], arts["onnx-fp32-audio"]
    assert stream.passed and offline.passed
    s_backend = open_backend(bundle.verify(stream))
    o_backend = open_backend(bundle.verify(offline))
    rate = bundle.features.sample_rate
    for utt in load_manifest(tiny_corpus / "test.jsonl")[:3]:
        x = load_audio(utt.path, rate)
        whole = o_backend.run({"audio": x[None]})["probs"][0]
        results = []
        for block in (160, 1234, len(x)):
            runner = AudioChunkRunner(s_backend, stream.stream, bundle.output_length)
            parts = [runner.push(x[i : i + block]) for i in range(0, len(x), block)]
            results.append(np.concatenate([*parts, runner.flush()]))
        assert all(np.array_equal(results[0], r) for r in results[1:])
        assert results[0].shape == whole.shape
        assert np.abs(results[0] - whole).max() <= 1e-5


def test_recognizer_runs_audio_in_artifacts(tiny_bundle: Path, tiny_corpus: Path):
    """transcribe and streams with audio-in artifacts give the feature-input artifacts' text,
    for any chunking of the audio."""
    from edge_asr.data.audio import load_audio
    from edge_asr.data.manifest import load_manifest
    from runtime.recognizer import Recognizer

    files = [u.path for u in load_manifest(tiny_corpus / "test.jsonl")[:3]]
    plain = Recognizer.from_bundle(tiny_bundle, "onnx-fp32-stream")
    for name in ("onnx-fp32-audio", "tflite-fp32-audio", "onnx-fp32-audio-stream"):
        rec = Recognizer.from_bundle(tiny_bundle, name)
        for f in files:
            assert rec.transcribe(f).text == plain.transcribe(f).text, (name, f)
    rec = Recognizer.from_bundle(tiny_bundle, "tflite-int8-dynamic-audio-stream")
    rng = np.random.default_rng(0)
    for f in files:
        x = load_audio(f, rec.sample_rate)
        offline = rec.transcribe(x).text
        stream = rec.create_stream()
        i = 0
        while i < len(x):
            n = int(rng.integers(1, 4000))
            stream.accept_waveform(rec.sample_rate, x[i : i + n])
            i += n
        assert rec.finish(stream).text == offline


def test_cli_and_no_feature_code_on_the_audio_path(tiny_bundle: Path, tiny_corpus: Path):
    """`edge-asr transcribe --artifact ...-audio-stream` (file and --stream) works, and a
    process transcribing with an audio-in artifact never imports runtime.features."""
    import subprocess
    import sys

    from edge_asr.data.manifest import load_manifest

    wav = str(load_manifest(tiny_corpus / "test.jsonl")[0].path)
    art = "tflite-int8-dynamic-audio-stream"
    cli = [sys.executable, "-m", "edge_asr", "transcribe", str(tiny_bundle), "--artifact", art]
    whole = subprocess.run([*cli, wav], capture_output=True, text=True, check=True)
    with open(wav, "rb") as stdin:
        streamed = subprocess.run(
            [*cli, "--stream"], stdin=stdin, capture_output=True, text=True, check=True
        )
    final = streamed.stdout.strip().splitlines()[-1]
    assert final.startswith("final: ")
    assert whole.stdout.strip() == f"{wav}: {final.removeprefix('final: ')}"
    code = (
        "import sys; from runtime.recognizer import Recognizer; "
        f"r = Recognizer.from_bundle({str(tiny_bundle)!r}, 'onnx-fp32-audio'); "
        f"r.transcribe({wav!r}); print('runtime.features' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_int16_pcm_variants_and_greedy_ids(tmp_path, tiny_corpus: Path, feature_config):
    """`--audio-dtype int16`: the artifacts take int16 PCM (what microphones deliver) and pass
    the gate; the offline one's ``ids`` output is the ArgMax of its posteriors."""
    from converters.convert import Options, convert_model_dir, load_utterances, resolve_targets
    from edge_asr.data.audio import load_audio
    from edge_asr.data.manifest import load_manifest
    from runtime.backends import open_backend
    from runtime.bundle import Bundle
    from runtime.recognizer import Recognizer
    from tests.conftest import make_model_dir

    model_dir = make_model_dir(tmp_path, "deep_rnn_model", feature_config)
    check = load_utterances(tiny_corpus / "valid.jsonl", feature_config, 3)
    targets = resolve_targets(["onnx-fp32-audio,tflite-fp32-audio-stream,onnx-fp32"])
    options = Options(targets=targets, long_seconds=2.0, audio_dtype="int16")
    outcome = convert_model_dir(model_dir, tmp_path / "bundle", check, None, options)
    assert not outcome.failed, [(a.name, a.parity.failures) for a in outcome.artifacts]
    bundle = Bundle.load(tmp_path / "bundle")
    arts = {a.name: a for a in bundle.artifacts}
    for name in ("onnx-fp32-audio", "tflite-fp32-audio-stream"):
        assert arts[name].audio is not None and arts[name].audio.dtype == "int16"
        assert arts[name].inputs[0].dtype == "int16"
    backend = open_backend(bundle.verify(arts["onnx-fp32-audio"]))
    wav = load_manifest(tiny_corpus / "test.jsonl")[0].path
    pcm = np.round(load_audio(wav, 16000) * 32768).clip(-32768, 32767).astype(np.int16)
    out = backend.run({"audio": pcm[None]})
    np.testing.assert_array_equal(out["ids"][0], out["probs"][0].argmax(-1))
    plain = Recognizer.from_bundle(tmp_path / "bundle", "onnx-fp32").transcribe(wav).text
    for name in ("onnx-fp32-audio", "tflite-fp32-audio-stream"):
        assert Recognizer.from_bundle(tmp_path / "bundle", name).transcribe(wav).text == plain
