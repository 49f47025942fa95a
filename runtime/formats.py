"""Every contract between training, the converters and the device, typed once (docs/formats.md).

The model directory (``ModelDir``: ``ModelMeta``, ``FeatureConfig``, ``Labels``), the bundle
(``BundleDoc``: ``BundleHeader``, ``ArtifactEntry``, ``StreamSpec``, ``ParityResult``,
``Unavailable``) and the names of formats, precisions and variants live here and nowhere else.
Each is a frozen dataclass that round-trips JSON (``to_dict`` / ``from_dict``) and validates on
read with a one-line ``FormatError`` naming the file and the field, so a device never runs an
artifact on a contract it did not check. Stdlib and numpy only: the device reads these.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import numpy as np

from runtime.errors import EdgeASRError
from runtime.feature_config import FeatureConfig, FeatureConfigError
from runtime.fileio import write_json, write_text
from runtime.lengths import PADDINGS, cnn_output_length

#: Newest bundle schema this code writes and reads (older ones stay readable). 2 added audio-in
#: artifacts (``ArtifactEntry.audio``, ``StreamSpec.audio``); a schema-1 bundle reads as one
#: without them.
SCHEMA_VERSION = 2

BUNDLE_FILE = "bundle.json"
SOURCE_FILE = "source/model.keras"
REJECTED_DIR = "rejected"
ONNX_METADATA_KEY = "edge_asr_bundle"

MODEL_FILE = "model.keras"
MODEL_META_FILE = "model.json"
FEATURES_FILE = "features.json"
LABELS_FILE = "labels.json"
TRAIN_LOG_FILE = "train_log.csv"

#: Precisions per artifact format (the variant matrix is formats x precisions x {offline, stream}).
PRECISIONS: dict[str, tuple[str, ...]] = {
    # int8-dynamic-per-tensor: int8-dynamic with per-tensor Dense kernels (FULLY_CONNECTED v9,
    # not v12), the int8 variant tflite-runtime 2.14 loads; int16x8-full: int16 activations,
    # int8 weights (16x8, for MCUs/NPUs), like int8-full streaming (unrolled) graph only
    "tflite": (
        "fp32",
        "fp16",
        "int8-dynamic",
        "int8-dynamic-per-tensor",
        "int8-full",
        "int16x8-full",
    ),
    "onnx": ("fp32", "fp16", "int8-dynamic", "int8-static"),
}
FORMATS: tuple[str, ...] = tuple(PRECISIONS)
STREAM_SUFFIX = "-stream"
AUDIO_SUFFIX = "-audio"
#: Input sample types of audio-in artifacts: float32 in [-1, 1) or int16 PCM.
AUDIO_DTYPES = ("float32", "int16")

#: Upper bounds on stream-spec sizes: far above any real model, low enough that a corrupt spec
#: cannot make a device allocate gigabytes or loop forever.
MAX_STREAM_FRAMES = 100_000
MAX_STATE_ELEMENTS = 1 << 24


class FormatError(EdgeASRError):
    """A contract file (bundle.json, model.json, ...) that is missing, malformed or too new."""


def variant_name(fmt: str, precision: str, streaming: bool, audio: bool = False) -> str:
    """``tflite-int8-dynamic``, ``onnx-fp32-stream``, ``onnx-fp32-audio-stream``, ..."""
    return (
        f"{fmt}-{precision}"
        + (AUDIO_SUFFIX if audio else "")
        + (STREAM_SUFFIX if streaming else "")
    )


def variant_file(fmt: str, precision: str, streaming: bool, audio: bool = False) -> str:
    """``model.int8-dynamic.tflite``, ``model.fp32.stream.onnx``, ``model.fp32.audio.onnx``..."""
    return (
        f"model.{precision}"
        + (".audio" if audio else "")
        + (".stream" if streaming else "")
        + f".{fmt}"
    )


# --------------------------------------------------------------------------- field readers

T = TypeVar("T")


class _Reader:
    """Typed access to one JSON object, with errors that say where (``file: field: why``)."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise FormatError(f"{where}: expected a JSON object, got {_kind(data)}")
        self.data = data
        self.where = where

    def error(self, key: str, why: str) -> FormatError:
        return FormatError(f"{self.where}: {key!r} {why}")

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise self.error(key, "is missing")
            return default
        return self.data[key]

    def text(self, key: str, default: Any = ..., empty: bool = False) -> Any:
        value = self.raw(key, default)
        if value is None and default is None:
            return None
        if not isinstance(value, str) or (not empty and not value):
            raise self.error(key, f"must be a non-empty string, got {_kind(value)}")
        return value

    def integer(self, key: str, default: Any = ..., low: int = 0, high: int | None = None) -> Any:
        value = self.raw(key, default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {_kind(value)}")
        if value < low or (high is not None and value > high):
            limit = f">= {low}" if high is None else f"in [{low}, {high}]"
            raise self.error(key, f"must be {limit}, got {value}")
        return value

    def number(self, key: str, default: Any = ...) -> Any:
        value = self.raw(key, default)
        if value is None and default is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.error(key, f"must be a finite number, got {_kind(value)}")
        return float(value)

    def flag(self, key: str, default: Any = ...) -> Any:
        value = self.raw(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {_kind(value)}")
        return value

    def child(self, key: str, default: Any = ...) -> _Reader:
        return _Reader(self.raw(key, default), f"{self.where}: {key}")

    def array(self, key: str, default: Any = ...) -> list[Any]:
        value = self.raw(key, default)
        if not isinstance(value, list):
            raise self.error(key, f"must be a list, got {_kind(value)}")
        return value

    def items(self, key: str, parse: Callable[[Any, str], T], default: Any = ...) -> tuple[T, ...]:
        return tuple(
            parse(item, f"{self.where}: {key}[{i}]")
            for i, item in enumerate(self.array(key, default))
        )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {value}".lower()
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    return {"list": "a list", "dict": "an object"}.get(type(value).__name__, type(value).__name__)


def _located(exc: FormatError, where: str) -> FormatError:
    """``exc`` with ``where`` in front, unless its message already starts there."""
    msg = str(exc)
    return FormatError(msg if msg.startswith(where) else f"{where}: {msg}")


def _drop_none(data: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if not (k in keys and v is None)}


def read_json_file(path: str | os.PathLike, what: str) -> Any:
    """The parsed JSON of ``path`` or a one-line FormatError (missing, not UTF-8, not JSON)."""
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: no {what}")
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot read {what} ({exc.strerror})") from None


# --------------------------------------------------------------------------- small parts


@dataclass(frozen=True)
class ConvLength:
    """One convolution (or pooling) of the ``output_length`` rule."""

    kernel: int
    stride: int
    padding: str
    dilation: int = 1

    @classmethod
    def from_dict(cls, data: Any, where: str) -> ConvLength:
        r = _Reader(data, where)
        padding = r.text("padding")
        if padding not in PADDINGS:
            raise r.error("padding", f"must be one of {', '.join(PADDINGS)}, got {padding!r}")
        return cls(
            kernel=r.integer("kernel", low=1, high=MAX_STREAM_FRAMES),
            stride=r.integer("stride", low=1, high=MAX_STREAM_FRAMES),
            padding=padding,
            dilation=r.integer("dilation", 1, low=1, high=MAX_STREAM_FRAMES),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kernel": self.kernel,
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
        }


@dataclass(frozen=True)
class LengthRule:
    """How many model frames come out of ``n`` feature frames (``cnn_output_length`` applied
    per convolution, in order); shared by training (CTC lengths), conversion and the device."""

    layers: tuple[ConvLength, ...] = ()

    def __call__(self, n_frames: int) -> int:
        n = n_frames
        for c in self.layers:
            n = cnn_output_length(n, c.kernel, c.padding, c.stride, c.dilation)  # type: ignore[assignment]
        return n

    @property
    def total_stride(self) -> int:
        """Feature frames per model frame (for timestamps and chunk sizes)."""
        return math.prod(c.stride for c in self.layers)

    def shortest_input(self, limit: int = 4096) -> int:
        """Fewest feature frames that give at least one output frame."""
        for n in range(1, limit):
            if self(n) >= 1:
                return n
        raise FormatError(f"the output_length rule gives no frame for any input up to {limit}")

    @classmethod
    def from_dict(cls, data: Any, where: str = "output_length") -> LengthRule:
        return cls(_Reader(data, where).items("layers", ConvLength.from_dict, []))

    def to_dict(self) -> dict[str, Any]:
        return {"layers": [c.to_dict() for c in self.layers]}


@dataclass(frozen=True)
class Labels:
    """The output alphabet: ``symbols[i]`` is class ``i``; ``blank`` is the CTC blank class."""

    symbols: tuple[str, ...]
    blank: int

    def __post_init__(self) -> None:
        if not self.symbols or any(not isinstance(s, str) or len(s) != 1 for s in self.symbols):
            raise FormatError("labels: symbols must be one-character strings")
        if len(set(self.symbols)) != len(self.symbols):
            raise FormatError("labels: symbols repeat")
        if not 0 <= self.blank <= len(self.symbols):
            raise FormatError(f"labels: blank {self.blank} is outside 0..{len(self.symbols)}")

    @property
    def num_classes(self) -> int:
        return len(self.symbols) + 1

    @classmethod
    def default(cls) -> Labels:
        """The seed's 29 classes: apostrophe, space, a-z, blank last."""
        from runtime.text import BLANK, SYMBOLS

        return cls(tuple(SYMBOLS), BLANK)

    @classmethod
    def from_dict(cls, data: Any, where: str = "labels") -> Labels:
        r = _Reader(data, where)
        symbols = r.array("symbols")
        if not all(isinstance(s, str) and len(s) == 1 for s in symbols):
            raise r.error("symbols", "must be a list of one-character strings")
        try:
            return cls(tuple(symbols), r.integer("blank", len(symbols)))
        except FormatError as exc:
            raise FormatError(f"{where}: {str(exc).removeprefix('labels: ')}") from None

    def to_dict(self) -> dict[str, Any]:
        return {"symbols": list(self.symbols), "blank": self.blank}

    def text(self, ids: Sequence[int]) -> str:
        """Label ids (no blanks) to text; single spaces, none at either end."""
        symbols = self.symbols
        return " ".join("".join(symbols[i] for i in ids if i != self.blank).split())


def _features(data: Any, where: str) -> FeatureConfig:
    try:
        return FeatureConfig.from_dict(data)
    except (FeatureConfigError, TypeError, ValueError, KeyError) as exc:
        raise FormatError(f"{where}: {exc}") from None


# --------------------------------------------------------------------------- the model directory


@dataclass(frozen=True)
class ModelMeta:
    """What a model is (``model.json``): builder name, its params, the length rule, and whether
    it is causal (streamable: every layer looks back only). ``source`` (optional) records where
    an imported model came from (``edge-asr import``: file, kind, normalization choice)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    output_length: LengthRule = field(default_factory=LengthRule)
    streamable: bool = True
    source: Mapping[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = MODEL_META_FILE) -> ModelMeta:
        r = _Reader(data, where)
        params = r.raw("params", {})
        if not isinstance(params, Mapping):
            raise r.error("params", f"must be an object, got {_kind(params)}")
        source = r.raw("source", None)
        if source is not None and not isinstance(source, Mapping):
            raise r.error("source", f"must be an object, got {_kind(source)}")
        return cls(
            name=r.text("name"),
            params=dict(params),
            output_length=LengthRule.from_dict(r.raw("output_length"), f"{where}: output_length"),
            streamable=r.flag("streamable", True),
            source=None if source is None else dict(source),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": dict(self.params),
            "output_length": self.output_length.to_dict(),
            "streamable": self.streamable,
            **({} if self.source is None else {"source": dict(self.source)}),
        }


@dataclass(frozen=True)
class ModelDir:
    """A model directory (``edge-asr train``'s output, ``convert``/``evaluate``'s input)."""

    path: Path
    meta: ModelMeta
    features: FeatureConfig
    labels: Labels

    @property
    def keras_file(self) -> Path:
        return self.path / MODEL_FILE

    @classmethod
    def read(cls, path: str | os.PathLike, need_model: bool = True) -> ModelDir:
        """Read and check every contract file; ``need_model=False`` accepts a directory whose
        model.keras is not written yet (a training run being resumed before its first save)."""
        root = Path(path)
        if not root.is_dir():
            raise FormatError(f"{root}: no such model directory")
        docs = {}
        for name in (MODEL_META_FILE, FEATURES_FILE, LABELS_FILE):
            if not (root / name).is_file():
                raise FormatError(f"{root}: missing {name} (not a model directory)")
            docs[name] = read_json_file(root / name, name)
        if need_model and not (root / MODEL_FILE).is_file():
            raise FormatError(f"{root}: missing {MODEL_FILE}")
        meta = ModelMeta.from_dict(docs[MODEL_META_FILE], str(root / MODEL_META_FILE))
        features = _features(docs[FEATURES_FILE], str(root / FEATURES_FILE))
        labels = Labels.from_dict(docs[LABELS_FILE], str(root / LABELS_FILE))
        return cls(root, meta, features, labels)

    def write(self) -> None:
        """Write model.json, features.json and labels.json (each atomically); the Keras model
        itself is saved by ``edge_asr.models.save_model``."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.path / MODEL_META_FILE, self.meta.to_dict())
        write_text(self.path / FEATURES_FILE, self.features.to_json())
        write_json(self.path / LABELS_FILE, self.labels.to_dict())


# --------------------------------------------------------------------------- the bundle


@dataclass(frozen=True)
class Quantization:
    scale: float
    zero_point: int

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "zero_point": self.zero_point}


@dataclass(frozen=True)
class TensorInfo:
    """One input or output tensor of an artifact (-1: a dynamic dimension)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    quantization: Quantization | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str) -> TensorInfo:
        r = _Reader(data, where)
        shape = r.array("shape")
        if not all(isinstance(s, int) and not isinstance(s, bool) and s >= -1 for s in shape):
            raise r.error("shape", "must be a list of integers (-1 for dynamic)")
        quant = None
        if r.has("quantization"):
            q = r.child("quantization")
            quant = Quantization(q.number("scale"), q.integer("zero_point", low=-(2**31)))
        return cls(r.text("name"), tuple(shape), r.text("dtype"), quant)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "quantization": self.quantization.to_dict() if self.quantization else None,
        }


@dataclass(frozen=True)
class StateSpec:
    """One recurrent state tensor carried from call to call of a streaming artifact."""

    input: str
    output: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    layer: str = ""
    role: str = ""

    @classmethod
    def from_dict(cls, data: Any, where: str) -> StateSpec:
        r = _Reader(data, where)
        shape = r.array("shape")
        if not shape or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape
        ):
            raise r.error("shape", "must be a non-empty list of positive integers")
        if math.prod(shape) > MAX_STATE_ELEMENTS:
            raise r.error(
                "shape", f"has {math.prod(shape)} elements (at most {MAX_STATE_ELEMENTS})"
            )
        return cls(
            input=r.text("input"),
            output=r.text("output"),
            shape=tuple(shape),
            dtype=r.text("dtype", "float32"),
            layer=r.text("layer", "", empty=True),
            role=r.text("role", "", empty=True),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "output": self.output,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "layer": self.layer,
            "role": self.role,
        }


def features_sha256(config: FeatureConfig) -> str:
    """sha256 of a feature config as canonical JSON: what an audio-in artifact was built for."""
    text = json.dumps(config.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class AudioInput:
    """An audio-in artifact's input: PCM at ``sample_rate`` of ``dtype``, features computed in
    the graph for the feature config whose ``features_sha256`` is recorded."""

    sample_rate: int
    dtype: str
    features_sha256: str

    def __post_init__(self) -> None:
        if self.dtype not in AUDIO_DTYPES:
            raise FormatError(f"audio: dtype must be one of {', '.join(AUDIO_DTYPES)}")
        if not 1000 <= self.sample_rate <= 768_000:
            raise FormatError(f"audio: sample_rate {self.sample_rate} out of [1000, 768000]")

    @classmethod
    def from_dict(cls, data: Any, where: str = "audio") -> AudioInput:
        r = _Reader(data, where)
        try:
            return cls(
                sample_rate=r.integer("sample_rate", low=1),
                dtype=r.text("dtype"),
                features_sha256=r.text("features_sha256"),
            )
        except FormatError as exc:
            raise _located(exc, where) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sample_rate,
            "dtype": self.dtype,
            "features_sha256": self.features_sha256,
        }


@dataclass(frozen=True)
class AudioStream:
    """How an audio-in streaming artifact is fed (docs/formats.md, "Audio-in artifacts"):
    ``chunk_samples`` per call; the first ``warmup_calls`` calls only fill the graph's feature
    context (their outputs are dropped, states do not advance); ``frame_window``/``frame_step``/
    ``pad_last_frame`` give the utterance's feature-frame count, from which the bundle's
    ``output_length`` rule gives how many posterior frames to keep. ``pad_preemphasis`` ``c``:
    the audio after the end is padded with ``x[N-1] * c**(j+1)`` (zeros when 0), which is zero
    after the graph's pre-emphasis: exactly psf's zero-padded last frame."""

    chunk_samples: int
    warmup_calls: int
    frame_window: int
    frame_step: int
    pad_last_frame: bool
    pad_preemphasis: float = 0.0

    def __post_init__(self) -> None:
        if not 1 <= self.frame_step <= self.frame_window <= MAX_STREAM_FRAMES:
            raise FormatError("stream: audio: need 1 <= frame_step <= frame_window")
        if self.chunk_samples < 1 or self.chunk_samples % self.frame_step:
            raise FormatError(
                f"stream: audio: chunk_samples ({self.chunk_samples}) must be a positive "
                f"multiple of frame_step ({self.frame_step})"
            )
        if not 0 <= self.warmup_calls <= 64:
            raise FormatError(f"stream: audio: warmup_calls ({self.warmup_calls}) not in [0, 64]")
        if not 0 <= self.pad_preemphasis < 1:
            raise FormatError("stream: audio: pad_preemphasis must be in [0, 1)")

    def end_padding(self, last: float, start: int, count: int) -> np.ndarray:
        """Samples ``start .. start+count`` after the end of an utterance whose last sample
        is ``last`` (see the class docstring)."""
        if not self.pad_preemphasis or not last:
            return np.zeros(count, np.float32)
        j = np.arange(start + 1, start + count + 1, dtype=np.float64)
        return (last * self.pad_preemphasis**j).astype(np.float32)

    def num_frames(self, n_samples: int) -> int:
        """Feature frames of an utterance of ``n_samples`` (== ``FeatureConfig.num_frames``)."""
        w, h = self.frame_window, self.frame_step
        if self.pad_last_frame:
            return 0 if n_samples <= 0 else 1 + max(0, -(-(n_samples - w) // h))
        return 0 if n_samples < w else (n_samples - w) // h + 1

    @classmethod
    def from_dict(cls, data: Any, where: str = "audio") -> AudioStream:
        r = _Reader(data, where)
        try:
            return cls(
                chunk_samples=r.integer("chunk_samples", low=1, high=MAX_STREAM_FRAMES * 100),
                warmup_calls=r.integer("warmup_calls", low=0, high=64),
                frame_window=r.integer("frame_window", low=1, high=MAX_STREAM_FRAMES),
                frame_step=r.integer("frame_step", low=1, high=MAX_STREAM_FRAMES),
                pad_last_frame=r.flag("pad_last_frame"),
                pad_preemphasis=r.number("pad_preemphasis", 0.0),
            )
        except FormatError as exc:
            raise _located(exc, where) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_samples": self.chunk_samples,
            "warmup_calls": self.warmup_calls,
            "frame_window": self.frame_window,
            "frame_step": self.frame_step,
            "pad_last_frame": self.pad_last_frame,
            "pad_preemphasis": self.pad_preemphasis,
        }


@dataclass(frozen=True)
class StreamSpec:
    """How a device runs a streaming artifact chunk after chunk (docs/formats.md, STREAM).

    Call ``k`` gets feature frames ``[k*chunk, k*chunk + window)`` of the stream with
    ``left_pad`` zero frames in front, plus the states call ``k-1`` returned.
    """

    chunk_frames: int
    window_frames: int
    output_frames: int
    left_pad_frames: int = 0
    states: tuple[StateSpec, ...] = ()
    audio: AudioStream | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.chunk_frames <= self.window_frames <= MAX_STREAM_FRAMES:
            raise FormatError(
                f"stream: need 1 <= chunk_frames ({self.chunk_frames}) <= window_frames "
                f"({self.window_frames}) <= {MAX_STREAM_FRAMES}"
            )
        if not 1 <= self.output_frames <= self.window_frames:
            raise FormatError(
                f"stream: output_frames ({self.output_frames}) must be in [1, window_frames]"
            )
        if not 0 <= self.left_pad_frames < self.window_frames:
            raise FormatError(
                f"stream: left_pad_frames ({self.left_pad_frames}) must be in [0, window_frames)"
            )

    @classmethod
    def from_dict(cls, data: Any, where: str = "stream") -> StreamSpec:
        r = _Reader(data, where)
        try:
            return cls(
                chunk_frames=r.integer("chunk_frames", low=1, high=MAX_STREAM_FRAMES),
                window_frames=r.integer("window_frames", low=1, high=MAX_STREAM_FRAMES),
                output_frames=r.integer("output_frames", low=1, high=MAX_STREAM_FRAMES),
                left_pad_frames=r.integer("left_pad_frames", 0, high=MAX_STREAM_FRAMES),
                states=r.items("states", StateSpec.from_dict, []),
                audio=None
                if r.raw("audio", None) is None
                else AudioStream.from_dict(r.raw("audio"), "audio"),
            )
        except FormatError as exc:
            raise _located(exc, where) from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_frames": self.chunk_frames,
            "window_frames": self.window_frames,
            "left_pad_frames": self.left_pad_frames,
            "output_frames": self.output_frames,
            "states": [s.to_dict() for s in self.states],
            **({"audio": self.audio.to_dict()} if self.audio else {}),
        }


#: Parity metrics in the order the bundle lists them (None: not measured, e.g. no text).
PARITY_METRICS = (
    "max_abs_diff",
    "mean_abs_diff",
    "decode_agreement",
    "cer",
    "reference_cer",
    "delta_cer",
)


@dataclass(frozen=True)
class ParityResult:
    """The output-match gate's verdict on one artifact (its ``parity`` block)."""

    passed: bool
    max_abs_diff: float | None = None
    mean_abs_diff: float | None = None
    decode_agreement: float | None = None
    cer: float | None = None
    reference_cer: float | None = None
    delta_cer: float | None = None
    utterances: int = 0
    tolerance: Mapping[str, float] = field(default_factory=dict)
    failures: tuple[str, ...] = ()

    def metrics(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (*PARITY_METRICS, "utterances")}

    @classmethod
    def from_dict(cls, data: Any, where: str = "parity") -> ParityResult:
        r = _Reader(data, where)
        tolerance = r.raw("tolerance", {})
        if not isinstance(tolerance, Mapping):
            raise r.error("tolerance", f"must be an object, got {_kind(tolerance)}")
        failures = r.array("failures", [])
        return cls(
            passed=r.flag("passed"),
            **{k: r.number(k, None) for k in PARITY_METRICS},
            utterances=r.integer("utterances", 0),
            tolerance=dict(tolerance),
            failures=tuple(str(f) for f in failures),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"passed": self.passed, **self.metrics()}
        data["tolerance"] = dict(self.tolerance)
        if self.failures:
            data["failures"] = list(self.failures)
        return data


def _relative_file(value: str, where: str) -> str:
    """An artifact path must stay inside its bundle: relative, no ``..``, no backslashes."""
    posix = PurePosixPath(value)
    if posix.is_absolute() or ".." in posix.parts or "\\" in value or value.startswith("~"):
        raise FormatError(f"{where}: 'file' {value!r} must be a path inside the bundle")
    return value


@dataclass(frozen=True)
class MicroCheck:
    """What TensorFlow Lite Micro makes of a TFLite artifact (``converters.micro``): whether it
    loads and runs there, the ops it lacks, the smallest arena that works, and the greedy-decode
    agreement of TFLM with LiteRT on the check utterances. ``flash_bytes`` is the flatbuffer a
    microcontroller stores; ``static_shapes`` says whether every tensor shape is static (what
    TFLM and NNAPI/GPU/NPU delegates need); ``reason`` says why an artifact is not compatible."""

    compatible: bool
    unsupported_ops: tuple[str, ...] = ()
    arena_bytes: int = 0
    decode_agreement: float = 0.0
    flash_bytes: int = 0
    static_shapes: bool = False
    reason: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "micro") -> MicroCheck:
        r = _Reader(data, where)
        ops = r.raw("unsupported_ops", [])
        if not isinstance(ops, list) or not all(isinstance(o, str) for o in ops):
            raise r.error("unsupported_ops", "must be a list of op names")
        return cls(
            compatible=r.flag("compatible"),
            unsupported_ops=tuple(ops),
            arena_bytes=r.integer("arena_bytes", 0),
            decode_agreement=r.number("decode_agreement", 0.0),
            flash_bytes=r.integer("flash_bytes", 0),
            static_shapes=r.flag("static_shapes", False),
            reason=r.text("reason", None),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "compatible": self.compatible,
            "unsupported_ops": list(self.unsupported_ops),
            "arena_bytes": self.arena_bytes,
            "decode_agreement": self.decode_agreement,
            "flash_bytes": self.flash_bytes,
            "static_shapes": self.static_shapes,
        }
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass(frozen=True)
class ArtifactEntry:
    """One converted, gated variant (docs/formats.md, ARTIFACT)."""

    name: str
    file: str
    format: str
    precision: str
    streaming: bool
    quantized_weights: str
    parity: ParityResult
    inputs: tuple[TensorInfo, ...] = ()
    outputs: tuple[TensorInfo, ...] = ()
    stream: StreamSpec | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    conversion_seconds: float = 0.0
    note: str | None = None
    audio: AudioInput | None = None
    micro: MicroCheck | None = None  # TFLite only: the TFLM check (converters.micro)

    def __post_init__(self) -> None:
        if self.format not in PRECISIONS:
            raise FormatError(f"artifact {self.name}: unknown format {self.format!r}")
        if self.precision not in PRECISIONS[self.format]:
            raise FormatError(
                f"artifact {self.name}: unknown {self.format} precision {self.precision!r}"
            )
        if self.streaming and self.stream is None:
            raise FormatError(f"artifact {self.name}: streaming but has no 'stream' spec")
        if self.streaming and self.stream and (self.audio is None) != (self.stream.audio is None):
            raise FormatError(
                f"artifact {self.name}: an audio-in streaming artifact needs both 'audio' and "
                "'stream.audio' (a feature-input one neither)"
            )
        _relative_file(self.file, f"artifact {self.name}")

    @property
    def passed(self) -> bool:
        return self.parity.passed

    @classmethod
    def from_dict(cls, data: Any, where: str = "artifact") -> ArtifactEntry:
        r = _Reader(data, where)
        name = r.text("name")
        where = f"{where} ({name})"
        r = _Reader(data, where)
        streaming = r.flag("streaming")
        stream = StreamSpec.from_dict(r.raw("stream"), f"{where}: stream") if streaming else None
        sha = r.text("sha256")
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise r.error("sha256", "must be 64 lowercase hex digits")
        try:
            return cls(
                name=name,
                file=_relative_file(r.text("file"), where),
                format=r.text("format"),
                precision=r.text("precision"),
                streaming=streaming,
                quantized_weights=r.text("quantized_weights", "", empty=True),
                parity=ParityResult.from_dict(
                    r.raw("parity", {"passed": False}), f"{where}: parity"
                ),
                inputs=r.items("inputs", TensorInfo.from_dict, []),
                outputs=r.items("outputs", TensorInfo.from_dict, []),
                stream=stream,
                sha256=sha,
                size_bytes=r.integer("size_bytes", None),
                conversion_seconds=r.number("conversion_seconds", 0.0),
                note=r.text("note", None),
                audio=None
                if r.raw("audio", None) is None
                else AudioInput.from_dict(r.raw("audio"), "audio"),
                micro=None
                if r.raw("micro", None) is None
                else MicroCheck.from_dict(r.raw("micro"), "micro"),
            )
        except FormatError as exc:
            raise _located(exc, where) from None

    def to_dict(self, embedded: bool = False) -> dict[str, Any]:
        """The bundle.json entry; ``embedded`` (ONNX metadata_props) leaves out the file's own
        sha256 and size, which embedding changes."""
        data: dict[str, Any] = {
            "name": self.name,
            "file": self.file,
            "format": self.format,
            "precision": self.precision,
            "streaming": self.streaming,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "stream": self.stream.to_dict() if self.stream else None,
            "audio": self.audio.to_dict() if self.audio else None,
            "quantized_weights": self.quantized_weights,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "parity": self.parity.to_dict(),
            "conversion_seconds": round(self.conversion_seconds, 2),
        }
        if self.note:
            data["note"] = self.note
        if self.micro is not None:
            data["micro"] = self.micro.to_dict()
        if embedded:
            del data["sha256"], data["size_bytes"]
        return data


