"""``edge-asr import`` with real foreign models.

The inputs are made with the real old API, not with this project's code: the seed project's
``sample_models.py`` (udacity AIND-VUI-Capstone, its TODOs filled in as its notebook asks) and
its ``add_ctc_loss`` run unchanged under ``tf_keras`` (the Keras 2 API for this TensorFlow; only
``from keras`` reads ``from tf_keras``), train a few CTC steps on real synthesized speech, and
save the ways people do: weights only (``save_weights``, of the CTC training model, as the seed
does), a full HDF5 model, the seed's ModelCheckpoint of the whole CTC training model, and a
SavedModel. The "keras2.0" flavour runs the same code with standalone Keras 2.0's GRU/LSTM
defaults (``reset_after=False``, Keras 2's ``hard_sigmoid``), what the seed's own
``keras==2.0.5`` computed. Every import must reproduce ``tf_keras`` predict within 1e-5 on real
utterances; the slow part converts every variant behind the gate.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import functools
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import tf_keras

from edge_asr.cli import main as edge_asr_main
from edge_asr.models import load_model_dir
from runtime.features import FeatureConfig, fit_stats
from runtime.text import text_to_int

# The seed's sample_models.py (udacity/AIND-VUI-Capstone), TODOs completed as its notebook
# specifies (BatchNorm after each RNN, TimeDistributed(Dense) before the softmax).
SEED_SAMPLE_MODELS = '''
from keras import backend as K
from keras.models import Model
from keras.layers import (BatchNormalization, Conv1D, Dense, Input,
    TimeDistributed, Activation, Bidirectional, SimpleRNN, GRU, LSTM)

def simple_rnn_model(input_dim, output_dim=29):
    """ Build a recurrent network for speech
    """
    # Main acoustic input
    input_data = Input(name='the_input', shape=(None, input_dim))
    # Add recurrent layer
    simp_rnn = GRU(output_dim, return_sequences=True,
                 implementation=2, name='rnn')(input_data)
    # Add softmax activation layer
    y_pred = Activation('softmax', name='softmax')(simp_rnn)
    # Specify the model
    model = Model(inputs=input_data, outputs=y_pred)
    model.output_length = lambda x: x
    print(model.summary())
    return model

def rnn_model(input_dim, units, activation, output_dim=29):
    """ Build a recurrent network for speech
    """
    # Main acoustic input
    input_data = Input(name='the_input', shape=(None, input_dim))
    # Add recurrent layer
    simp_rnn = GRU(units, activation=activation,
        return_sequences=True, implementation=2, name='rnn')(input_data)
    # TODO: Add batch normalization
    bn_rnn = BatchNormalization(name='bn_rnn')(simp_rnn)
    # TODO: Add a TimeDistributed(Dense(output_dim)) layer
    time_dense = TimeDistributed(Dense(output_dim))(bn_rnn)
    # Add softmax activation layer
    y_pred = Activation('softmax', name='softmax')(time_dense)
    # Specify the model
    model = Model(inputs=input_data, outputs=y_pred)
    model.output_length = lambda x: x
    print(model.summary())
    return model


def cnn_rnn_model(input_dim, filters, kernel_size, conv_stride,
    conv_border_mode, units, output_dim=29):
    """ Build a recurrent + convolutional network for speech
    """
    # Main acoustic input
    input_data = Input(name='the_input', shape=(None, input_dim))
    # Add convolutional layer
    conv_1d = Conv1D(filters, kernel_size,
                     strides=conv_stride,
                     padding=conv_border_mode,
                     activation='relu',
                     name='conv1d')(input_data)
    # Add batch normalization
    bn_cnn = BatchNormalization(name='bn_conv_1d')(conv_1d)
    # Add a recurrent layer
    simp_rnn = SimpleRNN(units, activation='relu',
        return_sequences=True, name='rnn')(bn_cnn)
    # TODO: Add batch normalization
    bn_rnn = BatchNormalization(name='bn_rnn')(simp_rnn)
    # TODO: Add a TimeDistributed(Dense(output_dim)) layer
    time_dense = TimeDistributed(Dense(output_dim))(bn_rnn)
    # Add softmax activation layer
    y_pred = Activation('softmax', name='softmax')(time_dense)
    # Specify the model
    model = Model(inputs=input_data, outputs=y_pred)
    model.output_length = lambda x: cnn_output_length(
        x, kernel_size, conv_border_mode, conv_stride)
    print(model.summary())
    return model

def cnn_output_length(input_length, filter_size, border_mode, stride,
                       dilation=1):
    """ Compute the length of the output sequence after 1D convolution along
        time. Note that this function is in line with the function used in
        Convolution1D class from Keras.
    """
    if input_length is None:
        return None
    assert border_mode in {'same', 'valid'}
    dilated_filter_size = filter_size + (filter_size - 1) * (dilation - 1)
    if border_mode == 'same':
        output_length = input_length
    elif border_mode == 'valid':
        output_length = input_length - dilated_filter_size + 1
    return (output_length + stride - 1) // stride

def deep_rnn_model(input_dim, units, recur_layers, output_dim=29):
    """ Build a deep recurrent network for speech
    """
    # Main acoustic input
    input_data = Input(name='the_input', shape=(None, input_dim))
    # TODO: Add recurrent layers, each with batch normalization
    layer = input_data
    for i in range(recur_layers):
        layer = GRU(units, return_sequences=True, implementation=2,
                    name='rnn_{}'.format(i))(layer)
        layer = BatchNormalization(name='bn_rnn_{}'.format(i))(layer)
    # TODO: Add a TimeDistributed(Dense(output_dim)) layer
    time_dense = TimeDistributed(Dense(output_dim))(layer)
    # Add softmax activation layer
    y_pred = Activation('softmax', name='softmax')(time_dense)
    # Specify the model
    model = Model(inputs=input_data, outputs=y_pred)
    model.output_length = lambda x: x
    print(model.summary())
    return model

def bidirectional_rnn_model(input_dim, units, output_dim=29):
    """ Build a bidirectional recurrent network for speech
    """
    # Main acoustic input
    input_data = Input(name='the_input', shape=(None, input_dim))
    # TODO: Add bidirectional recurrent layer
    bidir_rnn = Bidirectional(GRU(units, return_sequences=True, implementation=2,
                                  name='rnn'), merge_mode='concat')(input_data)
    # TODO: Add a TimeDistributed(Dense(output_dim)) layer
    time_dense = TimeDistributed(Dense(output_dim))(bidir_rnn)
    # Add softmax activation layer
    y_pred = Activation('softmax', name='softmax')(time_dense)
    # Specify the model
    model = Model(inputs=input_data, outputs=y_pred)
    model.output_length = lambda x: x
    print(model.summary())
    return model
'''

# The seed's train_utils.py: the CTC loss wrapper it trains (and checkpoints) instead of the
# acoustic model itself.
SEED_TRAIN_UTILS = """
from keras import backend as K
from keras.models import Model
from keras.layers import (Input, Lambda)

