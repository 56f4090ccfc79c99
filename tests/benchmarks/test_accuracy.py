"""benchmarks/accuracy.py: the Table 1 models, the K bound, and a --quick run on N-UCLA."""

from __future__ import annotations

import csv

import pytest
import torch

from tests.conftest import fixture_path

pytest.importorskip("matplotlib", reason="the plot extra is not installed")


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


def test_quick_writes_table(script, tmp_path):
    root = fixture_path("nw-ucla")
    out = tmp_path / "results"
    argv = ["--quick", "--data-root", str(root), "--out", str(out)]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--subset", "20", "--frames", "8"]
    assert script.main(argv) == 0
    text = (out / "accuracy.md").read_text()
    assert "python -m benchmarks.accuracy --quick" in text and "torch " in text
    assert "| model | masks | K = 4 |" in text
    assert "| GCN-D | yes |" in text and "(n=1)" in text
    with open(out / "accuracy.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["model"] == "GCN-D" and rows[0]["K"] == "4"
    assert 0 <= float(rows[0]["final_top1"]) <= 1
    assert (out / "accuracy.png").stat().st_size > 0
