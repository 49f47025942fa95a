"""The validation harness child (``python -m edge_asr.measure``) on a real bundle: transcripts,
timings and peak RSS of a process holding only the device runtime, any audio format, and clear
errors for tampered artifacts and unreadable files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "tf_keras", "tf2onnx", "onnx", "converters")


def _test_files(corpus: Path, n: int = 2) -> list[str]:
    rows = [json.loads(line) for line in (corpus / "test.jsonl").read_text().splitlines()]
    return [str(corpus / r["audio_filepath"]) for r in rows[:n]]


def _request(bundle_dir: Path, name: str, files: list[str]) -> dict:
    from edge_asr.measure import make_request
    from runtime.bundle import Bundle

    bundle = Bundle.load(bundle_dir)
    art = next(a for a in bundle.artifacts if a.name == name)
    return make_request(bundle, art, files)


@pytest.mark.parametrize(
    "name, interpreter", [("tflite-fp32", "litert"), ("onnx-fp32-stream", "onnxruntime")]
)
def test_child_transcribes_flac_like_wav_in_a_device_sized_process(
    tiny_bundle, tiny_corpus, tmp_path, name, interpreter
):
    import soundfile as sf

    from edge_asr.measure import run_isolated

    wavs = _test_files(tiny_corpus)
    flac = tmp_path / "first.flac"
    data, rate = sf.read(wavs[0], dtype="int16")
    sf.write(flac, data, rate, subtype="PCM_16")
    run = run_isolated(_request(tiny_bundle, name, [*wavs, str(flac), str(tmp_path / "no.wav")]))
    assert "error" not in run, run
    by_file = {r["file"]: r for r in run["results"]}
    assert by_file[str(flac)]["text"] == by_file[wavs[0]]["text"]  # same samples, same text
    assert all(by_file[f]["latency_ms"] > 0 and by_file[f]["audio_s"] > 1 for f in wavs)
    assert "no such file" in by_file[str(tmp_path / "no.wav")]["error"]
    assert run["artifact"] == name and run["load_s"] > 0
    assert 10 < run["peak_rss_mb"] < 400
    assert run["loadable_by"][interpreter] == "yes"  # others: "yes" or "no: not installed ..."


def test_child_imports_nothing_heavy(tiny_bundle, tiny_corpus):
    request = _request(tiny_bundle, "tflite-int8-dynamic", _test_files(tiny_corpus, 1))
    probe = (
        "import json, sys\n"
        "from edge_asr.measure import main\n"
        "main()\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
    )
    lines = out.stdout.strip().splitlines()
    assert json.loads(lines[-2])["type"] == "summary"
    assert json.loads(lines[-1]) == []


def test_tampered_artifact_is_a_one_line_error(tiny_bundle, tiny_corpus, tmp_path):
    from edge_asr.measure import run_isolated

    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    target = copy / "model.fp32.tflite"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    run = run_isolated(_request(copy, "tflite-fp32", _test_files(tiny_corpus, 1)))
    assert "sha256 mismatch" in run["error"] and run["results"] == []
