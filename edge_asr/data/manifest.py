"""JSON-lines manifests: one utterance a line, ``{"audio_filepath", "duration", "text", ...}``.

Paths in a manifest are relative to the manifest's folder (or absolute), so a corpus folder can
be moved or copied whole. The seed project's ``key`` is accepted in place of ``audio_filepath``.
Extra fields (voice, speaker, ...) ride along in ``Utterance.extra``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    if "duration" not in row:
        return "no duration"
    duration = row.pop("duration")
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
    return Utterance(Path(os.path.normpath(path)), float(duration), text, row)


def read_manifest(path: str | os.PathLike) -> tuple[list[Utterance], list[str]]:
    """The good rows of a manifest and a reason for each bad one ("line N: why")."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such manifest")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read manifest ({exc})") from None
    folder = path.resolve().parent
    utterances: list[Utterance] = []
    bad: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parsed = _parse_row(line, folder)
        if isinstance(parsed, str):
            bad.append(f"line {number}: {parsed}")
        else:
            utterances.append(parsed)
    return utterances, bad


def load_manifest(path: str | os.PathLike) -> list[Utterance]:
    """Read and validate a manifest; every bad row is reported in one ManifestError.

    Audio files are not checked here: training and evaluation skip (and count) missing ones.
    Reports that should go on past bad rows use ``read_manifest``.
    """
    utterances, bad = read_manifest(path)
    if bad:
        more = f"; ... and {len(bad) - _MAX_REASONS} more" if len(bad) > _MAX_REASONS else ""
        name = Path(path).name
        raise ManifestError(f"{name}: bad rows: {'; '.join(bad[:_MAX_REASONS])}{more}")
    return utterances


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
