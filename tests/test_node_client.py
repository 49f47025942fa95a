"""A client nobody here wrote runs the artifacts: clients/node (onnxruntime-node) feeds the
bundle's ``onnx-fp32-audio-stream`` artifact chunk by chunk and must print exactly the text of
the Python streaming recognizer on the same WAVs. Also runs the shared JS module's unit tests
(``node --test clients/js/``) and checks its resampler against ``runtime.audio.resample``."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE = shutil.which("node")
CLIENT = ROOT / "clients" / "node" / "transcribe.mjs"
ORT_NODE = ROOT / "clients" / "node" / "node_modules" / "onnxruntime-node"
ARTIFACT = "onnx-fp32-audio-stream"

needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (Node.js >= 18)")
needs_client = pytest.mark.skipif(
    NODE is None or not ORT_NODE.is_dir(),
    reason="node or clients/node/node_modules missing (run `make node`: npm ci)",
)


def python_stream_text(bundle: Path, wav: Path, artifact: str = ARTIFACT) -> str:
    """The reference: the Python streaming recognizer on the same artifact."""
    from runtime.audio import read_audio
    from runtime.recognizer import Recognizer

    rec = Recognizer.from_bundle(bundle, artifact=artifact)
    stream = rec.create_stream()
    stream.accept_waveform(rec.sample_rate, read_audio(wav, rec.sample_rate))
    return rec.finish(stream).text


def audio_stream_bundle(bundle: Path) -> Path:
    names = [a["name"] for a in json.loads((bundle / "bundle.json").read_text())["artifacts"]]
    assert ARTIFACT in names, f"the test bundle has no {ARTIFACT} artifact: {names}"
    return bundle


@pytest.fixture(scope="module")
def test_wavs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Twelve test-split WAVs of a small espeak corpus (the tiny corpus has only seven)."""
    from edge_asr.data.corpus import CorpusConfig, build_corpus
    from edge_asr.data.manifest import load_manifest

    out = tmp_path_factory.mktemp("node_corpus")
    build_corpus(out, CorpusConfig(hours=0.06, seed=1), jobs=1, show_progress=False)
    wavs = [Path(u.path) for u in load_manifest(out / "test.jsonl")][:12]
    assert len(wavs) >= 10, len(wavs)
    return wavs


def _node(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [NODE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


@needs_node
def test_js_module_unit_tests():
    proc = _node("--test", "clients/js/")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


@needs_node
def test_js_resampler_equals_the_runtime_resampler(tmp_path: Path):
    """The page resamples the microphone with the JS port; it must equal runtime.audio's."""
    from runtime.audio import resample

    script = tmp_path / "rs.mjs"
    script.write_text(
        "import { readFileSync, writeFileSync } from 'node:fs';\n"
        f"import {{ Resampler }} from '{(ROOT / 'clients/js/edge_asr.mjs').as_uri()}';\n"
        "const [inp, src, dst, block, out] = process.argv.slice(2);\n"
        "const b = readFileSync(inp), x = new Float32Array(b.buffer, b.byteOffset, b.length / 4);\n"
        "const r = new Resampler(+src, +dst), parts = [];\n"
        "for (let o = 0; o < x.length; o += +block)\n"
        "  parts.push(r.push(x.subarray(o, o + +block)));\n"
        "parts.push(r.flush());\n"
        "writeFileSync(out, Buffer.concat(parts.map((p) => Buffer.from(p.buffer))));\n"
    )
    rng = np.random.default_rng(0)
    for src, dst, block in [(44100, 16000, 128), (48000, 16000, 128), (8000, 16000, 333)]:
        x = (0.2 * rng.standard_normal(src)).astype(np.float32)
        x.tofile(tmp_path / "in.f32")
        args = [str(tmp_path / "in.f32"), str(src), str(dst), str(block), str(tmp_path / "o.f32")]
        proc = _node(str(script), *args)
        assert proc.returncode == 0, proc.stderr
        got, want = np.fromfile(tmp_path / "o.f32", np.float32), resample(x, src, dst)
        assert got.shape == want.shape, (src, got.shape, want.shape)
        assert np.abs(got - want).max() < 2e-6, (src, np.abs(got - want).max())


@needs_client
def test_node_client_equals_python_streaming_recognizer(tiny_bundle: Path, test_wavs: list[Path]):
    bundle = audio_stream_bundle(tiny_bundle)
    t0 = time.perf_counter()
    proc = _node(str(CLIENT), str(bundle), *map(str, test_wavs), "--artifact", ARTIFACT, "--json")
    node_s = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["file"] for r in rows] == [str(w) for w in test_wavs]
    want = [python_stream_text(bundle, w) for w in test_wavs]
    got = [r["text"] for r in rows]
    same = sum(g == w for g, w in zip(got, want, strict=True))
    rtf = np.median([r["rtf"] for r in rows])
    p95 = np.median([r["chunk_p95_ms"] for r in rows])
    print(
        f"\nnode client: {same}/{len(want)} texts equal to Python; median RTF {rtf:.4f}, "
        f"chunk p95 {p95:.2f} ms; {node_s:.1f} s for {len(want)} files"
    )
    assert got == want
    assert any(want), "every reference text is empty: the comparison would prove nothing"

    # plain output: one line per file, the same texts
    plain = _node(str(CLIENT), str(bundle), str(test_wavs[0]))
    assert plain.returncode == 0 and plain.stdout == want[0] + "\n"


@needs_client
def test_node_client_refuses_bad_input_in_one_line(tiny_bundle: Path, tmp_path: Path):
    from runtime.audio import write_wav

    bundle = audio_stream_bundle(tiny_bundle)
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    fast = tmp_path / "fast.wav"
    write_wav(fast, np.zeros(4410, np.float32), 44100)
    stereo = tmp_path / "stereo.wav"
    import wave

    with wave.open(str(stereo), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0" * 6400)
    for path, words in [
        (text, "not a WAV"),
        (fast, "44100 Hz"),
        (stereo, "mono"),
        (tmp_path / "missing.wav", "no such file"),
    ]:
        proc = _node(str(CLIENT), str(bundle), str(path))
        assert proc.returncode == 2, (path, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("edge-asr-node: error:"), proc.stderr
        assert words in lines[0], lines[0]
    proc = _node(str(CLIENT), str(bundle), str(fast), "--artifact", "onnx-fp32-stream")
    assert proc.returncode == 2 and "not a usable audio-in streaming" in proc.stderr
