"""Batch norm in training mode in fewer passes (skelgraph.nn.batch_norm) against
nn.BatchNorm2d: float64 forward, backward, running statistics and eval mode over several
steps, with and without a shift; gradcheck; float32 accuracy as PyTorch's; where it keeps
PyTorch's kernel; autocast; the plans' rule."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from skelgraph import DisentangledGraphConv, G3DConv, MSTemporalConv
from skelgraph.nn import backend
from skelgraph.nn import batch_norm as batch_norm_module
from skelgraph.nn.batch_norm import batch_norm, norm, reducible
from tests.layer_helpers import TINY


def step(bn, x, shift, grad, fast):
    """One training step's output and gradients (x, shift, γ, β): skelgraph's ``norm``
    or the module applied to ``x + shift``."""
    x = x.detach().requires_grad_()
    shift = None if shift is None else shift.detach().requires_grad_()
    if fast:
        out = norm(bn, x, shift, fast=True)
    else:
        out = bn(x if shift is None else x + shift.view(-1, 1, 1))
    inputs = [x, *([] if shift is None else [shift]), *bn.parameters()]
    return out, torch.autograd.grad(out, inputs, grad)


def module(c, gen, **options):
    """An nn.BatchNorm2d in float64 with non-trivial γ, β and running statistics."""
    bn = nn.BatchNorm2d(c, **options).double()
    with torch.no_grad():
        for tensor in (bn.weight, bn.bias, bn.running_mean):
            if tensor is not None:
                tensor.copy_(torch.randn(c, generator=gen, dtype=torch.float64))
        if bn.running_var is not None:
            bn.running_var.copy_(torch.rand(c, generator=gen, dtype=torch.float64) + 0.5)
    return bn


@settings(max_examples=25, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 4), st.integers(1, 3)),
    affine=st.booleans(),
    track=st.booleans(),
    with_shift=st.booleans(),
    channel_slice=st.booleans(),
    momentum=st.sampled_from([0.1, 0.5, 1.0]),
    offset=st.sampled_from([0.0, 3.0, 1e3]),
    seed=st.integers(0, 2**16),
)
def test_float64_equals_batch_norm_2d(
    shape, affine, track, with_shift, channel_slice, momentum, offset, seed
):
    n, c, t, v = shape
    if n * t * v < 2:
        return  # one value per channel: an error either way (test below)
    gen = torch.Generator().manual_seed(seed)
    fast = module(c, gen, momentum=momentum, affine=affine, track_running_stats=track)
    reference = copy.deepcopy(fast)
    shift = torch.randn(c, generator=gen, dtype=torch.float64) if with_shift else None
    for _ in range(3):  # the running statistics move with momentum, step after step
        x = torch.randn(shape, generator=gen, dtype=torch.float64) * 2 + offset
        if channel_slice:  # the same values, the channels of a wider tensor
            x = torch.cat([x, torch.zeros_like(x[:, :1])], 1)[:, :c]
        grad = torch.randn(shape, generator=gen, dtype=torch.float64)
        assert reducible(x, True)
        got, got_grads = step(fast, x, shift, grad, fast=True)
        want, want_grads = step(reference, x, shift, grad, fast=False)
        torch.testing.assert_close(got, want)
        for g, w in zip(got_grads, want_grads):
            torch.testing.assert_close(g, w)
        for key, value in reference.state_dict().items():
            torch.testing.assert_close(fast.state_dict()[key], value, msg=key)
    fast.eval(), reference.eval()  # the running statistics (or, untracked, the batch's)
    torch.testing.assert_close(
        step(fast, x, shift, grad, True), step(reference, x, shift, grad, False)
    )


def test_gradcheck():
    gen = torch.Generator().manual_seed(0)
    inputs = [
        torch.randn(3, 4, 5, 2, generator=gen, dtype=torch.float64) + 2,
        torch.randn(4, generator=gen, dtype=torch.float64),  # shift
        torch.rand(4, generator=gen, dtype=torch.float64) + 0.5,  # γ
        torch.randn(4, generator=gen, dtype=torch.float64),  # β
    ]
    inputs = [t.requires_grad_() for t in inputs]

    def fn(x, shift, weight, bias):
        return batch_norm(x, None, None, weight, bias, True, 0.1, 1e-5, shift=shift, fast=True)

    assert torch.autograd.gradcheck(fn, inputs)


def test_second_derivatives_raise_instead_of_being_wrong():
    x = torch.randn(3, 4, 5, 2, dtype=torch.float64, requires_grad=True)
    out = batch_norm(x, None, None, None, None, True, 0.1, 1e-5, fast=True)
    (grad,) = torch.autograd.grad(out.square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match=r"once_differentiable|double backward"):
        grad.sum().backward()


@pytest.mark.parametrize("offset", [0.0, 5.0, 100.0])
def test_float32_as_accurate_as_pytorch(offset):
    """The variance around the mean, as PyTorch's two passes: sums of squares less the
    squared mean lose digits as soon as the mean is a few standard deviations."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(8, 16, 50, 25, generator=gen) + offset * torch.rand(1, 16, 1, 1, generator=gen)
    exact = F.batch_norm(x.double(), None, None, None, None, True, 0.1, 1e-5)
    ours = batch_norm(x, None, None, None, None, True, 0.1, 1e-5, fast=True)
    pytorch = F.batch_norm(x, None, None, None, None, True, 0.1, 1e-5)
    assert (ours.double() - exact).abs().max() <= 4 * (pytorch.double() - exact).abs().max()


@pytest.mark.parametrize(
    "x",
    [
        torch.randn(2, 4, 5, 4)[:, :, :3],  # a slice of frames
        torch.randn(2, 4, 3, 4, dtype=torch.bfloat16),
        torch.randn(2, 4, 3, 4).transpose(2, 3),
        torch.randn(4, 2, 3, 4).transpose(0, 1),  # samples not contiguous
    ],
    ids=["frames", "bfloat16", "transposed", "batch-last"],
)
def test_tensors_it_cannot_reduce_keep_pytorch(x, monkeypatch):
    assert not reducible(x, True)
    monkeypatch.setattr(batch_norm_module._TrainingBatchNorm, "apply", None)  # not called
    bn = nn.BatchNorm2d(4).to(x.dtype)
    torch.testing.assert_close(norm(copy.deepcopy(bn), x, fast=True), bn(x))


def test_one_value_per_channel_raises_as_batch_norm_2d():
    assert not reducible(torch.randn(1, 4, 1, 1), True)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        norm(nn.BatchNorm2d(4), torch.randn(1, 4, 1, 1), fast=True)


def test_float32_input_under_autocast_stays_float32():
    x = torch.randn(4, 3, 5, 2) + 1
    bn = nn.BatchNorm2d(3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = norm(copy.deepcopy(bn), x, fast=True)
        want = bn(x)
    assert got.dtype == want.dtype == torch.float32
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: DisentangledGraphConv(3, 4, TINY, 3),
        lambda: G3DConv(3, 4, TINY, num_scales=2),
        lambda: MSTemporalConv(6, 6),
    ],
    ids=["gcn", "g3d", "tcn"],
)
def test_plans_take_it_in_eager_training_only(layer):
    layer = layer()
    assert layer.plan().fast_batch_norm
    with backend.implementation("reference"):
        assert not layer.plan().fast_batch_norm
    assert not layer.eval().plan().fast_batch_norm  # running statistics
    layer.train()
    with torch.no_grad():
        assert layer.plan().fast_batch_norm  # batch statistics, gradients or not
