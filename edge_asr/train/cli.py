"""``edge-asr train``: flags -> ``TrainConfig`` -> ``train``. TensorFlow loads only when run."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from runtime.errors import EdgeASRError


def parse_param(text: str) -> tuple[str, Any]:
    """``k=v`` with ``v`` read as JSON when it parses (ints, floats, true/false), else a string."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected k=v, got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def parse_threads(text: str) -> tuple[int, int]:
    """``N`` (intra-op N, inter-op 1) or ``N,M``, each >= 1."""
    try:
        parts = [int(p) for p in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"expected N or N,M (each >= 1), got {text!r}")
    return parts[0], parts[1] if len(parts) == 2 else 1


EXAMPLE = """example:
  edge-asr train --train demo/corpus/train.jsonl --valid demo/corpus/valid.jsonl \\
      --out demo/model --minutes 20 --optimizer adam --lr-schedule cosine"""


def register(sub: argparse._SubParsersAction) -> None:
    from edge_asr.cli_types import non_negative_float, number, positive_float, positive_int

    non_negative_int = number(int, 0, inclusive=True)
    from edge_asr.train.augment import AugmentConfig

    p = sub.add_parser(
        "train",
        help="train a CTC acoustic model into a model directory",
        description="Train a Keras acoustic model with CTC loss. Writes DIR/model.keras (best "
        "validation CER), model.json, features.json, labels.json, train_log.csv and "
        "checkpoint.npz (for --resume). Features are computed once into a disk cache "
        "(--cache) and reused while the audio and feature settings are unchanged. Bad "
        "manifest rows and unreadable audio are skipped and counted (one line each on "
        "stderr) unless --strict.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model", help="builder name, see `edge-asr models` (default final_model_streaming)"
    )
    p.add_argument(
        "--param",
        action="append",
        type=parse_param,
        default=[],
        metavar="K=V",
        help="builder parameter (repeatable), e.g. --param units=128 (default: none)",
    )
    p.add_argument("--train", required=True, type=Path, help="training manifest (JSON lines)")
    p.add_argument("--valid", required=True, type=Path, help="validation manifest")
    p.add_argument("--out", required=True, type=Path, help="model directory to write")
    p.add_argument(
        "--features",
        choices=["spectrogram", "mfcc"],
        default="spectrogram",
        help="feature kind (default %(default)s)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=16,
        help="utterances per step (default %(default)s)",
    )
    p.add_argument(
        "--epochs",
        type=positive_int,
        help="maximum epochs (default 20, or unlimited with --minutes)",
    )
    p.add_argument(
        "--minutes",
        type=positive_float,
        help="training time budget, stops mid-epoch (default: none)",
    )
    p.add_argument(
        "--patience",
        type=non_negative_int,
        default=10,
        help="stop after N epochs without a better val CER; 0 never stops (default %(default)s)",
    )
    p.add_argument(
        "--optimizer",
        choices=["sgd", "adam"],
        default="sgd",
        help="sgd (Nesterov momentum) or adam (default %(default)s)",
    )
    p.add_argument("--lr", type=positive_float, help="learning rate (default: sgd 0.02, adam 1e-3)")
    p.add_argument(
        "--lr-schedule",
        choices=["constant", "cosine"],
        default="constant",
        help="cosine decays to 5%% over the time budget or the epochs (default %(default)s)",
    )
    p.add_argument(
        "--weight-decay",
        type=non_negative_float,
        default=0.0,
        help="decoupled weight decay (default %(default)s)",
    )
    p.add_argument(
        "--no-augment", action="store_true", help="turn off SpecAugment/stretch (default: on)"
    )
    p.add_argument(
        "--augment",
        action="append",
        type=parse_param,
        default=[],
        metavar="K=V",
        help="augmentation setting (repeatable): "
        + ", ".join(f"{f.name} (default {f.default})" for f in fields(AugmentConfig)),
    )
    p.add_argument(
        "--no-sortagrad",
        action="store_true",
        help="shuffle the first epoch too (default: short-to-long first)",
    )
    p.add_argument(
        "--seed", type=non_negative_int, default=0, help="random seed (default %(default)s)"
    )
    p.add_argument(
        "--strategy",
        choices=["mirrored", "multiworker"],
        help="tf.distribute strategy (default: none, one device)",
    )
    p.add_argument(
        "--threads",
        type=parse_threads,
        default=(2, 1),
        metavar="N[,M]",
        help="TF intra-op[,inter-op] threads (default 2,1)",
    )
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=2,
        help="feature extraction processes (default %(default)s)",
    )
    p.add_argument(
        "--cache",
        type=Path,
        metavar="DIR",
        help="feature cache folder: features are computed once, kept there and memory-mapped "
        "(default: .edge-asr-cache beside the --train manifest)",
    )
    p.add_argument(
        "--cache-dtype",
        choices=["float16", "float32"],
        default="float16",
        help="precision of the cached training features (default %(default)s; validation: float32)",
    )
    p.add_argument(
        "--steps-per-epoch",
        type=positive_int,
        help="cap steps per epoch, for quick runs (default: no cap)",
    )
    p.add_argument("--resume", action="store_true", help="continue training the model in --out")
    p.add_argument("--overwrite", action="store_true", help="replace a model already in --out")
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first bad manifest row or unreadable audio (default: skip and count)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> Any:
    from edge_asr.train.augment import NO_AUGMENT, AugmentConfig
    from edge_asr.train.loop import TrainConfig

    if args.no_augment:
        aug = NO_AUGMENT
    else:
        names = {f.name for f in fields(AugmentConfig)}
        bad = [k for k, _ in args.augment if k not in names]
        if bad:
            raise EdgeASRError(f"unknown --augment setting(s) {', '.join(bad)}")
        aug = AugmentConfig(**dict(args.augment))
    return TrainConfig(
        train_manifest=args.train,
        valid_manifest=args.valid,
        out=args.out,
        model=args.model,
        params=dict(args.param),
        features=args.features,
        batch_size=args.batch_size,
        epochs=args.epochs,
        minutes=args.minutes,
        patience=args.patience,
        optimizer=args.optimizer,
        lr=args.lr,
        lr_schedule=args.lr_schedule,
        weight_decay=args.weight_decay,
        augment=aug,
        sortagrad=not args.no_sortagrad,
        seed=args.seed,
        strategy=args.strategy,
        threads=args.threads,
        jobs=args.jobs,
        cache_dtype=args.cache_dtype,
        cache=args.cache,
        resume=args.resume,
        overwrite=args.overwrite,
        steps_per_epoch=args.steps_per_epoch,
        progress=not args.quiet,
        strict=args.strict,
    )


def run(args: argparse.Namespace) -> int:
    from edge_asr.train.loop import train

    result = train(config_from_args(args))
    print(
        f"best val_cer {result.best_cer:.4f} (epoch {result.best_epoch}); "
        f"{result.train_seconds / 60:.1f} min training; model: {result.out}"
    )
    return 0