def ctc_lambda_func(args):
    y_pred, labels, input_length, label_length = args
    return K.ctc_batch_cost(labels, y_pred, input_length, label_length)

def add_ctc_loss(input_to_softmax):
    the_labels = Input(name='the_labels', shape=(None,), dtype='float32')
    input_lengths = Input(name='input_length', shape=(1,), dtype='int64')
    label_lengths = Input(name='label_length', shape=(1,), dtype='int64')
    output_lengths = Lambda(input_to_softmax.output_length)(input_lengths)
    # CTC loss is implemented in a lambda layer
    loss_out = Lambda(ctc_lambda_func, output_shape=(1,), name='ctc')(
        [input_to_softmax.output, the_labels, output_lengths, label_lengths])
    model = Model(
        inputs=[input_to_softmax.input, the_labels, input_lengths, label_lengths],
        outputs=loss_out)
    return model
"""

#: arch -> (the seed builder's arguments, this project's builder params for the weights file)
SEEDS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "simple_rnn_model": ({}, []),
    "rnn_model": (
        {"units": 16, "activation": "relu"},
        ["units=16", "activation=relu", "cell=gru"],
    ),
    "cnn_rnn_model": (
        {
            "filters": 12,
            "kernel_size": 11,
            "conv_stride": 2,
            "conv_border_mode": "valid",
            "units": 16,
        },
        ["filters=12", "kernel_size=11", "conv_stride=2", "conv_border_mode=valid", "units=16"],
    ),
    "deep_rnn_model": ({"units": 16, "recur_layers": 2}, ["units=16", "recur_layers=2"]),
    "bidirectional_rnn_model": ({"units": 16}, ["units=16", "batch_norm=false"]),
}
KINDS = ("weights", "h5", "ctc_h5", "savedmodel")
PARITY = 1e-5
LONG_SECONDS = 4.0


def _seed_namespace(source: str, flavor: str) -> dict[str, Any]:
    """Run seed source under tf_keras. ``keras2.0``: standalone Keras 2.0's recurrent-layer
    defaults, which the seed's ``keras==2.0.5`` had."""
    namespace: dict[str, Any] = {"__name__": "seed"}
    exec(compile(source.replace("from keras", "from tf_keras"), "seed.py", "exec"), namespace)
    if flavor == "keras2.0":
        keras2 = {"recurrent_activation": "hard_sigmoid"}
        namespace["GRU"] = functools.partial(tf_keras.layers.GRU, reset_after=False, **keras2)
        namespace["LSTM"] = functools.partial(tf_keras.layers.LSTM, **keras2)
    return namespace


