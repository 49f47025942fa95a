"""One exception family, so every CLI can turn expected failures into one-line messages."""


class EdgeASRError(Exception):
    """An expected failure with a message fit for a user (bad input, mismatch, missing file)."""
