"""Batch norm, ReLU and a convolution that save only the norm's input
(skelgraph.nn.norm_relu_conv) against the modules: float64 output, gradients and running
statistics; gradcheck; what it saves; where it keeps the modules; G3D's plan."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from skelgraph import G3DConv, MSTemporalConv
from skelgraph.nn import backend
from skelgraph.nn import norm_relu_conv as nrc_module
from skelgraph.nn.norm_relu_conv import norm_relu_conv
from tests.layer_helpers import TINY


def modules(c, out, conv3d, gen, *, affine=True, bias=True, momentum=0.1, **conv):
    """A float64 batch norm with non-trivial γ, β and running statistics, and a conv."""
    bn = nn.BatchNorm2d(c, affine=affine, momentum=momentum).double()
    with torch.no_grad():
        for tensor in (bn.weight, bn.bias, bn.running_mean):
            if tensor is not None:
                tensor.copy_(torch.randn(c, generator=gen, dtype=torch.float64))
        bn.running_var.copy_(torch.rand(c, generator=gen, dtype=torch.float64) + 0.5)
    kind = nn.Conv3d if conv3d else nn.Conv2d
    return bn, kind(c, out, bias=bias, **conv).double()


def run(x, bn, conv, shift, shape, grad, recompute):
    """Output, gradients (x, shift, then every parameter) and buffers of one step."""
    bn, conv = copy.deepcopy(bn), copy.deepcopy(conv)
    x = x.detach().requires_grad_()
    shift = None if shift is None else shift.detach().requires_grad_()
    z = norm_relu_conv(x, bn, conv, shift, shape=shape, recompute=recompute)
    inputs = [x, *([] if shift is None else [shift]), *bn.parameters(), *conv.parameters()]
    grads = torch.autograd.grad(z, inputs, grad)
    return z, grads, [b.clone() for b in bn.buffers()]


# A batch norm, ReLU and convolution problem: sizes, geometry and options.
PROBLEMS = dict(
    n=st.integers(1, 3),
    c=st.integers(1, 4),
    t=st.integers(2, 6),
    v=st.integers(1, 3),
    tau=st.integers(1, 3),
    conv3d=st.booleans(),
    bias=st.booleans(),
    with_shift=st.booleans(),
    seed=st.integers(0, 2**16),
)


def problem(n, c, t, v, tau, conv3d, bias, with_shift, seed, **bn_options):
    """float64 modules, input x, shift (or None), the shape R is read in (None: x's) and a
    gradient of Z. conv3d: G3D's collapse, (N, C, T, τ·V) read as (N, C, T, τ, V); else a
    dilated, strided, padded temporal convolution."""
    gen = torch.Generator().manual_seed(seed)
    if conv3d:
        conv = {"kernel_size": (1, tau, 1)}
        shape = (n, c, t, tau, v)
    else:
        conv = {"kernel_size": (tau, 1), "stride": (2, 1), "dilation": (2, 1), "padding": (tau, 0)}
        shape = None
    bn, conv = modules(c, 3, conv3d, gen, bias=bias, **bn_options, **conv)
    x = torch.randn(n, c, t, tau * v if conv3d else v, generator=gen, dtype=torch.float64)
    shift = torch.randn(c, generator=gen, dtype=torch.float64) if with_shift else None
    out_shape = conv(torch.zeros(shape or x.shape, dtype=torch.float64)).shape
    grad = torch.randn(out_shape, generator=gen, dtype=torch.float64)
    return bn, conv, x, shift, shape, grad


@settings(max_examples=30, deadline=None)
@given(**PROBLEMS, affine=st.booleans(), momentum=st.sampled_from([0.1, 1.0]))
def test_float64_equals_the_modules(affine, momentum, **sizes):
    bn, conv, x, shift, shape, grad = problem(**sizes, affine=affine, momentum=momentum)
    want = run(x, bn, conv, shift, shape, grad, recompute=False)
    got = run(x, bn, conv, shift, shape, grad, recompute=True)
    torch.testing.assert_close(got[0], want[0])
    assert len(got[1]) == len(want[1])
    for g, w in zip(got[1], want[1]):
        torch.testing.assert_close(g, w)
    for g, w in zip(got[2], want[2]):  # running mean and variance, num_batches_tracked
        torch.testing.assert_close(g, w)


@settings(max_examples=25, deadline=None)
@given(**PROBLEMS, autocast=st.booleans())
def test_bfloat16_equals_the_modules_to_the_bit(autocast, **sizes):
    """On PyTorch's kernel (bfloat16, under autocast with float32 weights or a bfloat16
    module): the output, every gradient and the running statistics are the modules' to
    the bit, so the R rebuilt in the backward is the forward's."""
    bn, conv, x, shift, shape, grad = problem(**sizes)
    weights = torch.float32 if autocast else torch.bfloat16
    bn, conv = bn.to(weights), conv.to(weights)
    x, grad = x.bfloat16(), grad.bfloat16()
    shift = None if shift is None else shift.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        want = run(x, bn, conv, shift, shape, grad, recompute=False)
        with pytest.MonkeyPatch.context() as patch:  # the modules' path is not taken
            patch.setattr(nrc_module, "norm", None)
            got = run(x, bn, conv, shift, shape, grad, recompute=True)
    assert torch.equal(got[0], want[0])
    for g, w in zip(got[1], want[1], strict=True):
        assert g.dtype == w.dtype and torch.equal(g, w)
    for g, w in zip(got[2], want[2], strict=True):
        assert torch.equal(g, w)


