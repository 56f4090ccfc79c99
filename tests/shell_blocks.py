"""The shell commands of the README and the tutorials, run as written from a clone.

A command block is a Markdown ```` ```console ```` / ```` ```bash ```` fence or a
reStructuredText ``.. code-block:: console`` / ``bash``. In a console block commands start
with ``$`` and the lines up to the next one are the command's output, compared in full (no
elision); in a bash block every line is a command. A trailing ``\\`` continues a command.

:class:`Clone` runs ``python -m examples.msg3d.NAME ...`` in-process (its ``main``) from a
folder laid out as a clone sees it: ``examples/`` inside, ``../shared`` (the real-data
fixtures) beside it. What a reader brings is stood in for: each ``--weights NAME`` comes
from a ``file://`` mirror of narrow models in pyskl's format (the exact conversion is
tests/examples/test_pyskl.py's), ``keypoints.npy`` is random COCO-17 keypoints. A command
that reads ``../shared/...`` skips, saying so, where the fixtures are absent. To keep the
suite fast, training runs one epoch on 16 items of each split (``--epochs 1 --subset 16``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import re
import shlex
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import ROOT

__all__ = ["Clone", "Command", "markdown_blocks", "rst_blocks", "same_output"]


@dataclass
class Command:
    """One command of a block: its words, the output shown after it, where it is."""

    words: list[str]
    output: str
    where: str

    def __str__(self) -> str:
        return shlex.join(self.words)


def _commands(body: str, console: bool, where: str) -> list[Command]:
    commands: list[Command] = []
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if console and not line.startswith("$ "):
            if commands and line.strip():
                commands[-1].output += line + "\n"
            continue
        text = line[2:] if console else line
        while text.rstrip().endswith("\\") and i < len(lines):
            text = text.rstrip()[:-1] + " " + lines[i].strip()
            i += 1
        words = shlex.split(text, comments=True)
        if words:
            commands.append(Command(words, "", where))
    return commands


def markdown_blocks(path: Path) -> list[list[Command]]:
    """The commands of each console / bash block of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in re.finditer(r"^```(console|bash)\n(.*?)^```", text, re.S | re.M):
        line = text[: match.start()].count("\n") + 1
        where = f"{path.relative_to(ROOT)}:{line}"
        found.append(_commands(match[2], match[1] == "console", where))
    return found


def rst_blocks(path: Path) -> list[list[Command]]:
    """The commands of each ``code-block:: console`` / ``bash`` of a reStructuredText
    file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for number, line in enumerate(lines):
        match = re.match(r"^( *)\.\. code-block:: (console|bash)\s*$", line)
        if not match:
            continue
        indent, body = len(match[1]), []
        for inner in lines[number + 1 :]:
            if inner.strip() and len(inner) - len(inner.lstrip()) <= indent:
                break
            body.append(inner)
        where = f"{path.relative_to(ROOT)}:{number + 1}"
        found.append(_commands(textwrap.dedent("\n".join(body)), match[2] == "console", where))
    return found


def _extras() -> set[str]:
    return set(importlib.metadata.metadata("skelgraph").get_all("Provides-Extra") or ())


class Clone:
    """A folder laid out like a clone (``examples/``, with ``../shared`` beside it), the
    working directory while its commands run."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        from examples.msg3d.weights import BASE_URL_VARIABLE

        self.root = tmp_path / "clone"
        self.root.mkdir()
        (self.root / "examples").symlink_to(ROOT / "examples")
        self.shared = ROOT.parent / "shared"
        if self.shared.is_dir():
            (tmp_path / "shared").symlink_to(self.shared)
        self.mirror = tmp_path / "mirror"
        self.mirror.mkdir()
        monkeypatch.chdir(self.root)
        monkeypatch.setenv(BASE_URL_VARIABLE, self.mirror.as_uri())
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def run(self, command: Command) -> str:
        """Run ``command``; its standard output. A refused command fails the test."""
        words = command.words
        if words[:3] == ["python", "-m", "pip"]:
            return self._check_install(command)
        if words[:3] == ["python", "-m", "pytest"]:
            return ""  # the suite that is running this
        if words[:2] != ["python", "-m"] or not words[2].startswith("examples.msg3d."):
            raise AssertionError(f"{command.where}: no way to run {command}")
        args = self._prepare(command)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                status = importlib.import_module(words[2]).main(args)
            except SystemExit as stop:
                status = stop.code
        assert status in (0, None), f"{command.where}: {command}: {status}"
        return out.getvalue()

    def _prepare(self, command: Command) -> list[str]:
        args = list(command.words[3:])
        needs = [word for word in args if word.startswith("../shared/")]
        if needs and not (self.shared / "fixtures").is_dir():
            pytest.skip(f"{command.where}: reads {needs[0]}; ../shared/fixtures is absent")
        for i, word in enumerate(args[:-1]):
            if word == "--weights":
                self._stand_in_weights(args[i + 1])
        if "keypoints.npy" in args and not Path("keypoints.npy").exists():
            rng = np.random.default_rng(0)
            xy, score = rng.uniform(200, 900, (40, 17, 2)), rng.uniform(0.3, 1, (40, 17, 1))
            np.save("keypoints.npy", np.concatenate([xy, score], -1).astype(np.float32))
        if command.words[2] == "examples.msg3d.train":
            if "--epochs" in args:
                del args[args.index("--epochs") : args.index("--epochs") + 2]
            args += ["--epochs", "1", "--subset", "16"]
        return args

    def _stand_in_weights(self, name: str) -> None:
        from tests.examples import pyskl_oracle

        path = self.mirror / f"{name}.pth"
        if not path.exists():
            graph = "coco-17" if "-hrnet-" in name else "ntu-rgbd-pyskl"
            classes = 120 if "ntu120" in name else 60
            pyskl_oracle.save_narrow(path, graph, num_classes=classes)

    @staticmethod
    def _check_install(command: Command) -> str:
        """``pip install``: not run (no index here); the extras it names exist and the
        PyTorch it pins is the one the suite runs on."""
        for word in command.words[3:]:
            if word.startswith("torch=="):
                assert torch.__version__.split("+")[0] == word.removeprefix("torch=="), word
            extras = re.fullmatch(r"\.\[([\w,-]+)\]", word)
            if extras:
                assert set(extras[1].split(",")) <= _extras(), f"{command.where}: {word}"
        return ""


def same_output(shown: str, printed: str) -> bool:
    """Whether a block's output is what the command printed (whitespace aside)."""
    return shown.split() == printed.split()
