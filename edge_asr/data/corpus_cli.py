"""``edge-asr corpus``: make the synthetic corpus (espeak-ng + Piper), or import LibriSpeech."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

EXAMPLE = """examples:
  edge-asr corpus --out demo/corpus --hours 1 --seed 0
  edge-asr corpus --out data/espeak-only --hours 1 --engines espeak --realism 0
  edge-asr corpus --librispeech ~/LibriSpeech/dev-clean --out data/dev-clean"""


def register(sub: argparse._SubParsersAction) -> None:
    from edge_asr.cli_types import positive_int

    p = sub.add_parser(
        "corpus",
        help="synthesize a training corpus (espeak-ng + Piper voices), or import LibriSpeech",
        description="Synthesize DIR/{train,valid,test}.jsonl + 16 kHz WAVs from generated "
        "sentences, spoken by espeak-ng's accents and variants and by the Piper neural voice "
        "(extra 'piper'; skipped with a warning when not installed), through simulated rooms, "
        "microphones, noise and codecs; deterministic for a seed. DIR/{split}.{engine}.jsonl "
        "hold one engine each. With --librispeech ROOT, write DIR/manifest.jsonl for a "
        "LibriSpeech-style folder instead.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    p.add_argument("--hours", type=float, default=1.0, help="hours of audio (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed: same seed, same corpus (default 0)")
    p.add_argument(
        "--noise-fraction",
        type=float,
        default=0.6,
        help="share of the --realism utterances with white/pink/brown/babble/hum noise "
        "(default 0.6)",
    )
    p.add_argument(
        "--snr",
        type=float,
        nargs=2,
        default=(8.0, 30.0),
        metavar=("LOW", "HIGH"),
        help="signal-to-noise range in dB (active speech level) of the noise (default 8 30)",
    )
    p.add_argument(
        "--engines",
        type=_engines,
        default=("espeak", "piper"),
        metavar="LIST",
        help="synthesis engines, comma-separated: espeak,piper (default both)",
    )
    p.add_argument(
        "--piper-share",
        type=float,
        default=0.35,
        help="share of utterances spoken by Piper when it is used (default 0.35)",
    )
    p.add_argument(
        "--realism",
        type=float,
        default=0.75,
        help="share of utterances through rooms, noise, microphone/band colouring and codecs "
        "(default 0.75; every utterance gets a tempo/pitch/formant transform and a level)",
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

    config = CorpusConfig(
        args.hours,
        args.seed,
        args.noise_fraction,
        tuple(args.snr),
        args.engines,
        args.piper_share,
        args.realism,
    )
    summary = build_corpus(args.out, config, jobs=args.jobs, fresh=args.fresh)
    for engine, reason in summary.get("skipped_engines", {}).items():
        print(f"edge-asr corpus: warning: engine {engine} skipped: {reason}", file=sys.stderr)
    print(format_summary(summary, args.out))
    return 0


def _engines(text: str) -> tuple[str, ...]:
    return tuple(e.strip() for e in text.split(",") if e.strip())


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
