"""Plotting helpers draw what they are given (Agg backend, no screen)."""

from __future__ import annotations

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib", reason="the plot extra is not installed")
matplotlib.use("Agg")

from skelgraph import SkeletonGraph  # noqa: E402
from skelgraph.plot import draw_adjacency_stack, draw_skeleton  # noqa: E402


def test_draw_skeleton_draws_one_line_per_bone():
    g = SkeletonGraph.from_layout("openpose-18")
    ax = draw_skeleton(g)
    assert len(ax.lines) == g.num_edges
    assert len(ax.texts) == g.num_nodes
    assert "openpose-18" in ax.get_title()


def test_draw_skeleton_with_positions_and_errors():
    g = SkeletonGraph.from_layout("coco-17")
    ax = draw_skeleton("coco-17", np.random.default_rng(0).random((17, 2)), labels=False)
    np.testing.assert_array_equal(ax.lines[0].get_xydata().shape, (2, 2))
    with pytest.raises(ValueError, match=r"shape \(17, 2\)"):
        draw_skeleton(g, np.zeros((3, 2)))


def test_draw_adjacency_stack_one_image_per_scale():
    g = SkeletonGraph.from_layout("ntu-rgbd")
    stack = g.multiscale_adjacency(8)
    fig = draw_adjacency_stack(stack, ncols=4)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 8
    np.testing.assert_allclose(images[3].get_array(), stack[3])
    with pytest.raises(ValueError, match=r"\(K, V, V\)"):
        draw_adjacency_stack(np.zeros((2, 3)))
