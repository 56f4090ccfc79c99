"""The causal MS-G3D Net (``causal=True``): no delay, its stream exact on every prefix, the
every-frame predictions, and the symmetric checkpoint loading into it."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from examples.msg3d.model import MSG3DNet
from skelgraph.nn import backend
from tests.examples.test_msg3d_streaming import clip, pooled_offline, tiny_model
from tests.nn.test_streaming import chunked


def every_frame(model: MSG3DNet, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """The stream's predictions for x fed in chunks, one per input frame."""
    model.stream_every_frame = True
    return torch.cat([model.forward_steps(c) for c in chunked(x, sizes)], dim=2)


@settings(max_examples=5, deadline=None)
@given(
    frames=st.integers(1, 10),
    sizes=st.lists(st.integers(0, 5), max_size=6),
    windows=st.sampled_from([((3, 1),), ((3, 1), (5, 2))]),
    fast=st.booleans(),
)
def test_causal_stream_equals_the_model_on_every_prefix(frames, sizes, windows, fast):
    """After input frame t the stream's prediction is model(x[:, :, : t + 1]), for every
    t and any chunking, on both kernels; flush() gives model(x)."""
    model, x = tiny_model(causal=True, windows=windows), clip(frames)
    assert model.delay == 0
    with backend.implementation("fast" if fast else "reference"):
        predictions = every_frame(model, x, sizes)
        assert predictions.shape == (2, 10, frames)
        for t in range(frames):
            expected = model(x[:, :, : t + 1])
            torch.testing.assert_close(predictions[:, :, t], expected, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(model.flush(), model(x), rtol=1e-10, atol=1e-12)


def test_causal_predictions_come_on_every_stride_th_frame():
    """Without every-frame predictions, the causal stream predicts on input frames 0, 4,
    8, ... (output frame j at input frame 4j), each that of the model on the prefix."""
    model, x = tiny_model(causal=True), clip(13)
    for t in range(13):
        out = model.forward_steps(x[:, :, t : t + 1])
        assert out.shape[2] == int(t % 4 == 0)
        if out.shape[2]:
            torch.testing.assert_close(out[:, :, 0], model(x[:, :, : t + 1]), rtol=1e-10, atol=0)


def test_a_shorter_window_pools_the_last_output_frames_of_the_prefix(window=5):
    """W shorter than the stream: the prediction after frame t is fc of the mean of the
    last ⌈W / 4⌉ output frames of the model's last block on x[:, :, : t + 1]."""
    model, x = tiny_model(causal=True, stream_window=window), clip(13)
    predictions = every_frame(model, x, [3] * 5)
    width = -(-window // 4)
    for t in range(13):
        frames = pooled_offline(model, x[:, :, : t + 1])
        expected = model.fc(frames[:, :, -width:].mean(2))
        torch.testing.assert_close(predictions[:, :, t], expected, rtol=1e-10, atol=1e-12)


def test_every_frame_holds_the_symmetric_streams_latest_prediction():
    """Symmetric model: nothing before frame `delay`, then for frame i the prediction of
    output frame ⌊(i - delay) / 4⌋, as the one-per-output-frame stream gives it."""
    model, x = tiny_model(), clip(90)
    per_output = torch.cat([model.forward_steps(c) for c in chunked(x, [7] * 13)], dim=2)
    model.clean_state()
    held = every_frame(model, x, [5, 0, 1, 30, 2] * 4)
    delay = model.delay
    assert held.shape[2] == 90 - delay
    for i in range(delay, 90):
        torch.testing.assert_close(held[:, :, i - delay], per_output[:, :, (i - delay) // 4])
    assert model.forward_steps(x[:, :, :0]).shape == (2, 10, 0)


def test_symmetric_checkpoint_loads_into_the_causal_model():
    """Same parameters and buffers: a symmetric state dict loads strictly; the causal
    model is another function of them (windows moved back), with no delay."""
    symmetric, causal = tiny_model(), tiny_model(causal=True)
    assert symmetric.delay == 72 and causal.delay == 0
    shapes = {k: v.shape for k, v in symmetric.state_dict().items()}
    assert shapes == {k: v.shape for k, v in causal.state_dict().items()}
    causal.load_state_dict(symmetric.state_dict(), strict=True)
    x = clip(16)
    assert (causal(x) - symmetric(x)).abs().max() > 1e-6
    assert "causal=True" in repr(causal.blocks[0]) and "causal" not in repr(symmetric.blocks[0])


def test_presets_accept_causal_and_it_must_be_a_bool():
    model = MSG3DNet.from_preset("nw-ucla-small", causal=True)
    assert model.causal and model.delay == 0
    assert all(block.causal for block in model.blocks)
    with pytest.raises(TypeError, match="causal must be a bool, got 1"):
        MSG3DNet.from_preset("nw-ucla-small", causal=1)
    with pytest.raises(TypeError, match="stream_every_frame must be a bool"):
        MSG3DNet.from_preset("nw-ucla-small", stream_every_frame="yes")
