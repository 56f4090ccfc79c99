"""The result of every reader: one skeleton sequence with its label and metadata."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from skelgraph.graph import LAYOUTS, SkeletonGraph, resolve_layout

__all__ = ["SkeletonSample"]


@dataclass
class SkeletonSample:
    """One skeleton sequence as read from a file.

    Parameters
    ----------
    data : numpy.ndarray
        float32, shape (C, T, V, M): channels (e.g. x, y, z or x, y, score), frames,
        joints, persons. A person or joint absent from a frame is all zeros there.
    label : int or None
        0-based class index, or ``None`` where the source gives none.
    layout : str or SkeletonGraph
        The layout the joints follow: the name of a built-in layout or a pyskl alias
        (:meth:`SkeletonGraph.from_layout`), or a :class:`SkeletonGraph` of your own.
    meta : dict
        Reader-specific facts (file path, subject, camera, view, ...), documented by each
        reader.

    Raises
    ------
    ValueError
        An unknown layout name, a layout of another type, data that is not (C, T, V, M),
        or V different from the layout's joint count.
    """

    data: np.ndarray
    label: int | None
    layout: str | SkeletonGraph
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.layout, str):
            joints = len(LAYOUTS[resolve_layout(self.layout)].joint_names)
        elif isinstance(self.layout, SkeletonGraph):
            joints = self.layout.num_nodes
        else:
            raise ValueError(
                "layout must be a built-in layout name or a SkeletonGraph, got "
                f"{type(self.layout).__name__}"
            )
        shape = np.shape(self.data)
        if len(shape) != 4:
            raise ValueError(f"data must be (C, T, V, M), got shape {shape}")
        if shape[2] != joints:
            raise ValueError(
                f"layout {self.layout_name!r} has {joints} joints but the data has V = "
                f"{shape[2]} (shape {shape}, (C, T, V, M))"
            )

    @property
    def layout_name(self) -> str:
        """The layout's name (a graph's :attr:`~SkeletonGraph.name`)."""
        return self.layout.name if isinstance(self.layout, SkeletonGraph) else self.layout

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
        """The :class:`SkeletonGraph` of ``layout``."""
        return SkeletonGraph.coerce(self.layout)

    def __repr__(self) -> str:
        return (
            f"SkeletonSample(shape={self.shape}, label={self.label}, layout={self.layout_name!r}, "
            f"meta keys={sorted(self.meta)})"
        )
