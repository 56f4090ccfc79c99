"""benchmarks/speed.py runs end to end in its quick mode and writes its table."""

from __future__ import annotations

import json

from benchmarks import speed as script


def test_speed_quick_writes_ratios(tmp_path):
    args = ["--quick", "--cases", "ms-gcn", "ms-tcn", "--threads", "1"]
    script.main([*args, "--out", str(tmp_path)])
    results = json.loads((tmp_path / "speed-quick.json").read_text())
    # ms-gcn: 2 phases x 2 implementations x 2 aggregations; ms-tcn: 2 phases (one path)
    assert len(results) == 10
    assert {r["impl"] for r in results} == {"skelgraph", "skelgraph-reference"}
    assert all(r["median_s"] > 0 and len(r["times_s"]) == 1 for r in results)
    table = (tmp_path / "speed-quick.md").read_text()
    assert "torch " in table and "threads" in table
    rows = [line.strip("|").split(" | ") for line in table.splitlines() if "| 1 |" in line]
    assert len(rows) == len(results)
    # Each group's baseline (ms-gcn: the reference path; ms-tcn: its only path) is 1.00×.
    for case, _, phase, _, impl, aggregation, _, speed, _, memory in rows:
        baseline = impl == "skelgraph-reference" if "MS-GCN" in case else impl == "skelgraph"
        if baseline and aggregation == "disentangled":
            assert speed == "1.00×", (case, phase)
            # nan when the tiny case did not grow the process's peak RSS at all
            assert memory.strip() in ("1.00×", "nan×"), (case, phase)


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
