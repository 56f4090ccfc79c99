"""TemporalConv and MSTemporalConv (MS-TCN) against a functional recomposition."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from skelgraph import MSTemporalConv
from tests.layer_helpers import randomize


@pytest.mark.parametrize("causal", [False, True], ids=["symmetric", "causal"])
def test_temporal_conv_branches_equal_functional_recomposition(causal):
    """Symmetric: every window centred on frame s·t (padding d and 1 at both ends);
    causal: ending on it (2d and 2 frames at the front, −inf for the max-pool)."""
    torch.manual_seed(2)
    layer = randomize(MSTemporalConv(4, 12, stride=2, dilations=(1, 3), causal=causal)).eval()
    x = torch.randn(2, 4, 9, 5)

    def front(y, span, value=0.0):
        """y padded for a window of span + 1 frames: (padding at both ends, input)."""
        if causal:
            return 0, F.pad(y, (0, 0, span, 0), value=value)
        return span // 2, y

    def bn(m, y):
        return F.batch_norm(y, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)

    def bottleneck(seq):
        return F.relu(bn(seq[1], F.conv2d(x, seq[0].weight, seq[0].bias)))

    outs = []
    for seq, d in zip(layer.branches[:2], (1, 3)):
        conv = seq[3].conv
        pad, y = front(bottleneck(seq), 2 * d)
        y = F.conv2d(y, conv.weight, conv.bias, stride=(2, 1), padding=(pad, 0), dilation=(d, 1))
        outs.append(bn(seq[3].bn, y))
    pad, y = front(bottleneck(layer.branches[2]), 2, value=-torch.inf)
    pooled = F.max_pool2d(y, (3, 1), (2, 1), (pad, 0))
    outs.append(bn(layer.branches[2][4], pooled))
    one = layer.branches[3]
    outs.append(bn(one[1], F.conv2d(x, one[0].weight, one[0].bias, stride=(2, 1))))
    res = layer.residual
    residual = bn(res.bn, F.conv2d(x, res.conv.weight, res.conv.bias, stride=(2, 1)))
    expected = F.relu(torch.cat(outs, 1) + residual)
    torch.testing.assert_close(layer(x), expected)


@pytest.mark.parametrize(
    "build",
    [
        lambda: MSTemporalConv(6, 6, kernel_size=2),
        lambda: MSTemporalConv(6, 12, residual_kernel_size=4),
    ],
)
def test_even_kernels_are_refused_in_the_constructor(build):
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        build()
