"""CTR-GCN's N-UCLA feeder: min-max normalisation, frames drawn with replacement, rotation
about chosen axes, centring on frame 0, and ``Pipeline(sampling="ctrgcn")`` composing them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skelgraph.data import (
    CenterJoints,
    Compose,
    MinMaxNormalize,
    Pipeline,
    RandomRotate,
    RandomScale,
    ReplacementSampleFrames,
    SkeletonSample,
    bone_features,
    center_joints,
    minmax_normalize,
    random_rotate,
    replacement_sample_indices,
    rotation_matrix_xyz,
)


def test_minmax_by_hand():
    x = np.zeros((3, 2, 2, 1), np.float32)
    x[0, :, :, 0] = [[0, 2], [4, 1]]  # min 0, max 4
    x[1, :, :, 0] = [[-3, -1], [-2, -1]]  # min -3, max -1
    x[2, :, :, 0] = 5  # constant: 0
    y = minmax_normalize(x)
    np.testing.assert_allclose(y[0, :, :, 0], [[-1, 0], [1, -0.5]])
    np.testing.assert_allclose(y[1, :, :, 0], [[-1, 1], [0, 1]])
    np.testing.assert_array_equal(y[2], 0)
    assert y.dtype == np.float32 and y.shape == x.shape


def test_minmax_skips_absent_joints_and_copies_scores():
    x = np.zeros((3, 1, 3, 1))
    x[:, 0, 0, 0] = [1, 10, 0.9]  # (x, y, score)
    x[:, 0, 1, 0] = [3, 20, 0.4]
    # joint 2 absent (all zero): it would be the minimum of both axes if it counted
    y = minmax_normalize(x, dims=2)
    np.testing.assert_allclose(y[:2, 0, :, 0], [[-1, 1, 0], [-1, 1, 0]])
    np.testing.assert_array_equal(y[2], x[2])


present_sequences = hnp.arrays(
    np.float64,
    st.tuples(st.just(3), st.integers(1, 5), st.integers(2, 4), st.just(1)),
    elements=st.integers(10, 100).map(lambda v: v / 10),  # spans 0 or >= 0.1: no rounding
)


@settings(max_examples=50, deadline=None)
@given(present_sequences, st.floats(0.1, 10), st.floats(0, 5))
def test_minmax_is_in_range_and_ignores_translation_and_scale(x, a, b):
    """Each axis spans exactly [-1, 1] (or is 0 where constant); the rotation centre and
    the scale augmentation of the recipe therefore cancel out after it."""
    y = minmax_normalize(x)
    assert np.all(np.abs(y) <= 1 + 1e-12)
    for c in range(3):
        if np.ptp(x[c]) > 0:
            assert y[c].min() == pytest.approx(-1) and y[c].max() == pytest.approx(1)
    np.testing.assert_allclose(minmax_normalize(a * x + b), y, atol=1e-9)


def test_replacement_indices_test_mode_by_hand():
    assert replacement_sample_indices(10, 4, test_mode=True).tolist() == [0, 3, 6, 9]
    assert replacement_sample_indices(3, 5, test_mode=True).tolist() == [0, 0, 1, 1, 2]
    assert replacement_sample_indices(100, 3, test_mode=True).tolist() == [0, 49, 99]
    assert replacement_sample_indices(7, 1, test_mode=True).tolist() == [0]


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.integers(0, 2**32 - 1))
def test_replacement_indices_training_are_sorted_draws(t, length, seed):
    inds = replacement_sample_indices(t, length, rng=seed)
    assert inds.shape == (length,) and inds.dtype == np.int64
    assert np.all(np.diff(inds) >= 0) and 0 <= inds.min() and inds.max() < t
    expected = np.sort(np.random.default_rng(seed).integers(0, t, size=length))
    np.testing.assert_array_equal(inds, expected)


def test_replacement_indices_repeat_and_cover_frames():
    inds = replacement_sample_indices(5, 1000, rng=0)
    assert set(inds.tolist()) == set(range(5))  # with replacement: every frame, repeated
    with pytest.raises(ValueError, match="num_frames must be >= 1, got 0"):
        replacement_sample_indices(0, 4)
    with pytest.raises(ValueError, match="clip_len must be >= 1, got 0"):
        ReplacementSampleFrames(0)


def test_replacement_sample_frames_takes_those_frames():
    x = np.arange(6, dtype=np.float32).reshape(1, 6, 1, 1) * np.ones((3, 1, 2, 1), np.float32)
    y = ReplacementSampleFrames(4, test_mode=True)(x)
    np.testing.assert_array_equal(y[0, :, 0, 0], [0, 1, 3, 5])  # floor(0, 5/3, 10/3, 5)
    train = ReplacementSampleFrames(4, seed=3)(x)
    np.testing.assert_array_equal(train[0, :, 0, 0], replacement_sample_indices(6, 4, rng=3))


def test_rotation_about_x_and_y_by_hand():
    """axes="xy": one draw for x, then one for y, from the same stream; z is not turned."""
    x = np.random.default_rng(1).normal(size=(3, 4, 5, 1))
    alpha, beta = np.random.default_rng(7).uniform(-np.pi / 3, np.pi / 3, size=2)
    ca, sa, cb, sb = np.cos(alpha), np.sin(alpha), np.cos(beta), np.sin(beta)
    rx = np.array([[1, 0, 0], [0, ca, -sa], [0, sa, ca]])
    ry = np.array([[cb, 0, sb], [0, 1, 0], [-sb, 0, cb]])
    expected = np.einsum("ij,jtvm->itvm", ry @ rx, x)
    np.testing.assert_allclose(random_rotate(x, 7, max_degrees=60, axes="xy"), expected)
    np.testing.assert_allclose(RandomRotate(60, axes="xy", seed=7)(x), expected)
    np.testing.assert_allclose(rotation_matrix_xyz(np.array([alpha, beta, 0])), ry @ rx)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["x", "y", "z"]), st.integers(0, 1000))
def test_rotation_about_one_axis_keeps_that_coordinate(axis, seed):
    x = np.random.default_rng(seed).normal(size=(3, 3, 4, 1))
    y = random_rotate(x, seed, max_degrees=90, axes=axis)
    c = "xyz".index(axis)
    np.testing.assert_allclose(y[c], x[c], atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(y, axis=0), np.linalg.norm(x, axis=0))


@pytest.mark.parametrize("axes", ["", "xx", "yx", "w", "xyzz"])
def test_rotation_axes_are_checked(axes):
    with pytest.raises(ValueError, match="axes must be a non-empty ordered selection"):
        RandomRotate(axes=axes)
    with pytest.raises(ValueError, match="axes must be"):
        random_rotate(np.ones((3, 1, 1, 1)), 0, axes=axes)


def test_reprs_keep_their_old_form():
    assert repr(RandomRotate(10, seed=0)) == "RandomRotate(seed=0, max_degrees=10, dims=3)"
    assert "axes='xy'" in repr(RandomRotate(10, axes="xy", seed=0))
    assert repr(CenterJoints(1)) == "CenterJoints(joint=1, dims=None)"
    assert repr(CenterJoints(1, frame=0)) == "CenterJoints(joint=1, dims=None, frame=0)"


def test_center_on_frame_zero_by_hand():
    x = np.random.default_rng(2).normal(size=(3, 4, 5, 1)) + 3  # every joint present
    y = center_joints(x, 1, frame=0)
    np.testing.assert_allclose(y, x - x[:, 0:1, 1:2, 0:1])
    np.testing.assert_allclose(CenterJoints(1, frame=-1)(x), x - x[:, -1:, 1:2, 0:1])
    with pytest.raises(ValueError, match="frame 4 is out of range for T = 4"):
        center_joints(x, 1, frame=4)


def _sample(t: int = 9, seed: int = 0) -> SkeletonSample:
    data = np.random.default_rng(seed).normal(size=(3, t, 20, 1)).astype(np.float32) + 2
    return SkeletonSample(data, 3, "kinect-v1-20")


def test_pipeline_test_input_by_hand():
    """prepare: centre on frame 0's spine (joint 1); then min-max, evenly spaced frames,
    the stream (here bones of the normalised, sampled joints)."""
    sample = _sample()
    pipeline = Pipeline(
        "kinect-v1-20", 3, stream="bone", frames=4, sampling="ctrgcn", num_persons=2
    )
    prepared = pipeline.prepare(sample)
    x = sample.data.astype(np.float64)
    np.testing.assert_allclose(prepared, x - x[:, 0:1, 1:2], rtol=1e-6, atol=1e-6)
    joints = minmax_normalize(prepared)[:, [0, 2, 5, 8]]
    expected = np.concatenate([bone_features(joints, "kinect-v1-20"), np.zeros_like(joints)], 3)
    got = pipeline.model_input(sample, num_clips=2)
    assert got.shape == (2, 3, 4, 20, 2)
    np.testing.assert_allclose(got[0].numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(got[1].numpy(), got[0].numpy())


def test_pipeline_training_puts_the_augmentation_before_normalisation():
    sample = _sample(t=30)
    pipeline = Pipeline("kinect-v1-20", 3, frames=52, sampling="ctrgcn", num_persons=1)
    augment = Compose([RandomRotate(60, axes="xy", seed=1), RandomScale(0.5, 1.5, seed=2)])
    transform = pipeline.clip_transform(train=True, seed=5, augment=augment)
    out = transform(pipeline.prepare(sample))
    assert out.shape == (3, 52, 20, 1) and np.abs(out).max() <= 1 + 1e-6
    augment.transforms[0].reseed(1)
    augment.transforms[1].reseed(2)
    augmented = augment(pipeline.prepare(sample))  # the same draws again
    inds = replacement_sample_indices(30, 52, rng=5)
    np.testing.assert_allclose(out, minmax_normalize(augmented)[:, inds], atol=1e-6)


def test_pipeline_other_samplings_keep_the_augmentation_last():
    pipeline = Pipeline("kinect-v1-20", 3, frames=4, sampling="resample", num_persons=1)
    steps = pipeline.clip_transform(train=True, augment=MinMaxNormalize()).transforms
    assert [type(s).__name__ for s in steps] == ["FitPersons", "MinMaxNormalize"]
    with pytest.raises(ValueError, match="sampling must be one of uniform, resample, ctrgcn"):
        Pipeline("kinect-v1-20", 3, sampling="ctr")
