"""MS-TCN's merged fast path against the reference (the branches one by one): float64
forward and backward in both modes, running statistics, explicit (front, back) padding,
the max-pool, autocast and the plan."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from skelgraph import MSTemporalConv
from skelgraph.nn import backend
from skelgraph.nn.batch_norm import groupable, grouped_batch_norm
from skelgraph.nn.ms_tcn_fast import frame_max_pool, multiscale_temporal_conv
from skelgraph.nn.temporal import MSTemporalConvPlan
from tests.layer_helpers import randomize


def run(layer, x, setting, weights):
    """Output, gradients of the input and of every parameter, and the state afterwards."""
    x = x.detach().requires_grad_()
    with backend.implementation(setting):
        assert layer.plan().temporal_conv == {"reference": "reference", "fast": "merged"}[setting]
        out = layer(x)
    grads = torch.autograd.grad((out * weights).sum(), [x, *layer.parameters()])
    return out, grads, copy.deepcopy(layer.state_dict())


@st.composite
def layers(draw):
    """An MS-TCN of any shape the constructor allows, symmetric or causal, with
    non-trivial batch norms."""
    dilations = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=3)))
    width = draw(st.integers(1, 3))
    c_in = draw(st.integers(1, 5))
    residual = draw(st.sampled_from(["none", "auto", "identity", "conv-3"]))
    stride = 1 if residual == "identity" else draw(st.integers(1, 3))
    c_out = width * (len(dilations) + 2)
    if residual == "identity":
        c_in = c_out
    layer = MSTemporalConv(
        c_in,
        c_out,
        kernel_size=draw(st.sampled_from([1, 3, 5])),
        stride=stride,
        dilations=dilations,
        residual=residual != "none",
        residual_kernel_size=3 if residual == "conv-3" else 1,
        causal=draw(st.booleans()),
    )
    return randomize(layer.double(), seed=draw(st.integers(0, 99)))


@settings(max_examples=40, deadline=None)
@given(
    layer=layers(),
    n=st.integers(1, 3),
    t=st.integers(1, 9),  # T = 1 is shorter than every window
    v=st.integers(1, 3),
    train=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_merged_equals_reference_forward_backward_and_running_stats(layer, n, t, v, train, seed):
    assume(not train or n * v > 1)  # batch statistics need two values per channel
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, layer.in_channels, t, v, generator=gen, dtype=torch.float64)
    layer.train(train)
    weights = torch.randn_like(layer(x), dtype=torch.float64)
    results = {}
    for setting in ("reference", "fast"):
        # both from the same running statistics
        results[setting] = run(copy.deepcopy(layer), x, setting, weights)
    (out, grads, state), (fast_out, fast_grads, fast_state) = results.values()
    torch.testing.assert_close(fast_out, out)
    for got, expected in zip(fast_grads, grads):
        torch.testing.assert_close(got, expected)
    for key, value in state.items():  # running mean, variance, num_batches_tracked
        torch.testing.assert_close(fast_state[key], value, msg=key)
    if train:
        assert any(int(v) > 0 for k, v in fast_state.items() if "num_batches" in k)


@settings(max_examples=15, deadline=None)
@given(layer=layers(), t=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_folded_inference_equals_reference(layer, t, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, layer.in_channels, t, 2, generator=gen, dtype=torch.float64)
    layer.eval()
    with torch.no_grad():
        assert layer.plan() == MSTemporalConvPlan("merged", False, True, False)
        fast = layer(x)
        with backend.implementation("reference"):
            expected = layer(x)
    torch.testing.assert_close(fast, expected)


def test_gradcheck_of_the_merged_kernel_in_both_modes():
    torch.manual_seed(0)
    layer = randomize(MSTemporalConv(3, 8, stride=2, dilations=(1, 2))).double()
    names = [name for name, _ in layer.named_parameters()]
    x = torch.randn(2, 3, 5, 2, dtype=torch.float64, requires_grad=True)
    for train in (True, False):
        layer.train(train)

        def fn(inp, *params):
            return torch.func.functional_call(layer, dict(zip(names, params)), (inp,))

        params = [p.detach().clone().requires_grad_() for p in layer.parameters()]
        assert layer.plan().temporal_conv == "merged"
        assert torch.autograd.gradcheck(fn, (x, *params))


def recomposed(layer, x, geometry):
    """The MS-TCN from its modules, branch by branch, with the geometry's explicit (front,
    back) paddings: what a causal layer computes."""
    outs = []
    for branch, d, (front, back) in zip(layer.branches, geometry.dilations, geometry.paddings):
        h = F.pad(F.relu(branch[1](branch[0](x))), (0, 0, front, back))
        conv = branch[3].conv
        y = F.conv2d(h, conv.weight, conv.bias, (geometry.stride, 1), 0, (d, 1))
        outs.append(branch[3].bn(y))
    pool = layer.branches[-2]
    h = F.pad(F.relu(pool[1](pool[0](x))), (0, 0, *geometry.pool_padding), value=-torch.inf)
    outs.append(pool[4](F.max_pool2d(h, (geometry.pool_size, 1), (geometry.stride, 1))))
    one = layer.branches[-1]
    outs.append(one[1](one[0](x)))
    return F.relu(torch.cat(outs, 1) + x)


@pytest.mark.parametrize("train", [True, False])
def test_explicit_front_and_back_padding_as_a_causal_layer_needs(train):
    """All padding in front (a causal MS-TCN): each branch still equals its modules."""
    torch.manual_seed(1)
    layer = randomize(MSTemporalConv(8, 8, dilations=(1, 3))).double().train(train)
    x = torch.randn(2, 8, 7, 3, dtype=torch.float64)
    causal = layer._geometry()._replace(paddings=((2, 0), (6, 0)), pool_padding=(2, 0))
    weights, norms = layer._merged_inputs(folded=False)
    expected = recomposed(copy.deepcopy(layer), x, causal)
    got = multiscale_temporal_conv(x, weights, causal, norms, layer.act)
    torch.testing.assert_close(got, expected)
    if not train:
        with torch.no_grad():
            folded, _ = layer._merged_inputs(folded=True)
            torch.testing.assert_close(
                multiscale_temporal_conv(x, folded, causal, None, layer.act), expected
            )


@settings(max_examples=30, deadline=None)
@given(
    t=st.integers(1, 9),
    size=st.integers(1, 4),
    stride=st.integers(1, 3),
    front=st.integers(0, 3),
    back=st.integers(0, 3),
    seed=st.integers(0, 2**16),
)
def test_frame_max_pool_equals_max_pool2d(t, size, stride, front, back, seed):
    if t + front + back < size:
        return
    gen = torch.Generator().manual_seed(seed)
    # Small integers: many ties, as after a ReLU.
    x = torch.randint(-1, 2, (2, 3, t, 2), generator=gen).double().relu().requires_grad_()
    expected = F.max_pool2d(F.pad(x, (0, 0, front, back), value=-torch.inf), (size, 1), (stride, 1))
    with torch.no_grad():
        torch.testing.assert_close(frame_max_pool(x, size, stride, (front, back)), expected)
    got = frame_max_pool(x, size, stride, (front, back))
    weights = torch.randn_like(expected)
    (grad,) = torch.autograd.grad((got * weights).sum(), x)
    (want,) = torch.autograd.grad((expected * weights).sum(), x)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(grad, want)  # the first maximum of a window, as max_pool2d


def test_frame_max_pool_keeps_one_byte_per_output_for_the_backward():
    x = torch.randn(2, 4, 20, 5, requires_grad=True)
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        out = frame_max_pool(x, 3, 2, (1, 1))
    assert [t.dtype for t in saved] == [torch.uint8]
    assert saved[0].shape == out.shape


def test_grouped_batch_norm_updates_each_module_as_it_would():
    torch.manual_seed(0)
    norms = [randomize(nn.BatchNorm2d(c), seed=c).double() for c in (2, 3)]
    alone = copy.deepcopy(norms)
    y = torch.randn(4, 5, 3, 2, dtype=torch.float64)
    for _ in range(2):
        got = grouped_batch_norm(y, norms)
        expected = torch.cat([alone[0](y[:, :2]), alone[1](y[:, 2:])], 1)
        torch.testing.assert_close(got, expected)
    for a, b in zip(norms, alone):
        for key, value in b.state_dict().items():
            torch.testing.assert_close(a.state_dict()[key], value, msg=key)
    assert int(norms[0].num_batches_tracked) == 2


@pytest.mark.parametrize(
    "change",
    [
        lambda bn: setattr(bn, "momentum", None),  # cumulative average: per-module counts
        lambda bn: setattr(bn, "eps", 1e-3),
        lambda bn: bn.eval(),
        lambda bn: setattr(bn, "track_running_stats", False),
    ],
)
def test_batch_norms_that_cannot_run_as_one_keep_the_reference(change):
    layer = MSTemporalConv(4, 6)
    assert layer.plan().temporal_conv == "merged"
    change(layer.branches[1][1])
    assert not groupable(layer._norms().bottlenecks)
    assert layer.plan().temporal_conv == "reference"
    x = torch.randn(2, 4, 5, 3)
    with backend.implementation("fast"):
        assert layer.plan().temporal_conv == "reference"
        layer(x)  # still runs, by the reference


def test_sync_batch_norm_keeps_the_reference():
    layer = nn.SyncBatchNorm.convert_sync_batchnorm(MSTemporalConv(4, 6))
    assert layer.plan().temporal_conv == "reference"


def test_plan_names_the_kernels_of_each_condition():
    layer = MSTemporalConv(4, 6)
    assert layer.plan() == MSTemporalConvPlan("merged", False, False, True, True)
    with torch.no_grad():
        assert layer.plan() == MSTemporalConvPlan("merged", False, False, True)  # training
        layer.eval()
        assert layer.plan() == MSTemporalConvPlan("merged", False, True, False)
        with backend.implementation("reference"):
            assert layer.plan() == MSTemporalConvPlan("reference", False, False, False)
    assert layer.plan() == MSTemporalConvPlan("merged", False, False, False)  # gradients


def test_tracing_records_the_reference(monkeypatch):
    calls = []
    monkeypatch.setattr(
        "skelgraph.nn.temporal.multiscale_temporal_conv",
        lambda *args, **kwargs: calls.append(1) or multiscale_temporal_conv(*args, **kwargs),
    )
    layer = MSTemporalConv(4, 6).eval()
    x = torch.randn(2, 4, 5, 3)
    layer(x)
    assert calls == [1]
    with backend.implementation("fast"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.trace(layer, (x,), check_trace=False)
    assert calls == [1]


class LargeFloat32(TorchDispatchMode):
    """Records the operations that produce an activation-sized float32 tensor (views
    excluded: a slice of the float32 input allocates and casts nothing)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size, self.found = size, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func._schema.is_mutable or any(r.alias_info for r in func._schema.returns):
            return out  # an in-place operation or a view: no new tensor
        for t in out if isinstance(out, tuple | list) else [out]:
            if isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.numel() >= self.size:
                self.found.append(str(func))
        return out


@pytest.mark.parametrize("amp", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("residual_in", [8, 4], ids=["identity", "projection"])
@pytest.mark.parametrize("train", [True, False])
def test_autocast_stays_in_low_precision_and_matches_float32(amp, residual_in, train):
    torch.manual_seed(0)
    layer = randomize(MSTemporalConv(residual_in, 8, dilations=(1, 2))).train(train)
    x = torch.randn(4, residual_in, 24, 5, requires_grad=True)
    expected = copy.deepcopy(layer)(x)
    mode = LargeFloat32(x[:, :1].numel())
    with torch.autocast("cpu", dtype=amp), mode, torch.set_grad_enabled(train):
        out = layer(x)
    assert out.dtype == amp
    assert mode.found == []  # no float32 activation inside: no round trip
    error = float(((out.float() - expected).norm() / expected.norm()).detach())
    assert error <= 0.03  # tests/test_runtime_matrix.py's autocast tolerance
    if train:
        out.float().sum().backward()
        assert x.grad.dtype == torch.float32
        assert all(p.grad.dtype == torch.float32 for p in layer.parameters())
