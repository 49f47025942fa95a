"""One manifest loader for every command that featurizes audio (train, evaluate, validate,
convert), so they all follow one policy and one feature path.

Policy: a bad row (not JSON, a missing field) and missing or unreadable audio are skipped,
counted and reported in one line on stderr each, never fatal: one broken file in a large corpus
should not cost an hour of work. ``strict=True`` turns the first such row into an error
instead. Audio is read by ``edge_asr.data.audio.load_audio`` (WAV through the runtime's parser,
other formats through soundfile) and featurized by the runtime's own ``extract``, so every
command sees exactly the features a device would compute.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_asr.data.manifest import ManifestError, Utterance, manifest_rows
from runtime.errors import EdgeASRError
from runtime.features import FeatureConfig
from runtime.text import normalize_text

# Skip reasons for audio and text (bad rows count under the manifest's own reason).
MISSING_AUDIO = "missing audio"
BAD_AUDIO = "unreadable audio"
NO_TEXT = "no valid symbol in text"

# Below this much audio, worker start-up costs more than it saves.
_PARALLEL_MIN_SECONDS = 600.0
_EXAMPLES = 5


@dataclass
class Skipped:
    """Rows left out of a set, with why: counted for logs and summaries, each said once."""

    total: int = 0
    counts: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)  # the first few "where: reason: detail"
    first: dict[str, str] = field(default_factory=dict)  # reason -> its first detail (or where)

    def add(self, reason: str, where: str, detail: str = "") -> None:
        """Count one skipped row and report it in one line on stderr."""
        message = f"{where}: {reason}" + (f": {detail}" if detail else "")
        self.counts[reason] += 1
        self.first.setdefault(reason, detail or where)
        if len(self.examples) < _EXAMPLES:
            self.examples.append(message)
        print(f"edge-asr: skipped {message}", file=sys.stderr, flush=True)

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def why(self) -> str:
        """Counts by reason with the first case of each (for errors naming what went wrong)."""
        if not self.counts:
            return "it has no rows"
        return ", ".join(
            f"{n} {reason} (first: {self.first[reason]})" for reason, n in self.counts.most_common()
        )

    def summary(self, name: str) -> str:
        """One line for logs, or "" when nothing was skipped."""
        if not self.n:
            return ""
        why = ", ".join(f"{n} {reason}" for reason, n in self.counts.most_common())
        return f"{name}: skipped {self.n} of {self.total} utterances ({why})"


@dataclass
class LoadedSet:
    """The usable rows of a manifest with their normalized texts and features, in order."""

    utterances: list[Utterance]
    texts: list[str]  # runtime.text.normalize_text of each row's text
    features: list[np.ndarray]  # (T, D) float32
    skipped: Skipped
    lines: list[int] = field(default_factory=list)  # manifest line of each kept row

    @property
    def names(self) -> list[str]:
        return [Path(u.path).name for u in self.utterances]


# --- feature extraction (worker processes) ---------------------------------------------------

_WORKER_CONFIG: FeatureConfig | None = None


def _init_worker(config_json: str) -> None:
    global _WORKER_CONFIG
    _WORKER_CONFIG = FeatureConfig.from_json(config_json)


def _featurize(path: str) -> tuple[np.ndarray | None, str | None, str | None]:
    """Float32 features of one file (normalized when the config has stats), or
    ``(None, reason, detail)``."""
    from edge_asr.data.audio import load_audio
    from runtime.features import extract

    assert _WORKER_CONFIG is not None
    if not os.path.exists(path):
        return None, MISSING_AUDIO, path
    try:
        feats = extract(load_audio(path, _WORKER_CONFIG.sample_rate), _WORKER_CONFIG)
    except EdgeASRError as exc:
        return None, BAD_AUDIO, str(exc)
    except Exception as exc:  # a decoder failing on a corrupt file must not end the run
        return None, BAD_AUDIO, f"{path}: {type(exc).__name__}: {exc}"
    return feats, None, None


def extract_all(
    paths: Sequence[str],
    config: FeatureConfig,
    jobs: int = 1,
    total_seconds: float = 0.0,
    on_done: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, np.ndarray | None, str | None, str | None]]:
    """Yield ``(index, features or None, skip reason, detail)`` for every path, in order.

    Runs in ``jobs`` spawned processes when there is enough audio for it to pay (spawn, not
    fork: the parent may already hold TensorFlow's threads).
    """
    config_json = config.to_json()
    parallel = jobs > 1 and len(paths) > 1 and total_seconds >= _PARALLEL_MIN_SECONDS
    if not parallel:
        _init_worker(config_json)
        yield from _counted(map(_featurize, paths), on_done)
        return
    ctx = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        jobs, mp_context=ctx, initializer=_init_worker, initargs=(config_json,)
    )
    try:
        yield from _counted(pool.map(_featurize, paths, chunksize=16), on_done)
    finally:  # a caller that stops early (strict mode) does not wait for the rest
        pool.shutdown(wait=True, cancel_futures=True)


def _counted(results: Iterator, on_done: Callable[[int], None] | None) -> Iterator:
    for i, (feats, reason, detail) in enumerate(results):
        yield i, feats, reason, detail
        if on_done:
            on_done(1)


# --- the loader ------------------------------------------------------------------------------


@dataclass
class Rows:
    """A manifest's rows that pass the row-level policy, before any audio is read."""

    name: str  # the manifest's file name (for "NAME line N" messages)
    wanted: list[tuple[int, Utterance, str]]  # (manifest line, row, normalized text)
    skipped: Skipped
    strict: bool = False

    def reject(self, reason: str, where: str, detail: str = "") -> None:
        """Skip and count one row, or raise under ``strict``."""
        if self.strict:
            raise ManifestError(f"{where}: {reason}" + (f": {detail}" if detail else ""))
        self.skipped.add(reason, where, detail)


def usable_rows(
    manifest: str | os.PathLike,
    *,
    limit: int | None = None,
    skip: int = 0,
    strict: bool = False,
    need_text: bool = True,
    shard: tuple[int, int] = (0, 1),
    where: Mapping[str, str] | None = None,
) -> Rows:
    """The row-level half of ``load_set``: bad rows and rows without text skipped and counted.

    ``shard=(k, n)`` keeps every n-th row from the k-th (after ``skip``/``limit``), so n
    training workers split a manifest into disjoint parts that cover it, each counting only
    its own bad rows. ``where`` keeps the rows whose extra fields match (``--where
    engine=piper``), before ``skip``/``limit``.
    """
    name = Path(manifest).name
    rows = manifest_rows(manifest, where)[skip : None if limit is None else skip + limit]
    index, count = shard
    rows = rows[index::count]
    result = Rows(name, [], Skipped(total=len(rows)), strict)
    for number, row in rows:
        if isinstance(row, str):
            result.reject(row, f"{name} line {number}")
            continue
        text = normalize_text(row.text)
        if need_text and not text:
            result.reject(NO_TEXT, f"{name} line {number}", repr(row.text))
            continue
        result.wanted.append((number, row, text))
    return result


def load_set(
    manifest: str | os.PathLike,
    config: FeatureConfig,
    *,
    limit: int | None = None,
    skip: int = 0,
    jobs: int = 1,
    normalize: bool = True,
    strict: bool = False,
    progress: str | None = None,
    need_text: bool = True,
    where: Mapping[str, str] | None = None,
) -> LoadedSet:
    """Read ``manifest`` and featurize its audio with ``config``, all in memory.

    ``skip``/``limit`` select manifest rows (bad ones included) before any audio is read.
    Features are normalized with the config's stats when it has them and ``normalize`` is
    True, else raw. ``need_text`` skips rows whose text has no valid symbol. ``progress`` is a
    progress bar's description (None: no bar). Raises a ManifestError when the first bad row
    is met under ``strict``, or when no row is usable. Training streams through a disk cache
    instead (``edge_asr.train.feature_cache``); this is for the small sets the other commands
    read.
    """
    from edge_asr.progress import make_progress

    rows = usable_rows(
        manifest, limit=limit, skip=skip, strict=strict, need_text=need_text, where=where
    )
    features_config = config if normalize else config.without_stats()
    paths = [str(u.path) for _, u, _ in rows.wanted]
    seconds = sum(u.duration for _, u, _ in rows.wanted)
    loaded = LoadedSet([], [], [], rows.skipped)
    with make_progress(transient=True, disable=progress is None) as bar:
        task = bar.add_task(progress or "", total=len(paths), info="")

        def done(n: int) -> None:
            bar.advance(task, n)

        for i, feats, reason, detail in extract_all(paths, features_config, jobs, seconds, done):
            number, utt, text = rows.wanted[i]
            if feats is None:
                rows.reject(reason or BAD_AUDIO, f"{rows.name} line {number}", detail or paths[i])
                continue
            loaded.utterances.append(utt)
            loaded.texts.append(text)
            loaded.features.append(feats)
            loaded.lines.append(number)
    if not loaded.utterances:
        raise ManifestError(f"no usable utterances in {manifest}: {rows.skipped.why()}")
    return loaded
