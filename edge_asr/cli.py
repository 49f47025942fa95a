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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every installed sub-command, or with just ``only`` when that one is
    installed (a device running ``transcribe`` then never imports the training modules)."""
    parser = argparse.ArgumentParser(
        prog="edge-asr",
        description="Train small speech models, convert them to TFLite/ONNX behind an "
        "output-match gate, and run them on edge devices.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    found = {ep.name: ep for ep in entry_points(group="edge_asr.commands")}
    if only in found:
        found = {only: found[only]}
    for name in sorted(found, key=lambda n: (_ORDER.index(n) if n in _ORDER else 99, n)):
        try:
            register = found[name].load()
        except ImportError:  # e.g. a device without the training extra
            continue
        register(sub)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse with options and file arguments in any order (``transcribe BUNDLE --json a.wav
    b.wav``): plain argparse stops filling a ``nargs='*'`` positional at the first option.
    Commands with their own sub-commands (``lm build``) keep the plain parse."""
    commands = next(a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    if argv and argv[0] in commands:
        try:
            args = commands[argv[0]].parse_intermixed_args(argv[1:])
        except TypeError:  # argparse cannot intermix around nested sub-commands
            return parser.parse_args(argv)
        args.command = argv[0]
        return args
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; expected failures print one line and exit non-zero."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=argv[0] if argv else None)
    args = _parse(parser, argv)
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