def test_a_tensor_the_fewer_passes_refuse_takes_pytorchs_kernel():
    """A float64 input whose planes are not contiguous (the fewer passes need them) is
    recomputed on PyTorch's kernel: the modules' output and gradients, to the bit."""
    gen = torch.Generator().manual_seed(0)
    bn, conv = modules(3, 2, False, gen, kernel_size=(3, 1), padding=(1, 0))
    x = torch.randn(2, 3, 4, 6, dtype=torch.float64, generator=gen).transpose(2, 3)
    grad = torch.randn(2, 2, 6, 4, dtype=torch.float64, generator=gen)
    want = run(x, bn, conv, None, None, grad, recompute=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nrc_module._NormReluConv, "apply", None)  # not the fewer passes
        got = run(x, bn, conv, None, None, grad, recompute=True)
    for g, w in zip([got[0], *got[1], *got[2]], [want[0], *want[1], *want[2]], strict=True):
        assert torch.equal(g, w)


def test_bfloat16_saves_the_norms_input_only():
    gen = torch.Generator().manual_seed(0)
    bn, conv = modules(8, 4, False, gen, kernel_size=(3, 1), padding=(1, 0))
    bn, conv = bn.float(), conv.float()
    x = torch.randn(4, 8, 50, 5, generator=gen).bfloat16().requires_grad_()
    size = x.numel() * x.element_size()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        saved = saved_bytes(lambda: norm_relu_conv(x, bn, conv, recompute=True))
        assert size <= saved < size + 4096  # x, and weights in bfloat16
        assert saved_bytes(lambda: norm_relu_conv(x, bn, conv)) >= 2 * size


def test_gradcheck():
    gen = torch.Generator().manual_seed(0)
    bn, conv = modules(3, 2, True, gen, kernel_size=(1, 2, 1))
    shape = (2, 3, 3, 2, 2)

    def fn(x, shift, gamma, beta, weight, bias):
        names = {"weight": gamma, "bias": beta}
        bn_ = copy.deepcopy(bn)
        conv_ = copy.deepcopy(conv)
        for module, params in ((bn_, names), (conv_, {"weight": weight, "bias": bias})):
            for name, value in params.items():
                delattr(module, name)
                setattr(module, name, value)
        return norm_relu_conv(x, bn_, conv_, shift, shape=shape, recompute=True)

    x = torch.randn(2, 3, 3, 4, dtype=torch.float64, generator=gen) + 0.3
    inputs = [x, torch.randn(3, dtype=torch.float64, generator=gen)]
    inputs += [p.detach().clone() for p in (bn.weight, bn.bias, conv.weight, conv.bias)]
    inputs = [i.requires_grad_() for i in inputs]
    assert torch.autograd.gradcheck(fn, inputs)


