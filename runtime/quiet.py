"""Silence what native libraries print straight to file descriptor 2.

TensorFlow's absl/oneDNN banners and LiteRT's "Created TensorFlow Lite XNNPACK delegate" are
written by C++ code that ignores Python's ``sys.stderr`` and every logging setting; they would
turn a one-line error into three lines. Python exceptions are unaffected.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Point fd 2 at /dev/null for the duration of the block."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (e.g. captured by pytest)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
