r"""Batch norm, ReLU and a convolution that keep only the norm's input for the backward.

Run as modules, ``conv(relu(bn(x)))`` in training mode keeps two tensors of x's size
until the backward: x, for the batch norm's gradient, and R = relu(BN(x)), which the ReLU
and the convolution both save. In G3D that pair is the (N, C_e, T', τ·V) window tensor, the
largest of the layer; in MS-TCN, each dilated branch's input. R costs one element-wise
pass to rebuild from x and the batch's statistics, so this function saves x alone and
recomputes R in the backward,

.. math::

    R = \max\!\Big(0,\; \gamma \frac{X - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta\Big),
    \qquad Z = W \star R + b,

with the same passes as the forward (:func:`~skelgraph.nn.batch_norm.centre`,
:func:`~skelgraph.nn.batch_norm.affine_`), so the rebuilt R is the forward's to the bit.
The gradients are PyTorch's own kernels: ``convolution_backward`` for W, b and ∂L/∂R,
ReLU's ``threshold_backward``, then ``native_batch_norm_backward``.

It runs where the fewer-pass batch norm does (a plain ``nn.BatchNorm2d`` normalising
with the batch's statistics, a :func:`~skelgraph.nn.batch_norm.reducible` float32 or
float64 tensor), outside autocast, with gradients. On other CPU tensors (bfloat16 and
float16, under autocast or not) the same saving runs on PyTorch's own kernel: the forward
is ``F.batch_norm`` as the module calls it, and the backward rebuilds R with
``native_batch_norm`` on the saved x, the same kernel on the same input (the tests check
that R comes back to the bit, through the gradients, which equal the modules'). Elsewhere
(another device, a norm with a cumulative momentum, a subclass) the modules run as they
are. Which layers take it is their plan's
(:func:`skelgraph.nn.backend.recomputes_activation`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from skelgraph.nn.batch_norm import (
    affine_,
    centre,
    groupable,
    norm,
    normalise,
    reducible,
    shifted,
    update_running,
)

__all__ = ["Convolution", "norm_relu_conv", "recomputable"]


class Convolution(NamedTuple):
    """A zero-padded 2-d or 3-d convolution as its weights and geometry: the form
    :func:`norm_relu_conv` runs.

    Parameters
    ----------
    weight : Tensor
        (C', C / groups, k_1, ..., k_d), d = 2 or 3.
    bias : Tensor or None
        (C',); ``None``: no bias.
    stride, padding, dilation : list of int
        d values each; ``padding``: zeros on both sides of each dimension.
    groups : int
        Channel groups.
    """

    weight: torch.Tensor
    bias: torch.Tensor | None
    stride: list[int]
    padding: list[int]
    dilation: list[int]
    groups: int = 1

    @classmethod
    def of(cls, conv: nn.Module) -> Convolution | None:
        """A plain ``nn.Conv2d`` or ``nn.Conv3d`` with zero padding as a
        :class:`Convolution`; ``None`` for anything else.

        Parameters
        ----------
        conv : nn.Module
            The convolution module.
        """
        if type(conv) not in (nn.Conv2d, nn.Conv3d) or conv.padding_mode != "zeros":
            return None
        if isinstance(conv.padding, str):  # "same" / "valid": PyTorch's own rule
            return None
        geometry = (list(conv.stride), list(conv.padding), list(conv.dilation))
        return cls(conv.weight, conv.bias, *geometry, conv.groups)  # type: ignore[arg-type]

    def __call__(self, r: torch.Tensor) -> torch.Tensor:
        """The convolution of ``r`` (``F.conv2d`` or ``F.conv3d``: autocast's rules).

        Parameters
        ----------
        r : Tensor
            (N, C, ...), the input.
        """
        conv = F.conv2d if len(self.stride) == 2 else F.conv3d
        return conv(
            r, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class _NormReluConv(torch.autograd.Function):
    """Z, μ (of x + shift) and σ² (the last two not differentiable) of
    ``conv(relu(bn(x + shift)))``, saving x. The shift moves only μ; its gradient is zero
    (:mod:`skelgraph.nn.batch_norm`)."""

    @staticmethod
    def forward(ctx: Any, x, shift, gamma, beta, eps, weight, bias, conv):  # type: ignore[override]
        r, mean, var, invstd = normalise(x, gamma, beta, eps)
        z = conv._replace(weight=weight, bias=bias)(r.relu_())
        ctx.save_for_backward(x, gamma, beta, mean, invstd, weight)
        ctx.eps, ctx.has_bias = eps, bias is not None
        ctx.conv = conv._replace(weight=None, bias=None)  # the geometry; tensors are saved
        if shift is not None:
            mean = mean + shift.detach()
        ctx.mark_non_differentiable(mean, var)
        return z, mean, var

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor, _mean, _var):  # type: ignore[override]
        x, gamma, beta, mean, invstd, weight = ctx.saved_tensors
        needs_x, needs_shift, needs_gamma, needs_beta, _, needs_w, needs_b, _ = ctx.needs_input_grad
        r = affine_(centre(x, mean), invstd, gamma, beta).relu_()  # the forward's R, rebuilt
        grad_x, grad_gamma, grad_beta, grad_w, grad_b = _norm_relu_conv_backward(
            grad, x, r, gamma, beta, mean, invstd, weight, ctx,
            (needs_x, needs_gamma, needs_beta, needs_w, needs_b),
        )  # fmt: skip
        grad_shift = torch.zeros_like(mean) if needs_shift else None
        return grad_x, grad_shift, grad_gamma, grad_beta, None, grad_w, grad_b, None


def _norm_relu_conv_backward(grad, x, r, gamma, beta, mean, invstd, weight, ctx, needs):
    """The gradients of x, γ, β, W and b from Z's, given the rebuilt R (consumed): PyTorch's
    ``convolution_backward``, ``threshold_backward`` and ``native_batch_norm_backward``."""
    needs_x, needs_gamma, needs_beta, needs_w, needs_b = needs
    g = ctx.conv
    bias_sizes = [weight.shape[0]] if ctx.has_bias else None
    grad_r, grad_w, grad_b = torch.ops.aten.convolution_backward(
        grad.contiguous(), r, weight, bias_sizes, g.stride, g.padding, g.dilation, False,
        [0] * len(g.stride), g.groups, [needs_x or needs_gamma or needs_beta, needs_w,
        ctx.has_bias and needs_b],
    )  # fmt: skip
    grad_x = grad_gamma = grad_beta = None
    if grad_r is not None:
        grad_y = torch.ops.aten.threshold_backward(grad_r, r, 0)
        del r, grad_r
        grad_x, grad_gamma, grad_beta = torch.ops.aten.native_batch_norm_backward(
            grad_y, x, gamma, None, None, mean, invstd, True, ctx.eps,
            [needs_x, gamma is not None and needs_gamma, beta is not None and needs_beta],
        )  # fmt: skip
    return grad_x, grad_gamma, grad_beta, grad_w, grad_b


class _NativeNormReluConv(torch.autograd.Function):
    """``conv(relu(bn(x)))`` on PyTorch's batch-norm kernel, saving x: the forward runs
    ``F.batch_norm`` (moving the running statistics as the module does), the backward
    rebuilds R with ``native_batch_norm`` on x (the same kernel: the same R)."""

    @staticmethod
    def forward(ctx: Any, x, gamma, beta, running_mean, running_var, momentum, eps, weight,
                bias, conv):  # type: ignore[override]  # fmt: skip
        y = F.batch_norm(x, running_mean, running_var, gamma, beta, True, momentum, eps)
        z = conv._replace(weight=weight, bias=bias)(y.relu_())
        ctx.save_for_backward(x, gamma, beta, weight)
        ctx.eps, ctx.has_bias = eps, bias is not None
        ctx.conv = conv._replace(weight=None, bias=None)
        return z

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor):  # type: ignore[override]
        x, gamma, beta, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        needs_x, needs_gamma, needs_beta, needs_w, needs_b = needs[0], *needs[1:3], *needs[7:9]
        r, mean, invstd = torch.ops.aten.native_batch_norm(
            x, gamma, beta, None, None, True, 0.0, ctx.eps
        )
        r = r.relu_()  # the forward's R, rebuilt
        grad_x, grad_gamma, grad_beta, grad_w, grad_b = _norm_relu_conv_backward(
            grad, x, r, gamma, beta, mean, invstd, weight, ctx,
            (needs_x, needs_gamma, needs_beta, needs_w, needs_b),
        )  # fmt: skip
        return grad_x, grad_gamma, grad_beta, None, None, None, None, grad_w, grad_b, None


def recomputable(
    x: torch.Tensor, bn: nn.Module, conv: Convolution | None, shape: tuple[int, ...]
) -> bool:
    """Whether :func:`norm_relu_conv` computes this call by recomputing R: a plain
    ``nn.BatchNorm2d`` in training mode (:func:`~skelgraph.nn.batch_norm.groupable`), a
    :class:`Convolution` of ``shape``'s rank, a CPU ``x`` (contiguous if it is to be viewed
    in another shape; under autocast, of its dtype unless the fewer passes take it),
    gradients on.

    Parameters
    ----------
    x : Tensor
        The batch norm's input.
    bn : nn.Module
        The batch norm.
    conv : Convolution or None
        The convolution (``None``: one it cannot run).
    shape : tuple of int
        The shape the convolution reads R in.
    """
    return (
        groupable([bn])
        and bn.training
        and conv is not None
        and len(shape) == conv.weight.dim()
        and (shape == tuple(x.shape) or x.is_contiguous())
        and x.device.type == "cpu"
        and torch.is_grad_enabled()
        and (_fewer_passes(x) or _autocast_dtype(x))
    )


def _autocast_dtype(x: torch.Tensor) -> bool:
    """Whether the convolution reads R in x's dtype: no autocast, or x already in its."""
    device = x.device.type
    return not torch.is_autocast_enabled(device) or x.dtype == torch.get_autocast_dtype(device)


def _fewer_passes(x: torch.Tensor) -> bool:
    """Whether the recomputation runs on the fewer-pass batch norm (else PyTorch's)."""
    return reducible(x, True) and not torch.is_autocast_enabled(x.device.type)


def norm_relu_conv(
    x: torch.Tensor,
    bn: nn.Module,
    conv: nn.Module | Convolution,
    shift: torch.Tensor | None = None,
    *,
    shape: tuple[int, ...] | None = None,
    recompute: bool = False,
) -> torch.Tensor:
    """``conv(relu(bn(x + shift)))``; with ``recompute=True``, where :func:`recomputable`,
    saving only ``x`` for the backward (the module docstring).

    Equal to the modules, including the batch norm's running statistics and
    ``num_batches_tracked``.

    Parameters
    ----------
    x : Tensor
        (N, C, ...), the batch norm's input.
    bn : nn.Module
        The batch norm over the C channels.
    conv : nn.Module or Convolution
        The convolution that reads the ReLU's output.
    shift : Tensor or None
        (C,), added to ``x`` first (a projection's bias); ``None``: zero.
    shape : tuple of int, optional
        The shape the convolution reads R in (a view of ``x``'s, channels second);
        ``None``: ``x``'s.
    recompute : bool
        The saving form where it applies (the layer's plan says when); either way the
        batch norm takes its fewer passes where it can
        (:func:`skelgraph.nn.batch_norm.batch_norm`).

    Returns
    -------
    Tensor
        The convolution's output.
    """
    shape = tuple(x.shape) if shape is None else tuple(shape)
    spec = conv if isinstance(conv, Convolution) else Convolution.of(conv)
    if not (recompute and recomputable(x, bn, spec, shape)):
        return conv(norm(bn, x, shift, fast=recompute).relu_().view(shape))
    if bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
    if not _fewer_passes(x):
        x = shifted(x, shift).view(shape)  # as the module's input: x + b materialised
        weight, bias = spec.weight, spec.bias
        device = x.device.type
        if torch.is_autocast_enabled(device):  # cast as autocast would, outside the
            # function, so that autograd takes W's and b's gradients back to their dtype
            dtype = torch.get_autocast_dtype(device)
            weight, bias = weight.to(dtype), None if bias is None else bias.to(dtype)
        return _NativeNormReluConv.apply(
            x, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.momentum, bn.eps,
            weight, bias, spec,
        )  # fmt: skip
    x = x.view(shape)
    z, mean, var = _NormReluConv.apply(
        x, shift, bn.weight, bn.bias, bn.eps, spec.weight, spec.bias, spec
    )
    count = x.numel() // x.shape[1]
    update_running(bn.running_mean, bn.running_var, mean, var, count, bn.momentum)
    return z
