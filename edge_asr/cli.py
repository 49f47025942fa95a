"""The ``edge-asr`` command. Sub-commands come from the ``edge_asr.commands`` entry points.

Discovery keeps this dispatcher free of heavy imports (``edge-asr transcribe`` on a device never
loads TensorFlow) and keeps the import arrows one way (``edge_asr`` never imports
``converters``; the ``convert`` command registers itself). A command whose optional dependency
is not installed is listed as unavailable; any other import error is a bug and propagates.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, entry_points, version
from typing import NoReturn

from runtime.errors import EdgeASRError

# Commands that never load TensorFlow (a device has only the runtime extra).
LIGHT_COMMANDS = {"corpus", "transcribe", "lm", "export-web"}
# Shown in this order in --help; unknown plug-ins follow alphabetically.
_ORDER = [
    "corpus",
    "models",
    "train",
    "import",
    "evaluate",
    "convert",
    "validate",
    "transcribe",
    "lm",
    "demo",
    "export-web",
]
# Optional top-level modules -> the extra that installs them. A command whose module needs one
# of these, absent here, is skipped (and named in --help); any other ImportError propagates.
OPTIONAL_MODULES = {
    name: "full"
    for name in (
        "tensorflow",
        "keras",
        "tf2onnx",
        "onnx",
        "onnxconverter_common",
        "soundfile",
        "espeakng_loader",
        "rich",
        "matplotlib",
        "psutil",
        "editdistance",
    )
} | {"ai_edge_litert": "runtime", "onnxruntime": "runtime"}
EXIT_CODES = """\
exit status:
  0    success
  1    some files or artifacts failed (the others were processed)
  2    usage error or bad input (one line on stderr)
  130  interrupted (Ctrl-C)
  141  stdout closed early (e.g. piped into `head`)"""


def _version() -> str:
    try:
        return version("edge-asr")
    except PackageNotFoundError:  # running from a source tree that was never installed
        from edge_asr import __version__

        return __version__


def _missing_extra(exc: ImportError) -> str | None:
    """The extra to install when ``exc`` is an optional dependency that is not installed."""
    top = (exc.name or "").split(".")[0]
    if top not in OPTIONAL_MODULES or importlib.util.find_spec(top) is not None:
        return None
    return OPTIONAL_MODULES[top]


class CommandParser(argparse.ArgumentParser):
    """The top-level parser; ``unavailable`` maps skipped commands to why they are missing."""

    unavailable: dict[str, str]

    def error(self, message: str) -> NoReturn:
        """Usage errors in one line, like every other expected failure."""
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def build_parser(only: str | None = None) -> CommandParser:
    """The parser with every installed sub-command, or with just ``only`` when that one is
    installed (a device running ``transcribe`` then never imports the training modules).
    Commands whose optional dependencies are missing are named in the epilog and in
    ``parser.unavailable``."""
    found = {ep.name: ep for ep in entry_points(group="edge_asr.commands")}
    if only in found:
        found = {only: found[only]}
    registers, unavailable = [], {}
    for name in sorted(found, key=lambda n: (_ORDER.index(n) if n in _ORDER else 99, n)):
        try:
            registers.append(found[name].load())
        except ImportError as exc:
            extra = _missing_extra(exc)
            if extra is None:
                raise
            unavailable[name] = (
                f"needs the {extra} extra (no module {exc.name!r}: pip install 'edge-asr[{extra}]')"
            )
    epilog = [f"  {n}: {why}" for n, why in unavailable.items()]
    if epilog:
        epilog = ["unavailable commands:", *epilog, ""]
    epilog += [EXIT_CODES, "", "example: edge-asr demo --quick   (every step on a tiny corpus)"]
    parser = CommandParser(
        prog="edge-asr",
        description="Train small speech models, convert them to TFLite/ONNX behind an "
        "output-match gate, and run them on edge devices.",
        epilog="\n".join(epilog),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"edge-asr {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in registers:
        register(sub)
    parser.unavailable = unavailable
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


def _quiet_stdout() -> None:
    """After the reader of stdout went away: point stdout at /dev/null so the interpreter's
    final flush does not print a second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured output)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; expected failures print one line and exit non-zero (see
    ``EXIT_CODES``). A reader that closes stdout early (``| head``) ends it quietly."""
    try:
        try:
            return _run(list(sys.argv[1:] if argv is None else argv))
        finally:  # flush here, so a closed pipe surfaces below and not at interpreter exit
            sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return 141


def _run(argv: list[str]) -> int:
    name = argv[0] if argv else "edge-asr"
    try:
        parser = build_parser(only=argv[0] if argv else None)
        if name in parser.unavailable:
            raise EdgeASRError(parser.unavailable[name])
        args = _parse(parser, argv)
        name = args.command
        if args.command not in LIGHT_COMMANDS:
            import edge_asr.tensorflow_quiet  # noqa: F401
        code = args.func(args)
    except EdgeASRError as exc:
        print(f"edge-asr {name}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"edge-asr {name}: error: no such file: {exc.filename or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"edge-asr {name}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
