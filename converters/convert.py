"""Orchestration of ``edge-asr convert``: every variant in its own child process, then the gate,
then the bundle.

Why child processes: converters crash hard (the TFLite calibrator segfaults on WHILE-loop RNNs,
exit 139). A variant runs in its own process (forked from a server that preloaded TensorFlow)
with a timeout, so a crash or hang costs that one variant, is reported with its signal, and
leaves nothing behind (artifacts are written atomically; a crashed variant's file and temp files
are deleted). The child converts and then runs the artifact
through ``runtime.backends`` on the check set; the parent compares with the eager Keras
reference, applies the tolerances and moves failures to ``rejected/``.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from converters.audio_in import AudioLayout, audio_input
from runtime.errors import EdgeASRError
from runtime.features import FeatureConfig
from runtime.fileio import replace_dir, write_json
from runtime.formats import (
    BUNDLE_FILE,
    PRECISIONS,
    REJECTED_DIR,
    SOURCE_FILE,
    ArtifactEntry,
    BundleDoc,
    BundleHeader,
    ModelDir,
    ModelMeta,
    StreamSpec,
    TensorInfo,
    Unavailable,
    variant_file,
    variant_name,
)

WHILE_INT8_REASON = (
    "full-integer quantization of a WHILE-loop RNN crashes the TFLite calibrator (segfault, "
    "exit 139, TF 2.21): only the unrolled streaming graph quantizes fully"
)
MAX_STREAM_CALIB_CALLS = 600
#: Integer-only TFLite precisions (int8 or int16 activations): calibrated, streaming graph only.
FULL_INTEGER = ("int8-full", "int16x8-full")
#: Precisions that need calibration feeds (--calib).
CALIBRATED = (*FULL_INTEGER, "int8-static")


@dataclass(frozen=True)
class Target:
    """One variant: format x precision x offline/streaming x feature/audio input."""

    format: str
    precision: str
    streaming: bool
    audio: bool = False

    @property
    def name(self) -> str:
        return variant_name(self.format, self.precision, self.streaming, self.audio)

    @property
    def file(self) -> str:
        return variant_file(self.format, self.precision, self.streaming, self.audio)


ALL_TARGETS = [
    Target(fmt, precision, streaming, audio)
    for audio in (False, True)
    for streaming in (False, True)
    for fmt, precisions in PRECISIONS.items()
    for precision in precisions
]
TARGET_NAMES = [t.name for t in ALL_TARGETS]
GROUPS: dict[str, Callable[[Target], bool]] = {
    "all": lambda t: True,
    "offline": lambda t: not t.streaming,
    "stream": lambda t: t.streaming,
    "tflite": lambda t: t.format == "tflite",
    "onnx": lambda t: t.format == "onnx",
    "fp32": lambda t: t.precision == "fp32",
    "audio": lambda t: t.audio,
    "features": lambda t: not t.audio,
}


def resolve_targets(items: Sequence[str] | None) -> list[Target]:
    """Target names or groups (all, offline, stream, tflite, onnx, fp32, audio, features),
    comma or space separated; a word prefixed with ``-`` removes (``all,-audio``); order follows
    ``ALL_TARGETS``."""
    words = [w for item in (items or ["all"]) for w in item.replace(",", " ").split()]
    chosen: set[str] = set()
    for word in words:
        drop = word.startswith("-") and len(word) > 1
        key = word[1:] if drop else word
        if key in GROUPS:
            names = {t.name for t in ALL_TARGETS if GROUPS[key](t)}
        elif key in TARGET_NAMES:
            names = {key}
        else:
            names = set()
        if names:
            if drop:
                chosen -= names
            else:
                chosen |= names
        else:
            raise EdgeASRError(
                f"unknown target {word!r}; choose from {', '.join(TARGET_NAMES)} or a group "
                f"({', '.join(GROUPS)})"
            )
    return [t for t in ALL_TARGETS if t.name in chosen]


@dataclass
class Options:
    targets: list[Target] = field(default_factory=lambda: list(ALL_TARGETS))
    chunk: int | None = None  # None: 16 feature frames, rounded up to the model's total stride
    int8_io: bool = False
    tolerance: dict[str, dict[str, float | None]] = field(default_factory=dict)
    timeout: float = 900.0
    long_seconds: float = 30.0
    threads: int = 1
    audio_dtype: str = "float32"  # input of the audio-in variants: float32 or int16 PCM


@dataclass
class Outcome:
    """What happened to each requested variant (for the table and the exit code)."""

    header: BundleHeader
    artifacts: list[ArtifactEntry] = field(default_factory=list)
    unavailable: list[Unavailable] = field(default_factory=list)
    bundle_json: Path | None = None

    @property
    def failed(self) -> list[str]:
        bad = [a.name for a in self.artifacts if not a.passed]
        return bad + [u.name for u in self.unavailable if u.error]


# --------------------------------------------------------------------------- child process


def _limit_tf_threads(threads: int) -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialized in this process
        pass


def _stage(job: dict[str, Any], stage: str) -> None:
    Path(job["stage"]).write_text(stage)


def _load_calibration(path: str, kind: str) -> list[dict[str, np.ndarray]]:
    """Feeds stored by ``_save_calibration``: kind "offline" or "stream"."""
    feeds: list[dict[str, np.ndarray]] = []
    with np.load(path) as data:
        names = json.loads(str(data[f"{kind}_names"]))
        for i in range(int(data[f"{kind}_count"])):
            feeds.append({n: data[f"{kind}_{i}_{j}"] for j, n in enumerate(names)})
    return feeds


#: Fault injection for tests: ``EDGE_ASR_CONVERT_FAULT=NAME`` makes variant NAME's process die
#: of SIGSEGV halfway through writing its artifact (what a converter crash looks like).
FAULT_ENV = "EDGE_ASR_CONVERT_FAULT"


def _inject_fault(job: dict[str, Any]) -> None:
    from runtime.fileio import atomic_path

    with atomic_path(job["artifact"]) as tmp:
        tmp.write_bytes(b"TFL3" + bytes(1000))
        os.kill(os.getpid(), signal.SIGSEGV)


def _produce(job: dict[str, Any], model: Any, work: Path) -> str:
    """Write the artifact at ``job["artifact"]``; return what was quantized."""
    from runtime.fileio import write_bytes

    target = Target(job["format"], job["precision"], job["streaming"], job["audio"])
    if job.get("fault") == target.name:
        _inject_fault(job)
    if target.audio:
        return _produce_audio(job, target, model, work)
    stream = StreamSpec.from_dict(job["stream"]) if target.streaming else None
    if target.format == "tflite":
        from converters import tflite_export

        saved = str(work / "saved_model")
        if stream:
            tflite_export.streaming_saved_model(model, stream, saved)
        else:
            tflite_export.offline_saved_model(model, saved)
        calib = None
        if target.precision in FULL_INTEGER:
            calib = _load_calibration(job["calib"], "stream" if stream else "offline")
        flat = tflite_export.convert(saved, target.precision, calib, job["int8_io"])
        flat = tflite_export.canonical_io(flat, None if stream else job["min_frames"])
        write_bytes(job["artifact"], flat)
        description = tflite_export.QUANTIZED_WEIGHTS[target.precision]
        if target.precision in FULL_INTEGER:
            integer = "int16" if target.precision == "int16x8-full" else "int8"
            io = f"{integer} I/O" if job["int8_io"] else "float32 I/O (quantize/dequantize inside)"
            description += f"; {io}"
        return description
    from converters.onnx_export import export_onnx

    if target.precision == "fp32":
        export_onnx(model, job["artifact"], stream=stream)
        return "nothing (float32)"
    from converters.onnx_quant import quantize

    fp32 = work / "fp32.onnx"
    export_onnx(model, fp32, stream=stream)
    calib = None
    if target.precision == "int8-static":
        calib = _load_calibration(job["calib"], "stream" if stream else "offline")
    return quantize(fp32, job["artifact"], target.precision, calib)


#: What every audio-in variant keeps in float, whatever its precision.
FRONTEND_FLOAT = "front end (framing, DFT, mel/log, normalization) float32"


def _produce_audio(job: dict[str, Any], target: Target, model: Any, work: Path) -> str:
    """The audio-in variant of ``target``: the feature-input variant of the same precision
    (``_produce``: same quantization and calibration) joined after the float32 front end
    (``converters.tflite_audio`` / ``converters.onnx_audio``); returns what was quantized."""
    from converters.audio_in import stream_layout
    from runtime.fileio import write_bytes

    config = FeatureConfig.from_dict(job["features"])
    dtype = job["audio_dtype"]
    layout = None
    if target.streaming:
        layout = stream_layout(StreamSpec.from_dict(job["feature_stream"]), config, dtype)
    acoustic = work / f"acoustic.{target.format}"
    inner = {**job, "audio": False, "artifact": str(acoustic), "fault": None}
    inner["stream"] = job["feature_stream"] if layout else None
    what = _produce(inner, model, work)
    if target.format == "tflite":
        from converters import tflite_audio

        data = acoustic.read_bytes()
        if layout:
            flat = tflite_audio.stream_artifact(data, layout, config, dtype)
        else:
            flat = tflite_audio.offline_artifact(data, config, dtype, job["min_samples"])
        write_bytes(job["artifact"], flat)
    else:
        import onnx

        from converters.onnx_audio import offline_onnx, stream_onnx

        proto = onnx.load(str(acoustic))
        merged = (
            stream_onnx(proto, layout, config, dtype)
            if layout
            else offline_onnx(proto, config, dtype)
        )
        write_bytes(job["artifact"], merged.SerializeToString())
    return f"{FRONTEND_FLOAT}; acoustic model: {what}"


def _child(job: dict[str, Any]) -> None:
    """Entry point of a variant's process: convert, then run the artifact on the check set."""
    log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result: dict[str, Any] = {}
    try:
        _stage(job, "loading the model")
        _limit_tf_threads(job["threads"])
        from converters.parity import CheckSet, run_artifact
        from edge_asr.models import load_model

        model = load_model(job["model"], ModelMeta.from_dict(job["meta"]))
        _stage(job, "converting")
        start = time.perf_counter()
        # Scratch inside the parent's work dir: a crashed child cannot clean up after itself.
        scratch = Path(job["scratch"])
        scratch.mkdir(parents=True, exist_ok=True)
        result["quantized_weights"] = _produce(job, model, scratch)
        result["conversion_seconds"] = time.perf_counter() - start
        _stage(job, "running the artifact on the check set")
        features, n_out, audio = CheckSet.load_inputs(job["checks"], job["audio"])
        stream = StreamSpec.from_dict(job["stream"]) if job["streaming"] else None
        posteriors, io = run_artifact(
            job["artifact"], features, n_out, stream, job["threads"], audio
        )
        np.savez(job["posteriors"], *posteriors)
        result["io"] = io
    except EdgeASRError as exc:
        result = {"error": str(exc)}
    except Exception as exc:  # any converter failure is this variant's, reported by name
        traceback.print_exc()  # into the variant's log
        result = {"error": f"{type(exc).__name__}: {exc}"}
    write_json(job["result"], result)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if "error" not in result else 1)


