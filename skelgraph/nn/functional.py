r"""Functional forms of the graph convolutions: each picks its kernel in one place.

The layers (:class:`~skelgraph.DisentangledGraphConv`, :class:`~skelgraph.G3DConv`) hold
parameters and buffers and call these functions; the choice between the reference maths
and the fast kernels is made here, by :func:`skelgraph.nn.backend.use_fast`, from the
global setting of :mod:`skelgraph.nn.backend`. Every function computes the same result
whichever kernel runs, up to float rounding.

Notation: ``x`` is (N, C, T, V); ``adjacency`` the (K, V, V) effective scales
:math:`\hat A_k` (for windows, (K, τV, τV)); ``weight`` the projection :math:`\Theta`
as a (C', K·C) matrix with scale-major input channels ``k·C + c`` (a 1×1 convolution's
weight, flattened).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from skelgraph._validation import shape_checks
from skelgraph.nn import backend
from skelgraph.nn.node_major import node_major_graph_conv
from skelgraph.nn.project_first import (
    aggregate_windows,
    frame_projection,
    multiply_adds,
    project_frames,
    project_then_aggregate,
    window_blocks,
)

__all__ = [
    "aggregate_windows",
    "bias_norm_act",
    "conv_frames",
    "fold_batch_norm",
    "frame_projection",
    "multiscale_aggregate",
    "multiscale_graph_conv",
    "project_frames",
    "unfold_windows",
    "window_blocks",
    "window_graph_conv",
    "window_projects_first",
]


def multiscale_aggregate(x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
    r"""Aggregate over K scales at once, stacking the scales as channels.

    .. math::

        Y = \big[\, \hat A_0 X \;\|\; \hat A_1 X \;\|\; \cdots \;\|\; \hat A_{K-1} X \,\big]

    Shapes: ``x`` (N, C, T, V), ``adjacency`` (K, V, V); output (N, K·C, T, V), channel
    ``k·C + c``.

    Parameters
    ----------
    x : Tensor
        (N, C, T, V).
    adjacency : Tensor
        (K, V, V), the scales :math:`\hat A_k`, cast to ``x``'s dtype.
    """
    n, c, t, v = x.shape
    k = adjacency.shape[0]
    # One matrix product for all K scales: (N·C·T, V) @ (V, K·V).
    y = torch.matmul(x.reshape(n * c * t, v), adjacency.to(x.dtype).reshape(-1, v).t())
    return y.view(n, c, t, k, v).permute(0, 3, 1, 2, 4).reshape(n, k * c, t, v)


def _project(y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The 1×1 convolution of (N, K·C, T, V) features with a (C', K·C) weight."""
    return F.conv2d(y, weight[:, :, None, None].to(y.dtype))


def _check(
    x: torch.Tensor, adjacency: torch.Tensor, weight: torch.Tensor, window_size: int = 1
) -> None:
    """x (N, C, T, V), adjacency (K, τV, τV) and weight (C', K·C), or a ValueError."""
    k = adjacency.shape[0]
    nodes = window_size * x.shape[-1] if x.dim() == 4 else -1
    with shape_checks():
        valid = x.dim() == 4 and adjacency.shape == (k, nodes, nodes)
        valid = bool(valid and weight.shape[1] == k * x.shape[1])
    if not valid:
        raise ValueError(
            f"expected x (N, C, T, V), adjacency (K, {nodes}, {nodes}) and weight (C', K·C), "
            f"got x {tuple(x.shape)}, adjacency {tuple(adjacency.shape)} and weight "
            f"{tuple(weight.shape)}"
        )


def multiscale_graph_conv(
    x: torch.Tensor,
    adjacency: torch.Tensor,
    weight: torch.Tensor,
    *,
    dropout: float = 0.0,
    training: bool = False,
) -> torch.Tensor:
    r"""Multi-scale graph convolution of every frame (MS-GCN, Eq. 4), without a bias.

    .. math::

        Y_t = \sum_{k=0}^{K-1} \hat A_k\, \operatorname{dropout}(X_t)\, \Theta_k

    (dropout acting on the aggregated K·C features, as in the authors' ``MS_GCN``).

    Kernels: the reference aggregates into (N, K·C, T, V) and projects with a 1×1
    convolution; the fast kernel (:func:`~skelgraph.nn.node_major.node_major_graph_conv`)
    does the same products frame by frame, nodes before channels, without a permuted
    copy of the K-fold features, which its backward recomputes instead of storing. Equal
    multiply-adds, so ``"auto"`` picks it, except while dropout is active.

    Parameters
    ----------
    x : Tensor
        (N, C, T, V).
    adjacency : Tensor
        (K, V, V).
    weight : Tensor
        (C', K·C).
    dropout : float
        Dropout probability on the aggregated features.
    training : bool
        Whether dropout is active.

    Returns
    -------
    Tensor
        (N, C', T, V).
    """
    _check(x, adjacency, weight)
    cost = multiply_adds("aggregate-first", x.shape[1], weight.shape[0], *adjacency.shape[:2])
    dropout_active = training and dropout > 0
    if backend.use_fast(cost, cost, applicable=not dropout_active):
        whole = backend.recording_tool() == "compile"
        return node_major_graph_conv(x, adjacency, weight, whole_tensor=whole)
    y = multiscale_aggregate(x, adjacency)
    return _project(F.dropout(y, dropout, training) if dropout_active else y, weight)


