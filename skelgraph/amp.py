"""Mixed precision by name: ``"off"``, ``"bf16"`` or ``"fp16"`` for the forward pass.

Parameters and their updates stay float32; only the forward runs under
:class:`torch.autocast`. float16 also needs loss scaling (``torch.amp.GradScaler``),
bfloat16 has float32's range and does not.

On CPU the lower precision pays only where the processor multiplies it natively
(bfloat16: AVX512-BF16 or AMX; float16: AVX512-FP16 or AMX-FP16, as oneDNN reports).
Elsewhere PyTorch emulates those products, many times slower than float32, and
:func:`autocast` warns (:class:`SlowPrecisionWarning`, once per place that calls it).
"""

from __future__ import annotations

import warnings

import torch

__all__ = ["AMP_DTYPES", "SlowPrecisionWarning", "autocast", "compute_dtype", "native"]

AMP_DTYPES: dict[str, torch.dtype | None] = {
    "off": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}
"""Autocast's dtype for each mixed-precision name (None: full precision)."""


def _dtype(amp: str) -> torch.dtype | None:
    if amp not in AMP_DTYPES:
        raise ValueError(f"amp must be one of {', '.join(AMP_DTYPES)}, got {amp!r}")
    return AMP_DTYPES[amp]


class SlowPrecisionWarning(RuntimeWarning):
    """Autocast to a precision whose matrix products the processor does not run natively."""


# oneDNN's own checks of the processor (its bf16 and fp16 kernels need the instructions)
_NATIVE_CHECKS = {
    torch.bfloat16: "_is_mkldnn_bf16_supported",
    torch.float16: "_is_mkldnn_fp16_supported",
}


def native(device: torch.device, amp: str) -> bool:
    """Whether ``amp``'s matrix products run natively on ``device``.

    ``"off"`` always does; on CPU, bfloat16 needs AVX512-BF16 or AMX and float16
    AVX512-FP16 or AMX-FP16 (oneDNN's checks; a build without oneDNN has neither). Other
    devices are not checked here (``True``).

    Parameters
    ----------
    device : torch.device
        Where the forward runs.
    amp : {"off", "bf16", "fp16"}
        A key of :data:`AMP_DTYPES`.

    Raises
    ------
    ValueError
        An unknown ``amp`` name.
    """
    dtype = _dtype(amp)
    if dtype is None or device.type != "cpu":
        return True
    check = getattr(torch.ops.mkldnn, _NATIVE_CHECKS[dtype], None)
    return bool(torch.backends.mkldnn.is_available() and check is not None and check())


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

    Warns
    -----
    SlowPrecisionWarning
        ``amp`` on a CPU without native products in it (:func:`native`): correct results,
        many times slower than ``"off"``.
    """
    dtype = _dtype(amp)
    if not native(device, amp):
        warnings.warn(
            f"amp={amp!r} on a CPU without native {str(dtype).removeprefix('torch.')} matrix "
            "products (oneDNN reports none: bfloat16 needs AVX512-BF16 or AMX, float16 "
            "AVX512-FP16 or AMX-FP16): PyTorch emulates them, many times slower than "
            "float32; use amp='off' (train.py --amp off)",
            SlowPrecisionWarning,
            stacklevel=2,
        )
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
