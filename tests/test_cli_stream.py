"""``edge-asr transcribe --stream``: JSON partials and finals, WAV and other-rate PCM on stdin,
refused FLAC, Ctrl-C as end of input, a closed stdout, option ranges."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from runtime.audio import read_audio, resample, write_wav
from runtime.recognizer import Recognizer
from tests.test_streams import test_files

ROOT = Path(__file__).resolve().parents[1]


def _cli(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edge_asr", *argv], cwd=ROOT, input=stdin, capture_output=True
    )


def _pcm(audio: np.ndarray) -> bytes:
    """S16_LE bytes rounded as ``write_wav`` rounds, so a WAV and raw PCM carry equal samples."""
    return np.round(np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


def _records(proc: subprocess.CompletedProcess) -> list[dict]:
    assert proc.returncode == 0, proc.stderr
    return [json.loads(x) for x in proc.stdout.decode().splitlines()]


def test_stream_json_wav_and_rate(tiny_bundle: Path, tiny_corpus: Path, tmp_path: Path):
    file = test_files(tiny_corpus, 1)[0]
    audio = read_audio(file)
    rec = Recognizer.from_bundle(tiny_bundle, streaming=True)
    expected = rec.transcribe(np.frombuffer(_pcm(audio), "<i2").copy()).text
    records = _records(
        _cli("transcribe", str(tiny_bundle), "--stream", "--json", stdin=_pcm(audio))
    )
    assert all(r == {"partial": r["partial"], "final": False} for r in records[:-1])
    final = records[-1]
    assert final["final"] is True and final["text"] == expected
    offline = _records(_cli("transcribe", str(tiny_bundle), file, "--json"))[0]
    assert set(final) == set(offline) | {"final"}
    # a WAV on stdin (48 kHz) is read with its own rate; raw PCM at --rate is resampled
    a48 = resample(audio, 16000, 48000)
    write_wav(tmp_path / "a48.wav", a48, 48000)
    wav = _records(
        _cli(
            "transcribe",
            str(tiny_bundle),
            "--stream",
            "--json",
            stdin=(tmp_path / "a48.wav").read_bytes(),
        )
    )[-1]
    raw = _records(
        _cli(
            "transcribe", str(tiny_bundle), "--stream", "--json", "--rate", "48000", stdin=_pcm(a48)
        )
    )[-1]
    assert wav["text"] == raw["text"] and wav["text"]
    text = _cli("transcribe", str(tiny_bundle), "--stream", stdin=_pcm(audio)).stdout.decode()
    assert text.splitlines()[-1] == f"final: {expected}"


def test_stream_refuses_flac_and_bad_options(tiny_bundle: Path):
    for argv, why in (
        (["--stream"], "FLAC"),
        (["a.wav", "--beam", "0"], "--beam must be >= 1"),
        (["a.wav", "--threads", "0"], "--threads must be >= 1"),
        (["a.wav", "--hotword", ""], "--hotword"),
        (["a.wav", "--backend", "onnx", "--artifact", "tflite-fp32"], "not onnx"),
        (["a.wav", "--rate", "8000"], "--rate"),
    ):
        proc = _cli("transcribe", str(tiny_bundle), *argv, stdin=b"fLaC\x00\x00\x00\x22")
        lines = proc.stderr.decode().strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and why in lines[0], (argv, proc.stderr)
    help_text = _cli("transcribe", "--help").stdout.decode()
    assert "S16_LE" in help_text and "SIGINT" in help_text and "default" in help_text


def test_sigint_finalizes_and_closed_stdout_is_quiet(tiny_bundle: Path, tiny_corpus: Path):
    audio = read_audio(test_files(tiny_corpus, 1)[0])
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_asr", "transcribe", str(tiny_bundle), "--stream", "--json"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdin.write(_pcm(audio))
    proc.stdin.flush()
    deadline = time.time() + 60
    line = proc.stdout.readline()  # the first partial: the audio is being read
    assert line and time.time() < deadline
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out.decode().splitlines()[-1])["final"] is True
    head = subprocess.run(
        f"{sys.executable} -m edge_asr transcribe {tiny_bundle} --stream --json | head -1",
        shell=True,
        cwd=ROOT,
        input=_pcm(np.tile(audio, 4)),
        capture_output=True,
    )
    assert head.returncode == 0 and b"Traceback" not in head.stderr, head.stderr
    assert len(head.stdout.splitlines()) == 1


@pytest.mark.parametrize("mode", ["files"])
def test_closed_stdout_in_file_mode(tiny_bundle: Path, tiny_corpus: Path, mode: str):
    files = " ".join(test_files(tiny_corpus, 4))
    head = subprocess.run(
        f"{sys.executable} -m edge_asr transcribe {tiny_bundle} {files} --json | head -1",
        shell=True,
        cwd=ROOT,
        capture_output=True,
    )
    assert b"Traceback" not in head.stderr and len(head.stdout.splitlines()) == 1
