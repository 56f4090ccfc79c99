r"""Functional forms of the graph convolutions: the reference kernels and the shared steps.

The reference kernels follow the authors' order of operations (aggregate the K scales into
K·C channels, then a 1×1 convolution): :func:`multiscale_graph_conv` (MS-GCN) and
:func:`window_graph_conv` (G3D, on unfolded windows). Their fast siblings live in
:mod:`skelgraph.nn.node_major` and :mod:`skelgraph.nn.project_first`; which one runs is
the layer's plan (:mod:`skelgraph.nn.backend`), not these functions' choice: nothing here
reads a setting. Every function computes the same result whichever kernel runs, up to
float rounding.

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
from skelgraph.nn.batch_norm import fresh_output, norm
from skelgraph.nn.products import rows_mm
from skelgraph.padding import temporal_padding

__all__ = [
    "affine_act_",
    "bias_norm_act",
    "conv_frames",
    "epilogue_affine",
    "fold_batch_norm",
    "multiscale_aggregate",
    "multiscale_graph_conv",
    "unfold_windows",
    "window_graph_conv",
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
    r"""Multi-scale graph convolution of every frame (MS-GCN, Eq. 4), without a bias: the
    reference kernel.

    .. math::

        Y_t = \sum_{k=0}^{K-1} \hat A_k\, \operatorname{dropout}(X_t)\, \Theta_k

    (dropout acting on the aggregated K·C features, as in the authors' ``MS_GCN``): the
    K scales aggregated into (N, K·C, T, V), then a 1×1 convolution. The fast sibling,
    :func:`~skelgraph.nn.node_major.node_major_graph_conv`, does the same products without
    dropout.

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
    y = multiscale_aggregate(x, adjacency)
    return _project(F.dropout(y, dropout, training) if training and dropout > 0 else y, weight)


def unfold_windows(
    x: torch.Tensor,
    window_size: int,
    dilation: int,
    stride: int,
    *,
    padding: bool = True,
    causal: bool = False,
) -> torch.Tensor:
    r"""Gather a window of τ frames around every output frame, nodes frame-major.

    Window t takes frames :math:`s t + d\,i - p`, i = 0..τ-1, with
    :math:`p = \lfloor d (\tau - 1)/2 \rfloor` (centred on frame :math:`s t` for odd τ)
    or, causal, :math:`p = d (\tau - 1)` (ending on frame :math:`s t`), zero-padded (at
    both ends, or at the front only), so stride 1 keeps T windows and stride s gives
    ceil(T / s). With ``padding=False``, only
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
        Zero-pad like the layers' offline forward (default), or keep only the complete
        windows.
    causal : bool
        Windows that end on their output frame: all the padding at the front.

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
        x = F.pad(x, (0, 0, *temporal_padding(span, causal)))
    else:
        t = t - span
    # Position i of every window: the T frames from i·d on, keeping every stride-th.
    # (narrow, then step: symbolic shapes stay provable under torch.export.)
    frames = [x.narrow(2, i * dilation, t)[:, :, ::stride] for i in range(window_size)]
    return torch.stack(frames, dim=3).reshape(n, c, -1, window_size * v)


def window_graph_conv(
    x: torch.Tensor,
    adjacency: torch.Tensor,
    weight: torch.Tensor,
    window_size: int,
    dilation: int = 1,
    stride: int = 1,
    *,
    causal: bool = False,
) -> torch.Tensor:
    r"""Multi-scale graph convolution over sliding spatial-temporal windows (G3D, Eq. 7),
    without a bias.

    .. math::

        Y_t = \sum_{k=0}^{K-1} \hat A_{(\tau, k)}\, [X_{(\tau)}]_t\, \Theta_k

    with :math:`[X_{(\tau)}]_t` the τ frames of window t (:func:`unfold_windows`).

    The reference kernel: unfold the windows, aggregate K·C channels per window node and
    project (the authors' order). The fast sibling,
    :func:`~skelgraph.nn.project_first.project_then_aggregate`, projects every frame once
    and aggregates the windows without unfolding them.

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
    causal : bool
        Windows that end on frame s·t (:func:`unfold_windows`).

    Returns
    -------
    Tensor
        (N, C', ceil(T / s), τV), window nodes frame-major.
    """
    _check(x, adjacency, weight, window_size)
    windows = unfold_windows(x, window_size, dilation, stride, causal=causal)
    return _project(multiscale_aggregate(windows, adjacency), weight)


def bias_norm_act(
    y: torch.Tensor,
    bias: torch.Tensor | None,
    bn: nn.Module,
    act: nn.Module,
    *,
    fused: bool = False,
    fast_batch_norm: bool = False,
) -> torch.Tensor:
    """``act(bn(y + bias))`` over the channels of an (N, C, ...) tensor.

    ``fused=False``: the modules as they are (a batch norm through
    :func:`skelgraph.nn.batch_norm.norm`, which in training mode may take the bias into
    its statistics instead of adding it; a ReLU after it in place). ``fused=True``, for
    inference where it computes the same (:func:`skelgraph.nn.backend.fuses_epilogue`:
    no gradients, batch norm in eval mode, ReLU or no activation): the three steps in
    place on ``y`` as one affine map and a clamp, saving two full passes and allocations;
    ``y`` must then be a fresh tensor the caller owns.

    Parameters
    ----------
    y : Tensor
        (N, C, ...), e.g. a projection's output without its bias; changed in place when
        fused.
    bias : Tensor or None
        (C,), added per channel; ``None``: no bias.
    bn : nn.Module
        The batch norm over the C channels.
    act : nn.Module
        The activation, applied last.
    fused : bool
        The in-place form (the layer's plan says when).
    fast_batch_norm : bool
        Not fused: the batch norm's fewer passes in training mode
        (:func:`skelgraph.nn.batch_norm.batch_norm`; the layer's plan says when).
    """
    if fused:
        return affine_act_(y, *epilogue_affine(bias, bn), act)
    y = norm(bn, y, shift=bias, fast=fast_batch_norm)  # bias in y's dtype or in the statistics
    return y.relu_() if isinstance(act, nn.ReLU) and fresh_output(bn) else act(y)


def epilogue_affine(
    bias: torch.Tensor | None, bn: nn.BatchNorm2d
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""A bias then an inference-mode batch norm as one per-channel ``(scale, shift)``,
    detached: :math:`\operatorname{BN}(y + b) = s \odot y + (\beta' + s \odot b)`, with
    :math:`(s, \beta')` from :func:`fold_batch_norm` (what :func:`bias_norm_act` folds,
    for a stream to fold once).

    Parameters
    ----------
    bias : Tensor or None
        (C,), added before the batch norm; ``None``: no bias.
    bn : nn.BatchNorm2d
        The batch norm, read through its running statistics.
    """
    scale, shift = fold_batch_norm(None, bn)
    if bias is not None:
        shift = shift + bias.detach() * scale
    return scale, shift


def affine_act_(
    y: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, act: nn.Module
) -> torch.Tensor:
    """``act(scale·y + shift)`` per channel of an (N, C, ...) tensor, in place on ``y``
    (which the caller owns): the fused epilogue of :func:`bias_norm_act`.

    Parameters
    ----------
    y : Tensor
        (N, C, ...), changed in place.
    scale, shift : Tensor
        (C,), from :func:`epilogue_affine`.
    act : nn.Module
        A ReLU (a clamp) or the identity.
    """
    shape = (1, -1) + (1,) * (y.dim() - 2)  # broadcast over channels
    y = y.mul_(scale.to(y.dtype).view(shape)).add_(shift.to(y.dtype).view(shape))
    return y.clamp_(min=0) if isinstance(act, nn.ReLU) else y


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
    (N, C', (L - dilation·(k - 1) - 1) // stride + 1, V), channels last in memory (a view of
    the product's rows (N, L', V, C'); a channels-last input needs no copy when k = 1).

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
    # One product with a row per (sample, frame, joint): a wider matrix than one product
    # per sample (broadcast matmul), measured 1.3-1.7x faster at a stream step's sizes.
    rows = taps.permute(0, 2, 3, 1, 4).reshape(n * frames * joints, channels * k)
    matrix = weight.reshape(out_channels, channels * k).t()
    y = rows_mm(rows, matrix, bias)
    return y.view(n, frames, joints, out_channels).permute(0, 3, 1, 2)
