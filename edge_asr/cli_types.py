"""Checks on command arguments that run at parse time, before any work (and before the CLI
imports TensorFlow), so a bad value fails in one line at once instead of after minutes of
computing or as a traceback from deep inside a write. The path checks double as API checks."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any

from runtime.errors import EdgeASRError


def positive_int(value: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {number}")
    return number


def number(cast: type, low: float, inclusive: bool) -> Any:
    """An argparse type: a finite ``cast`` number above ``low`` (or at it when inclusive)."""
    sign = ">=" if inclusive else ">"

    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (math.isfinite(value) and (value >= low if inclusive else value > low)):
            raise argparse.ArgumentTypeError(f"must be {sign} {low:g}, got {text}")
        return value

    parse.__name__ = f"{cast.__name__} {sign} {low:g}"
    return parse


positive_float = number(float, 0.0, inclusive=False)
non_negative_float = number(float, 0.0, inclusive=True)


def _no_file_above(path: Path) -> None:
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise EdgeASRError(f"{path}: {parent} is a file, not a directory")
            return


def output_file(path: str | os.PathLike) -> Path:
    """``path`` as a file to (over)write: not a directory, and no file where a folder goes."""
    path = Path(path)
    if path.is_dir():
        raise EdgeASRError(f"{path}: is a directory; give a file path")
    _no_file_above(path)
    return path


def output_dir(path: str | os.PathLike) -> Path:
    """``path`` as a directory to write into: absent or a directory, under directories only."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise EdgeASRError(f"{path}: exists and is not a directory")
    _no_file_above(path)
    return path
