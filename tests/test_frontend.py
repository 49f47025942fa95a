"""converters.frontend: the feature front end as a TensorFlow graph equals runtime.features.extract
(float32 graph vs float64 numpy, 1e-4 on normalized features) on real espeak speech, silence, a
full-scale tone and white noise; offline and chunk by chunk; in TF, TFLite (builtin ops only) and
ONNX (default domain only)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converters.frontend import DEFAULT_DFT, DFTS, FrontEnd
from runtime.errors import EdgeASRError
from runtime.feature_config import FeatureConfig
from runtime.features import extract, fit_stats

tf = pytest.importorskip("tensorflow")

TOL = 1e-4  # max abs error on normalized features (the contract)
RAW_RTOL, RAW_ATOL = 1e-5, 1e-4  # unnormalized: log powers down to -32, cepstra up to ~200
SIZE_BUDGET = 0.05 * (1 << 20)  # front-end artifact bytes: 5 % of a 1 MiB fp32 model
STREAM_FRAMES = 8  # frames per streaming call in the converted graphs

CONFIGS = {
    "spectrogram": FeatureConfig.spectrogram(),
    # 400-sample window (20 x 20 split), 200 hop, bins up to 6 kHz only.
    "spectrogram-25ms": FeatureConfig.spectrogram(window_ms=25, step_ms=12.5, max_freq=6000),
    "mfcc": FeatureConfig.mfcc(),
    # No pre-emphasis (no history sample), n_fft 400 > window 320, no lifter, c0 is a cepstrum.
    "mfcc-plain": FeatureConfig.mfcc(
        window_ms=20,
        step_ms=12.5,
        n_fft=400,
        n_filters=40,
        n_mfcc=20,
        ceplifter=0,
        append_energy=False,
        preemphasis=0,
    ),
}


# ------------------------------------------------------------------ data
@pytest.fixture(scope="module")
def speech(tiny_corpus: Path) -> dict[str, list[np.ndarray]]:
    """Real espeak utterances of the tiny corpus (16-bit WAVs): train ones fit the stats, valid
    and test ones (unseen voices among them) are checked."""
    from edge_asr.data.audio import load_audio
    from edge_asr.data.manifest import load_manifest

    def split(name: str, n: int) -> list[np.ndarray]:
        return [load_audio(u.path) for u in load_manifest(tiny_corpus / f"{name}.jsonl")[:n]]

    return {"train": split("train", 12), "check": split("valid", 3) + split("test", 3)}


@pytest.fixture(scope="module")
def signals(speech: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """What every graph is checked on: speech plus the hard synthetic cases."""
    rng = np.random.default_rng(12)
    t = np.arange(16000) / 16000
    out = {f"speech{i}": x for i, x in enumerate(speech["check"])}
    out["silence"] = np.zeros(8000, np.float32)  # digital zeros: log(1e-14), psf's eps
    # Full scale: Hann sidelobes put bins 100+ dB under the peak, where float32 DFTs fail.
    out["tone"] = (0.99 * np.sin(2 * np.pi * 1234.5 * t)).astype(np.float32)
    out["noise"] = rng.uniform(-1, 1, 16000).astype(np.float32)
    return out


@pytest.fixture(scope="module")
def configs(speech: dict[str, list[np.ndarray]]) -> dict[str, FeatureConfig]:
    """Each config raw (``name``) and normalized with stats fitted on speech (``name+norm``)."""
    out = {}
    for name, config in CONFIGS.items():
        mean, std = fit_stats(extract(x, config) for x in speech["train"])
        out[name] = config
        out[name + "+norm"] = config.with_stats(mean, std)
    return out


def _pcm(x: np.ndarray) -> np.ndarray:
    """int16 PCM of float samples (exact for the corpus' 16-bit WAVs, rounded otherwise)."""
    return np.clip(np.round(np.asarray(x, np.float64) * 32768), -32768, 32767).astype(np.int16)


def _close(got: np.ndarray, want: np.ndarray, config: FeatureConfig, what: str) -> None:
    """The contract: 1e-4 max abs on normalized features; raw ones at float32 resolution."""
    if config.normalized:
        err = float(np.max(np.abs(got - want)))
        assert err <= TOL, f"{what}: max abs error {err:.2e} > {TOL:g}"
    else:
        np.testing.assert_allclose(got, want, RAW_RTOL, RAW_ATOL, err_msg=what)


def _check(got: np.ndarray, x: np.ndarray, config: FeatureConfig, what: str) -> None:
    """``got`` (1, T, dim) against ``extract``; first and last frames named on failure."""
    ref = extract(np.asarray(x, np.float32), config)
    assert got.shape == (1, config.num_frames(len(x)), config.dim), what
    _close(got[0, :1], ref[:1], config, f"{what} first frame")
    _close(got[0, -1:], ref[-1:], config, f"{what} last frame")
    _close(got[0], ref, config, what)


def _offline_fn(front: FrontEnd) -> Any:
    dtype = tf.int16 if front.input_dtype == "int16" else tf.float32
    return tf.function(front.offline, input_signature=[tf.TensorSpec((1, None), dtype, "audio")])


def _stream_fn(front: FrontEnd, n_frames: int) -> Any:
    dtype = tf.int16 if front.input_dtype == "int16" else tf.float32
    shape = (1, front.context_samples + n_frames * front.config.step)
    spec = [tf.TensorSpec(shape, dtype, "audio")]
    return tf.function(lambda buffer: front.frames(buffer, n_frames), input_signature=spec)


def _stream(run: Callable[[np.ndarray], np.ndarray], front: FrontEnd, x: np.ndarray, n: int):
    """Feed ``x`` (cut to whole chunks) chunk by chunk, carrying the buffer's last
    ``context_samples`` (zeros first); returns (all outputs, the samples fed)."""
    chunk = n * front.config.step
    x = x[: len(x) // chunk * chunk]
    context = np.zeros(front.context_samples, x.dtype)
    outputs = []
    for start in range(0, len(x), chunk):
        buffer = np.concatenate([context, x[start : start + chunk]])[None]
        out = run(buffer)
        assert out.shape == (1, n, front.config.dim)
        outputs.append(out[0])
        context = buffer[0, len(buffer[0]) - front.context_samples :]
    return np.concatenate(outputs), x


def _check_stream(outputs: np.ndarray, x: np.ndarray, front: FrontEnd, what: str) -> None:
    """Call c's frame j starts at sample (c*n + j - a) * step: the stream is ``extract`` of the
    audio behind a*step zeros (the zero first context; for MFCC the zero history sample gives
    psf's y[0] = x[0]), i.e. ``extract``'s own frames delayed by a = lag_frames, the first a
    outputs of call 0 starting before the audio. Every frame lies inside the samples fed: no
    zero-padded last frame is involved."""
    a, cfg = front.lag_frames, front.config
    x = np.asarray(x, np.float32) / (32768 if x.dtype == np.int16 else 1)
    behind_zeros = extract(np.concatenate([np.zeros(a * cfg.step, np.float32), x]), cfg)
    ref = extract(x, cfg)
    usable = len(outputs) - a
    assert (usable - 1) * cfg.step + cfg.window <= len(x) and len(ref) >= usable
    _close(outputs[a:], ref[:usable], cfg, f"{what}: vs extract delayed by lag_frames")
    _close(outputs, behind_zeros[: len(outputs)], cfg, f"{what}: vs extract behind zeros")


# ------------------------------------------------------------------ TF graph
@pytest.mark.parametrize("name", [n + s for n in CONFIGS for s in ("", "+norm")])
def test_offline_matches_extract(name, configs, signals):
    config = configs[name]
    fn = _offline_fn(FrontEnd(config))
    for what, x in signals.items():
        _check(fn(x[None]).numpy(), x, config, f"{name} {what}")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_short_inputs(name, configs, signals):
    """One window exactly, a hop either side of it; MFCC below one window: 1 zero-padded frame."""
    config = configs[name + "+norm"]
    window, step = config.window, config.step
    lengths = [window, window + 1, window + step - 1, window + step, window + step + 1]
    if config.kind == "mfcc":
        lengths += [1, 2, step, window - 1]
    fn = _offline_fn(FrontEnd(config))
    x = signals["speech0"][4000:]  # inside speech, so short frames are not near-silent
    for n in lengths:
        _check(fn(x[None, :n]).numpy(), x[:n], config, f"{name} length {n}")


@pytest.mark.parametrize("name", list(CONFIGS))
def test_int16_equals_float(name, configs, signals):
    """int16 PCM in is float input / 32768, exactly (a power-of-two scale in the graph)."""
    config = configs[name + "+norm"]
    x16 = _pcm(signals["speech1"])
    assert np.array_equal(x16 / np.float32(32768), signals["speech1"])  # 16-bit speech
    got16 = _offline_fn(FrontEnd(config, "int16"))(x16[None]).numpy()
    got = _offline_fn(FrontEnd(config))((x16 / np.float32(32768))[None]).numpy()
    np.testing.assert_array_equal(got16, got)
    _check(got16, x16 / np.float32(32768), config, f"{name} int16")


@pytest.mark.parametrize(
    ("name", "n_frames"),
    [("spectrogram+norm", 1), ("mfcc+norm", 5)]
    + [(n + "+norm", 7) for n in ("spectrogram-25ms", "mfcc-plain")],
)
def test_frames_stream_eager(name, n_frames, configs, signals):
    """``frames`` run eagerly chunk by chunk equals ``extract`` delayed by lag_frames."""
    front = FrontEnd(configs[name])
    x = np.concatenate([signals["speech2"], signals["tone"][:4000]])[: 90 * n_frames * 160]
    outputs, fed = _stream(
        lambda b: front.frames(tf.constant(b), n_frames).numpy(), front, x, n_frames
    )
    _check_stream(outputs, fed, front, f"{name} eager, {n_frames} frames per call")


def test_stream_sizes():
    spec = FrontEnd(CONFIGS["spectrogram"])
    assert (spec.lag_frames, spec.history, spec.context_samples) == (1, 0, 160)
    mfcc = FrontEnd(CONFIGS["mfcc"])
    assert (mfcc.lag_frames, mfcc.history, mfcc.context_samples) == (2, 1, 321)
    plain = FrontEnd(CONFIGS["mfcc-plain"])  # 320 / 200: a window spans 2 hops, no history
    assert (plain.lag_frames, plain.history, plain.context_samples) == (1, 0, 200)


def test_dft_choice_measured(configs, signals):
    """The module docstring's reason for the defaults: on a spectrogram, every float32 DFT
    misses 1e-4 (tone, speech), the split-precision one meets it in ~20 KB of constants;
    on MFCC the plain factorized DFT already does, with no 400x514 DFT matrix."""
    x = np.concatenate([signals["speech0"], signals["tone"]])
    errors, sizes = {}, {}
    for kind in ("spectrogram", "mfcc"):
        config = configs[kind + "+norm"]
        ref = extract(x, config)
        for dft in DFTS:
            front = FrontEnd(config, dft=dft)
            got = _offline_fn(front)(x[None]).numpy()[0]
            errors[kind, dft] = float(np.max(np.abs(got - ref)))
            sizes[kind, dft] = front.constant_bytes
    assert DEFAULT_DFT == {"spectrogram": "factorized-exact", "mfcc": "factorized"}
    for kind, dft in DEFAULT_DFT.items():
        assert errors[kind, dft] <= TOL / 3, (kind, errors)
        assert sizes[kind, dft] <= 35_000, (kind, sizes)
        assert sizes[kind, "matmul"] == sizes[kind, "conv"] >= 400_000
    for dft in ("factorized", "matmul", "conv"):
        assert errors["spectrogram", dft] > TOL, errors
    assert errors["mfcc", "factorized-exact"] <= errors["mfcc", "factorized"]


def test_prime_length_falls_back_to_matmul(signals):
    """317 samples have no two-stage split: the direct DFT (float32-accurate only)."""
    config = FeatureConfig.spectrogram(window_ms=19.8125)
    front = FrontEnd(config)
    assert config.window == 317 and front.dft == "matmul"
    x = signals["noise"]  # a flat spectrum: no bins far below the frame's peak
    _check(_offline_fn(front)(x[None]).numpy(), x, config, "prime window")


def test_bad_arguments():
    with pytest.raises(EdgeASRError, match="dtype"):
        FrontEnd(CONFIGS["mfcc"], "int8")
    with pytest.raises(EdgeASRError, match="DFT"):
        FrontEnd(CONFIGS["mfcc"], dft="fft")
    front = FrontEnd(CONFIGS["mfcc"])
    with pytest.raises(EdgeASRError, match=r"\(1, 1601\)"):
        front.frames(tf.zeros((1, 1600)), 8)


# ------------------------------------------------------------------ converted graphs
# Config -> input dtype: every config, each input type for each kind, through both tools.
CONVERTED = {
    "spectrogram+norm": "float32",
    "spectrogram-25ms": "int16",
    "mfcc+norm": "int16",
    "mfcc-plain+norm": "float32",
}


def _tflite(fn: Any) -> bytes:
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def _onnx(fn: Any) -> Any:
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    proto, _ = tf2onnx.convert.from_function(fn, input_signature=fn.input_signature, opset=17)
    return proto


def _tflite_runner(model: bytes) -> Callable[[np.ndarray], np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model)
    inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    shape: list[int] = []

    def run(x: np.ndarray) -> np.ndarray:
        if list(x.shape) != shape:
            interp.resize_tensor_input(inp, list(x.shape))
            interp.allocate_tensors()
            shape[:] = list(x.shape)
        interp.set_tensor(inp, x)
        interp.invoke()
        return interp.get_tensor(out)

    return run


def _onnx_runner(proto: Any) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})[0]


