r"""Input features derived from joint positions: bones, motion, and temporal resampling."""

from __future__ import annotations

from typing import Literal

import numpy as np

from skelgraph.data._checks import as_sequence
from skelgraph.graph import GraphLike, SkeletonGraph

__all__ = ["bone_features", "motion_features", "resample_frames"]


def bone_features(data: np.ndarray, graph: GraphLike) -> np.ndarray:
    r"""The bone stream of Section 3.4: each joint minus its parent.

    .. math::

        b_{c,t,v,m} = x_{c,t,v,m} - x_{c,t,p(v),m}

    with :math:`(v, p(v))` the graph's :attr:`~SkeletonGraph.bone_pairs` (bones directed
    away from the centre), so the centre joint's bone is zero. Every channel is
    differenced, the confidence channel of 2-D data included, as in the authors'
    ``gen_bone_data.py``; for ``"ntu-rgbd"`` the result equals their bone data.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M).
    graph : SkeletonGraph or layout name or any GraphLike
        Its V must match the data's.

    Returns
    -------
    numpy.ndarray
        Shape (C, T, V, M), same dtype.
    """
    data = as_sequence(data)
    graph = SkeletonGraph.coerce(graph)
    if graph.num_nodes != data.shape[2]:
        raise ValueError(
            f"graph {graph.name!r} has {graph.num_nodes} joints but the data has V = "
            f"{data.shape[2]}"
        )
    children, parents = (list(i) for i in zip(*graph.bone_pairs))
    out = np.empty_like(data)
    out[:, :, children] = data[:, :, children] - data[:, :, parents]
    return out


def motion_features(data: np.ndarray) -> np.ndarray:
    r"""Frame differences, the motion stream; the last frame is zero.

    .. math::

        \dot x_{c,t,v,m} = x_{c,t+1,v,m} - x_{c,t,v,m}, \quad t < T - 1; \qquad
        \dot x_{c,T-1,v,m} = 0

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M); joints or bones.

    Returns
    -------
    numpy.ndarray
        Shape (C, T, V, M), same dtype.
    """
    data = as_sequence(data)
    out = np.zeros_like(data)
    out[:, :-1] = data[:, 1:] - data[:, :-1]
    return out


def resample_frames(
    data: np.ndarray, length: int, *, mode: Literal["linear", "nearest"] = "linear"
) -> np.ndarray:
    r"""Resample a sequence uniformly in time to ``length`` frames.

    Output frame :math:`i` samples input time :math:`s_i = i\,(T-1)/(L-1)` (so the first
    and last frames are kept; :math:`s_0 = 0` when :math:`L = 1`):

    .. math::

        y_i = (1 - \lambda_i)\, x_{\lfloor s_i \rfloor} + \lambda_i\, x_{\lfloor s_i
        \rfloor + 1}, \qquad \lambda_i = s_i - \lfloor s_i \rfloor

    for ``"linear"``; ``"nearest"`` takes :math:`x_{\operatorname{round}(s_i)}`, which
    never mixes a present joint with an absent (zero) one.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M), T >= 1.
    length : int
        L >= 1.
    mode : {"linear", "nearest"}

    Returns
    -------
    numpy.ndarray
        Shape (C, L, V, M), same dtype.
    """
    data = as_sequence(data)
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    t = data.shape[1]
    if t == 0:
        raise ValueError("cannot resample a sequence with no frames")
    positions = np.linspace(0.0, t - 1, length) if length > 1 else np.zeros(1)
    if mode == "nearest":
        return data[:, np.rint(positions).astype(np.int64)].copy()
    if mode != "linear":
        raise ValueError(f"mode must be 'linear' or 'nearest', got {mode!r}")
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, t - 1)
    weight = (positions - low).astype(data.dtype)[None, :, None, None]
    return (1 - weight) * data[:, low] + weight * data[:, high]
