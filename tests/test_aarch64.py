"""The runtime on aarch64 (emulated: qemu-user + a cached Debian arm64 root, see
edge_asr/targets/aarch64.py): its own tests run there, and every artifact transcribes test
WAVs there as it does on this x86-64 host. Skipped, with the reason, where the host cannot
emulate (not Linux x86-64, not root, no qemu-user-static or binfmt_misc)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge_asr.targets import aarch64

REASON = aarch64.cannot_emulate()
needs_emulation = pytest.mark.skipif(REASON is not None, reason=f"cannot emulate: {REASON}")
pytestmark = pytest.mark.aarch64


@pytest.fixture(scope="module")
def env() -> aarch64.Environment:
    environment = aarch64.prepare()
    environment.sync_sources()
    return environment


def _wavs(corpus: Path, n: int) -> list[str]:
    from edge_asr.data.manifest import load_manifest

    return [str(u.path) for u in load_manifest(corpus / "test.jsonl")[:n]]


@needs_emulation
def test_runtime_tests_pass_inside_aarch64(env, tiny_bundle: Path, tiny_corpus: Path):
    from edge_asr.data.audio import load_audio
    from edge_asr.targets.compare import stage

    samples = [load_audio(w, 16000) for w in _wavs(tiny_corpus, 1)]
    with stage(env, tiny_bundle, samples, 16000) as staged:
        res = env.python(
            [
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"{aarch64.DEVICE_BASE}/src/tests/device",
            ],
            "cortex-a72",
            extra_paths=(f"{aarch64.DEVICE_BASE}/test-site",),
            extra_env={
                "EDGE_ASR_DEVICE_BUNDLE": staged.device_bundle,
                "EDGE_ASR_DEVICE_WAVS": ":".join(staged.device_wavs),
            },
            timeout=1200,
        )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "6 passed" in res.stdout, res.stdout[-2000:]


@needs_emulation
def test_every_artifact_on_aarch64_matches_x86(env, tiny_bundle: Path, tiny_corpus: Path):
    """fp32 and int8 (dynamic/static) posteriors within 1e-4 of this host's; every other
    artifact at least runs and is scored by decode agreement."""
    from edge_asr.data.audio import load_audio
    from edge_asr.targets.compare import compare, run_device, run_host, stage
    from runtime.bundle import Bundle

    samples = [load_audio(w, 16000) for w in _wavs(tiny_corpus, 2)]
    bundle = Bundle.load(tiny_bundle)
    with stage(env, tiny_bundle, samples, 16000) as staged:
        for art in bundle.passing():
            host = run_host(staged, art.name)
            dev = run_device(env, staged, art.name, "cortex-a72")
            assert host.error is None and dev.error is None, (art.name, host.error, dev.error)
            assert dev.interp in ("litert", "onnxruntime")
            metrics = compare(dev, host)
            if art.precision in ("fp32", "int8-dynamic", "int8-static"):
                assert metrics["max_abs_diff_vs_host"] <= 1e-4, (art.name, metrics)
                assert metrics["agreement_vs_host"] == 1.0, (art.name, metrics)
            else:
                assert 0.0 <= metrics["agreement_vs_host"] <= 1.0


def test_arch_on_a_host_that_cannot_emulate_exits_2_in_one_line(tiny_bundle: Path, tiny_corpus):
    """No qemu (simulated by pointing at a missing binary): one line, exit 2, no report."""
    import os

    env = {**os.environ, "EDGE_ASR_QEMU": "/nonexistent/qemu-aarch64-static"}
    out = tiny_bundle.parent / "report-no-arch"
    cmd = [sys.executable, "-m", "edge_asr", "validate", str(tiny_bundle), "--manifest",
           str(tiny_corpus / "test.jsonl"), "--out", str(out), "--arch", "aarch64"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--arch aarch64" in lines[0], proc.stderr
    assert not (out / "report.json").exists()


def test_tflite_runtime_214_runs_the_per_tensor_int8_variant(
    tiny_corpus: Path, feature_config, tmp_path: Path
):
    """tflite-runtime 2.14 (the last wheel; its own folder, numpy < 2) cannot load TF 2.21's
    per-channel hybrid int8 (FULLY_CONNECTED version 12); the int8-dynamic-per-tensor variant
    (v9) loads and transcribes there like LiteRT. Host only: no emulation needed."""
    from converters.convert import Options, convert_model_dir, load_utterances, resolve_targets
    from converters.tolerances import parse_overrides
    from edge_asr.targets.compare import Staged, compare, ensure_host_tflite_runtime, run_host
    from tests.conftest import make_model_dir

    try:
        ensure_host_tflite_runtime()
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot install tflite-runtime 2.14 here: {exc}")
    # 32 units: the converter leaves kernels under 1,024 weights (16 units) in float
    model_dir = make_model_dir(tmp_path, "final_model_streaming", feature_config, units=32)
    check = load_utterances(tiny_corpus / "valid.jsonl", feature_config, 4)
    names = ["tflite-int8-dynamic", "tflite-int8-dynamic-per-tensor"]
    # What is tested is which interpreter loads the files, not int8 accuracy of a random model
    # on 4 utterances: the gate's quality bounds are off here (tests/test_parity_gate.py).
    lenient = parse_overrides(["*:delta_cer=none", "*:decode_agreement=none"])
    options = Options(
        targets=resolve_targets([",".join(names)]), long_seconds=4.0, tolerance=lenient
    )
    outcome = convert_model_dir(model_dir, tmp_path / "bundle", check, None, options)
    assert not outcome.failed, outcome.failed
    staged = Staged(tmp_path, "", _wavs(tiny_corpus, 2), [])
    legacy = run_host(staged, "tflite-int8-dynamic", "tflite-runtime")
    assert legacy.error and "'FULLY_CONNECTED' version '12'" in legacy.error, legacy.error
    old = run_host(staged, "tflite-int8-dynamic-per-tensor", "tflite-runtime")
    new = run_host(staged, "tflite-int8-dynamic-per-tensor")
    assert old.error is None and new.error is None, (old.error, new.error)
    assert (old.interp, new.interp) == ("tflite-runtime", "litert")
    assert compare(old, new)["max_abs_diff_vs_host"] <= 1e-4
