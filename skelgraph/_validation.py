"""Argument and input checks shared by the whole package: one home for each rule.

Every check raises with a message that names the argument and states what was expected
and what was received.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Integral
from typing import Any, get_args

import torch
from torch import nn

from skelgraph import limits

__all__ = [
    "check_bool",
    "check_choice",
    "check_finite_scores",
    "check_graph_size",
    "check_input",
    "check_int",
    "check_tensor",
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


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a ``bool``, else raise ``TypeError`` naming it (``1`` or
    ``"yes"`` are refused: a switch is a switch)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {value!r} ({type(value).__name__})")
    return value


def check_graph_size(nodes: int, what: str) -> None:
    """Raise ``ValueError`` if a graph of ``nodes`` nodes exceeds
    :data:`skelgraph.limits.MAX_GRAPH_NODES`, before any of its V×V matrices is made."""
    if nodes > limits.MAX_GRAPH_NODES:
        raise ValueError(
            f"{what} has {nodes} nodes, above the budget of {limits.MAX_GRAPH_NODES} "
            f"(its V×V matrices would take {nodes * nodes * 8 / 2**30:.3g} GiB each); raise "
            "skelgraph.limits.MAX_GRAPH_NODES to build it"
        )


def check_choice(name: str, value: object, literal: Any) -> Any:
    """Return ``value`` if it is one of the ``Literal`` type's values, else raise
    ``ValueError`` listing them."""
    allowed = choices(literal)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def check_input(
    x: torch.Tensor, channels: int, joints: int, layer: nn.Module, min_frames: int = 1
) -> None:
    """Raise unless ``x`` is a (N, channels, T, joints) tensor of ``layer``'s dtype
    (:func:`check_tensor`) with N >= 1 and T >= ``min_frames`` (1, or 0 for a chunk of a
    stream; ``channels=-1``: any C; ``joints=-1``: any V)."""
    name = type(layer).__name__
    with shape_checks():
        check_tensor(x, layer)
        if x.dim() != 4:
            raise ValueError(
                f"{name} expects input of shape (N, C, T, V), got {x.dim()} dimensions: "
                f"{list(x.shape)}"
            )
        if channels >= 0 and x.shape[1] != channels:
            raise ValueError(
                f"{name} expects C={channels} input channels, got {x.shape[1]} "
                f"(input shape {list(x.shape)})"
            )
        if x.shape[0] == 0 or x.shape[2] < min_frames:
            raise ValueError(
                f"{name} expects at least one sample"
                + (" and one frame" if min_frames else "")
                + ", "
                f"got input shape {list(x.shape)}"
            )
        if joints >= 0 and x.shape[3] != joints:
            raise ValueError(
                f"{name} expects V={joints} joints, got {x.shape[3]} (input shape {list(x.shape)})"
            )


def check_tensor(x: torch.Tensor, layer: nn.Module) -> None:
    """Raise ``TypeError`` unless ``x`` is a tensor of the dtype of ``layer``'s
    floating-point weights, or, under :func:`torch.autocast` for its device, of the
    autocast dtype (what autocast hands a float32 layer); the message names both dtypes.
    Cheap: one comparison when the dtypes agree; a constant under ``torch.jit.trace``,
    ``torch.compile`` and export."""
    name = type(layer).__name__
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}")
    weights = itertools.chain(layer.parameters(), layer.buffers())
    expected = next((t.dtype for t in weights if t.is_floating_point()), None)
    if x.dtype == expected or (expected is None and x.is_floating_point()):
        return
    device = x.device.type
    autocast = torch.is_autocast_enabled(device)
    if autocast and x.dtype == torch.get_autocast_dtype(device):
        return
    wanted = "any" if expected is None else str(expected)
    if autocast:
        wanted += f" (or {torch.get_autocast_dtype(device)} under autocast)"
    hint = ""
    if expected is not None and x.is_floating_point():
        hint = f"; convert the input (x.to({expected})) or the layer (.to({x.dtype}))"
    raise TypeError(
        f"{name} expects a floating-point input of its weights' dtype, {wanted}, got "
        f"{x.dtype}{hint}"
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