class SeedModel:
    """One seed architecture built, trained a few CTC steps and saved four ways."""

    def __init__(self, root: Path, arch: str, flavor: str, train: tuple) -> None:
        models = _seed_namespace(SEED_SAMPLE_MODELS, flavor)
        utils = _seed_namespace(SEED_TRAIN_UTILS, flavor)
        kwargs, self.params = SEEDS[arch]
        tf_keras.utils.set_random_seed(0)
        self.model = models[arch](input_dim=161, **kwargs)
        self.output_length = self.model.output_length
        ctc_model = utils["add_ctc_loss"](self.model)
        optimizer = tf_keras.optimizers.SGD(
            learning_rate=0.02, momentum=0.9, nesterov=True, clipnorm=5
        )
        ctc_model.compile(loss={"ctc": lambda y_true, y_pred: y_pred}, optimizer=optimizer)
        feats, texts = train
        batch = 4
        for step in range(3):
            idx = [(step * batch + j) % len(feats) for j in range(batch)]
            frames = max(len(feats[i]) for i in idx)
            x = np.zeros((batch, frames, 161), np.float32)
            labels = [text_to_int(texts[i]) for i in idx]
            y = np.zeros((batch, max(map(len, labels))), np.float32)
            for row, i in enumerate(idx):
                x[row, : len(feats[i])] = feats[i]
                y[row, : len(labels[row])] = labels[row]
            inputs = {
                "the_input": x,
                "the_labels": y,
                "input_length": np.array([[len(feats[i])] for i in idx], np.int64),
                "label_length": np.array([[len(lab)] for lab in labels], np.int64),
            }
            ctc_model.train_on_batch(inputs, {"ctc": np.zeros((batch, 1), np.float32)})
        folder = root / f"{arch}-{flavor}"
        folder.mkdir()
        self.files = {
            "weights": folder / "model_end.h5",
            "h5": folder / "model_full.h5",
            "ctc_h5": folder / "model_checkpoint.h5",
            "savedmodel": folder / "saved_model",
        }
        ctc_model.save_weights(str(self.files["weights"]))  # the seed's model_end.h5
        self.model.save(str(self.files["h5"]))
        ctc_model.save(str(self.files["ctc_h5"]))  # the seed's ModelCheckpoint(results/*.h5)
        self.model.save(str(self.files["savedmodel"]))

        self._predictions: dict[int, np.ndarray] = {}

    def predict(self, feats: np.ndarray) -> np.ndarray:
        """tf_keras ``predict`` of one utterance (cached: every import compares with it)."""
        key = id(feats)
        if key not in self._predictions:
            self._predictions[key] = self.model.predict(feats[None], verbose=0)[0]
        return self._predictions[key]


@pytest.fixture(scope="module")
def train_check(tiny_corpus: Path, feature_config) -> Any:
    """Training utterances: the seed models train on them; int8 targets calibrate on them."""
    from converters.convert import load_utterances

    return load_utterances(tiny_corpus / "train.jsonl", feature_config, 8)


@pytest.fixture(scope="module")
def train_data(train_check) -> tuple:
    return train_check.features, train_check.texts


