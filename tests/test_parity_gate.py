"""Regression tests of the output-match gate itself: it must catch the known-bad routes.

- TFLite made the naive way (the Keras 3 model as built, TimeDistributed and all, traced with
  an unknown time axis): TimeDistributed maps over the batch, so the artifact is wrong.
- tf2onnx on the Keras 3 model as built: the same tracing bug.
- A correctly converted artifact with perturbed weights.
The correct artifacts pass. All artifacts run in their real interpreters on real speech features.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path

import numpy as np
import pytest

from converters.parity import build_check_set, gate_artifact, keras_reference
from converters.tolerances import TOLERANCES, check, parse_overrides, tolerance_for
from runtime.errors import EdgeASRError
from runtime.fileio import write_bytes
from runtime.formats import replace
from tests.conftest import randomize_weights

FP32 = TOLERANCES["fp32"]


@pytest.fixture(scope="module")
def model():
    """deep_rnn_model: GRUs -> BatchNorm -> TimeDistributed(Dense), non-trivial BN statistics."""
    from edge_asr.models import build

    m = build("deep_rnn_model", input_dim=161, units=24)
    return randomize_weights(m, 0, scales=False)


@pytest.fixture(scope="module")
def checks(model, tiny_corpus: Path):
    from converters.convert import load_utterances
    from runtime.features import FeatureConfig

    config = FeatureConfig.spectrogram().with_stats([-10.0] * 161, [3.0] * 161)
    names, feats, texts, _ = load_utterances(tiny_corpus / "valid.jsonl", config, 4)
    checks = build_check_set(model, names, feats, texts, long_seconds=3.0)
    checks.reference = keras_reference(model, checks.features)
    return checks


def _tflite_from_function(fn_model, path: Path, features: int) -> None:
    """SavedModel of ``fn_model`` with a (1, None, F) signature -> TFLite fp32 at ``path``."""
    import tempfile

    import keras
    import tensorflow as tf

    from converters.tflite_export import canonical_io, convert

    with tempfile.TemporaryDirectory() as tmp:
        archive = keras.export.ExportArchive()
        archive.track(fn_model)
        archive.add_endpoint(
            name="serving_default",
            fn=lambda the_input: {"probs": fn_model(the_input, training=False)},
            input_signature=[tf.TensorSpec((1, None, features), tf.float32, "the_input")],
        )
        archive.write_out(tmp, verbose=False)
        write_bytes(path, canonical_io(convert(tmp, "fp32")))


def test_correct_tflite_passes_and_naive_fails(model, checks, tmp_path):
    from converters.tflite_export import canonical_io, convert, offline_saved_model

    good = tmp_path / "good.tflite"
    offline_saved_model(model, str(tmp_path / "sm"))
    write_bytes(good, canonical_io(convert(str(tmp_path / "sm"), "fp32")))
    parity = gate_artifact(good, checks, FP32)
    assert parity.passed, parity
    assert parity.max_abs_diff < 1e-5 and parity.decode_agreement == 1.0

    naive = tmp_path / "naive.tflite"
    _tflite_from_function(model, naive, 161)  # the model as built: TimeDistributed left in
    parity = gate_artifact(naive, checks, FP32)
    assert not parity.passed
    assert any("artifact gave (1, 29)" in f for f in parity.failures), parity.failures


def test_corrupted_tflite_fails(model, checks, tmp_path):
    """Same graph, weights perturbed inside the flatbuffer."""
    from tensorflow.lite.tools import flatbuffer_utils

    from converters.tflite_export import canonical_io, convert, offline_saved_model

    offline_saved_model(model, str(tmp_path / "sm"))
    flat = canonical_io(convert(str(tmp_path / "sm"), "fp32"))
    parsed = flatbuffer_utils.convert_bytearray_to_object(bytearray(flat))
    rng = np.random.default_rng(1)
    buffers = sorted(parsed.buffers, key=lambda b: 0 if b.data is None else len(b.data))
    biggest = buffers[-1]  # the largest float weight tensor
    weights = np.frombuffer(bytes(biggest.data), np.float32).copy()
    weights += rng.normal(0.0, 0.05, weights.shape).astype(np.float32)
    biggest.data = np.frombuffer(weights.tobytes(), np.uint8)
    bad = tmp_path / "corrupt.tflite"
    write_bytes(bad, bytes(flatbuffer_utils.convert_object_to_bytearray(parsed)))
    parity = gate_artifact(bad, checks, FP32)
    assert not parity.passed
    assert parity.max_abs_diff > 1e-3


def test_onnx_naive_tf2onnx_fails_native_passes_corrupt_fails(model, checks, tmp_path):
    import onnx
    from onnx import numpy_helper

    from converters.onnx_export import export_onnx, export_onnx_tf2onnx

    good = tmp_path / "good.onnx"
    export_onnx(model, good)
    assert gate_artifact(good, checks, FP32).passed

    naive = tmp_path / "naive.onnx"
    export_onnx_tf2onnx(model, naive)
    parity = gate_artifact(naive, checks, FP32)
    assert not parity.passed, "tf2onnx on the Keras 3 model should be caught by the gate"

    proto = onnx.load(good)
    init = max(proto.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    values = numpy_helper.to_array(init).copy()
    values += np.random.default_rng(2).normal(0.0, 0.05, values.shape).astype(values.dtype)
    init.CopyFrom(numpy_helper.from_array(values, init.name))
    bad = tmp_path / "corrupt.onnx"
    write_bytes(bad, proto.SerializeToString())
    assert not gate_artifact(bad, checks, FP32).passed


def test_streaming_gate_uses_whole_utterance_reference(model, checks, tmp_path):
    """A streaming artifact run chunk by chunk passes the 1e-5 streaming bound; one built for
    the wrong chunk size (its spec disagreeing with the graph) fails loudly."""
    from converters.onnx_export import export_onnx
    from converters.streaming import stream_spec

    spec = stream_spec(model, 16)
    path = tmp_path / "stream.onnx"
    export_onnx(model, path, stream=spec)
    parity = gate_artifact(path, checks, TOLERANCES["fp32-stream"], stream=spec)
    assert parity.passed and parity.max_abs_diff <= 1e-5, parity
    wrong = replace(spec, chunk_frames=8, window_frames=8, output_frames=8)
    with pytest.raises(EdgeASRError):
        gate_artifact(path, checks, TOLERANCES["fp32-stream"], stream=wrong)


def test_tolerance_table_and_overrides():
    overrides = parse_overrides(["int8-full-stream:delta_cer=0.02", "*:max_abs_diff=1"])
    tol = tolerance_for("tflite-int8-full-stream", "int8-full", True, overrides)
    assert tol == {"delta_cer": 0.02, "max_abs_diff": 1.0}
    by_name = parse_overrides(["onnx-fp32:max_abs_diff=none"])
    assert tolerance_for("onnx-fp32", "fp32", False, by_name) == {"decode_agreement": 1.0}
    assert check({"max_abs_diff": 2e-4, "decode_agreement": 1.0}, FP32) == [
        "max_abs_diff 0.0002 > 0.0001"
    ]
    assert check({"delta_cer": -0.1}, TOLERANCES["int8-dynamic"]) == []  # better than Keras
    assert check({"delta_cer": None}, TOLERANCES["fp16"]) == ["delta_cer not measured"]
    for bad in ["fp32", "fp32:max_abs_diff", "fp32:speed=1", "fp32:max_abs_diff=fast"]:
        with pytest.raises(EdgeASRError, match="--tolerance"):
            parse_overrides([bad])
