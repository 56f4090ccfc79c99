"""predict.py without training: a checkpoint made in the test, clip averaging of
probabilities, and clip and top-k counts of 0 refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from examples.msg3d import predict as predict_script
from examples.msg3d.model import MSG3DNet
from skelgraph.data import SkeletonSample
from skelgraph.data.pipeline import Pipeline

OVERRIDES = {"num_classes": 4, "channels": [12, 12], "num_gcn_scales": 3, "num_g3d_scales": 2}


def _predictor() -> predict_script.Predictor:
    torch.manual_seed(0)
    model = MSG3DNet.from_preset("nw-ucla-small", **OVERRIDES)
    pipeline = Pipeline("kinect-v1-20", channels=3, frames=8, num_persons=1)
    checkpoint = {
        "model": model.state_dict(),
        "model_config": {"preset": "nw-ucla-small", "overrides": OVERRIDES},
        "pipeline": pipeline.to_dict(),
    }
    return predict_script.Predictor(checkpoint)


def test_probabilities_average_each_clips_softmax():
    predictor = _predictor()
    data = np.random.default_rng(0).standard_normal((3, 30, 20, 1)).astype(np.float32)
    sample = SkeletonSample(data, 0, "kinect-v1-20", {})
    probs = predictor.probabilities(sample, num_clips=3)
    with torch.no_grad():
        logits = predictor.model(predictor.pipeline.model_input(sample, 3))
    torch.testing.assert_close(probs, logits.softmax(-1).mean(0))
    assert float(probs.sum()) == pytest.approx(1.0)


@pytest.mark.parametrize("option", ["--num-clips", "--top-k"])
def test_zero_clips_or_top_k_are_refused(tmp_path, option, capsys):
    with pytest.raises(SystemExit) as exit_info:
        predict_script.main(["--checkpoint", str(tmp_path / "none.pt"), "x.npy", option, "0"])
    assert exit_info.value.code == 2
    assert f"argument {option}: expected an integer in 1.." in capsys.readouterr().err
