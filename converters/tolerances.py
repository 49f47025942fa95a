"""The output-match gate's tolerances: ONE table, keyed by precision (``-stream`` for
streaming artifacts), overridable per variant from the command line.

Why these numbers:

- fp32 must be the same function as Keras: posteriors within 1e-4 (float reassociation and
  fused kernels over up to 30 s of recurrence give ~1e-7..1e-5) and the greedy transcript of
  every check utterance identical.
- fp32 streaming is compared with the *whole-utterance* Keras output: chunking with carried
  state is exact math, so the bound is tighter (1e-5).
- Audio-in fp32 (``-audio``: the front end in the graph) is compared with Keras fed by the
  float64 numpy features: the float32 front end adds its own rounding, so both offline and
  streaming get the 1e-4 bound and identical transcripts.
- Reduced precision (fp16, int8-*, int16x8-full) cannot match posteriors bit for bit; what a
  user sees is the transcript, so the bound is on CER: at most 0.5 CER points (0.005 absolute)
  worse than the Keras model on the same check utterances (the product acceptance for int8).

A check key missing from a row is not checked. ``delta_cer`` is artifact CER minus Keras CER
(negative = better than Keras, always passes).
"""

from __future__ import annotations

from typing import Any

from runtime.errors import EdgeASRError

#: Check keys: an upper bound for ``max_abs_diff``, ``mean_abs_diff`` and ``delta_cer``; a lower
#: bound for ``decode_agreement``.
UPPER_BOUNDS = ("max_abs_diff", "mean_abs_diff", "delta_cer")
LOWER_BOUNDS = ("decode_agreement",)
KEYS = UPPER_BOUNDS + LOWER_BOUNDS

TOLERANCES: dict[str, dict[str, float]] = {
    "fp32": {"max_abs_diff": 1e-4, "decode_agreement": 1.0},
    "fp32-stream": {"max_abs_diff": 1e-5, "decode_agreement": 1.0},
    "fp32-audio": {"max_abs_diff": 1e-4, "decode_agreement": 1.0},
    "fp32-audio-stream": {"max_abs_diff": 1e-4, "decode_agreement": 1.0},
    "fp16": {"delta_cer": 0.005},
    "fp16-stream": {"delta_cer": 0.005},
    "int8-dynamic": {"delta_cer": 0.005},
    "int8-dynamic-stream": {"delta_cer": 0.005},
    "int8-dynamic-per-tensor": {"delta_cer": 0.005},
    "int8-dynamic-per-tensor-stream": {"delta_cer": 0.005},
    "int8-full": {"delta_cer": 0.005},
    "int8-full-stream": {"delta_cer": 0.005},
    "int16x8-full": {"delta_cer": 0.005},
    "int16x8-full-stream": {"delta_cer": 0.005},
    "int8-static": {"delta_cer": 0.005},
    "int8-static-stream": {"delta_cer": 0.005},
}


def table_key(precision: str, streaming: bool, audio: bool = False) -> str:
    """The table row: reduced precisions share one row for feature and audio input."""
    if audio and precision == "fp32":
        precision = "fp32-audio"
    return f"{precision}-stream" if streaming else precision


def tolerance_for(
    name: str,
    precision: str,
    streaming: bool,
    overrides: dict[str, dict[str, float | None]] | None,
    audio: bool = False,
) -> dict[str, float]:
    """The bounds for one artifact: the table row, then overrides for ``*``, the precision key
    (e.g. ``int8-full-stream``) and the artifact name (e.g. ``tflite-int8-full-stream``), the
    most specific winning."""
    key = table_key(precision, streaming, audio)
    if key not in TOLERANCES:
        raise EdgeASRError(f"no tolerance for precision {key!r}")
    tolerance = dict(TOLERANCES[key])
    for selector in ("*", key, name):
        tolerance.update((overrides or {}).get(selector, {}))
    return {k: v for k, v in tolerance.items() if v is not None}


def parse_overrides(items: list[str] | None) -> dict[str, dict[str, float | None]]:
    """``["tflite-int8-full-stream:delta_cer=0.02", "*:max_abs_diff=1e-3"]`` -> nested dict.

    A value of ``none`` removes that check."""
    out: dict[str, dict[str, float | None]] = {}
    for item in items or []:
        selector, sep, assignment = item.partition(":")
        key, eq, value = assignment.partition("=")
        if not (sep and eq and selector and key in KEYS):
            raise EdgeASRError(
                f"bad --tolerance {item!r}: use VARIANT:KEY=VALUE with KEY one of "
                f"{', '.join(KEYS)} (VARIANT: an artifact name, a precision such as int8-full or "
                "int8-full-stream, or *)"
            )
        try:
            number = None if value.lower() == "none" else float(value)
        except ValueError:
            raise EdgeASRError(f"bad --tolerance {item!r}: {value!r} is not a number") from None
        out.setdefault(selector, {})[key] = number
    return out


def check(metrics: dict[str, Any], tolerance: dict[str, float]) -> list[str]:
    """Human-readable violations (empty = passed)."""
    failures = []
    for key, bound in tolerance.items():
        value = metrics.get(key)
        if value is None:
            failures.append(f"{key} not measured")
        elif key in UPPER_BOUNDS and value > bound:
            failures.append(f"{key} {value:.3g} > {bound:.3g}")
        elif key in LOWER_BOUNDS and value < bound:
            failures.append(f"{key} {value:.3g} < {bound:.3g}")
    return failures


def render_table() -> str:
    """The table as Markdown (for the README)."""
    lines = [
        "| precision | max_abs_diff <= | decode_agreement >= | delta_cer <= |",
        "|---|---|---|---|",
    ]
    for key, row in TOLERANCES.items():
        cells = [
            f"{row[k]:g}" if k in row else "-"
            for k in ("max_abs_diff", "decode_agreement", "delta_cer")
        ]
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
