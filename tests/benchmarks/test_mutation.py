"""benchmarks/mutation.py's machinery on a tiny scratch tree: a mutant changes exactly its
line, a killed mutant is reported killed, a surviving one survived (or equivalent where the
table says so), the file is restored after each, and the mutant table applies cleanly."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks import mutation
from benchmarks.mutants import MUTANTS, Mutant
from benchmarks.mutation import ROOT, apply_mutant, kill_rates, mutant_ids, run_mutants
from tests.benchmarks.usage import assert_refused_integer

SOURCE = "def double(x):\n    return 2 * x\n\n\ndef half(x):\n    return x / 2\n"
TEST = "from pkg.m import double\n\n\ndef test_double():\n    assert double(3) == 6\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "m.py").write_text(SOURCE)
    (tmp_path / "test_m.py").write_text(TEST)
    return tmp_path


def test_apply_changes_exactly_the_mutated_line(tree):
    mutant = Mutant(
        "pkg/m.py", "    return 2 * x", "    return 3 * x", ("test_m.py",), "wrong factor"
    )
    original, line = apply_mutant(tree, mutant)
    assert original == SOURCE and line == 2
    before, after = SOURCE.splitlines(), (tree / "pkg" / "m.py").read_text().splitlines()
    assert [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b] == [1]
    assert after[1] == "    return 3 * x"


def test_a_snippet_that_is_not_unique_is_refused(tree):
    mutant = Mutant("pkg/m.py", "    return", "    yield", ("test_m.py",), "ambiguous")
    with pytest.raises(ValueError, match="occurs 2 times, expected once"):
        apply_mutant(tree, mutant)
    assert (tree / "pkg" / "m.py").read_text() == SOURCE


def test_killed_survived_and_equivalent_are_reported_and_the_file_restored(tree):
    mutants = [
        Mutant("pkg/m.py", "    return 2 * x", "    return 2 * x + 1", ("test_m.py",), "plus one"),
        Mutant("pkg/m.py", "    return x / 2", "    return x * 0.5", ("test_m.py",), "untested",),
        Mutant("pkg/m.py", "    return x / 2", "    return x * 0.5", ("test_m.py",), "same",
               equivalent="x * 0.5 equals x / 2 for floats"),
    ]  # fmt: skip
    ids = mutant_ids(mutants)
    assert ids == ["m-1", "m-2", "m-3"]
    results = run_mutants(mutants, ids, tree, timeout=60, python=sys.executable)
    assert [r.status for r in results] == ["killed", "survived", "equivalent"]
    assert [r.line for r in results] == [2, 6, 6]
    assert (tree / "pkg" / "m.py").read_text() == SOURCE
    rates = kill_rates(results)["overall"]
    assert (rates["killed"], rates["survived"], rates["equivalent"]) == (1, 1, 1)
    assert rates["kill_rate"] == 0.5  # killed / (mutants - equivalent)


def test_every_mutant_of_the_table_applies_once_to_the_repository():
    assert len(MUTANTS) >= 100
    assert len(set(mutant_ids(MUTANTS))) == len(MUTANTS)
    for mutant in MUTANTS:
        text = (ROOT / mutant.file).read_text(encoding="utf-8")
        assert text.count(mutant.original) == 1, (mutant.file, mutant.original)
        assert mutant.mutated != mutant.original
        assert all((ROOT / t.split("::")[0]).is_file() for t in mutant.tests), mutant.tests


@pytest.mark.parametrize(
    "option, value",
    [("--timeout", "0"), ("--timeout", "nan"), ("--timeout", "inf")],
)  # fmt: skip
def test_out_of_range_numbers_are_refused_by_name(option, value, capsys):
    assert_refused_integer(mutation.main, option, value, capsys, "expected a number in")
