"""NTU RGB+D 60/120 ``.skeleton`` text files, and the benchmarks' file-name splits."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skelgraph.data.errors import SkeletonFormatError
from skelgraph.data.readers._common import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ELEMENTS,
    FLOAT32_LIMIT,
    check_budgets,
    check_elements,
    read_file_bytes,
    reading,
)
from skelgraph.data.sample import SkeletonSample

__all__ = [
    "NTU_XSUB120_TRAIN_SUBJECTS",
    "NTU_XSUB_TRAIN_SUBJECTS",
    "NTU_XVIEW_TRAIN_CAMERAS",
    "NTUName",
    "body_energy",
    "ntu_split",
    "parse_ntu_name",
    "read_ntu_skeleton",
]

NTU_NUM_JOINTS = 25

NTU_XSUB_TRAIN_SUBJECTS: frozenset[int] = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
)
"""Training subjects of NTU RGB+D 60 cross-subject (Shahroudy et al. 2016, Section 3.2)."""

NTU_XSUB120_TRAIN_SUBJECTS: frozenset[int] = NTU_XSUB_TRAIN_SUBJECTS | frozenset(
    (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84)
    + (85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
)
"""Training subjects of NTU RGB+D 120 cross-subject (Liu et al. 2019)."""

NTU_XVIEW_TRAIN_CAMERAS: frozenset[int] = frozenset((2, 3))
"""Training cameras of NTU RGB+D 60 cross-view (camera 1 is the test view)."""

_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


@dataclass(frozen=True)
class NTUName:
    """The fields of an NTU file name ``SsssCcccPpppRrrrAaaa`` (all 1-based, as written).

    Parameters
    ----------
    setup, camera, subject, replication, action : int
        The numbers after ``S``, ``C``, ``P``, ``R`` and ``A``.
    """

    setup: int
    camera: int
    subject: int
    replication: int
    action: int

    @property
    def label(self) -> int:
        """0-based class index, ``action - 1``."""
        return self.action - 1


def parse_ntu_name(name: str | os.PathLike[str]) -> NTUName | None:
    """Parse ``SsssCcccPpppRrrrAaaa`` from the start of a file's base name.

    Parameters
    ----------
    name : str or path
        A file name or path, e.g. ``"S001C002P003R002A013.skeleton"``.

    Returns
    -------
    NTUName or None
        ``None`` when the base name does not start with that pattern.

    Examples
    --------
    >>> parse_ntu_name("nturgb+d_skeletons/S001C002P003R002A013.skeleton").label
    12
    """
    match = _NAME.match(Path(name).name)
    if match is None:
        return None
    return NTUName(*(int(g) for g in match.groups()))


def ntu_split(
    names: Iterable[str | os.PathLike[str]], benchmark: str
) -> tuple[list[str], list[str]]:
    """Split NTU file names into (train, test) by a standard benchmark.

    Parameters
    ----------
    names : iterable of str or path
        File names or paths following ``SsssCcccPpppRrrrAaaa``.
    benchmark : {"xsub", "xview", "xsub120", "xset120"}
        NTU-60 cross-subject (:data:`NTU_XSUB_TRAIN_SUBJECTS`), NTU-60 cross-view
        (train cameras 2 and 3), NTU-120 cross-subject
        (:data:`NTU_XSUB120_TRAIN_SUBJECTS`), NTU-120 cross-setup (even setups train).

    Returns
    -------
    train, test : list of str
        The names, as given (converted with ``os.fspath``), in input order.

    Raises
    ------
    ValueError
        An unknown benchmark or a name that does not follow the pattern.
    """
    rules = {
        "xsub": lambda n: n.subject in NTU_XSUB_TRAIN_SUBJECTS,
        "xview": lambda n: n.camera in NTU_XVIEW_TRAIN_CAMERAS,
        "xsub120": lambda n: n.subject in NTU_XSUB120_TRAIN_SUBJECTS,
        "xset120": lambda n: n.setup % 2 == 0,
    }
    if benchmark not in rules:
        raise ValueError(f"unknown NTU benchmark {benchmark!r}; expected one of {sorted(rules)}")
    train: list[str] = []
    test: list[str] = []
    for name in names:
        parsed = parse_ntu_name(name)
        if parsed is None:
            raise ValueError(f"{os.fspath(name)!r} is not an NTU name SsssCcccPpppRrrrAaaa")
        (train if rules[benchmark](parsed) else test).append(os.fspath(name))
    return train, test


def body_energy(body: np.ndarray) -> float:
    r"""Activity of one body slot, as in the NTU toolbox and the MS-G3D/2s-AGCN scripts.

    .. math::

        E = \operatorname{std}(x) + \operatorname{std}(y) + \operatorname{std}(z)

    each standard deviation (population, ``ddof=0``) taken over all (frame, joint) entries
    of the frames where the body is present (any non-zero coordinate).

    Parameters
    ----------
    body : numpy.ndarray
        Shape (T, V, 3).

    Returns
    -------
    float
        ``0.0`` for a body absent from every frame.
    """
    present = body.reshape(body.shape[0], -1).any(axis=1)
    valid = body[present]
    if len(valid) == 0:
        return 0.0
    return float(sum(valid[..., c].std() for c in range(valid.shape[-1])))


class _Lines:
    """Lazy cursor over the lines of a text file that raises format errors with line numbers.

    Lines are cut one at a time, not listed up front: a file of millions of short lines
    costs its text, not millions of string objects.
    """

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text.replace("\r\n", "\n").replace("\r", "\n")
        # the number of lines, counted as str.splitlines counts them
        self.count = self.text.count("\n") + (bool(self.text) and not self.text.endswith("\n"))
        self.pos = 0  # lines consumed; the next line's 1-based number is pos + 1
        self._offset = 0

    def next(self, what: str) -> tuple[int, list[str]]:
        if self.pos >= self.count:
            raise SkeletonFormatError(
                f"unexpected end of file after line {self.count} (expected {what})",
                self.path,
                line=self.count + 1,
            )
        end = self.text.find("\n", self._offset)
        end = len(self.text) if end < 0 else end
        line = self.text[self._offset : end]
        self._offset = end + 1
        self.pos += 1
        if "_" in line:  # Python's int() and float() take "1_000"; the format does not
            raise SkeletonFormatError(
                f"'_' in a number ({what}): digit separators are not part of the format",
                self.path,
                line=self.pos,
            )
        return self.pos, line.split()

    def first_text_after(self) -> int | None:
        """1-based number of the first non-blank line not yet consumed, or ``None``."""
        match = _NON_BLANK.search(self.text, self._offset)
        if match is None:
            return None
        return self.pos + 1 + self.text.count("\n", self._offset, match.start())

    def integer(self, what: str, minimum: int = 0) -> tuple[int, int]:
        number, tokens = self.next(what)
        if len(tokens) != 1:
            raise SkeletonFormatError(
                f"expected {what} (one integer), got {len(tokens)} fields", self.path, line=number
            )
        try:
            value = int(tokens[0])
        except ValueError:  # also Python's 4300-digit limit
            raise SkeletonFormatError(
                f"expected {what} (an integer), got {tokens[0][:40]!r}", self.path, line=number
            ) from None
        if value < minimum:
            raise SkeletonFormatError(
                f"{what} must be >= {minimum}, got {value}", self.path, line=number
            )
        return number, value

    def floats(self, what: str, count: int) -> tuple[int, list[float]]:
        number, tokens = self.next(what)
        if len(tokens) != count:
            raise SkeletonFormatError(
                f"expected {count} values ({what}), got {len(tokens)}", self.path, line=number
            )
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise SkeletonFormatError(
                f"non-numeric field {bad[:40]!r} in {what}", self.path, line=number
            ) from None
        return number, values


_NON_BLANK = re.compile(r"\S")


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


_BODY_FIELDS = 10  # bodyID clippedEdges handLeft{Confidence,State} handRight{...} ...
_JOINT_FIELDS = 12  # x y z depthX depthY colorX colorY orientation{W,X,Y,Z} trackingState


def read_ntu_skeleton(
    path: str | os.PathLike[str],
    *,
    num_bodies: int = 2,
    max_bodies_read: int = 4,
    num_joints: int = NTU_NUM_JOINTS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_elements: int | None = DEFAULT_MAX_ELEMENTS,
) -> SkeletonSample:
    """Read an NTU RGB+D ``.skeleton`` file (NTU-60 and NTU-120 share the format).

    The format: line 1 the number of frames; per frame the number of bodies; per body a
    line of 10 values (``bodyID clippedEdges handLeftConfidence handLeftState
    handRightConfidence handRightState isRestricted leanX leanY trackingState``), the
    number of joints (25), then one line of 12 values per joint (``x y z depthX depthY
    colorX colorY orientationW orientationX orientationY orientationZ trackingState``).
    CRLF or LF line endings and E-notation numbers are accepted; a frame may list no body.

    Body selection follows the NTU toolbox's ``read_xyz`` as used by ST-GCN, 2s-AGCN and
    MS-G3D: the m-th body listed in a frame goes to slot m (bodies are not tracked by
    ``bodyID``), slots beyond ``max_bodies_read`` are dropped, and the ``num_bodies``
    slots with the highest :func:`body_energy` are kept, highest first (a stable sort:
    on a tie the earlier slot wins). Slots that no frame fills stay zero.

    Parameters
    ----------
    path : str or path
        The ``.skeleton`` file. Its base name, if it follows ``SsssCcccPpppRrrrAaaa``,
        gives the label (``action - 1``) and the ``meta`` fields.
    num_bodies : int
        M, bodies kept (2 in every published pipeline).
    max_bodies_read : int
        Body slots read per frame before selection (4 in the authors' scripts).
    num_joints : int
        Joints per body the file must list (25 for Kinect v2).
    max_bytes : int or None
        Largest file read (``DEFAULT_MAX_BYTES``,
        64 MiB); ``None`` for no limit. Only regular files are read.
    max_elements : int or None
        Most values of the output (3 · T · num_joints · num_bodies), checked against the
        declared frame count before anything is parsed (default 2**26); ``None`` for no
        limit. Bodies are kept as parsed, so frames that list no body cost only their
        share of the output.

    Returns
    -------
    SkeletonSample
        ``data`` float32 (3, T, 25, num_bodies): camera-space x, y, z in metres;
        ``layout`` ``"ntu-rgbd"``; ``label`` ``action - 1`` or ``None``; ``meta``:
        ``path``, ``setup``, ``camera``, ``subject``, ``replication``, ``action`` (when
        the name parses), ``bodies_per_frame`` (int array (T,), as listed in the file),
        ``body_order`` (the kept slots, in output order) and ``energy`` (of every slot).

    Raises
    ------
    SkeletonFormatError
        Empty or truncated file, a count that is not a non-negative integer, a joint
        count other than ``num_joints``, a wrong number of fields, a non-numeric or
        non-finite coordinate (in float32), a ``_`` in a number, or non-blank text after
        the last frame; the message gives the 1-based line number. Also a file that is not
        a regular file or exceeds a budget, and any other failure its content causes.
    """
    if num_bodies < 1 or max_bodies_read < num_bodies:
        raise ValueError(
            f"need 1 <= num_bodies <= max_bodies_read, got {num_bodies} and {max_bodies_read}"
        )
    check_budgets(max_bytes, max_elements)
    path = os.fspath(path)
    with reading(path):
        xyz, bodies_per_frame = _parse(
            path, max_bytes, max_elements, max_bodies_read, num_joints, num_bodies
        )
        num_frames = len(bodies_per_frame)
        # energy from the frames each slot was listed in (body_energy skips all-zero ones)
        energy = np.array(
            [body_energy(np.stack([a for _, a in slot])) if slot else 0.0 for slot in xyz]
        )
        order = np.argsort(-energy, kind="stable")[:num_bodies]
        data = np.zeros((3, num_frames, num_joints, num_bodies), np.float32)
        for k, m in enumerate(order):
            for t, joints in xyz[m]:
                data[:, t, :, k] = joints.T
        bodies_per_frame = np.array(bodies_per_frame, dtype=np.int64)

    meta: dict = {
        "path": path,
        "bodies_per_frame": bodies_per_frame,
        "body_order": order.tolist(),
        "energy": energy.tolist(),
    }
    name = parse_ntu_name(path)
    if name is not None:
        meta.update(
            setup=name.setup,
            camera=name.camera,
            subject=name.subject,
            replication=name.replication,
            action=name.action,
        )
    return SkeletonSample(data, None if name is None else name.label, "ntu-rgbd", meta)


def _parse(
    path: str,
    max_bytes: int | None,
    max_elements: int | None,
    max_bodies_read: int,
    num_joints: int,
    num_bodies: int,
) -> tuple[list[list[tuple[int, np.ndarray]]], list[int]]:
    """Per body slot, (frame, (V, 3) xyz) of every frame it is listed in; bodies per frame."""
    raw = read_file_bytes(path, max_bytes)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SkeletonFormatError("non-ASCII byte in file", path, line=line) from None
    del raw
    if not text.strip():
        raise SkeletonFormatError("empty file", path, line=1)
    lines = _Lines(path, text)
    del text
    _, num_frames = lines.integer("the number of frames", minimum=1)
    if num_frames > lines.count - 1:
        raise SkeletonFormatError(
            f"declares {num_frames} frames but only {lines.count - 1} lines follow",
            path,
            line=1,
        )
    # the output is dense in time: refuse a declared length it cannot afford, up front
    check_elements((3, num_frames, num_joints, num_bodies), max_elements, path, "the output")

    slots: list[list[tuple[int, np.ndarray]]] = [[] for _ in range(max_bodies_read)]
    bodies_per_frame: list[int] = []
    for t in range(num_frames):
        _, count = lines.integer(f"the number of bodies of frame {t}")
        bodies_per_frame.append(count)
        for m in range(count):
            number, tokens = lines.next(f"the info line of body {m} of frame {t}")
            if len(tokens) != _BODY_FIELDS:
                raise SkeletonFormatError(
                    f"expected {_BODY_FIELDS} values (body info of body {m} in frame {t}), "
                    f"got {len(tokens)}",
                    path,
                    line=number,
                )
            if not all(_is_float(tok) for tok in tokens):
                raise SkeletonFormatError(
                    f"non-numeric field in the body info of body {m} in frame {t}",
                    path,
                    line=number,
                )
            number, joints = lines.integer(f"the number of joints of body {m} in frame {t}")
            if joints != num_joints:
                raise SkeletonFormatError(
                    f"expected {num_joints} joints (body {m}, frame {t}), got {joints}",
                    path,
                    line=number,
                )
            body = np.empty((num_joints, 3)) if m < max_bodies_read else None
            for v in range(num_joints):
                number, values = lines.floats(f"joint {v} of body {m} in frame {t}", _JOINT_FIELDS)
                # a comparison: false for NaN, and refuses what float32 rounds to infinity
                if not all(-FLOAT32_LIMIT < c < FLOAT32_LIMIT for c in values[:3]):
                    raise SkeletonFormatError(
                        f"non-finite coordinate (or beyond float32's range) in joint {v} of "
                        f"body {m} in frame {t}",
                        path,
                        line=number,
                    )
                if body is not None:
                    body[v] = values[:3]
            if body is not None:
                slots[m].append((t, body))
    rest = lines.first_text_after()
    if rest is not None:
        raise SkeletonFormatError(
            f"unexpected text after the last of the {num_frames} declared frames",
            path,
            line=rest,
        )
    return slots, bodies_per_frame
