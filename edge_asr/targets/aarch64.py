"""An emulated aarch64 environment on an x86-64 Linux host, prepared once and cached.

Why: the gate's verdict holds for the machine it ran on, and some artifacts (fp16 on a CPU with
ARMv8.2 half-precision arithmetic, the full-integer streaming graph) give other numbers on ARM.
This module makes "ARM" something a test can run instead of a claim.

What it builds (under ``.cache/aarch64/``, git-ignored; ``make aarch64`` or
``python -m edge_asr.targets.aarch64``):

- qemu-user-static registered in binfmt_misc (mounted if absent) with the ``F`` flag, so the
  interpreter is opened at registration and works inside a chroot;
- a Debian bookworm arm64 root with CPython 3.11: ``debootstrap --foreign --variant=minbase``
  and every downloaded .deb unpacked with ``dpkg-deb`` (no emulated second stage: ~25 s);
- the aarch64 wheels of exactly the ``runtime`` extra's pins, installed from the host with
  ``pip install --target --platform`` (no pip under emulation). pip matches platform tags
  exactly, so every manylinux tag from 2_17 to 2_36 is listed (ai-edge-litert 2.3.0 is
  manylinux_2_27 only, onnxruntime 1.32.0 manylinux_2_28);
- side directories for pytest (the test group) and tflite-runtime 2.14 (the legacy
  interpreter, checked in its own path so it cannot shadow LiteRT).

Programs run as ``env -i QEMU_CPU=<cpu> ... chroot ROOT /usr/bin/python3.11`` (``env -i`` would
drop an inherited ``QEMU_CPU``, so it is passed explicitly). Nothing is bind-mounted: the host's
``/sys`` seen from the root makes onnxruntime segfault at import under emulation; inputs are
copied into the root instead. Root is needed (chroot, binfmt_misc).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from runtime.errors import EdgeASRError

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("EDGE_ASR_AARCH64_CACHE", REPO / ".cache" / "aarch64"))
SUITE = "bookworm"
MIRROR = os.environ.get("EDGE_ASR_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Packages beyond minbase: the interpreter and the C++ runtime the wheels link against.
PACKAGES = ["python3.11", "libstdc++6", "libgcc-s1", "zlib1g", "libexpat1", "libffi8"]
QEMU = os.environ.get("EDGE_ASR_QEMU", "/usr/bin/qemu-aarch64-static")
BINFMT = Path("/proc/sys/fs/binfmt_misc")
# Same magic/mask as Debian's qemu-user-static entry (ELF64, little endian, EM_AARCH64).
_MAGIC = r"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
_MASK = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
PLATFORM_TAGS = ["manylinux2014_aarch64"] + [f"manylinux_2_{v}_aarch64" for v in range(17, 37)]
#: Emulated CPU models -> report target names. cortex-a72 (Raspberry Pi 4 class) is ARMv8.0
#: without FP16 arithmetic; qemu's ``max`` has every extension (ARMv8.2+ FP16, dotprod, SVE).
CPUS = {"cortex-a72": "aarch64-cortex-a72", "max": "aarch64-max"}
DEFAULT_CPUS = ("cortex-a72", "max")
TFLITE_RUNTIME_PIN = "tflite-runtime==2.14.0"
DEVICE_BASE = "/opt/edge-asr"


class EmulationUnavailable(EdgeASRError):
    """This host cannot run the aarch64 environment (the message says why, in one line)."""


def runtime_pins() -> list[str]:
    """The pins a device installs: the core dependency (numpy) plus the ``runtime`` extra."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], *project["optional-dependencies"]["runtime"]]


def _pin(name: str) -> str:
    """``name==version`` from constraints.txt (the dev tools installed beside the runtime)."""
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower().replace("_", "-") == name:
            return line.strip()
    raise EdgeASRError(f"constraints.txt has no pin for {name}")


def cannot_emulate() -> str | None:
    """Why this host cannot run the environment, or None when it can (before any set-up)."""
    if platform.system() != "Linux":
        return f"aarch64 emulation needs Linux (this is {platform.system()})"
    machine = platform.machine()
    if machine == "aarch64":
        return None  # native: nothing to emulate
    if machine != "x86_64":
        return f"aarch64 emulation is set up for x86-64 hosts (this is {machine})"
    if os.geteuid() != 0:
        return "aarch64 emulation needs root (chroot and binfmt_misc)"
    if not Path(QEMU).is_file():
        return f"{QEMU} missing: apt-get install qemu-user-static"
    if not (ready() or shutil.which("debootstrap")):
        return "debootstrap missing: apt-get install debootstrap"
    try:
        ensure_binfmt()
    except EmulationUnavailable as exc:
        return str(exc)
    return None


