"""Bones, motion and resampling in time, and the score channel of 2-D data."""

from __future__ import annotations

import numpy as np
import pytest

from skelgraph.data import (
    BoneFeatures,
    MotionFeatures,
    bone_features,
    motion_features,
    resample_frames,
)
from skelgraph.graph import SkeletonGraph

# The authors' NTU bone pairs (gen_bone_data.py), 1-based (child, parent), as listed there.
AUTHORS_NTU_BONES = [
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 23), (21, 21), (23, 8), (24, 25), (25, 12),
]  # fmt: skip


def _data(shape=(3, 8, 25, 2), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_bones_match_authors_pairs():
    data = _data()
    bones = bone_features(data, "ntu-rgbd")
    expected = np.zeros_like(data)
    for child, parent in AUTHORS_NTU_BONES:
        expected[:, :, child - 1] = data[:, :, child - 1] - data[:, :, parent - 1]
    np.testing.assert_array_equal(bones, expected)
    assert not bones[:, :, 20].any()  # zero at the centre (spine shoulder)


@pytest.mark.parametrize("layout", SkeletonGraph.layouts())
def test_bones_every_layout(layout):
    graph = SkeletonGraph.from_layout(layout)
    data = _data((3, 4, graph.num_nodes, 1))
    bones = bone_features(data, graph)
    assert not bones[:, :, graph.center].any()
    for child, parent in graph.bone_pairs:
        np.testing.assert_array_equal(bones[:, :, child], data[:, :, child] - data[:, :, parent])
    with pytest.raises(ValueError, match="joints but the data has V"):
        bone_features(_data((3, 4, graph.num_nodes + 1, 1)), graph)


def test_motion():
    data = _data()
    motion = motion_features(data)
    for t in range(7):
        np.testing.assert_array_equal(motion[:, t], data[:, t + 1] - data[:, t])
    assert not motion[:, -1].any()


def test_resample_linear_is_exact_on_linear_motion():
    t = np.arange(10, dtype=np.float64)
    data = np.broadcast_to(2.0 * t[None, :, None, None] + 1.0, (3, 10, 4, 2)).copy()
    out = resample_frames(data, 19)
    expected = 2.0 * np.linspace(0, 9, 19) + 1.0
    np.testing.assert_allclose(out[0, :, 0, 0], expected)
    np.testing.assert_array_equal(resample_frames(data, 10), data)
    np.testing.assert_array_equal(resample_frames(data, 1), data[:, :1])
    nearest = resample_frames(data, 4, mode="nearest")
    np.testing.assert_array_equal(nearest[0, :, 0, 0], data[0, [0, 3, 6, 9], 0, 0])
    one = resample_frames(data[:, :1], 5)
    assert one.shape == (3, 5, 4, 2) and (one == data[:, :1]).all()
    with pytest.raises(ValueError, match="mode"):
        resample_frames(data, 4, mode="cubic")


# ---------------------------------------------------------------- 2-D score channel
def _chain_2d() -> tuple[SkeletonGraph, np.ndarray]:
    """A 3-joint chain 0 - 1 - 2 rooted at 0, two frames, channels (x, y, score)."""
    graph = SkeletonGraph.from_edges([(0, 1), (1, 2)], center=0)
    data = np.zeros((3, 2, 3, 1), np.float32)
    data[0, :, :, 0] = [[1, 4, 9], [2, 6, 7]]  # x
    data[1, :, :, 0] = [[0, 2, 3], [1, 1, 5]]  # y
    data[2, :, :, 0] = [[0.9, 0.5, 0.3], [0.7, 0.1, 0.5]]  # score
    return graph, data


def test_bones_keep_scores_as_the_mean_of_the_two_joints():
    graph, data = _chain_2d()
    assert graph.bone_pairs == ((0, 0), (1, 0), (2, 1))
    bones = bone_features(data, graph, score_channel=2)
    # by hand: x, y of (0, 1 - 0, 2 - 1); score (s0, (s1 + s0) / 2, (s2 + s1) / 2)
    np.testing.assert_allclose(bones[0, :, :, 0], [[0, 3, 5], [0, 4, 1]])
    np.testing.assert_allclose(bones[1, :, :, 0], [[0, 2, 1], [0, 0, 4]])
    np.testing.assert_allclose(bones[2, :, :, 0], [[0.9, 0.7, 0.4], [0.7, 0.4, 0.3]], atol=1e-6)
    # without score_channel the score is differenced like any channel (the authors' way)
    np.testing.assert_allclose(
        bone_features(data, graph)[2, :, :, 0], [[0, -0.4, -0.2], [0, -0.6, 0.4]], atol=1e-6
    )
    np.testing.assert_array_equal(BoneFeatures(graph, score_channel=2)(data), bones)


def test_motion_keeps_scores_as_the_mean_of_the_two_frames():
    _, data = _chain_2d()
    motion = motion_features(data, score_channel=2)
    np.testing.assert_allclose(motion[0, :, :, 0], [[1, 2, -2], [0, 0, 0]])
    np.testing.assert_allclose(motion[1, :, :, 0], [[1, -1, 2], [0, 0, 0]])
    np.testing.assert_allclose(motion[2, :, :, 0], [[0.8, 0.3, 0.4], [0, 0, 0]], atol=1e-6)
    np.testing.assert_array_equal(MotionFeatures(score_channel=2)(data), motion)


def test_score_channel_checks_and_repr():
    _, data = _chain_2d()
    with pytest.raises(ValueError, match=r"score_channel must be in 0\.\.2, got 3"):
        motion_features(data, score_channel=3)
    with pytest.raises(ValueError, match=r"score_channel must be in 0\.\.2, got -1"):
        bone_features(data, SkeletonGraph.from_edges([(0, 1), (1, 2)]), score_channel=-1)
    with pytest.raises(ValueError, match=r"score_channel must be in 0\.\.2, got 1\.5"):
        motion_features(data, score_channel=1.5)
    assert repr(BoneFeatures("coco-17")) == "BoneFeatures(graph='coco-17')"
    assert repr(MotionFeatures(score_channel=2)) == "MotionFeatures(score_channel=2)"