@dataclass(frozen=True)
class Unavailable:
    """A requested variant with no file: unsupported by design (``error`` false) or failed."""

    name: str
    reason: str
    error: bool
    see: str | None = None
    log: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Unavailable:
        r = _Reader(data, where)
        return cls(
            r.text("name"),
            r.text("reason", "", empty=True),
            r.flag("error", False),
            r.text("see", None),
            r.text("log", None, empty=True),
        )

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "name": self.name,
                "reason": self.reason,
                "error": self.error,
                "see": self.see,
                "log": self.log,
            },
            ("see", "log"),
        )


@dataclass(frozen=True)
class ModelInfo:
    """The bundle's ``model`` block: what was converted, and the source model's hash."""

    name: str
    params: Mapping[str, Any]
    streamable: bool
    source_sha256: str
    source_file: str = SOURCE_FILE
    not_streamable_reason: str | None = None

    @classmethod
    def from_dict(cls, data: Any, where: str = "model") -> ModelInfo:
        r = _Reader(data, where)
        source = r.child("source")
        params = r.raw("params", {})
        if not isinstance(params, Mapping):
            raise r.error("params", f"must be an object, got {_kind(params)}")
        return cls(
            name=r.text("name"),
            params=dict(params),
            streamable=r.flag("streamable", True),
            source_sha256=source.text("sha256"),
            source_file=_relative_file(source.text("file", SOURCE_FILE), f"{where}: source"),
            not_streamable_reason=r.text("not_streamable_reason", None),
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "params": dict(self.params),
            "streamable": self.streamable,
            "source": {"file": self.source_file, "sha256": self.source_sha256},
        }
        if self.not_streamable_reason:
            data["not_streamable_reason"] = self.not_streamable_reason
        return data


