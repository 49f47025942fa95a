"""The seed project's acoustic models (Keras 3), a registry, and save/load that keep
``output_length``.

Every builder returns a functional ``keras.Model`` with input ``the_input`` of shape
``(batch, time, input_dim)`` and a per-frame softmax over 29 symbols, and attaches
``model.output_length(n_frames)`` plus ``model.edge_asr`` (builder name, params, length rule).
The layers are the seed's (TimeDistributed included); export problems are the converters' job.
"""

from __future__ import annotations

from edge_asr.models.builders import (
    bidirectional_rnn_model,
    cnn_rnn_model,
    deep_rnn_model,
    final_model,
    final_model_streaming,
    rnn_model,
    simple_rnn_model,
)
from edge_asr.models.registry import REGISTRY, build, describe
from edge_asr.models.saving import load_model, load_model_dir, save_model
from runtime.lengths import cnn_output_length

__all__ = [
    "REGISTRY",
    "bidirectional_rnn_model",
    "build",
    "cnn_output_length",
    "cnn_rnn_model",
    "deep_rnn_model",
    "describe",
    "final_model",
    "final_model_streaming",
    "load_model",
    "load_model_dir",
    "rnn_model",
    "save_model",
    "simple_rnn_model",
]
