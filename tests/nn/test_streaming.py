"""Step-wise evaluation (skelgraph.nn.streaming): exactness against the offline forward in
any chunking, delays against brute force, clean state, per-frame cost, errors."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from skelgraph import G3DConv, MSTemporalConv, MultiWindowG3D, TemporalConv
from skelgraph.nn import backend
from skelgraph.nn.streaming import Aligner, RunningMean, TemporalWindow
from tests.layer_helpers import LAYERS, TINY, instance, randomize

NAMES = sorted(LAYERS)


def chunked(x: torch.Tensor, sizes: list[int]) -> list[torch.Tensor]:
    """x split along time into chunks of the given sizes (zeros allowed), the rest last."""
    chunks, start = [], 0
    for size in sizes:
        chunks.append(x[:, :, start : start + size])
        start += chunks[-1].shape[2]
    if start < x.shape[2]:
        chunks.append(x[:, :, start:])
    return chunks


def stream(layer, x: torch.Tensor, sizes: list[int] | None = None) -> torch.Tensor:
    """The concatenated forward_steps outputs and flush() of x fed in chunks (default:
    frame by frame), from a clean state."""
    sizes = [1] * x.shape[2] if sizes is None else sizes
    outs = [layer.forward_steps(chunk) for chunk in chunked(x, sizes)]
    return torch.cat([*outs, layer.flush()], dim=2)


def assert_causal(layer, x: torch.Tensor, expected: torch.Tensor) -> None:
    """A causal layer's output on every prefix of x (L frames) is the first ⌈L / s⌉ frames
    of its output on x, and its stream fed frame by frame emits output frame t on input
    frame s·t, leaving nothing for flush()."""
    s, frames = layer.stride, x.shape[2]
    for length in range(1, frames + 1):
        prefix = layer(x[:, :, :length])
        torch.testing.assert_close(prefix, expected[:, :, : -(-length // s)], rtol=0, atol=1e-12)
    ready = [layer.forward_steps(x[:, :, t : t + 1]).shape[2] for t in range(frames)]
    assert ready == [int(t % s == 0) for t in range(frames)]
    assert layer.flush().shape[2] == 0 and layer.delay == 0


def float64(name: str):
    layer, x = instance(name)
    return layer.double(), x.double()


def addmm_inplace(self_shape, mat1, mat2, *args, out_shape=None, **kwargs):
    """FlopCounterMode counts torch.addmm but not its in-place form (the project-first
    kernel's window products): the same formula."""
    return 2 * mat1[0] * mat1[1] * mat2[1]


def flops(fn) -> int:
    mapping = {torch.ops.aten.addmm_: addmm_inplace}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        fn()
    return counter.get_total_flops()


# ---------------------------------------------------------------- exactness
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("sizes", [None, [2, 0, 3, 1], [100]], ids=["frames", "uneven", "whole"])
def test_stream_equals_forward(name, sizes, implementation):
    layer, x = float64(name)
    expected = layer(x)
    out = stream(layer, x, sizes)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_stream_equals_forward_in_float32(name):
    layer, x = instance(name)
    torch.testing.assert_close(stream(layer, x), layer(x), rtol=1e-5, atol=1e-5)


def test_multi_window_g3d_aligns_its_pathways(implementation):
    torch.manual_seed(0)
    windows = ((3, 1), (5, 1), (3, 3))
    layer = randomize(MultiWindowG3D(3, 4, TINY, windows, num_scales=2, stride=2)).double()
    layer.eval()
    x = torch.randn(2, 3, 11, 5, dtype=torch.float64)
    assert layer.delay == max(p.delay for p in layer.pathways) == 3
    torch.testing.assert_close(stream(layer, x, [3, 1, 4]), layer(x), rtol=1e-12, atol=1e-12)


def test_long_stream_matches_offline_windows_in_the_middle():
    """Far from both ends the stream's output frames are those of any clip containing
    their receptive field: the state carries the history, not padding."""
    layer, x = float64("block")
    x = torch.randn(1, 3, 64, 5, dtype=torch.float64)
    torch.testing.assert_close(stream(layer, x, [5] * 13), layer(x), rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    tau=st.integers(1, 5),
    dilation=st.integers(1, 3),
    stride=st.integers(1, 3),
    frames=st.integers(1, 12),
    sizes=st.lists(st.integers(0, 4), max_size=8),
    fast=st.booleans(),
    causal=st.booleans(),
)
def test_g3d_geometries_and_chunkings(tau, dilation, stride, frames, sizes, fast, causal):
    torch.manual_seed(tau + 7 * dilation)
    layer = G3DConv(
        2, 3, TINY, window_size=tau, window_dilation=dilation, num_scales=2, stride=stride,
        causal=causal,
    )  # fmt: skip
    layer = randomize(layer).double().eval()
    x = torch.randn(1, 2, frames, 5, dtype=torch.float64)
    with backend.implementation("fast" if fast else "reference"):
        expected = layer(x)
        out = stream(layer, x, sizes)
        if causal:
            assert_causal(layer, x, expected)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    kernel=st.integers(1, 5),  # symmetric: odd only (even kernels are refused)
    dilation=st.integers(1, 3),
    stride=st.integers(1, 3),
    frames=st.integers(1, 12),
    sizes=st.lists(st.integers(0, 4), max_size=8),
    causal=st.booleans(),
)
def test_temporal_conv_geometries_and_chunkings(kernel, dilation, stride, frames, sizes, causal):
    assume(causal or kernel % 2)
    torch.manual_seed(kernel)
    layer = TemporalConv(2, 3, kernel, stride, dilation, causal=causal)
    layer = randomize(layer).double().eval()
    x = torch.randn(2, 2, frames, 3, dtype=torch.float64)
    expected = layer(x)
    out = stream(layer, x, sizes)
    assert out.shape == expected.shape == (2, 3, -(-frames // stride), 3)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    if causal:
        assert_causal(layer, x, expected)


@settings(max_examples=25, deadline=None)
@given(
    dilations=st.lists(st.integers(1, 4), min_size=1, max_size=3),
    kernel=st.sampled_from([1, 3, 5]),
    stride=st.integers(1, 3),
    residual=st.sampled_from([False, True, 3]),
    same_width=st.booleans(),
    frames=st.integers(1, 12),
    sizes=st.lists(st.integers(0, 4), max_size=8),
    causal=st.booleans(),
)
def test_ms_tcn_geometries_and_chunkings(
    dilations, kernel, stride, residual, same_width, frames, sizes, causal
):
    torch.manual_seed(len(dilations) + kernel)
    width = len(dilations) + 2
    c_in = width if same_width else 3
    layer = MSTemporalConv(
        c_in, width, kernel_size=kernel, stride=stride, dilations=dilations,
        residual=bool(residual), residual_kernel_size=3 if residual == 3 else 1, causal=causal,
    )  # fmt: skip
    layer = randomize(layer).double().eval()
    x = torch.randn(2, c_in, frames, 3, dtype=torch.float64)
    expected = layer(x)
    torch.testing.assert_close(stream(layer, x, sizes), expected, rtol=1e-12, atol=1e-12)
    if causal:
        assert_causal(layer, x, expected)


def test_max_pool_window_pads_with_minus_infinity():
    """A window padded with -inf gives max_pool2d's padding exactly, even on negative
    inputs, where zero padding would not."""
    x = -torch.rand(1, 2, 7, 3) - 1
    for stride in (1, 2, 3):
        window = TemporalWindow(2, stride, 1, 1, value=float("-inf"))
        op = lambda w: F.max_pool2d(w, (3, 1), (stride, 1))  # noqa: B023, E731
        outs = [window.apply(x[:, :, t : t + 1], op) for t in range(7)]
        outs.append(window.apply(None, op))
        out = torch.cat([o for o in outs if o is not None], dim=2)
        torch.testing.assert_close(out, F.max_pool2d(x, (3, 1), (stride, 1), (1, 0)))


def test_window_state_is_bounded_by_its_span_after_a_large_chunk():
    """The buffer grows for a long chunk and shrinks back once the stream goes on frame by
    frame: at most 2·(span + 1) frames are held, never the stream's length."""
    window, ones = TemporalWindow(4), torch.ones(3, 1, 5, 1)
    op = lambda w: F.conv2d(w, ones, groups=3)  # noqa: E731  (sums of 5 frames)
    x = torch.randn(2, 3, 300, 5)
    outs = [window.apply(x[:, :, :200], op)]
    outs += [window.apply(x[:, :, t : t + 1], op) for t in range(200, 300)]
    frame_bytes = 2 * 3 * 5 * x.element_size()
    assert window.nbytes <= 2 * (4 + 1) * frame_bytes
    outs.append(window.apply(None, op))
    offline = op(F.pad(x, (0, 0, 2, 2)))
    torch.testing.assert_close(torch.cat(outs, dim=2), offline)


def test_aligner_releases_common_frames():
    aligner = Aligner()
    a, b = torch.randn(1, 1, 5, 1), torch.randn(1, 1, 5, 1)
    assert aligner.push([a[:, :, :3], None]) is None
    out = aligner.push([a[:, :, 3:], b[:, :, :2]])
    assert [o.shape[2] for o in out] == [2, 2]
    out2 = aligner.push([None, b[:, :, 2:]])
    torch.testing.assert_close(torch.cat([out[0], out2[0]], 2), a)
    torch.testing.assert_close(torch.cat([out[1], out2[1]], 2), b)


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(st.tuples(*[st.integers(0, 3)] * 3), max_size=10))
def test_aligner_releases_each_frame_once_when_all_pathways_have_it(steps):
    """Three pathways pushing chunks of any sizes: after each push, exactly the frames
    that every pathway has produced are out, in order, each once."""
    frames = torch.arange(3 * 30.0).view(3, 1, 1, 30, 1).expand(3, 2, 3, 30, 4)
    aligner, pushed, released = Aligner(), [0, 0, 0], [[], [], []]
    for sizes in steps:
        parts = [frames[i, :, :, pushed[i] : pushed[i] + k] if k else None
                 for i, k in enumerate(sizes)]  # fmt: skip
        pushed = [p + k for p, k in zip(pushed, sizes)]
        out = aligner.push(parts)
        done = sum(r.shape[2] for r in released[0])
        assert (out is None) == (min(pushed) == done)
        for i, o in enumerate(out or []):
            assert o.shape[2] == min(pushed) - done
            released[i].append(o)
    for i in range(3):
        got = torch.cat(released[i], 2) if released[i] else frames[i, :, :, :0]
        torch.testing.assert_close(got, frames[i, :, :, : min(pushed)], rtol=0, atol=0)


@pytest.mark.parametrize("window", [1, 3, 4])
def test_running_mean_over_the_last_window_frames(window):
    x = torch.randn(2, 3, 11, dtype=torch.float64)
    mean = RunningMean(window)
    out = torch.cat([mean.push(x[:, :, :4]), mean.push(x[:, :, 4:5]), mean.push(x[:, :, 5:])], 2)
    for t in range(11):
        expected = x[:, :, max(0, t - window + 1) : t + 1].mean(2)
        torch.testing.assert_close(out[:, :, t], expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("window", [1, 3, 4])
def test_running_mean_of_windows_with_nan_and_inf_is_the_plain_mean(window):
    """Non-finite values give the mean they give a plain mean (NaN; ±inf; NaN for both
    infinities) only while the window holds them."""
    x = torch.randn(2, 3, 17, dtype=torch.float64)
    x[0, 0, 2], x[0, 1, 5], x[1, 2, 6], x[1, 2, 7] = torch.nan, torch.inf, torch.inf, -torch.inf
    x[:, :, 11] = torch.nan  # a whole frame
    mean = RunningMean(window)
    out = torch.cat([mean.push(x[:, :, :4]), mean.push(x[:, :, 4:9]), mean.push(x[:, :, 9:])], 2)
    for t in range(17):
        expected = x[:, :, max(0, t - window + 1) : t + 1].mean(2)
        torch.testing.assert_close(out[:, :, t], expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert out[:, :, 11 + window :].isfinite().all()


# ---------------------------------------------------------------- delay
def first_ready(layer, x) -> list[int]:
    """For each output frame, the input frame whose arrival made it ready (frame by frame)."""
    ready = []
    for t in range(x.shape[2]):
        ready += [t] * layer.forward_steps(x[:, :, t : t + 1]).shape[2]
    layer.clean_state()
    return ready


@pytest.mark.parametrize("name", NAMES)
def test_delay_is_the_first_output_frames_dependence(name):
    layer, x = float64(name)
    with torch.no_grad():  # ReLUs kept active, so that no dependence hides behind a zero
        for module in layer.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.bias += 3
    x = torch.randn(1, x.shape[1], 3 * layer.delay + 8, 5, dtype=torch.float64)
    delay, stride = layer.delay, layer.stride
    # Brute force, offline: output frame 0 depends on input frame `delay`, not beyond.
    base = layer(x)[:, :, 0]
    later = x.clone()
    later[:, :, delay + 1 :] += 10 * torch.randn_like(later[:, :, delay + 1 :])
    torch.testing.assert_close(layer(later)[:, :, 0], base, rtol=0, atol=0)
    changed = x.clone()
    changed[:, :, delay] += torch.randn_like(changed[:, :, delay])
    assert (layer(changed)[:, :, 0] - base).abs().max() > 1e-9
    # Step-wise: output frame t is emitted on the arrival of input frame stride·t + delay.
    ready = first_ready(layer, x)
    assert ready == [stride * t + delay for t in range(len(ready))]
    assert len(ready) >= 2


@pytest.mark.parametrize(
    ("make", "delay"),
    [
        (lambda: G3DConv(2, 2, TINY, window_size=3, num_scales=4), 1),
        (lambda: G3DConv(2, 2, TINY, window_size=5, num_scales=4), 2),
        (lambda: G3DConv(2, 2, TINY, window_size=3, window_dilation=3, stride=2, num_scales=4), 3),
        (lambda: TemporalConv(2, 2, 3), 1),
        (lambda: TemporalConv(2, 2, 3, dilation=4), 4),
        (lambda: TemporalConv(2, 2, 4, dilation=4, causal=True), 0),
        (lambda: G3DConv(2, 2, TINY, window_size=5, stride=2, num_scales=4, causal=True), 0),
        (lambda: MSTemporalConv(6, 6, stride=2, causal=True), 0),
        (lambda: MSTemporalConv(6, 6), 4),
        (lambda: MSTemporalConv(6, 6, stride=2, dilations=(1, 2, 3, 4)), 4),
        (lambda: MSTemporalConv(3, 3, dilations=(1,)), 1),
    ],
)
def test_delay_values(make, delay):
    assert make().delay == delay


# ---------------------------------------------------------------- state
def test_clean_state_starts_a_new_stream():
    layer, x = float64("block")
    layer.forward_steps(torch.randn(2, 3, 4, 5, dtype=torch.float64))
    layer.clean_state()
    torch.testing.assert_close(stream(layer, x), layer(x), rtol=1e-12, atol=1e-12)


def test_flush_cleans_the_state_and_another_stream_follows():
    layer, x = float64("tcn")
    first = stream(layer, x, [3])
    other = torch.randn(1, 4, 9, 5, dtype=torch.float64)  # another batch size is fine now
    torch.testing.assert_close(stream(layer, other, [2, 2]), layer(other), rtol=0, atol=1e-12)
    torch.testing.assert_close(first, layer(x), rtol=0, atol=1e-12)


def test_streaming_adds_nothing_to_the_state_dict_and_copies():
    layer, x = float64("block")
    keys = list(layer.state_dict())
    layer.forward_steps(x[:, :, :3])
    assert list(layer.state_dict()) == keys
    twin = copy.deepcopy(layer)  # the state travels with a copy, independent
    rest = torch.cat([layer.forward_steps(x[:, :, 3:]), layer.flush()], 2)
    rest_twin = torch.cat([twin.forward_steps(x[:, :, 3:]), twin.flush()], 2)
    torch.testing.assert_close(rest, rest_twin, rtol=0, atol=0)


def test_zero_frame_chunks_give_zero_frames():
    layer, x = float64("g3d")
    out = layer.forward_steps(x[:, :, :0])
    assert out.shape == (2, 4, 0, 5)
    assert layer.forward_steps(x[:, :, :1]).shape == (2, 4, 0, 5)  # delay 1: not yet


# ---------------------------------------------------------------- cost
@pytest.mark.parametrize("name", NAMES)
def test_frame_by_frame_costs_what_the_clip_costs(name, implementation):
    """Streaming a clip frame by frame does the offline products once each, no more:
    the same windows (at the stride) through the same kernel. Bound: 1.01× the offline
    count (the stream skips the few padded windows past the end that the offline
    project-first kernel computes and drops, so it is usually below 1×)."""
    layer, _ = instance(name)
    x = torch.randn(2, layer.in_channels, 24, 5)
    with torch.no_grad():
        offline = flops(lambda: layer(x))
    online = flops(lambda: stream(layer, x))
    assert online <= 1.01 * offline, (online, offline)
    assert online >= 0.8 * offline, (online, offline)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("name", NAMES)
def test_training_mode_is_refused(name):
    layer, x = instance(name)
    layer.train()
    with pytest.raises(RuntimeError, match=r"inference only: call \.eval\(\)"):
        layer.forward_steps(x)
    with pytest.raises(RuntimeError, match="inference only"):
        layer.flush()


@pytest.mark.parametrize(
    ("name", "shape", "match"),
    [
        ("gcn", (2, 3, 1, 4), "V=5 joints"),
        ("g3d", (2, 2, 1, 5), "C=3 input channels"),
        ("tcn", (2, 4, 1), r"shape \(N, C, T, V\)"),
        ("block", (0, 3, 1, 5), "at least one sample, got"),
    ],
)
def test_bad_chunks_raise_clear_errors(name, shape, match):
    layer, _ = instance(name)
    with pytest.raises(ValueError, match=match):
        layer.forward_steps(torch.randn(*shape))


def test_a_layer_inside_left_in_training_is_refused():
    """The layers inside a block skip the per-chunk input check, not the training one: a
    batch norm in training mode would use each chunk's statistics."""
    block, _ = instance("block")
    block.tcn.train()
    with pytest.raises(RuntimeError, match=r"MSTemporalConv\.forward_steps is inference only"):
        block.forward_steps(torch.randn(2, 3, 40, 5))  # past the block's delay


def test_a_layer_inside_checks_its_first_chunk():
    """A layer inside a block is checked on its stream's first chunk: one of another dtype
    (converted alone) is refused by name, not by a matrix product deep inside."""
    block, _ = instance("block")
    block.tcn.double()
    x = torch.randn(2, 3, 40, 5)
    with pytest.raises(TypeError, match=r"MSTemporalConv expects .* torch\.float64, got"):
        for t in range(x.shape[2]):  # until the block's delay has passed
            block.forward_steps(x[:, :, t : t + 1])


def test_a_chunk_of_another_stream_is_refused():
    layer, x = instance("tcn")
    layer.forward_steps(x[:, :, :2])
    with pytest.raises(ValueError, match="call clean_state"):
        layer.forward_steps(x[:1, :, 2:])
    with pytest.raises(TypeError, match=r"float32, got torch\.float64"):  # not its dtype
        layer.forward_steps(x[:, :, 2:].double())
    with torch.autocast("cpu", dtype=torch.bfloat16), pytest.raises(ValueError, match="clean_st"):
        layer.forward_steps(x[:, :, 2:].bfloat16())  # its dtype under autocast, another stream


def test_flush_without_frames_is_refused():
    layer, x = instance("g3d")
    with pytest.raises(RuntimeError, match="no frame since the last clean_state"):
        layer.flush()
    layer.forward_steps(x[:, :, :0])
    with pytest.raises(RuntimeError, match="no frame since the last clean_state"):
        layer.flush()


def test_steps_run_without_gradients():
    layer, x = instance("gcn")
    out = layer.forward_steps(x.requires_grad_())
    assert not out.requires_grad


@settings(max_examples=30, deadline=None)
@given(
    span=st.integers(0, 6),
    stride=st.integers(1, 3),
    chunks=st.lists(st.integers(0, 4), max_size=8),
)
def test_channels_first_window_gives_the_same_windows_as_one_matrix(span, stride, chunks):
    """A window whose frames are channels first in memory hands over the same windows
    in any chunking (two parts pushed at once included), and the frames of each are one
    (frames·C, N·V) matrix: a view, not a copy."""
    x = torch.randn(2, 3, 12, 4)
    plain = TemporalWindow(span, stride)
    first = TemporalWindow(span, stride, channels_first=True)
    for chunk in [*chunked(x, chunks), None]:
        parts = None if chunk is None else [chunk[:, :1], chunk[:, 1:]]
        a = plain.finish() if chunk is None else plain.push(chunk)
        b = first.finish() if chunk is None else first.push(parts)
        assert (a is None) == (b is None)
        if a is None or b is None:
            continue
        torch.testing.assert_close(b, a, rtol=0, atol=0)
        rows = b.permute(2, 1, 0, 3).reshape(-1, 2 * 4)
        assert rows.data_ptr() == b.data_ptr() and rows.is_contiguous()
