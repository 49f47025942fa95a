"""Native-RNN ONNX export and its fp16/int8 variants, checked in onnxruntime against Keras eager.

Random weights, but BatchNorm statistics and biases are randomized too, so a wrong fold, gate
order or bias split shows up as a real difference rather than hiding behind zeros.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tensorflow as tf
from keras import layers

from converters.onnx_export import OnnxExportError, export_onnx, export_onnx_tf2onnx
from converters.onnx_quant import OnnxQuantError, quantize
from converters.streaming import stream_spec
from edge_asr.models import build
from runtime.errors import EdgeASRError
from runtime.formats import StreamSpec, replace
from tests.conftest import ARCHS

try:
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
except RuntimeError:  # TensorFlow already initialized by another test module
    pass

F = 20
STREAMABLE = [name for name in ARCHS if name not in ("bidirectional_rnn_model", "final_model")]
RECURRENT_OPS = {"GRU", "LSTM", "RNN"}


def randomize(model: keras.Model, seed: int = 0) -> keras.Model:
    """Non-trivial BatchNorm statistics and biases (a fresh model has zeros and ones)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for weight in layer.weights:
            name = weight.path.rsplit("/", 1)[-1]
            shape = tuple(weight.shape)
            if name == "moving_mean" or name == "beta" or name == "bias":
                weight.assign(rng.normal(0.0, 0.4, shape).astype("float32"))
            elif name == "moving_variance" or name == "gamma":
                weight.assign(rng.uniform(0.4, 2.0, shape).astype("float32"))
    return model


def features(frames: int, batch: int = 1, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed + frames).normal(size=(batch, frames, F)).astype("float32")


def session(path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def op_types(path) -> set[str]:
    return {node.op_type for node in onnx.load(str(path)).graph.node}


def run_chunked(path, spec, feats: np.ndarray, n_out: int) -> np.ndarray:
    """Feed windows per the stream spec (left pad, zeros past the end), carrying the states."""
    sess = session(path)
    chunk, window = spec.chunk_frames, spec.window_frames
    stream = np.concatenate([np.zeros((spec.left_pad_frames, F), np.float32), feats])
    states = {s.input: np.zeros(s.shape, np.float32) for s in spec.states}
    outputs, k = [], 0
    while sum(len(o) for o in outputs) < n_out:
        win = stream[k * chunk : k * chunk + window]
        win = np.concatenate([win, np.zeros((window - len(win), F), np.float32)])
        probs, *new = sess.run(None, {"feats": win[None], **states})
        assert probs.shape == (1, spec.output_frames, 29)
        outputs.append(probs[0])
        states = {s.input: v for s, v in zip(spec.states, new, strict=True)}
        k += 1
    return np.concatenate(outputs)[:n_out]


@pytest.fixture(scope="module")
def models() -> dict[str, keras.Model]:
    return {name: randomize(build(name, input_dim=F, **p)) for name, p in ARCHS.items()}


@pytest.fixture(scope="module")
def keras_reference(models):
    """Keras eager output per (model, frames), computed once: eager RNNs cost ~10 ms a step."""
    cache: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}

    def get(name: str, frames: int) -> tuple[np.ndarray, np.ndarray]:
        if (name, frames) not in cache:
            x = features(frames)
            cache[name, frames] = x, np.asarray(models[name](x, training=False))
        return cache[name, frames]

    return get


