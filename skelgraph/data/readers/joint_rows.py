"""Whitespace-separated text rows of joint coordinates (MSR Action3D, UTKinect-Action3D).

Many Kinect-era datasets keep a sequence as plain text, numbers separated by spaces or
tabs, in one of two forms:

- one joint per row, ``x y z`` or ``x y z c`` (a confidence), V rows per frame: MSR
  Action3D's ``aAA_sSS_eEE_skeleton.txt`` (and ``..._skeleton3D.txt``), 20 rows of
  ``x y z c`` per frame;
- one frame per row, the x y z of every joint, optionally after the frame's number:
  UTKinect-Action3D's ``joints_sSS_eEE.txt``, a frame number then 20 × (x y z).

MSR Action3D lists its joints in its own order (right shoulder, left shoulder, shoulder
centre, spine, right hip, left hip, hip centre, right elbow, ...), not in the Kinect
SDK's order of ``"kinect-v1-20"`` (hip centre, spine, shoulder centre, head, left
shoulder, ...); :data:`MSR_ACTION3D_TO_KINECT_V1` reorders them. UTKinect was recorded
with the Kinect for Windows SDK, whose joint order is ``"kinect-v1-20"``'s.
"""

from __future__ import annotations

import io
import os
from array import array
from collections.abc import Sequence

import numpy as np

from skelgraph.data.errors import SkeletonFormatError
from skelgraph.data.readers._common import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ELEMENTS,
    FLOAT32_LIMIT,
    check_budgets,
    layout_joints,
    read_file_bytes,
    reading,
)
from skelgraph.data.readers.arrays import from_array
from skelgraph.data.sample import SkeletonSample
from skelgraph.graph import LAYOUTS, SkeletonGraph

__all__ = ["MSR_ACTION3D_JOINTS", "MSR_ACTION3D_TO_KINECT_V1", "read_joint_rows"]

MSR_ACTION3D_JOINTS = (
    "shoulder_right", "shoulder_left", "shoulder_center", "spine",
    "hip_right", "hip_left", "hip_center",
    "elbow_right", "elbow_left", "wrist_right", "wrist_left", "hand_right", "hand_left",
    "knee_right", "knee_left", "ankle_right", "ankle_left", "foot_right", "foot_left",
    "head",
)  # fmt: skip
"""The 20 joints of an MSR Action3D frame, row by row, named as in ``"kinect-v1-20"``."""

MSR_ACTION3D_TO_KINECT_V1 = tuple(
    MSR_ACTION3D_JOINTS.index(name) for name in LAYOUTS["kinect-v1-20"].joint_names
)
"""For each joint of ``"kinect-v1-20"``, its row in an MSR Action3D frame (0-based): pass
it as ``joint_order`` to read MSR Action3D files in that layout."""


def read_joint_rows(
    path: str | os.PathLike[str],
    layout: str | SkeletonGraph,
    *,
    joint_order: Sequence[int] | None = None,
    keep_confidence: bool = False,
    label: int | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_elements: int | None = DEFAULT_MAX_ELEMENTS,
) -> SkeletonSample:
    r"""Read a text file of whitespace-separated joint coordinates, one person.

    The number of columns, the same in every row, tells the form, V being the layout's
    joint count:

    - 3 or 4 (``x y z [c]``): one joint per row, V rows a frame (MSR Action3D); the
      4th column, a confidence, is dropped unless ``keep_confidence``;
    - 3·V (``x1 y1 z1 ... xV yV zV``): one frame per row;
    - 3·V + 1: one frame per row after its frame number (UTKinect-Action3D), kept in
      ``meta["frame_numbers"]``.

    Blank lines are skipped; every other field must be a decimal number (no NaN,
    infinity or digit separators). The file's size is checked before it is read, and
    its rows are parsed one at a time, their numbers counted against ``max_elements``:
    memory stays within ``max_bytes`` plus 8 bytes a number.

    Parameters
    ----------
    path : str or path
        The file; only regular files are read.
    layout : str or SkeletonGraph
        The joints' layout: a built-in name (its joint order must be the file's, after
        ``joint_order``) or your own graph. It gives V.
    joint_order : sequence of int, optional
        A permutation of 0..V-1: joint ``i`` of the sample is joint ``joint_order[i]`` of
        each frame in the file. :data:`MSR_ACTION3D_TO_KINECT_V1` with ``"kinect-v1-20"``
        for MSR Action3D.
    keep_confidence : bool
        Keep the 4th column of one-joint rows as a 4th channel (C = 4).
    label : int, optional
        0-based class.
    max_bytes : int or None
        Largest file read (default 64 MiB); ``None`` for no limit.
    max_elements : int or None
        Most numbers read, frame numbers and dropped confidences included (default
        2**26, 512 MiB as float64); ``None`` for no limit.

    Returns
    -------
    SkeletonSample
        ``data`` float32 (C, T, V, 1), C = 3 (x, y, z) or 4 with ``keep_confidence``;
        ``meta``: ``path`` and, for numbered frame rows, ``frame_numbers`` (list of int).

    Raises
    ------
    SkeletonFormatError
        With the line: a field that is not a number, a non-finite value or one beyond
        float32's range, a row whose column count differs from the first row's, a column
        count of none of the forms, a non-integer frame number, more than
        ``max_elements`` values. Without it: an empty file, one-joint rows not a multiple
        of V, ``keep_confidence`` without a 4th column, a file that is not a regular file
        or exceeds ``max_bytes``, and any other failure its content causes.
    ValueError
        An unknown layout name, or a ``joint_order`` that is not a permutation of 0..V-1.
    TypeError
        A layout that is neither a name nor a :class:`~skelgraph.SkeletonGraph`.

    Examples
    --------
    Two frames of MSR Action3D (20 rows of ``x y z c`` each), in the Kinect v1 layout:

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "a01_s01_e01_skeleton3D.txt"
    >>> rows = [f"0.{j:02d} 0.5 2.5 1" for j in range(20)] * 2
    >>> _ = path.write_text("\n".join(rows))
    >>> sample = read_joint_rows(path, "kinect-v1-20", joint_order=MSR_ACTION3D_TO_KINECT_V1)
    >>> sample.shape, sample.data[0, 0, 3, 0]  # (C, T, V, M); the head: MSR's row 20
    ((3, 2, 20, 1), np.float32(0.19))
    """
    check_budgets(max_bytes, max_elements)
    layout, v, _ = layout_joints(layout)
    order = _permutation(joint_order, v)
    path = os.fspath(path)
    with reading(path):
        raw = read_file_bytes(path, max_bytes)
        rows, columns, lines = _parse(raw, v, path, max_elements)
    del raw
    meta_extra: dict = {}
    if columns in (3, 4):
        if keep_confidence and columns != 4:
            raise SkeletonFormatError(
                f"keep_confidence=True needs a 4th column (x y z c); the rows have {columns}",
                path,
            )
        if len(rows) % v:
            raise SkeletonFormatError(
                f"{len(rows)} rows of one joint each is not a multiple of the layout's {v} "
                f"joints ({len(rows) // v} whole frames and {len(rows) % v} rows over)",
                path,
            )
        xyz = rows.reshape(-1, v, columns)[..., : 4 if keep_confidence else 3]
    else:
        if columns == 3 * v + 1:
            numbers = rows[:, 0]
            whole = numbers == np.round(numbers)
            if not whole.all():
                bad = int(np.argmin(whole))
                raise SkeletonFormatError(
                    f"the frame number must be an integer, got {float(numbers[bad])!r}",
                    path,
                    line=int(lines[bad]),
                )
            meta_extra["frame_numbers"] = [int(n) for n in numbers]
        xyz = rows[:, columns - 3 * v :].reshape(-1, v, 3)
    if order is not None:
        xyz = xyz[:, order]
    sample = from_array(xyz, layout, label=label, path=path, max_elements=max_elements)
    sample.meta.update(meta_extra)
    return sample


