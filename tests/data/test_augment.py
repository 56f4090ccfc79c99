"""Random augmentation: seeded draws, rigid motions, absent joints kept, scores left alone."""

from __future__ import annotations

import numpy as np
import pytest

from skelgraph.data import random_rotate, random_scale, random_shift, rotation_matrix_xyz
from skelgraph.graph import SkeletonGraph


def _data(shape=(3, 8, 25, 2), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


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


@pytest.mark.parametrize("fn", [random_rotate, random_scale, random_shift])
@pytest.mark.parametrize("dims", [0, 4])
def test_dims_out_of_range(fn, dims):
    with pytest.raises(ValueError, match=rf"dims must be (in 1\.\.3|2 or 3), got {dims}"):
        fn(_data(), 0, dims=dims)
