r"""Batch norm in training mode in fewer passes than PyTorch's CPU kernel.

PyTorch's CPU ``batch_norm`` in training mode was measured at about seven times its
eval-mode cost on the float32 (N, C, T, V) tensors of MS-G3D (one thread, contiguous
input: 5.1 ms against 0.65 ms for (16, 96, 100, 25)). The same two-pass statistics from
whole-row reductions over the unit-stride rows of its (N, C, T·V) view, which run at
memory speed,

.. math::

    \mu_c = \frac{1}{M} \sum_{n, l} X_{n c l}, \qquad
    D = X - \mu, \qquad
    \sigma_c^2 = \frac{1}{M} \sum_{n, l} D_{n c l}^2, \qquad
    Y = \gamma \frac{D}{\sqrt{\sigma^2 + \epsilon}} + \beta

(M = N·T·V; the normalisation in place on D) took 3.1 ms. The backward is PyTorch's own
(``native_batch_norm_backward`` with μ and 1/√(σ² + ε)), so the gradient formula is the
native one.

A per-channel ``shift`` b added to X just before (a projection's bias) changes neither Y
nor the gradient of X: only the running mean (μ + b); b's gradient,
:math:`\sum_{n, l} \partial L / \partial X_{n c l}`, is zero. That is how it enters here,
without the pass that adds it.

The kernel takes it where asked (``fast=True``: a layer's plan, by the rule of
:func:`skelgraph.nn.backend.fast_batch_norm`) and where the tensor allows it
(:func:`reducible`); elsewhere it is ``F.batch_norm``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    "affine_",
    "batch_norm",
    "centre",
    "fresh_output",
    "groupable",
    "grouped_batch_norm",
    "norm",
    "normalise",
    "reducible",
    "shifted",
    "update_running",
]


def _planes_contiguous(x: torch.Tensor) -> bool:
    """Whether each sample's (C, ...) block is contiguous (the whole tensor, or a channel
    slice of one): its (N, C, L) view has unit-stride rows."""
    expected = 1
    for size, stride in zip(reversed(x.shape[1:]), reversed(x.stride()[1:])):
        if size > 1 and stride != expected:
            return False
        expected *= size
    return True


def reducible(x: torch.Tensor, training: bool) -> bool:
    """Whether :func:`batch_norm` computes ``x``'s normalisation in its fewer passes:
    training mode on a float32 or float64 CPU tensor whose samples are contiguous (the
    whole tensor, or a channel slice of one) with at least two values per channel.
    bfloat16 and float16 (under autocast), whose native kernel is already fast, keep it.

    Parameters
    ----------
    x : Tensor
        (N, C, ...).
    training : bool
        Whether it normalises with the batch's statistics.
    """
    return (
        training
        and x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and x.dim() >= 2
        and _planes_contiguous(x)
        and x.numel() > x.shape[1]
    )


def shifted(y: torch.Tensor, shift: torch.Tensor | None) -> torch.Tensor:
    """``y`` plus a per-channel ``shift`` (C,) over (N, C, ...), in ``y``'s dtype.

    Parameters
    ----------
    y : Tensor
        (N, C, ...).
    shift : Tensor or None
        (C,); ``None``: ``y`` itself.
    """
    if shift is None:
        return y
    return y + shift.to(y.dtype).view((-1,) + (1,) * (y.dim() - 2))


def _channel_view(x: torch.Tensor) -> tuple[int, ...]:
    return (-1,) + (1,) * (x.dim() - 2)


def normalise(
    x: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None, eps: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Y, μ, σ² and 1/√(σ² + ε) of a :func:`reducible` tensor normalised with its batch's
    statistics (the module docstring's passes), without autograd.

    Parameters
    ----------
    x : Tensor
        (N, C, ...), :func:`reducible`.
    weight, bias : Tensor or None
        γ and β, (C,) each; ``None``: 1 and 0.
    eps : float
        ε.
    """
    rows = (x.shape[0], x.shape[1], -1)  # (N, C, L): unit-stride rows (reducible)
    count = x.numel() // x.shape[1]
    mean = x.view(rows).sum(2).sum(0) / count
    centred = centre(x, mean)
    var = torch.linalg.vector_norm(centred.view(rows), dim=2).square().sum(0) / count
    invstd = (var + eps).rsqrt()
    return affine_(centred, invstd, weight, bias), mean, var, invstd


