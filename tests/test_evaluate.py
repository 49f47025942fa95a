"""edge-asr evaluate on a real (briefly trained) model directory, and the metrics' known values."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_asr.metrics import cer, char_errors, rate, wer, word_errors


def test_metrics_known_values() -> None:
    assert cer(["abc"], ["abd"]) == pytest.approx(1 / 3)
    assert cer(["abc"], ["abc"]) == 0.0
    assert cer(["abc"], [""]) == 1.0
    assert cer(["abc"], ["abcxyz"]) == 1.0  # insertions count: rates can exceed 1 in general
    assert cer(["ab"], ["abxyzw"]) == 2.0
    assert wer(["the cat sat"], ["the cat sit"]) == pytest.approx(1 / 3)
    assert wer(["the cat sat"], ["cat sat"]) == pytest.approx(1 / 3)
    assert wer(["a b"], ["a  b "]) == 0.0  # whitespace runs do not make words


def test_metrics_are_corpus_level() -> None:
    # total edits / total reference length, not the mean of per-utterance rates
    refs, hyps = ["a", "bcdef"], ["x", "bcdef"]
    assert cer(refs, hyps) == pytest.approx(1 / 6)
    assert wer(["one", "two three four"], ["two", "two three four"]) == pytest.approx(1 / 4)
    assert char_errors("kitten", "sitting").edits == 3
    assert word_errors("a b c", "a c").edits == 1


def test_metrics_edge_cases() -> None:
    assert rate(0, 0) == 0.0 and rate(2, 0) == 1.0
    assert cer([""], [""]) == 0.0 and cer([""], ["a"]) == 1.0
    assert cer([], []) == 0.0
    with pytest.raises(ValueError, match="2 references but 1"):
        cer(["a", "b"], ["a"])


@pytest.fixture(scope="module")
def model_dir(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edge_asr.train import NO_AUGMENT, TrainConfig, train

    out = tmp_path_factory.mktemp("eval") / "model"
    train(
        TrainConfig(
            tiny_corpus / "train.jsonl",
            tiny_corpus / "valid.jsonl",
            out,
            model="final_model_streaming",
            params={"filters": 32, "units": 32},
            optimizer="adam",
            epochs=2,
            augment=NO_AUGMENT,
            progress=False,
        )
    )
    return out


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge_asr", *args], capture_output=True, text=True, timeout=300
    )


def test_evaluate_cli_json(model_dir: Path, tiny_corpus: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "results.json"
    manifest = tiny_corpus / "test.jsonl"
    proc = _cli(
        "evaluate", str(model_dir), "--manifest", str(manifest), "--json", "--out", str(out_file)
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)  # stdout is exactly one JSON object
    assert json.loads(out_file.read_text()) == report
    n = sum(1 for line in manifest.read_text().splitlines() if line.strip())
    assert report["utterances"] == n and report["skipped"] == 0
    assert report["model"] == "final_model_streaming"
    rows = report["results"]
    assert {"file", "reference", "hypothesis", "cer", "wer"} <= set(rows[0])
    refs = [r["reference"] for r in rows]
    hyps = [r["hypothesis"] for r in rows]
    assert report["cer"] == pytest.approx(cer(refs, hyps))
    assert report["wer"] == pytest.approx(wer(refs, hyps))
    assert 0.0 <= report["cer"] <= 1.5
    assert all(Path(r["file"]).exists() for r in rows)
    # --where narrows to one engine's rows; a filter matching nothing is one line, exit 2
    engine = json.loads(manifest.read_text().splitlines()[0])["engine"]
    only = _cli(
        "evaluate", str(model_dir), "--manifest", str(manifest), "--json", "--where",
        f"engine={engine}",
    )  # fmt: skip
    assert only.returncode == 0, only.stderr
    narrowed = json.loads(only.stdout)
    assert narrowed["where"] == {"engine": engine}
    assert [r["file"] for r in narrowed["results"]] == [
        str(tiny_corpus / json.loads(line)["audio_filepath"])
        for line in manifest.read_text().splitlines()
        if json.loads(line)["engine"] == engine
    ]
    for bad, why in (("engine=nobody", "no row has engine=nobody"), ("engine", "FIELD=VALUE")):
        proc = _cli("evaluate", str(model_dir), "--manifest", str(manifest), "--where", bad)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and why in lines[0], proc.stderr


def test_evaluate_matches_training_validation(model_dir: Path, tiny_corpus: Path) -> None:
    """Evaluate on the validation split reproduces the CER training logged for the saved model."""
    import csv

    from edge_asr.evaluate import evaluate_model_dir

    report = evaluate_model_dir(model_dir, tiny_corpus / "valid.jsonl")
    with open(model_dir / "train_log.csv") as fh:
        best = min(float(row["val_cer"]) for row in csv.DictReader(fh))
    assert report["cer"] == pytest.approx(best, abs=0.01)


def test_batched_posteriors_are_exact(model_dir: Path, tiny_corpus: Path) -> None:
    from edge_asr.data.loading import load_set
    from edge_asr.inference import keras_posteriors
    from edge_asr.models import load_model_dir

    model, folder = load_model_dir(model_dir)
    feats = load_set(tiny_corpus / "test.jsonl", folder.features, limit=4).features
    feats.append(feats[0][:5])  # shorter than the convolution: no output frames
    one = keras_posteriors(model, feats, batch_size=1, eager=True)
    batched = keras_posteriors(model, feats, batch_size=4)
    for a, b, f in zip(one, batched, feats, strict=True):
        assert a.shape == b.shape == (model.output_length(len(f)), 29)
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert one[-1].shape == (0, 29)


def test_evaluate_errors(tmp_path: Path, tiny_corpus: Path) -> None:
    proc = _cli("evaluate", str(tmp_path / "nope"), "--manifest", str(tiny_corpus / "test.jsonl"))
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "nope" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("out", ["dir", "dir/under_a_file/x.json"])
def test_evaluate_out_is_checked_before_any_work(tmp_path: Path, out: str) -> None:
    """A bad --out fails at parse time, in one line (the model dir does not even exist)."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "under_a_file").write_text("a file")
    proc = _cli(
        "evaluate", str(tmp_path / "nope"), "--manifest", "m.jsonl", "--out", str(tmp_path / out)
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-asr evaluate: error:"), proc.stderr
    assert str(tmp_path / "dir") in lines[0] and "nope" not in lines[0]


def test_evaluate_skips_bad_rows_or_refuses_them(
    model_dir: Path, tiny_corpus: Path, tmp_path: Path
) -> None:
    rows = [json.loads(line) for line in (tiny_corpus / "test.jsonl").read_text().splitlines()]
    good = [{**r, "audio_filepath": str(tiny_corpus / r["audio_filepath"])} for r in rows[:3]]
    manifest = tmp_path / "m.jsonl"
    lines = [json.dumps(r) for r in good] + ['{"audio_filepath": "gone.wav", "text": "hi"}']
    manifest.write_text("\n".join(lines) + "\n")
    proc = _cli("evaluate", str(model_dir), "--manifest", str(manifest), "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["utterances"] == 3 and report["skipped"] == 1
    assert report["skipped_reasons"] == {"missing audio": 1}
    assert (
        f"edge-asr: skipped m.jsonl line 4: missing audio: {tmp_path / 'gone.wav'}" in proc.stderr
    )
    proc = _cli("evaluate", str(model_dir), "--manifest", str(manifest), "--strict")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"edge-asr evaluate: error: m.jsonl line 4: missing audio: {tmp_path / 'gone.wav'}"
    )
