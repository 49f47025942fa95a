"""``edge-asr convert MODEL_DIR --out BUNDLE_DIR``: every variant, gated, in one bundle.

Heavy imports (TensorFlow, Keras, onnx) happen inside ``run`` so ``edge-asr --help`` stays fast.
Exit codes: 0 all requested variants passed (or are unsupported by design, listed as such),
1 some variant failed the gate or crashed (named with its numbers), 2 bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

EXAMPLE = """example:
  edge-asr convert demo/model --out demo/bundle --check demo/corpus/valid.jsonl \\
      --calib demo/corpus/train.jsonl --targets all"""


def register(sub: argparse._SubParsersAction) -> None:
    from converters.convert import GROUPS, TARGET_NAMES
    from edge_asr.cli_types import non_negative_float, positive_float, positive_int

    p = sub.add_parser(
        "convert",
        help="convert a model directory to TFLite/ONNX artifacts behind the output-match gate",
        description="Convert MODEL_DIR (from `edge-asr train`) to TFLite and ONNX artifacts, "
        "offline and streaming, check every artifact against the Keras model in its real "
        "interpreter, and write BUNDLE_DIR/bundle.json. Variants that fail the gate are moved "
        "to BUNDLE_DIR/rejected/ and make the command exit 1. A re-conversion is built beside "
        "BUNDLE_DIR and swapped in at the end: if it fails, the old bundle stays as it was.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model_dir", metavar="MODEL_DIR", help="model directory (model.keras, ...)")
    p.add_argument("--out", required=True, metavar="BUNDLE_DIR", help="bundle directory")
    p.add_argument(
        "--targets",
        nargs="+",
        default=["all"],
        metavar="T",
        help=f"variants or groups ({', '.join(GROUPS)}); a leading - removes one (all,-audio); "
        f"variants: {', '.join(TARGET_NAMES)} (default: all)",
    )
    p.add_argument(
        "--check",
        required=True,
        metavar="MANIFEST",
        help="held-out utterances (with text) the gate compares Keras and artifacts on (required)",
    )
    p.add_argument(
        "--calib",
        metavar="MANIFEST",
        help="utterances for int8 calibration (default: the --check manifest, disjoint rows)",
    )
    p.add_argument(
        "--check-count", type=positive_int, default=40, help="check utterances (default 40)"
    )
    p.add_argument(
        "--calib-count", type=positive_int, default=50, help="calibration utterances (default 50)"
    )
    p.add_argument(
        "--chunk",
        type=positive_int,
        help="streaming chunk in feature frames (default 16, rounded up to the model's stride)",
    )
    p.add_argument(
        "--int8-io",
        action="store_true",
        help="integer inputs/outputs for tflite-int8-full (int8) and tflite-int16x8-full "
        "(int16) variants (default: float I/O)",
    )
    p.add_argument(
        "--audio-dtype",
        choices=("float32", "int16"),
        default="float32",
        help="sample type of the *-audio variants' input: float32 in [-1, 1) or int16 PCM "
        "(default float32)",
    )
    p.add_argument(
        "--tolerance",
        action="append",
        default=[],
        metavar="VARIANT:KEY=VALUE",
        help="override a gate bound, e.g. tflite-int8-full-stream:delta_cer=0.01 or "
        "int8-dynamic:delta_cer=0.01 or '*:max_abs_diff=1e-3' (VALUE none drops the check; "
        "repeat; default: the table in converters/tolerances.py)",
    )
    p.add_argument(
        "--long-seconds",
        type=non_negative_float,
        default=30.0,
        help="seconds of the synthetic long check input (0 to skip; default 30)",
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=900.0,
        help="seconds per variant before it is killed (default 900)",
    )
    p.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        help="threads per conversion and interpreter (default 1)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from converters.convert import CALIBRATED, Options, convert_model_dir, resolve_targets
    from converters.tolerances import parse_overrides
    from edge_asr.cli_types import output_dir
    from runtime.errors import EdgeASRError
    from runtime.formats import ModelDir

    options = Options(
        targets=resolve_targets(args.targets),
        chunk=args.chunk,
        int8_io=args.int8_io,
        tolerance=parse_overrides(args.tolerance),
        timeout=args.timeout,
        long_seconds=args.long_seconds,
        threads=args.threads,
        audio_dtype=args.audio_dtype,
    )
    output_dir(args.out)
    src = ModelDir.read(args.model_dir)

    from converters.convert import _limit_tf_threads, load_utterances

    _limit_tf_threads(args.threads)
    check = load_utterances(args.check, src.features, args.check_count)
    if not check.features:
        raise EdgeASRError(f"{args.check}: no readable utterance")
    calib_manifest = args.calib or args.check
    calib = None
    if any(t.precision in CALIBRATED for t in options.targets):
        skip = args.check_count if args.calib is None else 0
        if args.calib is None:
            print(
                f"edge-asr convert: calibrating on {args.check} rows after the check rows "
                "(give --calib for a separate set)",
                file=sys.stderr,
            )
        calib = load_utterances(calib_manifest, src.features, args.calib_count, skip=skip)
    sources = {"check_manifest": str(args.check), "calibration_manifest": str(calib_manifest)}
    outcome = convert_model_dir(args.model_dir, args.out, check, calib, options, sources)
    print_table(outcome)
    model = outcome.header.model
    if not model.streamable:
        print(f"model {model.name} is not streamable: {model.not_streamable_reason}")
    print(f"bundle: {outcome.bundle_json}")
    if outcome.failed:
        for line in failure_lines(outcome):
            print(f"edge-asr convert: FAILED {line}", file=sys.stderr)
        return 1
    return 0


def failure_lines(outcome: Any) -> list[str]:
    """One line per failed variant: which one and by how much."""
    lines = []
    for art in outcome.artifacts:
        if not art.passed:
            lines.append(f"{art.name}: {'; '.join(art.parity.failures)} -> {art.file}")
    for item in outcome.unavailable:
        if item.error:
            log = f" [{item.log}]" if item.log else ""
            lines.append(f"{item.name}: {item.reason}{log}")
    return lines


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(outcome: Any) -> None:
    """Variant, size, ratio to fp32 (same format and kind), max diff, agreement, delta CER."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="edge-asr convert")
    for col in ("variant", "size", "vs fp32", "max diff", "agree", "CER", "dCER", "result"):
        table.add_column(col, justify="left" if col in ("variant", "result") else "right")
    fp32 = {  # audio-in variants are compared with the audio-in fp32 one
        (a.format, a.streaming, a.audio is None): a.size_bytes
        for a in outcome.artifacts
        if a.precision == "fp32"
    }
    for art in outcome.artifacts:
        parity = art.parity
        size = art.size_bytes or 0
        base = fp32.get((art.format, art.streaming, art.audio is None))
        ratio = f"{size / base:.2f}x" if base else "-"
        result = "[green]pass" if parity.passed else "[red]FAIL"
        table.add_row(
            art.name,
            f"{size / 1024:,.0f} KiB",
            ratio,
            _fmt(parity.max_abs_diff, ".2e"),
            _fmt(parity.decode_agreement, ".0%"),
            _fmt(parity.cer, ".3f"),
            _fmt(parity.delta_cer, "+.3f"),
            result,
        )
    for item in outcome.unavailable:
        status = "[red]CRASH" if item.error else "[yellow]n/a"
        table.add_row(item.name, "-", "-", "-", "-", "-", "-", status)
    console = Console()
    if not console.is_terminal:  # logs and pipes: don't squeeze variant names into 80 columns
        console = Console(width=120)
    console.print(table)
    for item in outcome.unavailable:
        see = f" (see {item.see})" if item.see else ""
        console.print(f"  {item.name}: {item.reason}{see}", highlight=False)
