"""Every builder's model is a single chain of layers; exporters and the graph-safe inference
twin walk it. One definition of "a chain" for all of them."""

from __future__ import annotations

from typing import Any

from runtime.errors import EdgeASRError


class NotAChainError(EdgeASRError):
    """The model is not one linear chain of layers (so it cannot be walked layer by layer)."""


def chain_layers(model: Any) -> list[Any]:
    """The model's layers after the input, in call order; raises ``NotAChainError`` unless they
    form a single linear chain from the one input to the one output."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise NotAChainError(f"{model.name}: expected one input and one output")
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    previous = model.inputs[0]
    for layer in layers:
        if len(layer._inbound_nodes) != 1:
            raise NotAChainError(f"{model.name}: layer {layer.name!r} is shared")
        node = layer._inbound_nodes[0]
        if len(node.input_tensors) != 1 or node.input_tensors[0] is not previous:
            raise NotAChainError(
                f"{model.name}: layer {layer.name!r} is not part of a linear layer chain"
            )
        previous = node.output_tensors[0]
    if previous is not model.outputs[0]:
        raise NotAChainError(f"{model.name}: the last layer is not the model output")
    return layers
