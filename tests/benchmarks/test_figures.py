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


def test_table1_and_recipe_figures_follow_their_files(tmp_path):
    """accuracy-paired.csv and nucla-recipe.json, rewritten, give the figures by hand."""
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    (results / "accuracy-paired.csv").write_text(
        "family,mask,K,seeds,D,E,diff,low,high,reading\n"
        "GCN,True,11,4,82.0,80.0,2.0,-0.5,4.5,no difference shown\n"
        "G3D,False,4,1,70.0,69.0,1.0,nan,nan,too few seeds\n"
        "G3D,True,8,20,82.0,80.0,2.0,1.1,2.9,D better\n"
        "G3D,True,1,20,82.0,82.0,0.0,0.0,0.0,identical (K = 1)\n"
    )
    record = json.loads((results / "nucla-recipe.json").read_text())
    run = record["runs"][0]
    complete = {**run, "final_epoch": 65, "epochs_planned": 65, "model_args": None}
    record["runs"] = [
        {**complete, "final_top1": 0.9},
        {**complete, "final_top1": 0.8},
        {**complete, "final_top1": 0.1, "final_epoch": 7},  # stopped early: listed only
        {**complete, "final_top1": 0.2, "final_epoch": 2, "parameters": 3_000_000,
         "model_args": {"channels": [96, 192, 384]}, "median_epoch_seconds": 720.0},
    ]  # fmt: skip
    record["fused"] = [
        {"name": "four streams", "top1": 0.95},
        {"name": "joint + bone", "top1": 0.9},
        {"name": "joint + bone", "top1": 0.8},
    ]
    (results / "nucla-recipe.json").write_text(json.dumps(record))
    f = figures(results)
    assert f["accuracy.gcn-k11.diff"].text == "+2.0 points [-0.5, +4.5]"
    assert f["accuracy.gcn-k11.reading"].text == "no difference shown"
    assert f["accuracy.g3d-k4-nomask.diff"].text == "+1.0 points"
    assert f["accuracy.gcn-k11.seeds"].text == "4"
    assert f["accuracy.gcn-k11.halfwidth"].text == "±2.5 points"
    assert f["accuracy.g3d-k4-nomask.halfwidth"].text == "none (one seed)"
    assert f["accuracy.g3d-k8.halfwidth"].text == "±0.9 points"
    assert f["accuracy.cells-within-1"].text == "1 of 3"  # K = 1 is not counted
    stream = run["stream"]
    assert f[f"recipe.{stream}.top1"].text == "85.0 %"
    assert f[f"recipe.{stream}.epochs"].text == "65" and f[f"recipe.{stream}.seeds"].text == "2"
    assert f["recipe.largest-other.parameters"].text == "3.0 M"
    assert f["recipe.largest-other.epochs"].text == "2"
    assert f["recipe.largest-other.epoch-seconds"].text == "720 s"
    assert f["recipe.largest-other.recipe-hours"].text == "13 h"  # 65 × 720 s
    assert f["recipe.largest-other.top1"].text == "20.0 %"
    assert f["recipe.fused.top1"].text == "95.0 %" and f["recipe.fused.seeds"].text == "1"
    assert f["recipe.fused-joint-bone.top1"].text == "85.0 %"
    assert f["recipe.fused-joint-bone.seeds"].text == "2"
    assert f["recipe.fused.top1"].source.file == "nucla-recipe.md"


def test_the_peak_a_speedup_would_take_follows_the_times(tmp_path):
    """A cell timed exactly 2.5× faster than the authors' code at the same precision
    needs its own fraction of the peak for 2.5×; at twice the authors' time, double."""
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    record = json.loads((results / "speed-limit.json").read_text())
    cells = {(c["impl"], c["batch"], c["phase"], c["amp"]): c for c in record["cells"]}
    ours, theirs = cells["skelgraph", 2, "train", "off"], cells["authors", 2, "train", "off"]
    theirs["min_s"] = 2.5 * ours["min_s"]
    (results / "speed-limit.json").write_text(json.dumps(record))
    f = figures(results)
    assert f["limit.train2-float32.of-peak-at-2.5x-same"].text == f"{100 * ours['of_peak']:.0f} %"
    assert f["limit.train2-float32.of-peak-at-5x-same"].text == f"{200 * ours['of_peak']:.0f} %"
    assert f["limit.train2-float32.authors-of-peak"].text == f"{100 * theirs['of_peak']:.0f} %"


def test_ms_tcn_limit_figures_come_from_the_least_width(tmp_path):
    """The MS-TCN figures quote the width where skelgraph gains least over the authors'
    module; an authors' time exactly twice skelgraph's needs skelgraph's own fraction of
    the peak for 2×, and at the other width the fraction would differ."""
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)

    def cell(width: str, impl: str, min_s: float, ratio: float, of_peak: float) -> dict:
        return dict(width=width, batch=8, phase="infer", amp="off", impl=impl, min_s=min_s,
                    median_s=min_s, vs_baseline=ratio, of_peak=of_peak)  # fmt: skip

    cells = [
        cell("192,192,1", "fast", 0.010, 1.9, 0.60),
        cell("192,192,1", "authors", 0.019, 1.0, 0.30),
        cell("96,192,2", "fast", 0.010, 1.4, 0.50),
        cell("96,192,2", "authors", 0.020, 1.0, 0.24),
    ]
    (results / "modules-ms-tcn-limit.json").write_text(json.dumps(cells))
    header = (RESULTS / "modules-ms-tcn-tuned.md").read_text()
    (results / "modules-ms-tcn-limit.md").write_text(header)
    f = figures(results)
    assert f["modules.ms-tcn-limit.infer8.float32"].text == "1.40×"
    assert f["modules.ms-tcn-limit.infer8.float32.of-peak"].text == "50 %"
    assert f["modules.ms-tcn-limit.infer8.float32.authors-of-peak"].text == "24 %"
    assert f["modules.ms-tcn-limit.infer8.float32.of-peak-at-2x"].text == "50 %"
    assert "modules.ms-tcn-tuned.infer8.float32.of-peak" not in f  # no peak in that file


def test_each_limit_file_gives_its_own_figures():
    """speed-limit-avx2.json's figures are named ``limit-avx2.*``, cite that file and are
    its cells' ratios, apart from speed-limit.json's ``limit.*``."""
    f = figures()
    record = json.loads((RESULTS / "speed-limit-avx2.json").read_text())
    cells = {(c["impl"], c["batch"], c["phase"], c["amp"]): c for c in record["cells"]}
    ours, theirs = cells["skelgraph", 8, "train", "off"], cells["authors", 8, "train", "off"]
    figure = f["limit-avx2.train8-float32.vs-same"]
    assert figure.text == f"{theirs['min_s'] / ours['min_s']:.2f}×"
    assert figure.source.file == "speed-limit-avx2.md" and "AVX2" in figure.source.machine
    assert f["limit.train8-float32.vs-same"].source.file == "speed-limit.md"
