"""Keras 2 model configs -> Keras 3 layers: every Keras 2 difference, handled in one place.

Root cause of the failures when Keras 3 reads a Keras 2 config: keys it no longer accepts
(``implementation``, ``time_major``), initializer/regularizer/constraint objects under old names
or modules, and defaults that changed meaning. Only a handful of settings decide what a layer
computes at inference, so each layer is rebuilt from exactly those (an allow-list per layer
type); training-only settings are dropped whatever their spelling. What does change the math is
mapped explicitly:

- GRU ``reset_after``: absent in standalone Keras 2.0 configs, which always computed the
  reset gate before the recurrent matmul (``reset_after=False``, one bias vector);
  tf.keras 2 and Keras 3 default to True (two bias vectors). The weights' bias shape must agree
  (``weights.assign`` checks).
- ``hard_sigmoid``: Keras 2's is ``clip(0.2 x + 0.5, 0, 1)`` (the default GRU/LSTM recurrent
  activation of standalone Keras 2.0-2.3), Keras 3's is ``relu6(x + 3) / 6``. Legacy configs get
  the Keras 2 function (``edge_asr.models.builders.keras2_hard_sigmoid``).
- ``TimeDistributed(Dense)`` is kept (the converters run the inner Dense on the 3-D tensor);
  ``Bidirectional`` keeps its merge mode; layer names lose characters Keras 3 rejects ("/").

Any layer type outside the converters' set (``edge_asr.models.chain.SUPPORTED``) is refused by
name and type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge_asr.models.chain import SUPPORTED, NotAChainError, UnsupportedLayerError

#: Activations whose meaning is the same in Keras 2 and Keras 3 (by name).
SAME_ACTIVATIONS = (
    "linear",
    "relu",
    "tanh",
    "sigmoid",
    "softmax",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "swish",
    "silu",
    "exponential",
)
GENERIC_MODEL_NAMES = ("model", "functional", "sequential")


def _unwrap(value: Any) -> Any:
    """tf.keras SavedModel metadata writes tuples as ``{"class_name": "__tuple__", "items"}``."""
    if isinstance(value, dict) and value.get("class_name") == "__tuple__":
        return [_unwrap(v) for v in value.get("items", [])]
    if isinstance(value, list | tuple):
        return [_unwrap(v) for v in value]
    return value


def _one(value: Any, key: str, where: str) -> int:
    """A 1-D size given as ``3``, ``[3]`` or ``(3,)``."""
    value = _unwrap(value)
    if isinstance(value, list):
        if len(value) != 1:
            raise UnsupportedLayerError(f"layer {where!r}: {key} {value} is not one-dimensional")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UnsupportedLayerError(
            f"layer {where!r}: {key} must be a positive integer, not {value!r}"
        )
    return value


def layer_name(name: str) -> str:
    """A Keras 3 layer name for a Keras 2 one ("/" is not allowed any more)."""
    return name.replace("/", "_") or "layer"


def activation(value: Any, where: str, legacy: bool) -> Any:
    """The Keras 3 activation for a config's activation (a name, or Keras 2's serialized
    function form), with Keras 2's ``hard_sigmoid`` kept exact."""
    from edge_asr.models.builders import keras2_hard_sigmoid

    name = value
    if isinstance(value, dict):  # {"class_name": "function", "config": "relu", ...}
        name = value.get("config", value.get("class_name"))
    if name is None:
        name = "linear"
    if not isinstance(name, str):
        raise UnsupportedLayerError(f"layer {where!r}: activation {value!r} is not supported")
    if name == "hard_sigmoid" and legacy:
        return keras2_hard_sigmoid
    if name in SAME_ACTIVATIONS or name == "hard_sigmoid":
        return name
    raise UnsupportedLayerError(
        f"layer {where!r}: activation {name!r} is not supported "
        f"(supported: {', '.join(SAME_ACTIVATIONS)}, hard_sigmoid)"
    )


def _channels_last(config: dict[str, Any], where: str) -> None:
    fmt = config.get("data_format") or "channels_last"
    if fmt != "channels_last":
        raise UnsupportedLayerError(f"layer {where!r}: data_format {fmt!r} (only channels_last)")