def centre(x: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """X − μ per channel of an (N, C, ...) tensor, as a new contiguous tensor: the first
    pass of :func:`normalise`, and of a backward that rebuilds its output.

    Parameters
    ----------
    x : Tensor
        (N, C, ...).
    mean : Tensor
        (C,), μ.
    """
    return torch.sub(x, mean.view(_channel_view(x)), out=torch.empty(x.shape, dtype=x.dtype))


def affine_(
    centred: torch.Tensor,
    invstd: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
) -> torch.Tensor:
    """γ·(X − μ)/√(σ² + ε) + β in place on the centred X − μ (one pass): the last step of
    :func:`normalise`, and how a backward that recomputes Y repeats it exactly.

    Parameters
    ----------
    centred : Tensor
        (N, C, ...), X − μ; overwritten.
    invstd : Tensor
        (C,), 1/√(σ² + ε).
    weight, bias : Tensor or None
        γ and β, (C,) each; ``None``: 1 and 0.
    """
    view = _channel_view(centred)
    scale = (invstd if weight is None else invstd * weight).view(view)
    if bias is None:
        return centred.mul_(scale)
    return torch.addcmul(bias.view(view), centred, scale, out=centred)


class _TrainingBatchNorm(torch.autograd.Function):
    """Batch norm of ``x + shift`` with batch statistics (the module docstring): returns
    Y, μ (with the shift) and σ², the last two not differentiable."""

    @staticmethod
    def forward(ctx, x, shift, weight, bias, eps):  # type: ignore[override]
        out, mean, var, invstd = normalise(x, weight, bias, eps)
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.eps = eps
        if shift is not None:
            mean = mean + shift.detach()
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    @once_differentiable
    def backward(ctx, grad, _mean, _var):  # type: ignore[override]
        x, weight, mean, invstd = ctx.saved_tensors
        needs_x, needs_shift, needs_weight, needs_bias = ctx.needs_input_grad[:4]
        grad_x, grad_weight, grad_bias = torch.ops.aten.native_batch_norm_backward(
            grad.contiguous(), x, weight, None, None, mean, invstd, True, ctx.eps,
            [needs_x, weight is not None and needs_weight, needs_bias],
        )  # fmt: skip
        # The sum of X's gradient per channel, zero: Σ (g - mean g - x̂ mean(g x̂)) = 0.
        grad_shift = torch.zeros_like(mean) if needs_shift else None
        return grad_x, grad_shift, grad_weight, grad_bias, None


def batch_norm(
    x: torch.Tensor,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
    *,
    shift: torch.Tensor | None = None,
    fast: bool = False,
) -> torch.Tensor:
    r"""``F.batch_norm(x + shift, ...)``, with ``fast=True`` in training mode in fewer
    passes (the module docstring) where the tensor allows it (:func:`reducible`).

    .. math::

        Y_{n c l} = \gamma_c \frac{X_{n c l} + b_c - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}
        + \beta_c

    with μ and σ² the statistics of X + b. In training mode the running statistics move
    as ``nn.BatchNorm2d``'s (:func:`update_running`).

    Parameters
    ----------
    x : Tensor
        (N, C, ...).
    running_mean, running_var : Tensor or None
        (C,) each, updated in place in training mode; ``None``: not tracked.
    weight, bias : Tensor or None
        γ and β, (C,) each; ``None``: 1 and 0.
    training : bool
        Normalise with the batch's statistics (else with the running ones).
    momentum : float
        m.
    eps : float
        ε.
    shift : Tensor or None
        b, (C,), added to ``x`` first (in ``x``'s dtype); ``None``: zero.
    fast : bool
        The fewer passes where :func:`reducible` (the layer's plan says when).

    Returns
    -------
    Tensor
        Y, the shape and dtype of ``x``.
    """
    if not (fast and reducible(x, training)):
        x = shifted(x, shift)
        return F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)
    out, mean, var = _TrainingBatchNorm.apply(x, shift, weight, bias, eps)
    update_running(running_mean, running_var, mean, var, x.numel() // x.shape[1], momentum)
    return out


def update_running(
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    mean: torch.Tensor,
    var: torch.Tensor,
    count: int,
    momentum: float,
) -> None:
    r"""Move the running statistics as ``nn.BatchNorm2d`` does, in place:
    :math:`\hat\mu \leftarrow (1 - m)\hat\mu + m\mu`,
    :math:`\hat\sigma^2 \leftarrow (1 - m)\hat\sigma^2 + m\sigma^2 M / (M - 1)`.

    Parameters
    ----------
    running_mean, running_var : Tensor or None
        (C,) each; ``None``: not tracked.
    mean, var : Tensor
        (C,), the batch's μ and (biased) σ².
    count : int
        M, values per channel.
    momentum : float
        m.
    """
    if running_mean is None or running_var is None:
        return
    with torch.no_grad():
        running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
        running_var.mul_(1 - momentum).add_(var, alpha=momentum * count / (count - 1))


def _settings(bn: nn.Module) -> tuple:
    return (
        type(bn),
        bn.training,
        bn.track_running_stats,
        bn.running_mean is None,
        bn.affine,
        bn.eps,
        bn.momentum,
    )


def groupable(norms: Sequence[nn.Module]) -> bool:
    """Whether :func:`grouped_batch_norm` computes these batch norms exactly: plain
    ``nn.BatchNorm2d`` (not a subclass such as ``SyncBatchNorm``), all in the same mode,
    with the same ``eps``, ``affine``, tracking and a fixed ``momentum`` (``None``, a
    cumulative average, depends on each one's own count).

    Parameters
    ----------
    norms : sequence of nn.Module
        The batch norms of one group.
    """
    if not norms or any(type(bn) is not nn.BatchNorm2d or bn.momentum is None for bn in norms):
        return False
    first = _settings(norms[0])
    return all(_settings(bn) == first for bn in norms)


def _cat(tensors: Sequence[torch.Tensor | None]) -> torch.Tensor | None:
    if tensors[0] is None or len(tensors) == 1:
        return tensors[0]
    return torch.cat(tensors)  # type: ignore[arg-type]


def grouped_batch_norm(
    y: torch.Tensor,
    norms: Sequence[nn.BatchNorm2d],
    shift: torch.Tensor | None = None,
    *,
    fast: bool = False,
) -> torch.Tensor:
    r"""Batch norms over consecutive channel ranges of ``y`` (plus ``shift``) as one
    :func:`batch_norm`.

    .. math::

        Y_{:, c} = \operatorname{BN}_{g(c)}(Y_{:, c})

    Equal to applying each module to its channels, including its running statistics and
    ``num_batches_tracked`` in training mode (written back to each module's buffers); the
    modules must be :func:`groupable`.

    Parameters
    ----------
    y : Tensor
        (N, Σ channels, ...).
    norms : sequence of nn.BatchNorm2d
        The modules, their channels in order.
    shift : Tensor or None
        (Σ channels,), added to ``y`` first (:func:`batch_norm`).
    fast : bool
        :func:`batch_norm`'s fewer passes where the tensor allows them.
    """
    first = norms[0]
    update = first.training and first.track_running_stats
    tracked = update or not first.training
    if update:
        for bn in norms:
            if bn.num_batches_tracked is not None:
                bn.num_batches_tracked.add_(1)
    mean = _cat([bn.running_mean for bn in norms]) if tracked else None
    var = _cat([bn.running_var for bn in norms]) if tracked else None
    out = batch_norm(
        y,
        mean,
        var,
        _cat([bn.weight for bn in norms]),
        _cat([bn.bias for bn in norms]),
        first.training or mean is None,
        first.momentum,
        first.eps,
        shift=shift,
        fast=fast,
    )
    if update and mean is not None and var is not None and len(norms) > 1:
        sizes = [bn.num_features for bn in norms]
        with torch.no_grad():
            for bn, m, v in zip(norms, mean.split(sizes), var.split(sizes)):
                bn.running_mean.copy_(m)
                bn.running_var.copy_(v)
    return out


def norm(
    bn: nn.Module, y: torch.Tensor, shift: torch.Tensor | None = None, *, fast: bool = False
) -> torch.Tensor:
    """``bn(y + shift)``, through :func:`batch_norm` where the module is a plain
    ``nn.BatchNorm2d`` with a fixed momentum (:func:`groupable`).

    Parameters
    ----------
    bn : nn.Module
        The batch norm.
    y : Tensor
        (N, C, ...), its input.
    shift : Tensor or None
        (C,), added to ``y`` first (in ``y``'s dtype); ``None``: zero.
    fast : bool
        :func:`batch_norm`'s fewer passes where the tensor allows them.
    """
    if groupable([bn]):
        return grouped_batch_norm(y, [bn], shift, fast=fast)
    return bn(shifted(y, shift))


def fresh_output(bn: nn.Module) -> bool:
    """Whether ``bn``'s output is a new tensor that nothing saves for the backward (a
    batch norm's), so an activation after it may run in place.

    Parameters
    ----------
    bn : nn.Module
        The normalisation.
    """
    return isinstance(bn, _BatchNorm)
