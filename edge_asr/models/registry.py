"""Name -> builder registry behind ``edge_asr.models.build`` and ``edge-asr models``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import keras

from edge_asr.models import builders

REGISTRY: dict[str, Callable[..., keras.Model]] = {
    "simple_rnn_model": builders.simple_rnn_model,
    "rnn_model": builders.rnn_model,
    "cnn_rnn_model": builders.cnn_rnn_model,
    "deep_rnn_model": builders.deep_rnn_model,
    "bidirectional_rnn_model": builders.bidirectional_rnn_model,
    "final_model": builders.final_model,
    "final_model_streaming": builders.final_model_streaming,
    "final_model_micro": builders.final_model_micro,
}
DEFAULT_MODEL = "final_model_streaming"


def build(name: str, **params: Any) -> keras.Model:
    """Build a registered model; unknown names or parameters raise ``ValueError``."""
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(REGISTRY)}")
    builder = REGISTRY[name]
    accepted = inspect.signature(builder).parameters
    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    unknown = [k for k in params if k not in accepted and not takes_kwargs]
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {', '.join(unknown)}")
    return builder(**params)


def describe(name: str) -> str:
    """First docstring line of a builder."""
    return (inspect.getdoc(REGISTRY[name]) or "").splitlines()[0]
