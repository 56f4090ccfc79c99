"""Two rules a mutation run once found untested: non-positive degrees in the
normalisation, and which parent a joint gets when several are one hop closer (cycles)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skelgraph import SkeletonGraph, normalize_adjacency
from tests.conftest import random_graphs


def test_negative_degree_keeps_a_zero_row_and_column():
    # degrees 3, -1, 2: row 1 gets no inverse square root (NaN) nor a sign flip, but
    # zeros, as for degree 0
    m = np.array([[2.0, 1.0, 0.0], [1.0, -3.0, 1.0], [0.0, 1.0, 1.0]])
    sym = normalize_adjacency(m, "sym")
    rw = normalize_adjacency(m, "rw")
    scale = np.array([1 / np.sqrt(3.0), 0.0, 1 / np.sqrt(2.0)])
    np.testing.assert_allclose(sym, scale[:, None] * m * scale[None, :])
    np.testing.assert_allclose(rw, np.array([1 / 3, 0.0, 1 / 2])[:, None] * m)
    t = normalize_adjacency(torch.tensor(m), "sym")
    assert torch.isfinite(t).all() and (t[1] == 0).all() and (t[:, 1] == 0).all()


@given(
    st.integers(1, 6).flatmap(
        lambda v: arrays(np.float64, (v, v), elements=st.sampled_from([0.0, 0.5, 1.0, 2.5, 4.0]))
    )
)
@settings(max_examples=60, deadline=None)
def test_degrees_are_row_sums_of_a_non_symmetric_matrix(m):
    # rows index the receiving node: D = diag(sum_j M_ij), as a learned mask makes M
    # non-symmetric; numpy reference, zero rows left at zero
    d = m.sum(1)
    inv = np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)
    np.testing.assert_allclose(normalize_adjacency(m, "rw"), inv[:, None] * m, atol=1e-12)
    root = np.sqrt(inv)
    expected = root[:, None] * m * root[None, :]
    np.testing.assert_allclose(normalize_adjacency(m, "sym"), expected, atol=1e-12)


@given(random_graphs())
@settings(max_examples=60, deadline=None)
def test_bone_parent_is_the_lowest_indexed_neighbour_one_hop_closer(graph):
    g = SkeletonGraph.from_networkx(graph)
    hops = nx.single_source_shortest_path_length(graph, g.center)
    for child, parent in g.bone_pairs:
        if child not in hops or child == g.center:
            continue  # other components: roots of their own (tested in test_skeleton.py)
        closer = [j for j in graph.neighbors(child) if hops[j] == hops[child] - 1]
        assert parent == min(closer), f"joint {child}: parent {parent}, candidates {closer}"


def test_bone_parent_on_a_cycle_by_hand():
    # a 4-cycle 0-1-2-3-0 centred at 0: joint 2 is two hops from 0 through 1 or 3
    g = SkeletonGraph([(0, 1), (1, 2), (2, 3), (3, 0)], 4, center=0)
    assert g.bone_pairs == ((0, 0), (1, 0), (2, 1), (3, 0))


@pytest.mark.parametrize("center", [3, 4, -1])
def test_a_centre_outside_the_joints_is_refused(center):
    # 3 joints: 0..2; the first index past the end is the off-by-one to catch
    with pytest.raises(ValueError, match="center"):
        SkeletonGraph([(0, 1), (1, 2)], 3, center=center)


def test_hop_weight_mass_of_signed_weights_and_empty_rows_by_brute_force():
    # a learned mask makes weights negative; a node may receive nothing at some scale
    g = SkeletonGraph([(0, 1), (1, 2), (2, 3)], 4)
    w = np.random.default_rng(1).normal(size=(2, 4, 4))
    w[0, 2] = 0.0  # node 2 receives nothing at scale 0: left out of that scale's mean
    expected = np.zeros((2, g.diameter + 1))
    for k in range(2):
        rows = [i for i in range(4) if np.abs(w[k, i]).sum() > 0]
        for i in rows:
            for j in range(4):
                share = abs(w[k, i, j]) / np.abs(w[k, i]).sum()
                expected[k, g.hop_distances[i, j]] += share / len(rows)
    np.testing.assert_allclose(g.hop_weight_mass(w), expected)
    np.testing.assert_allclose(g.hop_weight_mass(w).sum(1), 1)
