"""``edge-asr validate`` on a real bundle: scores against normalized text whatever the manifest
holds, reads any audio format, shows why a tampered artifact did not run, and rejects bad
arguments in one line before any work."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _rows(corpus: Path, n: int) -> list[dict]:
    return [json.loads(line) for line in (corpus / "test.jsonl").read_text().splitlines()[:n]]


def _write_manifest(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _shouted_flac_manifest(corpus: Path, tmp_path: Path, n: int) -> Path:
    """The same utterances as FLAC files, with raw transcripts normalization must undo."""
    import soundfile as sf

    from runtime.text import normalize_text

    rows = []
    for row in _rows(corpus, n):
        data, rate = sf.read(corpus / row["audio_filepath"], dtype="int16")
        flac = tmp_path / f"{row['id']}.flac"
        sf.write(flac, data, rate, subtype="PCM_16")
        shouted = row["text"].upper().replace(" ", ", ", 1) + "!"
        assert normalize_text(shouted) == row["text"]
        rows.append({**row, "audio_filepath": flac.name, "text": shouted})
    return _write_manifest(tmp_path / "shouted.jsonl", rows)


def _tampered_copy(bundle: Path, tmp_path: Path, file: str) -> Path:
    copy = tmp_path / "tampered"
    shutil.copytree(bundle, copy)
    data = bytearray((copy / file).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / file).write_bytes(bytes(data))
    return copy


def test_normalized_scoring_any_format_and_tampered_artifacts(tiny_bundle, tiny_corpus, tmp_path):
    from edge_asr.validate import validate

    rows = [
        {**r, "audio_filepath": str(tiny_corpus / r["audio_filepath"])}
        for r in _rows(tiny_corpus, 3)
    ]
    plain = _write_manifest(tmp_path / "plain.jsonl", rows)
    first = validate([str(tiny_bundle)], str(plain), str(tmp_path / "first"))
    assert first["failed"] == [] and first["utterances"] == 3

    shouted = _shouted_flac_manifest(tiny_corpus, tmp_path, 3)
    copy = _tampered_copy(tiny_bundle, tmp_path, "model.int8-dynamic.tflite")
    second = validate([str(copy)], str(shouted), str(tmp_path / "second"))
    assert second["reference"]["cer"] == pytest.approx(first["reference"]["cer"])
    assert second["reference"]["wer"] == pytest.approx(first["reference"]["wer"])
    before = {r["name"]: r for r in first["artifacts"]}
    for row in second["artifacts"]:
        if row["name"] == "tflite-int8-dynamic":
            assert row["cer"] is None and row["wer"] is None and row["delta_cer"] is None
            assert row["status"].startswith("error: sha256 mismatch")
            continue
        assert row["status"] == "ok" and row["errors"] == []
        assert row["cer"] == pytest.approx(before[row["name"]]["cer"])
        if row["precision"] == "fp32":
            assert row["decode_agreement"] == 1.0
    assert second["failed"] == ["tflite-int8-dynamic"]
    md = (tmp_path / "second" / "report.md").read_text()
    assert "sha256 mismatch" in md
    for name in ("report.json", "report.csv", "cer_vs_size.png"):
        assert (tmp_path / "second" / name).stat().st_size > 0


def _validate_cli(*argv: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "edge_asr", "validate", *argv]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--out", "{file}"], "exists and is not a directory"),
        (["--out", "{file}/report"], "is a file, not a directory"),
        (["--out", "{dir}/r", "--limit", "0"], "--limit: must be >= 1, got 0"),
        (["--out", "{dir}/r", "--threads", "0"], "--threads: must be >= 1, got 0"),
    ],
)
def test_bad_arguments_fail_at_once_in_one_line(tmp_path, extra, message):
    file = tmp_path / "taken"
    file.write_text("not a folder")
    extra = [a.format(file=file, dir=tmp_path) for a in extra]
    # no bundle or manifest exists: the argument check must come first
    proc = _validate_cli(str(tmp_path / "nobundle"), "--manifest", str(tmp_path / "m"), *extra)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-asr validate: error: "), proc.stderr
    assert message in lines[0]
    assert not (tmp_path / "r").exists()


def test_help_shows_defaults_and_an_example():
    proc = _validate_cli("--help")
    assert proc.returncode == 0
    assert "(default 1)" in proc.stdout and "example: edge-asr validate" in proc.stdout
