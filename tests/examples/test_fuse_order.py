"""fuse.py matches the samples of its score files by id, whatever their order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from examples.msg3d import fuse as fuse_script
from skelgraph import fuse_streams
from skelgraph.metrics import classification_metrics

IDS = np.array(["a", "b", "c", "d", "e"])
LABELS = np.array([0, 1, 2, 1, 0])


def _scores(path, order, logits, labels=LABELS):
    np.savez(path, ids=IDS[order], labels=labels[order], logits=logits[order], stream=path.stem)
    return path


def test_files_in_other_orders_are_fused_sample_by_sample(tmp_path):
    rng = np.random.default_rng(0)
    joint, bone = rng.normal(size=(2, 5, 3)).astype(np.float32)
    order = np.array([3, 0, 4, 2, 1])
    files = [
        _scores(tmp_path / "joint.npz", np.arange(5), joint),
        _scores(tmp_path / "bone.npz", order, bone),
    ]
    result = fuse_script.fuse_files(files, [2, 1])
    fused = fuse_streams([torch.from_numpy(joint), torch.from_numpy(bone)], [2, 1])
    expected = classification_metrics(fused, LABELS, 3)
    for key in ("top1", "top5", "mean_class_accuracy"):
        assert result["fused"][key] == pytest.approx(expected[key])
    bone_alone = classification_metrics(torch.from_numpy(bone), LABELS, 3)
    assert result["streams"][1]["top1"] == pytest.approx(bone_alone["top1"])


def test_files_with_other_labels_for_the_same_samples_are_refused(tmp_path):
    logits = np.zeros((5, 3), np.float32)
    first = _scores(tmp_path / "joint.npz", np.arange(5), logits)
    other = _scores(tmp_path / "bone.npz", np.arange(5), logits, labels=(LABELS + 1) % 3)
    with pytest.raises(SystemExit, match="other labels"):
        fuse_script.fuse_files([first, other])