@pytest.fixture(scope="module")
def check_data(tiny_corpus: Path, feature_config) -> tuple:
    from converters.convert import load_utterances

    return load_utterances(tiny_corpus / "valid.jsonl", feature_config, 4)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, train_data):
    """Seed models by (arch, flavor), built on first use."""
    root = tmp_path_factory.mktemp("seed_models")
    cache: dict[tuple[str, str], SeedModel] = {}

    def get(arch: str, flavor: str = "tf.keras") -> SeedModel:
        if (arch, flavor) not in cache:
            cache[arch, flavor] = SeedModel(root, arch, flavor, train_data)
        return cache[arch, flavor]

    return get


@pytest.fixture(scope="module")
def stats_file(tmp_path_factory, feature_config) -> Path:
    path = tmp_path_factory.mktemp("stats") / "stats.json"
    path.write_text(json.dumps({"mean": feature_config.mean, "std": feature_config.std}))
    return path


def run_import(source: Path, out: Path, *extra: str) -> int:
    return edge_asr_main(["import", str(source), "--out", str(out), "--quiet", *extra])


def import_seed(seed: SeedModel, kind: str, out: Path, stats: Path, flavor: str) -> Path:
    argv = ["--features", "spectrogram", "--norm-file", str(stats)]
    if kind == "weights":
        arch = seed.files["weights"].parent.name.split("-")[0]
        argv += ["--builder", arch]
        params = list(seed.params)
        if flavor == "keras2.0" and arch != "cnn_rnn_model":  # GRU/LSTM (not SimpleRNN)
            params.append("recurrent_activation=hard_sigmoid")
        for p in params:
            argv += ["--param", p]
    assert run_import(seed.files[kind], out, *argv) == 0
    return out


def max_diff(model: Any, seed: SeedModel, feats: list[np.ndarray]) -> float:
    worst = 0.0
    for x in feats:
        ours = np.asarray(model(x[None], training=False))[0]
        theirs = seed.predict(x)
        assert ours.shape == theirs.shape
        worst = max(worst, float(np.max(np.abs(ours - theirs))))
    return worst


def check_import(seed: SeedModel, out: Path, feats: list[np.ndarray], feature_config) -> float:
    """The model directory loads as convert loads it and equals the seed model."""
    model, folder = load_model_dir(out)
    assert folder.features == feature_config
    assert folder.labels.num_classes == 29
    for n in (11, 12, 13, 57, 100, 101):
        assert folder.meta.output_length(n) == seed.output_length(n)
    diff = max_diff(model, seed, feats)
    assert diff <= PARITY, diff
    return diff


FAST = [("simple_rnn_model", "keras2.0"), ("cnn_rnn_model", "tf.keras")]


@pytest.mark.parametrize("kind", ["weights", "h5", "savedmodel"])
@pytest.mark.parametrize(("arch", "flavor"), FAST)
def test_import_matches_tf_keras(
    tmp_path, seeds, check_data, stats_file, feature_config, arch, flavor, kind, capsys
):
    seed = seeds(arch, flavor)
    out = import_seed(seed, kind, tmp_path / "model", stats_file, flavor)
    diff = check_import(seed, out, check_data.features, feature_config)
    meta = json.loads((out / "model.json").read_text())
    assert meta["source"]["kind"] == {"weights": "hdf5-weights", "h5": "hdf5-model"}.get(kind, kind)
    assert meta["source"]["normalization"]["from"] == "file"
    assert meta["streamable"] is True
    if kind == "weights":
        assert meta["name"] == arch
        if flavor == "keras2.0":  # detected from the 1-D GRU biases; asked for by --param
            assert meta["params"]["reset_after"] is False
            assert meta["params"]["recurrent_activation"] == "keras2_hard_sigmoid"
            assert "reset_after=False" in capsys.readouterr().err
    if kind == "savedmodel":
        assert meta["source"]["savedmodel_max_abs_diff"] <= 1e-5
    print(f"parity {arch} {flavor} {kind}: {diff:.2e}")


def test_seed_checkpoint_of_the_ctc_model(tmp_path, seeds, check_data, stats_file, feature_config):
    """The seed's ModelCheckpoint saves the whole CTC training model (four inputs, a ``ctc``
    Lambda after the softmax): the acoustic chain is found and the training layers dropped."""
    seed = seeds("cnn_rnn_model")
    out = import_seed(seed, "ctc_h5", tmp_path / "model", stats_file, "tf.keras")
    check_import(seed, out, check_data.features, feature_config)
    notes = json.loads((out / "model.json").read_text())["source"]["notes"]
    assert any("ctc" in n and "the_labels" in n for n in notes)


