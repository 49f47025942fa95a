"""``edge-asr import``: a model trained elsewhere -> a model directory for convert/evaluate.

Registering is light (argparse only); TensorFlow loads when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_asr.cli_types import output_dir, positive_float, positive_int

if TYPE_CHECKING:
    from runtime.features import FeatureConfig

EXAMPLE = """examples:
  # the seed project's weights (model.save_weights) + the builder it was built with
  edge-asr import results/model_end.h5 --builder cnn_rnn_model --features spectrogram \\
      --norm-from train.jsonl --out models/cnn_rnn
  # a whole Keras 2 / tf.keras model (HDF5 or a SavedModel directory) or a Keras 3 .keras file
  edge-asr import model.h5 --features mfcc --norm-file stats.npz --out models/mine"""


def register(sub: argparse._SubParsersAction) -> None:
    from edge_asr.train.cli import parse_param

    p = sub.add_parser(
        "import",
        help="import a Keras model trained elsewhere as a model directory",
        description="Turn a trained Keras model into a model directory (docs/formats.md) that "
        "convert, evaluate and validate take as they are. SOURCE is a Keras 2 / tf.keras HDF5 "
        "model, HDF5 weights only (with --builder), a Keras 3 .keras file or a tf.keras "
        "SavedModel directory, detected from its contents. The output_length rule comes from "
        "the model's Conv1D/MaxPooling1D layers and is checked against its real output.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", type=Path, metavar="SOURCE", help="model file or SavedModel folder")
    p.add_argument("--out", required=True, type=output_dir, metavar="DIR", help="model directory")
    p.add_argument(
        "--builder",
        metavar="NAME",
        help="rebuild a weights-only file with this builder (see `edge-asr models`)",
    )
    p.add_argument(
        "--param",
        action="append",
        type=parse_param,
        default=[],
        metavar="K=V",
        help="builder parameter (repeatable), e.g. --param units=200 (default: the builder's)",
    )
    p.add_argument(
        "--features",
        required=True,
        choices=["spectrogram", "mfcc"],
        help="the features the model was trained on (the seed's: 161-bin spectrogram or 13 MFCCs)",
    )
    p.add_argument("--sample-rate", type=positive_int, help="audio rate in Hz (default 16000)")
    p.add_argument(
        "--window-ms", type=positive_float, help="frame window (default 20 spectrogram, 25 mfcc)"
    )
    p.add_argument("--step-ms", type=positive_float, help="frame step (default 10)")
    p.add_argument(
        "--max-freq", type=positive_float, help="spectrogram: highest bin in Hz (default 8000)"
    )
    p.add_argument("--n-mfcc", type=positive_int, help="mfcc: coefficients (default 13)")
    norm = p.add_mutually_exclusive_group(required=True)
    norm.add_argument(
        "--norm-from",
        type=Path,
        metavar="MANIFEST",
        help="fit feature mean/std on this manifest's audio (as the seed's fit_train did)",
    )
    norm.add_argument(
        "--norm-file",
        type=Path,
        metavar="FILE",
        help="read mean/std: JSON {mean, std}, .npz (mean, std) or .npy of shape (2, dim)",
    )
    norm.add_argument("--no-norm", action="store_true", help="the model takes raw features")
    p.add_argument(
        "--norm-count",
        type=positive_int,
        default=100,
        help="--norm-from: utterances to fit on (default %(default)s, the seed's k_samples)",
    )
    p.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="label map: labels.json, a JSON symbol list or the seed's char_map text "
        "(default: the seed's 29 classes)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing model directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _features(args: argparse.Namespace) -> FeatureConfig:
    from runtime.features import FeatureConfig

    options = {
        key: value
        for key, value in (
            ("sample_rate", args.sample_rate),
            ("window_ms", args.window_ms),
            ("step_ms", args.step_ms),
            ("max_freq", args.max_freq),
            ("n_mfcc", args.n_mfcc),
        )
        if value is not None
    }
    return FeatureConfig(kind=args.features, **options)


def run(args: argparse.Namespace) -> int:
    from edge_asr.importing.importer import ImportOptions, NormChoice, import_model

    if args.norm_from is not None:
        norm = NormChoice("manifest", args.norm_from, args.norm_count)
    elif args.norm_file is not None:
        norm = NormChoice("file", args.norm_file)
    else:
        norm = NormChoice("none")
    options = ImportOptions(
        features=_features(args),
        norm=norm,
        builder=args.builder,
        params=dict(args.param),
        labels=args.labels,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    result = import_model(args.source, args.out, options)
    for note in result.notes:
        print(f"edge-asr import: note: {note}", file=sys.stderr)
    meta, source = result.meta, result.source
    from edge_asr.importing.analysis import describe_rule

    norm_record = (meta.source or {}).get("normalization", {})
    print(
        f"imported {source.path} ({source.description}) -> {result.out}\n"
        f"  model {meta.name}: {meta.params.get('input_dim')} {result.features.kind} features "
        f"-> {result.labels.num_classes} classes; output_length: "
        f"{describe_rule(meta.output_length)}; streamable: {'yes' if meta.streamable else 'no'}\n"
        f"  normalization: {_describe_norm(norm_record)}"
    )
    return 0


def _describe_norm(record: dict[str, Any]) -> str:
    kind = record.get("from")
    if kind == "manifest":
        return f"fitted on {record['utterances']} utterances of {record['manifest']}"
    if kind == "file":
        return f"from {record['file']}"
    return "none (raw features)"
