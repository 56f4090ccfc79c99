r"""Node-major multi-scale graph convolution: MS-GCN's fast path.

.. math::

    Y_t = \sum_k \hat A_k\, X_t\, \Theta_k

The reference aggregates (N, C, T, V) into (N, K·C, T, V) and applies a 1×1
convolution, which needs the K-fold expanded features permuted into channel-major order.
Here every frame is a (V, C) matrix: one batched product with the scales stacked
node-major, :math:`[\hat A_k]_{(v, k), u}`, puts each node's K·C features side by side,
so the projection is a single matrix product that writes (N, C', T, V) directly. The
backward recomputes the expanded features from the input instead of keeping them: they
are K times the input's size (13× in MS-G3D) and cheap to rebuild.
"""

from __future__ import annotations

from typing import Any

import torch

from skelgraph.amp import compute_dtype
from skelgraph.nn.products import rows_mm, rows_t_mm, uses_onednn

__all__ = ["node_major_frames", "node_major_graph_conv", "stack_scales"]


# Frames per chunk: about 4 MB of expanded features, so a chunk's features are produced
# and consumed while in cache, and every temporary stays small enough for the allocator
# to reuse (glibc maps blocks above 32 MB afresh, page faults and all, on every call).
CHUNK_FLOATS = 1 << 20


def _aggregate(frames: torch.Tensor, stacked: torch.Tensor) -> torch.Tensor:
    """(B, V, C) frames to (B, V·K, C); an expand + bmm, no copy of the scales."""
    return torch.bmm(stacked.expand(frames.shape[0], -1, -1), frames)


def stack_scales(adjacency: torch.Tensor) -> torch.Tensor:
    r"""The (K, V, V) scales stacked node-major, (V·K, V) with row ``v·K + k`` =
    :math:`[\hat A_k]_{v, :}`: the operand of :func:`node_major_frames`.

    Parameters
    ----------
    adjacency : Tensor
        (K, V, V).
    """
    return adjacency.transpose(0, 1).reshape(-1, adjacency.shape[-1])


def _operands(x: torch.Tensor, adjacency: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N·T, V, C) frames of (N, C, T, V) input and the (V·K, V) scales stacked node-major."""
    n, c, t, v = x.shape
    return x.permute(0, 2, 3, 1).reshape(n * t, v, c), stack_scales(adjacency)


def node_major_frames(
    x: torch.Tensor, stacked: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Node-major graph convolution as whole-tensor operations, from scales already
    stacked (:func:`stack_scales`): what :func:`node_major_graph_conv` runs with
    ``whole_tensor=True``, and a stream step's, whose scales are stacked once per stream.

    .. math::

        Y_t = \sum_{k=0}^{K-1} \hat A_k\, X_t\, \Theta_k + b

    Parameters
    ----------
    x : Tensor
        (N, C, T, V).
    stacked : Tensor
        (V·K, V), in ``x``'s dtype.
    weight : Tensor
        (C', K·C), scale-major input channels ``k·C + c``.
    bias : Tensor, optional
        (C',), added to the projection.

    Returns
    -------
    Tensor
        (N, C', T, V), channels last in memory: the projection is one product with a row
        per (sample, frame, joint), wider than one product per sample.
    """
    n, _, t, v = x.shape
    y = _aggregate(x.permute(0, 2, 3, 1).reshape(n * t, v, -1), stacked)  # (N·T, V·K, C)
    y = y.view(n * t * v, -1)
    out = rows_mm(y, weight.t(), bias)
    return out.view(n, t, v, -1).permute(0, 3, 1, 2)


def _chunks(n: int, t: int, step: int):
    """(sample, first frame, end frame) of every chunk of at most ``step`` frames."""
    for i in range(n):
        for a in range(0, t, step):
            yield i, a, min(a + step, t)