def _rnn(kind: str, c: dict[str, Any], name: str, legacy: bool) -> Any:
    from keras import layers

    if c.get("stateful"):
        raise UnsupportedLayerError(f"layer {name!r} ({kind}) is stateful; save it stateless")
    if c.get("return_state"):
        raise UnsupportedLayerError(f"layer {name!r} ({kind}) returns its state, not frames")
    kwargs: dict[str, Any] = {
        "units": int(c["units"]),
        "activation": activation(c.get("activation", "tanh"), name, legacy),
        "use_bias": bool(c.get("use_bias", True)),
        "return_sequences": bool(c.get("return_sequences", False)),
        "go_backwards": bool(c.get("go_backwards", False)),
        "dropout": float(c.get("dropout", 0.0)),
        "recurrent_dropout": float(c.get("recurrent_dropout", 0.0)),
        "name": name,
    }
    if kind in ("GRU", "LSTM"):
        default = "hard_sigmoid" if legacy else "sigmoid"
        recurrent = c.get("recurrent_activation", default)
        kwargs["recurrent_activation"] = activation(recurrent, name, legacy)
    if kind == "GRU":
        # Standalone Keras 2.0 had no reset_after: it computed what reset_after=False does.
        kwargs["reset_after"] = bool(c.get("reset_after", False))
    return getattr(layers, kind)(**kwargs)


def _spec(spec: Any, where: str) -> tuple[str, dict[str, Any], str]:
    if not isinstance(spec, dict) or "class_name" not in spec:
        raise NotAChainError(f"{where}: layer entry without class_name")
    config = spec.get("config")
    config = config if isinstance(config, dict) else {}
    name = layer_name(str(spec.get("name") or config.get("name") or where))
    return str(spec["class_name"]), config, name


def _unsupported(kind: str, name: str) -> UnsupportedLayerError:
    return UnsupportedLayerError(
        f"layer {name!r} ({kind}) is not supported; supported layers: "
        f"{', '.join(sorted(set(SUPPORTED)))}"
    )


