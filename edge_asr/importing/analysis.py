"""What an imported Keras 3 model is: supported layers only, per-frame softmax out, its
``output_length`` rule and whether it is causal.

The rule is derived from the model's own Conv1D and MaxPooling1D layers, in order, with the
seed's ``cnn_output_length`` semantics (a pooling window counts as a convolution with kernel
``pool_size`` and stride ``strides``: Keras' pooling lengths are the same formula), and then
checked against the lengths the model really outputs for a few input lengths: a rule that is
wrong by one frame would misalign every CTC length and timestamp downstream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_asr.models.chain import (
    BIDIRECTIONAL,
    CONVOLUTION,
    POOLING,
    RECURRENT,
    check_supported,
    inference_layers,
)
from runtime.errors import EdgeASRError
from runtime.formats import ConvLength, LengthRule


class ModelCheckError(EdgeASRError):
    """The model cannot become a model directory (wrong output, wrong lengths...)."""


def length_rule(model: Any) -> LengthRule:
    """The ``output_length`` rule of ``model``'s convolutions and poolings, in call order."""
    entries = []
    for layer in inference_layers(model):
        kind = type(layer).__name__
        if kind in CONVOLUTION:
            entries.append(
                ConvLength(
                    kernel=int(layer.kernel_size[0]),
                    stride=int(layer.strides[0]),
                    padding=str(layer.padding),
                    dilation=int(layer.dilation_rate[0]),
                )
            )
        elif kind in POOLING:
            entries.append(
                ConvLength(
                    kernel=int(layer.pool_size[0]),
                    stride=int(layer.strides[0]),
                    padding=str(layer.padding),
                )
            )
    return LengthRule(tuple(entries))


def describe_rule(rule: LengthRule) -> str:
    if not rule.layers:
        return "one output frame per input frame"
    return ", ".join(
        f"kernel {c.kernel} stride {c.stride} {c.padding}"
        + (f" dilation {c.dilation}" if c.dilation != 1 else "")
        for c in rule.layers
    )


def probe_lengths(rule: LengthRule) -> list[int]:
    """A few input lengths that exercise every rounding of the rule (shortest, +1, odd...)."""
    shortest = rule.shortest_input()
    stride = rule.total_stride
    return sorted(
        {shortest, shortest + 1, shortest + stride, shortest + stride + 1, 2 * shortest + 3}
    )


def check_length_rule(model: Any, rule: LengthRule) -> list[int]:
    """Run ``model`` on zero inputs of ``probe_lengths`` and compare the frames it returns with
    ``rule``; returns the lengths checked. Raises ``ModelCheckError`` on any difference."""
    dim = int(model.inputs[0].shape[-1])
    lengths = probe_lengths(rule)
    for n in lengths:
        got = int(np.asarray(model(np.zeros((1, n, dim), np.float32), training=False)).shape[1])
        if got != rule(n):
            raise ModelCheckError(
                f"the output_length rule derived from the model's Conv1D/pooling layers "
                f"({describe_rule(rule)}) gives {rule(n)} frames for {n} input frames, but the "
                f"model returns {got}"
            )
    return lengths


def _softmax_at_end(layers: list[Any]) -> bool:
    """The last inference layer is a softmax: ``Softmax``, or ``Activation``/``Dense`` (also
    the Dense of ``TimeDistributed(Dense)``) with the softmax activation."""
    last = layers[-1]
    kind = type(last).__name__
    if kind == "Softmax":
        return True
    fn = getattr(last, "activation", None)
    return kind in ("Activation", "Dense") and getattr(fn, "__name__", str(fn)) == "softmax"


def check_structure(model: Any) -> None:
    """One chain of supported layers, (batch, time, features) in, per-frame softmax out, every
    recurrent layer returning its whole sequence."""
    check_supported(model)
    if len(model.inputs[0].shape) != 3 or len(model.outputs[0].shape) != 3:
        raise ModelCheckError(
            f"the model maps {tuple(model.inputs[0].shape)} to {tuple(model.outputs[0].shape)}; "
            "expected (batch, time, features) to (batch, frames, classes)"
        )
    layers = inference_layers(model)
    for layer in layers:
        rnn = layer.forward_layer if type(layer).__name__ == BIDIRECTIONAL else layer
        if type(rnn).__name__ in RECURRENT and not rnn.return_sequences:
            raise ModelCheckError(
                f"layer {layer.name!r} returns one vector, not a sequence (return_sequences)"
            )
    if not layers or not _softmax_at_end(layers):
        last = layers[-1] if layers else None
        what = f"{last.name!r} ({type(last).__name__})" if last is not None else "none"
        raise ModelCheckError(
            f"the model does not end in a softmax (last layer {what}): a model directory holds "
            "per-frame posteriors; add Activation('softmax') to the model before saving it"
        )


def is_causal(model: Any) -> bool:
    """Every layer looks back only (so zero padding at the end is exact and the model can
    stream): no bidirectional or backwards RNN, no 'same'/'full' convolution or pooling with a
    window wider than one frame."""
    for layer in inference_layers(model):
        kind = type(layer).__name__
        if kind == BIDIRECTIONAL:
            return False
        if kind in RECURRENT and layer.go_backwards:
            return False
        if kind in CONVOLUTION:
            span = (int(layer.kernel_size[0]) - 1) * int(layer.dilation_rate[0])
            if layer.padding in ("same", "full") and span > 0:
                return False
        if kind in POOLING and layer.padding != "valid" and int(layer.pool_size[0]) > 1:
            return False
    return True
