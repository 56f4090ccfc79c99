"""MultiScaleAggregation: the scale stacks it applies and its input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelgraph import DisentangledGraphConv, G3DConv, MultiScaleAggregation, SkeletonGraph
from tests.layer_helpers import TINY


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


def test_scale_counts_beyond_the_node_count_are_refused_before_allocating():
    with pytest.raises(ValueError, match=r"num_scales=6 is more than 'tiny'.*5 nodes"):
        MultiScaleAggregation(TINY, 6)
    with pytest.raises(ValueError, match=r"num_scales=1000000.*num_scales <= 5"):
        MultiScaleAggregation(TINY, 10**6)  # used to ask for gigabytes
    with pytest.raises(ValueError, match=r"tiny/window3.*15 nodes"):
        G3DConv(2, 3, TINY, window_size=3, num_scales=16)


def test_scales_beyond_the_diameter_are_the_identity_and_warn():
    # pyskl runs 13 scales on COCO-17, whose diameter is 8: its checkpoints need them.
    fresh = SkeletonGraph.from_edges(TINY.edges, name="tiny")  # the stack is cached per graph
    with pytest.warns(UserWarning, match="diameter 3"):
        layer = MultiScaleAggregation(fresh, 5, residual_mask=False)
    np.testing.assert_array_equal(layer.scales[4].numpy(), np.eye(5))


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.ones(2, 3, 4, 5, dtype=torch.int64), TypeError, "floating-point input.*int64"),
        (torch.randn(2, 3, 4, 6), ValueError, "MultiScaleAggregation expects V=5 joints, got 6"),
        (torch.randn(3, 4, 5), ValueError, r"\(N, C, T, V\), got 3 dimensions"),
    ],
)
def test_input_is_checked_like_every_layer(x, error, match):
    with pytest.raises(error, match=match):
        MultiScaleAggregation(TINY, 3)(x)
