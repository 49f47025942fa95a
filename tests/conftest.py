"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ARCHS = {
    "simple_rnn_model": {},
    "rnn_model": {"units": 16},
    "cnn_rnn_model": {"filters": 12, "units": 16},
    "deep_rnn_model": {"units": 16},
    "bidirectional_rnn_model": {"units": 16},
    "final_model": {"filters": 12, "units": 16},
    "final_model_streaming": {"filters": 12, "units": 16},
}


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~0.03 h espeak corpus (DIR with train/valid/test.jsonl and wav/), made once a session.

    Seed 0, default noise settings; about 45 utterances (train ~75 s, valid and test ~16 s each).
    """
    from edge_asr.data.corpus import CorpusConfig, build_corpus

    out = tmp_path_factory.mktemp("tiny_corpus")
    build_corpus(out, CorpusConfig(hours=0.03, seed=0), jobs=1, show_progress=False)
    return out


@pytest.fixture(scope="session")
def feature_config(tiny_corpus: Path):
    """The spectrogram FeatureConfig with stats fitted on 20 tiny-corpus utterances."""
    from edge_asr.data.audio import load_audio
    from edge_asr.data.manifest import load_manifest
    from runtime.features import FeatureConfig, extract, fit_stats

    config = FeatureConfig.spectrogram()
    utts = load_manifest(tiny_corpus / "train.jsonl")[:20]
    mean, std = fit_stats(extract(load_audio(u.path), config) for u in utts)
    return config.with_stats(mean, std)


def randomize_weights(model, seed: int = 0, scales: bool = True):
    """Random biases and BatchNorm statistics (and, with ``scales``, variances and gammas), so
    a random-weight model's converted artifacts are checked on non-trivial numbers."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for weight in layer.weights:
            leaf = weight.path.rsplit("/", 1)[-1]
            shape = tuple(weight.shape)
            if leaf in ("moving_mean", "beta", "bias"):
                weight.assign(rng.normal(0.0, 0.3, shape).astype("float32"))
            elif scales and leaf in ("moving_variance", "gamma"):
                weight.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))
    return model


def make_model_dir(root: Path, name: str, features, seed: int = 0, **params) -> Path:
    """A model directory (docs/formats.md) with random weights and randomized BatchNorm;
    ``params`` override the builder's test sizes (``ARCHS``). The initializers are seeded too,
    so a model is the same whatever ran before it in the session (a gate verdict on a random
    model must reproduce when the test runs alone)."""
    import keras

    from edge_asr.models import build, save_model
    from runtime.formats import Labels, ModelDir

    keras.utils.set_random_seed(seed)
    model = build(name, input_dim=features.dim, **{**ARCHS[name], **params})
    randomize_weights(model, seed)
    folder = ModelDir(root / name, model.meta, features, Labels.default())
    folder.write()
    save_model(model, folder.keras_file)
    return folder.path


@pytest.fixture(scope="session")
def tiny_bundle(tiny_corpus: Path, feature_config: dict, tmp_path_factory) -> Path:
    """A bundle of a random-weight ``final_model_streaming`` (conv front end, two GRUs):
    fp32 TFLite and ONNX offline and streaming, plus dynamic-range int8, and audio-in variants
    (PCM in: offline TFLite and ONNX, streaming ONNX fp32 and TFLite int8-dynamic), all gated."""
    from converters.convert import Options, convert_model_dir, load_utterances, resolve_targets

    root = tmp_path_factory.mktemp("tiny_bundle")
    model_dir = make_model_dir(root, "final_model_streaming", feature_config)
    check = load_utterances(tiny_corpus / "valid.jsonl", feature_config, 4)
    targets = (
        "tflite-fp32,tflite-fp32-stream,onnx-fp32,onnx-fp32-stream,tflite-int8-dynamic,"
        "tflite-fp32-audio,onnx-fp32-audio,onnx-fp32-audio-stream,tflite-int8-dynamic-audio-stream"
    )
    options = Options(targets=resolve_targets(targets.split(",")), long_seconds=4.0)
    outcome = convert_model_dir(model_dir, root / "bundle", check, None, options)
    assert not outcome.failed, outcome.failed
    return root / "bundle"
