"""The result of every reader: one skeleton sequence with its label and metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skelgraph.graph import SkeletonGraph

__all__ = ["SkeletonSample"]


@dataclass
class SkeletonSample:
    """One skeleton sequence as read from a file.

    Attributes
    ----------
    data : numpy.ndarray
        float32, shape (C, T, V, M): channels (e.g. x, y, z or x, y, score), frames,
        joints, persons. A person or joint absent from a frame is all zeros there.
    label : int or None
        0-based class index, or ``None`` where the source gives none.
    layout : str
        Name of the built-in layout the joints follow (:meth:`SkeletonGraph.from_layout`).
    meta : dict
        Reader-specific facts (file path, subject, camera, view, ...), documented by each
        reader.
    """

    data: np.ndarray
    label: int | None
    layout: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(C, T, V, M)``."""
        c, t, v, m = self.data.shape
        return c, t, v, m

    @property
    def num_frames(self) -> int:
        """T."""
        return int(self.data.shape[1])

    @property
    def graph(self) -> SkeletonGraph:
        """The :class:`SkeletonGraph` of :attr:`layout`."""
        return SkeletonGraph.from_layout(self.layout)

    def __repr__(self) -> str:
        return (
            f"SkeletonSample(shape={self.shape}, label={self.label}, layout={self.layout!r}, "
            f"meta keys={sorted(self.meta)})"
        )
