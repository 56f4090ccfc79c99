"""Argument checks shared by the array functions of :mod:`skelgraph.data`."""

from __future__ import annotations

import numpy as np

__all__ = [
    "as_sequence",
    "check_dims",
    "check_score_channel",
    "joint_position",
    "require_finite",
    "sequence_and_length",
]


def as_sequence(data: np.ndarray, name: str = "data") -> np.ndarray:
    """``data`` as a float array of shape (C, T, V, M), or a ``ValueError``."""
    array = np.asarray(data)
    if array.ndim != 4:
        raise ValueError(f"{name} must have shape (C, T, V, M), got {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    return array


def sequence_and_length(data: np.ndarray, length: int, action: str) -> np.ndarray:
    """``data`` as (C, T, V, M) with T >= 1, for a function that makes it ``length`` >= 1
    frames long (``action``: what it does, for the message)."""
    data = as_sequence(data)
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    if data.shape[1] == 0:
        raise ValueError(f"cannot {action} a sequence with no frames")
    return data


def check_dims(dims: int, channels: int) -> None:
    """``ValueError`` unless ``dims``, a number of leading coordinate channels, is in
    1..``channels``."""
    if not 1 <= dims <= channels:
        raise ValueError(f"dims must be in 1..{channels}, got {dims}")


def check_score_channel(score_channel: int | None, channels: int, *, optional: bool) -> None:
    """``ValueError`` unless ``score_channel`` is a channel index (or, if ``optional``,
    ``None``)."""
    if score_channel is None and optional:
        return
    if not isinstance(score_channel, (int, np.integer)) or not 0 <= score_channel < channels:
        raise ValueError(f"score_channel must be in 0..{channels - 1}, got {score_channel}")


def joint_position(data: np.ndarray, joint: int | tuple[int, ...]) -> np.ndarray:
    """Position of a joint, or the mean of several, shape (C, T, M)."""
    joints = (joint,) if isinstance(joint, (int, np.integer)) else tuple(joint)
    v = data.shape[2]
    for j in joints:
        if not 0 <= j < v:
            raise ValueError(f"joint {j} is out of range for V = {v}")
    return data[:, :, list(joints)].mean(axis=2)


def require_finite(data: np.ndarray, name: str = "data") -> None:
    """``ValueError`` naming the first (frame, joint, person) holding NaN or infinity.

    Used where one value spreads to the whole sequence (a centre joint subtracted from
    every joint, a rotation measured in one frame): readers mark a missing joint with
    zeros, never NaN.
    """
    bad = ~np.isfinite(data)
    if bad.any():
        c, t, v, m = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} holds a non-finite value (NaN or inf) at channel {c}, frame {t}, joint "
            f"{v}, person {m}; mark missing joints with 0 (as the readers and from_array do)"
        )