def _hand_made_keras3(path: Path) -> Any:
    """A Keras 3 model no builder has: Conv1D -> MaxPooling1D -> LSTM -> Dropout -> Dense ->
    softmax, with trained-looking (random) weights."""
    import keras

    keras.utils.set_random_seed(1)
    x = keras.Input((None, 161), name="spec")
    y = keras.layers.Conv1D(12, 5, padding="valid", activation="relu", name="conv")(x)
    y = keras.layers.MaxPooling1D(2, name="pool")(y)
    y = keras.layers.LSTM(16, return_sequences=True, name="lstm")(y)
    y = keras.layers.Dropout(0.3, name="drop")(y)
    y = keras.layers.Dense(29, name="dense")(y)
    y = keras.layers.Activation("softmax", name="softmax")(y)
    model = keras.Model(x, y, name="hand_made")
    model.save(path)
    return model


def test_keras3_hand_made_model(tmp_path, check_data, stats_file, feature_config):
    original = _hand_made_keras3(tmp_path / "hand.keras")
    out = tmp_path / "model"
    argv = ["--features", "spectrogram", "--norm-file", str(stats_file)]
    assert run_import(tmp_path / "hand.keras", out, *argv) == 0
    model, folder = load_model_dir(out)
    rule = folder.meta.output_length.to_dict()["layers"]
    assert rule == [
        {"kernel": 5, "stride": 1, "padding": "valid", "dilation": 1},
        {"kernel": 2, "stride": 2, "padding": "valid", "dilation": 1},
    ]
    for x in check_data.features:
        ours = np.asarray(model(x[None], training=False))
        theirs = np.asarray(original(x[None], training=False))
        assert ours.shape[1] == folder.meta.output_length(len(x)) == (len(x) - 4) // 2
        assert np.max(np.abs(ours - theirs)) <= 1e-6
    assert folder.meta.streamable and folder.meta.name == "hand_made"


