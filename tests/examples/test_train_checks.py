"""The training data's augmentation (rotation then scaling, each from its own random stream)
and its check of labels against the class count (examples/msg3d/datasets.py)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the plot extra is not installed")

from examples.msg3d import train as train_script
from examples.msg3d.datasets import augmentation, check_labels
from skelgraph.data import Pipeline, SampleDataset, from_array


def test_rotation_and_scale_draw_from_independent_streams():
    cfg = train_script.parse_args(["--rotate-degrees", "10", "--scale", "0.2", "--seed", "3"])
    rotate, scale = augmentation(cfg).transforms
    assert (rotate.max_degrees, scale.low, scale.high) == (10.0, 0.8, 1.2)
    # one generator state for both would tie each item's scale to its rotation angle
    assert rotate.seed != scale.seed


def test_no_augmentation_when_both_are_off():
    cfg = train_script.parse_args(["--rotate-degrees", "0", "--scale", "0"])
    assert augmentation(cfg) is None
    data = np.ones((3, 4, 20, 1), np.float32)
    cfg = train_script.parse_args(["--rotate-degrees", "0", "--scale", "0.5"])
    out = augmentation(cfg)(data)
    assert 0.5 <= out[0, 0, 0, 0] <= 1.5 and np.allclose(out, out[0, 0, 0, 0])


def test_labels_must_be_below_the_class_count():
    samples = [from_array(np.zeros((4, 20, 3)), "kinect-v1-20", label=k) for k in (0, 2, 3)]
    pipeline = Pipeline("kinect-v1-20", channels=3, frames=4, num_persons=1, preprocess=False)
    dataset = SampleDataset(samples, pipeline, train=False, ids=["a", "b", "c"])
    check_labels(dataset, 4, "train")  # 0..3: all inside
    with pytest.raises(SystemExit, match=r"train sample .* has label 3, outside the 3 classes"):
        check_labels(dataset, 3, "train")  # label 3 == num_classes: outside
