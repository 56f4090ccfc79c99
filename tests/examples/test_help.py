"""Every command of examples/msg3d explains itself: each argument of its ``--help`` has a
description, a default is shown once where there is one (``cli.HelpFormatter``'s rule),
and never as ``(default: None)``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import re

import pytest

from examples.msg3d import cli
from tests.conftest import ROOT

# The commands: the modules run as ``python -m examples.msg3d.NAME``.
COMMANDS = sorted(
    path.stem
    for path in (ROOT / "examples" / "msg3d").glob("*.py")
    if "cli.run(main)" in path.read_text(encoding="utf-8")
)


def test_the_commands_are_found():
    assert set(COMMANDS) >= {"train", "predict", "stream", "fuse", "convert_checkpoint"}


def _entries(text: str) -> list[tuple[str, str]]:
    """(invocation, help) of each argument a ``--help`` text lists, help lines joined."""
    entries: list[list[str]] = []
    listing = False
    for line in text.splitlines():
        if line and not line[0].isspace():  # "usage: ...", "options:", a group, an epilog
            listing = line.endswith(":") and not line.startswith("usage:")
        elif listing and re.match(r" {2}\S", line):
            invocation, _, help_text = line.strip().partition("  ")
            entries.append([invocation, help_text.strip()])
        elif listing and line.strip() and entries:
            entries[-1][1] = f"{entries[-1][1]} {line.strip()}".strip()
    return [(invocation, help_text) for invocation, help_text in entries]


def _help(name: str, capsys, monkeypatch) -> tuple[argparse.ArgumentParser, str]:
    monkeypatch.setenv("COLUMNS", "80")
    module = importlib.import_module(f"examples.msg3d.{name}")
    with pytest.raises(SystemExit) as stop:
        module.main(["--help"])
    assert stop.value.code == 0
    return module.build_parser(), capsys.readouterr().out


def _action(parser: argparse.ArgumentParser, invocation: str) -> argparse.Action:
    first = invocation.split()[0].rstrip(",")
    if first in parser._option_string_actions:
        return parser._option_string_actions[first]
    return next(a for a in parser._actions if first in (a.metavar, a.dest))


def _shown(action: argparse.Action) -> str | None:
    """The default the help should show, or None where it shows none of its own."""
    if action.default is None or action.default is argparse.SUPPRESS:
        return None
    if isinstance(action, argparse.BooleanOptionalAction):
        return action.option_strings[0 if action.default else 1]
    return None if action.nargs == 0 else str(action.default)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_describes_every_argument_and_shows_each_default_once(name, capsys, monkeypatch):
    parser, text = _help(name, capsys, monkeypatch)
    entries = _entries(text)
    assert len(entries) == len(parser._actions), entries
    for invocation, help_text in entries:
        where = f"{name} {invocation}"
        assert help_text, f"{where}: no description"
        assert "(default: None)" not in help_text, where
        assert help_text.lower().count("default") <= 1, f"{where}: {help_text}"
        if "default" in help_text.lower():  # said one way
            assert "(default: " in help_text, f"{where}: {help_text}"
        action = _action(parser, invocation)
        shown = _shown(action)
        if shown is not None and "(default" not in (action.help or ""):
            assert help_text.endswith(f"(default: {shown})"), f"{where}: {help_text}"
        if action.required:
            assert "default" not in help_text.lower(), where


def test_help_formatter_rule():
    parser = cli.Parser(prog="tool.py")
    parser.add_argument("--n", type=int, default=3, help="count")
    parser.add_argument("--rate", default="5%", help="a share")
    parser.add_argument("--on", action=argparse.BooleanOptionalAction, default=True, help="x")
    parser.add_argument("--off", action=argparse.BooleanOptionalAction, default=False, help="y")
    parser.add_argument("--flag", action="store_true", help="a switch")
    parser.add_argument("--own", help="a name (default: the data's)")
    parser.add_argument("--need", required=True, help="must be given")
    parser.add_argument("--unset", help="optional")
    lines = {a: h for a, h in _entries(parser.format_help())}
    assert lines["--n N"] == "count (default: 3)"
    assert lines["--rate RATE"] == "a share (default: 5%)"
    assert lines["--on, --no-on"] == "x (default: --on)"
    assert lines["--off, --no-off"] == "y (default: --no-off)"
    assert lines["--flag"] == "a switch"
    assert lines["--own OWN"] == "a name (default: the data's)"
    assert lines["--need NEED"] == "must be given"
    assert lines["--unset UNSET"] == "optional"


def _docs_width() -> int:
    """The width the docs lay the help out at (docs/_ext/cli_help.py)."""
    path = ROOT / "docs" / "_ext" / "cli_help.py"
    spec = importlib.util.spec_from_file_location("cli_help", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WIDTH


@pytest.mark.parametrize("name", COMMANDS)
def test_help_fits_its_width_under_a_long_program_name(name):
    """As the docs show it (``python -m examples.msg3d.NAME``, the docs' width), no line
    of the help runs past the width: a code block that would be cut off on the page."""
    width = _docs_width()
    parser = importlib.import_module(f"examples.msg3d.{name}").build_parser()
    parser.prog = f"python -m examples.msg3d.{name}"
    formatter = parser.formatter_class
    parser.formatter_class = lambda prog: formatter(prog, width=width)
    text = parser.format_help()
    assert max(map(len, text.splitlines())) <= width, text
    assert text.startswith(f"usage: {parser.prog} [-h]"), text
