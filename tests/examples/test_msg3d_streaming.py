"""MS-G3D Net step-wise (online) inference: predictions per ready frame, flush() equal to
forward(clip), delays of the presets, cost per frame, errors."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from examples.msg3d.model import PRESETS, MSG3DNet
from tests.layer_helpers import randomize
from tests.nn.test_streaming import addmm_inplace, chunked

TINY = dict(channels=(6, 12, 18), num_gcn_scales=3, num_g3d_scales=2, num_persons=2)


def tiny_model(**overrides) -> MSG3DNet:
    torch.manual_seed(0)
    model = MSG3DNet.from_preset("nw-ucla-small", **{**TINY, **overrides})
    return randomize(model, seed=1).double().eval()


def clip(frames: int) -> torch.Tensor:
    return torch.randn(2, 3, frames, 20, 2, generator=torch.Generator().manual_seed(frames),
                       dtype=torch.float64)  # fmt: skip


def pooled_offline(model: MSG3DNet, x: torch.Tensor) -> torch.Tensor:
    """Per-frame features of the last block, offline: (N, C, T_out), summed over M and V."""
    n, m = x.shape[0], model.num_persons
    y = model._embed(x)
    for block in model.blocks:
        y = block(y)
    return y.view(n, m, *y.shape[1:]).sum((1, 4)) / (m * y.shape[-1])


@pytest.mark.parametrize("sizes", [None, [5, 0, 7, 1, 2], [64]], ids=["frames", "uneven", "whole"])
def test_flush_gives_the_logits_of_forward(sizes, implementation):
    model, x = tiny_model(), clip(23)
    steps = [model.forward_steps(c) for c in chunked(x, [1] * 23 if sizes is None else sizes)]
    logits = model.flush()
    torch.testing.assert_close(logits, model(x), rtol=1e-12, atol=1e-12)
    assert all(s.shape[:2] == (2, 10) for s in steps)


@pytest.mark.parametrize("window", [300, 8, 5])
def test_each_prediction_pools_the_last_window_of_ready_frames(window):
    """Prediction j = fc(mean of the last ⌈W / 4⌉ output frames up to j), brute force from
    the offline last-block output of the whole stream."""
    model, x = tiny_model(stream_window=window), clip(100)
    predictions = torch.cat([model.forward_steps(c) for c in chunked(x, [3] * 34)], dim=2)
    frames = pooled_offline(model, x)  # (N, C, 25)
    width = -(-window // 4)
    assert predictions.shape == (2, 10, 25 - model.delay // 4)  # the rest comes with flush
    for j in range(predictions.shape[2]):
        mean = frames[:, :, max(0, j - width + 1) : j + 1].mean(2)
        torch.testing.assert_close(predictions[:, :, j], model.fc(mean), rtol=1e-10, atol=1e-12)
    model.flush()


def test_clean_state_and_a_second_stream():
    model = tiny_model()
    model.forward_steps(clip(9))
    model.clean_state()
    x = clip(17)
    for c in chunked(x, [4] * 5):
        model.forward_steps(c)
    torch.testing.assert_close(model.flush(), model(x), rtol=1e-12, atol=1e-12)
    y = clip(6)  # flush cleaned the state: another stream follows
    model.forward_steps(y)
    torch.testing.assert_close(model.flush(), model(y), rtol=1e-12, atol=1e-12)


def test_get_and_set_state_resume_the_model_stream():
    model, x = tiny_model(), clip(23)
    for c in chunked(x[:, :, :10], [4, 6]):
        model.forward_steps(c)
    saved = model.get_state()
    assert type(saved[""]) is MSG3DNet.State and saved[""].frames == 10
    predictions, logits = model.forward_steps(x[:, :, 10:]), model.flush()
    torch.testing.assert_close(logits, model(x), rtol=1e-12, atol=1e-12)
    model.set_state(saved)
    torch.testing.assert_close(model.forward_steps(x[:, :, 10:]), predictions, rtol=0, atol=0)
    torch.testing.assert_close(model.flush(), logits, rtol=0, atol=0)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_delay_of_the_presets(preset):
    model = MSG3DNet.from_preset(preset)
    assert model.delay == 72 and model.stride == 4  # 12 + 1·20 + 2·20 input frames


def test_first_prediction_arrives_after_delay_frames():
    model = tiny_model()
    x = clip(model.delay + 9)
    counts = [model.forward_steps(x[:, :, t : t + 1]).shape[2] for t in range(x.shape[2])]
    assert [t for t, c in enumerate(counts) if c] == [72, 76, 80]


def test_frame_by_frame_costs_what_the_clip_costs():
    """Multiply-adds of streaming a clip frame by frame: those of forward(clip), within
    1.01×, plus the classifier for each of the ⌈T / 4⌉ predictions (the pooling's adds are
    not counted: no matrix products)."""
    model = MSG3DNet.from_preset("nw-ucla-small").eval()
    x = torch.randn(1, 3, 48, 20, 1)
    mapping = {torch.ops.aten.addmm_: addmm_inplace}
    with FlopCounterMode(display=False, custom_mapping=mapping) as offline, torch.no_grad():
        model(x)
    with FlopCounterMode(display=False, custom_mapping=mapping) as online:
        for t in range(48):
            model.forward_steps(x[:, :, t : t + 1])
        model.flush()
    classifier = 2 * model.fc.in_features * model.fc.out_features
    total = offline.get_total_flops()
    assert online.get_total_flops() <= 1.01 * total + 12 * classifier
    assert online.get_total_flops() >= 0.8 * total


def test_training_mode_and_bad_chunks_are_refused():
    model = tiny_model()
    with pytest.raises(ValueError, match=r"\(N, C=3, T, V=20, M=2\)"):
        model.forward_steps(torch.randn(1, 3, 2, 20, 1, dtype=torch.float64))
    with pytest.raises(ValueError, match="stream_window must be >= 1, got 0"):
        MSG3DNet.from_preset("nw-ucla-small", stream_window=0)
    model.train()
    with pytest.raises(RuntimeError, match="inference only"):
        model.forward_steps(clip(2))


def test_setting_the_window_cleans_the_stream():
    model = tiny_model()
    model.forward_steps(clip(80))
    model.stream_window = 40
    assert model.stream_window == 40
    with pytest.raises(RuntimeError, match="no frame since the last clean_state"):
        model.flush()


def test_a_nan_frame_affects_only_the_predictions_whose_window_holds_it():
    """A NaN input frame spoils the last block's output frames that depend on it (72 input
    frames either side), and the predictions whose pooling window holds one of those;
    every later prediction is the clean stream's again (the pool's running sum once kept
    the NaN until its next exact recomputation). Inf: ``test_running_mean_...``."""
    model, x = tiny_model(stream_window=40), clip(300)
    x[:, :, 40, 3] = torch.nan
    predictions = torch.cat([model.forward_steps(c) for c in chunked(x, [20] * 15)], dim=2)
    frames = pooled_offline(model, x)
    width = 10  # ⌈40 / 4⌉ output frames
    spoiled = []
    for j in range(predictions.shape[2]):
        window = frames[:, :, max(0, j - width + 1) : j + 1]
        if not window.isfinite().all():
            spoiled.append(j)
            assert not predictions[:, :, j].isfinite().all()
        else:
            expected = model.fc(window.mean(2))
            torch.testing.assert_close(predictions[:, :, j], expected, rtol=1e-10, atol=1e-12)
    assert spoiled == list(range(38))  # output frames 0..28 spoiled, and 9 windows after
    assert predictions.shape[2] == 57
    model.flush()
