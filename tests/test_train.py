"""CTC training on the tiny espeak corpus: every architecture learns, the model directory is
complete and reloads identically in a fresh process, bad rows are skipped and counted, resume
continues exactly where a run stopped."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from edge_asr.cli import main as cli_main
from edge_asr.train import NO_AUGMENT, AugmentConfig, TrainConfig, train
from edge_asr.train.augment import augment, time_stretch
from edge_asr.train.callbacks import LOG_COLUMNS
from edge_asr.train.data import bucket_batches, ctc_min_frames, pad_batch
from runtime.errors import EdgeASRError
from tests.conftest import ARCHS


def _config(corpus: Path, out: Path, model: str, **kw) -> TrainConfig:
    defaults = dict(
        model=model,
        params=ARCHS.get(model, {}),
        optimizer="adam",
        lr=3e-3,
        batch_size=8,
        epochs=3,
        augment=NO_AUGMENT,
        sortagrad=False,  # every epoch sees the same mix, so epoch losses compare
        progress=False,
    )
    defaults.update(kw)
    return TrainConfig(corpus / "train.jsonl", corpus / "valid.jsonl", out, **defaults)


@pytest.fixture(scope="module")
def trained(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("train")
    results = {}
    for name in ARCHS:
        # one architecture on MFCC so both feature kinds are trained
        features = "mfcc" if name == "deep_rnn_model" else "spectrogram"
        results[name] = train(_config(tiny_corpus, root / name, name, features=features))
    return results


@pytest.mark.parametrize("name", list(ARCHS))
def test_ctc_loss_decreases(trained: dict, name: str) -> None:
    log = trained[name].log
    assert [row["epoch"] for row in log] == [1, 2, 3]
    assert log[-1]["loss"] < log[0]["loss"]
    assert log[-1]["val_loss"] < log[0]["val_loss"]
    assert all(np.isfinite(row["val_cer"]) for row in log)


@pytest.mark.parametrize("name", list(ARCHS))
def test_model_dir_complete(trained: dict, name: str) -> None:
    from edge_asr.models import build
    from runtime.features import FeatureConfig
    from runtime.text import SYMBOLS

    out = trained[name].out
    for f in ("model.keras", "model.json", "features.json", "labels.json", "train_log.csv"):
        assert (out / f).stat().st_size > 0, f
    assert not list(out.glob(".*tmp*")), "temp files left behind"
    meta = json.loads((out / "model.json").read_text())
    features = FeatureConfig.from_json((out / "features.json").read_text())
    assert features.kind == ("mfcc" if name == "deep_rnn_model" else "spectrogram")
    assert features.mean is not None and len(features.std) == features.dim
    expected = build(name, input_dim=features.dim, **ARCHS[name]).edge_asr
    assert meta == json.loads(json.dumps(expected))
    assert json.loads((out / "labels.json").read_text()) == {"symbols": list(SYMBOLS), "blank": 28}
    with open(out / "train_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == LOG_COLUMNS and len(rows) == 3
    best = min(range(3), key=lambda i: float(rows[i]["val_cer"]))
    assert trained[name].best_cer == pytest.approx(float(rows[best]["val_cer"]), abs=1e-4)


def test_save_load_round_trip_in_fresh_process(trained: dict, tmp_path: Path) -> None:
    """Each saved model gives the same posteriors in a new interpreter as in this one."""
    from edge_asr.inference import keras_posteriors
    from edge_asr.models import load_model_dir

    rng = np.random.default_rng(0)
    dirs = {name: str(r.out) for name, r in trained.items()}
    expected = {}
    for name, folder in dirs.items():
        model, model_dir = load_model_dir(folder)
        feats = [rng.normal(size=(n, model_dir.features.dim)).astype(np.float32) for n in (40, 97)]
        np.savez(tmp_path / f"{name}_in.npz", *feats)
        expected[name] = keras_posteriors(model, feats)
    script = textwrap.dedent(
        f"""
        import json, numpy as np
        from edge_asr.inference import keras_posteriors
        from edge_asr.models import load_model_dir
        for name, folder in json.loads({json.dumps(json.dumps(dirs))}).items():
            data = np.load(r"{tmp_path}/" + name + "_in.npz")
            feats = [data[k] for k in sorted(data.files)]
            model, _ = load_model_dir(folder)
            np.savez(r"{tmp_path}/" + name + "_out.npz", *keras_posteriors(model, feats))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in dirs:
        got = np.load(tmp_path / f"{name}_out.npz")
        for want, key in zip(expected[name], sorted(got.files), strict=True):
            assert want.shape == got[key].shape
            np.testing.assert_allclose(got[key], want, atol=1e-6, err_msg=name)