@pytest.fixture(scope="module")
def converted(configs) -> dict[tuple[str, str, str], Any]:
    """(config, "offline" | "stream", "tflite" | "onnx") -> model, converted once."""
    out: dict[tuple[str, str, str], Any] = {}
    for name, dtype in CONVERTED.items():
        front = FrontEnd(configs[name], dtype)
        for mode, fn in (
            ("offline", _offline_fn(front)),
            ("stream", _stream_fn(front, STREAM_FRAMES)),
        ):
            out[name, mode, "tflite"] = _tflite(fn)
            out[name, mode, "onnx"] = _onnx(fn)
    return out


def test_tflite_builtin_ops_only(converted):
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    for key, model in converted.items():
        if key[2] != "tflite":
            continue
        graph = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
        for code in graph.operatorCodes:
            builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
            assert builtin != schema.BuiltinOperator.CUSTOM and not code.customCode, key
        names = {op["op_name"] for op in Interpreter(model_content=model)._get_ops_details()}
        assert not any(n.startswith("Flex") or n in ("CUSTOM", "DELEGATE") for n in names), names


def test_onnx_default_domain_only(converted):
    import onnx

    for key, proto in converted.items():
        if key[2] != "onnx":
            continue
        onnx.checker.check_model(proto)
        # tf2onnx also imports the ai.onnx.ml opset; no node uses it (nor com.microsoft).
        assert {n.domain for n in proto.graph.node} <= {"", "ai.onnx"}, key
        assert next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) == 17


