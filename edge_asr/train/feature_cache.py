"""Training features on disk: computed once, then memory-mapped utterance by utterance.

Held in RAM, features cost ~1.3 GB per hour of audio (161-dim spectrograms); on disk, memory
mapped, a training process touches only the batch it is padding, so its peak memory stays flat
as the corpus grows and a second run skips featurization altogether.

One entry per (manifest rows and their audio, feature config, normalization, dtype, shard,
``CACHE_VERSION``), a folder ``CACHE/<manifest stem>-<key>/``:

* ``shard-0000.npy``, ...: every kept utterance's normalized features end to end, (frames, dim)
* ``index.npz``: per kept utterance its manifest line, shard, first frame and frame count
* ``meta.json``: the feature config with its stats, the audio rows skipped (replayed on reuse
  so counts and messages are the same), the build time

The key hashes, for every selected row, its manifest line, absolute audio path, size and
mtime_ns: a stat, not a content hash, because reuse must not read the audio it exists to avoid
reading (10 h is 1.1 GB of WAV), and re-synthesized or replaced audio changes size or mtime.
Texts are not cached (labels come from the manifest every run), so fixing a transcript does not
re-featurize. Writes are atomic: an entry is built in a ``.tmp-*`` folder with its meta.json
and renamed into place, so an interrupted build never leaves an entry that reads as complete.
Stale entries are not evicted: delete the folder to reclaim the space.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_asr.data.loading import BAD_AUDIO, Rows, Skipped, extract_all, usable_rows
from edge_asr.data.manifest import ManifestError, Utterance, manifest_rows
from runtime.errors import EdgeASRError
from runtime.features import FeatureConfig, normalize

CACHE_VERSION = 1  # bump when the layout or the way features are computed changes
CACHE_DIRNAME = ".edge-asr-cache"
FORMAT = "edge-asr-feature-cache"
_HEADER = 128  # bytes of .npy header, rewritten with the final shape when a shard closes
_SHARD_BYTES = 256 << 20
_UMASK = os.umask(0)
os.umask(_UMASK)

# Utterances featurized by this process (tests count it to prove a reuse reads no audio).
FEATURIZED = {"utterances": 0}

# ``gather(x)``: every worker's ``x`` stacked in worker order (one row on one machine).
Gather = Callable[[np.ndarray], np.ndarray]


class FeatureCacheError(EdgeASRError):
    """The feature cache cannot be written or read."""


def default_cache_dir(train_manifest: str | os.PathLike) -> Path:
    """Beside the training manifest: the corpus and its features travel (and vanish) together,
    every model trained on that corpus shares them, and a model directory stays what
    docs/formats.md says it is."""
    return Path(train_manifest).resolve().parent / CACHE_DIRNAME


# --- streaming statistics --------------------------------------------------------------------


@dataclass
class Moments:
    """Frame count, mean and sum of squared deviations, merged one array at a time.

    The same Chan update, in the same order, as ``runtime.features.fit_stats``, so one worker
    gets bit-identical stats without ever holding the set; ``vector``/``from_vector`` let
    workers exchange their shards' moments.
    """

    count: int = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None

    def add(self, arr: np.ndarray) -> None:
        a = np.asarray(arr, dtype=np.float64)
        n_b = a.shape[0]
        if n_b == 0:
            if self.mean is None:
                self.mean, self.m2 = np.zeros(a.shape[1]), np.zeros(a.shape[1])
            return
        self.merge(Moments(n_b, a.mean(axis=0), ((a - a.mean(axis=0)) ** 2).sum(axis=0)))

    def merge(self, other: Moments) -> None:
        if other.count == 0:
            if self.mean is None and other.mean is not None:
                self.mean, self.m2 = np.zeros_like(other.mean), np.zeros_like(other.mean)
            return
        if self.mean is None or self.m2 is None or self.count == 0:
            self.count, self.mean, self.m2 = other.count, other.mean, other.m2
            return
        assert other.mean is not None and other.m2 is not None
        total = self.count + other.count
        delta = other.mean - self.mean
        self.mean = self.mean + delta * (other.count / total)
        self.m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / total)
        self.count = total

    def vector(self, dim: int) -> np.ndarray:
        zeros = np.zeros(dim)
        mean = zeros if self.mean is None else self.mean
        m2 = zeros if self.m2 is None else self.m2
        return np.concatenate([[float(self.count)], mean, m2])

    @classmethod
    def from_vector(cls, v: np.ndarray) -> Moments:
        dim = (len(v) - 1) // 2
        return cls(int(np.rint(v[0])), np.array(v[1 : 1 + dim]), np.array(v[1 + dim :]))

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is None or self.m2 is None or self.count == 0:
            raise FeatureCacheError("cannot fit feature statistics: no frames")
        return self.mean, np.sqrt(self.m2 / self.count)


# --- shards ----------------------------------------------------------------------------------


def _npy_header(frames: int, dim: int, dtype: np.dtype) -> bytes:
    """A version-1.0 .npy header padded to exactly ``_HEADER`` bytes."""
    descr = np.lib.format.dtype_to_descr(dtype)
    text = repr({"descr": descr, "fortran_order": False, "shape": (frames, dim)})
    body = text.ljust(_HEADER - 10 - 1) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin1")


def shard_name(prefix: str, number: int) -> str:
    return f"{prefix}-{number:04d}.npy"


class ShardWriter:
    """Appends (T, dim) arrays to .npy shards with plain writes (not a writable memmap, whose
    dirty pages would count in this process's memory) and closes each with its real shape."""

    def __init__(self, folder: Path, prefix: str, dim: int, dtype: Any) -> None:
        self.folder, self.prefix, self.dim = folder, prefix, dim
        self.dtype = np.dtype(dtype)
        self.number, self.frames, self.fh = -1, 0, None

    def _roll(self) -> None:
        self.close()
        self.number += 1
        self.frames = 0
        self.fh = open(self.folder / shard_name(self.prefix, self.number), "wb")  # noqa: SIM115
        self.fh.write(b"\0" * _HEADER)

    def write(self, arr: np.ndarray) -> tuple[int, int]:
        """(shard, first frame) where ``arr`` now lies."""
        row_bytes = self.dim * self.dtype.itemsize
        if self.fh is None or (self.frames and (self.frames + len(arr)) * row_bytes > _SHARD_BYTES):
            self._roll()
        assert self.fh is not None
        where = (self.number, self.frames)
        self.fh.write(np.ascontiguousarray(arr, self.dtype).tobytes())
        self.frames += len(arr)
        return where

    def close(self) -> None:
        if self.fh is not None:
            self.fh.seek(0)
            self.fh.write(_npy_header(self.frames, self.dim, self.dtype))
            self.fh.close()
            self.fh = None


def _read(path: Path, dtype: np.dtype, dim: int, start: int, frames: int) -> np.ndarray:
    """Rows of a shard by a plain read (the build's second pass: nothing stays mapped)."""
    offset = _HEADER + start * dim * dtype.itemsize
    return np.fromfile(path, dtype, frames * dim, offset=offset).reshape(frames, dim)


# --- the cached set --------------------------------------------------------------------------


@dataclass
class FeatureSet:
    """A manifest's kept utterances with their features on disk, in manifest order.

    ``features(i)`` maps just that utterance (a view of a fresh ``np.memmap``, unmapped once
    dropped), so memory follows the batch, not the set.
    """

    folder: Path
    config: FeatureConfig  # with the stats the features were normalized with (if any)
    dtype: np.dtype
    utterances: list[Utterance]
    texts: list[str]
    lines: list[int]
    shards: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    skipped: Skipped
    built: bool = False  # featurized in this run (False: reused)
    build_seconds: float = 0.0  # of the build, this run's or the one reused
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.lines)

    def features(self, i: int) -> np.ndarray:
        n, dim = int(self.lengths[i]), self.config.dim
        if n == 0:
            return np.zeros((0, dim), self.dtype)
        offset = _HEADER + int(self.starts[i]) * dim * self.dtype.itemsize
        path = self.folder / shard_name("shard", int(self.shards[i]))
        return np.memmap(path, self.dtype, "r", offset, (n, dim))

    @property
    def nbytes(self) -> int:
        """Bytes of this entry on disk."""
        return sum(f.stat().st_size for f in self.folder.iterdir())


