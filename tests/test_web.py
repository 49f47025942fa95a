"""``edge-asr export-web`` and its page in a real browser: Debian Chromium, headless, driven by
playwright-core (clients/web/browser_check.mjs), the page served by ``python -m http.server``.

WAVs play through Chromium's fake microphone (getUserMedia -> AudioWorklet, resampled to the
bundle's rate in the worklet, chunked as the stream spec says) and through the file picker; the
page's final text is checked against the Python streaming recognizer on the same audio and the
same artifact. "The same audio" for the microphone is what the microphone delivered (the page
records it with ``?record=1``): Python resamples it with ``runtime.audio`` and runs the artifact
in onnxruntime, the page with its JS resampler port and onnxruntime-web's WASM.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
CHROMIUM = Path("/usr/bin/chromium")
WEB = ROOT / "clients" / "web"
DRIVER = WEB / "browser_check.mjs"
ARTIFACT = "onnx-fp32-audio-stream"
MIC_WAVS = 5

_missing = [
    what
    for what, ok in [
        ("node", NODE is not None),
        ("/usr/bin/chromium (apt-get install chromium)", CHROMIUM.exists()),
        (
            "clients/web/node_modules (make node)",
            (WEB / "node_modules" / "playwright-core").is_dir()
            and (WEB / "node_modules" / "onnxruntime-web").is_dir(),
        ),
    ]
    if not ok
]
pytestmark = pytest.mark.skipif(bool(_missing), reason=f"needs {', '.join(_missing)}")


def agreement(got: str, want: str) -> float:
    """Character agreement: 1 - edit distance / reference length."""
    import editdistance

    return max(0.0, 1.0 - editdistance.eval(got, want) / max(1, len(want)))


def python_stream_text(bundle: Path, samples: np.ndarray, rate: int) -> str:
    """The reference: the Python streaming recognizer on the same samples and artifact."""
    from runtime.recognizer import Recognizer

    rec = Recognizer.from_bundle(bundle, artifact=ARTIFACT)
    stream = rec.create_stream()
    stream.accept_waveform(rate, samples)
    return rec.finish(stream).text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _edge_asr(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "edge_asr", *args]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def bundle(tiny_bundle: Path) -> Path:
    names = [a["name"] for a in json.loads((tiny_bundle / "bundle.json").read_text())["artifacts"]]
    assert ARTIFACT in names, f"the test bundle has no {ARTIFACT} artifact: {names}"
    return tiny_bundle


@pytest.fixture(scope="module")
def site(bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    """The exported site, served by the documented command; yields its URL."""
    out = tmp_path_factory.mktemp("web") / "site"
    proc = _edge_asr("export-web", str(bundle), "--out", str(out), "--artifact", ARTIFACT)
    assert proc.returncode == 0, proc.stderr
    assert "python -m http.server -d" in proc.stdout
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "-d", str(out), "--bind", "127.0.0.1", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(100):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=1).close()
                break
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def _drive(*args: str, timeout: float = 180) -> list[dict]:
    proc = subprocess.run(
        [NODE, str(DRIVER), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "CHROMIUM": str(CHROMIUM)},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    for row in rows:
        assert row.pop("external") == [], "the page fetched from outside the site (a CDN?)"
    return rows


def _wavs(tiny_corpus: Path, n: int) -> list[Path]:
    from edge_asr.data.manifest import load_manifest

    wavs = [Path(u.path) for u in load_manifest(tiny_corpus / "test.jsonl")][:n]
    assert len(wavs) == n
    return wavs


def test_export_web_writes_a_static_site(bundle: Path, tmp_path: Path):
    out = tmp_path / "site"
    proc = _edge_asr("export-web", str(bundle), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"index.html", "app.mjs", "capture-worklet.mjs", "edge_asr.mjs", "config.json"} <= files
    assert {"ort/ort.wasm.min.mjs", "ort/ort-wasm-simd-threaded.wasm"} <= files
    config = json.loads((out / "config.json").read_text())
    doc = json.loads((bundle / "bundle.json").read_text())
    usable = [
        a
        for a in doc["artifacts"]
        if a["format"] == "onnx" and a["streaming"] and a.get("audio") and a["parity"]["passed"]
    ]
    smallest = min(usable, key=lambda a: (a["size_bytes"], a["name"]))
    assert config["artifact"]["name"] == smallest["name"]  # default: the smallest that passed
    assert (out / config["model_file"]).read_bytes() == (bundle / smallest["file"]).read_bytes()
    html = (out / "index.html").read_text()
    for anchor in ('id="start"', 'id="file"', 'id="partial"', 'id="final"'):
        assert anchor in html
    # no CDN: every script the page loads is in the site
    for text in (html, (out / "app.mjs").read_text()):
        assert "http://" not in text and "https://" not in text
    # a second export replaces the site whole; no temp folders are left beside it
    again = _edge_asr("export-web", str(bundle), "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_export_web_bad_input_one_line_exit_2(bundle: Path, tmp_path: Path):
    # a bundle without any audio-in streaming artifact
    no_audio = tmp_path / "no_audio"
    shutil.copytree(bundle, no_audio)
    doc = json.loads((no_audio / "bundle.json").read_text())
    doc["artifacts"] = [a for a in doc["artifacts"] if not a.get("audio")]
    (no_audio / "bundle.json").write_text(json.dumps(doc))
    not_a_site = tmp_path / "mine"
    not_a_site.mkdir()
    (not_a_site / "keep.txt").write_text("mine")
    cases = [
        ([str(no_audio), "--out", str(tmp_path / "s1")], "no audio-in streaming ONNX artifact"),
        ([str(bundle), "--out", str(tmp_path / "s2"), "--artifact", "onnx-fp32-stream"], "not an"),
        ([str(bundle), "--out", str(tmp_path / "s3"), "--artifact", "nope"], "no artifact 'nope'"),
        ([str(tmp_path / "nowhere"), "--out", str(tmp_path / "s4")], "bundle.json"),
        ([str(bundle), "--out", str(not_a_site)], "not a site written by export-web"),
    ]
    for args, words in cases:
        proc = _edge_asr("export-web", *args)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("edge-asr export-web: error:"), proc.stderr
        assert words in lines[0], lines[0]
    assert not (tmp_path / "s1").exists()
    assert (not_a_site / "keep.txt").read_text() == "mine"


def test_microphone_in_chromium_matches_python(
    site: str, bundle: Path, tiny_corpus: Path, tmp_path: Path
):
    from runtime.audio import read_audio, resample

    rows = []
    for i, wav in enumerate(_wavs(tiny_corpus, MIC_WAVS)):
        prefix = tmp_path / f"cap{i}"
        shot = ["--screenshot", str(tmp_path / "page.png")] if i == 0 else []
        (r,) = _drive(f"{site}?record=1", "mic", str(wav), "--captured", str(prefix), *shot)
        assert r["final"] == r["text"] and r["final"] == r["partial"]
        raw = np.fromfile(f"{prefix}.raw.f32", np.float32)
        heard = np.fromfile(f"{prefix}.f32", np.float32)
        rate = int(r["input_rate"])
        # the fake microphone really played this WAV (up to the browser's delay and resampling)
        original = read_audio(wav, 16000)
        back = resample(raw, rate, 16000)
        n = 1 << int(np.ceil(np.log2(len(back) + len(original))))
        xc = np.fft.irfft(np.fft.rfft(back, n) * np.conj(np.fft.rfft(original, n)), n)
        assert xc.max() / np.dot(original, original) > 0.9, wav
        # the page resampled it as runtime.audio does
        assert np.abs(back[: len(heard)] - heard[: len(back)]).max() < 1e-5
        want = python_stream_text(bundle, raw, rate)
        offline = python_stream_text(bundle, original, 16000)  # for the report only
        rows.append((wav.name, r, want, offline))
    exact = sum(r["final"] == want for _, r, want, _ in rows)
    pages, refs = [r["final"] for _, r, _, _ in rows], [w for _, _, w, _ in rows]
    agree = agreement(" | ".join(pages), " | ".join(refs))  # over all utterances
    vs_wav = np.mean([agreement(r["final"], off) for _, r, _, off in rows])
    rtf = np.median([r["rtf"] for _, r, _, _ in rows])
    p50 = np.median([r["chunk_p50_ms"] for _, r, _, _ in rows])
    p95 = np.median([r["chunk_p95_ms"] for _, r, _, _ in rows])
    delay = np.median([r.get("delay_p95_ms", 0.0) for _, r, _, _ in rows])
    print(
        f"\nbrowser microphone ({rows[0][1]['input_rate']} Hz -> 16000 Hz) vs Python streaming "
        f"recognizer on the same samples: exact {exact}/{len(rows)}, character agreement "
        f"{agree:.4f}; vs Python on the original 16 kHz WAV (capture delay, not the same "
        f"samples): {vs_wav:.4f}\nin-browser RTF {rtf:.4f} (median), chunk latency p50 "
        f"{p50:.2f} ms / p95 {p95:.2f} ms, chunk arrival -> text p95 {delay:.2f} ms "
        f"({rows[0][1]['chunk_s'] * 1e3:.0f} ms chunks)"
    )
    for name, r, want, _ in rows:
        print(f"  {name}: page {r['final']!r} python {want!r}")
    assert any(want for _, _, want, _ in rows), "every reference is empty: proves nothing"
    assert agree >= 0.98
    assert rtf < 1.0, "the page does not keep up with real time"
    assert (tmp_path / "page.png").stat().st_size > 10_000


def test_file_picker_in_chromium_equals_python(site: str, bundle: Path, tiny_corpus: Path):
    from runtime.audio import read_audio

    wavs = _wavs(tiny_corpus, MIC_WAVS)
    rows = _drive(site, "file", *map(str, wavs))
    assert [r["wav"] for r in rows] == [str(w) for w in wavs]
    want = [python_stream_text(bundle, read_audio(w, 16000), 16000) for w in wavs]
    got = [r["final"] for r in rows]
    exact = sum(g == w for g, w in zip(got, want, strict=True))
    rtf = np.median([r["rtf"] for r in rows])
    print(f"\nbrowser file picker vs Python: exact {exact}/{len(wavs)}; RTF {rtf:.4f}")
    assert got == want


def test_page_shows_bad_input(site: str, tmp_path: Path):
    (denied,) = _drive(site, "deny")
    assert denied["visible"] and "permission" in denied["message"].lower(), denied
    junk = tmp_path / "notes.wav"
    junk.write_text("this is not audio")
    (bad,) = _drive(site, "badfile", str(junk))
    assert bad["visible"] and "not a WAV" in bad["message"], bad
    assert bad["done"] is None
