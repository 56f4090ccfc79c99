"""benchmarks/stream_ab.py: a tree against itself gives the same predictions and a table
of ratios; a path that is no source tree is refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks import stream_ab
from benchmarks.stream_ab import ROOT
from tests.benchmarks.usage import assert_refused_integer


def run(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "benchmarks.stream_ab", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_a_tree_against_itself():
    done = run("--old", str(ROOT), "--preset", "nw-ucla-small", "--threads", "1",
               "--rounds", "3", "--warm", "80")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "| cycle |" in done.stdout and "new/old median" in done.stdout
    assert "largest |new - old| over" in done.stdout and done.stdout.rstrip().endswith(": 0")


def test_not_a_source_tree_is_refused(tmp_path):
    done = run("--old", str(tmp_path))
    assert done.returncode == 2 and "--old must be a skelgraph source tree" in done.stderr


@pytest.mark.parametrize(
    "option, value",
    [("--threads", "0"), ("--rounds", "0"), ("--warm", "-1")],
)  # fmt: skip
def test_out_of_range_numbers_are_refused_by_name(option, value, capsys):
    assert_refused_integer(stream_ab.main, option, value, capsys)
