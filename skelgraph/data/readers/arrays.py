"""Pose estimates held in plain arrays (MediaPipe, COCO-17 estimators, lifted 3-D poses)."""

from __future__ import annotations

import io
import math
import os
from pathlib import Path

import numpy as np

from skelgraph.data.errors import SkeletonFormatError
from skelgraph.data.readers._common import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ELEMENTS,
    FLOAT32_LIMIT,
    check_budgets,
    check_elements,
    check_label,
    layout_joints,
    layouts_hint,
    read_file_bytes,
    reading,
)
from skelgraph.data.sample import SkeletonSample
from skelgraph.graph import SkeletonGraph

__all__ = ["from_array", "read_array_file"]


def from_array(
    array: np.ndarray,
    layout: str | SkeletonGraph,
    *,
    label: int | None = None,
    path: str | os.PathLike[str] | None = None,
    max_elements: int | None = DEFAULT_MAX_ELEMENTS,
) -> SkeletonSample:
    """Wrap a (T, V, C) or (T, M, V, C) pose array as a (C, T, V, M) sample of a layout.

    This is the layout of most estimators' output stacked over frames: MediaPipe Hands
    (V = 21, ``"mediapipe-hand-21"``, C = 3: x, y, z), MediaPipe Pose / BlazePose (V = 33,
    ``"mediapipe-pose-33"``, C = 3 or 4 with visibility), COCO-17 estimators such as
    HRNet, ViTPose or YOLO-pose (V = 17, ``"coco-17"``, C = 3: x, y, score), or any other
    built-in layout, or your own :class:`~skelgraph.SkeletonGraph`. The joint order must
    be the layout's (its ``joint_names``); BODY_25 arrays go through
    :func:`body25_to_openpose18` first.

    NaN marks a joint the estimator did not find (MediaPipe, several trackers): such a
    joint becomes all zeros, the convention of every reader here.

    Parameters
    ----------
    array : array_like
        (T, V, C) for one person or (T, M, V, C).
    layout : str or SkeletonGraph
        A built-in layout name (:meth:`SkeletonGraph.layouts`) or pyskl alias
        (:data:`~skelgraph.graph.LAYOUT_ALIASES`), or any graph (e.g. one read with
        :meth:`SkeletonGraph.from_json`); the sample keeps the graph as its layout.
    label : int, optional
        0-based class.
    path : str or path, optional
        Where the array came from, for messages and ``meta``.
    max_elements : int or None
        Most values accepted (default 2**26, 256 MiB as float32); ``None`` for no limit.

    Returns
    -------
    SkeletonSample
        ``data`` float32 (C, T, V, M); ``meta``: ``path``.

    Raises
    ------
    ValueError
        An unknown layout name.
    TypeError
        A layout that is neither a name nor a :class:`~skelgraph.SkeletonGraph`.
    SkeletonFormatError
        Not 3-D or 4-D, no frames, V different from the layout's joint count (the
        message names the layouts with that many joints), an infinite value or one
        beyond float32's range (``|x| >= 3.4e38``; with its frame), more than
        ``max_elements`` values, or a label outside 0..2**31 - 1.
    """
    layout, expected, layout_name = layout_joints(layout)
    check_budgets(None, max_elements)
    if label is not None:
        label = check_label(label, "label", path)
    size = getattr(array, "size", None)
    if isinstance(size, (int, np.integer)):  # an array: refuse before copying it
        check_elements((size,), max_elements, path, "the array")
    with reading(path):
        try:
            x = np.array(array, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise SkeletonFormatError(f"not a numeric array ({error})", path) from None
    check_elements(x.shape, max_elements, path, "the array")
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise SkeletonFormatError(
            f"expected a (T, V, C) or (T, M, V, C) array, got shape {x.shape}", path
        )
    t, _, v, c = x.shape
    if t == 0 or c == 0:
        raise SkeletonFormatError(f"the array has no frames or no channels: {x.shape}", path)
    if v != expected:
        hint = f"; {layouts_hint(v)}" if layouts_hint(v) else ""
        if v == 25 and layout == "openpose-18":
            hint = "; BODY_25 data: map it with body25_to_openpose18 first"
        raise SkeletonFormatError(
            f"layout {layout_name!r} has {expected} joints but the array has V = {v} "
            f"(shape {x.shape}, read as (T, M, V, C)){hint}",
            path,
        )
    # infinite in float32: inf itself, or finite in float64 but too large for float32
    infinite = ~np.isnan(x) & ~(np.abs(x) < FLOAT32_LIMIT)
    if infinite.any():
        frame = int(np.argwhere(infinite)[0, 0])
        raise SkeletonFormatError(
            "infinite value, or one beyond float32's range (|x| >= 3.4e38)", path, frame=frame
        )
    missing = np.isnan(x).any(axis=-1, keepdims=True)
    x = np.where(missing, 0.0, x)
    data = np.ascontiguousarray(x.transpose(3, 0, 2, 1), dtype=np.float32)
    meta = {"path": None if path is None else os.fspath(path)}
    return SkeletonSample(data, label, layout, meta)


def read_array_file(
    path: str | os.PathLike[str],
    layout: str | SkeletonGraph,
    *,
    label: int | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_elements: int | None = DEFAULT_MAX_ELEMENTS,
) -> SkeletonSample:
    """Read a ``.npy`` (or text ``.csv``/``.txt`` with V·C columns and one row a frame)
    pose array and pass it to :func:`from_array`.

    A text file is (T, V·C): give it through ``np.loadtxt`` yourself if its channel count
    is not 3; here C = 3 is assumed. ``.npy`` files are loaded without pickles; their
    header is checked against the file's size and ``max_elements`` before the array is
    allocated.

    Parameters
    ----------
    path : str or path
        The file; only regular files are read.
    layout : str
        See :func:`from_array`.
    label : int, optional
        0-based class.
    max_bytes : int or None
        Largest file read (default 64 MiB); ``None`` for no limit.
    max_elements : int or None
        Most values of the array (default 2**26); ``None`` for no limit.

    Raises
    ------
    SkeletonFormatError
        An unreadable, truncated, empty or oversized file, a ``.npy`` header that
        claims more data than the file holds, any other failure its content causes, or
        any error of :func:`from_array`.
    """
    check_budgets(max_bytes, max_elements)
    path = Path(path)
    with reading(path):
        raw = read_file_bytes(path, max_bytes)
        if path.suffix == ".npy":
            array = _load_npy(raw, path, max_elements)
        else:
            text = raw.decode("utf-8")
            del raw
            if not text.strip():
                raise SkeletonFormatError("empty file", path)
            flat = np.loadtxt(
                io.StringIO(text), delimiter="," if path.suffix == ".csv" else None, ndmin=2
            )
            if flat.shape[1] % 3:
                raise SkeletonFormatError(
                    f"{flat.shape[1]} columns is not a multiple of 3 (x, y, z per joint)", path
                )
            array = flat.reshape(len(flat), -1, 3)
    return from_array(array, layout, label=label, path=path, max_elements=max_elements)


def _load_npy(raw: bytes, path: Path, max_elements: int | None) -> np.ndarray:
    """A ``.npy`` array from its bytes, its header checked before anything is allocated."""
    if not raw:
        raise SkeletonFormatError("empty file", path)
    stream = io.BytesIO(raw)
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    if dtype.hasobject:
        raise SkeletonFormatError(f"dtype {dtype} holds Python objects (pickles are refused)", path)
    check_elements(shape, max_elements, path, "the array")
    needed = math.prod(shape) * dtype.itemsize
    if len(raw) - stream.tell() < needed:
        raise SkeletonFormatError(
            f"truncated: the header declares shape {shape} of {dtype} ({needed} bytes), but "
            f"{len(raw) - stream.tell()} bytes follow it",
            path,
        )
    stream.seek(0)
    return np.load(stream, allow_pickle=False)
