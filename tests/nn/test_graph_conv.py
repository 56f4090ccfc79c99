"""DisentangledGraphConv (MS-GCN, Eq. 4 and 8) against explicit loops, relabelling and
its training and inference behaviour, on both kernels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelgraph import DisentangledGraphConv, G3DConv
from tests.layer_helpers import TINY, batch_norm_eval, graph_conv_by_loops, randomize, relabelled


@pytest.mark.parametrize("placement", ["after-norm", "in-norm"])
def test_graph_conv_equals_explicit_loops(placement, implementation):
    torch.manual_seed(0)
    layer = DisentangledGraphConv(2, 3, TINY, num_scales=4, mask_placement=placement)
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


def test_training_updates_the_residual_mask():
    layer = DisentangledGraphConv(2, 4, TINY, num_scales=3)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
    before = layer.aggregate.mask.detach().clone()
    layer(torch.randn(4, 2, 6, 5)).pow(2).mean().backward()
    optimizer.step()
    assert not torch.equal(layer.aggregate.mask, before)


def test_graph_like_arguments():
    import networkx as nx

    by_name = DisentangledGraphConv(3, 4, "coco-17", 2)
    by_nx = DisentangledGraphConv(3, 4, nx.path_graph(6), 2)
    by_matrix = DisentangledGraphConv(3, 4, torch.tensor(TINY.adjacency), 2)
    assert (by_name.num_joints, by_nx.num_joints, by_matrix.num_joints) == (17, 6, 5)


def test_folding_keeps_other_activations_and_a_norm_without_affine():
    layer = DisentangledGraphConv(3, 4, TINY, num_scales=3, activation="gelu").eval()
    layer.bn = torch.nn.BatchNorm2d(4, affine=False).eval()
    x = torch.randn(2, 3, 5, 5)
    with torch.no_grad():
        folded = layer(x)
    torch.testing.assert_close(folded, layer(x).detach())
    assert (folded < 0).any()  # GELU, not clamped like ReLU
