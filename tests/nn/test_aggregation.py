"""MultiScaleAggregation: the scale stacks it applies and its input checks."""

from __future__ import annotations

import numpy as np
import torch

from skelgraph import (
    DisentangledGraphConv,
)
from tests.layer_helpers import (
    TINY,
)


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
