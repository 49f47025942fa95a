"""``edge-asr corpus``: make the synthetic espeak corpus, or import a LibriSpeech folder."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

EXAMPLE = """examples:
  edge-asr corpus --out demo/corpus --hours 1 --seed 0
  edge-asr corpus --librispeech ~/LibriSpeech/dev-clean --out data/dev-clean"""


def register(sub: argparse._SubParsersAction) -> None:
    from edge_asr.cli_types import positive_int

    p = sub.add_parser(
        "corpus",
        help="synthesize a training corpus with espeak (or import LibriSpeech)",
        description="Synthesize DIR/{train,valid,test}.jsonl + 16 kHz WAVs from generated "
        "sentences and varied espeak voices, deterministically for a seed. With --librispeech "
        "ROOT, write DIR/manifest.jsonl for a LibriSpeech-style folder instead.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    p.add_argument("--hours", type=float, default=1.0, help="hours of audio (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed: same seed, same corpus (default 0)")
    p.add_argument(
        "--noise-fraction",
        type=float,
        default=0.5,
        help="share of utterances with added white/pink/brown/babble noise (default 0.5)",
    )
    p.add_argument(
        "--snr",
        type=float,
        nargs=2,
        default=(10.0, 30.0),
        metavar=("LOW", "HIGH"),
        help="signal-to-noise range in dB for the noisy utterances (default 10 30)",
    )
    p.add_argument("--jobs", type=positive_int, default=2, help="synthesis processes (default 2)")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="rebuild even if DIR holds this corpus (default: reuse it)",
    )
    p.add_argument(
        "--librispeech",
        type=Path,
        metavar="ROOT",
        help="import a LibriSpeech-style folder into DIR/manifest.jsonl instead",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.librispeech is not None:
        return _import(args)
    from edge_asr.data.corpus import CorpusConfig, build_corpus, format_summary

    config = CorpusConfig(args.hours, args.seed, args.noise_fraction, tuple(args.snr))
    summary = build_corpus(args.out, config, jobs=args.jobs, fresh=args.fresh)
    print(format_summary(summary, args.out))
    return 0


def _import(args: argparse.Namespace) -> int:
    from edge_asr.data.librispeech import import_librispeech

    out = args.out / "manifest.jsonl"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = import_librispeech(args.librispeech, out)
    for warning in caught:
        print(f"edge-asr corpus: warning: {warning.message}", file=sys.stderr)
    print(f"{out}: {report.utterances} utterances, {report.hours:.3f} h")
    return 0