@pytest.mark.parametrize("name", list(ARCHS))
def test_offline_graph_matches_keras(models, keras_reference, name, tmp_path):
    model = models[name]
    path = tmp_path / "model.onnx"
    infos = export_onnx(model, path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    ops = op_types(path)
    assert ops & RECURRENT_OPS and "Loop" not in ops and "Scan" not in ops
    plain = {"dtype": "float32", "quantization": None}
    assert infos == {
        "inputs": [{"name": "the_input", "shape": [1, -1, F], **plain}],
        "outputs": [{"name": "probs", "shape": [1, -1, 29], **plain}],
    }
    sess = session(path)
    for frames in (100, 1000):
        x, reference = keras_reference(name, frames)
        (probs,) = sess.run(["probs"], {"the_input": x})
        assert probs.shape == reference.shape == (1, model.output_length(frames), 29)
        assert np.abs(probs - reference).max() <= 1e-5


@pytest.mark.parametrize("name", ["bidirectional_rnn_model", "cnn_rnn_model"])
def test_dynamic_batch(models, name, tmp_path):
    model = models[name]
    infos = export_onnx(model, tmp_path / "m.onnx", dynamic_batch=True)
    assert infos["inputs"][0]["shape"] == [-1, -1, F]
    x = features(60, batch=3)
    (probs,) = session(tmp_path / "m.onnx").run(None, {"the_input": x})
    assert np.abs(probs - np.asarray(model(x, training=False))).max() <= 1e-5


@pytest.mark.parametrize("name", STREAMABLE)
def test_streaming_graph_chunked_equals_whole(models, keras_reference, name, tmp_path):
    model = models[name]
    spec = stream_spec(model, chunk_frames=16)
    path = tmp_path / "stream.onnx"
    infos = export_onnx(model, path, stream=spec)
    assert [i["name"] for i in infos["inputs"]] == ["feats", *(s.input for s in spec.states)]
    assert [o["name"] for o in infos["outputs"]] == [
        "probs",
        *(s.output for s in spec.states),
    ]
    assert infos["inputs"][0]["shape"] == [1, spec.window_frames, F]
    assert RECURRENT_OPS & op_types(path)
    x, reference = keras_reference(name, 1000)  # 1000 frames: the last window is zero-padded
    chunked = run_chunked(path, spec, x[0], reference.shape[1])
    reference = reference[0]
    assert np.abs(chunked - reference).max() <= 1e-5


def test_unusual_layer_settings(tmp_path):
    """'same' strided and causal dilated convolutions, GRU without reset_after, a backwards
    GRU, an LSTM with relu and a bias-free tanh SimpleRNN: all as Keras computes them."""
    x = keras.Input((None, F), name="the_input")
    y = layers.Conv1D(10, 4, strides=2, padding="same", activation="relu")(x)
    y = layers.Conv1D(10, 3, padding="causal", dilation_rate=2)(y)
    y = layers.GRU(12, return_sequences=True, reset_after=False)(y)
    y = layers.GRU(12, return_sequences=True, go_backwards=True)(y)
    y = layers.LSTM(12, activation="relu", return_sequences=True)(y)
    y = layers.SimpleRNN(12, use_bias=False, return_sequences=True)(y)
    y = layers.Dropout(0.3)(y)
    y = layers.Dense(29, activation="softmax")(y)
    model = randomize(keras.Model(x, y))
    export_onnx(model, tmp_path / "m.onnx")
    sess = session(tmp_path / "m.onnx")
    for frames in (1, 37, 100):
        feats = features(frames)
        (probs,) = sess.run(None, {"the_input": feats})
        assert np.abs(probs - np.asarray(model(feats, training=False))).max() <= 1e-5


def test_causal_conv_stream(tmp_path):
    """A causal first convolution streams through the spec's left padding."""
    x = keras.Input((None, F), name="the_input")
    y = layers.Conv1D(8, 5, strides=2, padding="causal", activation="relu")(x)
    y = layers.LSTM(8, return_sequences=True)(y)
    y = layers.Dense(29, activation="softmax")(y)
    model = randomize(keras.Model(x, y))
    spec = stream_spec(model, 16)
    assert spec.left_pad_frames == 4
    export_onnx(model, tmp_path / "s.onnx", stream=spec)
    feats = features(150)[0]
    reference = np.asarray(model(feats[None], training=False))[0]
    chunked = run_chunked(tmp_path / "s.onnx", spec, feats, len(reference))
    assert np.abs(chunked - reference).max() <= 1e-5


def test_unsupported_models_fail_clearly(models, tmp_path):
    x = keras.Input((None, F), name="the_input")
    y = layers.LayerNormalization(name="odd_norm")(layers.GRU(8, return_sequences=True)(x))
    with pytest.raises(EdgeASRError, match="odd_norm"):
        export_onnx(keras.Model(x, layers.Dense(29, activation="softmax")(y)), tmp_path / "a.onnx")
    x = keras.Input((None, F), name="the_input")
    y = layers.Dense(F)(x)
    with pytest.raises(OnnxExportError, match="linear layer chain"):
        export_onnx(keras.Model(x, layers.Add()([x, y])), tmp_path / "b.onnx")
    fake = StreamSpec(chunk_frames=16, window_frames=16, output_frames=16)
    with pytest.raises(OnnxExportError, match="Bidirectional"):
        export_onnx(models["bidirectional_rnn_model"], tmp_path / "c.onnx", stream=fake)
    streaming = models["final_model_streaming"]
    wrong = replace(stream_spec(streaming, 16), output_frames=7)  # the window yields 8 frames
    with pytest.raises(OnnxExportError, match="checker"):
        export_onnx(streaming, tmp_path / "d.onnx", stream=wrong)
    assert not list(tmp_path.iterdir())  # nothing written, not even a temp file


@pytest.fixture(scope="module")
def gru_onnx(tmp_path_factory):
    """A GRU model big enough for the quantizers to act on (weights > 1k elements)."""
    model = randomize(build("deep_rnn_model", input_dim=40, units=48))
    path = tmp_path_factory.mktemp("gru") / "fp32.onnx"
    export_onnx(model, path)
    return model, path


def test_fp16_and_int8_variants(gru_onnx, tmp_path):
    model, fp32 = gru_onnx
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 300, 40)).astype("float32")
    reference = np.asarray(model(x, training=False))
    calib = [{"the_input": rng.normal(size=(1, n, 40)).astype("float32")} for n in (50, 120, 333)]
    size = fp32.stat().st_size
    for precision, bound in (("fp16", 1e-2), ("int8-dynamic", 0.1), ("int8-static", 0.1)):
        dst = tmp_path / f"{precision}.onnx"
        described = quantize(fp32, dst, precision, calib_feeds=calib)
        ops = op_types(dst)
        assert "GRU" in ops and "Loop" not in ops
        (probs,) = session(dst).run(None, {"the_input": x})
        diff = np.abs(probs - reference).max()
        assert diff <= bound, (precision, diff)
        assert (probs.argmax(-1) == reference.argmax(-1)).mean() >= 0.9
        if precision == "fp16":
            assert dst.stat().st_size <= 0.55 * size
        else:
            assert dst.stat().st_size <= 0.35 * size, (precision, dst.stat().st_size / size)
            assert "GRU W/R: int8 weight-only" in described and "MatMul" in described
            assert "DequantizeLinear" in ops