def test_artifact_size(converted):
    """Front end overhead, constants and graph: under 5 % of a 1 MiB fp32 acoustic model."""
    for key, model in converted.items():
        size = len(model) if key[2] == "tflite" else len(model.SerializeToString())
        assert size <= SIZE_BUDGET, (key, size)


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
@pytest.mark.parametrize("name", list(CONVERTED))
def test_converted_offline(name, fmt, converted, configs, signals):
    config = configs[name]
    model = converted[name, "offline", fmt]
    run = _tflite_runner(model) if fmt == "tflite" else _onnx_runner(model)
    int16 = CONVERTED[name] == "int16"
    window, step = config.window, config.step
    cases = dict(signals)
    cases.update(
        {f"length {n}": signals["speech0"][4000 : 4000 + n] for n in (window, window + step)}
    )
    if config.kind == "mfcc":  # below one window: one zero-padded frame
        cases.update({f"length {n}": signals["speech0"][4000 : 4000 + n] for n in (1, 100)})
    for what, x in cases.items():
        if int16:
            x = _pcm(x)
        got = run(x[None])
        _check(got, x / np.float32(32768) if int16 else x, config, f"{name} {fmt} {what}")


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
@pytest.mark.parametrize("name", list(CONVERTED))
def test_converted_stream(name, fmt, converted, configs, signals, speech):
    front = FrontEnd(configs[name], CONVERTED[name])
    model = converted[name, "stream", fmt]
    run = _tflite_runner(model) if fmt == "tflite" else _onnx_runner(model)
    x = np.concatenate([*speech["check"][3:], signals["tone"], signals["noise"]])
    if CONVERTED[name] == "int16":
        x = _pcm(x)
    outputs, fed = _stream(run, front, x, STREAM_FRAMES)
    _check_stream(outputs, fed, front, f"{name} {fmt} stream")
