"""benchmarks/accuracy.py: the Table 1 models, the K bound, the paired statistics, the
report written from the csv, and a --quick run on N-UCLA."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from tests.benchmarks.usage import assert_refused_integer
from tests.conftest import fixture_path

pytest.importorskip("matplotlib", reason="the plot extra is not installed")
pytest.importorskip("scipy", reason="the plot extra is not installed")


@pytest.fixture
def script():
    from benchmarks import accuracy

    return accuracy


def test_scales_bounded_by_diameter(script):
    assert script.bounded_scales([1, 4, 8, 12]) == ([1, 4, 8, 11], 11)
    assert script.bounded_scales([12, 11, 13]) == ([11], 11)
    with pytest.raises(ValueError):
        script.bounded_scales([0])


@pytest.mark.parametrize("family", ["gcn", "g3d"])
@pytest.mark.parametrize("aggregation", ["powering", "disentangled"])
@pytest.mark.parametrize("mask", [True, False])
def test_single_pathway_models(script, family, aggregation, mask):
    model = script.SinglePathwayNet(family, aggregation, mask, 4, channels=(12, 24))
    assert model(torch.randn(2, 3, 8, 20, 1)).shape == (2, 10)
    has_mask = any("mask" in name for name, _ in model.named_parameters())
    assert has_mask == mask
    assert script.model_name(family, aggregation) in {"GCN-E", "GCN-D", "G3D-E", "G3D-D"}


@pytest.mark.parametrize("family", ["gcn", "g3d"])
def test_pairs_share_weights_and_k1_is_one_model(script, family):
    """Same seed: -D and -E start from the same weights; at K = 1 they are the same
    function (why -E is not run there), at K = 4 they differ only by the adjacency."""
    x = torch.randn(2, 3, 8, 20, 1)
    outputs = {}
    for k in (1, 4):
        for aggregation in ("disentangled", "powering"):
            torch.manual_seed(3)
            model = script.SinglePathwayNet(family, aggregation, True, k, channels=(6, 12))
            params = {n: p.detach().clone() for n, p in model.named_parameters()}
            outputs[k, aggregation] = (params, model.eval()(x))
    for k in (1, 4):
        d, e = outputs[k, "disentangled"], outputs[k, "powering"]
        assert d[0].keys() == e[0].keys()
        assert all(torch.equal(d[0][n], e[0][n]) for n in d[0])
    torch.testing.assert_close(outputs[1, "disentangled"][1], outputs[1, "powering"][1])
    assert not torch.allclose(outputs[4, "disentangled"][1], outputs[4, "powering"][1])


def _row(model, k, seed, top1, mask=True):
    return {"model": model, "mask": mask, "K": k, "seed": seed, "setting": "s",
            "final_top1": top1 / 100, "seconds": 10.0, "parameters": 1}  # fmt: skip


def test_paired_difference_by_hand(script):
    """D − E over seeds 0-2 is 1, 2, 3: mean 2, s = 1, half-width t(0.975, 2) / √3 =
    4.3027 / 1.7321 = 2.484; a seed run for one side only is left out."""
    rows = [_row("GCN-D", 4, s, 80 + s + 1) for s in range(3)]
    rows += [_row("GCN-E", 4, s, 80) for s in range(3)] + [_row("GCN-D", 4, 9, 99)]
    rows += [_row("GCN-D", 1, s, 70 + s) for s in range(2)]
    pairs = {p["K"]: p for p in script.paired_differences(rows)}
    p = pairs[4]
    assert (p["seeds"], p["D"], p["E"]) == (3, pytest.approx(82), pytest.approx(80))
    assert p["diff"] == pytest.approx(2)
    assert (p["low"], p["high"]) == (
        pytest.approx(2 - 2.4841, abs=1e-3),
        pytest.approx(4.4841, abs=1e-3),
    )
    assert p["reading"] == "no difference shown"
    assert (pairs[1]["diff"], pairs[1]["seeds"], pairs[1]["reading"]) == (0, 2, "identical (K = 1)")


def test_readings(script):
    assert script.reading(0.1, 2) == "D better"
    assert script.reading(-2, -0.1) == "E better"
    assert script.reading(-1, 1) == "no difference shown"
    assert script.reading(math.nan, math.nan) == "too few seeds"
    mean, half = script.t_interval([5.0])
    assert mean == 5 and math.isnan(half)


def test_grid_is_seed_major_without_e_at_k1(script):
    args = script.parse_args(["--families", "gcn", "--scales", "1", "4", "--seeds", "0", "1"])
    grid = script.grid_of(args, [1, 4])
    assert grid == [
        ("GCN-D", "on", 1, 0), ("GCN-D", "on", 4, 0), ("GCN-E", "on", 4, 0),
        ("GCN-D", "on", 1, 1), ("GCN-D", "on", 4, 1), ("GCN-E", "on", 4, 1),
    ]  # fmt: skip
    assert script.missing(grid, [_row("GCN-D", 4, 1, 50)]) == 5


def test_report_rewrites_everything_from_the_csv(script, tmp_path):
    """--report trains nothing: the tables, the paired csv, the plot and what is left
    (with the command that finishes the grid) all come from accuracy.csv."""
    argv = ["--families", "gcn", "--scales", "1", "4", "--seeds", "0", "1", "2", "3"]
    argv += ["--epochs", "3", "--out", str(tmp_path)]
    args = script.parse_args(argv)
    setting = script.setting_of(script.recipe(args, tmp_path, tmp_path), args.channels)
    rows = [_row("GCN-D", 4, s, 80 + s + 1) for s in range(3)]
    rows += [_row("GCN-E", 4, s, 80) for s in range(3)] + [_row("GCN-D", 1, 0, 70)]
    rows += [{**_row("GCN-D", 4, 5, 10), "setting": "other"}]
    for r in rows[:-1]:
        r["setting"] = setting
    with open(tmp_path / "accuracy.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, script.FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "accuracy.md").write_text("# title\n\n- command: `x`\n\n## Final\n")
    assert script.main([*argv, "--report"]) == 0
    text = (tmp_path / "accuracy.md").read_text()
    assert text.startswith("# title\n\n- command: `x`\n")
    assert "| GCN-D | yes | 70.0 (n=1) | 82.0 ± 2.5 (n=3) |" in text
    assert "| GCN-E | yes | = D (same operator) | 80.0 ± 0.0 (n=3) |" in text
    assert "| GCN | yes | 4 | 3 | 82.0 | 80.0 | +2.0 [-0.5, +4.5] | no difference shown |" in text
    assert "- this command's grid: 5 of 12 runs (median 10 s per run here" in text
    assert f"`python -m benchmarks.accuracy {' '.join(argv)} --resume`" in text
    assert "- the whole Table 1 (the default grid): 133 of 140 runs" in text  # 14 per seed
    assert f"`python -m benchmarks.accuracy --epochs 3 --out {tmp_path} --resume`" in text
    paired = list(csv.DictReader((tmp_path / "accuracy-paired.csv").open()))
    assert [p["K"] for p in paired] == ["1", "4"] and float(paired[1]["diff"]) == 2.0
    kept = list(csv.DictReader((tmp_path / "accuracy.csv").open()))
    assert len(kept) == len(rows)  # the other setting's run is kept, not reported
    assert (tmp_path / "accuracy.png").stat().st_size > 0


def _write_runs(script, folder, rows, md):
    folder.mkdir(exist_ok=True)
    with open(folder / "accuracy.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, script.FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    (folder / "accuracy.md").write_text(md)


def test_merge_adds_the_runs_and_commands_of_other_folders(script, tmp_path):
    """--merge: the shard's new runs join the table (a run the results already hold stays
    as it was), its command lines become "earlier command" lines once each, and nothing
    is trained."""
    argv = ["--families", "gcn", "--scales", "4", "--seeds", "0", "1", "2", "3", "4"]
    argv += ["--epochs", "3", "--out", str(tmp_path / "results")]
    args = script.parse_args(argv)
    setting = script.setting_of(script.recipe(args, tmp_path, tmp_path), args.channels)
    mine = [{**_row(m, 4, s, 80 + (m == "GCN-D")), "setting": setting}
            for s in range(3) for m in ("GCN-D", "GCN-E")]  # fmt: skip
    _write_runs(script, tmp_path / "results", mine, "# t\n\n- command: `x`\n\n## F\n")
    shard = [{**_row(m, 4, s, 80 + 3 * (m == "GCN-D")), "setting": setting}
             for s in range(5) for m in ("GCN-D", "GCN-E")]  # fmt: skip
    shard += [{**_row("GCN-D", 4, 9, 10), "setting": "other"}]
    md = "# t\n\n- command: `y`\n- earlier command: `x`\n\n## F\n"
    _write_runs(script, tmp_path / "shard", shard, md)
    assert script.main([*argv, "--merge", str(tmp_path / "shard")]) == 0
    text = (tmp_path / "results" / "accuracy.md").read_text()
    assert text.count("`x`") == 1 and text.count("- earlier command: `y`") == 1
    assert f"- merged: `python -m benchmarks.accuracy {' '.join(argv)} --merge " in text
    # seeds 0-2 keep their +1, seeds 3-4 bring +3: mean difference 1.8 over 5 pairs
    assert "| GCN | yes | 4 | 5 | 81.8 | 80.0 | +1.8 [" in text
    assert "--merge" not in text.split("## ")[-1]  # the finishing commands train
    rows = list(csv.DictReader((tmp_path / "results" / "accuracy.csv").open()))
    assert len(rows) == 11 and sum(r["setting"] == "other" for r in rows) == 1
    assert "this command's grid: nothing, all 10 runs" in text
    with pytest.raises(SystemExit, match=r"--merge: no accuracy\.csv in"):
        script.main([*argv, "--merge", str(tmp_path / "nowhere")])


def test_quick_writes_table(script, tmp_path):
    root = fixture_path("nw-ucla")
    out = tmp_path / "results"
    argv = ["--quick", "--data-root", str(root), "--out", str(out), "--threads", "1"]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--subset", "20", "--frames", "8"]
    assert script.main(argv) == 0
    text = (out / "accuracy.md").read_text()
    assert "python -m benchmarks.accuracy --quick" in text and "torch " in text
    assert "| model | masks | K = 4 |" in text and "| GCN-D | yes |" in text and "(n=1)" in text
    assert "ctrgcn T8 e1 r1" in text and "- this command's grid: nothing, all 1 runs" in text
    with open(out / "accuracy.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["model"] == "GCN-D" and rows[0]["K"] == "4"
    assert 0 <= float(rows[0]["final_top1"]) <= 1
    assert (out / "accuracy.png").stat().st_size > 0


@pytest.mark.parametrize(
    "option, value",
    [("--seeds", "-1"), ("--scales", "0"), ("--channels", "100000"), ("--epochs", "0"),
     ("--batch-size", "x"), ("--milestones", "0"), ("--subset", "0"), ("--threads", "0")],
)  # fmt: skip
def test_out_of_range_numbers_are_refused_by_name(script, option, value, capsys):
    assert_refused_integer(script.main, option, value, capsys)
