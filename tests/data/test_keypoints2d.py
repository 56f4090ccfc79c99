"""2-D keypoints: pyskl's image-size normalisation and the score threshold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skelgraph.data import (
    Normalize2D,
    normalize_2d,
    threshold_scores,
)


def _pixels(seed: int = 0, shape=(3, 5, 17, 2), h=480, w=640) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = np.empty(shape, np.float32)
    data[0] = rng.uniform(0, w, shape[1:])
    data[1] = rng.uniform(0, h, shape[1:])
    data[2] = rng.uniform(0, 1, shape[1:])
    return data


def test_normalize_2d_is_pyskl_formula():
    data = _pixels()
    out = normalize_2d(data, (480, 640))
    np.testing.assert_allclose(out[0], (data[0] - 320) / 320, rtol=1e-6)
    np.testing.assert_allclose(out[1], (data[1] - 240) / 240, rtol=1e-6)
    np.testing.assert_array_equal(out[2], data[2])  # the score is left alone
    assert out.dtype == np.float32 and out.shape == data.shape
    assert np.abs(out[:2]).max() <= 1


def test_normalize_2d_corners_and_absent_joints():
    data = np.zeros((3, 1, 4, 1), np.float32)
    data[:, 0, 0, 0] = [0, 0, 0.5]  # top-left corner
    data[:, 0, 1, 0] = [100, 50, 0.5]  # bottom-right corner of a 50 x 100 frame
    data[:, 0, 2, 0] = [50, 25, 0.5]  # the centre
    out = normalize_2d(data, (50, 100))
    np.testing.assert_array_equal(out[:2, 0, :, 0].T, [[-1, -1], [1, 1], [0, 0], [0, 0]])
    assert not out[:, 0, 3].any()  # joint 3 is absent and stays all zeros


@pytest.mark.parametrize("shape", [(0, 10), (10,), (-1, 5), (float("nan"), 3), "ab"])
def test_normalize_2d_rejects_bad_image_shapes(shape):
    with pytest.raises(ValueError, match="img_shape must be"):
        normalize_2d(_pixels(), shape)
    with pytest.raises(ValueError, match="img_shape must be"):
        Normalize2D(shape)


def test_normalize_2d_needs_two_channels():
    with pytest.raises(ValueError, match="channels x and y, got C = 1"):
        normalize_2d(np.zeros((1, 2, 3, 1)), (10, 10))


def test_threshold_zeroes_all_channels_below():
    data = _pixels()
    out = threshold_scores(data, 0.3)
    low = data[2] < 0.3
    assert low.any() and (~low).any()
    assert not out[:, low].any()
    np.testing.assert_array_equal(out[:, ~low], data[:, ~low])
    edge = data.copy()
    edge[2, 0, 0, 0] = 0.3  # equal to the threshold: kept
    assert threshold_scores(edge, 0.3)[:, 0, 0, 0].tolist() == edge[:, 0, 0, 0].tolist()
    with pytest.raises(ValueError, match="finite"):
        threshold_scores(data, float("nan"))
    for channel in (None, 3, 1.5):  # only motion and bone features take None: no score
        with pytest.raises(ValueError, match=rf"score_channel must be in 0\.\.2, got {channel}"):
            threshold_scores(data, 0.1, score_channel=channel)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 4000), w=st.integers(1, 4000), seed=st.integers(0, 2**16))
def test_normalize_2d_maps_the_frame_onto_the_unit_square(h, w, seed):
    data = _pixels(seed, (3, 2, 5, 1), h, w).astype(np.float64)
    out = normalize_2d(data, (h, w))
    assert np.abs(out[:2]).max() <= 1 + 1e-12
    # inverse: x = (x' + 1) w / 2
    np.testing.assert_allclose((out[0] + 1) * w / 2, data[0], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose((out[1] + 1) * h / 2, data[1], rtol=1e-12, atol=1e-9)
