"""benchmarks/products.py: the two routes, interleaved, and the results file from its json."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import products as script
from skelgraph.nn import products


def test_the_routes_switch_the_rule_and_restore_it():
    """``oneDNN``: the route wherever the shapes allow, on an AVX2 CPU too (the benchmark
    measures what the rule would give), ``torch.mm``: never; both restored after."""
    a, b = torch.randn(512, 8), torch.randn(8, 4)
    before = products.MIN_ROWS, products.ONEDNN_FLOAT32
    with script.route("torch.mm"):
        assert not products.uses_onednn(a, b)
    with script.route("oneDNN"):
        assert products.uses_onednn(a, b) == (
            torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
        )
    assert (products.MIN_ROWS, products.ONEDNN_FLOAT32) == before
    with pytest.raises(RuntimeError), script.route("torch.mm"):
        raise RuntimeError("a failed step")
    assert (products.MIN_ROWS, products.ONEDNN_FLOAT32) == before


def test_quick_run_writes_both_routes_of_every_cell(tmp_path):
    script.main(["--quick", "--threads", "1", "--out", str(tmp_path)])
    data = json.loads((tmp_path / "products-quick.json").read_text())
    assert data["command"] == f"python -m benchmarks.products --quick --threads 1 --out {tmp_path}"
    assert [(c["batch"], c["phase"]) for c in data["cells"]] == [(1, "infer"), (1, "train")]
    for cell in data["cells"]:
        for name in script.ROUTES:
            assert len(cell["times_s"][name]) == data["rounds"] == 2
            assert cell["min_s"][name] == min(cell["times_s"][name]) > 0
        assert cell["speedup_min"] == pytest.approx(
            cell["min_s"]["torch.mm"] / cell["min_s"]["oneDNN"]
        )
        assert cell["max_abs_difference"] < 1e-3
    assert (tmp_path / "products-quick.md").read_text() == script.markdown(data)
    rule = "oneDNN" if products.ONEDNN_FLOAT32 else "torch.mm"
    assert data["rule"] == rule and f"(`ONEDNN_FLOAT32`, AVX-512 only): {rule}\n" in (
        script.markdown(data)
    )


def test_name_sets_the_stem_and_refuses_a_path(tmp_path, capsys):
    script.main(["--quick", "--phases", "infer", "--out", str(tmp_path), "--name", "p-avx2"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p-avx2.json", "p-avx2.md"]
    with pytest.raises(SystemExit) as refused:
        script.main(["--quick", "--out", str(tmp_path), "--name", "../elsewhere"])
    assert refused.value.code == 2
    assert "expected a file name stem" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--batch", "0"), ("--batch", "99999"), ("--frames", "-1"), ("--frames", "nan"),
     ("--rounds", "1e9"), ("--threads", "0"), ("--phases", "backward")],
)  # fmt: skip
def test_out_of_range_numbers_are_refused_by_name(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as refused:
        script.main([option, value, "--out", str(tmp_path)])
    assert refused.value.code == 2
    assert option in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing measured, nothing written