def _all_rows(manifest: str | os.PathLike) -> list[list[Any]]:
    """``_fingerprint`` of every parseable row of the manifest (no policy, nothing printed)."""
    return _fingerprint(
        [(n, row, "") for n, row in manifest_rows(manifest) if not isinstance(row, str)]
    )


def _fingerprint(wanted: list[tuple[int, Utterance, str]]) -> list[list[Any]]:
    """(line, path, size, mtime_ns) of every selected row's audio (-1s when it is missing)."""
    out = []
    for number, utt, _ in wanted:
        try:
            st = os.stat(utt.path)
            out.append([number, str(utt.path), st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([number, str(utt.path), -1, -1])
    return out


def _key(
    rows: list[list[Any]], config: FeatureConfig, norm: Any, dtype: np.dtype, shard: Any
) -> str:
    inputs = {
        "version": CACHE_VERSION,
        "features": config.without_stats().to_dict(),
        "normalization": norm,
        "dtype": dtype.name,
        "shard": list(shard),
        "rows": rows,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]


def _read_meta(folder: Path) -> dict[str, Any] | None:
    """The entry's meta, or None when there is no complete entry of this version."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(meta, dict) and meta.get("format") == FORMAT
    return meta if ok and meta.get("version") == CACHE_VERSION else None


def cached_set(
    manifest: str | os.PathLike,
    config: FeatureConfig,
    cache_dir: str | os.PathLike,
    *,
    fit: bool = False,
    dtype: Any = np.float32,
    shard: tuple[int, int] = (0, 1),
    gather: Gather | None = None,
    jobs: int = 1,
    strict: bool = False,
    progress: str | None = None,
) -> FeatureSet:
    """``manifest``'s features from the cache in ``cache_dir``, built there first if needed.

    ``fit``: normalize with mean/std fitted on this set (streamed, over every worker's shard
    through ``gather``), else with ``config``'s stats (none: raw). ``shard=(k, n)`` keeps this
    worker's rows (``usable_rows``). Bad rows and audio are skipped and counted as
    ``load_set`` does (an error under ``strict``); raises a ManifestError when none is usable.
    """
    gather = gather or (lambda x: np.asarray(x, np.float64)[None])
    rows = usable_rows(manifest, strict=strict, shard=shard)
    dtype = np.dtype(dtype)
    if fit:
        # Every worker's stats depend on every shard: key on all of them.
        everyone = _fingerprint(rows.wanted) if shard[1] == 1 else _all_rows(manifest)
        norm: Any = {"fit": True, "rows": _key(everyone, config, None, dtype, ())}
    else:
        norm = {"mean": config.mean, "std": config.std} if config.normalized else None
    key = _key(_fingerprint(rows.wanted), config, norm, dtype, shard)
    cache_dir = Path(cache_dir)
    folder = cache_dir / f"{Path(manifest).stem}-{key}"
    meta = _read_meta(folder)
    built = False
    # Workers fitting stats together must all reuse or all rebuild (the build's gather).
    if fit and gather(np.array([0.0 if meta else 1.0])).sum() > 0:
        meta = None
    if meta is None:
        meta = _build(rows, config, folder, fit, dtype, shard, gather, jobs, progress)
        built = True
    return _open(folder, meta, rows, manifest, built)


def _open(folder: Path, meta: dict, rows: Rows, manifest: Any, built: bool) -> FeatureSet:
    for reason, where, detail in meta["skipped"]:
        if not built:  # the build reported them already
            rows.reject(reason, where, detail)
    with np.load(folder / "index.npz") as npz:
        index = {name: npz[name] for name in npz.files}
    by_line = {number: (utt, text) for number, utt, text in rows.wanted}
    lines = [int(n) for n in index["lines"]]
    if not lines:
        raise ManifestError(f"no usable utterances in {manifest}: {rows.skipped.why()}")
    return FeatureSet(
        folder=folder,
        config=FeatureConfig.from_dict(meta["features"]),
        dtype=np.dtype(meta["dtype"]),
        utterances=[by_line[n][0] for n in lines],
        texts=[by_line[n][1] for n in lines],
        lines=lines,
        shards=index["shards"],
        starts=index["starts"],
        lengths=index["lengths"],
        skipped=rows.skipped,
        built=built,
        build_seconds=float(meta["seconds"]),
        meta=meta,
    )


def _build(
    rows: Rows,
    config: FeatureConfig,
    folder: Path,
    fit: bool,
    dtype: np.dtype,
    shard: tuple[int, int],
    gather: Gather,
    jobs: int,
    progress: str | None,
) -> dict[str, Any]:
    """Featurize ``rows`` into a temp folder and rename it to ``folder``; returns its meta.

    Fitting takes two passes: raw float32 features to temp shards while the moments add up,
    then each normalized into the final shards (the raw ones deleted). With known stats, one.
    """
    from edge_asr.progress import make_progress

    start = time.monotonic()
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{folder.name}-", dir=folder.parent))
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700; others may share the corpus
    except OSError as exc:
        raise FeatureCacheError(
            f"cannot write the feature cache in {folder.parent} ({exc}); choose another with "
            "--cache DIR"
        ) from None
    try:
        raw_config = config.without_stats()
        paths = [str(u.path) for _, u, _ in rows.wanted]
        seconds = sum(u.duration for _, u, _ in rows.wanted)
        stats_config = None if fit else config
        first = ShardWriter(
            tmp, "raw" if fit else "shard", config.dim, np.float32 if fit else dtype
        )
        moments = Moments()
        kept: list[tuple[int, int, int, int]] = []  # line, shard, start, length
        skipped: list[list[str]] = []
        with make_progress(transient=True, disable=progress is None) as bar:
            task = bar.add_task(progress or "", total=len(paths), info="")
            results = extract_all(paths, raw_config, jobs, seconds, lambda n: bar.advance(task, n))
            for i, feats, reason, detail in results:
                number = rows.wanted[i][0]
                FEATURIZED["utterances"] += 1
                if feats is None:
                    where = f"{rows.name} line {number}"
                    rows.reject(reason or BAD_AUDIO, where, detail or paths[i])
                    skipped.append([reason or BAD_AUDIO, where, detail or paths[i]])
                    continue
                if fit:
                    moments.add(feats)
                    out = feats
                else:
                    out = normalize(feats, config) if config.normalized else feats
                kept.append((number, *first.write(out), len(feats)))
        first.close()
        if fit:
            everyone = Moments()
            for v in gather(moments.vector(config.dim)):
                everyone.merge(Moments.from_vector(v))
            stats_config = config.with_stats(*everyone.stats())
            kept = _normalize_shards(tmp, kept, stats_config, dtype)
        meta = {
            "format": FORMAT,
            "version": CACHE_VERSION,
            "features": (stats_config or config).to_dict(),
            "dtype": dtype.name,
            "shard": list(shard),
            "utterances": len(kept),
            "frames": int(sum(k[3] for k in kept)),
            "skipped": skipped,
            "seconds": round(time.monotonic() - start, 2),
        }
        table = np.array(kept, np.int64).reshape(-1, 4)
        np.savez(
            tmp / "index.npz",
            lines=table[:, 0],
            shards=table[:, 1].astype(np.int32),
            starts=table[:, 2],
            lengths=table[:, 3],
        )
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        _publish(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return meta


def _normalize_shards(tmp: Path, kept: list, config: FeatureConfig, dtype: np.dtype) -> list:
    """Second pass of a fit: each raw utterance normalized (the runtime's formula) into the
    final shards; returns the new index rows."""
    writer = ShardWriter(tmp, "shard", config.dim, dtype)
    out = []
    f32 = np.dtype(np.float32)
    for number, shard, start, length in kept:
        raw = _read(tmp / shard_name("raw", shard), f32, config.dim, start, length)
        out.append((number, *writer.write(normalize(raw, config)), length))
    writer.close()
    for path in tmp.glob("raw-*.npy"):
        path.unlink()
    return out


def _publish(tmp: Path, folder: Path) -> None:
    """Rename the finished entry into place; another process that won the race keeps its own
    (same key, same content)."""
    try:
        os.replace(tmp, folder)
    except OSError:
        if _read_meta(folder) is None:
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
