"""Argument and input checks shared by the whole package: one home for each rule.

Every check raises with a message that names the argument and states what was expected
and what was received.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral
from typing import Any, get_args

import torch

__all__ = [
    "check_choice",
    "check_finite_scores",
    "check_input",
    "check_int",
    "choices",
    "shape_checks",
]


@contextmanager
def shape_checks() -> Iterator[None]:
    """Run checks of tensor shapes; under :func:`torch.jit.trace` they run once, on the
    example input, without a warning for every comparison recorded as a constant. In eager
    mode (every layer call) the warning filters are left alone."""
    if not torch.jit.is_tracing():
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


def choices(literal: Any) -> tuple[str, ...]:
    """The values of a ``Literal[...]`` type, in order: the one list of the valid choices."""
    values = get_args(literal)
    if not values:
        raise TypeError(f"expected a Literal type, got {literal!r}")
    return values


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an ``int`` or raise ``ValueError``/``TypeError`` naming it.

    Booleans and floats are refused even when integral (``2.0``), since they are almost
    always a mistake in a scale count or window size.
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_choice(name: str, value: object, literal: Any) -> Any:
    """Return ``value`` if it is one of the ``Literal`` type's values, else raise
    ``ValueError`` listing them."""
    allowed = choices(literal)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def check_input(
    x: torch.Tensor, channels: int, joints: int, layer: str, min_frames: int = 1
) -> None:
    """Raise ``ValueError`` unless ``x`` is a floating-point (N, channels, T, joints) tensor
    with N >= 1 and T >= ``min_frames`` (1, or 0 for a chunk of a stream; ``channels=-1``:
    any C; ``joints=-1``: any V)."""
    with shape_checks():
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{layer} expects a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 4:
            raise ValueError(
                f"{layer} expects input of shape (N, C, T, V), got {x.dim()} dimensions: "
                f"{list(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(
                f"{layer} expects a floating-point input (float32, float64, bfloat16, "
                f"float16), got {x.dtype}"
            )
        if channels >= 0 and x.shape[1] != channels:
            raise ValueError(
                f"{layer} expects C={channels} input channels, got {x.shape[1]} "
                f"(input shape {list(x.shape)})"
            )
        if x.shape[0] == 0 or x.shape[2] < min_frames:
            raise ValueError(
                f"{layer} expects at least one sample"
                + (" and one frame" if min_frames else "")
                + ", "
                f"got input shape {list(x.shape)}"
            )
        if joints >= 0 and x.shape[3] != joints:
            raise ValueError(
                f"{layer} expects V={joints} joints, got {x.shape[3]} (input shape {list(x.shape)})"
            )


def check_finite_scores(scores: torch.Tensor, what: str) -> None:
    """Raise ``ValueError`` if ``scores`` (N, K) hold a NaN or infinity: such a score has no
    rank, and counted anyway it makes a wrong prediction look right (NaN compares false
    with everything, so nothing ranks above it)."""
    bad = ~torch.isfinite(scores)
    if bad.any():
        sample, column = (int(i) for i in bad.nonzero()[0])
        raise ValueError(
            f"{what} hold {int(bad.sum())} NaN or infinite value(s), first "
            f"{float(scores[sample, column])} at sample {sample}, class {column}; scores must "
            "be finite"
        )
