"""What a source file is, and its model config and weights, read without tf_keras.

The kind is decided from the bytes, never from the file name: an HDF5 signature with a
``model_config`` attribute is a full Keras 2 / tf.keras model, one with ``layer_names`` is a
weights-only file; a zip holding ``config.json`` is a Keras 3 ``.keras`` model; a directory with
``saved_model.pb`` is a SavedModel (tf.keras writes the model config into its
``keras_metadata.pb``). Anything else fails with one line saying what the file is not.

Why no tf_keras: it is a test-only dependency (it needs the full ``tensorflow`` package), and
reading the config JSON and the weight arrays directly is what lets every Keras 2 difference be
handled in one place (``legacy``) instead of trusting a loader's defaults.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"

#: Source kinds and how they are described in messages and in model.json.
KINDS = {
    "hdf5-model": "Keras 2 / tf.keras HDF5 model",
    "hdf5-weights": "Keras 2 / tf.keras HDF5 weights",
    "keras3": "Keras 3 .keras model",
    "savedmodel": "tf.keras SavedModel",
}
EXPECTED = (
    "expected a Keras 2 / tf.keras HDF5 model or weights file (.h5), a Keras 3 .keras file or a "
    "tf.keras SavedModel directory"
)


class SourceError(EdgeASRError):
    """The source is not a model file this importer reads, or it is damaged."""


@dataclass
class LayerWeights:
    """One layer's stored weights, in the order the file lists them."""

    name: str
    arrays: list[np.ndarray]
    names: list[str]


@dataclass
class Source:
    """A read source: its kind, the legacy config and per-layer weights (HDF5, SavedModel) or
    the loaded Keras 3 model, and (SavedModel) the file's own graph to check the rebuild by."""

    path: Path
    kind: str
    keras_version: str | None = None
    config: dict[str, Any] | None = None
    weights: list[LayerWeights] = field(default_factory=list)
    keras3: Any = None
    reference: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def description(self) -> str:
        return KINDS[self.kind]

    @property
    def legacy(self) -> bool:
        """Written by Keras 2 (standalone or tf.keras): its configs use Keras 2 semantics."""
        return self.kind != "keras3"

    def weights_by_name(self) -> dict[str, LayerWeights]:
        return {w.name: w for w in self.weights}


def _text(value: Any) -> str:
    """HDF5 attributes are bytes in files written by Keras 2.0 and str in newer ones."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.bytes_):
        return bytes(value).decode("utf-8")
    return str(value)


def _names(value: Any) -> list[str]:
    return [_text(v) for v in np.asarray(value).reshape(-1)] if value is not None else []


def detect(path: str | os.PathLike) -> str:
    """The source kind of ``path`` (a key of ``KINDS``), or a ``SourceError`` saying what it is
    not. Cheap: reads a few bytes, one zip directory or the HDF5 root attributes."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"{path}: no such file or directory")
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "savedmodel"
        raise SourceError(
            f"{path}: a directory without saved_model.pb, not a SavedModel; {EXPECTED}"
        )
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise SourceError(f"{path}: empty file; {EXPECTED}")
    if head.startswith(ZIP_SIGNATURE):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError) as exc:
            raise SourceError(f"{path}: truncated or corrupt zip / .keras file ({exc})") from None
        if "config.json" not in names:
            raise SourceError(f"{path}: a zip file without config.json, not a .keras model")
        return "keras3"
    if head != HDF5_SIGNATURE:
        raise SourceError(f"{path}: not a Keras model file; {EXPECTED}")
    with _open_hdf5(path) as f:
        attrs = set(f.attrs)
        if "model_config" in attrs:
            return "hdf5-model"
        if "layer_names" in attrs:
            return "hdf5-weights"
        if "layers" in f and "vars" in f:
            raise SourceError(
                f"{path}: a Keras 3 .weights.h5 file; import the whole model (.keras) instead"
            )
        keys = ", ".join(sorted(f.keys())[:5]) or "none"
        raise SourceError(
            f"{path}: an HDF5 file but not a Keras model or weights file (no model_config or "
            f"layer_names attribute; top-level keys: {keys})"
        )


