"""skelgraph.limits: each budget refuses, before allocating, what exceeds it, and raising
it lets the same input through."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from skelgraph import G3DConv, SkeletonGraph, limits
from skelgraph.nn import MultiWindowG3D


def _peak_bytes(call) -> int:
    """Peak bytes Python allocated while ``call()`` ran (it must raise ``ValueError``)."""
    tracemalloc.start()
    try:
        with pytest.raises(ValueError):
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_tiny_layout_file_asking_for_1e8_joints_is_refused_unallocated(tmp_path):
    path = tmp_path / "huge.json"
    path.write_text(json.dumps({"edges": [], "num_nodes": 10**8}))
    assert path.stat().st_size < 50
    match = r"huge\.json: a graph has 100000000 nodes, above the budget of 1024"
    with pytest.raises(ValueError, match=match):
        SkeletonGraph.from_json(path)
    assert _peak_bytes(lambda: SkeletonGraph.from_json(path)) < 2**20


def test_a_long_chain_is_refused_and_the_budget_raised_builds_it(monkeypatch):
    chain = [(i, i + 1) for i in range(1100)]
    with pytest.raises(ValueError, match=r"1101 nodes, above the budget of 1024 .*MAX_GRAPH_NODES"):
        SkeletonGraph.from_edges(chain)
    monkeypatch.setattr(limits, "MAX_GRAPH_NODES", 1101)
    assert SkeletonGraph.from_edges(chain).num_nodes == 1101


def test_window_graphs_count_against_the_budget(monkeypatch):
    def call():
        return G3DConv(3, 4, "ntu-rgbd", window_size=10**4)

    with pytest.raises(ValueError, match=r"window of 10000 frames of 25 joints has 250000 nodes"):
        call()
    assert _peak_bytes(call) < 2**24  # it asked for 466 GiB
    with pytest.raises(ValueError, match="window of 41 frames of 25 joints has 1025 nodes"):
        MultiWindowG3D(3, 4, "ntu-rgbd", windows=[(3, 1), (41, 1)])
    assert SkeletonGraph.from_layout("ntu-rgbd").window(40).num_nodes == 1000
    monkeypatch.setattr(limits, "MAX_GRAPH_NODES", 1025)
    assert SkeletonGraph.from_layout("ntu-rgbd").window(41).num_nodes == 1025


@pytest.mark.parametrize("text", ["[" * 100_000, "{" * 100_000, '{"edges": ' + "[" * 100_000])
def test_deeply_nested_layout_json_is_a_value_error(tmp_path, text):
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"deep\.json: cannot read a graph"):
        SkeletonGraph.from_json(path)
