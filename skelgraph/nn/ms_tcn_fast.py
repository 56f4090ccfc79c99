r"""MS-TCN with its branches merged: the fast path of :class:`~skelgraph.MSTemporalConv`.

The authors' MS-TCN runs every branch on its own: five 1×1 bottleneck convolutions of
``w = C' / branches`` channels each, a 1×1 branch, up to a dozen batch norms and ReLUs,
then a concatenation. Its sums can be regrouped without changing any of them:

- every 1×1 convolution that reads all frames (the bottlenecks, and at stride 1 the 1×1
  branch and a 1×1 residual projection) is one convolution with the weights stacked; at
  stride s > 1 the strided ones are a second. One wide product instead of five narrow
  ones is cheaper forward and much cheaper backward (one weight and one input gradient);
- batch norms over channels are independent per channel, so the bottlenecks' norms are
  one ``batch_norm`` over the stacked channels, and the output norms (dilated branches,
  max-pool, 1×1, residual projection) another, over the concatenated outputs; running
  statistics are updated exactly as each module would
  (:func:`~skelgraph.nn.batch_norm.grouped_batch_norm`);
- the ReLUs and the final residual add and activation run in place where autograd
  allows.

With ``norms=None`` (inference: no gradients, batch norm in eval mode) every batch norm is
folded into the convolution before it and the max-pool's into a per-channel affine map,
so no normalisation pass runs at all; and with nothing left to normalise between the
concatenation and the residual, each branch is added straight into its channels of the
output: the residual projection's (a 1×1 one carrying the 1×1 branch in its last rows,
:func:`merge_one_by_one`) or, at stride 1, the bottlenecks' product itself, whose
channels each branch reads before its result takes their place. No concatenation and no
second activation-sized tensor (at batch 8 the concatenation and the residual's sum took
about a third of the module's time, all memory traffic).

Temporal padding is explicit, (front, back) frames per branch, so a causal layer (all
padding in front) uses the same kernel. Which path runs is the layer's plan
(:meth:`~skelgraph.MSTemporalConv.plan`); nothing here reads a setting.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from skelgraph.nn.batch_norm import grouped_batch_norm, norm
from skelgraph.nn.norm_relu_conv import Convolution, norm_relu_conv
from skelgraph.nn.products import conv2d

__all__ = [
    "MSTCNGeometry",
    "MSTCNNorms",
    "MSTCNWeights",
    "frame_max_pool",
    "merge_one_by_one",
    "multiscale_temporal_conv",
]

Conv = tuple[torch.Tensor, torch.Tensor | None]
"""A convolution's (weight (C', C, k, 1), bias (C',) or ``None``)."""


class MSTCNGeometry(NamedTuple):
    """Where an MS-TCN's windows reach.

    Parameters
    ----------
    stride : int
        s: output frame t reads input frames around s·t.
    dilations : tuple of int
        d of each dilated branch.
    paddings : tuple of (int, int)
        (front, back) zero frames of each dilated branch's (k × 1) convolution.
    pool_size : int
        Frames of the max-pool window.
    pool_padding : (int, int)
        (front, back) −inf frames of the max-pool.
    residual : {"none", "identity", "conv"}
        No residual, the input itself, or a (k × 1) convolution of it (``weights.residual``).
    residual_padding : (int, int)
        (front, back) zero frames of that convolution.
    """

    stride: int
    dilations: tuple[int, ...]
    paddings: tuple[tuple[int, int], ...]
    pool_size: int
    pool_padding: tuple[int, int]
    residual: str
    residual_padding: tuple[int, int] = (0, 0)


class MSTCNWeights(NamedTuple):
    """An MS-TCN's convolutions (each ``(weight, bias)``), batch norm folded in or not.

    Parameters
    ----------
    bottlenecks : sequence of (Tensor, Tensor or None)
        (w, C, 1, 1): the dilated branches' 1×1 convolutions, then the max-pool branch's.
    dilated : sequence of (Tensor, Tensor or None)
        (w, w, k, 1): the dilated branches' temporal convolutions.
    one_by_one : (Tensor, Tensor or None)
        (w, C, 1, 1): the strided 1×1 branch.
    residual : (Tensor, Tensor or None) or None
        (C', C, k_r, 1): the residual convolution (geometry ``"conv"``), else ``None``.
    pool_affine : (Tensor, Tensor) or None
        Folded form only: the max-pool's batch norm as a per-channel (scale, shift).
    """

    bottlenecks: Sequence[Conv]
    dilated: Sequence[Conv]
    one_by_one: Conv
    residual: Conv | None
    pool_affine: tuple[torch.Tensor, torch.Tensor] | None = None


class MSTCNNorms(NamedTuple):
    """The batch norms of an unfolded MS-TCN, in the two groups that run as one each.

    Parameters
    ----------
    bottlenecks : sequence of nn.BatchNorm2d
        After the bottlenecks, in their order.
    outputs : sequence of nn.BatchNorm2d
        After the dilated convolutions, the max-pool, the 1×1 branch and (geometry
        ``"conv"``) the residual convolution, in that order.
    """

    bottlenecks: Sequence[nn.BatchNorm2d]
    outputs: Sequence[nn.BatchNorm2d]


def _conv(x: torch.Tensor, conv: Conv, stride: int, dilation: int, padding: tuple[int, int]):
    """A (k × 1) convolution over frames with (front, back) zero padding."""
    front, back = padding
    if front != back:
        x, front = F.pad(x, (0, 0, front, back)), 0
    weight, bias = conv
    return conv2d(x, weight, bias, (stride, 1), (front, 0), (dilation, 1))


def _norm_relu_conv(
    x: torch.Tensor,
    bn: nn.BatchNorm2d,
    conv: Conv,
    stride: int,
    dilation: int,
    padding: tuple[int, int],
    fast: bool,
) -> torch.Tensor:
    """A dilated branch after its bottleneck: ``conv(relu(bn(x)))``, keeping only ``x``
    for the backward where the padding is symmetric."""
    front, back = padding
    if front != back:
        return _conv(norm(bn, x, fast=fast).relu_(), conv, stride, dilation, padding)
    weight, bias = conv
    spec = Convolution(weight, bias, [stride, 1], [front, 0], [dilation, 1])
    return norm_relu_conv(x, bn, spec, recompute=True)


def _stack(convs: Sequence[Conv]) -> Conv:
    """1×1 convolutions on the same input as one, output channels in order."""
    biases = [w.new_zeros(w.shape[0]) if b is None else b for w, b in convs]
    return torch.cat([w for w, _ in convs]), torch.cat(biases)


class _FrameMaxPool(torch.autograd.Function):
    """``max_pool2d`` over (size × 1) frame windows with ``front`` frames of implicit
    padding, saving the winners' offsets within their windows as uint8."""

    @staticmethod
    def _starts(windows: int, stride: int, front: int) -> torch.Tensor:
        """(windows, 1): the frame where each window starts, s·r - front."""
        return torch.arange(windows).mul_(stride).sub_(front).view(-1, 1)

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, size: int, stride: int, front: int):  # type: ignore[override]
        out, index = torch.ops.aten.max_pool2d_with_indices(x, [size, 1], [stride, 1], [front, 0])
        joints = x.shape[3]
        starts = _FrameMaxPool._starts(out.shape[2], stride, front)
        offsets = index.div_(joints, rounding_mode="floor").sub_(starts).to(torch.uint8)
        ctx.save_for_backward(offsets)
        ctx.geometry = (x.shape, stride, front)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor):  # type: ignore[override]
        (offsets,) = ctx.saved_tensors
        shape, stride, front = ctx.geometry
        joints = shape[3]
        starts = _FrameMaxPool._starts(offsets.shape[2], stride, front)
        index = offsets.long().add_(starts).mul_(joints).add_(torch.arange(joints))
        grad_x = grad.new_zeros(shape[0], shape[1], shape[2] * joints)
        grad_x.scatter_add_(2, index.flatten(2), grad.flatten(2))
        return grad_x.view(shape), None, None, None


