"""train.py's augmentation (rotation then scaling, each from its own random stream) and its
check of labels against the class count."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

pytest.importorskip("matplotlib", reason="the plot extra is not installed")

from examples.msg3d import train as train_script


def test_rotation_and_scale_draw_from_independent_streams():
    cfg = train_script.parse_args(["--rotate-degrees", "10", "--scale", "0.2", "--seed", "3"])
    rotate, scale = train_script.augmentation(cfg).transforms
    assert (rotate.max_degrees, scale.low, scale.high) == (10.0, 0.8, 1.2)
    # one generator state for both would tie each item's scale to its rotation angle
    assert rotate.seed != scale.seed


def test_no_augmentation_when_both_are_off():
    cfg = train_script.parse_args(["--rotate-degrees", "0", "--scale", "0"])
    assert train_script.augmentation(cfg) is None
    data = np.ones((3, 4, 20, 1), np.float32)
    cfg = train_script.parse_args(["--rotate-degrees", "0", "--scale", "0.5"])
    out = train_script.augmentation(cfg)(data)
    assert 0.5 <= out[0, 0, 0, 0] <= 1.5 and np.allclose(out, out[0, 0, 0, 0])


def test_labels_must_be_below_the_class_count():
    dataset = TensorDataset(torch.zeros(3, 1))
    dataset.labels = np.array([0, 2, 3])  # where train.py's datasets keep their labels
    dataset.ids = ["a", "b", "c"]
    train_script.check_labels(dataset, 4, "train")  # 0..3: all inside
    with pytest.raises(SystemExit, match=r"train sample .* has label 3, outside the 3 classes"):
        train_script.check_labels(dataset, 3, "train")  # label 3 == num_classes: outside
