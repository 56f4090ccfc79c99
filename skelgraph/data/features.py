r"""Input features derived from joint positions: bones, motion, per-axis min-max
normalisation, and temporal resampling."""

from __future__ import annotations

from typing import Literal

import numpy as np

from skelgraph.data._checks import (
    as_sequence,
    check_dims,
    check_score_channel,
    sequence_and_length,
)
from skelgraph.graph import GraphLike, SkeletonGraph

__all__ = ["bone_features", "minmax_normalize", "motion_features", "resample_frames"]


def bone_features(
    data: np.ndarray, graph: GraphLike, *, score_channel: int | None = None
) -> np.ndarray:
    r"""The bone stream of Section 3.4: each joint minus its parent.

    .. math::

        b_{c,t,v,m} = x_{c,t,v,m} - x_{c,t,p(v),m}

    with :math:`(v, p(v))` the graph's :attr:`~SkeletonGraph.bone_pairs` (bones directed
    away from the centre), so the centre joint's bone is zero. By default every channel
    is differenced, the confidence channel of 2-D data included, as in the authors'
    ``gen_bone_data.py``; for ``"ntu-rgbd"`` the result equals their bone data.

    With ``score_channel`` (2 for (x, y, score) data) that channel is not differenced but
    holds the mean confidence of the bone's two joints, as pyskl's ``JointToBone`` does
    for its 2-D layouts (``pyskl/datasets/pipelines/pose_related.py``):

    .. math::

        b_{s,t,v,m} = \tfrac12 \left(x_{s,t,v,m} + x_{s,t,p(v),m}\right)

    so the centre keeps its own score. (pyskl's ``JointToBone`` pairs each joint with a
    parent from a list of its own, which for ``coco`` and ``openpose`` differs from its
    graph's tree; the parents here are always the graph's.)

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M).
    graph : SkeletonGraph or layout name or any GraphLike
        Its V must match the data's.
    score_channel : int, optional
        The confidence channel, averaged instead of differenced.

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
    check_score_channel(score_channel, data.shape[0], optional=True)
    children, parents = (list(i) for i in zip(*graph.bone_pairs))
    out = np.empty_like(data)
    out[:, :, children] = data[:, :, children] - data[:, :, parents]
    if score_channel is not None:
        score = data[score_channel]
        out[score_channel][:, children] = (score[:, children] + score[:, parents]) / 2
    return out


def motion_features(data: np.ndarray, *, score_channel: int | None = None) -> np.ndarray:
    r"""Frame differences, the motion stream; the last frame is zero.

    .. math::

        \dot x_{c,t,v,m} = x_{c,t+1,v,m} - x_{c,t,v,m}, \quad t < T - 1; \qquad
        \dot x_{c,T-1,v,m} = 0

    With ``score_channel`` that channel holds the mean confidence of the two frames
    instead, :math:`\tfrac12 (x_{s,t,v,m} + x_{s,t+1,v,m})`, still zero in the last frame,
    as pyskl's ``ToMotion`` does for its ``coco`` and ``openpose`` data
    (``pyskl/datasets/pipelines/pose_related.py``).

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M); joints or bones.
    score_channel : int, optional
        The confidence channel, averaged instead of differenced.

    Returns
    -------
    numpy.ndarray
        Shape (C, T, V, M), same dtype.
    """
    data = as_sequence(data)
    check_score_channel(score_channel, data.shape[0], optional=True)
    out = np.zeros_like(data)
    out[:, :-1] = data[:, 1:] - data[:, :-1]
    if score_channel is not None:
        score = data[score_channel]
        out[score_channel, :-1] = (score[1:] + score[:-1]) / 2
    return out


def minmax_normalize(data: np.ndarray, *, dims: int = 3) -> np.ndarray:
    r"""Map each coordinate axis of a sequence onto [-1, 1] by its own extremes.

    .. math::

        y_{c,t,v,m} = 2\,\frac{x_{c,t,v,m} - \min_c}{\max_c - \min_c} - 1

    with :math:`\min_c, \max_c` over the present joints (any coordinate non-zero) of
    every frame and person: CTR-GCN's N-UCLA normalisation (``feeders/feeder_ucla.py``).
    The result does not change when the coordinates are translated or scaled by a
    positive factor. An axis whose present values are all equal maps to 0; absent joints
    stay zero; channels from ``dims`` on (a score) are copied.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M).
    dims : int
        Number of leading coordinate channels normalised.

    Returns
    -------
    numpy.ndarray
        Shape (C, T, V, M), same dtype.
    """
    data = as_sequence(data)
    check_dims(dims, data.shape[0])
    out = data.copy()
    coords = data[:dims].astype(np.float64)
    present = coords.any(axis=0)
    if not present.any():
        return out
    values = coords[:, present]  # (dims, number of present joints)
    low, high = values.min(axis=1), values.max(axis=1)
    span = high - low
    safe = np.where(span > 0, span, 1.0)[:, None, None, None]
    scaled = np.where(
        (span > 0)[:, None, None, None], 2 * (coords - low[:, None, None, None]) / safe - 1, 0.0
    )
    out[:dims] = scaled * present
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
    data = sequence_and_length(data, length, "resample")
    t = data.shape[1]
    positions = np.linspace(0.0, t - 1, length) if length > 1 else np.zeros(1)
    if mode == "nearest":
        return data[:, np.rint(positions).astype(np.int64)].copy()
    if mode != "linear":
        raise ValueError(f"mode must be 'linear' or 'nearest', got {mode!r}")
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, t - 1)
    weight = (positions - low).astype(data.dtype)[None, :, None, None]
    return (1 - weight) * data[:, low] + weight * data[:, high]