def ensure_binfmt() -> None:
    """Mount binfmt_misc if needed and register qemu-aarch64 (flag F) unless an enabled entry
    that works inside a chroot is already there."""
    if not (BINFMT / "register").exists():
        res = subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)],
            capture_output=True,
            text=True,
        )
        if res.returncode:
            raise EmulationUnavailable(
                f"cannot mount binfmt_misc: {res.stderr.strip() or res.returncode}"
            )
    for entry in BINFMT.glob("qemu-aarch64*"):
        text = entry.read_text()
        if text.startswith("enabled") and "flags: " in text and "F" in text.split("flags: ")[1]:
            return
    try:
        (BINFMT / "register").write_text(f":qemu-aarch64-edge:M::{_MAGIC}:{_MASK}:{QEMU}:F")
    except OSError as exc:
        raise EmulationUnavailable(f"cannot register qemu-aarch64 in binfmt_misc: {exc}") from None


def ready(cache: Path = CACHE) -> bool:
    """True when the cached root matches the current pins."""
    stamp = cache / "ready.json"
    if not stamp.is_file():
        return False
    return json.loads(stamp.read_text()).get("pins") == runtime_pins()


def _run(argv: list[str], log: Callable[[str], None], **kw) -> None:
    res = subprocess.run(argv, capture_output=True, text=True, **kw)
    if res.returncode:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        raise EdgeASRError(f"{argv[0]} failed (exit {res.returncode}): {' | '.join(tail)}")


def _debootstrap(root: Path, log: Callable[[str], None]) -> None:
    """Minbase arm64 root without the emulated second stage: unpack every .deb directly."""
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        "debootstrap",
        "--foreign",
        "--variant=minbase",
        "--arch=arm64",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(root),
        MIRROR,
    ]
    _run(argv, log)
    debs = sorted((root / "var/cache/apt/archives").glob("*.deb"))
    for deb in debs:
        # --keep-directory-symlink: keep the merged-/usr links (/lib -> usr/lib) debootstrap made
        fsys = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
        subprocess.run(
            ["tar", "-x", "--keep-directory-symlink", "-C", str(root)],
            stdin=fsys.stdout,
            check=True,
        )
        if fsys.wait():
            raise EdgeASRError(f"dpkg-deb failed on {deb.name}")
    log(f"unpacked {len(debs)} packages")
    for deb in debs:
        deb.unlink()
    dev = root / "dev"
    dev.mkdir(exist_ok=True)
    for name, minor in (("null", 3), ("zero", 5), ("random", 8), ("urandom", 9)):
        node = dev / name
        if not node.exists():
            os.mknod(node, 0o666 | 0o020000, os.makedev(1, minor))
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    if not (root / "usr/bin/python3.11").is_file():
        raise EdgeASRError("the arm64 root has no /usr/bin/python3.11 after unpacking")


def _pip_target(target: Path, requirements: list[str], deps: bool = True) -> None:
    """Install aarch64 wheels into ``target`` from the host (pip never runs emulated)."""
    if target.exists():
        shutil.rmtree(target)
    argv = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    argv += ["--target", str(target), "--only-binary=:all:", "--python-version", "3.11"]
    argv += ["--implementation", "cp", "--abi", "cp311"]
    for tag in PLATFORM_TAGS:
        argv += ["--platform", tag]
    argv += ["-c", str(REPO / "constraints.txt")] if deps else ["--no-deps"]
    _run([*argv, *requirements], lambda _m: None)


def prepare(
    cache: Path = CACHE, force: bool = False, log: Callable[[str], None] = print
) -> Environment:
    """The environment, built on first use (cold ~1-1.5 min) and reused after (seconds)."""
    reason = cannot_emulate()
    if reason:
        raise EmulationUnavailable(reason)
    env = Environment(cache)
    if platform.machine() == "aarch64":
        return env
    if ready(cache) and not force:
        return env
    t0 = time.perf_counter()
    _debootstrap(env.root, log)
    t_root = time.perf_counter() - t0
    log(f"arm64 root: {t_root:.0f} s")
    base = env.root / DEVICE_BASE.lstrip("/")
    _pip_target(base / "site", runtime_pins())
    _pip_target(base / "test-site", [_pin("pytest")])
    _pip_target(base / "tflite-runtime", [TFLITE_RUNTIME_PIN], deps=False)
    seconds = time.perf_counter() - t0
    log(f"aarch64 wheels: {seconds - t_root:.0f} s")
    stamp = {
        "pins": runtime_pins(),
        "suite": SUITE,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "setup_seconds": round(seconds, 1),
    }
    (cache / "ready.json").write_text(json.dumps(stamp, indent=1) + "\n")
    return env


