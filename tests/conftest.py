"""Shared test helpers: fixture paths and hypothesis strategies for graphs."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]  # the repository (or unpacked sdist)
FIXTURES = ROOT.parent / "shared" / "fixtures"


def fixture_path(*parts: str) -> Path:
    """Path of a shared fixture; skips the test when the shared folder is absent."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared fixture {path} not found (only present beside the dev checkout)")
    return path


@st.composite
def random_trees(draw, max_nodes: int = 14) -> nx.Graph:
    """A random tree: node i > 0 hangs from a node with a smaller index."""
    n = draw(st.integers(1, max_nodes))
    graph = nx.empty_graph(n)
    for i in range(1, n):
        graph.add_edge(draw(st.integers(0, i - 1)), i)
    return graph


@st.composite
def random_graphs(draw, max_nodes: int = 12) -> nx.Graph:
    """A random simple undirected graph, possibly disconnected, with isolated nodes."""
    n = draw(st.integers(1, max_nodes))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    graph = nx.empty_graph(n)
    graph.add_edges_from(chosen)
    return graph


any_graphs = st.one_of(random_trees(), random_graphs())


@pytest.fixture(params=["reference", "fast"])
def implementation(request):
    """Run the test under each global setting of skelgraph.nn.backend: both kernels of
    every graph convolution meet the same tests."""
    from skelgraph.nn import backend

    with backend.implementation(request.param):
        yield request.param
