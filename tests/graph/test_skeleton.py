"""SkeletonGraph: hop distances, k-adjacency, stacks, windows, conversions, errors.

Every equation is checked against an independent computation: Floyd-Warshall for hop
distances, the paper's graph-power identity for Ã(k), explicit Kronecker products for
window graphs and explicit matrix powers for powering.
"""

from __future__ import annotations

import pickle
import warnings

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skelgraph import SkeletonGraph, limits, normalize_adjacency
from skelgraph.graph import UNREACHABLE
from tests.conftest import any_graphs, random_graphs, random_trees


def floyd_warshall(adjacency: np.ndarray) -> np.ndarray:
    n = len(adjacency)
    dist = np.where(adjacency > 0, 1.0, np.inf)
    np.fill_diagonal(dist, 0)
    for m in range(n):
        dist = np.minimum(dist, dist[:, m : m + 1] + dist[m : m + 1, :])
    return dist


def k_adjacency_by_powers(adjacency: np.ndarray, k: int) -> np.ndarray:
    """The paper's identity: Ã(k) = I + 1[Ã^k >= 1] - 1[Ã^(k-1) >= 1]."""
    eye = np.eye(len(adjacency))
    if k == 0:
        return eye
    a_tilde = adjacency + eye
    reach = lambda p: (np.linalg.matrix_power(a_tilde, p) >= 1).astype(float)  # noqa: E731
    return eye + reach(k) - reach(k - 1)


# ---------------------------------------------------------------- hop distances
@given(any_graphs)
@settings(max_examples=60, deadline=None)
def test_hop_distances_match_floyd_warshall(graph):
    g = SkeletonGraph.from_networkx(graph)
    fw = floyd_warshall(nx.to_numpy_array(graph))
    expected = np.where(np.isinf(fw), UNREACHABLE, fw).astype(int)
    np.testing.assert_array_equal(g.hop_distances, expected)
    finite = fw[np.isfinite(fw)]
    assert g.diameter == int(finite.max())
    np.testing.assert_array_equal(g.degrees, nx.to_numpy_array(graph).sum(1))
    assert g.num_components == nx.number_connected_components(graph)


# ---------------------------------------------------------------- k-adjacency (Eq. 3)
@given(any_graphs, st.integers(0, 14))
@settings(max_examples=80, deadline=None)
def test_k_adjacency_equals_graph_power_identity(graph, k):
    g = SkeletonGraph.from_networkx(graph)
    np.testing.assert_array_equal(g.k_adjacency(k), k_adjacency_by_powers(g.adjacency, k))


@given(any_graphs)
@settings(max_examples=60, deadline=None)
def test_k_adjacency_properties(graph):
    g = SkeletonGraph.from_networkx(graph)
    v = g.num_nodes
    eye = np.eye(v)
    np.testing.assert_array_equal(g.k_adjacency(0), eye)
    np.testing.assert_array_equal(g.k_adjacency(1), g.adjacency + eye)
    parts = [g.k_adjacency(k) - eye for k in range(1, g.diameter + 1)]
    for part in parts:
        np.testing.assert_array_equal(part, part.T)
    # The off-diagonal parts partition the reachable pairs exactly: no overlap, no gap.
    reachable = (g.hop_distances > 0).astype(float)
    np.testing.assert_array_equal(sum(parts, np.zeros((v, v))), reachable)
    for k in range(g.diameter + 1, g.diameter + 4):
        np.testing.assert_array_equal(g.k_adjacency(k), eye)


def test_k_adjacency_of_a_path_by_hand():
    g = SkeletonGraph.from_edges([(0, 1), (1, 2), (2, 3)])
    expected = np.eye(4)
    expected[0, 2] = expected[2, 0] = expected[1, 3] = expected[3, 1] = 1
    np.testing.assert_array_equal(g.k_adjacency(2), expected)


