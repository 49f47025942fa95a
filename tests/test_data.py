"""Manifests, audio loading for training (WAV/FLAC/OGG) and the LibriSpeech importer."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from edge_asr.cli import main
from edge_asr.data.audio import AudioError, load_audio
from edge_asr.data.espeak import synthesize
from edge_asr.data.librispeech import import_librispeech
from edge_asr.data.manifest import ManifestError, Utterance, load_manifest, write_manifest
from runtime.audio import resample, write_wav
from runtime.errors import EdgeASRError


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, int]:
    """Real synthesized speech at espeak's 22050 Hz."""
    samples, rate = synthesize("the quick brown fox jumps over the lazy dog", "en-us+m3")
    return samples, rate


def _lines(path: Path, rows: list) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


# ----------------------------------------------------------------------------- manifests
def test_manifest_paths_relative_absolute_and_key(tmp_path):
    (tmp_path / "sub").mkdir()
    manifest = _lines(
        tmp_path / "sub" / "m.jsonl",
        [
            {"audio_filepath": "wav/a.wav", "duration": 1.5, "text": "hello", "voice": "en+m1"},
            {"key": "../b.wav", "duration": 2, "text": "Two"},
            "",
            {"audio_filepath": str(tmp_path / "c.flac"), "duration": 0, "text": ""},
        ],
    )
    rows = load_manifest(manifest)
    assert [u.path for u in rows] == [
        (tmp_path / "sub" / "wav" / "a.wav").resolve(),
        (tmp_path / "b.wav").resolve(),
        (tmp_path / "c.flac").resolve(),
    ]
    assert rows[0].extra == {"voice": "en+m1"} and rows[1].extra == {}
    assert [u.duration for u in rows] == [1.5, 2.0, 0.0]
    assert rows[1].text == "Two"  # kept as written: labels are normalized at training time


def test_manifest_reports_every_bad_row_with_its_line(tmp_path):
    manifest = _lines(
        tmp_path / "train.jsonl",
        [
            {"audio_filepath": "a.wav", "duration": 1.0, "text": "ok"},
            "{not json",
            {"duration": 1.0, "text": "no path"},
            {"audio_filepath": "b.wav", "duration": -1, "text": "negative"},
            {"audio_filepath": "c.wav", "duration": "3", "text": "string duration"},
            {"audio_filepath": "d.wav", "duration": 1.0, "text": 7},
            [1, 2],
            {"audio_filepath": "e.wav", "text": "no duration (and no audio): not a bad row"},
            {"audio_filepath": "f.wav", "duration": 1.0},
        ],
    )
    with pytest.raises(ManifestError) as err:
        load_manifest(manifest)
    message = str(err.value)
    assert message.startswith("train.jsonl: bad rows: ")
    for expected in (
        "line 2: not JSON",
        "line 3: no audio_filepath",
        "line 4: duration -1",
        "line 5: duration '3' is not a number",
        "line 6: text 7 is not a string",
        "line 7: not a JSON object",
        "line 9: no text",
    ):
        assert expected in message
    assert "line 1:" not in message and "line 8" not in message
    assert isinstance(err.value, EdgeASRError)


def test_manifest_bom_and_duration_from_the_header(tmp_path, speech):
    samples, rate = speech
    sf.write(tmp_path / "a.flac", samples, rate)
    write_wav(tmp_path / "b.wav", samples, rate)
    rows = [{"audio_filepath": name, "text": "x"} for name in ("a.flac", "b.wav", "gone.wav")]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\ufeff" + "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    durations = [u.duration for u in load_manifest(manifest)]
    assert durations[:2] == [pytest.approx(len(samples) / rate, abs=1e-4)] * 2
    assert durations[2] == 0.0  # unknown: the audio is checked where it is read


def test_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(ManifestError, match="no such manifest"):
        load_manifest(tmp_path / "nope.jsonl")


def test_write_manifest_round_trip_with_relative_paths(tmp_path):
    out = tmp_path / "corpus" / "m.jsonl"
    utts = [
        Utterance(tmp_path / "corpus" / "wav" / "x.wav", 1.25, "it's fine", {"voice": "en"}),
        Utterance(tmp_path / "elsewhere" / "y.wav", 0.5, "two", {}),
    ]
    write_manifest(out, utts)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0] == {
        "audio_filepath": "wav/x.wav",
        "duration": 1.25,
        "text": "it's fine",
        "voice": "en",
    }
    assert rows[1]["audio_filepath"] == "../elsewhere/y.wav"
    back = load_manifest(out)
    assert [u.path for u in back] == [u.path.resolve() for u in utts]
    assert [(u.duration, u.text, u.extra) for u in back] == [
        (u.duration, u.text, u.extra) for u in utts
    ]
    assert not list(out.parent.glob(".*.tmp"))  # atomic: no temp file left