@dataclass(frozen=True)
class BundleHeader:
    """Everything in bundle.json except the artifact lists (also embedded in ONNX files)."""

    features: FeatureConfig
    labels: Labels
    output_length: LengthRule
    model: ModelInfo
    created: str = ""
    tool_versions: Mapping[str, str | None] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    @property
    def model_meta(self) -> ModelMeta:
        """The source model's ModelMeta (what ``edge_asr.models.load_model`` attaches)."""
        m = self.model
        return ModelMeta(m.name, dict(m.params), self.output_length, m.streamable)

    @classmethod
    def from_dict(cls, data: Any, where: str = BUNDLE_FILE) -> BundleHeader:
        r = _Reader(data, where)
        version = r.raw("schema_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise r.error("schema_version", f"must be an integer >= 1, got {_kind(version)}")
        if version > SCHEMA_VERSION:
            raise FormatError(
                f"{where}: schema_version {version} is newer than this runtime supports "
                f"({SCHEMA_VERSION}); upgrade edge-asr"
            )
        tools = r.raw("tool_versions", {})
        return cls(
            features=_features(r.raw("features"), f"{where}: features"),
            labels=Labels.from_dict(r.raw("labels"), f"{where}: labels"),
            output_length=LengthRule.from_dict(r.raw("output_length"), f"{where}: output_length"),
            model=ModelInfo.from_dict(r.raw("model"), f"{where}: model"),
            created=r.text("created", "", empty=True),
            tool_versions=dict(tools) if isinstance(tools, Mapping) else {},
            schema_version=version,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "created": self.created,
            "features": self.features.to_dict(),
            "labels": self.labels.to_dict(),
            "output_length": self.output_length.to_dict(),
            "model": self.model.to_dict(),
            "tool_versions": dict(self.tool_versions),
        }


@dataclass(frozen=True)
class BundleDoc:
    """The whole bundle.json."""

    header: BundleHeader
    artifacts: tuple[ArtifactEntry, ...] = ()
    unavailable: tuple[Unavailable, ...] = ()
    parity_check: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [a.name for a in self.artifacts]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise FormatError(f"bundle lists artifact {dupes[0]!r} twice")
        expected = features_sha256(self.header.features)
        for a in self.artifacts:
            if a.audio is None:
                continue
            if a.audio.features_sha256 != expected:
                raise FormatError(
                    f"artifact {a.name}: built for other features than the bundle's "
                    "(audio.features_sha256 differs: features edited after conversion?)"
                )
            if a.audio.sample_rate != self.header.features.sample_rate:
                raise FormatError(
                    f"artifact {a.name}: audio.sample_rate {a.audio.sample_rate} != features "
                    f"sample_rate {self.header.features.sample_rate}"
                )

    @classmethod
    def from_dict(cls, data: Any, where: str = BUNDLE_FILE) -> BundleDoc:
        header = BundleHeader.from_dict(data, where)
        r = _Reader(data, where)
        check = r.raw("parity_check", {})
        try:
            return cls(
                header=header,
                artifacts=r.items("artifacts", ArtifactEntry.from_dict),
                unavailable=r.items("unavailable", Unavailable.from_dict, []),
                parity_check=dict(check) if isinstance(check, Mapping) else {},
            )
        except FormatError as exc:
            raise _located(exc, where) from None

    @classmethod
    def read(cls, path: str | os.PathLike) -> BundleDoc:
        return cls.from_dict(read_json_file(path, BUNDLE_FILE), str(path))

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.header.to_dict(),
            "artifacts": [a.to_dict() for a in self.artifacts],
            "unavailable": [u.to_dict() for u in self.unavailable],
            "parity_check": dict(self.parity_check),
        }

    def write(self, bundle_dir: str | os.PathLike) -> Path:
        """bundle.json, atomically (every artifact must have its sha256 by now)."""
        for a in self.artifacts:
            if not a.sha256:
                raise FormatError(f"artifact {a.name} was not finalized (no sha256)")
        path = Path(bundle_dir) / BUNDLE_FILE
        write_json(path, self.to_dict())
        return path


__all__ = [
    "AUDIO_DTYPES",
    "BUNDLE_FILE",
    "FORMATS",
    "PRECISIONS",
    "SCHEMA_VERSION",
    "ArtifactEntry",
    "AudioInput",
    "AudioStream",
    "BundleDoc",
    "BundleHeader",
    "ConvLength",
    "FormatError",
    "Labels",
    "LengthRule",
    "MicroCheck",
    "ModelDir",
    "ModelInfo",
    "ModelMeta",
    "ParityResult",
    "Quantization",
    "StateSpec",
    "StreamSpec",
    "TensorInfo",
    "Unavailable",
    "features_sha256",
    "replace",
    "variant_file",
    "variant_name",
]
