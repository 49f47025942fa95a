"""The one manifest loader (``edge_asr.data.loading.load_set``) on real espeak audio: its skip
policy, strict mode, BOM and missing durations, FLAC through soundfile, and its parallel path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge_asr.data.audio import load_audio
from edge_asr.data.loading import MISSING_AUDIO, NO_TEXT, extract_all, load_set
from edge_asr.data.manifest import ManifestError, load_manifest
from runtime.errors import EdgeASRError
from runtime.features import FeatureConfig, extract
from runtime.text import normalize_text


@pytest.fixture(scope="module")
def rows(tiny_corpus: Path) -> list[dict]:
    """The first test rows with absolute paths (manifests below live elsewhere)."""
    lines = (tiny_corpus / "test.jsonl").read_text().splitlines()[:4]
    return [
        {**r, "audio_filepath": str(tiny_corpus / r["audio_filepath"])}
        for r in map(json.loads, lines)
    ]


def _write(path: Path, lines: list, bom: bool = False) -> Path:
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return path


def test_features_texts_and_names_match_the_runtime(rows: list[dict], tmp_path: Path) -> None:
    config = FeatureConfig.spectrogram()
    loaded = load_set(_write(tmp_path / "m.jsonl", rows), config)
    assert loaded.names == [Path(r["audio_filepath"]).name for r in rows]
    assert loaded.texts == [normalize_text(r["text"]) for r in rows]
    assert loaded.lines == [1, 2, 3, 4] and loaded.skipped.n == 0
    assert loaded.skipped.summary("m") == ""
    want = extract(load_audio(rows[0]["audio_filepath"]), config)
    np.testing.assert_array_equal(loaded.features[0], want)
    assert loaded.features[0].dtype == np.float32


def test_normalize_uses_the_stats_only_when_asked(rows: list[dict], tmp_path: Path) -> None:
    raw_config = FeatureConfig.spectrogram()
    manifest = _write(tmp_path / "m.jsonl", rows[:1])
    raw = load_set(manifest, raw_config).features[0]
    config = raw_config.with_stats(raw.mean(axis=0), raw.std(axis=0))
    assert np.allclose(load_set(manifest, config).features[0].mean(axis=0), 0, atol=1e-4)
    np.testing.assert_array_equal(load_set(manifest, config, normalize=False).features[0], raw)


def test_bad_rows_are_skipped_one_line_each(
    rows: list[dict], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (tmp_path / "garbage.wav").write_text("not audio")
    manifest = _write(
        tmp_path / "train.jsonl",
        [
            rows[0],
            "{not json",
            {"audio_filepath": "missing.wav", "duration": 1.0, "text": "hello"},
            {"audio_filepath": "garbage.wav", "duration": 1.0, "text": "hello"},
            {**rows[1], "text": "?! ..."},
            "",
            {"audio_filepath": rows[2]["audio_filepath"], "duration": 1.0},
            rows[3],
        ],
    )
    loaded = load_set(manifest, FeatureConfig.spectrogram())
    assert loaded.lines == [1, 8] and len(loaded.features) == 2
    s = loaded.skipped
    assert s.total == 7 and s.n == 5
    assert s.counts == {"not JSON": 1, MISSING_AUDIO: 1, "unreadable audio": 1, NO_TEXT: 1,
                        "no text": 1}  # fmt: skip
    err = sorted(capsys.readouterr().err.splitlines())  # text is checked before audio is read
    assert err[:2] == [
        "edge-asr: skipped train.jsonl line 2: not JSON",
        f"edge-asr: skipped train.jsonl line 3: missing audio: {tmp_path / 'missing.wav'}",
    ]
    assert err[2].startswith(
        f"edge-asr: skipped train.jsonl line 4: unreadable audio: {tmp_path / 'garbage.wav'}: "
    )
    assert err[3:] == [
        "edge-asr: skipped train.jsonl line 5: no valid symbol in text: '?! ...'",
        "edge-asr: skipped train.jsonl line 7: no text",
    ]
    assert s.summary("train").startswith("train: skipped 5 of 7 utterances (")


def test_need_text_false_keeps_rows_without_symbols(rows: list[dict], tmp_path: Path) -> None:
    manifest = _write(tmp_path / "m.jsonl", [{**rows[0], "text": "?!"}])
    assert load_set(manifest, FeatureConfig.spectrogram(), need_text=False).texts == [""]
    with pytest.raises(ManifestError, match="no valid symbol"):
        load_set(manifest, FeatureConfig.spectrogram())


def test_strict_refuses_the_first_bad_row(rows: list[dict], tmp_path: Path) -> None:
    manifest = _write(
        tmp_path / "m.jsonl",
        [rows[0], {"audio_filepath": "gone.wav", "text": "hi"}, "{not json"],
    )
    with pytest.raises(EdgeASRError) as err:
        load_set(manifest, FeatureConfig.spectrogram(), strict=True)
    assert str(err.value) == "m.jsonl line 3: not JSON"  # rows are checked before audio
    manifest = _write(tmp_path / "m.jsonl", [rows[0], {"audio_filepath": "gone.wav", "text": "hi"}])
    with pytest.raises(EdgeASRError) as err:
        load_set(manifest, FeatureConfig.spectrogram(), strict=True)
    assert str(err.value) == f"m.jsonl line 2: missing audio: {tmp_path / 'gone.wav'}"


def test_all_rows_missing_names_why(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    lines = [{"audio_filepath": f"a{i}.wav", "duration": 1, "text": "hi"} for i in range(12)]
    manifest = _write(tmp_path / "m.jsonl", lines)
    with pytest.raises(ManifestError) as err:
        load_set(manifest, FeatureConfig.spectrogram())
    assert str(err.value) == (
        f"no usable utterances in {manifest}: 12 missing audio (first: {tmp_path / 'a0.wav'})"
    )
    empty = _write(tmp_path / "empty.jsonl", [])
    with pytest.raises(
        ManifestError, match=r"no usable utterances in .*empty\.jsonl: it has no rows"
    ):
        load_set(empty, FeatureConfig.spectrogram())


def test_bom_and_missing_duration(rows: list[dict], tmp_path: Path) -> None:
    no_duration = {k: v for k, v in rows[0].items() if k != "duration"}
    manifest = _write(tmp_path / "m.jsonl", [no_duration, rows[1]], bom=True)
    loaded = load_set(manifest, FeatureConfig.spectrogram())
    assert loaded.lines == [1, 2]
    assert loaded.utterances[0].duration == pytest.approx(rows[0]["duration"], abs=1e-3)
    assert load_manifest(manifest)[0].duration == loaded.utterances[0].duration


def test_flac_through_soundfile(rows: list[dict], tmp_path: Path) -> None:
    samples = load_audio(rows[0]["audio_filepath"])
    sf.write(tmp_path / "a.flac", samples, 16000, subtype="PCM_16")
    flac = {"audio_filepath": "a.flac", "text": rows[0]["text"]}  # duration from the header
    loaded = load_set(_write(tmp_path / "m.jsonl", [flac, rows[0]]), FeatureConfig.spectrogram())
    assert loaded.names == ["a.flac", Path(rows[0]["audio_filepath"]).name]
    assert loaded.utterances[0].duration == pytest.approx(len(samples) / 16000)
    np.testing.assert_allclose(loaded.features[0], loaded.features[1], atol=1e-3)


def test_skip_and_limit_select_rows(rows: list[dict], tmp_path: Path) -> None:
    manifest = _write(tmp_path / "m.jsonl", rows)
    loaded = load_set(manifest, FeatureConfig.spectrogram(), skip=1, limit=2)
    assert loaded.lines == [2, 3] and loaded.skipped.total == 2


def test_worker_processes_give_the_same_features(rows: list[dict]) -> None:
    config = FeatureConfig.mfcc()
    paths = [r["audio_filepath"] for r in rows[:2]] + ["/nonexistent.wav"]
    serial = list(extract_all(paths, config, jobs=1))
    parallel = list(extract_all(paths, config, jobs=2, total_seconds=1e9))
    assert [r[0] for r in parallel] == [0, 1, 2]
    for a, b in zip(serial[:2], parallel[:2], strict=True):
        np.testing.assert_array_equal(a[1], b[1])
    assert parallel[2][1:] == (None, MISSING_AUDIO, "/nonexistent.wav")