def test_int8_static_streaming_graph(models, tmp_path):
    """Calibration feeds of a streaming graph carry real states; the result still streams."""
    model = models["final_model_streaming"]
    spec = stream_spec(model, 16)
    fp32, dst = tmp_path / "s.onnx", tmp_path / "s8.onnx"
    export_onnx(model, fp32, stream=spec)
    sess = session(fp32)
    states = {s.input: np.zeros(s.shape, np.float32) for s in spec.states}
    feeds, x = [], features(400)[0]
    for k in range(20):
        feed = {"feats": x[None, 16 * k : 16 * k + spec.window_frames], **states}
        feeds.append(feed)
        _, *new = sess.run(None, feed)
        states = {s.input: v for s, v in zip(spec.states, new, strict=True)}
    quantize(fp32, dst, "int8-static", calib_feeds=feeds)
    reference = np.asarray(model(x[None], training=False))[0]
    chunked = run_chunked(dst, spec, x, len(reference))
    assert np.abs(chunked - reference).max() <= 0.1


def test_quantize_failures_leave_no_file(gru_onnx, tmp_path):
    _, fp32 = gru_onnx
    dst = tmp_path / "out.onnx"
    with pytest.raises(OnnxQuantError, match="calibration"):
        quantize(fp32, dst, "int8-static")
    with pytest.raises(OnnxQuantError, match="lacks input"):
        quantize(fp32, dst, "int8-static", calib_feeds=[{"feats": np.zeros((1, 5, 40))}])
    with pytest.raises(OnnxQuantError, match="unknown ONNX precision"):
        quantize(fp32, dst, "int4")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(OnnxQuantError, match=r"broken\.onnx"):
        quantize(broken, dst, "fp16")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.onnx"]


def test_tf2onnx_route_makes_loops(models, tmp_path):
    """The naive route this exporter replaces: Loop nodes, and Keras 3 TimeDistributed traced
    with an unknown time axis maps over the batch (the wrong output the gate must reject)."""
    path = tmp_path / "loop.onnx"
    export_onnx_tf2onnx(models["simple_rnn_model"], path)
    assert "Loop" in op_types(path) and not RECURRENT_OPS & op_types(path)
    x = features(50)
    (probs,) = session(path).run(None, {"the_input": x})
    assert np.abs(probs - np.asarray(models["simple_rnn_model"](x))).max() <= 1e-5
    export_onnx_tf2onnx(models["deep_rnn_model"], path)
    (probs,) = session(path).run(None, {"the_input": x})
    assert probs.shape != (1, 50, 29)