@dataclass
class Environment:
    """A prepared root (or the native machine when the host is aarch64)."""

    cache: Path

    @property
    def root(self) -> Path:
        return self.cache / "root"

    @property
    def native(self) -> bool:
        return platform.machine() == "aarch64"

    def sync_sources(self) -> None:
        """Copy the repo's Python packages into the root (cheap; a run never sees stale code)."""
        if self.native:
            return
        dst = self.root / DEVICE_BASE.lstrip("/") / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for rel in ("runtime", "edge_asr", "tests/device"):
            if (REPO / rel).is_dir():
                if (dst / rel).exists():
                    shutil.rmtree(dst / rel)
                shutil.copytree(REPO / rel, dst / rel, ignore=ignore)

    @contextmanager
    def job(self) -> Iterator[tuple[Path, str]]:
        """A scratch folder visible inside the root: (host path, the same folder seen inside)."""
        name = f"edge-asr-job-{uuid.uuid4().hex[:12]}"
        host = (Path("/tmp") if self.native else self.root / "tmp") / name
        host.mkdir(parents=True)
        try:
            yield host, f"/tmp/{name}"
        finally:
            shutil.rmtree(host, ignore_errors=True)

    def python(
        self,
        args: list[str],
        cpu: str,
        *,
        input: str | None = None,
        timeout: float = 1800,
        extra_paths: tuple[str, ...] = (),
        cwd: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python3.11 ARGS`` inside the root on emulated CPU ``cpu``."""
        if self.native:
            argv = [sys.executable, *args]
            env = {**os.environ, **(extra_env or {})}
            return subprocess.run(
                argv, input=input, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                env=env,
            )  # fmt: skip
        paths = [f"{DEVICE_BASE}/src", *extra_paths, f"{DEVICE_BASE}/site"]
        env = [
            f"QEMU_CPU={cpu}",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            "HOME=/root",
            "LANG=C.UTF-8",
            "PYTHONDONTWRITEBYTECODE=1",
            f"PYTHONPATH={':'.join(paths)}",
            *(f"{k}={v}" for k, v in (extra_env or {}).items()),
        ]
        inner = ["/usr/bin/python3.11", *args]
        if cwd:  # chroot has no --chdir; let the emulated Python change directory itself
            inner = ["/usr/bin/python3.11", "-c", _CHDIR, cwd, *args]
        chroot = shutil.which("chroot") or "/usr/sbin/chroot"
        argv = ["env", "-i", *env, chroot, str(self.root), *inner]
        return subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout)


# Run ``python ARGS`` after chdir(argv[1]) inside the root (as ``-m module`` or a script).
_CHDIR = (
    "import os, runpy, sys; os.chdir(sys.argv[1]); sys.path.insert(0, '.'); a = sys.argv[2:]; "
    "sys.argv = a[1:] if a[0] == '-m' else a; "
    "runpy.run_module(a[1], run_name='__main__', alter_sys=True) if a[0] == '-m' "
    "else runpy.run_path(a[0], run_name='__main__')"
)


def main(argv: list[str] | None = None) -> int:
    """``make aarch64``: prepare (or refresh with ``--force``) and smoke-test the environment."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m edge_asr.targets.aarch64", description=__doc__)
    p.add_argument("--force", action="store_true", help="rebuild the root and wheels")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        env = prepare(force=args.force)
    except EdgeASRError as exc:
        print(f"edge-asr aarch64: {exc}", file=sys.stderr)
        return 2
    env.sync_sources()
    probe = (
        "import platform, numpy, onnxruntime; from ai_edge_litert import interpreter; "
        "print(platform.machine(), numpy.__version__, onnxruntime.__version__)"
    )
    for cpu in DEFAULT_CPUS:
        res = env.python(["-c", probe], cpu)
        if res.returncode:
            print(f"edge-asr aarch64: {cpu}: {res.stderr.strip()[-300:]}", file=sys.stderr)
            return 1
        print(f"{CPUS[cpu]}: {res.stdout.strip()}")
    print(f"aarch64 environment ready in {time.perf_counter() - t0:.0f} s: {env.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
