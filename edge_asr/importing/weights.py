"""Stored weights into Keras 3 layers, one layer at a time, every shape checked.

Keras 2 and Keras 3 keep each supported layer's weights in the same order (Dense/Conv1D kernel,
bias; BatchNormalization gamma, beta, moving mean, moving variance; GRU/LSTM/SimpleRNN kernel,
recurrent kernel, bias; Bidirectional forward then backward), so a layer's list maps by
position; what differs between the two (the GRU bias of ``reset_after``) shows in the shapes.
A mismatch is one line naming the layer and both shapes, never a half-loaded model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_asr.importing.sources import LayerWeights
from runtime.errors import EdgeASRError


class WeightError(EdgeASRError):
    """Stored weights that do not fit the model they are loaded into."""


def _shape(shape: Any) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _hint(layer: Any, index: int, stored: tuple[int, ...], needed: tuple[int, ...]) -> str:
    """A likely cause for the two mismatches users actually hit."""
    inner = type(getattr(layer, "forward_layer", layer)).__name__
    if inner == "GRU" and index % 3 == 2 and len(stored) != len(needed):
        return (
            " (a 1-D GRU bias is reset_after=False, standalone Keras 2's GRU; a (2, n) one is "
            "reset_after=True: --param reset_after=...)"
        )
    if inner in ("GRU", "LSTM") and len(stored) == len(needed) == 2 and stored[0] == needed[0]:
        ratio = stored[-1] / max(1, needed[-1])
        if ratio in (0.75, 4 / 3):
            other = "GRU" if ratio == 0.75 else "LSTM"
            return f" (the stored layer looks like a {other}, the model's is a {inner})"
    return ""


def assign(layer: Any, stored: LayerWeights) -> None:
    """Set ``layer``'s weights from ``stored`` after checking count, shapes and finiteness."""
    kind = type(layer).__name__
    targets = list(layer.weights)
    where = f"layer {layer.name!r} ({kind})"
    if stored.name != layer.name:
        where += f" <- stored layer {stored.name!r}"
    if len(stored.arrays) != len(targets):
        have = ", ".join(
            f"{n} {_shape(a.shape)}" for n, a in zip(stored.names, stored.arrays, strict=False)
        )
        need = ", ".join(f"{w.path} {_shape(w.shape)}" for w in targets)
        raise WeightError(
            f"{where}: the file has {len(stored.arrays)} weight(s) [{have}], the model needs "
            f"{len(targets)} [{need}]"
        )
    values = []
    for i, (array, target) in enumerate(zip(stored.arrays, targets, strict=True)):
        have_shape, need_shape = tuple(array.shape), tuple(int(d) for d in target.shape)
        label = stored.names[i] if i < len(stored.names) else f"#{i}"
        if have_shape != need_shape:
            raise WeightError(
                f"{where}: weight {label!r} is {_shape(have_shape)} in the file, the model needs "
                f"{_shape(need_shape)} ({target.path})" + _hint(layer, i, have_shape, need_shape)
            )
        if not np.issubdtype(array.dtype, np.floating):
            raise WeightError(f"{where}: weight {label!r} has dtype {array.dtype}, not float")
        if not np.all(np.isfinite(array)):
            raise WeightError(f"{where}: weight {label!r} contains NaN or Inf")
        values.append(np.asarray(array, np.float32))
    layer.set_weights(values)


def weighted_layers(model: Any) -> list[Any]:
    """The model's layers that hold weights, in model order (Keras 2 ``load_weights`` order)."""
    return [layer for layer in model.layers if layer.weights]


def pair_by_order(
    model: Any, stored: list[LayerWeights], builder: str
) -> list[tuple[Any, LayerWeights]]:
    """Pair the model's weighted layers with the file's weighted layers in order, as Keras 2's
    ``load_weights`` does (names differ between projects; a training wrapper's extra inputs and
    CTC Lambda hold no weights and drop out)."""
    targets = weighted_layers(model)
    sources = [w for w in stored if w.arrays]
    if len(targets) != len(sources):
        raise WeightError(
            f"the file has weights for {len(sources)} layer(s) "
            f"({', '.join(w.name for w in sources) or 'none'}), the {builder} model has "
            f"{len(targets)} ({', '.join(layer.name for layer in targets)})"
        )
    return list(zip(targets, sources, strict=True))


def gru_bias_is_1d(pairs: list[tuple[Any, LayerWeights]]) -> bool | None:
    """Whether the file's GRU biases are 1-D (``reset_after=False``): None without a GRU, or
    when they disagree (left to the shape check)."""
    seen = set()
    for layer, stored in pairs:
        inner = type(getattr(layer, "forward_layer", layer)).__name__
        if inner != "GRU":
            continue
        for i in range(2, len(stored.arrays), 3):
            seen.add(stored.arrays[i].ndim == 1)
    return seen.pop() if len(seen) == 1 else None
