"""A multi-clip batch is the clips themselves, one per row: ``predict --num-clips k``
averages the predictions of k real clips, not of channels mixed across clips."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from examples.msg3d.model import MSG3DNet
from skelgraph import SkeletonGraph
from skelgraph.data import (
    SkeletonSample,
    bone_features,
    motion_features,
    uniform_sample_indices,
)
from skelgraph.data.pipeline import FitPersons, Pipeline


def _sample(t: int = 23, persons: int = 1) -> SkeletonSample:
    rng = np.random.default_rng(0)
    # distinct values everywhere, so any mix-up of channels, frames or persons shows
    data = rng.standard_normal((3, t, 25, persons)).astype(np.float32)
    return SkeletonSample(data, 0, "ntu-rgbd", {})


def _single_clips(pipeline: Pipeline, sample: SkeletonSample, num_clips: int) -> list:
    """Each clip made on its own: pyskl's test indices of clip i, persons fitted."""
    x = pipeline.prepare(sample)
    inds = uniform_sample_indices(x.shape[1], pipeline.frames, num_clips=num_clips, test_mode=True)
    fit = FitPersons(pipeline.num_persons)
    return [torch.from_numpy(fit(x[:, row])) for row in inds]


@pytest.mark.parametrize("num_clips", [1, 2, 5])
@pytest.mark.parametrize("stream", ["joint", "bone-motion"])
def test_multi_clip_batch_rows_are_the_single_clips(num_clips, stream):
    pipeline = Pipeline("ntu-rgbd", channels=3, frames=6, num_persons=2, stream=stream)
    sample = _sample()
    batch = pipeline.model_input(sample, num_clips)
    assert batch.shape == (num_clips, 3, 6, 25, 2)
    for i, clip in enumerate(_single_clips(pipeline, sample, num_clips)):
        torch.testing.assert_close(batch[i], clip, rtol=0, atol=0, msg=f"clip {i}")


def test_multi_clip_predictions_are_the_single_clip_predictions():
    torch.manual_seed(0)
    model = MSG3DNet(
        4, "ntu-rgbd", num_gcn_scales=2, num_g3d_scales=2, windows=[(3, 1)], channels=[12, 12]
    ).eval()
    pipeline = Pipeline("ntu-rgbd", channels=3, frames=8, num_persons=2)
    sample = _sample(t=30)
    with torch.no_grad():
        together = model(pipeline.model_input(sample, 3))
        alone = [model(clip[None])[0] for clip in _single_clips(pipeline, sample, 3)]
    for i, logits in enumerate(alone):
        torch.testing.assert_close(together[i], logits, msg=f"clip {i}")
    assert not torch.allclose(alone[0], alone[1])  # the clips differ, so the check has teeth


def test_without_uniform_sampling_every_clip_is_the_whole_sequence():
    pipeline = Pipeline("ntu-rgbd", channels=3, frames=6, num_persons=2, sampling="resample")
    sample = _sample()
    batch = pipeline.model_input(sample, 3)
    whole = torch.from_numpy(FitPersons(2)(pipeline.prepare(sample)))
    assert batch.shape == (3, *whole.shape)
    for row in batch:
        torch.testing.assert_close(row, whole, rtol=0, atol=0)


@pytest.mark.parametrize("stream", ["joint", "bone", "joint-motion", "bone-motion"])
@pytest.mark.parametrize(("layout", "dims", "channels"), [("ntu-rgbd", 3, 3), ("coco-17", 2, 3)])
def test_prepared_streams_are_the_features_of_the_joints(stream, layout, dims, channels):
    # the stream from the joint stream with skelgraph's feature functions; for 2-D data
    # with scores (x, y, score) the score is averaged, not differenced
    graph = SkeletonGraph.from_layout(layout)
    data = np.random.default_rng(1).standard_normal((channels, 9, graph.num_nodes, 2))
    sample = SkeletonSample(data.astype(np.float32), 0, layout, {})
    kwargs = dict(channels=channels, dims=dims, frames=4, preprocess=False, normalize_2d=False)
    joints = Pipeline(layout, stream="joint", **kwargs).prepare(sample)
    score = 2 if dims == 2 else None
    expected = joints
    if stream.startswith("bone"):
        expected = bone_features(expected, graph, score_channel=score)
    if stream.endswith("motion"):
        expected = motion_features(expected, score_channel=score)
    got = Pipeline(layout, stream=stream, **kwargs).prepare(sample)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_extra_persons_are_cut_from_the_end():
    pipeline = Pipeline("ntu-rgbd", channels=3, frames=6, num_persons=2)
    sample = _sample(persons=3)
    batch = pipeline.model_input(sample, 1)
    x = pipeline.prepare(sample)
    inds = uniform_sample_indices(x.shape[1], 6, test_mode=True)[0]
    torch.testing.assert_close(batch[0], torch.from_numpy(x[:, inds][..., :2]), rtol=0, atol=0)