def keras3_layer(spec: dict[str, Any], legacy: bool = True) -> Any:
    """A new Keras 3 layer for one layer entry ``{"class_name", "config"}`` of a Keras 2
    model config (see the module doc); raises ``UnsupportedLayerError`` naming the layer."""
    from keras import layers

    kind, c, name = _spec(spec, "layer")

    def act(key: str, default: str = "linear") -> Any:
        return activation(c.get(key, default), name, legacy)

    builders: dict[str, Callable[[], Any]] = {
        "Dense": lambda: layers.Dense(
            int(c["units"]),
            activation=act("activation"),
            use_bias=c.get("use_bias", True),
            name=name,
        ),
        "Activation": lambda: layers.Activation(act("activation"), name=name),
        "Softmax": lambda: layers.Softmax(axis=c.get("axis", -1), name=name),
        "ReLU": lambda: layers.ReLU(
            max_value=c.get("max_value"),
            negative_slope=float(c.get("negative_slope", 0.0)),
            threshold=float(c.get("threshold", 0.0)),
            name=name,
        ),
        "Dropout": lambda: layers.Dropout(
            float(c.get("rate", 0.0)), noise_shape=_unwrap(c.get("noise_shape")), name=name
        ),
        "SpatialDropout1D": lambda: layers.SpatialDropout1D(float(c.get("rate", 0.0)), name=name),
        "GaussianNoise": lambda: layers.GaussianNoise(float(c.get("stddev", 0.0)), name=name),
        "GaussianDropout": lambda: layers.GaussianDropout(float(c.get("rate", 0.0)), name=name),
        "AlphaDropout": lambda: layers.AlphaDropout(float(c.get("rate", 0.0)), name=name),
        "ActivityRegularization": lambda: layers.ActivityRegularization(name=name),
    }
    if kind in builders:
        return builders[kind]()
    if kind == "Conv1D":
        _channels_last(c, name)
        return layers.Conv1D(
            int(c["filters"]),
            _one(c["kernel_size"], "kernel_size", name),
            strides=_one(c.get("strides", 1), "strides", name),
            padding=c.get("padding", "valid"),
            dilation_rate=_one(c.get("dilation_rate", 1), "dilation_rate", name),
            groups=int(c.get("groups", 1)),
            activation=act("activation"),
            use_bias=c.get("use_bias", True),
            name=name,
        )
    if kind == "MaxPooling1D":
        _channels_last(c, name)
        pool = _one(c.get("pool_size", 2), "pool_size", name)
        strides = c.get("strides")
        return layers.MaxPooling1D(
            pool,
            strides=pool if strides is None else _one(strides, "strides", name),
            padding=c.get("padding", "valid"),
            name=name,
        )
    if kind == "BatchNormalization":
        axis = _unwrap(c.get("axis", -1))
        axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
        if axis not in (-1, 2):
            raise UnsupportedLayerError(
                f"layer {name!r}: BatchNormalization over axis {axis} (only the feature axis)"
            )
        if c.get("renorm"):
            raise UnsupportedLayerError(
                f"layer {name!r}: BatchNormalization renorm is not supported"
            )
        return layers.BatchNormalization(
            axis=-1,
            momentum=float(c.get("momentum", 0.99)),
            epsilon=float(c.get("epsilon", 1e-3)),
            center=bool(c.get("center", True)),
            scale=bool(c.get("scale", True)),
            name=name,
        )
    if kind in ("GRU", "LSTM", "SimpleRNN"):
        return _rnn(kind, c, name, legacy)
    if kind == "TimeDistributed":
        inner_kind, _, _ = _spec(c.get("layer"), name)
        if inner_kind != "Dense":
            raise UnsupportedLayerError(
                f"layer {name!r}: TimeDistributed({inner_kind}) is not supported "
                "(only TimeDistributed(Dense))"
            )
        return layers.TimeDistributed(keras3_layer(c["layer"], legacy), name=name)
    if kind == "Bidirectional":
        inner_kind, _, _ = _spec(c.get("layer"), name)
        if inner_kind not in ("GRU", "LSTM", "SimpleRNN"):
            raise UnsupportedLayerError(
                f"layer {name!r}: Bidirectional({inner_kind}) is not supported"
            )
        merge = c.get("merge_mode", "concat")
        if merge not in ("concat", "sum", "mul", "ave"):
            raise UnsupportedLayerError(
                f"layer {name!r}: Bidirectional merge_mode {merge!r} returns two sequences "
                "(use concat, sum, mul or ave)"
            )
        backward = c.get("backward_layer")
        return layers.Bidirectional(
            keras3_layer(c["layer"], legacy),
            merge_mode=merge,
            backward_layer=None if backward is None else keras3_layer(backward, legacy),
            name=name,
        )
    raise _unsupported(kind, name)


# --------------------------------------------------------------------------- model configs


def _input_dim(config: dict[str, Any], where: str) -> int:
    shape = _unwrap(config.get("batch_input_shape", config.get("batch_shape")))
    if not isinstance(shape, list) or len(shape) != 3 or not isinstance(shape[-1], int):
        raise NotAChainError(
            f"{where}: the model input has shape {shape}; expected (batch, time, features)"
        )
    return int(shape[-1])


def _inbound(spec: dict[str, Any], name: str) -> list[str]:
    """The layers feeding ``spec`` (Keras 2 ``inbound_nodes``: nodes of [layer, node, tensor,
    kwargs] entries; newer tf.keras also writes ``{"args": ...}`` nodes)."""
    nodes = spec.get("inbound_nodes") or []
    if len(nodes) != 1:
        raise NotAChainError(
            f"layer {name!r} is called {len(nodes)} times; the model must be one chain of layers"
        )
    node = nodes[0]
    if isinstance(node, dict):  # {"args": [{"class_name": "__keras_tensor__", ...}], ...}
        args = node.get("args") or []
        args = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        history = [a.get("config", {}).get("keras_history") for a in args if isinstance(a, dict)]
        return [layer_name(str(h[0])) for h in history if h]
    return [layer_name(str(entry[0])) for entry in node]


