"""benchmarks/speed.py runs end to end in its quick mode and writes its table."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import speed as script
from tests.benchmarks.usage import assert_refused_integer


def test_speed_quick_writes_ratios(tmp_path):
    # one case (each cell is a fresh process); the other cases run in the tests below
    args = ["--quick", "--cases", "ms-gcn", "--threads", "1"]
    script.main([*args, "--out", str(tmp_path)])
    results = json.loads((tmp_path / "speed-quick.json").read_text())
    # 2 phases x 2 implementations x 2 aggregations
    assert len(results) == 8
    assert {r["impl"] for r in results} == {"skelgraph", "skelgraph-reference"}
    assert all(r["median_s"] > 0 and len(r["times_s"]) == 1 for r in results)
    table = (tmp_path / "speed-quick.md").read_text()
    assert "torch " in table and "threads" in table
    rows = [line.strip("|").split(" | ") for line in table.splitlines() if "| 1 |" in line]
    assert len(rows) == len(results)
    # Each group's baseline (the reference path) is 1.00×.
    for case, _, phase, _, impl, aggregation, _, speed, _, memory, _, tensors in rows:
        baseline = impl == "skelgraph-reference"
        if baseline and aggregation == "disentangled":
            assert speed == "1.00×", (case, phase)
            # nan when the tiny case did not grow the process's peak RSS at all
            assert memory.strip() in ("1.00×", "nan×"), (case, phase)
            assert tensors.strip() == "1.00×", (case, phase)
    # Every step allocates tensors: training more than inference of the same cell.
    for r in results:
        assert r["tensor_peak_mib"] > 0
    peaks = {
        (r["case"], r["impl"], r["aggregation"], r["phase"]): r["tensor_peak_mib"] for r in results
    }
    for (case, impl, aggregation, phase), peak in peaks.items():
        if phase == "train":
            assert peak > peaks[(case, impl, aggregation, "infer")]


def test_speed_quick_under_autocast_keeps_the_float32_baseline(tmp_path):
    args = ["--quick", "--cases", "g3d-3", "--threads", "1", "--aggregations", "disentangled"]
    script.main([*args, "--amp", "off", "bf16", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "speed-quick.json").read_text())
    # 2 phases x 2 implementations x 2 autocast settings
    assert sorted((r["impl"], r["amp"]) for r in results if r["phase"] == "train") == [
        ("skelgraph", "bf16"), ("skelgraph", "off"),
        ("skelgraph-reference", "bf16"), ("skelgraph-reference", "off"),
    ]  # fmt: skip
    rows = [line.strip("|").split(" | ") for line in (tmp_path / "speed-quick.md").read_text()
            .splitlines() if "| 1 |" in line]  # fmt: skip
    baselines = [r for r in rows if r[4] == "skelgraph-reference" and r[6] == "off"]
    assert len(baselines) == 2 and all(r[8] == "1.00×" for r in baselines)


def test_speed_quick_adds_the_checkpointed_model_in_training(tmp_path):
    args = ["--quick", "--cases", "msg3d", "--threads", "1", "--aggregations", "disentangled"]
    script.main([*args, "--implementations", "skelgraph", "--checkpoint", "--out", str(tmp_path)])
    results = json.loads((tmp_path / "speed-quick.json").read_text())
    assert sorted((r["impl"], r["phase"]) for r in results) == [
        ("skelgraph", "infer"), ("skelgraph", "train"), ("skelgraph-checkpointed", "train"),
    ]  # fmt: skip


def test_multiply_adds_count_the_backward_and_in_place_products():
    layer, x = torch.nn.Linear(4, 3, bias=False), torch.randn(5, 4, requires_grad=True)
    assert script.multiply_adds(lambda: layer(x)) == 5 * 4 * 3
    # training: the forward, then the gradients of the input and of the weight
    assert script.multiply_adds(lambda: layer(x).sum().backward(), grad=True) == 3 * 60
    a, b = torch.randn(5, 4), torch.randn(4, 3)
    assert script.multiply_adds(lambda: torch.zeros(5, 3).addmm_(a, b)) == 60


def test_interleaved_quick_reports_gflops_and_the_fraction_of_the_peak(tmp_path):
    args = ["--interleave", "--quick", "--threads", "1", "--amp", "off", "bf16"]
    script.main([*args, "--out", str(tmp_path), "--name", "limit-here"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["limit-here.json", "limit-here.md"]
    data = json.loads((tmp_path / "limit-here.json").read_text())
    assert data["baseline"] == "skelgraph-reference" and data["threads"] == 1
    assert data["command"].startswith("python -m benchmarks.speed --interleave")
    cells = data["cells"]
    # 1 batch x 2 phases x 2 implementations x 2 precisions, each timed every round
    assert len(cells) == 8 and all(len(c["times_s"]) == data["rounds"] == 2 for c in cells)
    kernels = {(g["dtype"], g["kernel"]): g["gflops"] for g in data["gemm"]}
    assert set(kernels) == {
        (dtype, kernel)
        for dtype in ("float32", "bfloat16")
        for kernel in ("matmul", "1x1 convolution")
    }
    peak = {d: max(v for (dt, _), v in kernels.items() if dt == d) for d in ("float32", "bfloat16")}
    for c in cells:
        assert c["min_s"] == min(c["times_s"]) > 0
        assert c["gflops"] == pytest.approx(2 * c["macs"] / c["min_s"] / 1e9)
        assert c["of_peak"] == pytest.approx(c["gflops"] / peak[script.PRECISIONS[c["amp"]]])
    macs = {(c["impl"], c["phase"], c["amp"]): c["macs"] for c in cells}
    for impl in ("skelgraph", "skelgraph-reference"):
        # the same products at every precision; a training step adds about 2x in backward
        assert macs[impl, "train", "off"] == macs[impl, "train", "bf16"]
        assert 2.5 < macs[impl, "train", "off"] / macs[impl, "infer", "off"] < 3.5
    text = (tmp_path / "limit-here.md").read_text()
    assert text == script.limit_markdown(data)  # the table is the json's
    assert "machine: " in text and "date: " in text and "1 threads" in text
    rows = {
        (r[1], r[2], r[3]): r
        for r in (
            [cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()
        )
        if r[0] == "1"
    }
    base = {(c["phase"], c["amp"]): c for c in cells if c["impl"] == "skelgraph-reference"}
    for c in cells:
        row = rows[c["phase"], c["impl"], script.PRECISIONS[c["amp"]]]
        same, fp32 = base[c["phase"], c["amp"]], base[c["phase"], "off"]
        assert row[-2] == f"{same['min_s'] / c['min_s']:.2f}× / " + (
            f"{same['median_s'] / c['median_s']:.2f}×"
        )
        assert row[-1].startswith(f"{fp32['min_s'] / c['min_s']:.2f}×")


@pytest.mark.parametrize(
    "option, value",
    [("--batch", "0"), ("--frames", "2"), ("--repeats", "0"), ("--threads", "-2"),
     ("--rounds", "100000"), ("--gemm-size", "1"), ("--batch", "x")],
)  # fmt: skip
def test_out_of_range_numbers_are_refused_by_name(option, value, capsys):
    assert_refused_integer(script.main, option, value, capsys)


def test_a_name_that_is_a_path_is_refused(capsys):
    with pytest.raises(SystemExit) as refused:
        script.main(["--interleave", "--quick", "--name", "../speed-limit"])
    assert refused.value.code == 2
    assert "--name: expected a file name stem" in capsys.readouterr().err


def test_threads_take_train_pys_range(capsys):
    assert_refused_integer(
        script.main, "--threads", "5000", capsys, "expected an integer in 1..4096"
    )


@pytest.mark.parametrize("malloc", ["default", "lean"])
def test_each_worker_runs_under_its_allocator_settings(tmp_path, malloc):
    """--malloc reaches the worker processes (which record the settings they saw), and
    ``lean`` is what the module docstring says: a fixed mmap threshold of 128 KiB."""
    args = ["--quick", "--cases", "ms-tcn", "--threads", "1", "--implementations", "skelgraph"]
    script.main([*args, "--malloc", malloc, "--out", str(tmp_path)])
    results = json.loads((tmp_path / "speed-quick.json").read_text())
    assert {r["malloc"] for r in results} == {malloc}
    for r in results:
        seen = {name: value for name, value in r["malloc_env"].items() if value is not None}
        assert seen == {**script.MALLOC[malloc]}
    assert script.MALLOC["lean"]["MALLOC_MMAP_THRESHOLD_"] == str(128 * 1024)


def test_the_fast_path_runs_under_the_fast_setting(tmp_path):
    args = ["--quick", "--cases", "g3d-3", "--threads", "1", "--aggregations", "disentangled"]
    args += ["--implementations", "skelgraph", "skelgraph-fast", "--amp", "bf16"]
    script.main([*args, "--out", str(tmp_path)])
    results = json.loads((tmp_path / "speed-quick.json").read_text())
    assert sorted((r["impl"], r["phase"], r["kernel_setting"]) for r in results) == [
        ("skelgraph", "infer", "auto"), ("skelgraph", "train", "auto"),
        ("skelgraph-fast", "infer", "fast"), ("skelgraph-fast", "train", "fast"),
    ]  # fmt: skip