def saved_bytes(fn) -> int:
    """Bytes of the distinct storages autograd keeps for the backward of ``fn()``."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def test_it_saves_the_norms_input_and_not_the_relus_output():
    gen = torch.Generator().manual_seed(0)
    bn, conv = modules(8, 4, False, gen, kernel_size=(3, 1), padding=(1, 0))
    x = torch.randn(4, 8, 50, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    size = x.numel() * x.element_size()
    saved = saved_bytes(lambda: norm_relu_conv(x, bn, conv, recompute=True))
    assert size <= saved < size + 4096  # x, and per-channel statistics and weights
    assert saved_bytes(lambda: norm_relu_conv(x, bn, conv)) >= 2 * size  # x and R


@pytest.mark.parametrize(
    "when",
    ["eval", "no-grad", "autocast", "sync-batch-norm", "reflect-padding"],
)  # autocast: a float32 input, which the convolution would read cast to bfloat16
def test_where_it_cannot_recompute_it_runs_the_modules(when, monkeypatch):
    gen = torch.Generator().manual_seed(0)
    padding_mode = "reflect" if when == "reflect-padding" else "zeros"
    bn, conv = modules(3, 2, False, gen, kernel_size=(3, 1), padding=(1, 0))
    conv.padding_mode = padding_mode
    x = torch.randn(2, 3, 6, 4, dtype=torch.float64, generator=gen)
    if when == "eval":
        bn.eval()
    if when == "sync-batch-norm":
        bn = nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    want = conv(torch.relu(copy.deepcopy(bn)(x)))
    monkeypatch.setattr(nrc_module._NormReluConv, "apply", None)  # not called
    monkeypatch.setattr(nrc_module._NativeNormReluConv, "apply", None)
    if when == "autocast":
        x, bn, conv = x.float(), bn.float(), conv.float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            want = conv(torch.relu(copy.deepcopy(bn)(x)))
            got = norm_relu_conv(x, bn, conv, recompute=True)
        torch.testing.assert_close(got, want)
        return
    if when == "sync-batch-norm":  # SyncBatchNorm needs a process group in training
        bn.eval()
        want = conv(torch.relu(copy.deepcopy(bn)(x)))
    with torch.set_grad_enabled(when != "no-grad"):
        got = norm_relu_conv(x, bn, conv, recompute=True)
    torch.testing.assert_close(got, want)


def test_g3d_plan_recomputes_in_eager_float_training_with_relu_only():
    layer = G3DConv(3, 4, TINY, num_scales=2)
    assert layer.plan().recompute_activation
    with backend.implementation("reference"):
        assert not layer.plan().recompute_activation
    with torch.no_grad():
        assert not layer.plan().recompute_activation
    assert not layer.eval().plan().recompute_activation
    assert not G3DConv(3, 4, TINY, num_scales=2, activation="gelu").plan().recompute_activation


def test_bfloat16_recomputes_under_the_fast_setting_only():
    """On PyTorch's kernel the rebuild computes the statistics again (a cost): "auto"
    leaves bfloat16 and autocast to the modules, "fast" takes it."""
    layer = G3DConv(3, 4, TINY, num_scales=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not layer.plan().recompute_activation
        with backend.implementation("fast"):
            assert layer.plan().recompute_activation
    layer = layer.bfloat16()
    assert not layer.plan().recompute_activation
    with backend.implementation("fast"):
        assert layer.plan().recompute_activation


def test_g3d_under_autocast_and_the_fast_setting_keeps_one_window_tensor_less():
    torch.manual_seed(0)
    layer = G3DConv(4, 6, TINY, num_scales=2, window_size=3, embed_channels=8)
    x = torch.randn(3, 4, 12, TINY.num_nodes)
    window = 3 * 8 * 12 * 3 * TINY.num_nodes * 2  # bytes of (N, C_e, T', τV) in bfloat16
    with torch.autocast("cpu", dtype=torch.bfloat16), backend.implementation("fast"):
        recomputed = saved_bytes(lambda: layer(x))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(backend, "recomputes_activation", lambda act, *norms: False)
            kept = saved_bytes(lambda: layer(x))
    assert kept - recomputed >= window - 256


@pytest.mark.parametrize("stride", [1, 2])
def test_g3d_training_keeps_one_window_tensor_less(stride):
    """A G3D layer in training keeps the window tensor's batch-norm input only: its ReLU
    output (N, C_e, T', τ·V) is rebuilt in the backward, strided layers included."""
    torch.manual_seed(0)
    layer = G3DConv(4, 6, TINY, num_scales=2, window_size=3, stride=stride, embed_channels=8)
    x = torch.randn(3, 4, 12, TINY.num_nodes)
    window = 3 * 8 * (12 // stride) * 3 * TINY.num_nodes * 4  # bytes of (N, C_e, T', τV)
    recomputed = saved_bytes(lambda: layer(x))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(backend, "recomputes_activation", lambda act, *norms: False)
        kept = saved_bytes(lambda: layer(x))
    assert kept - recomputed >= window - 256  # less β and the like, a few channels' worth


def test_ms_tcn_training_keeps_no_dilated_branch_relu_output():
    """MS-TCN's dilated branches keep their batch norms' inputs only; a causal layer's
    (padding in front) run as before."""
    torch.manual_seed(0)
    n, t, v, width = 3, 12, 5, 4
    x = torch.randn(n, 6 * width, t, v)
    relu_outputs = 4 * n * width * t * v * 4  # four dilated branches, float32
    for causal, expected in ((False, relu_outputs), (True, 0)):
        layer = MSTemporalConv(6 * width, 6 * width, causal=causal)
        assert layer.plan().recompute_activation
        recomputed = saved_bytes(lambda layer=layer: layer(x))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(backend, "recomputes_activation", lambda act, *norms: False)
            kept = saved_bytes(lambda layer=layer: layer(x))
        assert expected - 1024 <= kept - recomputed <= expected + 1024
