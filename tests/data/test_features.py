"""Bones, motion, resampling, random augmentation and the transform classes."""

from __future__ import annotations

import numpy as np
import pytest

from skelgraph.data import (
    AlignToAxes,
    BoneFeatures,
    CenterJoints,
    Compose,
    FillEmptyFrames,
    MotionFeatures,
    PadToLength,
    PaperPreprocess,
    RandomRotate,
    RandomScale,
    RandomShift,
    ResampleFrames,
    bone_features,
    motion_features,
    paper_preprocess,
    random_rotate,
    random_scale,
    random_shift,
    resample_frames,
    rotation_matrix_xyz,
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


def test_rotation_matrix_xyz():
    r = rotation_matrix_xyz([0.1, -0.4, 2.0])
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_allclose(
        rotation_matrix_xyz([0, 0, np.pi / 2]) @ [1, 0, 0], [0, 1, 0], atol=1e-12
    )


def _lengths(data: np.ndarray) -> np.ndarray:
    edges = np.array(SkeletonGraph.from_layout("ntu-rgbd").edges)
    return np.linalg.norm(data[:3, :, edges[:, 0]] - data[:3, :, edges[:, 1]], axis=0)


def test_augmentations_are_seeded_and_keep_absent_joints():
    data = _data()
    data[:, 2, 5, 0] = 0
    for fn in (random_rotate, random_scale, random_shift):
        a, b = fn(data, 3), fn(data, 3)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(fn(data, 4), a)
        assert not a[:, 2, 5, 0].any()
    np.testing.assert_allclose(_lengths(random_rotate(data, 1)), _lengths(data), rtol=1e-5)
    scaled = random_scale(data, np.random.default_rng(5), low=2.0, high=2.0)
    np.testing.assert_allclose(scaled, 2 * data)
    shifted = random_shift(data, 2, max_shift=0.5)
    delta = (shifted - data)[:, 0, 0, 0]
    np.testing.assert_allclose(shifted[:, 3], data[:, 3] + delta[:, None, None], atol=1e-6)
    assert np.abs(delta).max() <= 0.5


def test_augmentations_2d_leave_scores():
    data = np.abs(_data((3, 5, 18, 2)))
    for fn in (random_rotate, random_scale, random_shift):
        out = fn(data, 0, dims=2)
        np.testing.assert_array_equal(out[2], data[2])
    rotated = random_rotate(data, 0, dims=2)
    norms = np.linalg.norm(rotated[:2, :, 3] - rotated[:2, :, 4], axis=0)
    np.testing.assert_allclose(
        norms, np.linalg.norm(data[:2, :, 3] - data[:2, :, 4], axis=0), rtol=1e-5
    )


def test_transform_classes_equal_functions():
    data = _data((3, 20, 25, 2))
    pipeline = Compose(
        [
            FillEmptyFrames(),
            CenterJoints(1),
            AlignToAxes((0, 1), (4, 8)),
            PadToLength(32),
            ResampleFrames(16),
            BoneFeatures("ntu-rgbd"),
            MotionFeatures(),
        ]
    )
    # PadToLength replays the 20 preprocessed frames up to 32, then 32 -> 16 frames
    padded = np.concatenate([paper_preprocess(data, length=None)] * 2, axis=1)[:, :32]
    expected = motion_features(bone_features(resample_frames(padded, 16), "ntu-rgbd"))
    np.testing.assert_allclose(pipeline(data), expected, atol=1e-5)
    assert len(pipeline) == 7 and "CenterJoints(joint=1" in repr(pipeline)
    np.testing.assert_allclose(PaperPreprocess(length=40)(data), paper_preprocess(data, length=40))
    with pytest.raises(TypeError, match="not callable"):
        Compose([1])


def test_random_transforms_reproduce_and_reseed():
    data = _data()
    augment = Compose([RandomRotate(seed=1), RandomScale(seed=2), RandomShift(seed=3)])
    first = [augment(data) for _ in range(3)]
    assert not np.array_equal(first[0], first[1])  # fresh draws on every call
    again = Compose([RandomRotate(seed=1), RandomScale(seed=2), RandomShift(seed=3)])
    for expected in first:
        np.testing.assert_array_equal(again(data), expected)
    rotate = RandomRotate(seed=9)
    a = rotate(data)
    rotate.reseed(9)
    np.testing.assert_array_equal(rotate(data), a)


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
    assert repr(BoneFeatures("coco-17")) == "BoneFeatures(graph='coco-17')"
    assert repr(MotionFeatures(score_channel=2)) == "MotionFeatures(score_channel=2)"