def frame_max_pool(
    x: torch.Tensor,
    size: int,
    stride: int,
    padding: tuple[int, int],
    *,
    whole_tensor: bool = False,
) -> torch.Tensor:
    r"""Max-pool over frames, the (size × 1) ``max_pool2d`` of the authors' MS-TCN.

    .. math::

        Y_{:, :, r} = \max_{j < \text{size}} X_{:, :,\, s r + j - \text{front}}

    with (front, back) frames of −inf padding. Without gradients, a running element-wise
    maximum of shifted views, in place: on CPU several times faster than ``max_pool2d``
    with a (k × 1) window. With gradients, ``max_pool2d``'s own kernel (its indices'
    backward was measured faster than any rebuilt one), keeping for the backward each
    winner's frame within its window as one byte instead of its int64 index (an eighth
    of the memory; windows of up to 256 frames).

    Parameters
    ----------
    x : Tensor
        (N, C, T, V).
    size : int
        Frames of the window.
    stride : int
        s.
    padding : (int, int)
        (front, back) −inf frames.
    whole_tensor : bool
        ``max_pool2d`` in any case: what compilers record.

    Returns
    -------
    Tensor
        (N, C, (T + front + back - size) // s + 1, V).
    """
    if whole_tensor or torch.is_grad_enabled():
        front, back = padding
        if front != back or 2 * front > size:  # max_pool2d pads at most half a window
            x, front = F.pad(x, (0, 0, front, back), value=float("-inf")), 0
        if whole_tensor or size > 256 or not x.requires_grad:
            return F.max_pool2d(x, (size, 1), (stride, 1), (front, 0))
        return _FrameMaxPool.apply(x, size, stride, front)
    padded = F.pad(x, (0, 0, *padding), value=float("-inf"))
    span = padded.shape[2] - size + 1
    out = padded[:, :, 0:span:stride].clone()
    for j in range(1, size):
        torch.maximum(out, padded[:, :, j : j + span : stride], out=out)
    return out


