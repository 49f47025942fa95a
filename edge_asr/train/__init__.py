"""CTC training of the acoustic models (``edge-asr train``).

``train(TrainConfig(...))`` writes a model directory (docs/formats.md). Importing this package
is light; TensorFlow loads when training starts.
"""

from __future__ import annotations

from edge_asr.train.augment import NO_AUGMENT, AugmentConfig
from edge_asr.train.loop import TrainConfig, TrainResult, train

__all__ = ["NO_AUGMENT", "AugmentConfig", "TrainConfig", "TrainResult", "train"]