def unfold_windows(
    x: torch.Tensor, window_size: int, dilation: int, stride: int, *, padding: bool = True
) -> torch.Tensor:
    r"""Gather a window of τ frames around every output frame, nodes frame-major.

    Window t takes frames :math:`s t + d\,i - \lfloor d (\tau - 1)/2 \rfloor`,
    i = 0..τ-1 (centred on frame :math:`s t` for odd τ), zero-padded at both ends, so
    stride 1 keeps T windows and stride s gives ceil(T / s). With ``padding=False``, only
    the complete windows, frames :math:`s t + d\,i`: ⌊(T - d(τ - 1) - 1) / s⌋ + 1 of them
    (the step-wise evaluation, :mod:`skelgraph.nn.streaming`, pads by its state).

    Parameters
    ----------
    x : Tensor
        (N, C, T, V) frames.
    window_size : int
        τ, frames per window.
    dilation : int
        d, the gap between a window's frames.
    stride : int
        s: one window every s frames.
    padding : bool
        Zero-pad both ends like the layers' offline forward (default), or keep only the
        complete windows.

    Shapes
    ------
    (N, C, T, V) to (N, C, ceil(T / s), τ·V), node ``(i, v)`` at ``i·V + v``.

    Examples
    --------
    >>> import torch
    >>> unfold_windows(torch.randn(2, 3, 10, 25), window_size=3, dilation=1, stride=2).shape
    torch.Size([2, 3, 5, 75])
    """
    n, c, t, v = x.shape
    span = dilation * (window_size - 1)
    if padding:
        x = F.pad(x, (0, 0, span // 2, span - span // 2))
    else:
        t = t - span
    # Position i of every window: the T frames from i·d on, keeping every stride-th.
    # (narrow, then step: symbolic shapes stay provable under torch.export.)
    frames = [x.narrow(2, i * dilation, t)[:, :, ::stride] for i in range(window_size)]
    return torch.stack(frames, dim=3).reshape(n, c, -1, window_size * v)


def window_projects_first(
    in_channels: int,
    out_channels: int,
    num_scales: int,
    num_nodes: int,
    window_size: int,
    dilation: int = 1,
    stride: int = 1,
) -> bool:
    """Whether :func:`window_graph_conv` runs its project-first kernel for these sizes (the
    rule of :func:`skelgraph.nn.backend.use_fast` on the multiply-adds of both orders).

    The multiply-adds are counted by :func:`~skelgraph.nn.project_first.multiply_adds` at
    T = 300 frames.

    Parameters
    ----------
    in_channels : int
        C, channels of the input.
    out_channels : int
        C', channels of the projection.
    num_scales : int
        K, scales of the window graph.
    num_nodes : int
        V, joints of the skeleton (a window has τ·V nodes).
    window_size : int
        τ, frames per window.
    dilation : int
        d, frames between a window's frames.
    stride : int
        s, frames between windows.
    """
    # Costs at the paper's T = 300: the choice hardly depends on T, and a fixed length
    # keeps it out of the symbolic shapes of torch.compile and torch.export.
    sizes = (in_channels, out_channels, num_scales, num_nodes, 300, window_size, dilation, stride)
    reference_cost = multiply_adds("aggregate-first", *sizes)
    return backend.use_fast(reference_cost, multiply_adds("project-first", *sizes))


def window_graph_conv(
    x: torch.Tensor,
    adjacency: torch.Tensor,
    weight: torch.Tensor,
    window_size: int,
    dilation: int = 1,
    stride: int = 1,
) -> torch.Tensor:
    r"""Multi-scale graph convolution over sliding spatial-temporal windows (G3D, Eq. 7),
    without a bias.

    .. math::

        Y_t = \sum_{k=0}^{K-1} \hat A_{(\tau, k)}\, [X_{(\tau)}]_t\, \Theta_k

    with :math:`[X_{(\tau)}]_t` the τ frames of window t (:func:`unfold_windows`).

    Kernels: the reference unfolds the windows, aggregates K·C channels per window node
    and projects (the authors' order); the fast kernel
    (:func:`~skelgraph.nn.project_first.project_then_aggregate`) projects every frame once
    to K·C' channels and aggregates the windows as τ matrix products over strided views:
    no unfolded copy, no K·τ-fold tensor. ``"auto"`` picks the one with fewer
    multiply-adds (:func:`~skelgraph.nn.project_first.multiply_adds`).

    Parameters
    ----------
    x : Tensor
        (N, C, T, V).
    adjacency : Tensor
        (K, τV, τV), the effective scales of the window graph.
    weight : Tensor
        (C', K·C).
    window_size, dilation, stride : int
        τ, d and s.

    Returns
    -------
    Tensor
        (N, C', ceil(T / s), τV), window nodes frame-major.
    """
    _check(x, adjacency, weight, window_size)
    c, k, v = x.shape[1], adjacency.shape[0], x.shape[3]
    if window_projects_first(c, weight.shape[0], k, v, window_size, dilation, stride):
        whole = backend.recording_tool() == "compile"
        return project_then_aggregate(
            x, adjacency, weight, window_size, dilation, stride, whole_tensor=whole
        )
    windows = unfold_windows(x, window_size, dilation, stride)
    return _project(multiscale_aggregate(windows, adjacency), weight)


def bias_norm_act(
    y: torch.Tensor, bias: torch.Tensor | None, bn: nn.Module, act: nn.Module
) -> torch.Tensor:
    """``act(bn(y + bias))`` over the channels of an (N, C, ...) tensor.

    The fast kernel, for inference (no gradients, batch norm in eval mode, ReLU or no
    activation): the three steps run in place on ``y`` as one affine map and a clamp,
    saving two full passes and allocations. Otherwise, or under the ``"reference"``
    setting, the modules as they are. ``y`` must be a fresh tensor the caller owns.

    Parameters
    ----------
    y : Tensor
        (N, C, ...), e.g. a projection's output without its bias; may be changed in place.
    bias : Tensor or None
        (C,), added per channel; ``None``: no bias.
    bn : nn.Module
        The batch norm over the C channels.
    act : nn.Module
        The activation, applied last.
    """
    shape = (1, -1) + (1,) * (y.dim() - 2)  # broadcast over channels
    fusable = (
        isinstance(bn, nn.BatchNorm2d)
        and not bn.training
        and bn.track_running_stats
        and isinstance(act, nn.ReLU | nn.Identity)
        and not torch.is_grad_enabled()
    )
    if backend.use_fast(0, 0, applicable=fusable):
        scale, shift = fold_batch_norm(None, bn)
        if bias is not None:
            shift = shift + bias * scale
        y = y.mul_(scale.to(y.dtype).view(shape)).add_(shift.to(y.dtype).view(shape))
        return y.clamp_(min=0) if isinstance(act, nn.ReLU) else y
    if bias is not None:
        y = y + bias.to(y.dtype).view(shape)  # in y's dtype (autocast)
    return act(bn(y))


def fold_batch_norm(
    conv: nn.Conv2d | nn.Conv3d | None, bn: nn.BatchNorm2d
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""A convolution followed by an inference-mode batch norm as one convolution's
    ``(weight, bias)``, detached:
    :math:`W' = \gamma W / \sqrt{\sigma^2 + \epsilon}`,
    :math:`b' = \gamma (b - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta`.
    With ``conv=None``, the batch norm alone as a per-channel ``(scale, shift)``.

    Parameters
    ----------
    conv : nn.Conv2d or nn.Conv3d or None
        The convolution (W, b), its output channels the batch norm's; no bias counts as
        b = 0.
    bn : nn.BatchNorm2d
        The batch norm, read through its running statistics (μ, σ²), ``eps`` and, where
        affine, γ and β.
    """
    scale = bn.running_var.add(bn.eps).rsqrt()
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    if conv is None:
        return scale.detach(), shift.detach()
    weight = conv.weight * scale.view(-1, *[1] * (conv.weight.dim() - 1))
    bias = shift if conv.bias is None else conv.bias * scale + shift
    return weight.detach(), bias.detach()


def conv_frames(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: int = 1,
    dilation: int = 1,
) -> torch.Tensor:
    r"""``F.conv2d`` with a (k × 1) kernel and no padding, as one matrix product:

    .. math::

        Y_{n, o, r, v} = b_o + \sum_{c, j} W_{o, c, j}\, X_{n, c,\, s r + d j,\, v}

    A stream step convolves a few frames; there ``conv2d``'s set-up per call costs more than
    the arithmetic (about 70 µs here, against 15 µs for the product of a 96-channel
    frame). Input (N, C, L, V), weight (C', C, k, 1), output
    (N, C', (L - dilation·(k - 1) - 1) // stride + 1, V).

    Parameters
    ----------
    x : Tensor
        (N, C, L, V).
    weight : Tensor
        (C', C, k, 1), the kernel.
    bias : Tensor, optional
        (C',).
    stride : int
        Frames between output frames.
    dilation : int
        Frames between the kernel's taps.
    """
    n, channels, length, joints = x.shape
    out_channels, _, k, _ = weight.shape
    if weight.shape[1] != channels or weight.shape[3] != 1 or length < dilation * (k - 1) + 1:
        raise ValueError(
            f"conv_frames: expected weight (C', C={channels}, k, 1) and at least "
            f"dilation·(k - 1) + 1 frames, got weight {tuple(weight.shape)}, dilation "
            f"{dilation} and x {tuple(x.shape)}"
        )
    taps = x.unfold(2, dilation * (k - 1) + 1, stride)[..., ::dilation]  # (N, C, R, V, k)
    frames = taps.shape[2]
    columns = taps.permute(0, 1, 4, 2, 3).reshape(n, channels * k, frames * joints)
    y = torch.matmul(weight.reshape(out_channels, channels * k), columns)
    if bias is not None:
        y = y.add_(bias.view(-1, 1))
    return y.view(n, out_channels, frames, joints)
