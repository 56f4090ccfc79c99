"""Helpers shared by the readers: bounded file reading, the error contract, number checks.

Every reader goes through :func:`read_file_bytes` (only regular files, at most
``max_bytes``), checks the size of what it is about to allocate with
:func:`check_elements`, and runs its parsing inside :func:`reading`, which turns any
failure caused by the file's content into a :class:`SkeletonFormatError` naming the file.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
from collections.abc import Iterator
from typing import Any

import numpy as np

from skelgraph.data.errors import SkeletonFormatError
from skelgraph.graph import LAYOUTS, SkeletonGraph, resolve_layout

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ELEMENTS",
    "FLOAT32_LIMIT",
    "check_budgets",
    "check_elements",
    "check_finite32",
    "check_label",
    "layout_joints",
    "layouts_hint",
    "load_json",
    "numbers",
    "place_people",
    "read_file_bytes",
    "reading",
    "select_people_by_score",
]

DEFAULT_MAX_BYTES = 64 * 2**20
"""Largest file a reader reads by default (64 MiB; real NTU, Kinetics and N-UCLA files are
under 4 MiB). Pass ``max_bytes=None`` to lift it."""

DEFAULT_MAX_ELEMENTS = 2**26
"""Most values (67,108,864, i.e. 256 MiB as float32) a reader allocates for one sample by
default: an hour of 30 fps video of 2 people of 33 joints with 4 channels is 24 M. Pass
``max_elements=None`` to lift it."""

FLOAT32_LIMIT = float(2**128 - 2**103)
"""Magnitude from which a float64 rounds to infinity in float32 (the largest float32,
2**128 - 2**104, plus half an ulp); a coordinate must be strictly smaller."""

MAX_LABEL = 2**31 - 1
"""Largest class index a file may give (it must also fit every integer type a loss uses)."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def check_budgets(max_bytes: int | None, max_elements: int | None) -> None:
    """``ValueError`` unless each budget is ``None`` or a positive integer."""
    for name, value in (("max_bytes", max_bytes), ("max_elements", max_elements)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be a positive int or None, got {value!r}")
        if value is not None and value < 1:
            raise ValueError(f"{name} must be a positive int or None, got {value}")


def read_file_bytes(path: str | os.PathLike[str], max_bytes: int | None) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` bytes, or a format error.

    The file is opened without blocking and checked with ``fstat`` on the opened
    descriptor (so a symlink is judged by what it points to, and a file swapped after a
    check cannot slip through): a directory, device (``/dev/zero``), FIFO or socket is
    refused before anything is read, a file over ``max_bytes`` before it is read, and at
    most ``max_bytes + 1`` bytes are ever read (a file growing while it is read).

    Raises
    ------
    FileNotFoundError, PermissionError
        The file cannot be opened (not a format problem; left as is).
    SkeletonFormatError
        Not a regular file, or larger than ``max_bytes``.
    """
    name = os.fspath(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(name, flags)  # O_NONBLOCK: opening a FIFO must not wait for a writer
    try:
        info = os.fstat(fd)
        for test, kind in _KINDS:
            if test(info.st_mode):
                raise SkeletonFormatError(f"not a regular file: {kind}", name)
        if not stat.S_ISREG(info.st_mode):
            raise SkeletonFormatError("not a regular file", name)
        if max_bytes is not None and info.st_size > max_bytes:
            raise SkeletonFormatError(
                f"file of {info.st_size} bytes exceeds max_bytes={max_bytes} "
                "(pass a larger max_bytes, or None, to read it)",
                name,
            )
    except BaseException:
        os.close(fd)
        raise
    with open(fd, "rb", closefd=True) as file:  # buffered: read(n) loops until n or EOF
        if max_bytes is None:
            raw = file.read()
        else:  # read(n) allocates n bytes up front: ask for the size, not the budget
            raw = file.read(min(info.st_size, max_bytes) + 1)
            if len(raw) > info.st_size:  # the file grew since fstat
                raw += file.read(max_bytes + 1 - len(raw))
    if max_bytes is not None and len(raw) > max_bytes:
        raise SkeletonFormatError(f"file grew past max_bytes={max_bytes} while read", name)
    return raw


def check_elements(
    shape: tuple[int, ...], max_elements: int | None, path: str | os.PathLike[str] | None, what: str
) -> None:
    """Refuse, before allocating it, an array of ``shape`` with more than ``max_elements``."""
    count = math.prod(int(s) for s in shape)
    if max_elements is not None and count > max_elements:
        raise SkeletonFormatError(
            f"{what} of shape {tuple(int(s) for s in shape)} would hold {count} values, over "
            f"max_elements={max_elements} (pass a larger max_elements, or None, to read it)",
            path,
        )


def check_finite32(
    data: np.ndarray, path: str | os.PathLike[str] | None, frame_axis: int = 1
) -> np.ndarray:
    """``data`` as float32, or a format error naming the first frame with a non-finite value.

    The test is done on the float32 result, so that values finite in float64 but beyond
    float32's range (about 3.4e38) are refused instead of becoming infinities.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(data, dtype=np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        frame = int(np.argwhere(np.moveaxis(bad, frame_axis, 0))[0, 0])
        raise SkeletonFormatError(
            "non-finite value (or one beyond float32's range, |x| >= 3.4e38)", path, frame=frame
        )
    return out


def check_label(value: Any, what: str, path: str | os.PathLike[str], minimum: int = 0) -> int:
    """``value`` as a label, an int in ``minimum..MAX_LABEL``, or a format error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SkeletonFormatError(f"{what} must be an integer, got {value!r:.40}", path)
    if not minimum <= value <= MAX_LABEL:
        raise SkeletonFormatError(
            f"{what} must be in {minimum}..{MAX_LABEL}, got {_show(value)}", path
        )
    return int(value)


def layout_joints(layout: str | SkeletonGraph) -> tuple[str | SkeletonGraph, int, str]:
    """``(layout, V, name)``: a name resolved from a pyskl alias, or the graph itself.

    Raises
    ------
    ValueError
        An unknown layout name.
    TypeError
        Neither a name nor a :class:`~skelgraph.SkeletonGraph`.
    """
    if isinstance(layout, SkeletonGraph):
        return layout, layout.num_nodes, layout.name
    if isinstance(layout, str):
        name = resolve_layout(layout)
        return name, len(LAYOUTS[name].joint_names), name
    raise TypeError(f"layout must be a layout name or a SkeletonGraph, got {type(layout).__name__}")


# Joint counts shared by a built-in layout and a known dataset whose joints come in another
# order: a suggestion by count alone would be wrong for that dataset's files.
_OTHER_ORDERS = {
    20: "MSR Action3D's are in another order, which MSR_ACTION3D_TO_KINECT_V1 maps to it",
}


def layouts_hint(v: int) -> str:
    """The built-in layouts of ``v`` joints, for an error message ("" if none).

    A joint count does not tell the joint order: the hint says that a layout fits only
    if the data's joints are its ``joint_names`` in order, and names the known datasets
    of that count whose order differs.
    """
    same = [name for name, lay in LAYOUTS.items() if len(lay.joint_names) == v]
    if not same:
        return ""
    other = f"; {_OTHER_ORDERS[v]}" if v in _OTHER_ORDERS else ""
    return (
        f"built-in layouts with {v} joints: {', '.join(same)} (only if the data's joints are "
        f"in the order of its joint_names{other})"
    )


def _show(value: Any) -> str:
    """A short text for a value; a huge int by its size (``str`` fails past 4300 digits)."""
    if isinstance(value, int) and abs(value) > 10**40:
        return f"an integer of {value.bit_length()} bits"
    return f"{value!r:.40}"


# Failures that a file's content can cause in parsing code: they become format errors.


@contextlib.contextmanager
def reading(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """Run a reader's parsing: any failure the content can cause becomes a format error.

    :class:`SkeletonFormatError` passes unchanged; ``FileNotFoundError`` and
    ``PermissionError`` too (the file is missing or closed to us, not malformed); every
    other ``Exception`` (``OverflowError``, ``EOFError``, ``MemoryError``,
    ``UnicodeDecodeError``, the int-digit ``ValueError``, ...) is re-raised as a
    :class:`SkeletonFormatError` naming ``path``, chained to the original.
    """
    try:
        yield
    except (SkeletonFormatError, FileNotFoundError, PermissionError):
        raise
    except Exception as error:  # whatever the content caused (numpy's header parser
        # raises tokenize.TokenError, for one): the contract is a format error
        detail = str(error).splitlines()[0][:200] if str(error) else ""
        reason = f"unreadable content ({type(error).__name__}{': ' if detail else ''}{detail})"
        raise SkeletonFormatError(reason, path) from error


def load_json(path: str | os.PathLike[str], max_bytes: int | None = DEFAULT_MAX_BYTES) -> Any:
    """Parse a JSON file; any failure becomes a :class:`SkeletonFormatError` with a line."""
    path = os.fspath(path)
    raw = read_file_bytes(path, max_bytes)
    if not raw.strip():
        raise SkeletonFormatError("empty file", path, line=1)
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise SkeletonFormatError(f"invalid JSON: {error.msg}", path, line=error.lineno) from None
    except (UnicodeDecodeError, RecursionError) as error:
        raise SkeletonFormatError(f"invalid JSON: {type(error).__name__}", path, line=1) from None
    except ValueError as error:  # e.g. an integer over Python's 4300-digit limit
        raise SkeletonFormatError(f"invalid JSON: {error}", path) from None


def numbers(
    value: Any, count: int, what: str, path: str, *, frame: int | None = None
) -> np.ndarray:
    """``value`` as a float64 array of ``count`` numbers finite in float32, or a format error."""
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
        # A comparison, not math.isfinite: exact for ints of any size (no OverflowError),
        # false for NaN, and it refuses what float32 cannot hold.
        if not -FLOAT32_LIMIT < item < FLOAT32_LIMIT:
            raise SkeletonFormatError(
                f"non-finite value, or beyond float32's range, {_show(item)} in {what}",
                path,
                frame=frame,
            )
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


def place_people(
    frames: dict[int, list[np.ndarray]],
    num_frames: int,
    num_joints: int,
    num_people: int,
    *,
    channels: int = 3,
    score_channel: int = 2,
) -> np.ndarray:
    """Per frame, the ``num_people`` people with the highest total score, as float64 (C, T, V, M).

    The result equals :func:`select_people_by_score` applied to the dense array of every
    listed person (padded to the largest number of people in a frame), but memory is only
    what was parsed plus the output: frames with nobody, and people beyond ``num_people``,
    cost nothing. Ties keep the earlier person; a person whose total is negative ranks
    below the zero slots the dense array would have padded that frame with.

    Parameters
    ----------
    frames : dict
        Frame index to that frame's people, each (C, V), in listed order.
    num_frames, num_joints, num_people : int
        T, V and M of the output (check its size against a budget before calling).
    channels : int
        C of the output.
    score_channel : int
        The channel holding the per-joint confidence.
    """
    slots = max([num_people] + [len(p) for p in frames.values()])
    out = np.zeros((channels, num_frames, num_joints, num_people))
    for t, people in frames.items():
        if not people:
            continue
        stacked = np.stack(people)  # (P, C, V)
        # summed joint by joint, in the order the dense version sums them (same ties)
        totals = np.ascontiguousarray(stacked[:, score_channel].T).sum(axis=0)
        pads = np.zeros(min(slots - len(people), num_people))
        order = np.argsort(-np.concatenate([totals, pads]), kind="stable")[:num_people]
        for rank, j in enumerate(order):
            if j < len(people):
                out[:, t, :, rank] = stacked[j]
    return out
