"""G3DConv and MultiWindowG3D (Eq. 5-7) against explicit window loops, on both kernels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelgraph import G3DConv, MultiWindowG3D
from tests.layer_helpers import TINY, batch_norm_eval, graph_conv_by_loops, randomize


@pytest.mark.parametrize(
    ("tau", "dilation", "stride", "causal"),
    [(3, 1, 1, False), (3, 2, 2, False), (2, 1, 1, False), (5, 1, 3, False), (3, 2, 2, True),
     (2, 1, 1, True), (5, 1, 3, True)],
)  # fmt: skip
def test_g3d_equals_explicit_window_loops(tau, dilation, stride, causal, implementation):
    """Window t: frames s·t + d·i - p, p = ⌊d(τ - 1)/2⌋ (centred) or d(τ - 1) (causal)."""
    torch.manual_seed(1)
    v_nodes, c_in, embed, c_out, t_frames, k_scales = 5, 2, 3, 2, 7, 3
    layer = randomize(
        G3DConv(c_in, c_out, TINY, window_size=tau, window_dilation=dilation, num_scales=k_scales,
                stride=stride, embed_channels=embed, causal=causal)
    )  # fmt: skip
    layer.eval()
    x = torch.randn(1, c_in, t_frames, v_nodes)
    xn = x[0].numpy()
    a = TINY.window(tau).multiscale_adjacency(k_scales) + layer.aggregate.mask.detach().numpy()
    w_proj = layer.proj.weight[:, :, 0, 0].detach().numpy()
    w_col = layer.collapse.weight[:, :, 0, :, 0].detach().numpy()  # (C', C_e, τ)
    left = dilation * (tau - 1) if causal else dilation * (tau - 1) // 2
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


def test_multi_window_is_the_sum_of_its_pathways():
    torch.manual_seed(3)
    layer = randomize(MultiWindowG3D(2, 3, TINY, windows=((3, 1), (3, 2)), num_scales=2)).eval()
    x = torch.randn(2, 2, 6, 5)
    torch.testing.assert_close(layer(x), layer.pathways[0](x) + layer.pathways[1](x))
    assert layer.pathways[1].window_dilation == 2
    with pytest.raises(ValueError, match="at least one"):
        MultiWindowG3D(2, 3, TINY, windows=())


@pytest.mark.parametrize("variant", ["cross-spacetime", "grid", "grid-dense-self"])
def test_g3d_uses_the_selected_window_graph(variant):
    layer = G3DConv(2, 3, TINY, window_size=3, num_scales=2, window_variant=variant)
    expected = TINY.window(3, variant).multiscale_adjacency(2)
    np.testing.assert_allclose(layer.aggregate.scales.numpy(), expected, atol=1e-7)
    assert variant in repr(layer)
