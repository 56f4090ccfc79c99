"""A split's samples come in the order of the annotations, as pyskl filters them, not in
the order of the split's list nor sorted by id."""

from __future__ import annotations

import numpy as np

from skelgraph.data import SkeletonSample, read_pose_pickle, write_pose_pickle


def test_split_members_in_annotation_order_when_ids_are_not_sorted(tmp_path):
    rng = np.random.default_rng(0)
    ids = ["walk", "clap", "sit", "jump"]  # annotation order, neither sorted nor reversed
    samples = {
        name: SkeletonSample(rng.normal(size=(3, 4, 25, 1)).astype(np.float32), i, "ntu-rgbd")
        for i, name in enumerate(ids)
    }
    path = tmp_path / "s.pkl"
    write_pose_pickle(samples, path, {"train": ["sit", "walk", "clap"]})
    train = read_pose_pickle(path, "train")
    assert [s.meta["frame_dir"] for s in train] == ["walk", "clap", "sit"]
    assert [s.label for s in train] == [0, 1, 2]
