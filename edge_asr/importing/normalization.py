"""Feature normalization of an imported model: fitted on a manifest, read from a file, or off.

The seed fitted per-bin mean and (population) std on a sample of training utterances
(``AudioGenerator.fit_train``, 100 by default) and computed ``(x - mean) / (std + 1e-14)``,
which is ``runtime.features``' formula. A model trained on normalized features is wrong on raw
ones, so the choice is explicit (``--norm-from``, ``--norm-file``, ``--no-norm``) and recorded
in model.json (``source.normalization``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError
from runtime.features import FeatureConfig

#: The seed's ``k_samples``: utterances the statistics are fitted on.
DEFAULT_COUNT = 100
#: Key pairs accepted in JSON / .npz files: ours, and the seed's attribute names.
KEY_PAIRS = (("mean", "std"), ("feats_mean", "feats_std"))


class NormalizationError(EdgeASRError):
    """Normalization statistics that cannot be read or do not fit the features."""


@dataclass(frozen=True)
class Normalization:
    """Per-dimension statistics (or none) and how they were obtained (for model.json)."""

    mean: np.ndarray | None
    std: np.ndarray | None
    record: dict[str, Any] = field(default_factory=dict)

    def apply(self, config: FeatureConfig) -> FeatureConfig:
        if self.mean is None or self.std is None:
            return config.without_stats()
        return config.with_stats(self.mean, self.std)


def none() -> Normalization:
    return Normalization(None, None, {"from": "none"})


def _checked(mean: Any, std: Any, dim: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        mean = np.asarray(mean, np.float64).reshape(-1)
        std = np.asarray(std, np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise NormalizationError(f"{where}: mean and std must be lists of numbers") from None
    for name, value in (("mean", mean), ("std", std)):
        if value.size != dim:
            raise NormalizationError(
                f"{where}: {name} has {value.size} values, the features have {dim} dimensions"
            )
        if not np.all(np.isfinite(value)):
            raise NormalizationError(f"{where}: {name} contains NaN or Inf")
    if np.any(std < 0):
        raise NormalizationError(f"{where}: std has negative values")
    return mean, std


def _pair(data: Any, where: str) -> tuple[Any, Any]:
    keys = set(data.keys()) if hasattr(data, "keys") else set()
    for mean_key, std_key in KEY_PAIRS:
        if mean_key in keys and std_key in keys:
            return data[mean_key], data[std_key]
    found = ", ".join(sorted(keys)) or "none"
    raise NormalizationError(
        f"{where}: needs 'mean' and 'std' (or feats_mean/feats_std); has {found}"
    )


def from_file(path: str | os.PathLike, dim: int) -> Normalization:
    """Statistics from JSON (``{"mean": [...], "std": [...]}``, e.g. a features.json), ``.npz``
    (arrays ``mean`` and ``std``) or ``.npy`` (one ``(2, dim)`` array: mean, then std)."""
    from runtime.fileio import sha256_file

    path = Path(path)
    if not path.is_file():
        raise NormalizationError(f"{path}: no such normalization file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            try:
                data = json.loads(path.read_text(encoding="utf-8-sig"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise NormalizationError(f"{path}: not valid JSON ({exc})") from None
            mean, std = _pair(data, str(path))
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                mean, std = (np.asarray(a) for a in _pair(data, str(path)))
        elif suffix == ".npy":
            array = np.load(path, allow_pickle=False)
            if array.ndim != 2 or array.shape[0] != 2:
                raise NormalizationError(
                    f"{path}: holds an array of shape {array.shape}; expected (2, {dim}): "
                    "row 0 the mean, row 1 the std"
                )
            mean, std = array[0], array[1]
        else:
            raise NormalizationError(
                f"{path}: unknown normalization file type {suffix or '(none)'!r}; use .json, "
                ".npz or .npy"
            )
    except ValueError as exc:  # numpy: pickled objects, truncated files
        if isinstance(exc, EdgeASRError):
            raise
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "pickle" in text:
            text = "holds pickled Python objects (refused); store plain float arrays"
        raise NormalizationError(f"{path}: cannot read normalization statistics ({text})") from None
    except OSError as exc:
        raise NormalizationError(f"{path}: cannot read normalization statistics ({exc})") from None
    mean, std = _checked(mean, std, dim, str(path))
    return Normalization(
        mean, std, {"from": "file", "file": str(path), "sha256": sha256_file(path)}
    )


def from_manifest(
    manifest: str | os.PathLike,
    config: FeatureConfig,
    count: int = DEFAULT_COUNT,
    progress: bool = True,
) -> Normalization:
    """Fit mean/std on the first ``count`` usable utterances of ``manifest`` (through the one
    manifest loader: bad rows and unreadable audio are skipped and counted)."""
    from edge_asr.data.loading import load_set
    from runtime.features import fit_stats

    loaded = load_set(
        manifest,
        config.without_stats(),
        limit=count,
        normalize=False,
        need_text=False,
        progress="fitting normalization" if progress else None,
    )
    frames = int(sum(len(f) for f in loaded.features))
    if frames == 0:
        raise NormalizationError(f"{manifest}: no feature frames to fit normalization on")
    mean, std = fit_stats(loaded.features)
    record = {
        "from": "manifest",
        "manifest": str(manifest),
        "utterances": len(loaded.features),
        "frames": frames,
        "skipped": loaded.skipped.n,
    }
    return Normalization(mean, std, record)
