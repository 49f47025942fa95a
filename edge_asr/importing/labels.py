"""The label map of an imported model: which output class is which symbol.

Default: the seed's 29 classes (apostrophe, space, a-z, CTC blank last: its ``char_map.py``).
``--labels FILE`` gives another order, as JSON (``{"symbols": [...], "blank": N}`` like
labels.json, or a list of symbols with the blank after them) or as the seed's ``char_map``
text (``SYMBOL INDEX`` per line, ``<SPACE>`` for the space; the blank follows the last index).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from runtime.errors import EdgeASRError
from runtime.formats import FormatError, Labels


class LabelsError(EdgeASRError):
    """A label file that cannot be read or does not fit the model."""


def _char_map(text: str, where: str) -> Labels:
    by_index: dict[int, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise LabelsError(f"{where} line {number}: expected 'SYMBOL INDEX', got {line!r}")
        symbol = " " if parts[0] == "<SPACE>" else parts[0]
        index = int(parts[1])
        if index in by_index:
            raise LabelsError(f"{where} line {number}: index {index} given twice")
        by_index[index] = symbol
    if sorted(by_index) != list(range(len(by_index))):
        raise LabelsError(f"{where}: indices must be 0..{len(by_index) - 1} without gaps")
    symbols = tuple(by_index[i] for i in range(len(by_index)))
    return Labels(symbols, len(symbols))


def read_labels(path: str | os.PathLike) -> Labels:
    """A ``Labels`` from ``path`` (formats in the module doc); raises ``LabelsError``."""
    path = Path(path)
    if not path.is_file():
        raise LabelsError(f"{path}: no such label file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsError(f"{path}: cannot read the label file ({exc})") from None
    try:
        if text.lstrip()[:1] in ("{", "["):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise LabelsError(f"{path}: not valid JSON ({exc})") from None
            if isinstance(data, list):
                if not all(isinstance(s, str) for s in data):
                    raise LabelsError(f"{path}: a symbol list must hold strings")
                return Labels(tuple(data), len(data))
            return Labels.from_dict(data, str(path))
        return _char_map(text, str(path))
    except FormatError as exc:
        raise LabelsError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None


def check_width(labels: Labels, classes: int, where: str) -> None:
    """The model's output width must be the label count (symbols + blank)."""
    if classes != labels.num_classes:
        raise LabelsError(
            f"the model outputs {classes} classes per frame but {where} has "
            f"{labels.num_classes} ({len(labels.symbols)} symbols + blank); give --labels with "
            f"{classes - 1} symbols"
        )