def _describe_exit(code: int | None, stage: str) -> str:
    if code is None:
        return f"timed out while {stage}"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"crashed with {name} (exit {128 - code}) while {stage}"
    return f"exited with code {code} while {stage}"


def _log_tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    keep = [t for t in text if t.strip() and "oneDNN" not in t and "absl" not in t]
    return " | ".join(keep[-lines:])


#: Modules the fork server imports once, so each variant's process starts in ~0.1 s instead of
#: re-importing TensorFlow (~5 s). They start no threads at import (checked: TF, Keras); the
#: interpreters (onnxruntime) are imported by the children themselves.
PRELOAD = ["edge_asr.tensorflow_quiet", "edge_asr.models", "converters.tflite_export"]


def _context() -> Any:
    """``forkserver`` with TensorFlow preloaded; ``EDGE_ASR_CONVERT_START=spawn`` opts out."""
    method = os.environ.get("EDGE_ASR_CONVERT_START", "forkserver")
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(PRELOAD)
    return ctx


def run_variant(job: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run ``_child`` in a fresh process; the child's result or an ``error`` describing how it
    died. The artifact file is removed whenever there is an error."""
    ctx = _context()
    process = ctx.Process(target=_child, args=(job,), daemon=True)
    process.start()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        code = None
    else:
        code = process.exitcode
    stage_file = Path(job["stage"])
    stage = stage_file.read_text() if stage_file.exists() else "starting"
    result_file = Path(job["result"])
    result = json.loads(result_file.read_text()) if result_file.exists() else None
    if result is None or (code not in (0, 1)):
        result = {"error": _describe_exit(code, stage)}
        tail = _log_tail(Path(job["log"]))
        if tail:
            result["log"] = tail
    if "error" in result:
        artifact = Path(job["artifact"])
        artifact.unlink(missing_ok=True)
        for tmp in artifact.parent.glob(f".{artifact.name}.*.tmp"):  # left by a killed writer
            tmp.unlink(missing_ok=True)
    return result


# --------------------------------------------------------------------------- parent side


class Utterances(NamedTuple):
    """Check or calibration utterances: names, normalized features and texts, audio files."""

    names: list[str]
    features: list[np.ndarray]
    texts: list[str]
    paths: list[str]

    def audio(self, sample_rate: int) -> list[np.ndarray]:
        """Float samples at ``sample_rate`` (what audio-in artifacts are fed)."""
        from edge_asr.data.audio import load_audio

        return [load_audio(p, sample_rate) for p in self.paths]


def load_utterances(
    manifest: str | os.PathLike, features: FeatureConfig, limit: int, skip: int = 0
) -> Utterances:
    """Up to ``limit`` utterances after ``skip``, through the one manifest loader (bad rows and
    unreadable audio skipped, counted, reported one line each)."""
    from edge_asr.data.loading import load_set

    loaded = load_set(
        manifest, features, limit=limit, skip=skip, progress=f"features {Path(manifest).name}"
    )
    paths = [str(u.path) for u in loaded.utterances]
    return Utterances(loaded.names, loaded.features, loaded.texts, paths)


def stream_calibration(
    model: Any, spec: StreamSpec, features: Sequence[np.ndarray], max_calls: int
) -> list[dict[str, np.ndarray]]:
    """Windows + the states the (Keras, unrolled) streaming model really carries at each call:
    zero states alone would calibrate the state inputs to a range they never see. At most
    ``max_calls`` feeds, spread evenly over each utterance."""
    import tensorflow as tf

    from converters.streaming import chunk_windows, streaming_twin

    twin = streaming_twin(model, spec)
    step = tf.function(lambda inputs: twin(inputs, training=False))
    feeds: list[dict[str, np.ndarray]] = []
    per_utt = max(1, max_calls // max(1, len(features)))
    for feats in features:
        states = [np.zeros(s.shape, np.float32) for s in spec.states]
        windows = chunk_windows(feats, spec, model.output_length(len(feats)))
        keep = set(np.linspace(0, len(windows) - 1, min(per_utt, len(windows))).round().astype(int))
        for k, window in enumerate(windows):
            feed = {"feats": window[None]}
            feed.update({s.input: v for s, v in zip(spec.states, states, strict=True)})
            if k in keep:
                feeds.append(feed)
            outputs = step([feed["feats"], *states])
            states = [np.asarray(t) for t in outputs[1:]]
    return feeds


def _save_calibration(path: Path, by_kind: dict[str, list[dict[str, np.ndarray]]]) -> None:
    """Calibration feeds of each kind (offline, stream): audio-in variants quantize their
    acoustic model exactly as the feature-input ones, on the same feeds."""
    arrays: dict[str, Any] = {}
    for kind in ("offline", "stream"):
        feeds = by_kind.get(kind, [])
        names = list(feeds[0]) if feeds else []
        arrays[f"{kind}_names"] = np.array(json.dumps(names))
        arrays[f"{kind}_count"] = np.array(len(feeds))
        for i, feed in enumerate(feeds):
            for j, name in enumerate(names):
                arrays[f"{kind}_{i}_{j}"] = feed[name]
    np.savez(path, **arrays)


def unsupported_reason(
    target: Target, spec: StreamSpec | None, not_streamable: str | None, kinds: set[str]
) -> tuple[str | None, str | None]:
    """(reason this variant cannot exist, alternative) or (None, None)."""
    from edge_asr.models.chain import BIDIRECTIONAL, RECURRENT

    if target.streaming and spec is None:
        return f"model is not streamable: {not_streamable}", None
    stream_name = variant_name(target.format, target.precision, True, target.audio)
    if (
        target.format == "tflite"
        and target.precision in FULL_INTEGER
        and not target.streaming
        and kinds & {*RECURRENT, BIDIRECTIONAL}
    ):
        alternative = stream_name if spec is not None else None
        reason = WHILE_INT8_REASON
        if alternative is None:
            reason += "; this model is not streamable, so there is no unrolled graph either"
        return reason, alternative
    return None, None


def convert_model_dir(
    model_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    check: Utterances,
    calib: Utterances | None,
    options: Options,
    check_sources: dict[str, Any] | None = None,
) -> Outcome:
    """Convert, gate and bundle. ``check``/``calib``: utterances already featurized
    (``load_utterances``).

    The bundle is built in a temporary sibling of ``out_dir`` and swapped in at the end, so an
    interrupted or failed re-conversion leaves the previous bundle as it was."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise EdgeASRError(f"{out}: exists and is not a directory")
    src = ModelDir.read(model_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        outcome = _convert_into(src, build, check, calib, options, check_sources or {})
        replace_dir(build, out)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    outcome.bundle_json = out / BUNDLE_FILE
    return outcome


def _convert_into(
    src: ModelDir,
    out: Path,
    check: Utterances,
    calib: Utterances | None,
    options: Options,
    check_sources: dict[str, Any],
) -> Outcome:
    from converters import bundle as bundle_io
    from converters.parity import build_check_set, keras_reference
    from converters.streaming import not_streamable_reason, stream_spec
    from edge_asr.models import load_model
    from edge_asr.progress import make_progress
    from runtime.fileio import atomic_path, sha256_file

    source = out / SOURCE_FILE
    with atomic_path(source) as tmp:
        shutil.copyfile(src.keras_file, tmp)
    model = load_model(source, src.meta)
    chunk = options.chunk or default_chunk(src.meta)
    spec = stream_spec(model, chunk)
    reason = not_streamable_reason(model) if spec is None else None

    audio_in = any(t.audio for t in options.targets)
    checks = build_check_set(
        model,
        check.names,
        check.features,
        check.texts,
        long_seconds=options.long_seconds,
        step_ms=float(src.features.step_ms),
        audio=check.audio(src.features.sample_rate) if audio_in else None,
        config=src.features,
    )
    if not any(checks.texts):
        raise EdgeASRError("no usable check utterance (all too short or unreadable)")
    checks.reference = keras_reference(model, checks.features)
    header = bundle_io.bundle_header(
        src.meta, src.features, src.labels, sha256_file(source), spec is not None, reason
    )
    outcome = Outcome(header=header)
    with tempfile.TemporaryDirectory(prefix="edge-asr-convert-") as tmpdir:
        session = _Session(
            model, spec, reason, checks, out, Path(tmpdir), options, outcome, src.features
        )
        session.prepare(calib)
        with make_progress() as bar:
            task = bar.add_task("converting", total=len(options.targets), info="")
            for target in options.targets:
                bar.update(task, info=target.name)
                session.variant(target)
                bar.advance(task)

    outcome.artifacts = [bundle_io.finalize(out, header, a) for a in outcome.artifacts]
    check_info = {
        "utterances": len(checks.features),
        "inputs": checks.names,
        "notes": checks.notes,
        **check_sources,
        "calibration_utterances": session.calibration_utterances,
        "calibration_stream_windows": session.calibration_windows,
    }
    doc = BundleDoc(header, tuple(outcome.artifacts), tuple(outcome.unavailable), check_info)
    doc.write(out)
    return outcome


def default_chunk(meta: ModelMeta, frames: int = 16) -> int:
    """``frames`` rounded up to a multiple of the total convolution stride (16 -> 18 for a
    stride-3 front end): every chunk must map to whole output frames."""
    stride = meta.output_length.total_stride
    return -(-frames // stride) * stride


@dataclass
class _Session:
    """Shared state of one conversion: the model, its stream spec, the check set, paths."""

    model: Any
    spec: StreamSpec | None
    reason: str | None
    checks: Any
    out: Path
    work: Path
    options: Options
    outcome: Outcome
    features: FeatureConfig
    calibration_utterances: int = 0
    calibration_windows: int = 0

    @cached_property
    def layout(self) -> AudioLayout | None:
        """The audio-in stream layout (None: the model does not stream)."""
        from converters.audio_in import stream_layout

        if self.spec is None:
            return None
        return stream_layout(self.spec, self.features, self.options.audio_dtype)

    def prepare(self, calib: Utterances | None) -> None:
        """Write the check set and calibration feeds for the child processes."""
        self.checks.save(self.work / "checks.npz")
        feeds: dict[str, list[dict[str, np.ndarray]]] = {}
        calibrated = [t for t in self.options.targets if t.precision in CALIBRATED]
        if calibrated:
            keep = [
                i
                for i, f in enumerate(calib.features if calib else [])
                if self.model.output_length(len(f))
            ]
            if not calib or not keep:
                raise EdgeASRError(
                    "int8-full/int16x8-full/int8-static targets need --calib utterances"
                )
            usable = [calib.features[i] for i in keep]
            feeds["offline"] = [{"the_input": f[None].astype(np.float32)} for f in usable]
            if self.spec is not None:
                feeds["stream"] = stream_calibration(
                    self.model, self.spec, usable, MAX_STREAM_CALIB_CALLS
                )
            self.calibration_utterances = len(usable)
            self.calibration_windows = len(feeds.get("stream", []))
        _save_calibration(self.work / "calib.npz", feeds)

    def variant(self, target: Target) -> None:
        """Convert one variant in a child process, gate it, record the outcome."""
        from converters.parity import measure, verdict
        from converters.tolerances import tolerance_for
        from edge_asr.models.chain import layer_kinds

        why, alternative = unsupported_reason(
            target, self.spec, self.reason, layer_kinds(self.model)
        )
        if not why and target.audio and target.precision in FULL_INTEGER and self.options.int8_io:
            why = "--int8-io applies to feature-input variants; audio-in ones take PCM samples"
            alternative = variant_name(target.format, target.precision, target.streaming)
        if why:
            self.outcome.unavailable.append(Unavailable(target.name, why, False, alternative))
            return
        artifact = self.out / target.file
        rejected = self.out / REJECTED_DIR / target.file
        work = self.work
        job = {
            "format": target.format,
            "precision": target.precision,
            "streaming": target.streaming,
            "stream": self._stream(target).to_dict() if target.streaming else None,
            "feature_stream": self.spec.to_dict() if self.spec else None,
            "audio": target.audio,
            "audio_dtype": self.options.audio_dtype,
            "features": self.features.to_dict(),
            "min_samples": (self.model.meta.output_length.shortest_input() - 1) * self.features.step
            + self.features.window,
            "int8_io": self.options.int8_io,
            "threads": self.options.threads,
            "model": str(self.out / SOURCE_FILE),
            "meta": self.model.meta.to_dict(),
            "artifact": str(artifact),
            "min_frames": self.model.meta.output_length.shortest_input(),
            "checks": str(work / "checks.npz"),
            "calib": str(work / "calib.npz"),
            **{k: str(work / f"{target.name}.{k}") for k in ("result", "posteriors", "stage")},
            "log": str(work / f"{target.name}.log"),
            "scratch": str(work / f"{target.name}.scratch"),
            # read here, not in the child: the fork server's environment is frozen at its start
            "fault": os.environ.get(FAULT_ENV),
        }
        job["posteriors"] += ".npz"
        result = run_variant(job, self.options.timeout)
        if "error" in result:
            failed = Unavailable(target.name, result["error"], True, log=result.get("log"))
            self.outcome.unavailable.append(failed)
            return
        with np.load(job["posteriors"]) as data:
            candidate = [data[f"arr_{i}"] for i in range(len(data.files))]
        metrics, problems = measure(self.checks.reference, candidate, self.checks.texts)
        tolerance = tolerance_for(
            target.name, target.precision, target.streaming, self.options.tolerance, target.audio
        )
        parity = verdict(metrics, problems, tolerance)
        file = target.file
        if not parity.passed:
            rejected.parent.mkdir(parents=True, exist_ok=True)
            os.replace(artifact, rejected)
            file = f"{REJECTED_DIR}/{target.file}"
        note = None
        if target.precision in FULL_INTEGER and self.options.int8_io:
            integer = "int16" if target.precision == "int16x8-full" else "int8"
            note = f"{integer} I/O: (de)quantize with the recorded scale and zero point"
        self.outcome.artifacts.append(
            ArtifactEntry(
                name=target.name,
                file=file,
                format=target.format,
                precision=target.precision,
                streaming=target.streaming,
                quantized_weights=result["quantized_weights"],
                parity=parity,
                inputs=tuple(TensorInfo.from_dict(t, "input") for t in result["io"]["inputs"]),
                outputs=tuple(TensorInfo.from_dict(t, "output") for t in result["io"]["outputs"]),
                stream=self._stream(target) if target.streaming else None,
                conversion_seconds=result["conversion_seconds"],
                note=note,
                audio=audio_input(self.features, self.options.audio_dtype)
                if target.audio
                else None,
            )
        )
        from converters.micro import with_micro  # TFLM check of TFLite entries (bundle.json)

        last = self.outcome.artifacts[-1]
        self.outcome.artifacts[-1] = with_micro(last, self.out, self.checks, self.model)

    def _stream(self, target: Target) -> StreamSpec:
        spec = self.layout.spec if target.audio and self.layout else self.spec
        assert spec is not None
        return spec