def _rows(manifest: Path) -> list[dict]:
    return [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]


def _write_manifest(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _bad_rows(corpus: Path, tmp_path: Path) -> list[dict]:
    from runtime.audio import write_wav

    short = tmp_path / "short.wav"
    write_wav(short, np.random.default_rng(0).normal(0, 0.1, 1600).astype(np.float32), 16000)
    (tmp_path / "garbage.wav").write_text("this is not audio")
    good = _rows(corpus / "train.jsonl")[0]
    return [
        {"audio_filepath": str(tmp_path / "missing.wav"), "duration": 1.0, "text": "hello"},
        {"audio_filepath": str(tmp_path / "garbage.wav"), "duration": 1.0, "text": "hello"},
        {**good, "audio_filepath": str(corpus / good["audio_filepath"]), "text": "?! ..."},
        {"audio_filepath": str(short), "duration": 0.1, "text": "a very long sentence " * 3},
    ]


def test_bad_rows_are_skipped_and_counted(
    tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rows = [
        {**r, "audio_filepath": str(tiny_corpus / r["audio_filepath"])}
        for r in _rows(tiny_corpus / "train.jsonl")
    ]
    manifest = _write_manifest(
        tmp_path / "train.jsonl", rows[:12] + _bad_rows(tiny_corpus, tmp_path)
    )
    out = tmp_path / "model"
    code = cli_main(
        [
            "train", "--model", "final_model_streaming", "--param", "units=16",
            "--param", "filters=16", "--train", str(manifest),
            "--valid", str(tiny_corpus / "valid.jsonl"), "--out", str(out),
            "--epochs", "1", "--quiet", "--optimizer", "adam",
        ]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err
    assert "train: skipped 4 of 16 utterances" in err
    for reason in ("missing audio", "unreadable audio", "no valid symbol", "too short"):
        assert f"1 {reason}" in err
    # one readable line per skipped row, naming the manifest line (not Python's warnings)
    lines = [line for line in err.splitlines() if line.startswith("edge-asr: skipped ")]
    assert sorted(line.split(":")[1] for line in lines) == [
        f" skipped train.jsonl line {n}" for n in (13, 14, 15, 16)
    ]
    assert any(line.endswith(f"missing audio: {tmp_path / 'missing.wav'}") for line in lines)
    assert "Warning" not in err
    with open(out / "train_log.csv", newline="") as fh:
        assert [row["skipped"] for row in csv.DictReader(fh)] == ["4"]


def test_empty_training_set_is_a_clear_error(
    tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = _write_manifest(tmp_path / "bad.jsonl", _bad_rows(tiny_corpus, tmp_path))
    config = _config(tiny_corpus, tmp_path / "m", "rnn_model")
    config.train_manifest = bad
    why = r"no usable train utterances in .*bad.jsonl: .*1 missing audio \(first: .*missing.wav\)"
    with pytest.raises(EdgeASRError, match=why):
        train(config)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    args = ["train", "--train", str(empty), "--valid", str(tiny_corpus / "valid.jsonl")]
    assert cli_main([*args, "--out", str(tmp_path / "m2")]) == 2
    assert "edge-asr train: error:" in capsys.readouterr().err


def test_resume_continues_exactly(tiny_corpus: Path, tmp_path: Path) -> None:
    """1 epoch + resume 1 epoch == 2 epochs straight (weights, optimizer state, data order)."""
    kw = dict(params={"units": 16}, sortagrad=True, augment=AugmentConfig())
    train(_config(tiny_corpus, tmp_path / "straight", "rnn_model", epochs=2, **kw))
    train(_config(tiny_corpus, tmp_path / "split", "rnn_model", epochs=1, **kw))
    with pytest.raises(EdgeASRError, match="already holds a model"):
        train(_config(tiny_corpus, tmp_path / "split", "rnn_model", epochs=2, **kw))
    resumed = train(
        _config(tiny_corpus, tmp_path / "split", "rnn_model", epochs=2, resume=True, **kw)
    )
    assert [row["epoch"] for row in resumed.log] == [1, 2]
    a = np.load(tmp_path / "straight" / "checkpoint.npz")
    b = np.load(tmp_path / "split" / "checkpoint.npz")
    assert a.files == b.files
    for key in a.files:
        if key != "state":  # weights and optimizer slots
            np.testing.assert_allclose(a[key], b[key], atol=1e-6, err_msg=key)


def test_time_budget_stops_mid_epoch(tiny_corpus: Path, tmp_path: Path) -> None:
    result = train(
        _config(tiny_corpus, tmp_path / "m", "rnn_model", epochs=None, minutes=0.001, batch_size=2)
    )
    assert result.epochs == 1 and len(result.log) == 1
    assert (tmp_path / "m" / "model.keras").exists()


# --- units -----------------------------------------------------------------------------------


def test_bucket_batches_cover_everything_once_and_are_deterministic() -> None:
    lengths = np.random.default_rng(1).integers(50, 800, size=203)
    a = bucket_batches(lengths, 16, np.random.default_rng([5, 1]))
    b = bucket_batches(lengths, 16, np.random.default_rng([5, 1]))
    c = bucket_batches(lengths, 16, np.random.default_rng([5, 2]))
    assert all((x == y).all() for x, y in zip(a, b, strict=True))
    assert any(len(x) != len(y) or (x != y).any() for x, y in zip(a, c, strict=True))
    flat = np.concatenate(a)
    assert sorted(flat.tolist()) == list(range(203))

    def padding(batches: list) -> float:
        return sum(lengths[x].max() * len(x) - lengths[x].sum() for x in batches) / lengths.sum()

    shuffled = np.random.default_rng(0).permutation(203)
    unbucketed = [shuffled[i : i + 16] for i in range(0, 203, 16)]
    assert padding(a) < 0.15 and padding(a) < padding(unbucketed) / 3
    ordered = bucket_batches(lengths, 16, np.random.default_rng(0), shuffle=False)
    assert [lengths[x].max() for x in ordered][:3] < [lengths[x].max() for x in ordered][-3:]


def test_ctc_min_frames_and_padding() -> None:
    assert ctc_min_frames([2, 3, 4]) == 3
    assert ctc_min_frames([2, 2, 3, 3, 3]) == 8  # a blank between each repeat
    assert ctc_min_frames([]) == 0
    b = pad_batch(
        [np.ones((5, 3), np.float16), np.ones((9, 3), np.float16)],
        [np.array([1, 2]), np.array([3])],
        lambda n: n // 2,
    )
    assert b.features.shape == (2, 9, 3) and b.features.dtype == np.float32
    assert b.features[0, 5:].sum() == 0
    assert b.output_lengths.tolist() == [2, 4] and b.label_lengths.tolist() == [2, 1]
    assert b.labels.tolist() == [[1, 2], [3, 0]]


def test_augment_masks_and_stretches() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 161)).astype(np.float16) + 5
    y = augment(x, rng, AugmentConfig(2, 0.15, 3.0, 12, 0.2, 0.0))
    assert y.shape == x.shape and y.dtype == np.float32
    assert (y == 0).all(axis=0).any() and (y == 0).all(axis=1).any()  # a band and a slice
    assert (y == 0).all(axis=1).mean() <= 0.2 + 1e-9
    assert np.array_equal(augment(x, rng, NO_AUGMENT), x.astype(np.float32))
    assert len(time_stretch(x.astype(np.float32), 1.25)) == 240
    assert len(time_stretch(x.astype(np.float32), 0.8)) == 375
    # a stretch that would make CTC impossible is not applied
    z = augment(x, rng, AugmentConfig(freq_masks=0, time_masks_per_second=0, stretch=0.5), 300, int)
    assert len(z) >= 300


def test_strict_refuses_a_bad_row(tiny_corpus: Path, tmp_path: Path) -> None:
    rows = _rows(tiny_corpus / "train.jsonl")[:3]
    rows = [{**r, "audio_filepath": str(tiny_corpus / r["audio_filepath"])} for r in rows]
    missing = {"audio_filepath": str(tmp_path / "gone.wav"), "duration": 1.0, "text": "hi"}
    manifest = _write_manifest(tmp_path / "train.jsonl", [*rows, missing])
    config = _config(tiny_corpus, tmp_path / "m", "rnn_model", strict=True)
    config.train_manifest = manifest
    with pytest.raises(EdgeASRError) as err:
        train(config)
    assert str(err.value) == f"train.jsonl line 4: missing audio: {tmp_path / 'gone.wav'}"
    assert not (tmp_path / "m").exists()  # nothing written before the data is good


@pytest.mark.parametrize(
    ("flag", "value", "why"),
    [
        ("--lr", "0", "must be > 0"),
        ("--lr", "nan", "must be > 0"),
        ("--batch-size", "0", "must be >= 1"),
        ("--minutes", "-1", "must be > 0"),
        ("--epochs", "0", "must be >= 1"),
        ("--patience", "-1", "must be >= 0"),
        ("--jobs", "0", "must be >= 1"),
        ("--weight-decay", "-0.1", "must be >= 0"),
        ("--threads", "0", "each >= 1"),
    ],
)
def test_option_ranges_fail_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, flag: str, value: str, why: str
) -> None:
    args = ["train", "--train", "t.jsonl", "--valid", "v.jsonl", "--out", str(tmp_path / "m")]
    with pytest.raises(SystemExit) as exit_:
        cli_main([*args, flag, value])
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-asr train: error: argument " + flag)
    assert why in lines[0]


def test_help_gives_defaults_and_an_example(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        cli_main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for default in ("(default 16)", "(default 10)", "(default sgd)", "(default constant)"):
        assert default in text
    assert "example: edge-asr train --train" in text and "--strict" in text


def test_patience_breaks_cer_ties_on_val_loss() -> None:
    """CTC's first epochs all decode to blanks (CER 1.0): a lower loss must still count."""
    import keras

    from edge_asr.train.callbacks import ValidationPatience

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False
    patience = ValidationPatience(2)
    callbacks = keras.callbacks.CallbackList([patience], model=model)
    callbacks.on_train_begin()
    scores = [(1.0, 300.0), (1.0, 250.0), (1.0, 260.0), (0.9, 400.0), (0.9, 401.0), (0.95, 1.0)]
    best = []
    for epoch, score in enumerate(scores, start=1):
        callbacks.on_epoch_end(epoch, {"val_score": score})
        best.append(patience.best_epoch)
        if model.stop_training:
            break
    assert best == [1, 2, 2, 4, 4, 4] and model.stop_training
    assert patience.state() == {
        "best_cer": 0.9, "best_loss": 400.0, "best_epoch": 4, "bad_epochs": 2
    }  # fmt: skip
    assert not ValidationPatience(0).patience < 10**9  # 0: never stops


def test_cosine_learning_rate_follows_the_run() -> None:
    import keras

    from edge_asr.train.callbacks import CosineLearningRate

    optimizer = keras.optimizers.Adam(0.01)
    schedule = CosineLearningRate(optimizer, 0.01, None)
    schedule.set_params({"epochs": 2, "steps": 10})
    got = []
    for epoch, batch in ((1, 0), (1, 10), (2, 10)):
        schedule.on_epoch_begin(epoch)
        schedule.on_train_batch_begin(batch)
        got.append(float(optimizer.learning_rate.numpy()))
    np.testing.assert_allclose(got, [0.01, 0.01 * (0.05 + 0.95 * 0.5), 0.01 * 0.05], rtol=1e-5)
