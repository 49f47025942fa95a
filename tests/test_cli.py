"""The ``edge-asr`` dispatcher: version, documented exit codes, quiet exit on a closed pipe,
and commands whose optional dependency is missing (listed) versus broken (an error)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _edge_asr(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "edge_asr", *argv]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, **kwargs)


def test_version_and_exit_codes_in_help():
    from importlib.metadata import version

    proc = _edge_asr("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"edge-asr {version('edge-asr')}"
    help_text = _edge_asr("--help").stdout
    for line in ("0    success", "1    some files", "2    usage error", "130  interrupted"):
        assert line in help_text
    assert "example: edge-asr" in help_text


def test_usage_errors_are_one_line():
    proc = _edge_asr("lm", "build", "--order", "x")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-asr lm build: error: "), proc.stderr


def test_closed_stdout_is_a_quiet_exit(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c\n", encoding="utf-8")
    argv = ["lm", "build", str(corpus), "--out", str(tmp_path / "lm.arpa")]
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_asr", *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout and proc.stderr
    proc.stdout.close()  # like `| head -0`: nobody reads what the command prints
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert stderr == ""


def _plugin(tmp_path: Path, imports: str) -> dict[str, str]:
    """A fake installed distribution whose ``needy`` command imports ``imports``."""
    dist = tmp_path / "needy_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: needy-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[edge_asr.commands]\nneedy = needy_cmd:register\n")
    (tmp_path / "needy_cmd.py").write_text(f"import {imports}\n\ndef register(sub):\n    pass\n")
    return {"PYTHONPATH": str(tmp_path)}


def _main(*argv: str) -> str:
    return (
        "import sys, edge_asr.cli as cli\n"
        "cli.OPTIONAL_MODULES['edge_asr_test_optional'] = 'full'\n"
        f"sys.exit(cli.main({list(argv)!r}))"
    )


def test_missing_optional_dependency_is_listed(tmp_path):
    env = {**_plugin(tmp_path, "edge_asr_test_optional"), "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-c"]
    help_proc = subprocess.run([*run, _main("--help")], cwd=ROOT, env=env, capture_output=True)
    assert help_proc.returncode == 0, help_proc.stderr
    assert "needy: needs the full extra" in help_proc.stdout.decode()
    proc = subprocess.run([*run, _main("needy")], cwd=ROOT, env=env, capture_output=True)
    assert proc.returncode == 2
    assert proc.stderr.decode().startswith("edge-asr needy: error: needs the full extra")


def test_broken_command_module_is_not_hidden(tmp_path):
    env = {**_plugin(tmp_path, "edge_asr_no_such_module"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", _main("--help")], cwd=ROOT, env=env, capture_output=True
    )
    assert proc.returncode == 1
    assert "ModuleNotFoundError: No module named 'edge_asr_no_such_module'" in proc.stderr.decode()
