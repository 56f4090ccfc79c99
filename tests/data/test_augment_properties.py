"""Augmentations and resampling against independent constructions: the rotation order of
``rotation_matrix_xyz``, one scale factor or one per axis, nearest-frame resampling."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skelgraph.data import random_scale, resample_frames, rotation_matrix_xyz


def _turn(v: np.ndarray, axis: int, angle: float) -> np.ndarray:
    """Rotate v by ``angle`` about coordinate ``axis`` (right-handed), one plane at a time."""
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out = v.copy()
    out[i] = np.cos(angle) * v[i] - np.sin(angle) * v[j]
    out[j] = np.sin(angle) * v[i] + np.cos(angle) * v[j]
    return out


@given(st.lists(st.floats(-np.pi, np.pi), min_size=3, max_size=3))
@settings(max_examples=40, deadline=None)
def test_rotation_turns_about_x_then_y_then_z(angles):
    # R = Rz Ry Rx: a vector is turned about x first, z last
    v = np.array([0.3, -1.2, 0.7])
    expected = _turn(_turn(_turn(v, 0, angles[0]), 1, angles[1]), 2, angles[2])
    np.testing.assert_allclose(rotation_matrix_xyz(angles) @ v, expected, atol=1e-12)


@pytest.mark.parametrize("per_axis", [False, True])
def test_scale_draws_one_factor_or_one_per_axis(per_axis):
    data = np.ones((3, 2, 4, 1))
    factors = {
        tuple(random_scale(data, seed, low=0.5, high=1.5, per_axis=per_axis)[:, 0, 0, 0])
        for seed in range(20)
    }
    same = {f[0] == f[1] == f[2] for f in factors}
    assert same == ({True} if not per_axis else {False})


@given(st.integers(1, 12), st.integers(1, 12))
@settings(max_examples=60, deadline=None)
def test_nearest_resampling_takes_the_nearest_frame(t, length):
    data = np.arange(t, dtype=np.float64)[None, :, None, None]  # frame i holds i
    out = resample_frames(data, length, mode="nearest")[0, :, 0, 0]
    positions = np.linspace(0, t - 1, length) if length > 1 else np.zeros(1)
    assert (np.abs(out - positions) <= 0.5 + 1e-12).all()
