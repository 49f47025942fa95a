"""The typed contracts (runtime/formats.py): exact JSON round trips of real files, and one clear
line (never a traceback, never a hang) for every malformed bundle a device might be handed."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from runtime.bundle import Bundle, BundleError
from runtime.formats import (
    BundleDoc,
    FormatError,
    LengthRule,
    ModelDir,
    ModelMeta,
    StreamSpec,
    variant_file,
    variant_name,
)
from runtime.lengths import output_length


def _doc(bundle: Path) -> dict:
    return json.loads((bundle / "bundle.json").read_text())


def test_bundle_json_round_trips_exactly(tiny_bundle: Path):
    raw = _doc(tiny_bundle)
    doc = BundleDoc.read(tiny_bundle / "bundle.json")
    assert doc.to_dict() == raw
    assert BundleDoc.from_dict(doc.to_dict()) == doc
    streaming = [a for a in doc.artifacts if a.streaming]
    assert streaming and all(isinstance(a.stream, StreamSpec) for a in streaming)


def test_model_dir_round_trips(tmp_path: Path, feature_config):
    from tests.conftest import make_model_dir

    folder = ModelDir.read(make_model_dir(tmp_path, "cnn_rnn_model", feature_config))
    assert folder.meta.name == "cnn_rnn_model" and folder.labels.num_classes == 29
    copy_dir = ModelDir(tmp_path / "copy", folder.meta, folder.features, folder.labels)
    copy_dir.write()
    for name in ("model.json", "features.json", "labels.json"):
        assert json.loads((copy_dir.path / name).read_text()) == json.loads(
            (folder.path / name).read_text()
        )
    with pytest.raises(FormatError, match=r"missing model\.keras"):
        ModelDir.read(copy_dir.path)
    (copy_dir.path / "model.json").write_text('{"name": "x", "output_length": {"layers": 3}}')
    with pytest.raises(FormatError, match=r"model\.json: output_length: 'layers' must be a list"):
        ModelDir.read(copy_dir.path, need_model=False)


def test_length_rule_matches_the_shared_rule():
    rule = {"layers": [{"kernel": 11, "stride": 2, "padding": "valid", "dilation": 1}]}
    typed = LengthRule.from_dict(rule)
    assert typed.to_dict() == rule and typed.total_stride == 2
    assert [typed(n) for n in range(0, 40)] == [output_length(rule, n) for n in range(0, 40)]
    assert typed.shortest_input() == 11
    meta = ModelMeta.from_dict({"name": "m", "output_length": rule})
    assert ModelMeta.from_dict(meta.to_dict()) == meta


def test_variant_names():
    assert variant_name("tflite", "int8-full", True) == "tflite-int8-full-stream"
    assert variant_file("onnx", "fp32", False) == "model.fp32.onnx"


def _streaming_index(doc: dict) -> int:
    return next(i for i, a in enumerate(doc["artifacts"]) if a["streaming"])


#: (what is wrong, how to break the parsed bundle.json, a phrase the one-line error contains)
BROKEN = [
    ("a list", lambda d: [], "expected a JSON object"),
    ("null", lambda d: None, "expected a JSON object"),
    ("artifacts null", lambda d: {**d, "artifacts": None}, "'artifacts' must be a list"),
    ("no artifacts", lambda d: {k: v for k, v in d.items() if k != "artifacts"}, "missing"),
    ("schema string", lambda d: {**d, "schema_version": "1"}, "schema_version"),
    ("schema zero", lambda d: {**d, "schema_version": 0}, "schema_version"),
    ("schema bool", lambda d: {**d, "schema_version": True}, "schema_version"),
    ("schema newer", lambda d: {**d, "schema_version": 99}, "newer than this runtime"),
    ("labels a list", lambda d: {**d, "labels": list("abc")}, "labels"),
    ("labels wrong width", lambda d: {**d, "labels": {"symbols": list("abc")}}, "classes"),
    ("output_length str", lambda d: {**d, "output_length": "x"}, "output_length"),
    (
        "output_length kernel 0",
        lambda d: {
            **d,
            "output_length": {"layers": [{"kernel": 0, "stride": 1, "padding": "valid"}]},
        },
        "kernel",
    ),
    ("features null", lambda d: {**d, "features": None}, "features"),
    ("model missing", lambda d: {k: v for k, v in d.items() if k != "model"}, "'model'"),
]


def _art(field: str, value, streaming: bool = False):
    def edit(d: dict) -> dict:
        d = copy.deepcopy(d)
        i = _streaming_index(d) if streaming else 0
        d["artifacts"][i][field] = value
        return d

    return edit


def _stream(field: str, value):
    def edit(d: dict) -> dict:
        d = copy.deepcopy(d)
        d["artifacts"][_streaming_index(d)]["stream"][field] = value
        return d

    return edit


BROKEN += [
    ("stream null", _art("stream", None, streaming=True), "stream"),
    ("chunk 0", _stream("chunk_frames", 0), "chunk_frames"),
    ("chunk negative", _stream("chunk_frames", -16), "chunk_frames"),
    ("window absurd", _stream("window_frames", 10**9), "window_frames"),
    ("chunk > window", _stream("chunk_frames", 10_000), "chunk_frames"),
    ("state shape 0", _stream("states", [{"input": "a", "output": "b", "shape": [1, 0]}]), "shape"),
    ("file escapes", _art("file", "../model.fp32.tflite"), "inside the bundle"),
    ("file absolute", _art("file", "/etc/passwd"), "inside the bundle"),
    ("bad sha", _art("sha256", "abc"), "sha256"),
    ("unknown precision", _art("precision", "int4"), "precision"),
    ("streaming not bool", _art("streaming", "yes"), "streaming"),
    ("duplicate", lambda d: {**d, "artifacts": d["artifacts"][:1] * 2}, "twice"),
]


@pytest.mark.parametrize("case", BROKEN, ids=[c[0] for c in BROKEN])
def test_broken_bundle_is_one_line_error(tiny_bundle: Path, tmp_path: Path, capsys, case):
    """Every malformed bundle.json: ``BundleError`` at load, and through the CLI one
    ``edge-asr transcribe: error:`` line and exit 2."""
    from edge_asr.cli import main

    _, edit, phrase = case
    bundle = tmp_path / "b"
    shutil.copytree(tiny_bundle, bundle)
    (bundle / "bundle.json").write_text(json.dumps(edit(_doc(tiny_bundle))))
    with pytest.raises(BundleError) as info:
        Bundle.load(bundle)
    message = str(info.value)
    assert phrase in message and "\n" not in message, message
    wav = next((tiny_bundle.parent).glob("**/*.wav"), None) or "x.wav"
    code = main(["transcribe", str(bundle), str(wav)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("edge-asr transcribe: error:"), err


def test_not_json_and_missing(tmp_path: Path):
    (tmp_path / "bundle.json").write_text("{nope")
    with pytest.raises(BundleError, match="not valid JSON"):
        Bundle.load(tmp_path)
    with pytest.raises(BundleError, match=r"no bundle\.json"):
        Bundle.load(tmp_path / "missing")