class _NodeMajorGraphConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, adjacency: torch.Tensor, weight: torch.Tensor):
        n, c, t, v = x.shape
        k = adjacency.shape[0]
        # Every operand in the products' dtype once (autocast's, if on): the loop then
        # casts nothing, and the backward reuses these copies.
        dtype = compute_dtype(x)
        frames, stacked = _operands(x.to(dtype), adjacency.to(dtype))
        weight = weight.to(dtype)
        ctx.save_for_backward(frames, stacked, weight)
        ctx.shape = (n, c, t, v, k)
        out = None
        for i, a, b in _chunks(n, t, max(1, CHUNK_FLOATS // (v * k * c))):
            y = _aggregate(frames[i * t + a : i * t + b], stacked).view((b - a) * v, k * c)
            if uses_onednn(y, weight.t()):  # rows times weights, then one transpose
                chunk = rows_mm(y, weight.t()).t()
            else:  # (C', frames·V) directly: measured faster with torch.mm
                chunk = torch.mm(weight, y.t())
            if out is None:
                out = chunk.new_empty(n, weight.shape[0], t * v)
            out[i, :, a * v : b * v] = chunk
        assert out is not None
        return out.view(n, -1, t, v)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        frames, stacked, weight = ctx.saved_tensors
        n, c, t, v, k = ctx.shape
        grad = grad.to(frames.dtype).reshape(n, -1, t * v)
        need_x, need_adjacency, need_weight = ctx.needs_input_grad
        # Parameter gradients sum over every chunk: accumulated in float32 (or float64)
        # even when the products run in bfloat16 or float16 (autocast).
        acc = torch.promote_types(frames.dtype, torch.float32)
        grad_frames = torch.empty_like(frames) if need_x else None
        grad_stacked = torch.zeros_like(stacked, dtype=acc) if need_adjacency else None
        grad_weight = torch.zeros_like(weight, dtype=acc) if need_weight else None
        for i, a, b in _chunks(n, t, max(1, CHUNK_FLOATS // (v * k * c))):
            g = grad[i, :, a * v : b * v]  # (C', frames·V)
            grad_y = rows_mm(g.t(), weight).view(b - a, v * k, c)
            chunk = frames[i * t + a : i * t + b]
            if grad_frames is not None:
                torch.bmm(stacked.t().expand(b - a, -1, -1), grad_y,
                          out=grad_frames[i * t + a : i * t + b])  # fmt: skip
            if grad_stacked is not None:
                grad_stacked += torch.bmm(grad_y, chunk.transpose(1, 2)).sum(0)
            if grad_weight is not None:  # the features, recomputed rather than stored
                y = _aggregate(chunk, stacked).view((b - a) * v, k * c)
                grad_weight += rows_t_mm(g.t(), y)
        grad_x = grad_adjacency = None
        if grad_frames is not None:
            grad_x = grad_frames.view(n, t, v, c).permute(0, 3, 1, 2)
        if grad_stacked is not None:
            grad_adjacency = grad_stacked.view(v, k, v).transpose(0, 1)
        return grad_x, grad_adjacency, grad_weight


def node_major_graph_conv(
    x: torch.Tensor, adjacency: torch.Tensor, weight: torch.Tensor, *, whole_tensor: bool = False
) -> torch.Tensor:
    r"""Multi-scale graph convolution of every frame, node-major, without a bias.

    .. math::

        Y_t = \sum_{k=0}^{K-1} \hat A_k\, X_t\, \Theta_k

    Equal to projecting :class:`~skelgraph.nn.MultiScaleAggregation`'s output with a 1×1
    convolution of weight ``weight``; the backward stores only the input, not the
    K-fold expanded features.

    Parameters
    ----------
    x : Tensor
        (N, C, T, V).
    adjacency : Tensor
        (K, V, V), the effective scales.
    weight : Tensor
        (C', K·C), scale-major input channels ``k·C + c``.
    whole_tensor : bool
        Whole-tensor operations, with autograd keeping the expanded features, instead of
        the chunked custom autograd function: what compilers record
        (:func:`torch.compile`, :func:`torch.export.export`; chunk loops would unroll or
        specialise symbolic sizes), and one product for a stream step (a few frames, no
        gradients: no chunk loop needed).

    Returns
    -------
    Tensor
        (N, C', T, V).
    """
    k, v = adjacency.shape[0], adjacency.shape[-1]
    if x.dim() != 4 or x.shape[3] != v or weight.shape[1] != k * x.shape[1]:
        raise ValueError(
            f"expected x (N, C, T, V={v}) and weight (C', K·C={k}·C), got x "
            f"{tuple(x.shape)} and weight {tuple(weight.shape)}"
        )
    if whole_tensor:
        return node_major_frames(x, stack_scales(adjacency.to(x.dtype)), weight)
    return _NodeMajorGraphConv.apply(x, adjacency, weight)
