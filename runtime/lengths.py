"""How many model frames come out of ``n`` feature frames (the bundle's ``output_length`` rule).

Shared by training (CTC input lengths), conversion and the device, so all three agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PADDINGS = ("same", "valid", "causal", "full")


def cnn_output_length(
    input_length: int | None, filter_size: int, border_mode: str, stride: int, dilation: int = 1
) -> int | None:
    """Length of a 1-D convolution's output, with the seed project's semantics (None -> None)."""
    if input_length is None:
        return None
    if border_mode not in PADDINGS:
        raise ValueError(f"border_mode must be one of {PADDINGS}, not {border_mode!r}")
    dilated = filter_size + (filter_size - 1) * (dilation - 1)
    if border_mode in ("same", "causal"):
        length = input_length
    elif border_mode == "valid":
        length = input_length - dilated + 1
    else:  # full
        length = input_length + dilated - 1
    return max(0, (length + stride - 1) // stride)


def output_length(rule: Mapping[str, Any], n_frames: int) -> int:
    """Apply a rule ``{"layers": [{"kernel", "stride", "padding", "dilation"}, ...]}`` to ``n``."""
    n: int = n_frames
    for layer in rule.get("layers", []):
        n = cnn_output_length(
            n, layer["kernel"], layer["padding"], layer["stride"], layer.get("dilation", 1)
        )  # type: ignore[assignment]
    return n


def total_stride(rule: Mapping[str, Any]) -> int:
    """Feature frames per model frame (for timestamps)."""
    stride = 1
    for layer in rule.get("layers", []):
        stride *= layer["stride"]
    return stride
