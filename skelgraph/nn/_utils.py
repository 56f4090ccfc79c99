"""Small helpers shared by the layers: activations and input checks."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = [
    "ActivationLike",
    "Implementation",
    "bias_norm_act",
    "check_input",
    "make_activation",
]

ActivationLike = str | nn.Module | None

Implementation = Literal["auto", "reference", "fast"]
"""Which computation a graph convolution runs: ``"reference"`` (the authors' order),
``"fast"`` or ``"auto"`` (the layer's documented rule). All give the same result up to
float rounding."""
IMPLEMENTATIONS = ("auto", "reference", "fast")

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
    "linear": nn.Identity,
}


def make_activation(activation: ActivationLike) -> nn.Module:
    """A module for ``activation``: a name (``"relu"``, ``"gelu"``, ``"identity"``, ...),
    a module (used as given) or ``None`` (identity)."""
    if activation is None:
        return nn.Identity()
    if isinstance(activation, nn.Module):
        return activation
    if isinstance(activation, str) and activation in _ACTIVATIONS:
        return _ACTIVATIONS[activation]()
    raise ValueError(
        f"activation must be an nn.Module, None or one of {', '.join(map(repr, _ACTIVATIONS))}, "
        f"got {activation!r}"
    )


def check_input(x: torch.Tensor, channels: int, joints: int, layer: str) -> None:
    """Raise ``ValueError`` unless ``x`` is (N, channels, T, joints) with N, T >= 1;
    ``joints=-1``: any V."""
    if x.dim() != 4:
        raise ValueError(
            f"{layer} expects input of shape (N, C, T, V), got {x.dim()} dimensions: "
            f"{list(x.shape)}"
        )
    if x.shape[1] != channels:
        raise ValueError(
            f"{layer} expects C={channels} input channels, got {x.shape[1]} "
            f"(input shape {list(x.shape)})"
        )
    if x.shape[0] == 0 or x.shape[2] == 0:
        raise ValueError(
            f"{layer} expects at least one sample and one frame, got input shape {list(x.shape)}"
        )
    if joints >= 0 and x.shape[3] != joints:
        raise ValueError(
            f"{layer} expects V={joints} joints, got {x.shape[3]} (input shape {list(x.shape)})"
        )


def bias_norm_act(y: torch.Tensor, bias: torch.Tensor | None, bn: nn.Module, act: nn.Module):
    """``act(bn(y + bias))`` over the channels of an (N, C, ...) tensor.

    For inference (no gradients needed, batch norm in eval mode, ReLU or no activation)
    the three steps run in place on ``y`` as one affine map and a clamp, saving two full
    passes and allocations; otherwise, the modules as they are. ``y`` must be a fresh
    tensor the caller owns.
    """
    shape = (1, -1) + (1,) * (y.dim() - 2)  # broadcast over channels
    fusable = isinstance(bn, nn.BatchNorm2d) and not bn.training and bn.track_running_stats
    if fusable and isinstance(act, nn.ReLU | nn.Identity) and not torch.is_grad_enabled():
        assert bn.running_var is not None and bn.running_mean is not None
        scale = torch.rsqrt(bn.running_var + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight
        shift = -bn.running_mean if bias is None else bias - bn.running_mean
        shift = shift * scale
        if bn.bias is not None:
            shift = shift + bn.bias
        y = y.mul_(scale.to(y.dtype).view(shape)).add_(shift.to(y.dtype).view(shape))
        return y.clamp_(min=0) if isinstance(act, nn.ReLU) else y
    if bias is not None:
        y = y + bias.to(y.dtype).view(shape)  # in y's dtype (autocast)
    return act(bn(y))
