"""TensorFlow Lite Micro checks (converters/micro.py): every TFLite entry of a bundle carries
``micro``, audio-in ones included; streaming float and full-integer graphs (int8 I/O included,
and audio-in ones fed PCM chunks) run in TFLM with a searched arena; offline graphs and hybrid
int8 are reported incompatible, naming the op."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="tflite-micro (dev extra) is not installed")
pytestmark = pytest.mark.micro


def _entries(bundle: Path) -> dict[str, dict]:
    doc = json.loads((bundle / "bundle.json").read_text())
    return {a["name"]: a for a in doc["artifacts"]}


def test_every_tflite_entry_has_a_micro_verdict(tiny_bundle: Path):
    entries = _entries(tiny_bundle)
    for name, entry in entries.items():
        if entry["format"] != "tflite":
            assert "micro" not in entry, name
            continue
        micro = entry["micro"]
        assert {"compatible", "unsupported_ops", "arena_bytes", "decode_agreement"} <= set(micro)
        assert micro["flash_bytes"] == entry["size_bytes"]
    stream = entries["tflite-fp32-stream"]["micro"]
    assert stream["compatible"] and stream["static_shapes"], stream
    assert 0 < stream["arena_bytes"] < 4 << 20 and stream["decode_agreement"] == 1.0
    offline = entries["tflite-fp32"]["micro"]
    assert not offline["compatible"] and not offline["static_shapes"]
    assert offline["unsupported_ops"] and offline["reason"], offline  # named, not a crash
    hybrid = entries["tflite-int8-dynamic"]["micro"]
    assert not hybrid["compatible"], hybrid
    # Audio-in: the offline PCM graph has dynamic shapes and ops TFLM lacks, named; the hybrid
    # streaming one is refused for what it is, not crashed on.
    audio = entries["tflite-fp32-audio"]["micro"]
    assert not audio["compatible"] and not audio["static_shapes"], audio
    ops = audio["unsupported_ops"]
    assert ops and all(op in audio["reason"] for op in ops), audio
    audio_hybrid = entries["tflite-int8-dynamic-audio-stream"]["micro"]
    assert not audio_hybrid["compatible"] and audio_hybrid["static_shapes"], audio_hybrid
    assert "hybrid" in audio_hybrid["reason"], audio_hybrid


def test_arena_search_finds_the_smallest_arena(tiny_bundle: Path):
    import numpy as np

    from converters.micro import ARENA_STEP, MicroBackend, _loads, smallest_arena

    path = str(tiny_bundle / "model.fp32.stream.tflite")
    probe = MicroBackend(path, 4 << 20)
    feeds = {t["name"]: np.zeros(t["shape"], np.float32) for t in probe.inputs}
    arena = smallest_arena(path, feeds)
    assert _loads(path, arena, feeds)
    assert not _loads(path, arena - ARENA_STEP, feeds)


@pytest.mark.parametrize(("precision", "dtype"), [("int8-full", "int8"), ("int16x8-full", "int16")])
def test_full_integer_integer_io_stream_runs_in_tflm(
    tiny_corpus: Path, feature_config, tmp_path, precision: str, dtype: str
):
    """int8-full with int8 I/O and 16x8 with int16 I/O (``--int8-io``) both run in TFLM."""
    from converters.convert import Options, convert_model_dir, load_utterances, resolve_targets
    from tests.conftest import make_model_dir

    model_dir = make_model_dir(tmp_path, "final_model_streaming", feature_config)
    check = load_utterances(tiny_corpus / "valid.jsonl", feature_config, 4)
    calib = load_utterances(tiny_corpus / "train.jsonl", feature_config, 8)
    name = f"tflite-{precision}-stream"
    options = Options(targets=resolve_targets([name]), long_seconds=4.0, int8_io=True)
    convert_model_dir(model_dir, tmp_path / "bundle", check, calib, options)
    entry = _entries(tmp_path / "bundle")[name]
    assert entry["parity"]["passed"], entry["parity"]
    assert entry["inputs"][0]["dtype"] == dtype and entry["outputs"][0]["dtype"] == dtype
    assert f"{dtype} I/O" in entry["quantized_weights"], entry["quantized_weights"]
    micro = entry["micro"]
    assert micro["compatible"] and micro["static_shapes"] and micro["arena_bytes"] > 0, micro
    assert 0.0 <= micro["decode_agreement"] <= 1.0


def test_int16x8_is_a_gated_variant(tiny_corpus: Path, feature_config, tmp_path):
    """16x8 (int16 activations, int8 weights) through the gate and TFLM, feature and audio in;
    the offline WHILE-loop graph is unsupported by design and points at the streaming one."""
    from converters.convert import Options, convert_model_dir, load_utterances, resolve_targets
    from tests.conftest import make_model_dir

    model_dir = make_model_dir(tmp_path, "final_model_streaming", feature_config)
    check = load_utterances(tiny_corpus / "valid.jsonl", feature_config, 4)
    calib = load_utterances(tiny_corpus / "train.jsonl", feature_config, 8)
    names = ["tflite-int16x8-full", "tflite-int16x8-full-stream"]
    names.append("tflite-int16x8-full-audio-stream")
    options = Options(targets=resolve_targets([",".join(names)]), long_seconds=4.0)
    outcome = convert_model_dir(model_dir, tmp_path / "bundle", check, calib, options)
    assert not outcome.failed, outcome.failed
    doc = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    missing = {u["name"]: u for u in doc["unavailable"]}
    assert set(missing) == {"tflite-int16x8-full"}
    assert "WHILE" in missing["tflite-int16x8-full"]["reason"]
    assert missing["tflite-int16x8-full"]["see"] == "tflite-int16x8-full-stream"
    entries = _entries(tmp_path / "bundle")
    stream = entries["tflite-int16x8-full-stream"]
    assert stream["precision"] == "int16x8-full" and "int16" in stream["quantized_weights"]
    assert stream["inputs"][0]["dtype"] == "float32"
    micro = stream["micro"]
    assert micro["compatible"] and micro["static_shapes"] and micro["arena_bytes"] > 0, micro
    _too_small_arenas_fail_without_crashing(tmp_path / "bundle" / stream["file"], micro)
    audio = entries["tflite-int16x8-full-audio-stream"]
    assert audio["parity"]["passed"] and audio["audio"]["sample_rate"] > 0
    assert "acoustic model: all kernels int8" in audio["quantized_weights"]
    # TFLM runs the float front end joined to the 16x8 model, fed PCM chunks and states; its
    # float front-end buffers make the arena bigger than the feature-input graph's.
    audio_micro = audio["micro"]
    assert audio_micro["compatible"] and audio_micro["static_shapes"], audio_micro
    assert audio_micro["arena_bytes"] > micro["arena_bytes"] > 0, (audio_micro, micro)
    assert audio_micro["decode_agreement"] >= 0.5, audio_micro


def test_audio_stream_needs_output_length(tiny_bundle: Path):
    """PCM in, posterior frames out: without the length rule the check cannot trim, and says so."""
    from converters.micro import check_artifact
    from runtime.bundle import Bundle

    arts = {a.name: a for a in Bundle.load(tiny_bundle).artifacts}
    art = arts["tflite-int8-dynamic-audio-stream"]
    with pytest.raises(ValueError, match="output_length"):
        check_artifact(tiny_bundle / art.file, art.stream, [np.zeros(16000, np.float32)])


def _too_small_arenas_fail_without_crashing(path: Path, micro: dict) -> None:
    """TFLM's interpreter can segfault on a too-small arena (measured on a trained 16x8 model
    at 64 KB); each probe runs forked, so a crash reads as "too small" and this process lives."""
    from converters.micro import ARENA_STEP, MicroBackend, _loads

    probe = MicroBackend(str(path), 4 << 20)
    feeds = {t["name"]: np.zeros(t["shape"], np.float32) for t in probe.inputs}
    arena = micro["arena_bytes"]
    for size in (ARENA_STEP, 1024, arena // 4, arena // 2, arena - ARENA_STEP):
        assert not _loads(str(path), size, feeds), size
    assert _loads(str(path), arena, feeds)
