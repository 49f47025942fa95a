"""The import arrows: runtime imports nothing heavy; edge_asr never imports converters."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("tensorflow", "keras", "tf_keras", "tf2onnx", "onnx", "edge_asr", "converters")


def _imports(package: str) -> set[tuple[str, str]]:
    found = set()
    for file in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                found |= {(str(file.relative_to(ROOT)), a.name.split(".")[0]) for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((str(file.relative_to(ROOT)), node.module.split(".")[0]))
    return found


def test_runtime_source_imports_no_heavy_package():
    bad = {(f, m) for f, m in _imports("runtime") if m in HEAVY}
    assert not bad, f"runtime/ must stay numpy + interpreter only: {sorted(bad)}"


def test_edge_asr_never_imports_converters():
    bad = {(f, m) for f, m in _imports("edge_asr") if m == "converters"}
    assert not bad, sorted(bad)


def _heavy_modules_after(code: str) -> list[str]:
    """TensorFlow/Keras modules loaded by running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    mods = json.loads(out.stdout.strip().splitlines()[-1])
    return [m for m in mods if m.split(".")[0] in ("tensorflow", "keras", "tf_keras")]


def test_importing_runtime_loads_no_tensorflow():
    code = (
        "import runtime, runtime.audio, runtime.features, runtime.text, runtime.decoding, "
        "runtime.lm, runtime.bundle, runtime.backends, runtime.streaming, runtime.recognizer, "
        "runtime.cli\nfrom runtime import Recognizer, StreamingRecognizer"
    )
    heavy = _heavy_modules_after(code)
    assert not heavy, heavy[:5]


def test_cli_help_and_transcribe_parser_load_no_tensorflow():
    code = (
        "from edge_asr.cli import build_parser\n"
        "p = build_parser()\n"
        "p.parse_args(['transcribe', 'bundle', 'a.wav'])"
    )
    heavy = _heavy_modules_after(code)
    assert not heavy, heavy[:5]


def test_measure_child_and_light_commands_load_no_tensorflow():
    """The validation harness child (``python -m edge_asr.measure``) must stay a device-sized
    process, and the light commands must not pull TensorFlow in through ``edge_asr``."""
    code = (
        "import edge_asr, edge_asr.measure, edge_asr.data.audio, edge_asr.lm, edge_asr.lm_cli\n"
        "from edge_asr.cli import LIGHT_COMMANDS, build_parser\n"
        "for name in LIGHT_COMMANDS: build_parser(only=name)"
    )
    heavy = _heavy_modules_after(code)
    assert not heavy, heavy[:5]


def test_runtime_holds_no_tooling():
    """Building LMs and measuring artifacts are tooling jobs: they live in edge_asr."""
    assert not (ROOT / "runtime" / "batch.py").exists()
    source = (ROOT / "runtime" / "lm.py").read_text()
    assert "def build_arpa" not in source and "class ArpaLM" in source
