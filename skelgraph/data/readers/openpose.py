"""A user's own OpenPose output: a folder of per-frame ``*_keypoints.json`` files."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from skelgraph.data.errors import SkeletonFormatError
from skelgraph.data.readers._common import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ELEMENTS,
    MAX_LABEL,
    check_budgets,
    check_elements,
    load_json,
    numbers,
    place_people,
    reading,
)
from skelgraph.data.sample import SkeletonSample

__all__ = ["BODY25_TO_OPENPOSE18", "body25_to_openpose18", "read_openpose_folder"]

BODY25_TO_OPENPOSE18: tuple[int, ...] = (*range(8), *range(9, 19))
"""BODY_25 keypoint of each ``openpose-18`` joint.

BODY_25 is COCO-18 with ``MidHip`` inserted at 8 and six foot points appended, so the
mapping keeps 0-7 (nose, neck, right shoulder/elbow/wrist, left shoulder/elbow/wrist) and
9-18 (right hip/knee/ankle, left hip/knee/ankle, right/left eye, right/left ear) and drops
8 ``MidHip`` and 19-24 (``LBigToe``, ``LSmallToe``, ``LHeel``, ``RBigToe``,
``RSmallToe``, ``RHeel``).
"""

_MODELS = {25: "BODY_25", 18: "COCO"}
_FRAME_NUMBER = re.compile(r"(\d+)_keypoints\.json$")


def body25_to_openpose18(array: np.ndarray, joint_axis: int = -2) -> np.ndarray:
    """Select the ``openpose-18`` joints of BODY_25 data along ``joint_axis``.

    Parameters
    ----------
    array : numpy.ndarray
        Any array with 25 entries on ``joint_axis``, e.g. (T, 25, C) or (C, T, 25, M).
    joint_axis : int
        The joint axis.

    Returns
    -------
    numpy.ndarray
        The same array with 18 joints, ordered as :data:`BODY25_TO_OPENPOSE18`.
    """
    if array.shape[joint_axis] != 25:
        raise ValueError(f"expected 25 BODY_25 joints on axis {joint_axis}, got {array.shape}")
    return np.take(array, BODY25_TO_OPENPOSE18, axis=joint_axis)


def _frame_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.name.endswith("_keypoints.json")]

    def key(p: Path) -> tuple[int, int | str, str]:
        match = _FRAME_NUMBER.search(p.name)
        return (0, int(match.group(1)), p.name) if match else (1, p.name, p.name)

    return sorted(files, key=key)


def read_openpose_folder(
    folder: str | os.PathLike[str],
    *,
    model: Literal["auto", "BODY_25", "COCO"] = "auto",
    num_people: int = 2,
    max_people_read: int | None = None,
    image_size: tuple[float, float] | None = None,
    label: int | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_files: int | None = 100_000,
    max_elements: int | None = DEFAULT_MAX_ELEMENTS,
) -> SkeletonSample:
    """Read OpenPose's per-frame JSON output (``--write_json``) as an ``openpose-18`` clip.

    Each file ``<video>_<frame:012d>_keypoints.json`` holds ``{"version": 1.3,
    "people": [{"person_id": [-1], "pose_keypoints_2d": [x0, y0, c0, x1, ...], ...},
    ...]}`` (OpenPose < 1.2 names the field ``pose_keypoints``), pixel coordinates and a
    confidence per keypoint, all zero for a keypoint not found. Files are ordered by the
    frame number in their names, frame t of the clip being the t-th file.

    BODY_25 output is mapped onto ``openpose-18`` (:data:`BODY25_TO_OPENPOSE18`); COCO
    (18-keypoint) output is already in that order. People are chosen as ST-GCN does for
    Kinetics (:func:`select_people_by_score`: per frame, highest summed confidence first).

    Parameters
    ----------
    folder : str or path
        The folder of ``*_keypoints.json`` files of one video.
    model : {"auto", "BODY_25", "COCO"}
        The OpenPose model; ``"auto"`` infers it from the number of keypoints (25 or 18)
        and requires every file to agree.
    num_people : int
        M of the output.
    max_people_read : int, optional
        People read per frame before selection (``None``: all).
    image_size : (width, height), optional
        When given, coordinates are brought to Kinetics-Skeleton's convention, so that a
        model trained on Kinetics sees what it was trained on: divided by the frame size,
        then :math:`x - 0.5`, :math:`0.5 - y`. Otherwise they stay in pixels. Either way
        x = y = 0 where the confidence is 0.
    label : int, optional
        The clip's class, stored as ``SkeletonSample.label`` (0..2**31 - 1).
    max_bytes : int or None
        Largest total size of the folder's keypoint files (default 64 MiB), checked
        before any is parsed; ``None`` for no limit. Only regular files are read.
    max_files : int or None
        Most keypoint files, i.e. frames (default 100,000: about an hour at 30 fps);
        ``None`` for no limit.
    max_elements : int or None
        Most values of the output, 3 · T · 18 · num_people (default 2**26); ``None`` for
        no limit. People are kept as parsed: files with nobody, and people beyond
        ``num_people`` in a frame, cost nothing more.

    Returns
    -------
    SkeletonSample
        ``data`` float32 (3, T, 18, num_people), channels (x, y, confidence), layout
        ``"openpose-18"``; ``meta``: ``path`` (the folder), ``model``, ``files``.

    Raises
    ------
    SkeletonFormatError
        No keypoint files, a file that is not OpenPose JSON, a keypoint list whose length
        is not 3 × 25 or 3 × 18 (or disagrees with ``model``), a non-numeric value or one
        beyond float32's range (also after dividing by ``image_size``), a file that is not
        a regular file, a folder over a budget, and any other failure a file's content
        causes; the message names the file and, where known, its frame.
    ValueError
        Bad arguments, e.g. a non-positive or non-finite ``image_size`` or a negative
        ``label``.
    """
    if model not in ("auto", "BODY_25", "COCO"):
        raise ValueError(f"model must be 'auto', 'BODY_25' or 'COCO', got {model!r}")
    if num_people < 1:
        raise ValueError(f"num_people must be >= 1, got {num_people}")
    if image_size is not None:
        width, height = (float(s) for s in image_size)
        if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
            raise ValueError(f"image_size must be two finite positive numbers, got {image_size}")
    if label is not None and (
        isinstance(label, bool) or not isinstance(label, (int, np.integer)) or label < 0
    ):
        raise ValueError(f"label must be an integer >= 0 or None, got {label!r:.40}")
    if label is not None and label > MAX_LABEL:
        raise ValueError(f"label must be at most {MAX_LABEL}, got {label}")
    check_budgets(max_bytes, max_elements)
    check_budgets(max_files, None)
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    files = _frame_files(folder)
    if not files:
        raise SkeletonFormatError("no *_keypoints.json files in the folder", folder)
    if max_files is not None and len(files) > max_files:
        raise SkeletonFormatError(
            f"{len(files)} keypoint files exceed max_files={max_files} (pass a larger "
            "max_files, or None, to read them)",
            folder,
        )
    check_elements((3, len(files), 18, num_people), max_elements, folder, "the output")
    _check_total_size(files, max_bytes, folder)
    joints = {"BODY_25": 25, "COCO": 18}.get(model)
    frames: dict[int, list[np.ndarray]] = {}
    for t, file in enumerate(files):
        with reading(file):
            record = load_json(file, max_bytes)
            people = record.get("people") if isinstance(record, dict) else None
            if not isinstance(people, list):
                raise SkeletonFormatError(
                    "expected a JSON object with a 'people' list", file, frame=t
                )
            parsed = []
            for m, person in enumerate(people):
                if max_people_read is not None and m >= max_people_read:
                    break
                values = _keypoints(person, m, file, t)
                if joints is None:
                    if len(values) // 3 not in _MODELS or len(values) % 3:
                        raise SkeletonFormatError(
                            f"person {m}: {len(values)} keypoint values are neither 3 x 25 "
                            "(BODY_25) nor 3 x 18 (COCO)",
                            file,
                            frame=t,
                        )
                    joints = len(values) // 3
                    model = _MODELS[joints]  # type: ignore[assignment]
                what = f"keypoints of person {m}"
                xyc = numbers(values, 3 * joints, what, str(file), frame=t).reshape(joints, 3).T
                if joints == 25:
                    xyc = body25_to_openpose18(xyc, joint_axis=1)
                if image_size is not None:
                    xyc[0] = xyc[0] / width - 0.5
                    xyc[1] = 0.5 - xyc[1] / height
                xyc[:2, xyc[2] == 0] = 0
                parsed.append(xyc)
            frames[t] = parsed
            # checked here, in float32, where the file is known (image_size may overflow)
            with np.errstate(over="ignore", invalid="ignore"):
                finite = not parsed or np.isfinite(np.stack(parsed).astype(np.float32)).all()
            if not finite:
                raise SkeletonFormatError(
                    "non-finite value, or beyond float32's range (|x| >= 3.4e38), after "
                    "scaling by image_size",
                    file,
                    frame=t,
                )
    data = place_people(frames, len(files), 18, num_people).astype(np.float32)
    meta: dict[str, Any] = {
        "path": os.fspath(folder),
        "model": model if model != "auto" else "COCO",
        "files": [f.name for f in files],
    }
    return SkeletonSample(data, label, "openpose-18", meta)


def _check_total_size(files: list[Path], max_bytes: int | None, folder: Path) -> None:
    """Refuse a folder whose keypoint files together exceed ``max_bytes``, before parsing."""
    if max_bytes is None:
        return
    total = 0
    for file in files:
        with reading(file):
            total += os.stat(file).st_size
        if total > max_bytes:
            raise SkeletonFormatError(
                f"the keypoint files exceed max_bytes={max_bytes} in total (pass a larger "
                "max_bytes, or None, to read them)",
                folder,
            )


def _keypoints(person: Any, m: int, file: Path, t: int) -> Sequence[Any]:
    if not isinstance(person, dict):
        raise SkeletonFormatError(f"person {m} must be a JSON object", file, frame=t)
    values = person.get("pose_keypoints_2d", person.get("pose_keypoints"))
    if not isinstance(values, list):
        raise SkeletonFormatError(f"person {m} has no 'pose_keypoints_2d' list", file, frame=t)
    return values
