"""Mixed precision by name: ``"off"``, ``"bf16"`` or ``"fp16"`` for the forward pass.

Parameters and their updates stay float32; only the forward runs under
:class:`torch.autocast`. float16 also needs loss scaling (``torch.amp.GradScaler``),
bfloat16 has float32's range and does not.
"""

from __future__ import annotations

import torch

__all__ = ["AMP_DTYPES", "autocast", "compute_dtype"]

AMP_DTYPES: dict[str, torch.dtype | None] = {
    "off": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
"""Autocast's dtype for each mixed-precision name (None: full precision)."""


def autocast(device: torch.device, amp: str) -> torch.autocast:
    """The forward pass's autocast context for ``amp`` (disabled for ``"off"``).

    Parameters
    ----------
    device : torch.device
        Where the forward runs (its type picks the autocast backend).
    amp : {"off", "bf16", "fp16"}
        A key of :data:`AMP_DTYPES`.

    Raises
    ------
    ValueError
        An unknown ``amp`` name.
    """
    if amp not in AMP_DTYPES:
        raise ValueError(f"amp must be one of {', '.join(AMP_DTYPES)}, got {amp!r}")
    dtype = AMP_DTYPES[amp]
    return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype autocast runs the matrix products of ``x`` in: autocast's lower precision
    where it is on for ``x``'s device (float64 is never cast), else ``x``'s own.

    The fast kernels cast their operands to it once per call and save the cast copies for
    the backward, instead of letting autocast cast a weight at every product of a loop
    (autocast caches only casts of leaf parameters, not of the views the layers pass).

    Parameters
    ----------
    x : Tensor
        The input of the products.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(2)
    >>> with torch.autocast("cpu", dtype=torch.bfloat16):
    ...     compute_dtype(x), compute_dtype(x.double())
    (torch.bfloat16, torch.float64)
    >>> compute_dtype(x)
    torch.float32
    """
    device = x.device.type
    if torch.is_autocast_enabled(device) and x.is_floating_point() and x.dtype != torch.float64:
        return torch.get_autocast_dtype(device)
    return x.dtype
