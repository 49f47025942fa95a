"""Every builder's model is a single chain of layers; the export twins, the streaming twin, the
ONNX exporter and the graph-safe inference twin all walk it. One definition of "a chain", of the
layer kinds, and of what a layer becomes at inference, for all of them."""

from __future__ import annotations

from typing import Any

from runtime.errors import EdgeASRError

#: Layers that are the identity at inference time (dropped from every twin and export).
INFERENCE_IDENTITY = (
    "Dropout",
    "SpatialDropout1D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
)
#: Unidirectional recurrent layers (streamable when they run forwards).
RECURRENT = ("GRU", "LSTM", "SimpleRNN")
BIDIRECTIONAL = "Bidirectional"
#: Layers that act on each frame independently (no context, no state).
POINTWISE = (
    "BatchNormalization",
    "LayerNormalization",
    "Dense",
    "Activation",
    "Softmax",
    "ReLU",
    "Identity",
)
#: 1-D convolutions and poolings over time: they set the frame rate (the ``output_length``
#: rule has one entry per such layer, ``cnn_output_length`` semantics for both).
CONVOLUTION = ("Conv1D",)
POOLING = ("MaxPooling1D",)
TIME_DISTRIBUTED = "TimeDistributed"
#: Every layer kind the twins, exporters and the importer accept (TimeDistributed only around
#: Dense, Bidirectional only around a recurrent layer).
SUPPORTED = (
    *INFERENCE_IDENTITY,
    *RECURRENT,
    BIDIRECTIONAL,
    *POINTWISE,
    *CONVOLUTION,
    *POOLING,
    TIME_DISTRIBUTED,
)


class NotAChainError(EdgeASRError):
    """The model is not one linear chain of layers (so it cannot be walked layer by layer)."""


class UnsupportedLayerError(EdgeASRError):
    """A layer the twins and exporters do not know how to run at inference."""


def chain_layers(model: Any) -> list[Any]:
    """The model's layers after the input, in call order; raises ``NotAChainError`` unless they
    form a single linear chain from the one input to the one output.

    A layer may also be called elsewhere (a weight-sharing twin adds inbound nodes): only the
    node fed by the previous layer of *this* model counts."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise NotAChainError(f"{model.name}: expected one input and one output")
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    previous = model.inputs[0]
    for layer in layers:
        nodes = [n for n in layer._inbound_nodes if any(t is previous for t in n.input_tensors)]
        if len(nodes) != 1 or len(nodes[0].input_tensors) != 1:
            raise NotAChainError(
                f"{model.name}: layer {layer.name!r} is not part of a linear layer chain"
            )
        previous = nodes[0].output_tensors[0]
    if previous is not model.outputs[0]:
        raise NotAChainError(f"{model.name}: the last layer is not the model output")
    return layers


def inference_layer(layer: Any) -> Any | None:
    """What ``layer`` is at inference: None for an identity (Dropout...), the inner ``Dense``
    for ``TimeDistributed(Dense)``, else the layer itself.

    Why TimeDistributed goes: Keras 3.15's ``TimeDistributed`` maps over ``range(batch)`` instead
    of ``range(time)`` when the time axis is unknown at trace time, so any traced graph (TFLite,
    ONNX, ``tf.function``) silently returns ``batch`` frames. Dense already acts on the last
    axis of a 3-D tensor, so calling it directly is the same math with the same weights.
    """
    kind = type(layer).__name__
    if kind in INFERENCE_IDENTITY:
        return None
    if kind == "TimeDistributed":
        inner = layer.layer
        if type(inner).__name__ != "Dense":
            raise UnsupportedLayerError(
                f"layer {layer.name!r}: TimeDistributed({type(inner).__name__}) is not supported "
                "(only TimeDistributed(Dense))"
            )
        return inner
    return layer


def inference_layers(model: Any) -> list[Any]:
    """The chain as it runs at inference (see ``inference_layer``), in order."""
    out = []
    for layer in chain_layers(model):
        runs = inference_layer(layer)
        if runs is not None:
            out.append(runs)
    return out


def layer_kinds(model: Any) -> set[str]:
    """Class names of the model's layers (``Bidirectional`` counts as one)."""
    return {type(layer).__name__ for layer in model.layers}


def check_supported(model: Any) -> None:
    """Raise ``UnsupportedLayerError`` naming the first layer (and its type) that is not in
    ``SUPPORTED``, or ``NotAChainError`` when the model is not one chain of layers."""
    for layer in chain_layers(model):
        kind = type(layer).__name__
        if kind not in SUPPORTED:
            raise UnsupportedLayerError(
                f"layer {layer.name!r} ({kind}) is not supported; supported layers: "
                f"{', '.join(sorted(set(SUPPORTED)))}"
            )
        if kind == BIDIRECTIONAL:
            inner = type(layer.forward_layer).__name__
            if inner not in RECURRENT:
                raise UnsupportedLayerError(
                    f"layer {layer.name!r}: Bidirectional({inner}) is not supported "
                    f"(only around {', '.join(RECURRENT)})"
                )
        inference_layer(layer)  # TimeDistributed(anything but Dense) raises here
