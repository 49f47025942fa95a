"""``edge-asr models``: list the registered builders with parameter counts."""

from __future__ import annotations

import argparse

from runtime.errors import EdgeASRError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list model builders with parameter counts",
        description="List the registered acoustic-model builders (parameters, streamability), "
        "or print one model's Keras summary.",
        epilog="example: edge-asr models --summary final_model_streaming",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--input-dim", type=int, default=161, help="feature dimension (161 = spectrogram)"
    )
    p.add_argument("--summary", metavar="NAME", help="print the Keras summary of one model")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge_asr.models import REGISTRY, build, describe

    if args.input_dim < 1:
        raise EdgeASRError(f"--input-dim must be >= 1, got {args.input_dim}")
    if args.summary:
        if args.summary not in REGISTRY:
            raise EdgeASRError(
                f"unknown model {args.summary!r}; known models: {', '.join(REGISTRY)}"
            )
        build(args.summary, input_dim=args.input_dim).summary()
        return 0
    print(f"{'model':26} {'params':>10}  {'streamable':10}  description")
    for name in REGISTRY:
        model = build(name, input_dim=args.input_dim)
        stream = "yes" if model.meta.streamable else "no"
        print(f"{name:26} {model.count_params():>10,}  {stream:10}  {describe(name)}")
    return 0
