"""The project-first path against independent computations: an explicit loop and an
explicit unfold for the sliding-window product, plain einsum for the windowed graph
convolution (values and gradients), the multiply-adds PyTorch's flop counter measures, the
layers' ``"auto"`` rule, and bfloat16 autocast."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from skelgraph import G3DConv
from skelgraph.nn.functional import unfold_windows
from skelgraph.nn.project_first import (
    aggregate_windows,
    frame_projection,
    multiply_adds,
    project_frames,
    project_then_aggregate,
    sliding_window_matmul,
    window_blocks,
)
from tests.layer_helpers import TINY

f64 = torch.float64


# ---------------------------------------------------------------- sliding_window_matmul
def sliding_by_loop(z, weight, rows, stride, dilation):
    """Y[r] = sum_j Z[j·d + s·r] @ W[j], rows past the end of z counting as zero."""
    y = torch.zeros(rows, weight.shape[2], dtype=z.dtype)
    for r in range(rows):
        for j in range(weight.shape[0]):
            i = j * dilation + stride * r
            if i < z.shape[0]:
                y[r] += z[i] @ weight[j]
    return y


def sliding_by_unfold(z, weight, rows, stride, dilation):
    """The same by gathering the (R, τ, P) windows of a zero-padded z (differentiable)."""
    tau = weight.shape[0]
    padded = F.pad(z, (0, 0, 0, dilation * (tau - 1)))
    index = stride * torch.arange(rows)[:, None] + dilation * torch.arange(tau)[None, :]
    return torch.einsum("rjp,jpq->rq", padded[index], weight)


@settings(max_examples=30, deadline=None)
@given(
    tau=st.integers(1, 4),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 3),
    rows=st.integers(1, 8),
    p=st.integers(1, 4),
    q=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_sliding_window_matmul_equals_explicit_loop(tau, stride, dilation, rows, p, q, seed):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(rows * stride, p, generator=gen, dtype=f64)
    weight = torch.randn(tau, p, q, generator=gen, dtype=f64)
    got = sliding_window_matmul(z, weight, rows, stride, dilation)
    assert got.shape == (rows, q)
    torch.testing.assert_close(
        got, sliding_by_loop(z, weight, rows, stride, dilation), rtol=1e-12, atol=1e-12
    )


GEOMETRIES = [(3, 1, 1, 5), (3, 2, 2, 4), (2, 1, 2, 3), (4, 3, 1, 3)]  # τ, s, d, R


@pytest.mark.parametrize(("tau", "stride", "dilation", "rows"), GEOMETRIES)
def test_sliding_window_matmul_passes_gradcheck(tau, stride, dilation, rows):
    gen = torch.Generator().manual_seed(tau + 10 * stride + 100 * dilation)
    z = torch.randn(rows * stride, 3, generator=gen, dtype=f64, requires_grad=True)
    weight = torch.randn(tau, 3, 2, generator=gen, dtype=f64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda z, w: sliding_window_matmul(z, w, rows, stride, dilation), (z, weight)
    )


@pytest.mark.parametrize(("tau", "stride", "dilation", "rows"), GEOMETRIES)
def test_sliding_window_matmul_gradients_equal_explicit_unfold(tau, stride, dilation, rows):
    gen = torch.Generator().manual_seed(7)
    z = torch.randn(rows * stride, 3, generator=gen, dtype=f64, requires_grad=True)
    weight = torch.randn(tau, 3, 2, generator=gen, dtype=f64, requires_grad=True)
    cotangent = torch.randn(rows, 2, generator=gen, dtype=f64)
    got = torch.autograd.grad(
        sliding_window_matmul(z, weight, rows, stride, dilation), (z, weight), cotangent
    )
    expected = torch.autograd.grad(
        sliding_by_unfold(z, weight, rows, stride, dilation), (z, weight), cotangent
    )
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-12)
    # Each input alone (the backward skips the gradient nobody asked for).
    (gz,) = torch.autograd.grad(
        sliding_window_matmul(z, weight.detach(), rows, stride, dilation), z, cotangent
    )
    (gw,) = torch.autograd.grad(
        sliding_window_matmul(z.detach(), weight, rows, stride, dilation), weight, cotangent
    )
    torch.testing.assert_close(gz, expected[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gw, expected[1], rtol=1e-12, atol=1e-12)


def test_sliding_window_matmul_rejects_bad_shapes():
    z, weight = torch.randn(6, 2), torch.randn(3, 2, 4)
    with pytest.raises(ValueError, match=r"expected z \(rows, P\).*got \(1, 6, 2\)"):
        sliding_window_matmul(z[None], weight, 6)
    with pytest.raises(ValueError, match=r"weight \(τ, P, Q\), got \(6, 2\) and \(2, 4\)"):
        sliding_window_matmul(z, weight[0], 6)
    with pytest.raises(ValueError, match=r"got \(6, 2\) and \(3, 3, 4\)"):
        sliding_window_matmul(z, torch.randn(3, 3, 4), 6)
    with pytest.raises(ValueError, match="rows·stride = 4 rows, got 6"):
        sliding_window_matmul(z, weight, 2, stride=2)
    with pytest.raises(ValueError, match="rows·stride = 5 rows, got 6"):
        sliding_window_matmul(z, weight, 5)


# ---------------------------------------------------------------- project_then_aggregate
def graph_conv_by_einsum(x, adjacency, weight, tau, dilation, stride):
    """Unfold the windows, aggregate K·C channels (scale-major), then project."""
    n, c = x.shape[:2]
    k = adjacency.shape[0]
    windows = unfold_windows(x, tau, dilation, stride)  # (N, C, T', τV)
    aggregated = torch.einsum("kvu,nctu->nkctv", adjacency, windows)
    aggregated = aggregated.reshape(n, k * c, *windows.shape[2:])
    return torch.einsum("ok,nktv->notv", weight, aggregated)


# (τ, d, s, T, K): the MS-GCN case, even τ, T not divisible by s, span past T, T = 1.
CASES = [
    (1, 1, 1, 4, 1),
    (1, 1, 1, 4, 3),
    (2, 1, 1, 5, 2),
    (3, 2, 2, 7, 2),
    (5, 1, 3, 8, 3),
    (4, 3, 2, 5, 2),
    (3, 1, 2, 1, 2),
]


def random_problem(tau, k, t, seed):
    gen = torch.Generator().manual_seed(seed)
    n, c, e, v = 2, 2, 3, 3
    x = torch.randn(n, c, t, v, generator=gen, dtype=f64, requires_grad=True)
    adjacency = torch.randn(k, tau * v, tau * v, generator=gen, dtype=f64, requires_grad=True)
    weight = torch.randn(e, k * c, generator=gen, dtype=f64, requires_grad=True)
    return x, adjacency, weight


@pytest.mark.parametrize(("tau", "dilation", "stride", "t", "k"), CASES)
def test_project_then_aggregate_equals_einsum_reference(tau, dilation, stride, t, k):
    x, adjacency, weight = random_problem(tau, k, t, seed=tau * t + k)
    got = project_then_aggregate(x, adjacency, weight, tau, dilation, stride)
    expected = graph_conv_by_einsum(x, adjacency, weight, tau, dilation, stride)
    assert got.shape == expected.shape == (2, 3, -(-t // stride), tau * 3)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    cotangent = torch.randn(expected.shape, generator=torch.Generator().manual_seed(1), dtype=f64)
    inputs = (x, adjacency, weight)
    for g, e in zip(
        torch.autograd.grad(got, inputs, cotangent),
        torch.autograd.grad(expected, inputs, cotangent),
    ):
        torch.testing.assert_close(g, e, rtol=0, atol=1e-10)


# ---------------------------------------------------------------- the two stages alone
@pytest.mark.parametrize(("tau", "dilation", "stride", "t", "k"), [c for c in CASES if c[3] > 1])
def test_stages_on_unpadded_frames_equal_the_einsum_reference(tau, dilation, stride, t, k):
    """project_frames, then aggregate_windows on frames without padding: the windows that
    lie wholly inside the frames, as the reference computes them from unpadded windows."""
    x, adjacency, weight = random_problem(tau, k, t + dilation * (tau - 1), seed=t + k)
    z = project_frames(x, frame_projection(weight, k), k)
    got = aggregate_windows(z, window_blocks(adjacency, tau), dilation, stride)
    windows = unfold_windows(x, tau, dilation, stride, padding=False)
    aggregated = torch.einsum("kvu,nctu->nkctv", adjacency, windows)
    expected = torch.einsum("ok,nktv->notv", weight, aggregated.flatten(1, 2))
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_stages_name_expected_and_received_shapes():
    x, adjacency, weight = random_problem(3, 2, 6, seed=0)
    with pytest.raises(ValueError, match=r"expected theta \(K·C', C\) with K=2, C=2"):
        project_frames(x, frame_projection(weight, 2)[:, :1], 2)
    z = project_frames(x, frame_projection(weight, 2), 2)
    with pytest.raises(ValueError, match=r"at least d\(τ-1\)\+1 = 3 frames"):
        aggregate_windows(z[:, :, :2], window_blocks(adjacency, 3))


# ---------------------------------------------------------------- multiply_adds
def addmm_inplace_flop(self_shape, a_shape, b_shape, *args, **kwargs):
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def count_flops(fn):
    # The counter has no formula for the in-place aten.addmm_ (it would count 0), which
    # the sliding window uses for positions j ≥ 1: give it addmm's.
    counter = FlopCounterMode(
        display=False, custom_mapping={torch.ops.aten.addmm_: addmm_inplace_flop}
    )
    with counter, torch.no_grad():
        fn()
    return counter.get_total_flops(), counter.get_flop_counts()["Global"]


# (C, C_e, K, τ, d, s, T)
FLOP_SHAPES = [(2, 3, 2, 3, 1, 1, 6), (3, 2, 3, 5, 2, 2, 7), (2, 4, 1, 2, 1, 3, 5)]


@pytest.mark.parametrize(("c", "e", "k", "tau", "dilation", "stride", "t"), FLOP_SHAPES)
def test_multiply_adds_match_the_flop_counter(c, e, k, tau, dilation, stride, t):
    v = TINY.num_nodes
    layer = G3DConv(c, 4, TINY, window_size=tau, window_dilation=dilation, num_scales=k,
                    stride=stride, embed_channels=e)  # fmt: skip
    x = torch.randn(1, c, t, v)
    macs = {
        order: multiply_adds(
            order, c, e, k, v, frames=t, window_size=tau, dilation=dilation, stride=stride
        )
        for order in ("aggregate-first", "project-first")
    }
    out_frames = -(-t // stride)

    # Aggregate-first: one (C·T', τV) @ (τV, K·τV) product and the 1×1 convolution.
    total, per_op = count_flops(
        lambda: layer.proj(layer.aggregate(unfold_windows(x, tau, dilation, stride)))
    )
    aten = torch.ops.aten
    assert per_op[aten.mm] == 2 * c * out_frames * tau * v * k * tau * v
    assert per_op[aten.convolution] == 2 * out_frames * tau * v * k * c * e
    assert total == 2 * macs["aggregate-first"]

    # Project-first. The counter measures what the code computes, which is less than
    # multiply_adds' model by one O(span) term, constant in T: window position j reads
    # z[j·d :: s], whose last ⌊j·d/s⌋ of the R rows fall past the end of z (they count as
    # zero and are not multiplied).
    adjacency = layer.aggregate.adjacency()
    weight = layer.proj.weight.flatten(1)
    total, per_op = count_flops(
        lambda: project_then_aggregate(x, adjacency, weight, tau, dilation, stride)
    )
    span = dilation * (tau - 1)
    padded = stride * (out_frames + -(-span // stride))  # padded frames per channel
    rows = e * padded // stride  # R, output rows of the window product (batch 1)
    projection = k * e * c * t * v  # (K·C', C) @ (C, T·V)
    tail = [j * dilation // stride for j in range(tau)]  # rows of position j past z's end
    positions = [(rows - tail[j]) * (k * v) * (tau * v) for j in range(tau)]
    assert per_op.get(aten.addmm_, 0) == 2 * sum(positions[1:])  # positions j ≥ 1
    assert total == 2 * (projection + sum(positions))
    assert macs["project-first"] == projection + sum(positions) + sum(tail) * (k * v * tau * v)


def test_multiply_adds_rejects_unknown_order():
    with pytest.raises(ValueError, match="'aggregate-first' or 'project-first', got 'fast'"):
        multiply_adds("fast", 3, 4, 2, 5)


# ---------------------------------------------------------------- autocast
def test_autocast_bfloat16_is_close_to_float32():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 7, 4, generator=gen, requires_grad=True)
    adjacency = torch.rand(2, 12, 12, generator=gen) / 6
    weight = torch.randn(5, 6, generator=gen, requires_grad=True) / 3
    expected = project_then_aggregate(x, adjacency, weight, 3, 1, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = project_then_aggregate(x, adjacency, weight, 3, 1, 2)
    assert got.dtype == torch.bfloat16
    assert expected.dtype == torch.float32
    torch.testing.assert_close(got.float(), expected, rtol=0.1, atol=0.1)
    gx, gw = torch.autograd.grad(got.float().sum(), (x, weight))
    assert gx.dtype == gw.dtype == torch.float32
    ex, ew = torch.autograd.grad(expected.sum(), (x, weight))
    torch.testing.assert_close(gx, ex, rtol=0.1, atol=0.1)
    torch.testing.assert_close(gw, ew, rtol=0.1, atol=0.1)


def test_project_then_aggregate_takes_non_contiguous_input():
    gen = torch.Generator().manual_seed(4)
    tau, v = 3, TINY.num_nodes
    base = torch.randn(2, v, 7, 3, generator=gen, dtype=torch.float64)
    x = base.permute(0, 3, 2, 1).requires_grad_()  # (N, C=3, T=7, V), not contiguous
    adjacency = torch.randn(2, tau * v, tau * v, generator=gen, dtype=torch.float64)
    weight = torch.randn(4, 6, generator=gen, dtype=torch.float64)
    x_ref = x.detach().contiguous().requires_grad_()
    out = project_then_aggregate(x, adjacency, weight, tau, 1, 2)
    ref = project_then_aggregate(x_ref, adjacency, weight, tau, 1, 2)
    torch.testing.assert_close(out, ref)
    out.sum().backward()
    ref.sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_project_then_aggregate_names_expected_and_received_shapes():
    x = torch.randn(2, 3, 7, 5)
    with pytest.raises(ValueError, match=r"expected x \(N, C, T, V\), got shape \(3, 7, 5\)"):
        project_then_aggregate(x[0], torch.randn(2, 15, 15), torch.randn(4, 6), 3)
    with pytest.raises(ValueError, match=r"\(K, 15, 15\).*got adjacency \(2, 10, 10\)"):
        project_then_aggregate(x, torch.randn(2, 10, 10), torch.randn(4, 6), 3)
    with pytest.raises(ValueError, match=r"C=3, got adjacency \(2, 15, 15\) and weight \(4, 8\)"):
        project_then_aggregate(x, torch.randn(2, 15, 15), torch.randn(4, 8), 3)
