"""The whole import: read the source, rebuild it as a Keras 3 chain model, check it, pick the
features, normalization and labels, and write a model directory (docs/formats.md) that
``convert``, ``evaluate`` and ``validate`` take as they take ``train``'s.

Cheap checks run first (source, layers, lengths, labels, feature dims), fitting normalization
on a manifest last; the directory is written into a temporary sibling and renamed into place,
so a failed import leaves no model directory behind (and ``--overwrite`` keeps the old one
whole until the new one is complete).
"""

from __future__ import annotations

import datetime as dt
import inspect
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_asr.importing import analysis, legacy, normalization
from edge_asr.importing.labels import LabelsError, check_width, read_labels
from edge_asr.importing.sources import Source, SourceError, read_source
from edge_asr.importing.weights import WeightError, assign, gru_bias_is_1d, pair_by_order
from runtime.errors import EdgeASRError
from runtime.features import FeatureConfig
from runtime.fileio import replace_dir
from runtime.formats import Labels, ModelDir, ModelMeta

#: Largest |difference| allowed between the rebuilt model and a SavedModel's own graph (the
#: gate's fp32 bound; the same math in float32 differs by ~1e-7).
SELF_CHECK_TOLERANCE = 1e-4


class ImportFailed(EdgeASRError):
    """An import that cannot produce a correct model directory."""


@dataclass(frozen=True)
class NormChoice:
    """Where the normalization statistics come from: ``manifest``, ``file`` or ``none``."""

    kind: str
    path: Path | None = None
    count: int = normalization.DEFAULT_COUNT


@dataclass
class ImportOptions:
    features: FeatureConfig
    norm: NormChoice
    builder: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    labels: Path | None = None
    overwrite: bool = False
    progress: bool = True


@dataclass
class ImportResult:
    out: Path
    source: Source
    meta: ModelMeta
    features: FeatureConfig
    labels: Labels
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- rebuilding


def keras2_defaults(version: str | None) -> bool:
    """Whether a file comes from standalone Keras 2.0-2.3, whose GRU/LSTM default recurrent
    activation was (Keras 2's) hard_sigmoid. tf.keras (``-tf`` versions) and Keras >= 2.4
    (tf.keras under another name) default to sigmoid."""
    if not version or version.endswith("-tf") or "tf" in version:
        return False
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return False
    return major == 2 and minor < 4


def _stored_name(entry: dict[str, Any]) -> str:
    config = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    return str(entry.get("name") or config.get("name") or "")


def _model_name(name: str, path: Path) -> str:
    if legacy.is_generic_name(name):
        name = path.stem if path.is_file() else path.name
    return legacy.layer_name(name.replace(" ", "_")) or "imported"


def rebuild_legacy(source: Source, notes: list[str]) -> tuple[Any, str]:
    """(Keras 3 model, name) of a full Keras 2 model: each layer rebuilt by ``legacy`` and
    given its stored weights by name."""
    import keras

    assert source.config is not None
    name, dim, entries, dropped = legacy.model_chain(source.config)
    if dropped:
        notes.append(f"left out the training layers after the softmax: {', '.join(dropped)}")
    stored = source.weights_by_name()
    x = inputs = keras.Input(shape=(None, dim), name="the_input")
    pairs = []
    for entry in entries:
        layer = legacy.keras3_layer(entry, legacy=True)
        x = layer(x)
        original = _stored_name(entry)
        pairs.append((layer, stored.get(original) or stored.get(layer.name)))
    model = keras.Model(inputs, x, name=_model_name(name, source.path))
    for layer, weights in pairs:
        if weights is None:
            if layer.weights:
                raise WeightError(f"layer {layer.name!r}: the file stores no weights for it")
            continue
        if weights.arrays or layer.weights:
            assign(layer, weights)
    return model, model.name


def rebuild_keras3(source: Source, notes: list[str]) -> tuple[Any, str]:
    """A fresh copy of a Keras 3 model with input ``the_input (None, None, F)``: the same chain
    of layers, each re-created from its config with its weights."""
    import keras

    from edge_asr.models.chain import chain_layers, check_supported
    from edge_asr.models.twin import copy_layer

    original = source.keras3
    check_supported(original)
    dim = original.inputs[0].shape[-1]
    if len(original.inputs[0].shape) != 3 or dim is None:
        raise ImportFailed(
            f"the model input has shape {tuple(original.inputs[0].shape)}; expected "
            "(batch, time, features)"
        )
    x = inputs = keras.Input(shape=(None, int(dim)), name="the_input")
    for layer in chain_layers(original):
        x = copy_layer(layer, x)
    model = keras.Model(inputs, x, name=_model_name(original.name, source.path))
    return model, model.name