# ---------------------------------------------------------------- stacks and normalisation
@given(any_graphs, st.integers(1, 8), st.sampled_from(["sym", "rw", "none"]))
@settings(max_examples=60, deadline=None)
def test_disentangled_stack_is_normalised_k_adjacency(graph, num_scales, norm):
    g = SkeletonGraph.from_networkx(graph)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stack = g.multiscale_adjacency(num_scales, "disentangled", norm)
    assert stack.shape == (num_scales, g.num_nodes, g.num_nodes)
    assert np.isfinite(stack).all()
    for k in range(num_scales):
        m = k_adjacency_by_powers(g.adjacency, k)
        d = m.sum(1)
        expected = {
            "sym": m / np.sqrt(np.outer(d, d)),
            "rw": m / d[:, None],
            "none": m,
        }[norm]
        np.testing.assert_allclose(stack[k], expected, atol=1e-12)


@given(any_graphs, st.integers(1, 6), st.sampled_from(["sym", "rw", "none"]))
@settings(max_examples=60, deadline=None)
def test_powering_stack_is_explicit_matrix_powers(graph, num_scales, norm):
    g = SkeletonGraph.from_networkx(graph)
    a_tilde = nx.to_numpy_array(graph) + np.eye(graph.number_of_nodes())
    d = a_tilde.sum(1)
    base = {"sym": a_tilde / np.sqrt(np.outer(d, d)), "rw": a_tilde / d[:, None], "none": a_tilde}[
        norm
    ]
    stack = g.multiscale_adjacency(num_scales, "powering", norm)
    power = np.eye(len(base))
    for k in range(num_scales):
        np.testing.assert_allclose(stack[k], power, atol=1e-10)
        power = power @ base


@given(any_graphs)
@settings(max_examples=40, deadline=None)
def test_normalisations_are_symmetric_or_stochastic(graph):
    g = SkeletonGraph.from_networkx(graph)
    for k in range(3):
        sym = normalize_adjacency(g.k_adjacency(k), "sym")
        np.testing.assert_allclose(sym, sym.T, atol=1e-12)
        rw = normalize_adjacency(g.k_adjacency(k), "rw")
        np.testing.assert_allclose(rw.sum(1), np.ones(g.num_nodes), atol=1e-12)
        # sym = D^-1/2 M D^-1/2 has row sums sum_j M_ij / sqrt(d_i d_j)
        d = g.k_adjacency(k).sum(1)
        np.testing.assert_allclose(sym.sum(1), (g.k_adjacency(k) / np.sqrt(d)).sum(1) / np.sqrt(d))


def test_normalisation_of_zero_rows_gives_zeros_not_nan():
    m = np.array([[0.0, 0.0], [0.0, 1.0]])
    for norm in ("sym", "rw"):
        out = normalize_adjacency(m, norm)
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(out, m)
    t = normalize_adjacency(torch.zeros(3, 2, 2), "sym")
    assert isinstance(t, torch.Tensor) and torch.isfinite(t).all()


def test_an_unknown_normalization_is_refused_by_the_tensor_core_too():
    """It used to act as "rw" silently."""
    from skelgraph.graph.adjacency import normalize_adjacency_tensor

    with pytest.raises(ValueError, match="normalization must be one of 'sym', 'rw', 'none'"):
        normalize_adjacency_tensor(torch.eye(3), "symmetric")


