"""Mixed precision by name: ``"off"``, ``"bf16"`` or ``"fp16"`` for the forward pass.

Parameters and their updates stay float32; only the forward runs under
:class:`torch.autocast`. float16 also needs loss scaling (``torch.amp.GradScaler``),
bfloat16 has float32's range and does not.
"""

from __future__ import annotations

import torch

__all__ = ["AMP_DTYPES", "autocast"]

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
