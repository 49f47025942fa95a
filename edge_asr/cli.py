"""The ``edge-asr`` command. Sub-commands come from the ``edge_asr.commands`` entry points.

Discovery keeps this dispatcher free of heavy imports (``edge-asr transcribe`` on a device never
loads TensorFlow) and keeps the import arrows one way (``edge_asr`` never imports
``converters``; the ``convert`` command registers itself).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from runtime.errors import EdgeASRError

# Commands that never load TensorFlow (a device has only the runtime extra).
LIGHT_COMMANDS = {"corpus", "transcribe", "lm"}
# Shown in this order in --help; unknown plug-ins follow alphabetically.
_ORDER = [
    "corpus",
    "models",
    "train",
    "evaluate",
    "convert",
    "validate",
    "transcribe",
    "lm",
    "demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-asr",
        description="Train small speech models, convert them to TFLite/ONNX behind an "
        "output-match gate, and run them on edge devices.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    found = {ep.name: ep for ep in entry_points(group="edge_asr.commands")}
    for name in sorted(found, key=lambda n: (_ORDER.index(n) if n in _ORDER else 99, n)):
        try:
            register = found[name].load()
        except ImportError:  # e.g. a device without the training extra
            continue
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; expected failures print one line and exit non-zero."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command not in LIGHT_COMMANDS:
            import edge_asr.tensorflow_quiet  # noqa: F401
        code = args.func(args)
    except EdgeASRError as exc:
        print(f"edge-asr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(
            f"edge-asr {args.command}: error: no such file: {exc.filename or exc}", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        print(f"edge-asr {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
