"""Interpreter choice: LiteRT or tflite_runtime for TFLite files (auto prefers LiteRT),
onnxruntime for ONNX; a missing interpreter is a clear one-line error, and validate's "runs on"
lists every installed interpreter that loads an artifact and names the ones not installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_asr.measure import loadable_by, not_installed
from runtime.audio import read_audio
from runtime.backends import (
    INTERPRETERS,
    BackendError,
    InterpreterMissing,
    backend_choice,
    interpreter_installed,
    open_backend,
)
from runtime.recognizer import Recognizer


def _first_wav(corpus: Path) -> np.ndarray:
    return read_audio(sorted(corpus.glob("wav/test/*.wav"))[0])


def test_auto_prefers_litert(tiny_bundle: Path):
    assert INTERPRETERS["tflite"][0] == "litert"
    backend = open_backend(tiny_bundle / "model.fp32.tflite")
    first_installed = next(n for n in INTERPRETERS["tflite"] if interpreter_installed(n))
    assert backend.interpreter == first_installed
    assert open_backend(tiny_bundle / "model.fp32.onnx").interpreter == "onnxruntime"


@pytest.mark.parametrize("interpreter", INTERPRETERS["tflite"])
def test_each_tflite_interpreter_where_installed(tiny_bundle: Path, tiny_corpus: Path, interpreter):
    """Installed: the same text as the default; not installed: one line naming the package."""
    audio = _first_wav(tiny_corpus)
    if not interpreter_installed(interpreter):
        with pytest.raises(
            InterpreterMissing, match=f"{interpreter} is not installed: pip install"
        ):
            Recognizer.from_bundle(tiny_bundle, "tflite-fp32", backend=interpreter)
        verdict = loadable_by(str(tiny_bundle / "model.fp32.tflite"), "tflite")[interpreter]
        package = {"litert": "ai-edge-litert"}.get(interpreter, interpreter)
        assert verdict == f"no: not installed (pip install {package})"
        return
    rec = Recognizer.from_bundle(tiny_bundle, "tflite-fp32", backend=interpreter)
    assert rec.backend.interpreter == interpreter
    assert (
        rec.transcribe(audio).text
        == Recognizer.from_bundle(tiny_bundle, "tflite-fp32").transcribe(audio).text
    )
    assert loadable_by(str(tiny_bundle / "model.fp32.tflite"), "tflite")[interpreter] == "yes"


def test_backend_names_select_format_and_interpreter(tiny_bundle: Path):
    assert backend_choice("auto") == (None, None)
    assert backend_choice("tflite") == ("tflite", None)
    assert backend_choice("litert") == ("tflite", "litert")
    assert backend_choice("tflite-runtime") == ("tflite", "tflite-runtime")
    assert backend_choice("onnxruntime") == ("onnx", "onnxruntime")
    with pytest.raises(BackendError, match="backend must be one of auto, tflite, onnx, litert"):
        backend_choice("tensorflow")
    rec = Recognizer.from_bundle(tiny_bundle, backend="litert")
    assert rec.artifact.format == "tflite"  # the smallest TFLite artifact, not an ONNX one
    with pytest.raises(BackendError, match="litert runs tflite, not onnx"):
        open_backend(tiny_bundle / "model.fp32.onnx", interpreter="litert")


def test_runs_on_lists_installed_interpreters_that_load(tiny_bundle: Path, tmp_path: Path):
    from edge_asr.validate import TABLE_COLUMNS, _interpreter_note

    tflite = loadable_by(str(tiny_bundle / "model.fp32.tflite"), "tflite")
    onnx = loadable_by(str(tiny_bundle / "model.fp32.onnx"), "onnx")
    assert set(tflite) == set(INTERPRETERS["tflite"]) and onnx == {"onnxruntime": "yes"}
    for name, verdict in tflite.items():
        assert (
            verdict == "yes"
            if interpreter_installed(name)
            else verdict.startswith("no: not installed")
        )
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"TFL3" + bytes(100))
    assert all(v.startswith("no: ") for v in loadable_by(str(broken), "tflite").values())
    runs_on = dict(TABLE_COLUMNS)["runs on"]
    rows = [{"loadable_by": tflite}, {"loadable_by": onnx}]
    installed = [n for n in INTERPRETERS["tflite"] if interpreter_installed(n)]
    assert runs_on(rows[0]) == ", ".join(installed) and runs_on(rows[1]) == "onnxruntime"
    missing = not_installed([r["loadable_by"] for r in rows])
    assert missing == sorted(n for n in INTERPRETERS["tflite"] if not interpreter_installed(n))
    note = _interpreter_note({"artifacts": rows})
    assert note == ([f"Not installed here, not tried: {', '.join(missing)}."] if missing else [])
