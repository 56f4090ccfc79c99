"""The transform classes: each equals its function with the stored arguments, and its
docstring's "As in the function" names only parameters that function has."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import skelgraph.data
from skelgraph.data import (
    AlignToAxes,
    BoneFeatures,
    CenterJoints,
    Compose,
    FillEmptyFrames,
    MotionFeatures,
    Normalize2D,
    PadToLength,
    PaperPreprocess,
    RandomRotate,
    RandomScale,
    RandomShift,
    ResampleFrames,
    ThresholdScores,
    UniformSampleFrames,
    bone_features,
    motion_features,
    normalize_2d,
    paper_preprocess,
    resample_frames,
    threshold_scores,
    transforms,
    uniform_sample_indices,
)
from tests.data.test_keypoints2d import _pixels


def _data(shape=(3, 8, 25, 2), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


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


def test_transforms_compose_like_pyskl_prenormalize():
    data = _pixels(1)
    pipeline = Compose([ThresholdScores(0.01), Normalize2D((480, 640)), BoneFeatures("coco")])
    expected = normalize_2d(threshold_scores(data, 0.01), (480, 640))
    np.testing.assert_array_equal(pipeline(data), bone_features(expected, "coco-17"))
    assert repr(Normalize2D()) == "Normalize2D(img_shape=(1080, 1920))"
    assert repr(ThresholdScores(0.2)) == "ThresholdScores(threshold=0.2, score_channel=2)"


def test_transform_stacks_clips_in_time():
    data = np.arange(30, dtype=np.float32)[None, :, None, None] * np.ones((3, 1, 5, 2))
    t = UniformSampleFrames(8, num_clips=3, test_mode=True)
    out = Compose([t])(data)
    assert out.shape == (3, 24, 5, 2)
    expected = uniform_sample_indices(30, 8, num_clips=3, test_mode=True).ravel()
    np.testing.assert_array_equal(out[0, :, 0, 0], expected)
    train = UniformSampleFrames(8, seed=0)
    first = train(data)[0, :, 0, 0]
    train.reseed(0)
    np.testing.assert_array_equal(train(data)[0, :, 0, 0], first)
    with pytest.raises(ValueError, match="p_interval"):
        UniformSampleFrames(8, p_interval=2.0)


_SEE = re.compile(r"^See :func:`~(skelgraph\.data\.\w+)\.(\w+)`")
_CLASSES = [n for n in transforms.__all__ if n not in ("Compose", "Transform")]


@pytest.mark.parametrize("name", _CLASSES)
def test_docstring_refers_to_the_function_it_wraps(name):
    cls = getattr(transforms, name)
    match = _SEE.match(cls.__doc__)
    assert match, f"{name}'s docstring does not start with 'See :func:`~...`'"
    module, function = match.groups()
    wrapped = getattr(getattr(skelgraph.data, module.rsplit(".", 1)[1]), function)
    own = inspect.signature(cls).parameters
    theirs = inspect.signature(wrapped).parameters
    # "names\n    As in the function..." entries of the Parameters section
    for names in re.findall(r"^    (\w+(?:, \w+)*)\n        As in the function", cls.__doc__, re.M):
        for param in names.split(", "):
            assert param in own and param in theirs, f"{name}: {param} is not {function}'s"
