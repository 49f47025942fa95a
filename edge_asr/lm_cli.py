"""``edge-asr lm build``: a Kneser-Ney word n-gram model from sentences, as an ARPA file.

Light command: stdlib and ``runtime`` only (no TensorFlow), so it runs on the machine that has
the text. ``edge-asr transcribe --lm`` reads what it writes.
"""

from __future__ import annotations

import argparse

from edge_asr.cli_types import output_file, positive_int


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lm",
        help="word n-gram language models (ARPA) for beam search",
        description="Word n-gram language models for `edge-asr transcribe --lm`.",
        epilog="example: edge-asr lm build sentences.txt --order 3 --out lm.arpa",
    )
    lm_sub = p.add_subparsers(dest="lm_command", metavar="ACTION", required=True)
    b = lm_sub.add_parser(
        "build",
        help="build an ARPA n-gram model from sentences",
        description="Estimate an interpolated modified Kneser-Ney model of a sentence-per-line "
        "text file (each line normalized as transcripts are) and write it as ARPA.",
        epilog="example: edge-asr lm build sentences.txt --order 3 --out lm.arpa",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    b.add_argument("corpus", help="text file, one sentence per line (normalized on reading)")
    b.add_argument("--order", type=positive_int, default=3, help="n-gram order (default: 3)")
    b.add_argument(
        "--out", required=True, type=output_file, metavar="FILE", help="output .arpa file"
    )
    b.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    from edge_asr.lm import build_from_text_file
    from runtime.fileio import write_text

    write_text(args.out, build_from_text_file(args.corpus, order=args.order))
    print(f"wrote {args.out} (order {args.order})")
    return 0
