"""Activations by name: the σ of the layers."""

from __future__ import annotations

from torch import nn

__all__ = ["ActivationLike", "make_activation"]

ActivationLike = str | nn.Module | None

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
    a module (used as given) or ``None`` (identity).

    Parameters
    ----------
    activation : str, nn.Module or None
        ``"relu"``, ``"leaky_relu"``, ``"gelu"``, ``"silu"``, ``"tanh"``, ``"identity"`` or
        ``"linear"`` (a new module of that kind), a module, or ``None``.
    """
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