def multiscale_temporal_conv(
    x: torch.Tensor,
    weights: MSTCNWeights,
    geometry: MSTCNGeometry,
    norms: MSTCNNorms | None,
    activation: nn.Module,
    *,
    whole_tensor: bool = False,
    fast_batch_norm: bool = False,
    recompute: bool = False,
) -> torch.Tensor:
    r"""MS-TCN with merged branches (see the module docstring).

    .. math::

        Y = \sigma\Big(\big[\,B_{d_1}(X) \,\|\, \cdots \,\|\, B_{d_n}(X) \,\|\,
        B_{\max}(X) \,\|\, B_{1\times1}(X)\,\big] + \operatorname{res}(X)\Big)

    Parameters
    ----------
    x : Tensor
        (N, C, T, V).
    weights : MSTCNWeights
        The convolutions; batch norm folded in when ``norms`` is ``None``.
    geometry : MSTCNGeometry
        Stride, dilations, paddings and the residual's kind.
    norms : MSTCNNorms or None
        The batch norms, run grouped (training or eval mode); ``None``: folded into
        ``weights`` (inference without gradients only: the folded weights are detached).
    activation : nn.Module
        σ; a ReLU runs in place.
    whole_tensor : bool
        The max-pool as ``max_pool2d`` even without gradients (what compilers record;
        see :func:`frame_max_pool`).
    fast_batch_norm : bool
        The batch norms in training mode in fewer passes where their input allows it
        (:func:`skelgraph.nn.batch_norm.batch_norm`).
    recompute : bool
        With ``norms``: each dilated branch's batch norm, ReLU and convolution keep only
        the norm's input for the backward
        (:func:`skelgraph.nn.norm_relu_conv.norm_relu_conv`; symmetric padding only, a
        causal branch runs as it would without).

    Returns
    -------
    Tensor
        (N, C', T', V), T' = ⌈T / s⌉ for the authors' padding; under autocast in its
        low precision throughout.
    """
    if norms is None:
        return _folded_temporal_conv(x, weights, geometry, activation, whole_tensor)
    s, branches = geometry.stride, len(geometry.dilations)
    width = weights.one_by_one[0].shape[0]
    one_tap = _one_tap_projection(weights, geometry)
    # 1×1 convolutions: those on every frame in one product, the strided ones (1×1 branch,
    # a 1×1 residual projection) in it too at stride 1, else in a second.
    strided = [weights.one_by_one, *([weights.residual] if one_tap else [])]
    frame_convs = [*weights.bottlenecks, *(strided if s == 1 else [])]
    z = _conv(x, _stack(frame_convs), 1, 1, (0, 0))
    hidden = (branches + 1) * width
    # split, not slices: one backward node that concatenates, no zero-filled gradients
    h, tail = z.split([hidden, z.shape[1] - hidden], 1)
    if s > 1:
        tail = _conv(x, _stack(strided), s, 1, (0, 0))
    branches_geometry = zip(weights.dilated, geometry.dilations, geometry.paddings)
    if norms is not None and recompute:
        # Each dilated branch normalises its own channels (the same numbers as the group).
        xs = h.split(width, 1)
        parts = [
            _norm_relu_conv(xi, bn, conv, s, d, padding, fast_batch_norm)
            for xi, bn, (conv, d, padding) in zip(xs, norms.bottlenecks, branches_geometry)
        ]
        pool_input = norm(norms.bottlenecks[-1], xs[-1], fast=fast_batch_norm).relu_()
    else:
        if norms is not None:
            h = grouped_batch_norm(h, norms.bottlenecks, fast=fast_batch_norm)
        # One ReLU per branch, out of place: each output is a contiguous tensor (float32
        # conv2d's backward is far slower on slices) that the ReLU and its consumer save
        # once between them, where a ReLU of the whole and copies of its slices saved both.
        hs = [F.relu(hi) for hi in h.split(width, 1)]
        parts = [
            _conv(hi, conv, s, d, padding) for hi, (conv, d, padding) in zip(hs, branches_geometry)
        ]
        pool_input = hs[-1]
    pool = (geometry.pool_size, s, geometry.pool_padding)
    parts += [frame_max_pool(pool_input, *pool, whole_tensor=whole_tensor), tail]
    if geometry.residual == "conv" and not one_tap:
        parts.append(_conv(x, weights.residual, s, 1, geometry.residual_padding))  # type: ignore[arg-type]
    y = grouped_batch_norm(torch.cat(parts, 1), norms.outputs, fast=fast_batch_norm)
    out_channels = (branches + 2) * width
    if geometry.residual == "conv":
        out, residual = y.split(out_channels, 1)
        out = out + residual
    else:
        out = y
        if geometry.residual == "identity":
            out = out.add_(x)  # in place: in y's dtype, as the authors' ``out += res``
    return out.relu_() if isinstance(activation, nn.ReLU) else activation(out)


