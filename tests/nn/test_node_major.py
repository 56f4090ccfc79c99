"""MS-GCN's node-major fast path against einsum, gradcheck, its memory claim and fallbacks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skelgraph import DisentangledGraphConv
from skelgraph.nn import backend
from skelgraph.nn.node_major import node_major_frames, node_major_graph_conv, stack_scales
from tests.layer_helpers import TINY, randomize


def einsum_reference(x, adjacency, weight):
    """Aggregate to scale-major K·C channels, then project: the reference order."""
    n, c, t, v = x.shape
    k = adjacency.shape[0]
    stacked = torch.einsum("kvu,nctu->nkctv", adjacency, x).reshape(n, k * c, t, v)
    return torch.einsum("oi,nitv->notv", weight, stacked)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 4),
    t=st.integers(1, 5),
    v=st.integers(1, 6),
    k=st.integers(1, 4),
    e=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_equals_aggregate_then_project(n, c, t, v, k, e, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c, t, v, generator=gen, dtype=torch.float64)
    adjacency = torch.randn(k, v, v, generator=gen, dtype=torch.float64)
    weight = torch.randn(e, k * c, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(
        node_major_graph_conv(x, adjacency, weight), einsum_reference(x, adjacency, weight)
    )


def test_gradients_pass_gradcheck_and_equal_the_reference():
    gen = torch.Generator().manual_seed(0)
    inputs = [
        torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64),
        torch.randn(3, 5, 5, generator=gen, dtype=torch.float64),
        torch.randn(4, 9, generator=gen, dtype=torch.float64),
    ]
    leaves = [i.clone().requires_grad_() for i in inputs]
    assert torch.autograd.gradcheck(node_major_graph_conv, leaves)
    target = torch.randn(2, 4, 4, 5, generator=gen, dtype=torch.float64)
    fast = torch.autograd.grad((node_major_graph_conv(*leaves) * target).sum(), leaves)
    slow = torch.autograd.grad((einsum_reference(*leaves) * target).sum(), leaves)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b)
    # Each gradient alone (the backward skips what is not needed).
    for i in range(3):
        only = [x.detach().requires_grad_(j == i) for j, x in enumerate(inputs)]
        (g,) = torch.autograd.grad((node_major_graph_conv(*only) * target).sum(), only[i])
        torch.testing.assert_close(g, slow[i])


def saved_bytes(fn, *args):
    """Bytes of the distinct storages autograd keeps for the backward of ``fn(*args)``."""
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*args)
    return sum(storages.values())


def test_backward_keeps_the_input_not_the_k_fold_expanded_features():
    k, c = 8, 16
    x = torch.randn(2, c, 20, 25, requires_grad=True)
    adjacency = torch.randn(k, 25, 25, requires_grad=True)
    weight = torch.randn(32, k * c, requires_grad=True)
    fast = saved_bytes(node_major_graph_conv, x, adjacency, weight)
    slow = saved_bytes(einsum_reference, x, adjacency, weight)
    input_bytes = x.numel() * x.element_size()
    weights_bytes = (adjacency.numel() + weight.numel()) * 4
    assert slow >= k * input_bytes  # the reference keeps the (N, K·C, T, V) features
    assert fast <= input_bytes + weights_bytes  # the fast path: the input (permuted), weights


def test_bad_shapes_name_expected_and_received():
    with pytest.raises(ValueError, match=r"expected x \(N, C, T, V=5\).*got x \(2, 3, 4, 6\)"):
        node_major_graph_conv(torch.randn(2, 3, 4, 6), torch.randn(3, 5, 5), torch.randn(4, 9))
    with pytest.raises(ValueError, match=r"weight \(4, 8\)"):
        node_major_graph_conv(torch.randn(2, 3, 4, 5), torch.randn(3, 5, 5), torch.randn(4, 8))


def test_autocast_forward_is_bfloat16_and_backward_reaches_float32_leaves():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 5, requires_grad=True)
    adjacency, weight = torch.randn(3, 5, 5), torch.randn(4, 9, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = node_major_graph_conv(x, adjacency, weight)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(
        out.float(), einsum_reference(x, adjacency, weight), rtol=0.05, atol=0.1
    )
    out.float().sum().backward()
    assert x.grad.dtype == weight.grad.dtype == torch.float32


def test_active_dropout_runs_the_reference_path():
    layer = randomize(DisentangledGraphConv(3, 4, TINY, 3, dropout=0.5)).train().double()
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    outputs = []
    for setting in ("fast", "reference"):
        torch.manual_seed(0)
        with backend.implementation(setting):
            assert layer.plan().graph_conv == "reference"
            outputs.append(layer(x))
    # Same dropout mask, same path (the batch norm's passes differ only in rounding).
    torch.testing.assert_close(*outputs)


def test_non_contiguous_input_and_its_gradient():
    gen = torch.Generator().manual_seed(3)
    base = torch.randn(2, 5, 4, 3, generator=gen, dtype=torch.float64)
    x = base.permute(0, 3, 2, 1).requires_grad_()  # (N, C=3, T=4, V=5), not contiguous
    adjacency = torch.randn(2, 5, 5, generator=gen, dtype=torch.float64)
    weight = torch.randn(4, 6, generator=gen, dtype=torch.float64)
    out = node_major_graph_conv(x, adjacency, weight)
    torch.testing.assert_close(out, einsum_reference(x, adjacency, weight))
    (g,) = torch.autograd.grad(out.sum(), x)
    (expected,) = torch.autograd.grad(einsum_reference(x, adjacency, weight).sum(), x)
    torch.testing.assert_close(g, expected)


@pytest.mark.parametrize("bias", [False, True])
def test_frames_from_stacked_scales_equal_the_reference_channels_last(bias):
    """node_major_frames (the stream's form: scales stacked once, a bias, one product
    with a row per (sample, frame, joint)) gives the reference plus the bias, laid out
    channels last."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64)
    adjacency = torch.randn(2, 5, 5, generator=gen, dtype=torch.float64)
    weight = torch.randn(4, 6, generator=gen, dtype=torch.float64)
    b = torch.randn(4, generator=gen, dtype=torch.float64) if bias else None
    out = node_major_frames(x, stack_scales(adjacency), weight, b)
    expected = einsum_reference(x, adjacency, weight)
    if b is not None:
        expected = expected + b.view(1, -1, 1, 1)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    assert out.stride(1) == 1  # channels last: the product's columns
    assert stack_scales(adjacency)[3 * 2 + 1].equal(adjacency[1, 3])  # row v·K + k