class _open_hdf5:
    """``h5py.File`` whose open and read errors become one-line SourceErrors."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Any:
        import h5py

        try:
            self.file = h5py.File(self.path, "r")
        except OSError as exc:
            raise SourceError(
                f"{self.path}: truncated or corrupt HDF5 file ({_first_line(exc)})"
            ) from None
        return self.file

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        self.file.close()
        if isinstance(exc, OSError | KeyError | ValueError | RuntimeError) and not isinstance(
            exc, EdgeASRError
        ):
            raise SourceError(
                f"{self.path}: truncated or corrupt HDF5 file ({_first_line(exc)})"
            ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_source(path: str | os.PathLike) -> Source:
    """Detect and read ``path`` (see the module doc). Raises ``SourceError``."""
    path = Path(path)
    kind = detect(path)
    if kind in ("hdf5-model", "hdf5-weights"):
        return _read_hdf5(path, kind)
    if kind == "savedmodel":
        return _read_savedmodel(path)
    return _read_keras3(path)


# --------------------------------------------------------------------------- HDF5


def _weight_groups(group: Any) -> list[LayerWeights]:
    """Keras 2's layout: ``layer_names`` on the group, ``weight_names`` on each layer's
    subgroup, the arrays at those names (``rnn/gru_cell/kernel:0``, ``rnn/kernel:0``...)."""
    out = []
    for name in _names(group.attrs.get("layer_names")):
        sub = group[name]
        weight_names = _names(sub.attrs.get("weight_names"))
        arrays = [np.asarray(sub[w]) for w in weight_names]
        out.append(LayerWeights(name, arrays, weight_names))
    return out


def _read_hdf5(path: Path, kind: str) -> Source:
    with _open_hdf5(path) as f:
        version = f.attrs.get("keras_version")
        if kind == "hdf5-weights":
            text = _text(version) if version is not None else None
            return Source(path, kind, text, None, _weight_groups(f))
        try:
            config = json.loads(_text(f.attrs["model_config"]))
        except json.JSONDecodeError as exc:
            raise SourceError(f"{path}: model_config is not valid JSON ({exc})") from None
        if "model_weights" not in f:
            raise SourceError(f"{path}: a model config without weights (no model_weights group)")
        group = f["model_weights"]
        version = version if version is not None else group.attrs.get("keras_version")
        weights = _weight_groups(group)
    return Source(path, kind, _text(version) if version is not None else None, config, weights)


# --------------------------------------------------------------------------- SavedModel


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _proto_fields(buf: bytes) -> Iterator[tuple[int, Any]]:
    """(field number, value) of a protobuf message: enough wire format for keras_metadata.pb
    (its schema is tf_keras's ``SavedMetadata``, which plain TensorFlow does not ship)."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
            if pos > len(buf):
                raise ValueError("truncated field")
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, value


def saved_metadata(data: bytes) -> dict[str, tuple[str, str]]:
    """``keras_metadata.pb`` as {node_path: (identifier, metadata JSON)}.

    ``SavedMetadata { repeated SavedObject nodes = 1; }``, ``SavedObject { int32 node_id = 2;
    string node_path = 3; string identifier = 4; string metadata = 5; ... }``."""
    nodes = {}
    for number, node in _proto_fields(data):
        if number != 1:
            continue
        fields = {n: v for n, v in _proto_fields(node) if n in (3, 4, 5)}
        path = fields.get(3, b"").decode("utf-8")
        nodes[path] = (fields.get(4, b"").decode("utf-8"), fields.get(5, b"").decode("utf-8"))
    return nodes


_LAYER_PATH = re.compile(r"^root\.(layer|layer_with_weights)-\d+$")


def _read_savedmodel(path: Path) -> Source:
    meta_file = path / "keras_metadata.pb"
    if not meta_file.is_file():
        raise SourceError(
            f"{path}: a SavedModel without keras_metadata.pb, so no Keras model in it (tf.keras "
            "model.save writes one; a Keras 3 model.export() archive holds graphs only: import "
            "the .keras file instead)"
        )
    try:
        nodes = saved_metadata(meta_file.read_bytes())
        root = json.loads(nodes["root"][1])
        config = root["model_config"]
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: unreadable keras_metadata.pb ({_first_line(exc)})") from None
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:  # TensorFlow raises many kinds for a damaged SavedModel
        raise SourceError(f"{path}: cannot load the SavedModel ({_first_line(exc)})") from None
    weights = []
    for node_path, (_, metadata) in nodes.items():
        if not _LAYER_PATH.match(node_path):
            continue
        obj = loaded
        for part in node_path.split(".")[1:]:
            obj = getattr(obj, part, None)
        variables = list(getattr(obj, "variables", None) or [])
        name = json.loads(metadata).get("name", node_path)
        arrays = [np.asarray(v.numpy()) for v in variables]
        weights.append(LayerWeights(name, arrays, [v.name for v in variables]))
    reference = None
    serving = loaded.signatures.get("serving_default")
    if serving is not None and len(serving.structured_input_signature[1]) == 1:
        (key,) = serving.structured_input_signature[1]

        def reference(x: np.ndarray) -> np.ndarray:
            (out,) = serving(**{key: tf.constant(x, tf.float32)}).values()
            return np.asarray(out)

    return Source(path, "savedmodel", root.get("keras_version"), config, weights, None, reference)


# --------------------------------------------------------------------------- Keras 3


def _read_keras3(path: Path) -> Source:
    import keras

    import edge_asr.models  # noqa: F401  (registers the builders' custom activations)

    version = None
    try:
        with zipfile.ZipFile(path) as zf:
            if "metadata.json" in zf.namelist():
                version = json.loads(zf.read("metadata.json")).get("keras_version")
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SourceError(
            f"{path}: truncated or corrupt .keras file ({_first_line(exc)})"
        ) from None
    if version and not str(version).startswith("3"):
        raise SourceError(
            f"{path}: a tf.keras {version} .keras file (Keras 2 configs in Keras 3's container); "
            "save it with tf.keras as HDF5 (model.save('x.h5')) or a SavedModel and import that"
        )
    keras_file = path
    if path.suffix != ".keras":  # Keras 3 insists on the suffix
        import shutil
        import tempfile

        tmp = Path(tempfile.mkdtemp(prefix="edge-asr-import-"))
        keras_file = tmp / "model.keras"
        shutil.copyfile(path, keras_file)
    try:
        model = keras.saving.load_model(keras_file, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises ValueError, TypeError, KeyError, zip and h5 errors
        raise SourceError(
            f"{path}: cannot load the Keras 3 model ({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    finally:
        if keras_file != path:
            import shutil

            shutil.rmtree(keras_file.parent, ignore_errors=True)
    return Source(path, "keras3", version, keras3=model)
