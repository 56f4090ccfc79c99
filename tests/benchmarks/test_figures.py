"""Figures quoted in prose follow the results files (benchmarks/figures.py)."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks.figures import RESULTS, figures, source


def test_every_results_header_names_its_machine_and_date():
    for name in sorted(p.name for p in RESULTS.glob("*.md")):
        found = source(name)
        assert found.machine and found.date[:2] == "20", (name, found)


def test_figures_follow_the_data(tmp_path):
    """Halving skelgraph's batch-8 training time in speed.json doubles the quoted speed-up."""
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    runs = json.loads((results / "speed.json").read_text())
    before = figures(RESULTS)["speed.train8.speedup"]
    for run in runs:
        key = (run["case"], run["impl"], run["batch"], run["phase"], run["malloc"])
        if key == ("msg3d", "skelgraph", 8, "train", "default"):
            run["median_s"] /= 2
    (results / "speed.json").write_text(json.dumps(runs))
    after = figures(results)["speed.train8.speedup"]
    doubled = 2 * float(before.text.rstrip("×"))
    assert float(after.text.rstrip("×")) == pytest.approx(doubled, abs=0.01)
    assert after.source.file == "speed.md" and "EPYC" in after.source.machine


def test_a_header_without_machine_or_date_is_refused(tmp_path):
    (tmp_path / "x.md").write_text("# A run\n\n- command: `python -m benchmarks.speed`\n\n| a |\n")
    with pytest.raises(ValueError, match=r"x\.md"):
        source("x.md", tmp_path)


def test_the_benchmarks_page_figures_agree_with_the_tables():
    """Prose and tables read the same numbers: the batch-8 training speed-up quoted in the
    prose is the ratio of the two times quoted beside it."""
    f = figures()
    ratio = float(f["speed.train8.authors"].text[:-2]) / float(f["speed.train8.time"].text[:-2])
    assert ratio == pytest.approx(float(f["speed.train8.speedup"].text[:-1]), abs=0.01)