def test_imported_dir_works_with_evaluate(tmp_path, seeds, tiny_corpus, stats_file, capsys):
    seed = seeds("cnn_rnn_model")
    out = import_seed(seed, "h5", tmp_path / "model", stats_file, "tf.keras")
    capsys.readouterr()
    argv = ["evaluate", str(out), "--manifest", str(tiny_corpus / "valid.jsonl"), "--json"]
    assert edge_asr_main([*argv, "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["utterances"] > 0 and report["model"] == "model_full"


# --------------------------------------------------------------------------- normalization


def test_norm_from_manifest_and_files(tmp_path, seeds, tiny_corpus, feature_config):
    from edge_asr.data.audio import load_audio
    from edge_asr.data.manifest import load_manifest
    from runtime.features import extract

    seed = seeds("cnn_rnn_model")
    source = seed.files["h5"]
    manifest = tiny_corpus / "train.jsonl"
    base = ["--features", "spectrogram"]
    fit = ["--norm-from", str(manifest), "--norm-count", "5"]
    assert run_import(source, tmp_path / "m", *base, *fit) == 0
    raw = FeatureConfig.spectrogram()
    mean, std = fit_stats(extract(load_audio(u.path), raw) for u in load_manifest(manifest)[:5])
    got = json.loads((tmp_path / "m" / "features.json").read_text())
    np.testing.assert_allclose(got["mean"], mean, rtol=1e-12)
    np.testing.assert_allclose(got["std"], std, rtol=1e-12)
    record = json.loads((tmp_path / "m" / "model.json").read_text())["source"]["normalization"]
    assert record["from"] == "manifest" and record["utterances"] == 5
    np.savez(tmp_path / "stats.npz", feats_mean=mean, feats_std=std)  # the seed's names
    np.save(tmp_path / "stats.npy", np.stack([mean, std]))
    for name in ("stats.npz", "stats.npy"):
        out = tmp_path / name.replace(".", "_")
        assert run_import(source, out, *base, "--norm-file", str(tmp_path / name)) == 0
        got = json.loads((out / "features.json").read_text())
        np.testing.assert_allclose(got["mean"], mean)
        np.testing.assert_allclose(got["std"], std)
    assert run_import(source, tmp_path / "raw", *base, "--no-norm") == 0
    assert json.loads((tmp_path / "raw" / "features.json").read_text())["mean"] is None


# --------------------------------------------------------------------------- bad input


def _tf_keras_masking_model(path: Path) -> None:
    layers = tf_keras.layers
    x = layers.Input((None, 161), name="the_input")
    y = layers.Masking(0.0, name="masking")(x)
    y = layers.GRU(8, return_sequences=True, name="rnn")(y)
    y = layers.TimeDistributed(layers.Dense(29), name="time_dense")(y)
    y = layers.Activation("softmax", name="softmax")(y)
    tf_keras.Model(x, y).save(str(path))


def _bad_inputs(tmp: Path, seeds) -> dict[str, tuple[list[str], list[str]]]:
    """case -> (argv after `import`, substrings the error line must hold)."""
    cnn = seeds("cnn_rnn_model")
    plain = tmp / "data.h5"
    with h5py.File(plain, "w") as f:
        f["measurements"] = np.arange(10.0)
    truncated = tmp / "truncated.h5"
    data = cnn.files["h5"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    labels = tmp / "labels.json"
    labels.write_text(json.dumps(list("abcdefghijklmnopqrstuvwxyz")))  # 26 + blank = 27
    masking = tmp / "masking.h5"
    _tf_keras_masking_model(masking)
    pickled = tmp / "stats.npy"
    np.save(pickled, np.array([{"mean": 0}], dtype=object), allow_pickle=True)
    spec = ["--features", "spectrogram", "--no-norm"]
    weights = str(cnn.files["weights"])
    builder = ["--builder", "cnn_rnn_model", "--param", "filters=12", "--param", "units=32"]
    return {
        "not a Keras HDF5": ([str(plain), *spec], ["not a Keras model", "measurements"]),
        "truncated": ([str(truncated), *spec], ["truncated or corrupt HDF5"]),
        "weights do not fit": (
            [weights, *builder, *spec],
            ["'rnn'", "(12, 16)", "(12, 32)"],
        ),
        "output width": (
            [str(cnn.files["h5"]), *spec, "--labels", str(labels)],
            ["29 classes", "27 (26 symbols + blank)"],
        ),
        "unsupported layer": ([str(masking), *spec], ["'masking' (Masking) is not supported"]),
        "feature dims": (
            [str(cnn.files["savedmodel"]), "--features", "mfcc", "--no-norm"],
            ["161 features per frame", "mfcc gives 13"],
        ),
        "weights without builder": ([weights, *spec], ["weights only", "--builder"]),
        "pickled stats": (
            [str(cnn.files["h5"]), "--features", "spectrogram", "--norm-file", str(pickled)],
            ["pickled"],
        ),
        "stats of other features": (
            [str(cnn.files["h5"]), *spec[:2], "--norm-file", str(tmp / "13.json")],
            ["13 values", "161 dimensions"],
        ),
    }


def test_bad_input_one_line_exit_2_nothing_left(tmp_path, seeds, capsys):
    (tmp_path / "13.json").write_text(json.dumps({"mean": [0.0] * 13, "std": [1.0] * 13}))
    cases = _bad_inputs(tmp_path, seeds)
    capsys.readouterr()
    for case, (argv, expected) in cases.items():
        out = tmp_path / "out" / "model"
        code = edge_asr_main(["import", *argv, "--out", str(out), "--quiet"])
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code == 2, (case, err)
        assert len(err) == 1 and err[0].startswith("edge-asr import: error: "), (case, err)
        for text in expected:
            assert text in err[0], (case, err[0])
        assert not out.exists(), case
        leftovers = list((tmp_path / "out").glob(".*")) if (tmp_path / "out").exists() else []
        assert not leftovers, (case, leftovers)


def test_existing_directory_needs_overwrite(tmp_path, seeds, stats_file, capsys):
    seed = seeds("cnn_rnn_model")
    out = tmp_path / "model"
    argv = ["--features", "spectrogram", "--norm-file", str(stats_file)]
    assert run_import(seed.files["h5"], out, *argv) == 0
    before = (out / "model.json").read_text()
    assert run_import(seed.files["savedmodel"], out, *argv) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "model.json").read_text() == before
    assert run_import(seed.files["savedmodel"], out, *argv, "--overwrite") == 0
    assert json.loads((out / "model.json").read_text())["source"]["kind"] == "savedmodel"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_keras_version_defaults():
    from edge_asr.importing.importer import keras2_defaults

    assert keras2_defaults("2.0.5") and keras2_defaults("2.3.1")
    assert not any(keras2_defaults(v) for v in ("2.2.4-tf", "2.4.0", "2.21.0", "3.15.1", None))


# --------------------------------------------------------------------------- slow: everything


def _convert(model_dir: Path, out: Path, check, targets: list[str], tolerance=None, calib=None):
    from converters.convert import Options, convert_model_dir, resolve_targets
    from converters.tolerances import parse_overrides

    options = Options(
        targets=resolve_targets(targets),
        tolerance=parse_overrides(tolerance),
        long_seconds=LONG_SECONDS,
        timeout=300,
    )
    return convert_model_dir(model_dir, out, check, calib, options)


#: The feature-input fp32 variants, offline and streaming (bidirectional: offline only).
FP32 = ["tflite-fp32", "onnx-fp32", "tflite-fp32-stream", "onnx-fp32-stream"]


@pytest.mark.slow
@pytest.mark.parametrize("flavor", ["tf.keras", "keras2.0"])
@pytest.mark.parametrize("arch", list(SEEDS))
def test_every_seed_model_every_source_converts(
    tmp_path, seeds, check_data, stats_file, feature_config, arch, flavor
):
    """All five seed architectures, trained a few steps, saved four ways: each import equals
    tf_keras predict; the imported model converts with every fp32 variant passing the gate.
    (The imports of one model are the same function, checked to 1e-5 against tf_keras each:
    converting one of them stands for all, and keeps the test to minutes.)"""
    from converters.cli import failure_lines

    seed = seeds(arch, flavor)
    outs = []
    for kind in KINDS:
        out = import_seed(seed, kind, tmp_path / kind, stats_file, flavor)
        diff = check_import(seed, out, check_data.features, feature_config)
        print(f"{arch} {flavor} {kind}: parity {diff:.1e}")
        outs.append(out)
    outcome = _convert(outs[0], tmp_path / "bundle", check_data, FP32)
    assert not outcome.failed, failure_lines(outcome)
    passed = {a.name: f"{a.parity.max_abs_diff:.1e}" for a in outcome.artifacts}
    assert outcome.artifacts and all(a.passed for a in outcome.artifacts)
    streamable = arch != "bidirectional_rnn_model"
    assert len(outcome.artifacts) == len(FP32) // (1 if streamable else 2)
    print(f"{arch} {flavor}: gate {passed}")


@pytest.mark.slow
def test_imported_seed_model_full_matrix(tmp_path, seeds, check_data, stats_file, train_check):
    """Every conversion target for an imported seed model (weights-only file + builder). Three
    training steps leave the weights near random, so CER is noise: reduced precisions are
    held to a posterior bound, as tests/test_convert.py's full matrix does."""
    from converters.cli import failure_lines

    seed = seeds("cnn_rnn_model")
    out = import_seed(seed, "weights", tmp_path / "model", stats_file, "tf.keras")
    # every reduced precision: a posterior bound instead of CER; fp32 keeps its own bounds
    tolerance = ["*:delta_cer=none", "*:max_abs_diff=0.1"]
    tolerance += ["fp32:max_abs_diff=1e-4", "fp32-stream:max_abs_diff=1e-5"]
    outcome = _convert(
        out, tmp_path / "bundle", check_data, ["all,-audio"], tolerance, calib=train_check
    )
    assert not outcome.failed, failure_lines(outcome)
    assert len(outcome.artifacts) > 8 and all(a.passed for a in outcome.artifacts)
    print({a.name: f"{a.parity.max_abs_diff:.1e}" for a in outcome.artifacts})


@pytest.mark.slow
def test_keras3_hand_made_model_converts(tmp_path, check_data, stats_file):
    from converters.cli import failure_lines

    _hand_made_keras3(tmp_path / "hand.keras")
    out = tmp_path / "model"
    argv = ["--features", "spectrogram", "--norm-file", str(stats_file)]
    assert run_import(tmp_path / "hand.keras", out, *argv) == 0
    outcome = _convert(out, tmp_path / "bundle", check_data, FP32)
    assert not outcome.failed, failure_lines(outcome)
    stream = next(a for a in outcome.artifacts if a.streaming)
    assert stream.passed and stream.stream.window_frames == 16 + 6 - 2  # chunk + R - S