def _permutation(joint_order: Sequence[int] | None, v: int) -> np.ndarray | None:
    if joint_order is None:
        return None
    order = np.asarray(joint_order)
    if (
        order.shape != (v,)
        or order.dtype.kind not in "iu"
        or sorted(order.tolist()) != list(range(v))
    ):
        raise ValueError(f"joint_order must be a permutation of 0..{v - 1}, got {joint_order!r}")
    return order


def _parse(
    raw: bytes, v: int, path: str, max_elements: int | None
) -> tuple[np.ndarray, int, np.ndarray]:
    """The rows as float64 (rows, columns), their column count and their 1-based lines."""
    values = array("d")
    lines = array("q")
    columns = 0
    max_rows = None
    for number, line in enumerate(io.BytesIO(raw), 1):  # one line at a time
        fields = line.split()
        if not fields:
            continue
        if not columns:
            columns = len(fields)
            _check_columns(columns, v, path, number)
            max_rows = None if max_elements is None else max_elements // columns
        elif len(fields) != columns:
            raise SkeletonFormatError(
                f"{len(fields)} columns, expected {columns} like line {lines[0]}",
                path,
                line=number,
            )
        if max_rows is not None and len(lines) >= max_rows:
            raise SkeletonFormatError(
                f"more than max_elements={max_elements} values (pass a larger max_elements, "
                "or None, to read it)",
                path,
                line=number,
            )
        try:
            if b"_" in line:  # float() takes digit separators; the format has none
                raise ValueError
            values.extend([float(f) for f in fields])
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            shown = repr(bad)[1:]  # the bytes' repr without its b: '1_000', '\xff'
            raise SkeletonFormatError(f"not a number: {shown:.40}", path, line=number) from None
        lines.append(number)
    if not columns:
        raise SkeletonFormatError("empty file (no rows of numbers)", path)
    rows = np.frombuffer(values, dtype=np.float64).reshape(-1, columns)
    # a comparison, not isfinite: NaN fails it, and so does what float32 cannot hold
    beyond = ~(np.abs(rows) < FLOAT32_LIMIT)
    if beyond.any():
        row, column = np.argwhere(beyond)[0]
        value = float(rows[row, column])
        raise SkeletonFormatError(
            f"non-finite value, or beyond float32's range (|x| >= 3.4e38): {value!r} in column "
            f"{column + 1}",
            path,
            line=int(lines[row]),
        )
    return rows, columns, np.frombuffer(lines, dtype=np.int64)


def _check_columns(columns: int, v: int, path: str, line: int) -> None:
    """A format error unless ``columns`` is that of one of the forms."""
    if columns in (3, 4, 3 * v, 3 * v + 1):
        return
    raise SkeletonFormatError(
        f"{columns} columns; expected 3 or 4 (x y z [c], one joint per row), {3 * v} "
        f"(x y z of the layout's {v} joints, one frame per row) or {3 * v + 1} (a frame "
        "number, then those)",
        path,
        line=line,
    )


def _is_number(field: bytes) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return b"_" not in field
