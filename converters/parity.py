"""The output-match gate: every artifact, run in its real interpreter, against eager Keras.

Keras eager is the truth (a traced Keras 3 model with TimeDistributed and an unknown time axis
is silently wrong, so the reference must not be traced). The check set is real utterances plus
edge cases: the shortest input the model accepts (1 frame, or the convolution's kernel when
``output_length(1) == 0``) and a long input (real utterances' features concatenated to >= 30 s).

Artifacts run through ``runtime.backends`` exactly as a device would (streaming ones chunk by
chunk with ``runtime.streaming.run_chunked``); the numbers recorded per artifact are max/mean
absolute posterior difference, greedy-decode agreement, and CER of artifact vs Keras against the
reference texts. ``converters.tolerances`` decides pass/fail.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from converters.tolerances import check
from runtime.features import FeatureConfig
from runtime.formats import ParityResult, StreamSpec

#: Name prefixes of the synthetic check inputs (no reference text: excluded from CER).
SHORT_CASE = "edge:shortest"
LONG_CASE = "edge:long"


@dataclass
class CheckSet:
    """Inputs of the gate and their Keras reference posteriors."""

    names: list[str]
    features: list[np.ndarray]
    texts: list[str | None]
    reference: list[np.ndarray] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Float samples of each input at the bundle rate (for audio-in artifacts), or None.
    audio: list[np.ndarray] | None = None

    @property
    def n_out(self) -> list[int]:
        return [len(r) for r in self.reference]

    def save(self, path: str | os.PathLike) -> None:
        """Features and reference as one .npz (handed to the conversion child processes)."""
        arrays = {f"f{i}": f for i, f in enumerate(self.features)}
        arrays.update({f"r{i}": r for i, r in enumerate(self.reference)})
        arrays.update({f"a{i}": a for i, a in enumerate(self.audio or [])})
        np.savez(path, count=np.array(len(self.features)), **arrays)

    @staticmethod
    def load_inputs(
        path: str | os.PathLike, audio: bool = False
    ) -> tuple[list[np.ndarray], list[int], list[np.ndarray] | None]:
        """(features, output frame counts, audio or None) as ``save`` stored them."""
        with np.load(path) as data:
            count = int(data["count"])
            return (
                [data[f"f{i}"] for i in range(count)],
                [len(data[f"r{i}"]) for i in range(count)],
                [data[f"a{i}"] for i in range(count)] if audio else None,
            )


def build_check_set(
    model: Any,
    names: Sequence[str],
    features: Sequence[np.ndarray],
    texts: Sequence[str],
    long_seconds: float = 30.0,
    step_ms: float = 10.0,
    audio: Sequence[np.ndarray] | None = None,
    config: FeatureConfig | None = None,
) -> CheckSet:
    """Real utterances plus the edge cases (see module doc); reference not computed yet.

    With ``audio`` (each utterance's samples) and its feature ``config`` the check set also
    feeds audio-in artifacts: the shortest case is the audio of its frames, the long case is
    the utterances' audio concatenated, featurized whole, so both inputs share one reference."""
    usable = [i for i, f in enumerate(features) if model.output_length(len(f)) >= 1]
    dropped = len(features) - len(usable)
    checks = CheckSet(
        [names[i] for i in usable], [features[i] for i in usable], [texts[i] for i in usable]
    )
    if audio is not None:
        if config is None:
            raise ValueError("check audio needs its feature config")
        checks.audio = [np.asarray(audio[i], np.float32) for i in usable]
    if dropped:
        checks.notes.append(f"{dropped} utterance(s) shorter than the model's shortest input")
    if not usable:
        return checks
    shortest = model.meta.output_length.shortest_input()
    if shortest > 1:
        checks.notes.append(
            f"1-frame input skipped: output_length(1) = 0; shortest input is {shortest} frames"
        )
    longest_index = max(range(len(checks.features)), key=lambda i: len(checks.features[i]))
    longest = checks.features[longest_index]
    if len(longest) >= shortest:
        checks.names.append(f"{SHORT_CASE}({shortest} frames)")
        checks.features.append(np.ascontiguousarray(longest[:shortest]))
        checks.texts.append(None)
        if checks.audio is not None and config is not None:
            # Exactly the samples of its first ``shortest`` frames: the same features.
            samples = (shortest - 1) * config.step + config.window
            checks.audio.append(checks.audio[longest_index][:samples].copy())
    if long_seconds > 0:
        target = round(long_seconds * 1000 / step_ms)
        parts, words, total, i = [], [], 0, 0
        while total < target:
            feats = checks.features[i % len(usable)]
            parts.append(feats)
            words.append(checks.texts[i % len(usable)])
            total += len(feats)
            i += 1
        long_feats = np.concatenate(parts).astype(np.float32)
        if checks.audio is not None and config is not None:
            from runtime.features import extract

            long_audio = np.concatenate([checks.audio[j % len(usable)] for j in range(i)])
            checks.audio.append(long_audio)
            long_feats = extract(long_audio, config)
        checks.names.append(f"{LONG_CASE}({len(long_feats)} frames, {i} utterances)")
        checks.features.append(long_feats)
        checks.texts.append(" ".join(w for w in words if w))
    return checks


def keras_reference(model: Any, features: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Eager Keras posteriors ``(output_length(T), C)`` of each utterance at its own length
    (``edge_asr.inference.keras_posteriors``, eager: nothing traced). Eager RNNs cost a Python
    step per frame whatever the batch, so causal models run length-sorted batches of 64."""
    from edge_asr.inference import keras_posteriors

    return keras_posteriors(model, features, batch_size=64, eager=True)


def run_artifact(
    path: str | os.PathLike,
    features: Sequence[np.ndarray],
    n_out: Sequence[int],
    stream: StreamSpec | None = None,
    threads: int = 1,
    audio: Sequence[np.ndarray] | None = None,
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Posteriors of an artifact in its real interpreter (chunk by chunk for streaming ones)
    and its tensor infos ``{"inputs": [...], "outputs": [...]}`` as the runtime sees them.
    ``audio`` (the utterances' samples): the artifact is an audio-in one and gets those."""
    from runtime.backends import open_backend
    from runtime.streaming import as_pcm, run_audio_chunked, run_chunked

    backend = open_backend(path, threads=threads)
    posteriors = []
    if audio is not None:
        dtype = np.dtype(backend.inputs[0]["dtype"])
        for samples, n in zip(audio, n_out, strict=True):
            if stream is not None:
                out = run_audio_chunked(backend, stream, samples, lambda _t, n=n: n)
            else:
                name = backend.input_names[0]
                out = backend.run({name: as_pcm(samples, dtype)[None]})[backend.output_names[0]][0]
            posteriors.append(out)
        return posteriors, {"inputs": backend.inputs, "outputs": backend.outputs}
    for feats, n in zip(features, n_out, strict=True):
        if stream is not None:
            posteriors.append(run_chunked(backend, stream, feats, n))
        else:
            name = backend.input_names[0]
            out = backend.run({name: np.asarray(feats, np.float32)[None]})
            posteriors.append(out[backend.output_names[0]][0])
    return posteriors, {"inputs": backend.inputs, "outputs": backend.outputs}


def measure(
    reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray], texts: Sequence[str | None]
) -> tuple[dict[str, Any], list[str]]:
    """Parity numbers of ``candidate`` vs ``reference`` posteriors, and structural problems
    (frame-count or class-count mismatches: a wrong graph, never within tolerance)."""
    from edge_asr.inference import greedy_texts
    from edge_asr.metrics import cer

    problems = []
    max_diff, abs_sum, count = 0.0, 0.0, 0
    for i, (ref, got) in enumerate(zip(reference, candidate, strict=True)):
        if ref.shape != got.shape:
            problems.append(f"utterance {i}: artifact gave {got.shape}, Keras {ref.shape}")
            continue
        if ref.size:
            diff = np.abs(ref.astype(np.float64) - got.astype(np.float64))
            if not np.all(np.isfinite(diff)):
                problems.append(f"utterance {i}: non-finite posteriors")
                continue
            max_diff = max(max_diff, float(diff.max()))
            abs_sum += float(diff.sum())
            count += diff.size
    ref_texts = greedy_texts(reference)
    got_texts = [
        t if p.shape == r.shape else ""
        for t, p, r in zip(greedy_texts(candidate), candidate, reference, strict=True)
    ]
    agree = sum(a == b for a, b in zip(ref_texts, got_texts, strict=True))
    scored = [i for i, t in enumerate(texts) if t]
    refs = [texts[i] for i in scored]
    metrics: dict[str, Any] = {
        "max_abs_diff": max_diff,
        "mean_abs_diff": abs_sum / count if count else 0.0,
        "decode_agreement": agree / len(reference) if len(reference) else 0.0,
        "cer": None,
        "reference_cer": None,
        "delta_cer": None,
        "utterances": len(reference),
    }
    if scored:
        metrics["cer"] = cer(refs, [got_texts[i] for i in scored])
        metrics["reference_cer"] = cer(refs, [ref_texts[i] for i in scored])
        metrics["delta_cer"] = metrics["cer"] - metrics["reference_cer"]
    return metrics, problems


def verdict(
    metrics: dict[str, Any], problems: list[str], tolerance: dict[str, float]
) -> ParityResult:
    """The bundle's ``parity`` block: metrics, tolerance, passed, and why not."""
    failures = problems + check(metrics, tolerance)
    return ParityResult(
        passed=not failures, **metrics, tolerance=tolerance, failures=tuple(failures)
    )


def gate_artifact(
    path: str | os.PathLike,
    checks: CheckSet,
    tolerance: dict[str, float],
    stream: StreamSpec | None = None,
    audio: bool = False,
) -> ParityResult:
    """Run one artifact on the check set and return its ``parity`` block (in-process; the
    convert command does the same across a process boundary). ``audio``: an audio-in artifact,
    fed the check set's samples."""
    samples = checks.audio if audio else None
    if audio and samples is None:
        raise ValueError("this check set has no audio")
    candidate, _ = run_artifact(path, checks.features, checks.n_out, stream, audio=samples)
    metrics, problems = measure(checks.reference, candidate, checks.texts)
    return verdict(metrics, problems, tolerance)
