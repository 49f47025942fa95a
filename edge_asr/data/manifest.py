"""JSON-lines manifests: one utterance a line, ``{"audio_filepath", "duration", "text", ...}``.

Paths in a manifest are relative to the manifest's folder (or absolute), so a corpus folder can
be moved or copied whole. The seed project's ``key`` is accepted in place of ``audio_filepath``.
Extra fields (voice, speaker, ...) ride along in ``Utterance.extra``. Manifests written by other
tools are accepted as they come: a UTF-8 byte-order mark is ignored and a row without
``duration`` takes it from its audio file's header.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_asr.data.audio import AudioError, audio_info
from runtime.errors import EdgeASRError
from runtime.fileio import write_text

_PATH_KEYS = ("audio_filepath", "key")
_MAX_REASONS = 20  # a broken 100k-line file should not print 100k reasons


class ManifestError(EdgeASRError):
    """A manifest is missing or has rows that cannot be used."""


@dataclass
class Utterance:
    """One manifest row: ``path`` is absolute, ``duration`` in seconds."""

    path: Path
    duration: float
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


def _parse_row(line: str, folder: Path) -> Utterance | str:
    """An Utterance, or the reason the row is bad."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return "not JSON"
    if not isinstance(row, dict):
        return "not a JSON object"
    key = next((k for k in _PATH_KEYS if k in row), None)
    if key is None:
        return "no audio_filepath"
    raw_path = row.pop(key)
    if not isinstance(raw_path, str) or not raw_path:
        return f"{key} is not a non-empty string"
    duration = row.pop("duration", None)
    if duration is not None:
        if isinstance(duration, bool) or not isinstance(duration, int | float):
            return f"duration {duration!r} is not a number"
        if not math.isfinite(duration) or duration < 0:
            return f"duration {duration!r} is negative or not finite"
    if "text" not in row:
        return "no text"
    text = row.pop("text")
    if not isinstance(text, str):
        return f"text {text!r} is not a string"
    path = Path(raw_path).expanduser()
    if not path.is_absolute():
        path = folder / path
    path = Path(os.path.normpath(path))
    if duration is None:
        duration = _header_duration(path)
    return Utterance(path, float(duration), text, row)


def _header_duration(path: Path) -> float:
    """Seconds of audio per the file's header; 0.0 when it cannot be read (the audio itself is
    checked, and the row skipped or refused, where it is decoded)."""
    try:
        return audio_info(path)[0] if path.is_file() else 0.0
    except AudioError:
        return 0.0


def parse_where(items: Sequence[str] | None) -> dict[str, str]:
    """``["engine=piper", "voice=x"]`` -> ``{"engine": "piper", "voice": "x"}`` (``--where``)."""
    where: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ManifestError(f"--where takes FIELD=VALUE (e.g. engine=piper), got {item!r}")
        where[key.strip()] = value.strip()
    return where


def _matches(utterance: Utterance, where: Mapping[str, str]) -> bool:
    return all(str(utterance.extra.get(key)) == value for key, value in where.items())


def select_rows(
    rows: list[tuple[int, Utterance | str]], where: Mapping[str, str] | None, name: str
) -> list[tuple[int, Utterance | str]]:
    """Keep the rows whose extra fields equal ``where`` (bad rows stay, to be reported).

    Corpus rows carry ``engine``, ``voice``, ``split`` and more, so a split can be narrowed to
    one engine or voice without writing a new manifest; a filter that matches nothing is an
    error naming the values that do occur, never an empty set scored as CER 0.
    """
    if not where:
        return rows
    kept = [(n, r) for n, r in rows if isinstance(r, str) or _matches(r, where)]
    if not any(isinstance(r, Utterance) for _, r in kept):
        seen = {
            key: sorted({str(r.extra.get(key)) for _, r in rows if isinstance(r, Utterance)})
            for key in where
        }
        shown = "; ".join(f"{k}: {', '.join(v[:8]) or '-'}" for k, v in seen.items())
        wanted = " ".join(f"{k}={v}" for k, v in where.items())
        raise ManifestError(f"{name}: no row has {wanted} (values present: {shown})")
    return kept


def manifest_rows(
    path: str | os.PathLike, where: Mapping[str, str] | None = None
) -> list[tuple[int, Utterance | str]]:
    """``(line number, Utterance or why the row is bad)`` for every non-empty line, in order;
    with ``where``, only the rows whose extra fields match (see ``select_rows``)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such manifest")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read manifest ({exc})") from None
    folder = path.resolve().parent
    rows = [
        (number, _parse_row(line, folder))
        for number, line in enumerate(lines, start=1)
        if line.strip()
    ]
    return select_rows(rows, where, path.name)


def load_manifest(
    path: str | os.PathLike, where: Mapping[str, str] | None = None
) -> list[Utterance]:
    """Read and validate a manifest; every bad row is reported in one ManifestError.

    Audio files are not checked here. Commands that featurize a manifest go through
    ``edge_asr.data.loading.load_set``, which skips (and counts) bad rows and bad audio.
    """
    rows = manifest_rows(path, where)
    bad = [f"line {number}: {row}" for number, row in rows if isinstance(row, str)]
    if bad:
        more = f"; ... and {len(bad) - _MAX_REASONS} more" if len(bad) > _MAX_REASONS else ""
        name = Path(path).name
        raise ManifestError(f"{name}: bad rows: {'; '.join(bad[:_MAX_REASONS])}{more}")
    return [row for _, row in rows if isinstance(row, Utterance)]


def utterance_row(utterance: Utterance, folder: Path) -> dict[str, Any]:
    """The JSON row for ``utterance`` with its path relative to ``folder`` when possible."""
    target = Path(os.path.abspath(utterance.path))
    try:
        rel = os.path.relpath(target, folder)
    except ValueError:  # another drive on Windows
        rel = str(target)
    return {
        "audio_filepath": Path(rel).as_posix(),
        "duration": utterance.duration,
        "text": utterance.text,
        **utterance.extra,
    }


def write_manifest(path: str | os.PathLike, utterances: Iterable[Utterance]) -> None:
    """Write a manifest atomically, paths relative to its folder."""
    path = Path(path)
    folder = Path(os.path.abspath(path.parent))
    lines = [json.dumps(utterance_row(u, folder), ensure_ascii=False) for u in utterances]
    if not lines:
        raise ManifestError(f"{path}: no utterances to write")
    write_text(path, "".join(line + "\n" for line in lines))
