"""Helpers shared by the JSON readers: loading with line numbers, number checks, people."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from skelgraph.data.errors import SkeletonFormatError

__all__ = ["load_json", "numbers", "select_people_by_score"]


def load_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file; any failure becomes a :class:`SkeletonFormatError` with a line."""
    path = os.fspath(path)
    raw = Path(path).read_bytes()
    if not raw.strip():
        raise SkeletonFormatError("empty file", path, line=1)
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise SkeletonFormatError(f"invalid JSON: {error.msg}", path, line=error.lineno) from None
    except (UnicodeDecodeError, RecursionError) as error:
        raise SkeletonFormatError(f"invalid JSON: {type(error).__name__}", path, line=1) from None


def numbers(
    value: Any, count: int, what: str, path: str, *, frame: int | None = None
) -> np.ndarray:
    """``value`` as a float64 array of ``count`` finite numbers, or a format error."""
    if not isinstance(value, list):
        raise SkeletonFormatError(
            f"{what} must be a list, got {type(value).__name__}", path, frame=frame
        )
    if len(value) != count:
        raise SkeletonFormatError(
            f"{what} must have {count} values, got {len(value)}", path, frame=frame
        )
    for item in value:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise SkeletonFormatError(
                f"non-numeric value {item!r:.40} in {what}", path, frame=frame
            )
        if not math.isfinite(item):
            raise SkeletonFormatError(f"non-finite value {item!r} in {what}", path, frame=frame)
    return np.asarray(value, dtype=np.float64)


def select_people_by_score(data: np.ndarray, num_people: int, score_channel: int = 2) -> np.ndarray:
    """Keep, frame by frame, the ``num_people`` people with the highest total score.

    ST-GCN's Kinetics feeder (also used by 2s-AGCN and MS-G3D): in every frame
    independently, sort the person slots by the sum of their joint scores, descending,
    and keep the first ``num_people``. A slot of the output can therefore hold different
    people in different frames.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M_in).
    num_people : int
        M_out; when larger than M_in the result is zero-padded.
    score_channel : int
        Channel holding the per-joint confidence.

    Returns
    -------
    numpy.ndarray
        Shape (C, T, V, num_people), same dtype. Ties keep the earlier slot.
    """
    c, t, v, m = data.shape
    if m < num_people:
        data = np.concatenate([data, np.zeros((c, t, v, num_people - m), data.dtype)], axis=3)
    totals = data[score_channel].sum(axis=1)  # (T, M)
    order = np.argsort(-totals, axis=1, kind="stable")[:, :num_people]  # (T, num_people)
    frames = np.arange(t)[:, None]
    return np.ascontiguousarray(data[:, frames, :, order].transpose(2, 0, 3, 1))
