"""Audio-in graphs: the feature front end (``converters.frontend``) and the acoustic model in one
artifact, so a device feeds PCM samples and needs no feature code (docs/formats.md,
"Audio-in artifacts").

Offline: ``audio (1, N) -> probs (1, T', C), ids (1, T')``: the front end computes exactly what
``runtime.features.extract`` does, the twin runs on it, ``ids`` is the greedy ArgMax.

Streaming, per call: ``audio (1, chunk_samples)`` plus states. The front end needs
``context_samples`` of audio from before the chunk (one window minus one hop, and the previous
raw sample for pre-emphasis): that is the ``audio`` state. A chunk of ``F * step`` samples then
completes exactly ``F`` frames, which lag the real frame grid by ``a = lag_frames`` frames
(the first call's first ``a`` frames start before the audio and are zeroed). The feature-input
stream spec wants, per call, ``window_frames`` frames of the stream with ``left_pad`` zero
frames in front; the ``frames`` state keeps the last ``L`` frames so that
``[L zeros, a zeros, f0, f1, ...]`` is the feature stream preceded by ``m * F`` extra zeros.
The first ``m = warmup_calls`` calls therefore see only those extra zeros: their outputs are
dropped by the client and the recurrent states are held (``where(calls >= m, new, old)``), so
from call ``m`` on the graph is exactly the feature-input streaming graph. A saturating call
counter (``calls`` state, int32: integer tensors are left alone by every quantizer) drives it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from runtime.errors import EdgeASRError
from runtime.features import FeatureConfig
from runtime.formats import AudioInput, AudioStream, StateSpec, StreamSpec, features_sha256

AUDIO_INPUT = "audio"
IDS_OUTPUT = "ids"
#: Names of the audio-in streaming states beside the recurrent ``state_in_i``.
AUDIO_STATE = ("state_in_audio", "state_out_audio")
FRAMES_STATE = ("state_in_frames", "state_out_frames")
CALLS_STATE = ("state_in_calls", "state_out_calls")


@dataclass(frozen=True)
class AudioLayout:
    """Sizes of an audio-in streaming graph, derived from the feature stream spec."""

    spec: StreamSpec  # the audio-in stream spec (with ``audio`` and the extra states)
    feature_spec: StreamSpec  # the feature-input spec the inner twin follows
    context_samples: int
    lag_frames: int
    context_frames: int  # L
    calls_cap: int

    @property
    def chunk_samples(self) -> int:
        assert self.spec.audio is not None
        return self.spec.audio.chunk_samples

    @property
    def warmup_calls(self) -> int:
        assert self.spec.audio is not None
        return self.spec.audio.warmup_calls


def audio_input(config: FeatureConfig, dtype: str) -> AudioInput:
    return AudioInput(config.sample_rate, dtype, features_sha256(config))


def stream_layout(feature_spec: StreamSpec, config: FeatureConfig, dtype: str) -> AudioLayout:
    """The audio-in stream spec of a model whose feature-input spec is ``feature_spec``."""
    from converters.frontend import FrontEnd

    front = FrontEnd(config, dtype)
    chunk, window, pad = (
        feature_spec.chunk_frames,
        feature_spec.window_frames,
        feature_spec.left_pad_frames,
    )
    lag = front.lag_frames
    if chunk < lag:
        raise EdgeASRError(
            f"stream chunk of {chunk} frames is shorter than the front end's lag of {lag} frames"
        )
    warmup = max(0, -(-(window - chunk + lag - pad) // chunk))
    context = pad + warmup * chunk - lag
    if context < 1:  # a zero-sized state tensor is refused by some runtimes
        warmup += 1
        context += chunk
    dim = config.dim
    states = (
        *feature_spec.states,
        StateSpec(AUDIO_STATE[0], AUDIO_STATE[1], (1, front.context_samples), dtype, "", "audio"),
        StateSpec(FRAMES_STATE[0], FRAMES_STATE[1], (1, context, dim), "float32", "", "frames"),
        StateSpec(CALLS_STATE[0], CALLS_STATE[1], (1,), "int32", "", "calls"),
    )
    audio = AudioStream(
        chunk_samples=chunk * config.step,
        warmup_calls=warmup,
        frame_window=config.window,
        frame_step=config.step,
        pad_last_frame=config.kind == "mfcc",
    )
    spec = replace(feature_spec, states=states, audio=audio)
    cap = max(warmup, -(-lag // chunk), 1)
    return AudioLayout(spec, feature_spec, front.context_samples, lag, context, cap)


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _audio_spec(tf: Any, dtype: str, shape: tuple[int | None, ...], name: str) -> Any:
    return tf.TensorSpec(shape, tf.int16 if dtype == "int16" else tf.float32, name)


def offline_function(twin: Any, config: FeatureConfig, dtype: str) -> tuple[Any, list[str]]:
    """(tf.function ``audio -> [probs, ids]``, output names) for the offline twin."""
    from converters.frontend import FrontEnd

    tf = _tf()
    front = FrontEnd(config, dtype)

    @tf.function(input_signature=[_audio_spec(tf, dtype, (1, None), AUDIO_INPUT)])
    def serve(audio: Any) -> list[Any]:
        probs = twin(front.offline(audio), training=False)
        return [probs, tf.argmax(probs, axis=-1, output_type=tf.int32)]

    return serve, ["probs", IDS_OUTPUT]


def frames_function(layout: AudioLayout, config: FeatureConfig, dtype: str) -> Any:
    """The streaming pre-stage ``audio, audio ctx, frames ctx, calls -> feats window, new audio
    ctx, new frames ctx, new calls, valid`` (shared by the TFLite graph and the ONNX prefix)."""
    from converters.frontend import FrontEnd

    tf = _tf()
    front = FrontEnd(config, dtype)
    chunk = layout.feature_spec.chunk_frames
    window = layout.feature_spec.window_frames
    lag, cap, warmup = layout.lag_frames, layout.calls_cap, layout.warmup_calls

    def pre(audio: Any, audio_ctx: Any, frames_ctx: Any, calls: Any) -> list[Any]:
        buffer = tf.concat([audio_ctx, audio], axis=1)
        new = front.frames(buffer, chunk)  # (1, chunk, dim)
        index = calls * chunk - lag + tf.range(chunk, dtype=tf.int32)  # real frame index
        keep = tf.cast(index >= 0, tf.float32)[None, :, None]
        frames = tf.concat([frames_ctx, new * keep], axis=1)
        feats = frames[:, :window]
        valid = calls >= warmup
        return [
            feats,
            buffer[:, -layout.context_samples :],
            frames[:, chunk:],
            tf.minimum(calls + 1, cap),
            valid,
        ]

    return pre


def stream_function(twin: Any, layout: AudioLayout, config: FeatureConfig, dtype: str) -> Any:
    """tf.function of one audio-in streaming call (inputs/outputs in ``layout.spec`` order)."""
    tf = _tf()
    pre = frames_function(layout, config, dtype)
    spec = layout.spec
    rnn = layout.feature_spec.states
    signature = [_audio_spec(tf, dtype, (1, layout.chunk_samples), AUDIO_INPUT)]
    for s in spec.states:
        if s.role == "audio":
            signature.append(_audio_spec(tf, dtype, s.shape, s.input))
        else:
            signature.append(tf.TensorSpec(s.shape, tf.as_dtype(s.dtype), s.input))

    @tf.function(input_signature=signature)
    def serve(audio: Any, *states: Any) -> list[Any]:
        rnn_in, (audio_ctx, frames_ctx, calls) = list(states[: len(rnn)]), states[len(rnn) :]
        feats, audio_out, frames_out, calls_out, valid = pre(audio, audio_ctx, frames_ctx, calls)
        outputs = twin([feats, *rnn_in] if rnn_in else feats, training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        held = [tf.where(valid, new, old) for new, old in zip(outputs[1:], rnn_in, strict=True)]
        return [outputs[0], *held, audio_out, frames_out, calls_out]

    return serve


def output_names(spec: StreamSpec) -> list[str]:
    return ["probs", *(s.output for s in spec.states)]


def zero_states(spec: StreamSpec) -> dict[str, np.ndarray]:
    return {s.input: np.zeros(s.shape, np.dtype(s.dtype)) for s in spec.states}


def audio_stream_calibration(
    model: Any,
    layout: AudioLayout,
    config: FeatureConfig,
    audio: list[np.ndarray],
    max_calls: int,
) -> list[dict[str, np.ndarray]]:
    """Chunks + the states the audio-in streaming graph really carries at each call (run in
    TensorFlow), at most ``max_calls`` spread evenly over the utterances: zero states alone
    would calibrate the state inputs to a range they never see."""
    from converters.streaming import streaming_twin
    from runtime.streaming import as_pcm

    dtype = next(s.dtype for s in layout.spec.states if s.role == "audio")  # the input's type
    step = stream_function(streaming_twin(model, layout.feature_spec), layout, config, dtype)
    names = [AUDIO_INPUT, *(s.input for s in layout.spec.states)]
    size = layout.chunk_samples
    per_utt = max(1, max_calls // max(1, len(audio)))
    feeds: list[dict[str, np.ndarray]] = []
    for samples in audio:
        pcm = as_pcm(samples, np.dtype(dtype))
        calls = -(-len(pcm) // size) + layout.warmup_calls + 1
        pcm = np.concatenate([pcm, np.zeros(calls * size - len(pcm), pcm.dtype)])
        states = zero_states(layout.spec)
        keep = set(np.linspace(0, calls - 1, min(per_utt, calls)).round().astype(int))
        for k in range(calls):
            feed = {AUDIO_INPUT: pcm[None, k * size : (k + 1) * size], **states}
            if k in keep and k >= layout.warmup_calls:
                feeds.append(feed)
            outputs = step(*(feed[n] for n in names))
            states = {
                s.input: np.asarray(t) for s, t in zip(layout.spec.states, outputs[1:], strict=True)
            }
    return feeds
