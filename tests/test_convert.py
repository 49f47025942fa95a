"""``edge-asr convert`` end to end: real audio features, real interpreters, real child processes.

Models have random weights (tiny units, BatchNorm statistics randomized so folding mistakes
show) but the check and calibration inputs are features of real synthesized speech from the
``tiny_corpus`` fixture. fp32 variants must match Keras to 1e-4 (streaming: 1e-5 against the
whole-utterance Keras output). CER bounds are meaningless on random weights, so the full-matrix
test loosens the reduced-precision rows through the same ``--tolerance`` mechanism users have.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path

import pytest

from converters.cli import failure_lines
from converters.convert import (
    FAULT_ENV,
    Options,
    convert_model_dir,
    load_utterances,
    resolve_targets,
)
from converters.tolerances import parse_overrides
from edge_asr.cli import main as edge_asr_main
from runtime.bundle import Bundle
from runtime.errors import EdgeASRError
from runtime.formats import SCHEMA_VERSION
from tests.conftest import ARCHS, make_model_dir

NOT_STREAMABLE = ("bidirectional_rnn_model", "final_model")
BUNDLE_KEYS = (
    "schema_version",
    "created",
    "features",
    "labels",
    "output_length",
    "model",
    "tool_versions",
    "artifacts",
)
ARTIFACT_KEYS = (
    "name",
    "file",
    "format",
    "precision",
    "streaming",
    "inputs",
    "outputs",
    "stream",
    "quantized_weights",
    "sha256",
    "size_bytes",
    "parity",
    "conversion_seconds",
    "audio",
)
PARITY_KEYS = (
    "passed",
    "max_abs_diff",
    "mean_abs_diff",
    "decode_agreement",
    "cer",
    "reference_cer",
    "delta_cer",
    "utterances",
    "tolerance",
)
LONG_SECONDS = 4.0  # the long edge case; 30 s in production, shorter here to keep eager Keras fast


@pytest.fixture(scope="session")
def check_data(tiny_corpus: Path, feature_config) -> tuple:
    return load_utterances(tiny_corpus / "valid.jsonl", feature_config, 4)


@pytest.fixture(scope="session")
def calib_data(tiny_corpus: Path, feature_config) -> tuple:
    return load_utterances(tiny_corpus / "train.jsonl", feature_config, 8)


def run_convert(model_dir: Path, out: Path, check, calib, targets, tolerance=None, **kw):
    options = Options(
        targets=resolve_targets(targets),
        tolerance=parse_overrides(tolerance),
        long_seconds=LONG_SECONDS,
        timeout=300,
        **kw,
    )
    return convert_model_dir(model_dir, out, check, calib, options)


def assert_no_partial_files(bundle: Path) -> None:
    for path in bundle.rglob("*"):
        if path.is_file():
            assert path.stat().st_size > 0, f"zero-byte file {path}"
            assert not path.name.endswith(".tmp"), f"temp file left: {path}"


def assert_bundle_contract(bundle: Path) -> dict:
    doc = json.loads((bundle / "bundle.json").read_text())
    for key in BUNDLE_KEYS:
        assert key in doc, key
    assert doc["schema_version"] == SCHEMA_VERSION
    assert (bundle / doc["model"]["source"]["file"]).is_file()
    for art in doc["artifacts"]:
        for key in ARTIFACT_KEYS:
            assert key in art, (art["name"], key)
        for key in PARITY_KEYS:
            assert key in art["parity"], (art["name"], key)
        assert (bundle / art["file"]).stat().st_size == art["size_bytes"]
        first = "audio" if art["audio"] else ("feats" if art["streaming"] else "the_input")
        assert art["inputs"][0]["name"] == first
        assert art["outputs"][0]["name"] == "probs"
    loaded = Bundle.load(bundle)  # the runtime's reader accepts it and the hashes verify
    for art in loaded.passing():
        loaded.verify(art)
    assert_no_partial_files(bundle)
    return doc


@pytest.mark.parametrize("name", list(ARCHS))
def test_fp32_every_architecture(tmp_path, feature_config, check_data, name):
    model_dir = make_model_dir(tmp_path, name, feature_config)
    targets = ["tflite-fp32", "onnx-fp32", "tflite-fp32-stream", "onnx-fp32-stream"]
    outcome = run_convert(model_dir, tmp_path / "bundle", check_data, None, targets)
    assert not outcome.failed, failure_lines(outcome)
    doc = assert_bundle_contract(tmp_path / "bundle")
    by_name = {a["name"]: a for a in doc["artifacts"]}
    for art in by_name.values():
        assert art["parity"]["passed"]
        assert art["parity"]["decode_agreement"] == 1.0
        assert art["parity"]["max_abs_diff"] <= 1e-4
        # real utterances + shortest input + the long concatenation
        assert art["parity"]["utterances"] == len(check_data[1]) + 2
    if name in NOT_STREAMABLE:
        assert doc["model"]["streamable"] is False
        assert "bidirectional" in doc["model"]["not_streamable_reason"]
        assert set(by_name) == {"tflite-fp32", "onnx-fp32"}
        missing = {u["name"]: u for u in doc["unavailable"]}
        assert set(missing) == {"tflite-fp32-stream", "onnx-fp32-stream"}
        assert all("not streamable" in u["reason"] and not u["error"] for u in missing.values())
    else:
        assert doc["model"]["streamable"] is True
        for variant in ("tflite-fp32-stream", "onnx-fp32-stream"):
            stream = by_name[variant]["stream"]
            assert stream["chunk_frames"] == 16
            # chunk by chunk with carried state == the whole utterance in Keras
            assert by_name[variant]["parity"]["max_abs_diff"] <= 1e-5


def test_forced_crash_costs_one_variant(tmp_path, feature_config, check_data, monkeypatch):
    """A converter segfault halfway through writing: reported with its signal, nothing left."""
    model_dir = make_model_dir(tmp_path, "deep_rnn_model", feature_config)
    monkeypatch.setenv(FAULT_ENV, "tflite-fp32")
    out = tmp_path / "bundle"
    outcome = run_convert(model_dir, out, check_data, None, ["tflite-fp32", "onnx-fp32"])
    assert outcome.failed == ["tflite-fp32"]
    crash = outcome.unavailable[0]
    assert crash.error and "SIGSEGV" in crash.reason and "converting" in crash.reason
    assert not (out / "model.fp32.tflite").exists()
    assert_no_partial_files(out)
    doc = assert_bundle_contract(out)
    assert [a["name"] for a in doc["artifacts"]] == ["onnx-fp32"]
    assert doc["artifacts"][0]["parity"]["passed"]


def test_cli_gate_failure_exit_code(tmp_path, tiny_corpus, feature_config, capsys):
    """An impossible bound fails the gate: exit 1, the variant named with its numbers, the file
    moved to rejected/ and marked not passed; the runtime refuses to select it."""
    model_dir = make_model_dir(tmp_path, "simple_rnn_model", feature_config)
    out = tmp_path / "bundle"
    argv = ["convert", str(model_dir), "--out", str(out), "--targets", "tflite-fp32"]
    argv += ["--check", str(tiny_corpus / "valid.jsonl"), "--check-count", "3"]
    argv += ["--long-seconds", "3", "--tolerance", "tflite-fp32:max_abs_diff=1e-15"]
    assert edge_asr_main(argv) == 1
    err = capsys.readouterr().err
    assert "FAILED tflite-fp32: max_abs_diff" in err and "> 1e-15" in err
    doc = json.loads((out / "bundle.json").read_text())
    art = doc["artifacts"][0]
    assert art["file"] == "rejected/model.fp32.tflite" and not art["parity"]["passed"]
    assert (out / "rejected" / "model.fp32.tflite").is_file()
    assert not (out / "model.fp32.tflite").exists()
    with pytest.raises(Exception, match="did not pass"):
        Bundle.load(out).select("tflite-fp32")


def test_cli_bad_input(tmp_path, tiny_corpus, capsys):
    argv = ["convert", str(tmp_path / "nope"), "--out", str(tmp_path / "b")]
    argv += ["--check", str(tiny_corpus / "valid.jsonl")]
    assert edge_asr_main(argv) == 2
    assert "no such model directory" in capsys.readouterr().err
    argv = ["convert", str(tmp_path), "--out", str(tmp_path / "b"), "--targets", "tflite-fp64"]
    argv += ["--check", str(tiny_corpus / "valid.jsonl")]
    assert edge_asr_main(argv) == 2
    assert "unknown target 'tflite-fp64'" in capsys.readouterr().err
    argv = ["convert", str(tmp_path), "--out", str(tmp_path / "b"), "--tolerance", "fp32:speed=1"]
    argv += ["--check", str(tiny_corpus / "valid.jsonl")]
    assert edge_asr_main(argv) == 2
    assert "bad --tolerance" in capsys.readouterr().err


def test_reconvert_failure_keeps_the_old_bundle(tmp_path, feature_config, check_data):
    """A re-conversion that dies part way (here: no usable check utterance, raised after the
    new bundle was started; SIGINT takes the same path) leaves the old bundle whole and usable,
    and no build folder behind."""
    model_dir = make_model_dir(tmp_path, "simple_rnn_model", feature_config)
    out = tmp_path / "bundle"
    run_convert(model_dir, out, check_data, None, ["onnx-fp32"])
    before = (out / "bundle.json").read_text()
    no_text = check_data._replace(texts=[""] * len(check_data.names))
    with pytest.raises(EdgeASRError, match="no usable check utterance"):
        run_convert(model_dir, out, no_text, None, ["tflite-fp32"])
    assert (out / "bundle.json").read_text() == before
    loaded = Bundle.load(out)
    loaded.verify(loaded.select("onnx-fp32"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "simple_rnn_model"]


def test_cli_out_is_checked_first(tmp_path, tiny_corpus, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for out in (a_file, a_file / "sub"):
        argv = ["convert", str(tmp_path / "nope"), "--out", str(out)]
        argv += ["--check", str(tiny_corpus / "valid.jsonl")]
        assert edge_asr_main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(out) in err[0] and "not a directory" in err[0], err


@pytest.mark.slow
@pytest.mark.parametrize("name", ["final_model_streaming", "bidirectional_rnn_model"])
def test_full_matrix(tmp_path, feature_config, check_data, calib_data, name):
    """Every target for a conv-front-end unidirectional model and for a bidirectional one."""
    model_dir = make_model_dir(tmp_path, name, feature_config)
    # Random weights: CER is noise, so reduced precisions are held to a posterior bound instead.
    loose = ["fp16", "int8-dynamic", "int8-dynamic-per-tensor", "int8-full", "int16x8-full"]
    loose += ["int8-static"]
    tolerance = [f"{p}{s}:delta_cer=none" for p in loose for s in ("", "-stream")]
    tolerance += [f"{p}{s}:max_abs_diff=0.1" for p in loose for s in ("", "-stream")]
    outcome = run_convert(
        model_dir, tmp_path / "bundle", check_data, calib_data, ["all"], tolerance
    )
    assert not outcome.failed, failure_lines(outcome)
    doc = assert_bundle_contract(tmp_path / "bundle")
    produced = {a["name"] for a in doc["artifacts"]}
    missing = {u["name"]: u for u in doc["unavailable"]}
    assert produced | set(missing) == _all_names()
    assert "WHILE" in missing["tflite-int8-full"]["reason"]
    # Full integer needs the unrolled streaming graph, for feature and audio input alike.
    offline_full = {f"tflite-{p}{a}" for p in ("int8-full", "int16x8-full") for a in ("", "-audio")}
    if name == "final_model_streaming":
        assert set(missing) == offline_full
        assert missing["tflite-int8-full"]["see"] == "tflite-int8-full-stream"
        assert missing["tflite-int8-full-audio"]["see"] == "tflite-int8-full-audio-stream"
        sizes = {a["name"]: a["size_bytes"] for a in doc["artifacts"]}
        assert sizes["onnx-int8-dynamic"] <= 0.5 * sizes["onnx-fp32"]
        assert sizes["tflite-fp16"] <= 0.7 * sizes["tflite-fp32"]
        audio = [a for a in doc["artifacts"] if a["audio"]]
        assert len(audio) == len(produced) // 2
        assert all(a["quantized_weights"].startswith("front end") for a in audio)
    else:
        assert all(n.endswith("-stream") for n in missing if n not in offline_full)
        assert not any(n.endswith("-stream") for n in produced)


def _all_names() -> set[str]:
    return {t.name for t in resolve_targets(["all"])}