def _one_tap_projection(weights: MSTCNWeights, geometry: MSTCNGeometry) -> bool:
    """Whether the residual is a 1×1 projection, reading the frames the 1×1 branch reads."""
    return geometry.residual == "conv" and weights.residual[0].shape[2] == 1  # type: ignore[index]


def merge_one_by_one(residual: Conv, one_by_one: Conv) -> Conv:
    """A 1×1 residual projection with the 1×1 branch added into its last rows: both read
    the same strided frames, and the branch's channels are the output's last, so one
    product gives residual + branch (inference: the batch norms folded in).

    Parameters
    ----------
    residual : (Tensor, Tensor or None)
        (C', C, 1, 1) and (C',).
    one_by_one : (Tensor, Tensor or None)
        (w, C, 1, 1) and (w,).

    Returns
    -------
    (Tensor, Tensor)
        (C', C, 1, 1) and (C',), new tensors.
    """
    (weight, bias), (branch_weight, branch_bias) = residual, one_by_one
    width = branch_weight.shape[0]
    weight = weight.clone()
    weight[-width:] += branch_weight
    bias = weight.new_zeros(weight.shape[0]) if bias is None else bias.clone()
    if branch_bias is not None:
        bias[-width:] += branch_bias
    return weight, bias


def _folded_temporal_conv(
    x: torch.Tensor,
    weights: MSTCNWeights,
    geometry: MSTCNGeometry,
    activation: nn.Module,
    whole_tensor: bool,
) -> torch.Tensor:
    """:func:`multiscale_temporal_conv` with every batch norm folded into ``weights``:
    each branch added into its channels of the output as soon as it is computed, no
    concatenation (one branch's tensors live at a time)."""
    s = geometry.stride
    width = weights.one_by_one[0].shape[0]
    residual: Conv | None = weights.residual
    merged = _one_tap_projection(weights, geometry)
    if merged:  # the 1×1 branch rides in the residual projection
        residual = merge_one_by_one(residual, weights.one_by_one)  # type: ignore[arg-type]
    # At stride 1 the 1×1 branch joins the bottlenecks' product (a narrow product of its
    # own reorders the whole input in oneDNN for a few channels: 1.8 ms of 4 at batch 1).
    stacked = not merged and s == 1
    z = _conv(x, _stack([*weights.bottlenecks, *([weights.one_by_one] if stacked else [])]),
              1, 1, (0, 0))  # fmt: skip
    hs = z.split(width, 1)

    def branches() -> Iterator[torch.Tensor]:
        """Each branch's output in channel order, computed when asked for."""
        for hi, conv, d, pad in zip(hs, weights.dilated, geometry.dilations, geometry.paddings):
            yield _conv(F.relu(hi), conv, s, d, pad)  # an out-of-place ReLU: contiguous
        pool = (geometry.pool_size, s, geometry.pool_padding)
        pooled = frame_max_pool(F.relu(hs[len(weights.dilated)]), *pool, whole_tensor=whole_tensor)
        scale, shift = weights.pool_affine  # type: ignore[misc]
        yield pooled.mul_(scale.view(-1, 1, 1)).add_(shift.view(-1, 1, 1))
        if not merged:
            yield hs[-1] if stacked else _conv(x, weights.one_by_one, s, 1, (0, 0))

    out: torch.Tensor | None = None
    if geometry.residual == "conv":
        padding = (0, 0) if merged else geometry.residual_padding
        out = _conv(x, residual, s, 1, padding)  # type: ignore[arg-type]
    for start, part in zip(itertools.count(0, width), branches()):
        if out is None and stacked and part.shape == hs[0].shape:
            # Each branch reads only its own channels of z: its output can take their
            # place, so z becomes the output (no fresh activation-sized tensor, whose
            # pages the allocator maps anew on every call).
            out = z
        elif out is None:  # in the branches' dtype, as the authors' ``out += res``
            channels = width * (len(weights.dilated) + 2)
            out = part.new_empty(part.shape[0], channels, *part.shape[2:])
        target = out.narrow(1, start, width)
        if geometry.residual == "conv":
            target.add_(part)
        elif geometry.residual == "identity":
            torch.add(part, x.narrow(1, start, width), out=target)
        elif target.data_ptr() != part.data_ptr():  # the 1×1 branch may be in place already
            target.copy_(part)
    return out.relu_() if isinstance(activation, nn.ReLU) else activation(out)  # type: ignore[union-attr]
