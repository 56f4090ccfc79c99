"""Kinetics-Skeleton clips in the ST-GCN JSON format (OpenPose, 18 joints)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from skelgraph.data.errors import SkeletonFormatError
from skelgraph.data.readers._common import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ELEMENTS,
    _show,
    check_budgets,
    check_elements,
    check_finite32,
    check_label,
    load_json,
    numbers,
    place_people,
    read_file_bytes,
    reading,
)
from skelgraph.data.sample import SkeletonSample

__all__ = ["load_kinetics_labels", "load_label_names", "read_kinetics_json"]

KINETICS_NUM_JOINTS = 18
MAX_FRAMES = 100_000
"""Largest ``frame_index`` accepted (an hour at 30 fps); a corrupt index fails early."""


def load_kinetics_labels(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Read an ST-GCN label file such as ``kinetics_val_label_full.json``.

    Parameters
    ----------
    path : str or path
        JSON object ``{clip_id: {"has_skeleton": bool, "label": str, "label_index": int}}``.

    Returns
    -------
    dict
        Clip id (the JSON file's stem) to its entry.

    Raises
    ------
    SkeletonFormatError
        Not JSON, not an object of objects, or an entry without an integer
        ``label_index``.
    """
    path = os.fspath(path)
    with reading(path):
        table = load_json(path)
        if not isinstance(table, dict):
            raise SkeletonFormatError("a label file must hold a JSON object", path)
        for clip, entry in table.items():
            if not isinstance(entry, dict) or not _is_int(entry.get("label_index")):
                raise SkeletonFormatError(f"entry {clip!r:.60} has no integer 'label_index'", path)
            check_label(entry["label_index"], f"'label_index' of entry {clip!r:.60}", path)
    return table


def load_label_names(path: str | os.PathLike[str]) -> list[str]:
    """Class names, one a line (``label_name.txt``): index = 0-based line number.

    Parameters
    ----------
    path : str or os.PathLike
        The UTF-8 text file; each line is stripped of surrounding white space.
    """
    with reading(path):
        text = read_file_bytes(path, DEFAULT_MAX_BYTES).decode("utf-8")
    return [line.strip() for line in text.splitlines()]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def read_kinetics_json(
    path: str | os.PathLike[str],
    *,
    num_people: int = 2,
    max_people_read: int | None = 5,
    labels: Mapping[str, Any] | str | os.PathLike[str] | None = None,
    label_names: Sequence[str] | None = None,
    centralize: bool = True,
    num_joints: int = KINETICS_NUM_JOINTS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_elements: int | None = DEFAULT_MAX_ELEMENTS,
) -> SkeletonSample:
    """Read one Kinetics-Skeleton clip in the ST-GCN JSON format.

    The format: ``{"data": [{"frame_index": i, "skeleton": [{"pose": [x0, y0, ...,
    x17, y17], "score": [s0, ..., s17]}, ...]}, ...], "label": str, "label_index":
    int}``, coordinates normalised to [0, 1] by the frame size, a missing joint 0 with
    score 0, ``"skeleton": []`` for a frame with nobody. ``frame_index`` counts from 1.

    What is standard, and done here, is ST-GCN's Kinetics feeder (kept by 2s-AGCN and
    MS-G3D, whose Kinetics data it produced):

    1. the first ``max_people_read`` (5) people listed in a frame are read, the rest
       ignored;
    2. with ``centralize``: :math:`x \\leftarrow x - 0.5`, :math:`y \\leftarrow 0.5 - y`
       (origin at the frame centre, y up), and x = y = 0 wherever the score is 0;
    3. per frame, people are sorted by their summed joint scores, descending, and the top
       ``num_people`` kept (:func:`select_people_by_score`); a person slot may hold
       different people in different frames.

    One difference, on purpose: the frame with ``frame_index`` i goes to time i - 1, so
    T is the largest ``frame_index`` and no frame is empty by construction (ST-GCN writes
    it at i, leaving its frame 0 empty and dropping frame 300). Frames missing from the
    list are empty (all zeros).

    Parameters
    ----------
    path : str or path
        The clip's JSON file; its stem is the clip id.
    num_people : int
        M of the output (2 in ST-GCN and MS-G3D).
    max_people_read : int or None
        People read per frame before the selection; ``None`` reads all.
    labels : mapping, path or None
        The label of the clip: ``None`` uses the clip's own ``label_index`` (``None`` if
        absent); a mapping or a label file (:func:`load_kinetics_labels`) is looked up by
        clip id, the entry being an int or an object with ``label_index``.
    label_names : sequence of str, optional
        Class names (:func:`load_label_names`); when given, the label is the index of the
        clip's ``label`` string in it, whatever its ``label_index`` says (for clips whose
        indices were renumbered). Takes precedence over ``labels``.
    centralize : bool
        Apply step 2 (ST-GCN's "centralization").
    num_joints : int
        Joints per person (18 for OpenPose COCO-18).
    max_bytes : int or None
        Largest file read (default 64 MiB); ``None`` for no limit. Only regular files
        are read.
    max_elements : int or None
        Most values of the output, 3 · T · num_joints · num_people with T the largest
        ``frame_index`` (default 2**26), checked before it is allocated; ``None`` for no
        limit. People are kept as parsed, so frames missing from the list, and people
        beyond ``num_people`` in a frame, cost nothing more.

    Returns
    -------
    SkeletonSample
        ``data`` float32 (3, T, 18, num_people), channels (x, y, score); ``layout``
        ``"openpose-18"``; ``meta``: ``path``, ``clip_id``, ``label_name`` (the clip's
        ``label`` string, if any), ``has_skeleton`` (from a label file, if given),
        ``people_per_frame`` (int array (T,), as listed).

    Raises
    ------
    SkeletonFormatError
        Empty file, invalid JSON (with its line), a missing or malformed field, a pose or
        score of the wrong length, a non-numeric or non-finite value, a frame index outside
        1..MAX_FRAMES or repeated (with its frame), a value beyond float32's range, a clip id
        missing from ``labels``, a ``label`` missing from ``label_names``, a label outside
        0..2**31 - 1, a file that is not a regular file or exceeds a budget, and any other
        failure its content causes.
    """
    if num_people < 1:
        raise ValueError(f"num_people must be >= 1, got {num_people}")
    if max_people_read is not None and max_people_read < 1:
        raise ValueError(f"max_people_read must be >= 1 or None, got {max_people_read}")
    check_budgets(max_bytes, max_elements)
    path = os.fspath(path)
    with reading(path):
        clip, data, listed = _parse(
            path, num_people, max_people_read, centralize, num_joints, max_bytes, max_elements
        )
    num_frames = data.shape[1]

    clip_id = Path(path).stem
    meta: dict[str, Any] = {
        "path": path,
        "clip_id": clip_id,
        "people_per_frame": np.array([listed.get(t, 0) for t in range(num_frames)]),
    }
    if isinstance(clip.get("label"), str):
        meta["label_name"] = clip["label"]
    if label_names is not None:
        name = clip.get("label")
        if name not in label_names:
            raise SkeletonFormatError(f"label {name!r:.60} is not one of the label names", path)
        label: int | None = list(label_names).index(name)
    else:
        label = _label(clip, clip_id, labels, path, meta)
    return SkeletonSample(data, label, "openpose-18", meta)


