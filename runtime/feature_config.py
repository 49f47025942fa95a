"""The feature configuration: what a model's input features are, without the code that
computes them (``runtime.features``).

Its own module so that a reader of bundles and model directories (``runtime.formats``) and the
audio-in path of the runtime, whose artifacts compute features in the graph, do not import the
numpy feature code.
"""

from __future__ import annotations

import dataclasses
import decimal
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError

__all__ = ["EPS", "KINDS", "FeatureConfig", "FeatureConfigError"]

KINDS = ("spectrogram", "mfcc")
EPS = 1e-14  # the seed's epsilon, both inside the log and in the normalization


class FeatureConfigError(EdgeASRError):
    """A feature configuration (or its JSON) that cannot be used."""


def _round_half_up(number: float) -> int:
    """psf's rounding of frame length/step (so 25 ms at 16 kHz is exactly psf's 400 samples)."""
    return int(
        decimal.Decimal(number).quantize(decimal.Decimal("1"), rounding=decimal.ROUND_HALF_UP)
    )


@dataclass(frozen=True)
class FeatureConfig:
    """Everything needed to reproduce a model's input features, stored in bundle.json.

    ``window_ms`` defaults to 20 (spectrogram) or 25 (mfcc) when left as None. ``mean``/``std``
    (length ``dim``) turn on per-dimension normalization ``(x - mean) / (std + 1e-14)``.
    """

    kind: str = "spectrogram"
    sample_rate: int = 16000
    window_ms: float | None = None
    step_ms: float = 10
    max_freq: float = 8000
    n_mfcc: int = 13
    n_filters: int = 26
    n_fft: int = 512
    preemphasis: float = 0.97
    ceplifter: float = 22
    append_energy: bool = True
    mean: list[float] | None = None
    std: list[float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FeatureConfigError(
                f"unknown feature kind {self.kind!r} (expected one of: {', '.join(KINDS)})"
            )
        if self.window_ms is None:
            object.__setattr__(self, "window_ms", 20 if self.kind == "spectrogram" else 25)
        for name in ("mean", "std"):
            value = getattr(self, name)
            if value is not None:
                try:
                    arr = np.asarray(value, dtype=np.float64)
                except (TypeError, ValueError) as exc:
                    raise FeatureConfigError(f"feature {name} is not a list of numbers") from exc
                object.__setattr__(self, name, [float(v) for v in arr.reshape(-1)])
        self._validate()

    # ---------------------------------------------------------------- validation
    def _validate(self) -> None:
        def bad(msg: str) -> FeatureConfigError:
            return FeatureConfigError(f"invalid {self.kind} feature config: {msg}")

        if not isinstance(self.sample_rate, int | np.integer) or self.sample_rate <= 0:
            raise bad(f"sample_rate must be a positive integer, got {self.sample_rate!r}")
        for name in ("window_ms", "step_ms"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not value > 0:
                raise bad(f"{name} must be a positive number, got {value!r}")
        if self.step_ms > self._window_ms:
            raise bad(
                f"step_ms ({self.step_ms}) must not be greater than window_ms ({self.window_ms})"
            )
        if self.window < 2 or self.step < 1:
            raise bad(
                f"window_ms/step_ms too small for {self.sample_rate} Hz "
                f"({self.window} / {self.step} samples)"
            )
        if self.kind == "spectrogram":
            if not 0 < self.max_freq <= self.sample_rate / 2:
                raise bad(
                    f"max_freq ({self.max_freq}) must be in (0, sample_rate/2 = "
                    f"{self.sample_rate / 2:g}]"
                )
        else:
            if not isinstance(self.n_filters, int) or self.n_filters < 1:
                raise bad(f"n_filters must be a positive integer, got {self.n_filters!r}")
            if not isinstance(self.n_mfcc, int) or not 1 <= self.n_mfcc <= self.n_filters:
                raise bad(f"n_mfcc must be in [1, n_filters={self.n_filters}], got {self.n_mfcc!r}")
            if not isinstance(self.n_fft, int) or self.n_fft < self.window:
                raise bad(
                    f"n_fft ({self.n_fft}) must be an integer >= the window ({self.window} samples)"
                )
            if not 0 <= self.preemphasis < 1:
                raise bad(f"preemphasis must be in [0, 1), got {self.preemphasis!r}")
            if self.ceplifter < 0:
                raise bad(f"ceplifter must be >= 0, got {self.ceplifter!r}")
        if (self.mean is None) != (self.std is None):
            raise bad("mean and std must be given together")
        if self.mean is not None:
            for name in ("mean", "std"):
                value = getattr(self, name)
                if len(value) != self.dim:
                    raise bad(f"{name} has {len(value)} values, features have dim {self.dim}")
                if not np.all(np.isfinite(value)):
                    raise bad(f"{name} contains NaN or Inf")
            if min(self.std or ()) < 0:
                raise bad("std contains negative values")

    # ---------------------------------------------------------------- constructors
    @classmethod
    def spectrogram(cls, **overrides: Any) -> FeatureConfig:
        """The seed's 161-bin log spectrogram (20 ms Hann window, 10 ms hop, up to 8 kHz)."""
        return cls(kind="spectrogram", **overrides)

    @classmethod
    def mfcc(cls, **overrides: Any) -> FeatureConfig:
        """python_speech_features' default 13 MFCCs (25 ms frames, 10 ms hop)."""
        return cls(kind="mfcc", **overrides)

    def with_stats(self, mean: Sequence[float], std: Sequence[float]) -> FeatureConfig:
        """A copy that normalizes with these per-dimension statistics."""
        return dataclasses.replace(
            self,
            mean=list(np.asarray(mean, dtype=np.float64).reshape(-1)),
            std=list(np.asarray(std, dtype=np.float64).reshape(-1)),
        )

    def without_stats(self) -> FeatureConfig:
        return dataclasses.replace(self, mean=None, std=None)

    # ---------------------------------------------------------------- derived sizes
    @property
    def _window_ms(self) -> float:
        """``window_ms`` with its default filled in (``__post_init__`` sets it; typed here)."""
        assert self.window_ms is not None
        return self.window_ms

    @cached_property
    def window(self) -> int:
        """Frame length in samples (seed: int() truncation; psf: round half up)."""
        if self.kind == "spectrogram":
            return int(0.001 * self._window_ms * self.sample_rate)
        return _round_half_up(self._window_ms / 1000 * self.sample_rate)

    @cached_property
    def step(self) -> int:
        """Hop in samples, rounded the way the reference implementation rounds it."""
        if self.kind == "spectrogram":
            return int(0.001 * self.step_ms * self.sample_rate)
        return _round_half_up(self.step_ms / 1000 * self.sample_rate)

    @cached_property
    def dim(self) -> int:
        if self.kind == "mfcc":
            return self.n_mfcc
        freqs = float(self.sample_rate) / self.window * np.arange(self.window // 2 + 1)
        return int(np.where(freqs <= self.max_freq)[0][-1] + 1)

    @property
    def normalized(self) -> bool:
        return self.mean is not None

    def num_frames(self, n_samples: int) -> int:
        """How many frames ``extract`` returns for ``n_samples`` samples."""
        if n_samples <= 0:
            return 0
        if self.kind == "spectrogram":
            return 0 if n_samples < self.window else (n_samples - self.window) // self.step + 1
        if n_samples <= self.window:
            return 1
        return 1 + math.ceil((n_samples - self.window) / self.step)

    # ---------------------------------------------------------------- serialization
    def to_dict(self) -> dict[str, Any]:
        """All fields plus the derived ``dim`` (informational; checked by ``from_dict``)."""
        data = dataclasses.asdict(self)
        data["dim"] = self.dim
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        if not isinstance(data, dict):
            raise FeatureConfigError(
                f"feature config must be a JSON object, got {type(data).__name__}"
            )
        data = dict(data)
        dim = data.pop("dim", None)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FeatureConfigError(f"unknown feature config keys: {', '.join(unknown)}")
        if "kind" not in data:
            raise FeatureConfigError("feature config has no 'kind'")
        try:
            config = cls(**data)
        except TypeError as exc:  # e.g. a string where a number belongs
            raise FeatureConfigError(f"invalid feature config: {exc}") from exc
        if dim is not None and dim != config.dim:
            raise FeatureConfigError(
                f"feature config says dim {dim} but its settings give {config.dim}"
            )
        return config

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> FeatureConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FeatureConfigError(f"feature config is not valid JSON: {exc}") from exc
        return cls.from_dict(data)
