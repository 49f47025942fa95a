"""``--help`` of every sub-command: a description, a help text per option that shows its
default, an example line; and the README's command table lists exactly these commands with
their required options (the parsers are walked in-process, no shelling out)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_asr.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"
_SKIP = (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)


def _children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator:
    """(command path, parser) for every sub-command and nested sub-command."""
    for name, child in _children(parser).items():
        yield (*path, name), child
        yield from walk(child, (*path, name))


COMMANDS = list(walk(build_parser()))


def _shown_help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help text as --help prints it (formatters such as ArgumentDefaultsHelpFormatter
    add the default themselves)."""
    return parser._get_formatter()._expand_help(action)


def _has_default(action: argparse.Action) -> bool:
    if not action.option_strings or action.required:
        return False
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
        return False
    return action.default not in (None, [], argparse.SUPPRESS)


@pytest.mark.parametrize("path,parser", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_documents_itself(path: tuple[str, ...], parser: argparse.ArgumentParser):
    command = " ".join(path)
    assert parser.description and len(parser.description) > 20, command
    epilog = parser.epilog or ""
    example = re.search(rf"(^|examples?:)\s*edge-asr {re.escape(command)}\b", epilog, re.M)
    assert example and re.search(r"examples?:", epilog), (command, epilog)
    for action in parser._actions:
        if isinstance(action, _SKIP):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS, f"{command} {name}: no help"
        if not _has_default(action):
            continue
        shown = _shown_help(parser, action)
        assert "default" in shown.lower(), f"{command} {name}: default {action.default!r} unsaid"
        if isinstance(action.default, int | float) and not isinstance(action.default, bool):
            assert f"{action.default:g}" in shown, f"{command} {name}: says not {action.default}"


def test_top_level_help_lists_every_command_with_a_summary():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    summaries = {c.dest: c.help for c in sub._choices_actions}
    assert set(summaries) == set(sub.choices)
    assert all(h and len(h) > 10 for h in summaries.values()), summaries
    text = parser.format_help()
    assert all(name in text for name in sub.choices) and "exit status:" in text


def _readme_rows() -> list[str]:
    text = README.read_text()
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(edge-asr [^`]+)` \|", section, re.M)


def test_readme_table_matches_the_parsers():
    """One row or more per command and no row for a command that does not exist; options a
    row names exist, and every required option appears outside [brackets]."""
    parser = build_parser()
    commands = set(_children(parser)) | set(parser.unavailable)
    rows = _readme_rows()
    named = {row.split()[1] for row in rows}
    assert named == commands, (sorted(named ^ commands), "README command table vs parsers")
    parsers = dict(COMMANDS)
    for row in rows:
        words = tuple(row.split()[1:3])
        path = words if words in parsers else words[:1]
        known = {s for a in parsers[path]._actions for s in a.option_strings}
        for option in re.findall(r"(?<![\w-])--[a-z][\w-]*", row):
            assert option in known, f"README row {row!r}: {option} is no option of it"
    for path, sub in COMMANDS:
        mine = [
            re.sub(r"\[[^\]]*\]", "", r)
            for r in rows
            if r.startswith(f"edge-asr {' '.join(path)} ")
        ]
        for action in sub._actions:
            if action.required and action.option_strings:
                option = action.option_strings[-1]
                assert all(option in r for r in mine), f"README: {' '.join(path)} needs {option}"