def _parse(
    path: str,
    num_people: int,
    max_people_read: int | None,
    centralize: bool,
    num_joints: int,
    max_bytes: int | None,
    max_elements: int | None,
) -> tuple[dict[str, Any], np.ndarray, dict[int, int]]:
    """The clip's JSON, its (3, T, V, num_people) float32 data and people listed per frame."""
    clip = load_json(path, max_bytes)
    if not isinstance(clip, dict) or not isinstance(clip.get("data"), list):
        raise SkeletonFormatError("expected a JSON object with a 'data' list", path)
    frames: dict[int, list[np.ndarray]] = {}
    listed: dict[int, int] = {}
    for position, frame in enumerate(clip["data"]):
        if not isinstance(frame, dict):
            raise SkeletonFormatError("a frame must be a JSON object", path, frame=position)
        index = frame.get("frame_index")
        if not _is_int(index) or not 1 <= index <= MAX_FRAMES:
            raise SkeletonFormatError(
                f"'frame_index' must be an integer in 1..{MAX_FRAMES}, got {_show(index)}",
                path,
                frame=position,
            )
        if index - 1 in frames:
            raise SkeletonFormatError(f"frame_index {index} appears twice", path, frame=index - 1)
        people = frame.get("skeleton")
        if not isinstance(people, list):
            raise SkeletonFormatError("'skeleton' must be a list", path, frame=index - 1)
        parsed = []
        for m, person in enumerate(people):
            if not isinstance(person, dict):
                raise SkeletonFormatError(
                    f"person {m} must be a JSON object", path, frame=index - 1
                )
            pose = numbers(
                person.get("pose"), 2 * num_joints, f"'pose' of person {m}", path, frame=index - 1
            )
            score = numbers(
                person.get("score"), num_joints, f"'score' of person {m}", path, frame=index - 1
            )
            if max_people_read is None or m < max_people_read:
                xys = np.stack([pose[0::2], pose[1::2], score])  # (3, V)
                if centralize:
                    xys[0] -= 0.5
                    xys[1] = 0.5 - xys[1]
                    xys[:2, xys[2] == 0] = 0
                parsed.append(xys)
        frames[index - 1] = parsed
        listed[index - 1] = len(people)
    if not frames:
        raise SkeletonFormatError("the clip lists no frames", path)
    num_frames = max(frames) + 1
    check_elements((3, num_frames, num_joints, num_people), max_elements, path, "the output")
    data = place_people(frames, num_frames, num_joints, num_people)
    return clip, check_finite32(data, path), listed


def _label(
    clip: dict[str, Any],
    clip_id: str,
    labels: Mapping[str, Any] | str | os.PathLike[str] | None,
    path: str,
    meta: dict[str, Any],
) -> int | None:
    if labels is None:
        index = clip.get("label_index")
        if index is None:
            return None
        return check_label(index, "'label_index'", path)
    if not isinstance(labels, Mapping):
        labels = load_kinetics_labels(labels)
    if clip_id not in labels:
        raise SkeletonFormatError(f"clip id {clip_id!r} is not in the label table", path)
    entry = labels[clip_id]
    if isinstance(entry, Mapping):
        if "has_skeleton" in entry:
            meta["has_skeleton"] = bool(entry["has_skeleton"])
        entry = entry.get("label_index")
    if not _is_int(entry):
        raise SkeletonFormatError(f"no integer label for clip {clip_id!r} in the table", path)
    return check_label(entry, f"the label of clip {clip_id!r}", path)
