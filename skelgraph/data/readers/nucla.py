"""Northwestern-UCLA Multiview Action3D (N-UCLA) skeletons in CTR-GCN's JSON form."""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skelgraph.data.errors import SkeletonFormatError
from skelgraph.data.readers._common import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ELEMENTS,
    check_budgets,
    check_elements,
    check_finite32,
    check_label,
    load_json,
    numbers,
    reading,
)
from skelgraph.data.sample import SkeletonSample

__all__ = ["NUCLAName", "nucla_cross_view_split", "parse_nucla_name", "read_nucla_json"]

NUCLA_NUM_JOINTS = 20
_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)")


@dataclass(frozen=True)
class NUCLAName:
    """The fields of an N-UCLA name ``aAA_sSS_eEE_vVV`` (as written, 1-based except ``e``).

    Parameters
    ----------
    action, subject, repetition, view : int
        The numbers after ``a``, ``s``, ``e`` and ``v``.
    """

    action: int
    subject: int
    repetition: int
    view: int


def parse_nucla_name(name: str | os.PathLike[str]) -> NUCLAName | None:
    """Parse ``aAA_sSS_eEE_vVV`` from the start of a base name; ``None`` if it does not match.

    Parameters
    ----------
    name : str or os.PathLike
        A file name or path; only its base name is parsed.

    Examples
    --------
    >>> parse_nucla_name("all_sqe/a08_s03_e01_v02.json")
    NUCLAName(action=8, subject=3, repetition=1, view=2)
    """
    match = _NAME.match(Path(name).name)
    if match is None:
        return None
    return NUCLAName(*(int(g) for g in match.groups()))


def nucla_cross_view_split(
    paths: Iterable[str | os.PathLike[str]],
    *,
    train_views: Collection[int] = (1, 2),
    test_views: Collection[int] = (3,),
) -> tuple[list[str], list[str]]:
    """The standard N-UCLA cross-view split by file name: train on views 1, 2; test on 3.

    Parameters
    ----------
    paths : iterable of str or path
        Files named ``aAA_sSS_eEE_vVV...``; a folder's ``*.json`` for instance.
    train_views, test_views : collections of int
        The views of each part; files of other views go to neither.

    Returns
    -------
    train, test : list of str
        The paths (as ``os.fspath``), sorted.

    Raises
    ------
    ValueError
        A name that does not follow the pattern, or a view in both parts.
    """
    if set(train_views) & set(test_views):
        raise ValueError(f"views {sorted(set(train_views) & set(test_views))} are in both parts")
    train: list[str] = []
    test: list[str] = []
    for path in sorted(os.fspath(p) for p in paths):
        parsed = parse_nucla_name(path)
        if parsed is None:
            raise ValueError(f"{path!r} is not an N-UCLA name aAA_sSS_eEE_vVV")
        if parsed.view in train_views:
            train.append(path)
        elif parsed.view in test_views:
            test.append(path)
    return train, test


def read_nucla_json(
    path: str | os.PathLike[str],
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_elements: int | None = DEFAULT_MAX_ELEMENTS,
) -> SkeletonSample:
    """Read one N-UCLA sequence in the JSON form released with CTR-GCN.

    The format: ``{"file_name": "a01_s01_e00_v01", "skeletons": [[[x, y, z] x 20] x T],
    "label": 1..10}``, Kinect v1 camera coordinates in metres, one person.

    Parameters
    ----------
    path : str or path
        The JSON file.
    max_bytes : int or None
        Largest file read (default 64 MiB); ``None`` for no limit. Only regular files
        are read.
    max_elements : int or None
        Most values of the output, 3 · T · 20 (default 2**26); ``None`` for no limit.

    Returns
    -------
    SkeletonSample
        ``data`` float32 (3, T, 20, 1), layout ``"kinect-v1-20"``, ``label`` the file's
        1-based ``label`` minus 1 (0..9; note the actions a01..a12 skip a07 and a10),
        ``meta``: ``path``, ``file_name`` and, when the name parses, ``action``
        (the ``a`` number), ``subject``, ``repetition``, ``view``.

    Raises
    ------
    SkeletonFormatError
        Empty file, invalid JSON, a missing field, no frames, a frame with other than 20
        joints, a joint with other than 3 coordinates, a non-numeric or non-finite value
        (with the frame; also one beyond float32's range), a label that is not an
        integer in 1..2**31 - 1, a file that is not a regular file or exceeds a budget,
        and any other failure its content causes.
    """
    check_budgets(max_bytes, max_elements)
    path = os.fspath(path)
    with reading(path):
        record, out = _parse(path, max_bytes, max_elements)
    label = record.get("label")
    if label is not None:
        label = check_label(label, "'label'", path, minimum=1)
    file_name = record.get("file_name")
    meta: dict = {"path": path, "file_name": file_name if isinstance(file_name, str) else None}
    parsed = parse_nucla_name(meta["file_name"] or path)
    if parsed is not None:
        meta.update(
            action=parsed.action,
            subject=parsed.subject,
            repetition=parsed.repetition,
            view=parsed.view,
        )
    return SkeletonSample(out, None if label is None else label - 1, "kinect-v1-20", meta)


def _parse(path: str, max_bytes: int | None, max_elements: int | None) -> tuple[dict, np.ndarray]:
    """The JSON record and its (3, T, 20, 1) float32 data."""
    record = load_json(path, max_bytes)
    if not isinstance(record, dict) or not isinstance(record.get("skeletons"), list):
        raise SkeletonFormatError("expected a JSON object with a 'skeletons' list", path)
    frames = record["skeletons"]
    if not frames:
        raise SkeletonFormatError("the sequence has no frames", path)
    check_elements((3, len(frames), NUCLA_NUM_JOINTS, 1), max_elements, path, "the output")
    parsed = []  # validated frame by frame: a malformed file fails before the allocation
    for t, frame in enumerate(frames):
        if not isinstance(frame, list) or len(frame) != NUCLA_NUM_JOINTS:
            got = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise SkeletonFormatError(
                f"expected a list of {NUCLA_NUM_JOINTS} joints, got {got}", path, frame=t
            )
        parsed.append([numbers(j, 3, f"joint {v}", path, frame=t) for v, j in enumerate(frame)])
    data = np.array(parsed)  # (T, V, 3)
    return record, check_finite32(data.transpose(2, 0, 1)[..., None], path)