def _acoustic_input(names: list[str], by_name: dict[str, Any]) -> str:
    """The one (batch, time, features) float input among a model's inputs: a training wrapper
    (the seed's ``add_ctc_loss``) adds labels and lengths inputs beside it."""
    found = []
    for name in names:
        kind, config, _ = by_name.get(name, (None, {}, None))
        shape = _unwrap(config.get("batch_input_shape", config.get("batch_shape")))
        dtype = str(config.get("dtype", "float32"))
        is_3d = isinstance(shape, list) and len(shape) == 3
        if kind == "InputLayer" and is_3d and dtype.startswith("float"):
            found.append(name)
    if len(found) != 1:
        raise NotAChainError(
            f"the model has {len(names)} inputs ({', '.join(names)}), {len(found)} of them "
            "(batch, time, features) float inputs; expected exactly one"
        )
    return found[0]


def model_chain(config: dict[str, Any]) -> tuple[str, int, list[dict[str, Any]], list[str]]:
    """(model name, feature dim, layer entries in call order without the input layer, the
    training-only layers left out) of a Keras 2 ``Functional``/``Model``/``Sequential`` config.

    ``NotAChainError`` unless the layers form one linear chain from one ``(batch, time,
    features)`` input to the output. A CTC training wrapper (the seed saves its
    ``add_ctc_loss`` model with ModelCheckpoint: extra label/length inputs and a multi-input
    Lambda ``ctc`` after the softmax) is unwrapped: the chain ends before the first layer that
    takes more than one input, and that layer and everything fed by the other inputs drop."""
    kind = config.get("class_name")
    body = config.get("config")
    if kind == "Sequential":
        entries = body if isinstance(body, list) else (body or {}).get("layers", [])
        name = "sequential" if isinstance(body, list) else (body or {}).get("name", "sequential")
        if not entries:
            raise NotAChainError("the Sequential model has no layers")
        first_kind, first, _ = _spec(entries[0], "layer 0")
        if first_kind == "InputLayer":
            dim = _input_dim(first, "input")
            entries = entries[1:]
        else:
            dim = _input_dim(first, f"layer {first.get('name')!r}")
        return str(name), dim, list(entries), []
    if kind not in ("Functional", "Model") or not isinstance(body, dict):
        raise NotAChainError(f"model class {kind!r} is not a Functional or Sequential model")
    entries = body.get("layers") or []
    inputs = _unwrap(body.get("input_layers") or [])
    outputs = _unwrap(body.get("output_layers") or [])
    if inputs and not isinstance(inputs[0], list):
        inputs = [inputs]
    if outputs and not isinstance(outputs[0], list):
        outputs = [outputs]
    if len(outputs) != 1:
        raise NotAChainError(f"the model has {len(outputs)} outputs; expected one")
    by_name = {}
    for i, entry in enumerate(entries):
        entry_kind, entry_config, entry_name = _spec(entry, f"layer {i}")
        by_name[entry_name] = (entry_kind, entry_config, entry)
    first = _acoustic_input([layer_name(str(i[0])) for i in inputs], by_name)
    last = layer_name(str(outputs[0][0]))
    dim = _input_dim(by_name[first][1], "input")
    feeds: dict[str, list[str]] = {}
    consumers: dict[str, list[str]] = {}
    for entry_name, (entry_kind, _, entry) in by_name.items():
        if entry_kind == "InputLayer":
            continue
        feeds[entry_name] = _inbound(entry, entry_name)
        for source in feeds[entry_name]:
            consumers.setdefault(source, []).append(entry_name)
    chain, current = [], first
    while current != last:
        following = consumers.get(current, [])
        if len(following) != 1:
            raise NotAChainError(
                f"layer {current!r} feeds {len(following)} layers; the model must be one chain"
            )
        if len(feeds[following[0]]) > 1:  # the training wrapper's loss layer: stop here
            break
        current = following[0]
        chain.append(by_name[current][2])
    dropped = [n for n in by_name if n != first and by_name[n][2] not in chain]
    if dropped and current == last:
        raise NotAChainError(
            f"the model has layers outside its input-to-output chain ({', '.join(dropped)})"
        )
    if not chain:
        raise NotAChainError("the model has no layers after its input")
    return str(body.get("name", "model")), dim, chain, dropped


def is_generic_name(name: str) -> bool:
    """Keras' automatic model names (``model_1``, ``functional_3``...): no information."""
    base = name.rstrip("0123456789").rstrip("_")
    return base in GENERIC_MODEL_NAMES
