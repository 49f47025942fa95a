"""Run artifacts natively and inside the aarch64 environment on the same WAVs, and compare.

Both sides run ``edge_asr.targets.runner`` (same code, same files, one fresh process per
artifact and CPU, so one interpreter crash costs one cell, not the run); the host run is the
reference for "agreement vs host" and "max |diff| vs host". The WAVs are written from the
already-decoded samples, so both read bit-identical audio whatever the source format was.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_asr.targets.aarch64 import CACHE, DEVICE_BASE, REPO, TFLITE_RUNTIME_PIN, Environment

HOST_TFLITE_RUNTIME = CACHE.parent / "tflite-runtime" / "x86_64"
INTERPRETERS = ("auto", "tflite-runtime")


@dataclass
class Staged:
    """A bundle copy and WAV files inside an environment's scratch folder."""

    host_dir: Path
    device_dir: str
    wavs: list[str]  # host paths
    device_wavs: list[str]

    @property
    def bundle(self) -> Path:
        return self.host_dir / "bundle"

    @property
    def device_bundle(self) -> str:
        return f"{self.device_dir}/bundle"


@dataclass
class RunOutput:
    """One artifact's texts and posteriors on one machine (or why it did not run)."""

    texts: list[str] = field(default_factory=list)
    probs: list[np.ndarray] = field(default_factory=list)
    error: str | None = None
    interp: str | None = None


@contextmanager
def stage(
    env: Environment, bundle: Path, samples: Sequence[np.ndarray], rate: int
) -> Iterator[Staged]:
    """Copy ``bundle`` (without its source model: the runtime does not need it) and write
    ``samples`` as WAVs into a scratch folder the environment can see."""
    from runtime.audio import write_wav

    with env.job() as (host_dir, device_dir):
        shutil.copytree(bundle, host_dir / "bundle", ignore=shutil.ignore_patterns("source"))
        (host_dir / "wav").mkdir()
        wavs, device_wavs = [], []
        for i, x in enumerate(samples):
            write_wav(host_dir / "wav" / f"{i:04d}.wav", x, rate)
            wavs.append(str(host_dir / "wav" / f"{i:04d}.wav"))
            device_wavs.append(f"{device_dir}/wav/{i:04d}.wav")
        yield Staged(host_dir, device_dir, wavs, device_wavs)


def _parse(proc: subprocess.CompletedProcess[str], npz: Path) -> RunOutput:
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        signal = -proc.returncode if proc.returncode < 0 else None
        why = f"crashed with signal {signal}" if signal else tail[:300]
        return RunOutput(error=why)
    record = json.loads(lines[-1])
    if "error" in record:
        return RunOutput(error=record["error"])
    with np.load(npz) as data:
        probs = [data[f"p{i}"] for i in range(len(record["texts"]))]
    return RunOutput(record["texts"], probs, interp=record.get("interp"))


def ensure_host_tflite_runtime() -> Path:
    """tflite-runtime 2.14 for this host in its own folder (it needs numpy < 2; the pinned
    1.26 qualifies), so it never shadows LiteRT in the venv."""
    if not (HOST_TFLITE_RUNTIME / "tflite_runtime").is_dir():
        HOST_TFLITE_RUNTIME.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        argv += ["--no-deps", "--target", str(HOST_TFLITE_RUNTIME), TFLITE_RUNTIME_PIN]
        subprocess.run(argv, check=True, capture_output=True)
    return HOST_TFLITE_RUNTIME


def run_host(
    staged: Staged, artifact: str, interpreter: str = "auto", timeout: float = 900
) -> RunOutput:
    """The artifact on this machine, in a fresh process."""
    npz = staged.host_dir / f"host-{artifact}-{interpreter}.npz"
    request = {
        "bundle": str(staged.bundle),
        "artifact": artifact,
        "files": staged.wavs,
        "out": str(npz),
        "interpreter": interpreter,
    }
    env = dict(os.environ)
    paths = [str(REPO)]
    if interpreter == "tflite-runtime":
        paths.insert(0, str(ensure_host_tflite_runtime()))
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run(
        [sys.executable, "-m", "edge_asr.targets.runner"],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return _parse(proc, npz)


def run_device(
    env: Environment,
    staged: Staged,
    artifact: str,
    cpu: str,
    interpreter: str = "auto",
    timeout: float = 1800,
) -> RunOutput:
    """The artifact inside the aarch64 environment on emulated CPU ``cpu``."""
    name = f"dev-{artifact}-{cpu}-{interpreter}.npz"
    request = {
        "bundle": staged.device_bundle,
        "artifact": artifact,
        "files": staged.device_wavs,
        "out": f"{staged.device_dir}/{name}",
        "interpreter": interpreter,
    }
    extra = (f"{DEVICE_BASE}/tflite-runtime",) if interpreter == "tflite-runtime" else ()
    try:
        proc = env.python(
            ["-m", "edge_asr.targets.runner"],
            cpu,
            input=json.dumps(request),
            timeout=timeout,
            extra_paths=extra,
        )
    except subprocess.TimeoutExpired:
        return RunOutput(error=f"timed out after {timeout:.0f} s under emulation")
    return _parse(proc, staged.host_dir / name)


def compare(device: RunOutput, host: RunOutput) -> dict[str, float]:
    """Decode agreement and the largest posterior difference of two runs of one artifact."""
    agree = [a == b for a, b in zip(device.texts, host.texts, strict=True)]
    diffs = [
        float(np.max(np.abs(a - b))) if a.size else 0.0
        for a, b in zip(device.probs, host.probs, strict=True)
        if a.shape == b.shape
    ]
    shapes_differ = any(a.shape != b.shape for a, b in zip(device.probs, host.probs, strict=True))
    return {
        "agreement_vs_host": float(np.mean(agree)) if agree else 1.0,
        "max_abs_diff_vs_host": float("inf") if shapes_differ else max(diffs, default=0.0),
    }
