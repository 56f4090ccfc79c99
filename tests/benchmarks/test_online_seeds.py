"""benchmarks/online_seeds.py: mean ± standard deviation over online_accuracy.py runs,
computed by hand, and the refusals of runs that do not belong together."""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks import online_seeds as script
from benchmarks.figures import figures
from benchmarks.online_accuracy import FRACTIONS
from tests.benchmarks.test_figures import RESULTS


def _run(path, causal: list[float], rerun: list[float], label="causal, trained on prefixes"):
    """A minimal online_accuracy.py json: two curves, their areas, the recipes (the
    symmetric model's seed 0 in every run, the causal one's the file's stem), a command."""
    curves = {"prefix": rerun, "prefix_causal": causal}
    record = {
        "curves": curves,
        "area": {k: sum(v) / len(v) for k, v in curves.items()},
        "labels": {"prefix_causal": f"{label}: stream"},
        "recipes": {"symmetric": "seed 0", "prefix_causal": f"seed {path.stem}"},
        "command": f"python -m benchmarks.online_accuracy --name {path.stem}",
    }
    path.write_text(json.dumps(record))
    return path


def _curve(half: float, whole: float) -> list[float]:
    """Ten points: 10 before half, ``half`` at 50 %, ``whole`` at 100 %."""
    points = [10.0] * len(FRACTIONS)
    points[FRACTIONS.index(0.5)], points[-1] = half, whole
    return points


def test_means_and_deviations_by_hand(tmp_path):
    a = _run(tmp_path / "a.json", _curve(70.0, 80.0), _curve(60.0, 84.0))
    b = _run(tmp_path / "b.json", _curve(74.0, 76.0), _curve(60.0, 84.0))
    out = tmp_path / "results"
    assert script.main([str(a), str(b), "--name", "online-seeds-t", "--out", str(out)]) == 0
    text = (out / "online-seeds-t.md").read_text()
    # 70 and 74: mean 72, sample standard deviation 2.83; areas (8·10 + 70 + 80) / 10 = 23
    # and (8·10 + 74 + 76) / 10 = 23
    row = "| causal, trained on prefixes: stream | 72.0 ± 2.8 (70.0, 74.0) | 78.0 ± 2.8 "
    assert row + "(80.0, 76.0) | 23.0 ± 0.0 (23.0, 23.0) |" in text
    # the symmetric model is one checkpoint in both runs: counted once
    one = "| symmetric: rerun on the frames so far (one model, the same in every run) | 60.0 |"
    assert one in text
    assert "--name a`" in text and "--name b`" in text and "- machine: " in text
    record = json.loads((out / "online-seeds-t.json").read_text())
    assert record["summary"]["prefix_causal"]["half"]["mean"] == 72.0


def test_figures_read_the_summary(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    a = _run(tmp_path / "a.json", _curve(70.0, 80.0), _curve(60.0, 84.0))
    b = _run(tmp_path / "b.json", _curve(74.0, 76.0), _curve(60.0, 84.0))
    assert script.main([str(a), str(b), "--name", "online-seeds-t", "--out", str(results)]) == 0
    f = figures(results)
    assert f["online-seeds-t.prefix-trained-causal-half"].text == "72.0 ± 2.8 %"
    assert f["online-seeds-t.prefix-trained-causal-area"].text == "23.0 ± 0.0"
    assert f["online-seeds-t.clip-whole"].text == "84.0 %"
    assert f["online-seeds-t.runs"].text == "2"


def test_runs_of_different_models_are_refused(tmp_path):
    a = _run(tmp_path / "a.json", _curve(70.0, 80.0), _curve(60.0, 84.0))
    b = _run(tmp_path / "b.json", _curve(70.0, 80.0), _curve(60.0, 84.0), label="other")
    with pytest.raises(SystemExit, match="different models as 'prefix_causal'"):
        script.main([str(a), str(b), "--name", "online-seeds-t", "--out", str(tmp_path)])


@pytest.mark.parametrize("content", ["{", "[1, 2]", '{"area": {}}'])
def test_a_file_that_is_not_a_run_is_refused_by_name(tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(SystemExit, match=r"bad\.json: not an online_accuracy\.py json"):
        script.main([str(bad), "--name", "online-seeds-t", "--out", str(tmp_path)])


@pytest.mark.parametrize("name", ["../x", "online-seeds-", "mixed", "online-seeds-a/b"])
def test_a_name_outside_the_pattern_is_refused(tmp_path, name, capsys):
    with pytest.raises(SystemExit):
        script.main([str(tmp_path / "a.json"), "--name", name])
    assert "expected a name online-seeds-X" in capsys.readouterr().err
