"""The on-device runtime on a real bundle: same text as Keras, streaming == offline, clear
errors for tampered or mismatched bundles, and no TensorFlow anywhere in the process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime.audio import read_audio
from runtime.bundle import Bundle, BundleError
from runtime.errors import EdgeASRError
from runtime.recognizer import Recognizer, StreamingRecognizer

ROOT = Path(__file__).resolve().parents[1]


def _test_files(corpus: Path, n: int = 4) -> list[tuple[str, str]]:
    rows = [json.loads(x) for x in (corpus / "test.jsonl").read_text().splitlines()[:n]]
    return [(str(corpus / r["audio_filepath"]), r["text"]) for r in rows]


def _cli(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge_asr", *argv], cwd=ROOT, input=stdin, capture_output=True
    )


def test_fp32_artifacts_give_the_keras_text(tiny_bundle: Path, tiny_corpus: Path):
    from edge_asr.inference import greedy_texts, keras_posteriors
    from edge_asr.models import load_model
    from runtime.features import extract

    bundle = Bundle.load(tiny_bundle)
    model = load_model(bundle.source_file, bundle.header.model_meta)
    files = _test_files(tiny_corpus)
    feats = [extract(read_audio(f), bundle.features) for f, _ in files]
    keras_texts = greedy_texts(keras_posteriors(model, feats))
    fp32 = [a for a in bundle.passing() if a.precision == "fp32"]
    assert {a.format for a in fp32} == {"tflite", "onnx"}
    for art in fp32:
        rec = Recognizer.from_bundle(tiny_bundle, art.name)
        texts = [rec.transcribe(f).text for f, _ in files]
        assert texts == keras_texts, art.name


def test_streaming_final_equals_offline_for_any_chunking(tiny_bundle: Path, tiny_corpus: Path):
    rng = np.random.default_rng(0)
    for art in Bundle.load(tiny_bundle).passing(streaming=True):
        offline = Recognizer.from_bundle(tiny_bundle, art.name)
        stream = StreamingRecognizer.from_bundle(tiny_bundle, art.name)
        for file, _ in _test_files(tiny_corpus, 3):
            audio = read_audio(file)
            expected = offline.transcribe(audio)
            for sizes in ([1, 7, 160, 1601], [4000], list(rng.integers(1, 3000, 5))):
                pos, i = 0, 0
                while pos < len(audio):
                    step = int(sizes[i % len(sizes)])
                    stream.accept_audio(audio[pos : pos + step])
                    pos, i = pos + step, i + 1
                final = stream.finalize()
                assert final.text == expected.text, (art.name, sizes)


def test_word_times_are_ordered_and_inside_the_audio(tiny_bundle: Path, tiny_corpus: Path):
    rec = Recognizer.from_bundle(tiny_bundle)
    file, _ = _test_files(tiny_corpus, 1)[0]
    result = rec.transcribe(file)
    duration = len(read_audio(file)) / 16000
    for word in result.words:
        assert 0 <= word["start"] <= word["end"] <= duration + 0.05
    assert result.timings["rtf"] > 0


def test_default_artifact_is_the_smallest_that_passed(tiny_bundle: Path):
    bundle = Bundle.load(tiny_bundle)
    chosen = bundle.select()
    assert chosen.size_bytes == min(a.size_bytes for a in bundle.passing())


def _copy(bundle: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "bundle"
    shutil.copytree(bundle, dst)
    return dst


def test_tampered_artifact_is_refused(tiny_bundle: Path, tmp_path: Path, tiny_corpus: Path):
    dst = _copy(tiny_bundle, tmp_path)
    art = Bundle.load(dst).select()
    with open(dst / art.file, "r+b") as fh:
        fh.seek(-64, 2)
        fh.write(b"\x00" * 8)
    with pytest.raises(BundleError, match="sha256 mismatch"):
        Recognizer.from_bundle(dst, art.name)
    proc = _cli("transcribe", str(dst), _test_files(tiny_corpus, 1)[0][0])
    assert proc.returncode == 2
    assert b"sha256 mismatch" in proc.stderr and b"Traceback" not in proc.stderr


def test_newer_schema_and_shape_mismatch_are_refused(tiny_bundle: Path, tmp_path: Path):
    dst = _copy(tiny_bundle, tmp_path)
    meta = json.loads((dst / "bundle.json").read_text())
    (dst / "bundle.json").write_text(json.dumps({**meta, "schema_version": 99}))
    with pytest.raises(BundleError, match="newer"):
        Bundle.load(dst)
    art = next(a for a in meta["artifacts"] if a["parity"]["passed"] and not a["streaming"])
    art["inputs"][0]["shape"][-1] += 1
    (dst / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(BundleError, match=r"bundle\.json says"):
        Recognizer.from_bundle(dst, art["name"])


def test_bad_audio_gives_one_line_errors(tiny_bundle: Path, tmp_path: Path):
    rec = Recognizer.from_bundle(tiny_bundle)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio")
    for name in ("empty.wav", "text.wav", "missing.wav"):
        with pytest.raises(EdgeASRError):
            rec.transcribe(tmp_path / name)
    with pytest.raises(EdgeASRError):
        rec.transcribe(np.array([0.1, np.nan], np.float32))
    proc = _cli("transcribe", str(tiny_bundle), str(tmp_path / "text.wav"))
    assert proc.returncode != 0
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "text.wav" in lines[0], proc.stderr


def test_transcribe_cli_json_loads_no_tensorflow(tiny_bundle: Path, tiny_corpus: Path):
    """Also: options may sit between the files, and no training module is imported."""
    files = [f for f, _ in _test_files(tiny_corpus, 2)]
    argv = ["transcribe", str(tiny_bundle), files[0], "--json", *files[1:]]
    probe = (
        "import json, sys\n"
        "from edge_asr.cli import main\n"
        f"code = main({argv!r})\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')\n"
        "         or m.startswith(('edge_asr.train', 'converters'))]\n"
        "print(json.dumps({'code': code, 'heavy': heavy}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    status = json.loads(lines[-1])
    assert status == {"code": 0, "heavy": []}, proc.stderr
    results = [json.loads(x) for x in lines[:-1]]
    assert [r["file"] for r in results] == files
    assert all(isinstance(r["text"], str) for r in results)


def test_stream_cli_reads_pcm_from_stdin(tiny_bundle: Path, tiny_corpus: Path):
    file, _ = _test_files(tiny_corpus, 1)[0]
    audio = read_audio(file)
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
    proc = _cli("transcribe", str(tiny_bundle), "--stream", "--json", stdin=pcm)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert records[-1]["final"] is True
    stream_art = Bundle.load(tiny_bundle).select(streaming=True)
    offline = Recognizer.from_bundle(tiny_bundle, stream_art.name)
    expected = offline.transcribe(pcm_roundtrip(audio)).text
    assert records[-1]["text"] == expected


def pcm_roundtrip(audio: np.ndarray) -> np.ndarray:
    return (np.clip(audio, -1, 1) * 32767).astype(np.int16).astype(np.float32) / 32768


def test_beam_search_with_lm_through_the_cli(tiny_bundle: Path, tiny_corpus: Path, tmp_path):
    texts = [json.loads(x)["text"] for x in (tiny_corpus / "train.jsonl").read_text().splitlines()]
    (tmp_path / "corpus.txt").write_text("\n".join(texts))
    lm = tmp_path / "lm.arpa"
    assert _cli("lm", "build", str(tmp_path / "corpus.txt"), "--out", str(lm)).returncode == 0
    file, _ = _test_files(tiny_corpus, 1)[0]
    proc = _cli("transcribe", str(tiny_bundle), file, "--beam", "8", "--lm", str(lm), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "text" in json.loads(proc.stdout.decode().splitlines()[-1])