def rebuild_builder(
    source: Source, builder: str, params: dict[str, Any], input_dim: int, notes: list[str]
) -> tuple[Any, dict[str, Any]]:
    """(model, its params) for a weights-only file: the registered ``builder`` with
    ``params``, the stored weights assigned in order with shape checks.

    Keras 2 defaults are settled at the root: ``reset_after`` from the file's GRU bias shapes
    (unless given), and standalone Keras 2.0-2.3's hard_sigmoid recurrent activation (Keras 2's
    formula) when the file says it comes from there."""
    from edge_asr.models.registry import REGISTRY, build

    if builder not in REGISTRY:
        raise ImportFailed(f"unknown builder {builder!r}; choose from {', '.join(REGISTRY)}")
    accepted = inspect.signature(REGISTRY[builder]).parameters
    params = dict(params)
    params.setdefault("input_dim", input_dim)
    if "recurrent_activation" in accepted:
        given = params.get("recurrent_activation")
        if given == "hard_sigmoid":
            params["recurrent_activation"] = "keras2_hard_sigmoid"
            notes.append("recurrent_activation hard_sigmoid: Keras 2's (clip(0.2 x + 0.5, 0, 1))")
        elif given is None and keras2_defaults(source.keras_version):
            params["recurrent_activation"] = "keras2_hard_sigmoid"
            notes.append(
                f"the file comes from Keras {source.keras_version}, whose GRU/LSTM default "
                "recurrent activation is hard_sigmoid: using Keras 2's; pass --param "
                "recurrent_activation=sigmoid if the model set sigmoid"
            )

    def make(p: dict[str, Any]) -> Any:
        try:
            return build(builder, **p)
        except (ValueError, TypeError) as exc:
            raise ImportFailed(f"--builder {builder}: {exc}") from None

    model = make(params)
    pairs = pair_by_order(model, source.weights, builder)
    if "reset_after" in accepted and "reset_after" not in params and gru_bias_is_1d(pairs):
        params["reset_after"] = False
        notes.append("GRU biases are 1-D: reset_after=False (standalone Keras 2's GRU)")
        model = make(params)
        pairs = pair_by_order(model, source.weights, builder)
    for i, (layer, stored) in enumerate(pairs):
        try:
            assign(layer, stored)
        except WeightError as exc:
            if i == 0:
                exc = WeightError(
                    f"{exc}; the features give {input_dim} values per frame (--features and "
                    "its options must match the model's input)"
                )
            raise exc from None
    return model, dict(model.meta.params)


def self_check(model: Any, source: Source, lengths: list[int]) -> float | None:
    """Max |difference| between the rebuilt model and the SavedModel's own graph on random
    inputs of a few lengths (None without a graph); ``ImportFailed`` above the tolerance."""
    if source.reference is None:
        return None
    rng = np.random.default_rng(0)
    dim = int(model.inputs[0].shape[-1])
    worst = 0.0
    for n in lengths[-2:]:
        x = rng.standard_normal((1, n, dim)).astype(np.float32)
        ours = np.asarray(model(x, training=False))
        theirs = source.reference(x)
        if ours.shape != theirs.shape:
            raise ImportFailed(
                f"the rebuilt model gives {ours.shape} for {n} frames, the SavedModel's graph "
                f"{theirs.shape}"
            )
        worst = max(worst, float(np.max(np.abs(ours - theirs))))
    if worst > SELF_CHECK_TOLERANCE:
        raise ImportFailed(
            f"the rebuilt model differs from the SavedModel's own graph by {worst:.3g} "
            f"(> {SELF_CHECK_TOLERANCE:g}): a layer setting was not carried over"
        )
    return worst


# --------------------------------------------------------------------------- the job


