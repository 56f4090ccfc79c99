"""SkeletonSample validates its layout; custom graphs in from_array, read_pose_pickle and
paper_preprocess (PreprocessSpec.for_layout)."""

from __future__ import annotations

import numpy as np
import pytest

from skelgraph import SkeletonGraph
from skelgraph.data import (
    PREPROCESS_SPECS,
    PreprocessSpec,
    SkeletonFormatError,
    SkeletonSample,
    from_array,
    paper_preprocess,
    read_pose_pickle,
    write_pose_pickle,
)

ARM = SkeletonGraph.from_edges(
    [(0, 1), (1, 2), (2, 3)],
    joint_names=["chest", "shoulder", "elbow", "hand"],
    name="arm",
    preprocess={"center": 0, "z_axis": (0, 1), "x_axis": (1, 2)},
)


def test_sample_validates_its_layout():
    assert SkeletonSample(np.zeros((3, 2, 25, 1)), 0, "ntu-rgbd").graph.num_nodes == 25
    assert SkeletonSample(np.zeros((3, 2, 25, 1)), 0, "nturgb+d").graph.name == "ntu-rgbd-pyskl"
    sample = SkeletonSample(np.zeros((3, 2, 4, 1)), None, ARM)
    assert sample.graph is ARM and sample.layout_name == "arm" and "'arm'" in repr(sample)
    with pytest.raises(ValueError, match="unknown layout"):
        SkeletonSample(np.zeros((3, 2, 25, 1)), 0, "kinect-v3")
    with pytest.raises(ValueError, match="has 25 joints but the data has V = 20"):
        SkeletonSample(np.zeros((3, 2, 20, 1)), 0, "ntu-rgbd")
    with pytest.raises(ValueError, match="'arm' has 4 joints"):
        SkeletonSample(np.zeros((3, 2, 5, 1)), 0, ARM)
    with pytest.raises(ValueError, match="SkeletonGraph, got int"):
        SkeletonSample(np.zeros((3, 2, 4, 1)), 0, 4)
    with pytest.raises(ValueError, match=r"\(C, T, V, M\)"):
        SkeletonSample(np.zeros((3, 4, 1)), 0, ARM)


def test_from_array_takes_any_graph():
    rng = np.random.default_rng(0)
    sample = from_array(rng.normal(size=(6, 4, 3)), ARM, label=1)
    assert sample.layout is ARM and sample.shape == (3, 6, 4, 1) and sample.label == 1
    with pytest.raises(SkeletonFormatError, match="'arm' has 4 joints but the array has V = 5"):
        from_array(np.zeros((6, 5, 3)), ARM)
    with pytest.raises(TypeError, match="SkeletonGraph"):
        from_array(np.zeros((6, 4, 3)), 4)


def test_pose_pickle_with_a_custom_graph(tmp_path):
    rng = np.random.default_rng(1)
    samples = {f"s{i}": from_array(rng.normal(size=(5, 4, 3)), ARM, label=i) for i in range(3)}
    path = tmp_path / "arm.pkl"
    write_pose_pickle(samples, path, {"train": ["s0", "s1"], "val": ["s2"]}, dtype=np.float16)
    got = read_pose_pickle(path, "train", layout=ARM)
    assert [s.meta["frame_dir"] for s in got] == ["s0", "s1"] and got[0].layout is ARM
    np.testing.assert_allclose(got[1].data, samples["s1"].data, atol=5e-3)
    other = SkeletonGraph.from_edges([(0, 1), (1, 2)])
    with pytest.raises(SkeletonFormatError, match="has 3 joints but 'keypoint' has V = 4"):
        read_pose_pickle(path, layout=other)


def test_preprocess_spec_for_layout():
    assert PreprocessSpec.for_layout("coco") is PREPROCESS_SPECS["coco-17"]
    assert (
        PreprocessSpec.for_layout(SkeletonGraph.from_layout("ntu-rgbd"))
        == PREPROCESS_SPECS["ntu-rgbd"]
    )
    assert PreprocessSpec.for_layout(ARM) == PreprocessSpec(0, (0, 1), (1, 2))
    spec = PreprocessSpec((5, 6), ((11, 12), (5, 6)), (5, 6))
    assert PreprocessSpec.from_dict(spec.to_dict()) == spec
    assert PreprocessSpec.for_layout(spec) is spec
    with pytest.raises(ValueError, match="no preprocessing joints"):
        PreprocessSpec.for_layout(SkeletonGraph.from_edges([(0, 1)], name="two"))
    with pytest.raises(ValueError, match="no preprocessing joints for layout"):
        PreprocessSpec.for_layout("kinect-v3")
    with pytest.raises(ValueError, match="needs 'center'"):
        PreprocessSpec.from_dict({"z_axis": [0, 1]})


def test_paper_preprocess_on_a_custom_graph():
    rng = np.random.default_rng(2)
    data = rng.normal(size=(3, 6, 4, 1)).astype(np.float32)
    out = paper_preprocess(data, ARM, length=None)
    np.testing.assert_allclose(
        out, paper_preprocess(data, PreprocessSpec(0, (0, 1), (1, 2)), length=None)
    )
    np.testing.assert_allclose(out[:, :, 0], 0, atol=1e-6)  # centred on joint 0
    centre_only = SkeletonGraph.from_edges([(0, 1), (1, 2), (2, 3)], preprocess={"center": 1})
    two_d = paper_preprocess(data, centre_only, length=None, dims=2)
    np.testing.assert_allclose(two_d[:2, :, 1], 0, atol=1e-6)
    np.testing.assert_array_equal(two_d[2], data[2])
    with pytest.raises(ValueError, match="z_axis and x_axis"):
        paper_preprocess(data, centre_only, length=None)
