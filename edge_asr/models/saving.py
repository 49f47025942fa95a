"""Save/load that keep ``output_length``: the metadata rides inside the ``.keras`` zip
(``edge_asr.json``), so the file alone is enough in a fresh process."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import keras

from edge_asr.models.builders import attach_metadata
from runtime.errors import EdgeASRError
from runtime.fileio import atomic_path

META_NAME = "edge_asr.json"


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` (``.keras``) atomically, its metadata included."""
    meta: dict[str, Any] = getattr(model, "edge_asr", None) or {}
    if not meta:
        raise EdgeASRError("model has no edge_asr metadata; build it with edge_asr.models")
    with atomic_path(path) as tmp:
        keras_tmp = tmp.with_suffix(".keras")
        model.save(keras_tmp)
        with zipfile.ZipFile(keras_tmp, "a") as zf:
            zf.writestr(META_NAME, json.dumps(meta, indent=2))
        os.replace(keras_tmp, tmp)


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The builder name, params and output_length rule stored in a ``.keras`` file."""
    try:
        with zipfile.ZipFile(path) as zf:
            return json.loads(zf.read(META_NAME))
    except FileNotFoundError:
        raise EdgeASRError(f"{path}: no such model file") from None
    except (zipfile.BadZipFile, KeyError) as exc:
        raise EdgeASRError(f"{path}: not an edge-asr .keras model ({exc})") from None


def load_model(path: str | os.PathLike, compile: bool = False) -> keras.Model:
    """Load a ``.keras`` model written by ``save_model``, with ``output_length`` restored."""
    meta = read_metadata(path)
    model = keras.models.load_model(Path(path), compile=compile)
    attach_metadata(model, meta)
    return model
