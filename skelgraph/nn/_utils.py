"""Small helpers shared by the layers: activations and input checks."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = [
    "ActivationLike",
    "Implementation",
    "add_channel_bias",
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
    """Raise ``ValueError`` unless ``x`` is (N, channels, T, joints); ``joints=-1``: any V."""
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
    if joints >= 0 and x.shape[3] != joints:
        raise ValueError(
            f"{layer} expects V={joints} joints, got {x.shape[3]} (input shape {list(x.shape)})"
        )


def add_channel_bias(y: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``y + bias`` over the channels of an (N, C, ...) tensor, in ``y``'s dtype (autocast)."""
    if bias is None:
        return y
    return y + bias.to(y.dtype).view((1, -1) + (1,) * (y.dim() - 2))