def _check_out(out: Path, overwrite: bool) -> None:
    from edge_asr.cli_types import output_dir

    output_dir(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ImportFailed(f"{out}: exists and is not empty (pass --overwrite to replace it)")


def _write(out: Path, model: Any, meta: ModelMeta, features: FeatureConfig, labels: Labels) -> None:
    from edge_asr.models import load_model, save_model
    from edge_asr.models.builders import attach_metadata

    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    try:
        folder = ModelDir(build, meta, features, labels)
        folder.write()
        attach_metadata(model, meta)
        save_model(model, folder.keras_file)
        # What convert/evaluate will load must be this model: read it back and compare.
        again = ModelDir.read(build)
        reloaded = load_model(again.keras_file, again.meta)
        n = meta.output_length.shortest_input() + 7
        x = np.random.default_rng(1).standard_normal((1, n, features.dim)).astype(np.float32)
        diff = np.max(np.abs(np.asarray(reloaded(x)) - np.asarray(model(x))))
        if not diff <= 1e-6:
            raise ImportFailed(f"the saved model.keras differs from the imported model ({diff})")
        replace_dir(build, out)
    finally:
        shutil.rmtree(build, ignore_errors=True)


def import_model(
    source_path: str | os.PathLike, out: str | os.PathLike, options: ImportOptions
) -> ImportResult:
    """Import ``source_path`` into the model directory ``out`` (see the module doc)."""
    from runtime.fileio import sha256_file

    out = Path(out)
    _check_out(out, options.overwrite)
    source = read_source(source_path)
    notes: list[str] = []
    features = options.features.without_stats()
    if source.kind == "hdf5-weights":
        if not options.builder:
            raise ImportFailed(
                f"{source.path}: holds weights only; give --builder NAME (see `edge-asr models`) "
                "and the --param values the model was built with"
            )
        model, params = rebuild_builder(
            source, options.builder, options.params, features.dim, notes
        )
        name = options.builder
    else:
        if options.builder or options.params:
            raise ImportFailed(
                f"{source.path}: a full model ({source.description}) carries its architecture; "
                "--builder/--param are for weights-only files"
            )
        rebuild = rebuild_keras3 if source.kind == "keras3" else rebuild_legacy
        model, name = rebuild(source, notes)
        params = {}
    analysis.check_structure(model)
    rule = analysis.length_rule(model)
    lengths = analysis.check_length_rule(model, rule)
    dim, classes = int(model.inputs[0].shape[-1]), int(model.outputs[0].shape[-1])
    if not params:
        params = {"input_dim": dim, "output_dim": classes}
    labels = Labels.default() if options.labels is None else read_labels(options.labels)
    check_width(labels, classes, str(options.labels) if options.labels else "the default labels")
    if dim != features.dim:
        raise ImportFailed(
            f"the model takes {dim} features per frame but --features {features.kind} gives "
            f"{features.dim}" + _dim_hint(dim)
        )
    diff = self_check(model, source, lengths)
    norm = _normalization(options, features)
    features = norm.apply(features)
    record: dict[str, Any] = {
        "kind": source.kind,
        "file": str(source.path),
        "sha256": sha256_file(source.path) if source.path.is_file() else None,
        "keras_version": source.keras_version,
        "imported": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "normalization": norm.record,
        "labels": str(options.labels) if options.labels else "default",
        "checked_lengths": lengths,
    }
    if diff is not None:
        record["savedmodel_max_abs_diff"] = diff
    if notes:
        record["notes"] = list(notes)
    record = {k: v for k, v in record.items() if v is not None}
    meta = ModelMeta(name, params, rule, analysis.is_causal(model), source=record)
    _write(out, model, meta, features, labels)
    return ImportResult(out, source, meta, features, labels, notes)


def _dim_hint(dim: int) -> str:
    if dim == FeatureConfig.spectrogram().dim:
        return " (161 is the seed's spectrogram: --features spectrogram)"
    if dim == FeatureConfig.mfcc().dim:
        return " (13 is the seed's MFCC: --features mfcc)"
    return " (set --n-mfcc, or --max-freq/--window-ms for spectrograms)"


def _normalization(options: ImportOptions, features: FeatureConfig) -> normalization.Normalization:
    choice = options.norm
    if choice.kind == "none":
        return normalization.none()
    if choice.kind == "file":
        assert choice.path is not None
        return normalization.from_file(choice.path, features.dim)
    if choice.kind == "manifest":
        assert choice.path is not None
        return normalization.from_manifest(choice.path, features, choice.count, options.progress)
    raise ImportFailed(f"unknown normalization source {choice.kind!r}")


__all__ = [
    "ImportFailed",
    "ImportOptions",
    "ImportResult",
    "LabelsError",
    "NormChoice",
    "SourceError",
    "import_model",
]