@pytest.mark.parametrize("name", SkeletonGraph.layouts())
@pytest.mark.parametrize("mode", ["disentangled", "powering"])
@pytest.mark.parametrize("norm", ["sym", "rw", "none"])
def test_no_nan_or_inf_in_any_builtin_stack(name, mode, norm):
    # The authors' code gives NaN for some settings; ours never does, up to K = 25.
    g = SkeletonGraph.from_layout(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for graph in (g, g.window(3)):
            assert np.isfinite(graph.multiscale_adjacency(25, mode, norm)).all()


def test_scales_beyond_the_diameter_warn_and_are_identity():
    g = SkeletonGraph.from_edges([(0, 1), (1, 2)])  # diameter 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g.multiscale_adjacency(3)  # k = 0, 1, 2: no warning
    with pytest.warns(UserWarning, match="diameter 2"):
        stack = g.multiscale_adjacency(5)
    np.testing.assert_array_equal(stack[3], np.eye(3))
    np.testing.assert_array_equal(stack[4], np.eye(3))
    with warnings.catch_warnings():  # cached: it warns once
        warnings.simplefilter("error")
        g.multiscale_adjacency(5)


def test_derived_arrays_are_cached_and_read_only():
    g = SkeletonGraph.from_layout("ntu-rgbd")
    assert g.multiscale_adjacency(13) is g.multiscale_adjacency(13)
    assert g.window(3) is g.window(3)
    for array in (g.adjacency, g.hop_distances, g.k_adjacency(2), g.multiscale_adjacency(3)):
        with pytest.raises(ValueError, match="read-only"):
            array[0, 0] = 5
    with pytest.raises(AttributeError, match="immutable"):
        g.center = 3


# ---------------------------------------------------------------- windows (Eq. 5, 7)
@given(random_trees(max_nodes=7), st.integers(1, 4))
@settings(max_examples=40, deadline=None)
def test_window_graph_is_kronecker_of_a_tilde(tree, tau):
    g = SkeletonGraph.from_networkx(tree)
    v = g.num_nodes
    a_tilde = g.adjacency + np.eye(v)
    w = g.window(tau)
    assert w.num_nodes == tau * v
    np.testing.assert_array_equal(w.k_adjacency(1), np.kron(np.ones((tau, tau)), a_tilde))


@given(random_graphs(max_nodes=7), st.integers(2, 4), st.integers(1, 8))
@settings(max_examples=60, deadline=None)
def test_window_k_adjacency_blocks(graph, tau, k):
    """Derivation: a hop may change frame freely, so for frames i != j the distance
    between (i, v) and (j, w) is max(1, d(v, w)), and within a frame it is d(v, w).
    Hence diagonal blocks are Ã(k), off-diagonal blocks are A + I for k = 1 and the
    indicator [d = k] for k >= 2."""
    g = SkeletonGraph.from_networkx(graph)
    v = g.num_nodes
    big = g.window(tau).k_adjacency(k)
    off = g.adjacency + np.eye(v) if k == 1 else (g.hop_distances == k).astype(float)
    for i in range(tau):
        for j in range(tau):
            block = big[i * v : (i + 1) * v, j * v : (j + 1) * v]
            np.testing.assert_array_equal(block, g.k_adjacency(k) if i == j else off)


def test_window_variants_of_table_3():
    g = SkeletonGraph.from_layout("kinect-v1-20")
    v, tau = g.num_nodes, 4
    a_tilde, eye = g.adjacency + np.eye(v), np.eye(v)
    grid = np.kron(np.eye(tau), a_tilde) + np.kron(np.eye(tau, k=1) + np.eye(tau, k=-1), eye)
    dense = np.kron(np.eye(tau), a_tilde) + np.kron(np.ones((tau, tau)) - np.eye(tau), eye)
    np.testing.assert_array_equal(g.window(tau, "grid").k_adjacency(1), grid)
    np.testing.assert_array_equal(g.window(tau, "grid-dense-self").k_adjacency(1), dense)
    w = g.window(3)
    assert w.joint_names[v + 2] == "shoulder_center@1"
    assert w.center == v + g.center


def test_window_of_one_frame_is_the_graph():
    g = SkeletonGraph.from_layout("openpose-18")
    np.testing.assert_array_equal(g.window(1).adjacency, g.adjacency)


# ---------------------------------------------------------------- hop weight mass
def test_hop_weight_mass_shows_the_powering_bias():
    g = SkeletonGraph.from_layout("ntu-rgbd")
    dis = g.hop_weight_mass(g.multiscale_adjacency(6, "disentangled"))
    pw = g.hop_weight_mass(g.multiscale_adjacency(6, "powering"))
    assert dis.shape == pw.shape == (6, g.diameter + 1)
    np.testing.assert_allclose(dis.sum(1), 1)
    np.testing.assert_allclose(pw.sum(1), 1)
    for k in range(1, 6):
        # disentangled: all mass on the node itself and hop k
        assert dis[k, 0] + dis[k, k] == pytest.approx(1)
        assert dis[k, 1:k].sum() == 0
    for k in range(2, 6):  # powering: most of scale k's mass stays on hops < k
        assert pw[k, :k].sum() > 0.5


def test_hop_weight_mass_by_brute_force():
    g = SkeletonGraph.from_edges([(0, 1), (1, 2), (2, 3), (1, 4)])
    rng = np.random.default_rng(0)
    w = rng.random((2, 5, 5))
    per_node = SkeletonGraph.hop_weight_mass(g, w)
    expected = np.zeros((2, g.diameter + 1))
    for k in range(2):
        for i in range(5):
            for j in range(5):
                expected[k, g.hop_distances[i, j]] += w[k, i, j] / w[k, i].sum() / 5
    np.testing.assert_allclose(per_node, expected)


# ---------------------------------------------------------------- conversions
@given(any_graphs)
@settings(max_examples=30, deadline=None)
def test_round_trips_through_networkx_and_edge_index(graph):
    g = SkeletonGraph.from_networkx(graph)
    assert nx.utils.graphs_equal(nx.Graph(g.to_networkx().edges), nx.Graph(graph.edges))
    back = SkeletonGraph.from_edge_index(g.edge_index, g.num_nodes, joint_names=g.joint_names)
    assert back == g
    data = g.to_pyg_data()
    assert data.num_nodes == g.num_nodes
    assert data.edge_index.shape == (2, 2 * g.num_edges)
    assert SkeletonGraph.from_adjacency(g.adjacency, name="x").edges == g.edges


def test_pyg_utilities_agree():
    from torch_geometric.utils import is_undirected, to_dense_adj

    g = SkeletonGraph.from_layout("ntu-rgbd")
    assert is_undirected(g.edge_index)
    np.testing.assert_array_equal(to_dense_adj(g.edge_index)[0].numpy(), g.adjacency)


def test_pickle_equality_and_repr():
    g = SkeletonGraph.from_layout("ntu-rgbd")
    assert pickle.loads(pickle.dumps(g)) == g
    assert hash(SkeletonGraph.from_layout("ntu-rgbd")) == hash(g)
    assert g != SkeletonGraph.from_layout("ntu-rgbd-pyskl")
    text = repr(g)
    for part in ("ntu-rgbd", "num_nodes=25", "num_edges=24", "spine_shoulder", "diameter=12"):
        assert part in text


def test_coerce_accepts_every_graph_like():
    g = SkeletonGraph.from_layout("coco-17")
    assert SkeletonGraph.coerce(g) is g
    assert SkeletonGraph.coerce("coco-17") == g
    assert SkeletonGraph.coerce(g.to_networkx()).edges == g.edges
    assert SkeletonGraph.coerce(torch.tensor(g.adjacency)).edges == g.edges
    with pytest.raises(TypeError, match="layout name"):
        SkeletonGraph.coerce(3)


def test_disconnected_two_person_graph_is_handled():
    one = SkeletonGraph.from_layout("openpose-18")
    v = one.num_nodes
    two = SkeletonGraph.from_edges(
        list(one.edges) + [(a + v, b + v) for a, b in one.edges], 2 * v, center=one.center
    )
    assert two.num_components == 2 and not two.is_connected
    assert two.diameter == one.diameter
    assert (two.hop_distances[:v, v:] == UNREACHABLE).all()
    stack = two.multiscale_adjacency(9)
    assert np.isfinite(stack).all()
    np.testing.assert_allclose(stack[:, :v, :v], one.multiscale_adjacency(9))
    assert (stack[:, :v, v:] == 0).all()
    pairs = two.bone_pairs
    assert pairs[v] == (v, v)  # second person rooted at its lowest joint
    assert "2 components" in repr(two)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: SkeletonGraph.from_layout("ntu"), ValueError, "unknown layout 'ntu'.*ntu-rgbd"),
        (
            lambda: SkeletonGraph.from_edges([(0, 5)], 3),
            ValueError,
            r"out of range: joints are 0..2",
        ),
        (lambda: SkeletonGraph.from_edges([(1, 1)], 3), ValueError, "self edge"),
        (lambda: SkeletonGraph.from_edges([(0, 1), (1, 0)]), ValueError, "duplicates"),
        (lambda: SkeletonGraph.from_edges([], 0), ValueError, "at least one joint"),
        (lambda: SkeletonGraph.from_edges([]), ValueError, "cannot infer num_nodes"),
        (lambda: SkeletonGraph.from_edges([(0, 1)], joint_names=["a"]), ValueError, "out of range"),
        (
            lambda: SkeletonGraph.from_edges([(0, 1)], 2, joint_names=["a"]),
            ValueError,
            "2 joint names",
        ),
        (lambda: SkeletonGraph.from_edges([(0, 1)], 2, center=4), ValueError, "center 4"),
        (lambda: SkeletonGraph.from_edges([(0, "x")], 2), ValueError, "pair of ints"),
        (
            lambda: SkeletonGraph.from_edge_index(torch.tensor([[0], [1]])),
            ValueError,
            "not symmetric",
        ),
        (lambda: SkeletonGraph.from_edge_index(torch.zeros(3, 2)), ValueError, r"\(2, E\)"),
        (lambda: SkeletonGraph.from_adjacency(np.eye(3)), ValueError, "diagonal"),
        (
            lambda: SkeletonGraph.from_adjacency(np.triu(np.ones((3, 3)), 1)),
            ValueError,
            "symmetric",
        ),
        (lambda: SkeletonGraph.from_networkx(nx.DiGraph([(0, 1)])), ValueError, "undirected"),
        (lambda: SkeletonGraph.from_networkx(nx.Graph([(0, 0)])), ValueError, "self edges"),
    ],
)
def test_bad_graphs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda g: g.k_adjacency(-1), ValueError, "k must be >= 0, got -1"),
        (lambda g: g.k_adjacency(1.5), TypeError, "k must be an integer"),
        (lambda g: g.k_adjacency(True), TypeError, "k must be an integer"),
        (lambda g: g.multiscale_adjacency(0), ValueError, "num_scales must be >= 1"),
        (lambda g: g.multiscale_adjacency(2.0), TypeError, "num_scales must be an integer"),
        (lambda g: g.multiscale_adjacency(2, "power"), ValueError, "aggregation must be one of"),
        (lambda g: g.multiscale_adjacency(2, normalization="l2"), ValueError, "normalization"),
        (lambda g: g.window(0), ValueError, "tau must be >= 1"),
        (lambda g: g.window(-2), ValueError, "tau must be >= 1"),
        (lambda g: g.window(3, "full"), ValueError, "variant must be one of"),
        (lambda g: g.hop_weight_mass(np.ones((2, 3, 3))), ValueError, "expected a \\(K, V, V\\)"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(SkeletonGraph.from_layout("ntu-rgbd"))


# ---------------------------------------------------------------- hostile and careless input
@settings(max_examples=40, deadline=None)
@given(
    any_graphs, st.integers(1, 4), st.sampled_from(["cross-spacetime", "grid", "grid-dense-self"])
)
def test_window_hop_distances_in_closed_form_equal_a_search(graph, tau, variant):
    window = SkeletonGraph.from_networkx(graph).window(tau, variant)
    searched = np.full((window.num_nodes,) * 2, UNREACHABLE)
    for source, lengths in nx.all_pairs_shortest_path_length(window.to_networkx()):
        for target, length in lengths.items():
            searched[source, target] = length
    np.testing.assert_array_equal(window.hop_distances, searched)


def test_window_graphs_need_no_search_per_node(monkeypatch):
    """A 100-frame window (2500 nodes) took minutes when every node ran a search."""
    graph = SkeletonGraph.from_layout("ntu-rgbd")
    assert graph.hop_distances.shape == (25, 25)  # the skeleton's own, searched once

    def refuse(*args, **kwargs):
        raise AssertionError("window hop distances must not be searched")

    monkeypatch.setattr(nx, "all_pairs_shortest_path_length", refuse)
    monkeypatch.setattr(limits, "MAX_GRAPH_NODES", 2500)  # above the default budget
    window = graph.window(100)
    assert window.hop_distances.shape == (2500, 2500)
    assert window.diameter == graph.diameter


@pytest.mark.parametrize(
    ("edges", "match"),
    [
        ([(0, 1.9)], r"edge #0 must be a pair of ints, got \(0, 1.9\)"),  # not truncated to 1
        ([(0, True)], "pair of ints"),
        ([(0, 1, 2)], "pair of ints"),
        ([(0,)], "pair of ints"),
    ],
)
def test_joint_ids_that_are_not_ints_are_refused(edges, match):
    with pytest.raises(ValueError, match=match):
        SkeletonGraph.from_edges(edges)
    SkeletonGraph.from_edges([(np.int64(0), np.int32(1))])  # numpy integers are ints


def test_a_multigraph_is_refused_with_the_way_out():
    with pytest.raises(ValueError, match=r"multigraph.*nx\.Graph\(graph\)"):
        SkeletonGraph.from_networkx(nx.MultiGraph([(0, 1), (0, 1), (1, 2)]))
