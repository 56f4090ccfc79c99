"""The README is a landing page whose figures come from the results files
(benchmarks/readme.py)."""

from __future__ import annotations

import re

import pytest

from benchmarks import readme
from tests.conftest import ROOT

TEXT = (ROOT / "README.md").read_text(encoding="utf-8")
# A measured quantity: a ratio, a time, a memory size or a percentage.
FIGURE = re.compile(r"\d(?:[\d.]*\d)?(?:\s?(?:×(?!\s?\d)|%)|\s(?:s|ms|MiB|GiB)\b)")


def test_readme_figures_block_matches_the_results():
    assert readme.current(TEXT) == readme.block(), "run python -m benchmarks.readme"


def test_readme_quotes_figures_only_in_its_block():
    outside = TEXT.replace(readme.current(TEXT), "")
    prose = re.sub(r"```.*?```", "", outside, flags=re.S)  # code is not prose
    assert not FIGURE.findall(prose), FIGURE.findall(prose)


def test_readme_is_a_landing_page():
    assert len(TEXT.splitlines()) <= 150
    headings = re.findall(r"^## (.+)$", TEXT, flags=re.M)
    for wanted in ("Set up and test", "Graphs and layers", "Train", "Predict", "Stream",
                   "checkpoints", "Documentation"):  # fmt: skip
        assert any(wanted in heading for heading in headings), wanted


def test_check_mode_fails_on_a_stale_block(tmp_path, capsys):
    stale = tmp_path / "README.md"
    stale.write_text(TEXT.replace("faster in", "slower in", 1), encoding="utf-8")
    assert readme.main(["--check", "--readme", str(stale)]) == 1
    assert readme.main(["--readme", str(stale)]) == 0
    assert readme.main(["--check", "--readme", str(stale)]) == 0


def test_a_row_links_every_results_file_it_quotes(monkeypatch):
    row = ("stream and speed", "{stream.ntu60.frame-ms}; {limit.train8-float32.vs-same}")
    monkeypatch.setattr(readme, "ROWS", [row])
    (line,) = [line for line in readme.block().splitlines() if line.startswith("| stream")]
    sources = line.rsplit(" | ", 1)[1]
    assert sources.index("[streaming.md]") < sources.index("; [speed-limit.md]")


def test_a_row_without_figures_is_refused(monkeypatch):
    monkeypatch.setattr(readme, "ROWS", [("prose", "no figure")])
    with pytest.raises(ValueError, match="quotes no figure"):
        readme.block()
