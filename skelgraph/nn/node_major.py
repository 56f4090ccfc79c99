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

__all__ = ["node_major_graph_conv"]


def _aggregate(frames: torch.Tensor, stacked: torch.Tensor) -> torch.Tensor:
    """(N·T, V, C) frames to (N·T, V·K, C); an expand + bmm, no copy of the scales."""
    return torch.bmm(stacked.expand(frames.shape[0], -1, -1), frames)


class _NodeMajorGraphConv(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, adjacency: torch.Tensor, weight: torch.Tensor):
        n, c, t, v = x.shape
        k = adjacency.shape[0]
        stacked = adjacency.transpose(0, 1).reshape(v * k, v)  # rows (v, k)
        frames = x.permute(0, 2, 3, 1).reshape(n * t, v, c)
        y = _aggregate(frames, stacked).view(n, t * v, k * c)
        out = torch.matmul(weight, y.transpose(1, 2))  # (N, C', T·V)
        ctx.save_for_backward(frames, stacked, weight)
        ctx.shape = (n, c, t, v, k)
        return out.view(n, -1, t, v)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        frames, stacked, weight = ctx.saved_tensors
        n, c, t, v, k = ctx.shape
        grad = grad.to(frames.dtype).reshape(n, -1, t * v)  # autocast: back to the input's
        weight = weight.to(frames.dtype)
        grad_y = torch.matmul(grad.transpose(1, 2), weight)  # (N, T·V, K·C)
        grad_x = grad_adjacency = grad_weight = None
        if ctx.needs_input_grad[0]:
            g = _aggregate(grad_y.view(n * t, v * k, c), stacked.t())  # (N·T, V, C)
            grad_x = g.view(n, t, v, c).permute(0, 3, 1, 2)
        if ctx.needs_input_grad[1]:
            g = torch.bmm(grad_y.view(n * t, v * k, c), frames.transpose(1, 2)).sum(0)
            grad_adjacency = g.view(v, k, v).transpose(0, 1)
        if ctx.needs_input_grad[2]:
            y = _aggregate(frames, stacked).view(n, t * v, k * c)  # recomputed, not stored
            grad_weight = torch.bmm(grad, y).sum(0)
        return grad_x, grad_adjacency, grad_weight


def node_major_graph_conv(
    x: torch.Tensor, adjacency: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    r"""Multi-scale graph convolution of every frame, node-major, without a bias.

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
    return _NodeMajorGraphConv.apply(x, adjacency.to(x.dtype), weight)