# ----------------------------------------------------------------------------- audio
def test_load_audio_reads_wav_flac_ogg_alike(tmp_path, speech):
    samples, rate = speech
    reference = resample(samples, rate, 16000)
    write_wav(tmp_path / "a.wav", samples, rate)
    stereo = np.stack([samples, samples], axis=1)
    sf.write(tmp_path / "a.flac", stereo, rate, subtype="PCM_16")
    sf.write(tmp_path / "a.ogg", samples, rate, format="OGG", subtype="VORBIS")
    wav = load_audio(tmp_path / "a.wav")
    flac = load_audio(tmp_path / "a.flac")
    ogg = load_audio(tmp_path / "a.ogg")
    for audio in (wav, flac, ogg):
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert len(audio) == len(reference)
    assert np.max(np.abs(wav - reference)) < 2e-4  # 16-bit quantization
    assert np.max(np.abs(flac - wav)) < 2e-4
    # Vorbis is lossy: the same speech, not the same samples.
    assert np.corrcoef(ogg, wav)[0, 1] > 0.9


def test_load_audio_resamples_other_rates(tmp_path, speech):
    samples, rate = speech
    up = resample(samples, rate, 44100)
    sf.write(tmp_path / "b.flac", up, 44100)
    audio = load_audio(tmp_path / "b.flac", target_rate=8000)
    assert len(audio) == -(-len(up) * 8000 // 44100)


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("missing.flac", None, "no such file"),
        ("empty.flac", lambda p: p.write_bytes(b""), r"empty \(0 bytes\)"),
        ("text.flac", lambda p: p.write_text("hello, not audio\n" * 20), "not a readable audio"),
        (
            "nan.w64",
            lambda p: sf.write(
                p, np.array([0.1, np.nan, 0.2] * 100), 16000, format="W64", subtype="FLOAT"
            ),
            "NaN",
        ),
        (
            "nosamples.w64",
            lambda p: sf.write(p, np.zeros(0), 16000, format="W64", subtype="PCM_16"),
            "has no audio samples",
        ),
    ],
)
def test_bad_audio_is_a_clear_error(tmp_path, name, make, message):
    path = tmp_path / name
    if make is not None:
        make(path)
    with pytest.raises(AudioError, match=message) as err:
        load_audio(path)
    assert name in str(err.value)


# ----------------------------------------------------------------------------- librispeech
def _fake_librispeech(root: Path, speech) -> None:
    samples, rate = speech
    layout = {
        ("19", "198"): [("19-198-0000", "NORTHANGER ABBEY"), ("19-198-0001", "THIS LITTLE WORK")],
        ("26", "495"): [("26-495-0000", "HELLO THERE"), ("26-495-0001", "NO AUDIO FOR ME")],
    }
    for (speaker, chapter), lines in layout.items():
        folder = root / speaker / chapter
        folder.mkdir(parents=True)
        (folder / f"{speaker}-{chapter}.trans.txt").write_text(
            "".join(f"{i} {t}\n" for i, t in lines)
        )
        for k, (utt_id, _) in enumerate(lines):
            if utt_id == "26-495-0001":
                continue  # a transcript line whose audio is missing
            sf.write(folder / f"{utt_id}.flac", samples[: len(samples) // (k + 1)], rate)


def test_import_librispeech(tmp_path, speech):
    root = tmp_path / "LibriSpeech" / "dev-clean"
    _fake_librispeech(root, speech)
    out = tmp_path / "out" / "manifest.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = import_librispeech(root, out)
    assert report.utterances == 3 and report.missing == ["26-495-0001"]
    assert any("26-495-0001" in str(w.message) for w in caught)
    rows = load_manifest(out)
    assert [u.text for u in rows] == ["NORTHANGER ABBEY", "THIS LITTLE WORK", "HELLO THERE"]
    samples, rate = speech
    assert rows[0].duration == pytest.approx(len(samples) / rate, abs=1e-5)
    assert rows[1].duration == pytest.approx(len(samples) // 2 / rate, abs=1e-5)
    assert rows[0].extra["speaker"] == "19" and rows[0].extra["chapter"] == "198"
    raw = json.loads(out.read_text().splitlines()[0])
    assert raw["audio_filepath"] == "../LibriSpeech/dev-clean/19/198/19-198-0000.flac"
    assert len(load_audio(rows[2].path)) > 0
    assert report.seconds == pytest.approx(sum(u.duration for u in rows), abs=1e-4)


def test_import_librispeech_counts_unreadable_audio(tmp_path, speech):
    root = tmp_path / "ls"
    _fake_librispeech(root, speech)
    (root / "19" / "198" / "19-198-0001.flac").write_bytes(b"fLaC garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = import_librispeech(root, tmp_path / "m.jsonl")
    assert report.unreadable == ["19-198-0001"] and report.utterances == 2


def test_librispeech_cli(tmp_path, speech, capsys):
    root = tmp_path / "ls"
    _fake_librispeech(root, speech)
    assert main(["corpus", "--librispeech", str(root), "--out", str(tmp_path / "d")]) == 0
    captured = capsys.readouterr()
    assert "3 utterances" in captured.out
    assert "warning" in captured.err and "26-495-0001" in captured.err
    assert len(load_manifest(tmp_path / "d" / "manifest.jsonl")) == 3
    assert main(["corpus", "--librispeech", str(tmp_path / "d"), "--out", str(tmp_path)]) == 2
    assert "no *.trans.txt" in capsys.readouterr().err
