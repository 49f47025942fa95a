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
        pad_preemphasis=float(config.preemphasis) if config.kind == "mfcc" else 0.0,
    )
    spec = replace(feature_spec, states=states, audio=audio)
    cap = max(warmup, -(-lag // chunk), 1)
    return AudioLayout(spec, feature_spec, front.context_samples, lag, context, cap)


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _audio_spec(tf: Any, dtype: str, shape: tuple[int | None, ...], name: str) -> Any:
    return tf.TensorSpec(shape, tf.int16 if dtype == "int16" else tf.float32, name)


#: Name of the front end's features output (joined to the acoustic model's input).
FEATS = "frontend_feats"
#: Outputs of the streaming front end, in order.
STREAM_FRONT_OUTPUTS = (FEATS, AUDIO_STATE[1], FRAMES_STATE[1], CALLS_STATE[1], "valid")


def offline_front(config: FeatureConfig, dtype: str) -> Any:
    """tf.function ``audio (1, None) -> frontend_feats (1, T, dim)``."""
    from converters.frontend import FrontEnd

    tf = _tf()
    front = FrontEnd(config, dtype)
    signature = [_audio_spec(tf, dtype, (1, None), AUDIO_INPUT)]
    return tf.function(lambda audio: front.offline(audio), input_signature=signature)


def stream_front(layout: AudioLayout, config: FeatureConfig, dtype: str) -> Any:
    """tf.function of the streaming pre-stage ``audio, audio ctx, frames ctx, calls ->
    feats window, new audio ctx, new frames ctx, new calls, valid`` (module docstring)."""
    from converters.frontend import FrontEnd

    tf = _tf()
    front = FrontEnd(config, dtype)
    chunk = layout.feature_spec.chunk_frames
    window = layout.feature_spec.window_frames
    lag, cap, warmup = layout.lag_frames, layout.calls_cap, layout.warmup_calls
    by_role = {s.role: s for s in layout.spec.states}
    signature = [
        _audio_spec(tf, dtype, (1, layout.chunk_samples), AUDIO_INPUT),
        _audio_spec(tf, dtype, by_role["audio"].shape, AUDIO_STATE[0]),
        tf.TensorSpec(by_role["frames"].shape, tf.float32, FRAMES_STATE[0]),
        tf.TensorSpec(by_role["calls"].shape, tf.int32, CALLS_STATE[0]),
    ]

    def pre(audio: Any, audio_ctx: Any, frames_ctx: Any, calls: Any) -> list[Any]:
        buffer = tf.concat([audio_ctx, audio], axis=1)
        new = front.frames(buffer, chunk)  # (1, chunk, dim)
        index = calls * chunk - lag + tf.range(chunk, dtype=tf.int32)  # real frame index
        keep = tf.cast(index >= 0, tf.float32)[None, :, None]
        frames = tf.concat([frames_ctx, new * keep], axis=1)
        return [
            frames[:, :window],
            buffer[:, -layout.context_samples :],
            frames[:, chunk:],
            tf.minimum(calls + 1, cap),
            calls >= warmup,
        ]

    return tf.function(pre, input_signature=signature)
