"""Save/load of the Keras model of a model directory or bundle.

The model's metadata (builder, params, ``output_length`` rule, streamable) has one home:
``model.json`` of the model directory (``runtime.formats.ModelMeta``), or the header of the
bundle the model was converted into. ``load_model`` attaches it. Files written before that rule
carried a copy inside the zip (``edge_asr.json``); they still load without ``meta``.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import keras

from edge_asr.models.builders import attach_metadata
from runtime.errors import EdgeASRError
from runtime.fileio import atomic_path
from runtime.formats import ModelDir, ModelMeta

LEGACY_META_NAME = "edge_asr.json"


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` (``.keras``) atomically."""
    if getattr(model, "meta", None) is None:
        raise EdgeASRError("model has no edge_asr metadata; build it with edge_asr.models")
    with atomic_path(path) as tmp:
        keras_tmp = tmp.with_suffix(".keras")
        model.save(keras_tmp)
        os.replace(keras_tmp, tmp)


def _legacy_metadata(path: Path) -> ModelMeta:
    try:
        with zipfile.ZipFile(path) as zf:
            return ModelMeta.from_dict(json.loads(zf.read(LEGACY_META_NAME)), str(path))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError):
        raise EdgeASRError(
            f"{path}: no model metadata: load it from its model directory (model.json) or bundle"
        ) from None


def load_model(
    path: str | os.PathLike, meta: ModelMeta | None = None, compile: bool = False
) -> keras.Model:
    """Load a ``.keras`` model and attach ``meta`` (from model.json or a bundle header)."""
    path = Path(path)
    if not path.is_file():
        raise EdgeASRError(f"{path}: no such model file")
    meta = meta or _legacy_metadata(path)
    try:
        model = keras.models.load_model(path, compile=compile)
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise EdgeASRError(f"{path}: cannot load the Keras model ({exc})") from None
    attach_metadata(model, meta)
    return model


def load_model_dir(path: str | os.PathLike) -> tuple[keras.Model, ModelDir]:
    """(Keras model with its metadata, the checked ModelDir) of a model directory."""
    folder = ModelDir.read(path)
    return load_model(folder.keras_file, folder.meta), folder
