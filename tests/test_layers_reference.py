"""Layers against independent computations: the authors' outputs (fixture), explicit
loops over nodes, scales and window positions, relabelling, and matrix powers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skelgraph import (
    DisentangledGraphConv,
    G3DConv,
    MSTemporalConv,
    MultiWindowG3D,
    SkeletonGraph,
)
from skelgraph.nn import authors
from tests.conftest import fixture_path
from tests.layer_helpers import TINY, randomize


# ---------------------------------------------------------------- the authors' outputs
@pytest.fixture(scope="module")
def reference():
    path = fixture_path("msg3d-reference", "msg3d-ntu60-joint.pt")
    return torch.load(path, weights_only=True)


PARITY = {
    "sgcn1.0": (lambda i: DisentangledGraphConv(3, 96, "ntu-rgbd", 13, implementation=i),
                authors.MSGCN_KEYS),
    "gcn3d1.gcn3d.0": (
        lambda i: G3DConv(3, 96, "ntu-rgbd", window_size=3, embed_channels=96, implementation=i),
        authors.G3D_KEYS,
    ),
    "tcn1": (lambda i: MSTemporalConv(96, 96), authors.MSTCN_KEYS),
    "gcn3d2.gcn3d.1": (
        lambda i: G3DConv(96, 192, "ntu-rgbd", window_size=5, stride=2, implementation=i),
        authors.G3D_KEYS,
    ),
}  # fmt: skip
# Every implementation of a layer meets the same parity tests.
IMPLEMENTATIONS = ["reference", "fast"]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("name", sorted(PARITY))
def test_layers_reproduce_the_authors_modules(reference, name, implementation):
    build, rules = PARITY[name]
    prefix = name + "."
    theirs = {
        k[len(prefix) :]: v for k, v in reference["state_dict"].items() if k.startswith(prefix)
    }
    layer = build(implementation)
    layer.load_state_dict(authors.from_authors(theirs, rules, layer))
    layer.eval()
    io = reference["modules"][name]
    with torch.no_grad():
        out = layer(io["input"])
    assert out.shape == io["output"].shape
    assert (out - io["output"]).abs().max().item() <= 1e-4
    # ... and back to the authors' names and shapes without loss.
    back = authors.to_authors(layer.state_dict(), rules)
    assert back.keys() == theirs.keys()
    for key, value in theirs.items():
        torch.testing.assert_close(back[key], value, rtol=0, atol=0)


def test_mapping_errors_list_the_problem(reference):
    prefix = "sgcn1.0."
    theirs = {
        k[len(prefix) :]: v for k, v in reference["state_dict"].items() if k.startswith(prefix)
    }
    with pytest.warns(UserWarning, match="diameter 8"):
        layer = DisentangledGraphConv(3, 96, "openpose-18", 13)
    with pytest.raises(ValueError, match=r"'A_res' has shape \(325, 25\).*\(13, 18, 18\)"):
        authors.from_authors(theirs, authors.MSGCN_KEYS, layer)
    layer = DisentangledGraphConv(3, 96, "ntu-rgbd", 13)
    with pytest.raises(KeyError, match="unmapped authors' keys: \\['extra'\\]"):
        authors.from_authors({**theirs, "extra": torch.zeros(1)}, authors.MSGCN_KEYS, layer)
    del theirs["A_res"]
    with pytest.raises(
        KeyError, match=r"missing DisentangledGraphConv keys: \['aggregate\.mask'\]"
    ):
        authors.from_authors(theirs, authors.MSGCN_KEYS, layer)


# ---------------------------------------------------------------- explicit loops
def batch_norm_eval(bn, x):
    """Per channel: (x - mean) / sqrt(var + eps) * weight + bias; channels on axis 0."""
    shape = (-1,) + (1,) * (x.ndim - 1)
    scale = bn.weight.detach().numpy() / np.sqrt(bn.running_var.numpy() + bn.eps)
    return (x - bn.running_mean.numpy().reshape(shape)) * scale.reshape(
        shape
    ) + bn.bias.detach().numpy().reshape(shape)


def graph_conv_by_loops(a, x, weight, bias):
    """out[o, t, v] = sum_k sum_u sum_c W[o, k·C + c] a[k, v, u] x[c, t, u] + b[o]."""
    k_scales, v_nodes, _ = a.shape
    c_in, t_frames, _ = x.shape
    out = np.zeros((weight.shape[0], t_frames, v_nodes))
    for o in range(weight.shape[0]):
        for t in range(t_frames):
            for v in range(v_nodes):
                total = bias[o]
                for k in range(k_scales):
                    for u in range(v_nodes):
                        for c in range(c_in):
                            total += weight[o, k * c_in + c] * a[k, v, u] * x[c, t, u]
                out[o, t, v] = total
    return out


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("placement", ["after-norm", "in-norm"])
def test_graph_conv_equals_explicit_loops(placement, implementation):
    torch.manual_seed(0)
    layer = DisentangledGraphConv(
        2, 3, TINY, num_scales=4, mask_placement=placement, implementation=implementation
    )
    layer = randomize(layer)
    layer.eval()
    x = torch.randn(1, 2, 3, 5)
    mask = layer.aggregate.mask.detach().numpy()
    k_adj = np.stack([TINY.k_adjacency(k) for k in range(4)])
    if placement == "after-norm":
        a = TINY.multiscale_adjacency(4) + mask
    else:  # the paper's Eq. 8: normalise Ã(k) + R_k
        m = k_adj + mask
        d = m.sum(-1)
        a = m / np.sqrt(d[:, :, None] * d[:, None, :])
    pre = graph_conv_by_loops(
        a,
        x[0].numpy(),
        layer.proj.weight[:, :, 0, 0].detach().numpy(),
        layer.proj.bias.detach().numpy(),
    )
    expected = np.maximum(batch_norm_eval(layer.bn, pre), 0)
    np.testing.assert_allclose(layer(x)[0].detach().numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("tau", "dilation", "stride"), [(3, 1, 1), (3, 2, 2), (2, 1, 1), (5, 1, 3)]
)
def test_g3d_equals_explicit_window_loops(tau, dilation, stride, implementation):
    torch.manual_seed(1)
    v_nodes, c_in, embed, c_out, t_frames, k_scales = 5, 2, 3, 2, 7, 3
    layer = randomize(
        G3DConv(c_in, c_out, TINY, window_size=tau, window_dilation=dilation, num_scales=k_scales,
                stride=stride, embed_channels=embed, implementation=implementation)
    )  # fmt: skip
    layer.eval()
    x = torch.randn(1, c_in, t_frames, v_nodes)
    xn = x[0].numpy()
    a = TINY.window(tau).multiscale_adjacency(k_scales) + layer.aggregate.mask.detach().numpy()
    w_proj = layer.proj.weight[:, :, 0, 0].detach().numpy()
    w_col = layer.collapse.weight[:, :, 0, :, 0].detach().numpy()  # (C', C_e, τ)
    left = dilation * (tau - 1) // 2
    outputs = []
    for t in range(0, t_frames, stride):
        window = np.zeros((c_in, 1, tau * v_nodes))
        for i in range(tau):
            frame = t + dilation * i - left
            if 0 <= frame < t_frames:
                window[:, 0, i * v_nodes : (i + 1) * v_nodes] = xn[:, frame]
        y = graph_conv_by_loops(a, window, w_proj, layer.proj.bias.detach().numpy())
        y = np.maximum(batch_norm_eval(layer.bn, y), 0)[:, 0]  # (C_e, τV)
        out = np.zeros((c_out, v_nodes))
        for o in range(c_out):
            for v in range(v_nodes):
                out[o, v] = layer.collapse.bias[o].item() + sum(
                    w_col[o, e, i] * y[e, i * v_nodes + v] for e in range(embed) for i in range(tau)
                )
        outputs.append(out)
    expected = batch_norm_eval(layer.out_bn, np.stack(outputs, axis=1))
    got = layer(x)[0].detach().numpy()
    assert got.shape == expected.shape == (c_out, -(-t_frames // stride), v_nodes)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_temporal_conv_branches_equal_functional_recomposition():
    torch.manual_seed(2)
    layer = randomize(MSTemporalConv(4, 12, stride=2, dilations=(1, 3))).eval()
    x = torch.randn(2, 4, 9, 5)

    def bn(m, y):
        return F.batch_norm(y, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)

    def bottleneck(seq):
        return F.relu(bn(seq[1], F.conv2d(x, seq[0].weight, seq[0].bias)))

    outs = []
    for seq, d in zip(layer.branches[:2], (1, 3)):
        conv = seq[3].conv
        y = F.conv2d(
            bottleneck(seq), conv.weight, conv.bias, stride=(2, 1), padding=(d, 0), dilation=(d, 1)
        )
        outs.append(bn(seq[3].bn, y))
    pooled = F.max_pool2d(bottleneck(layer.branches[2]), (3, 1), (2, 1), (1, 0))
    outs.append(bn(layer.branches[2][4], pooled))
    one = layer.branches[3]
    outs.append(bn(one[1], F.conv2d(x, one[0].weight, one[0].bias, stride=(2, 1))))
    res = layer.residual
    residual = bn(res.bn, F.conv2d(x, res.conv.weight, res.conv.bias, stride=(2, 1)))
    expected = F.relu(torch.cat(outs, 1) + residual)
    torch.testing.assert_close(layer(x), expected)


def test_multi_window_is_the_sum_of_its_pathways():
    torch.manual_seed(3)
    layer = randomize(MultiWindowG3D(2, 3, TINY, windows=((3, 1), (3, 2)), num_scales=2)).eval()
    x = torch.randn(2, 2, 6, 5)
    torch.testing.assert_close(layer(x), layer.pathways[0](x) + layer.pathways[1](x))
    assert layer.pathways[1].window_dilation == 2
    with pytest.raises(ValueError, match="at least one"):
        MultiWindowG3D(2, 3, TINY, windows=())


# ---------------------------------------------------------------- relabelling, powering
def relabelled(graph: SkeletonGraph, perm: np.ndarray) -> SkeletonGraph:
    """The same skeleton with joint perm[i] renamed i (new index i = old joint perm[i])."""
    new_of_old = np.argsort(perm)
    return SkeletonGraph.from_edges(
        [(new_of_old[a], new_of_old[b]) for a, b in graph.edges], graph.num_nodes
    )


@pytest.mark.parametrize("kind", ["gcn", "g3d"])
def test_relabelling_joints_permutes_the_output(kind):
    torch.manual_seed(4)
    perm = np.random.default_rng(4).permutation(5)
    build = {
        "gcn": lambda g: DisentangledGraphConv(2, 3, g, num_scales=3, residual_mask=False),
        "g3d": lambda g: G3DConv(2, 3, g, window_size=3, num_scales=3, residual_mask=False),
    }[kind]
    a, b = build(TINY), build(relabelled(TINY, perm))
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    x = torch.randn(2, 2, 6, 5)
    torch.testing.assert_close(b(x[..., perm]), a(x)[..., perm])


def test_powering_really_uses_matrix_powers():
    layer = DisentangledGraphConv(
        2, 3, TINY, num_scales=4, aggregation="powering", residual_mask=False
    )
    a_tilde = TINY.adjacency + np.eye(5)
    d = a_tilde.sum(1)
    base = a_tilde / np.sqrt(np.outer(d, d))
    for k in range(4):
        np.testing.assert_allclose(
            layer.aggregate.scales[k].numpy(), np.linalg.matrix_power(base, k), atol=1e-6
        )
    other = DisentangledGraphConv(2, 3, TINY, num_scales=4, residual_mask=False)
    other.load_state_dict(layer.state_dict())
    x = torch.randn(1, 2, 3, 5)
    assert not torch.allclose(layer.eval()(x), other.eval()(x))


@pytest.mark.parametrize("variant", ["cross-spacetime", "grid", "grid-dense-self"])
def test_g3d_uses_the_selected_window_graph(variant):
    layer = G3DConv(2, 3, TINY, window_size=3, num_scales=2, window_variant=variant)
    expected = TINY.window(3, variant).multiscale_adjacency(2)
    np.testing.assert_allclose(layer.aggregate.scales.numpy(), expected, atol=1e-7)
    assert variant in repr(layer)
