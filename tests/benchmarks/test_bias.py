"""benchmarks/bias.py --quick runs, writes its outputs, and its table shows the paper's claim.

The expected far-joint mass is recomputed here from the layout's bone list with plain numpy
(hop distances from boolean reachability, powering from matrix powers), independently of
skelgraph's stacks and of the script's own numbers.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from benchmarks import bias
from skelgraph.graph.layouts import LAYOUTS

pytest.importorskip("matplotlib", reason="the plot extra is not installed")

FAR = 4


def _sym(m: np.ndarray) -> np.ndarray:
    d = m.sum(1) ** -0.5
    return d[:, None] * m * d[None, :]


def _expected_far_mass(layout: str) -> dict[str, float]:
    """Far-joint (hops >= 4) mass of the sum of all D + 1 scales, by mode, from scratch."""
    edges = np.array(LAYOUTS[layout].edges)
    v = len(LAYOUTS[layout].joint_names)
    a = np.zeros((v, v))
    a[edges[:, 0], edges[:, 1]] = a[edges[:, 1], edges[:, 0]] = 1.0
    a_tilde = a + np.eye(v)
    hops = np.full((v, v), -1)
    reach = np.eye(v, dtype=bool)
    k = 0
    while (hops < 0).any():
        hops[(hops < 0) & reach] = k
        reach = (reach.astype(float) @ a_tilde) > 0
        k += 1
    num_scales = hops.max() + 1
    base = _sym(a_tilde)
    self_loops = np.eye(v, dtype=bool)
    stacks = {
        "powering": [np.linalg.matrix_power(base, k) for k in range(num_scales)],
        "disentangled": [_sym(((hops == k) | self_loops).astype(float)) for k in range(num_scales)],
    }
    far = {}
    for mode, stack in stacks.items():
        w = np.abs(np.sum(stack, axis=0))
        far[mode] = float(np.mean((w * (hops >= FAR)).sum(1) / w.sum(1)))
    return far


def test_quick_run_writes_outputs_and_shows_powering_bias(tmp_path, capsys, monkeypatch):
    assert bias.main(["--quick", "--out", str(tmp_path)]) == 0
    assert "ntu-rgbd" in capsys.readouterr().out
    names = ["bias.md", "bias.csv", "bias_heatmaps_ntu-rgbd.png"]
    names += ["bias_far_mass_spatial.png", "bias_far_mass_windows.png"]
    for name in names:
        assert (tmp_path / name).stat().st_size > 0, name
    for name in names[2:]:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    table = (tmp_path / "bias.md").read_text(encoding="utf-8")
    assert "python -m benchmarks.bias --quick" in table
    header = next(line for line in table.splitlines() if line.startswith("| layout | graph | K |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    far_column = columns.index("hops ≥ 4")
    shown = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == len(columns) and cells[:3] == ["ntu-rgbd", "spatial", "13"]:
            shown[cells[3]] = float(cells[far_column])
    assert set(shown) == {"powering", "disentangled"}

    expected = _expected_far_mass("ntu-rgbd")
    assert expected["powering"] < expected["disentangled"]
    for mode, value in expected.items():
        assert shown[mode] == pytest.approx(value, abs=6e-4), mode
    assert shown["powering"] < shown["disentangled"]

    with (tmp_path / "bias.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    layouts = {row["layout"] for row in rows}
    assert layouts == {"ntu-rgbd"}
    # K = 1 .. 13 for the spatial graph and two windows, two modes, sum + single scale.
    assert len(rows) == 3 * 13 * 2 * 2
