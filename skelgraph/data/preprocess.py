r"""The paper's preprocessing (MS-G3D Section 4.2, after 2s-AGCN and DGNN).

"All skeleton sequences are padded to T = 300 frames by replaying the actions. Inputs are
preprocessed with normalization and translation following [2s-AGCN, DGNN]." The authors'
script (``data_gen/preprocess.py``, shared with 2s-AGCN) does, on a sequence zero-padded
to 300 frames, per sample:

1. :func:`fill_empty_frames`: per person, drop leading empty frames and replay the
   person's frames over the trailing empty ones;
2. :func:`center_joints`: subtract person 0's centre joint, frame by frame;
3. :func:`align_to_axes`: one rotation, from person 0's first frame, that makes the spine
   parallel to +z and then the shoulders parallel to +x (3-D data only).

:func:`paper_preprocess` runs the three with the joints of :data:`PREPROCESS_SPECS`.
Every function takes and returns (C, T, V, M) arrays, never changes its input, and treats
an all-zero joint, frame or person as absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from skelgraph.data._checks import (
    as_sequence,
    check_dims,
    joint_position,
    require_finite,
    sequence_and_length,
)
from skelgraph.graph import LAYOUT_ALIASES, SkeletonGraph

__all__ = [
    "PREPROCESS_SPECS",
    "JointRef",
    "PreprocessSpec",
    "align_to_axes",
    "alignment_rotation",
    "center_joints",
    "fill_empty_frames",
    "pad_to_length",
    "paper_preprocess",
    "rotation_about_axis",
]

JointRef = int | tuple[int, ...]
"""A joint index, or several whose mean stands for a point (e.g. mid-hip)."""


@dataclass(frozen=True)
class PreprocessSpec:
    """Joints that :func:`paper_preprocess` uses for one layout.

    A custom :class:`~skelgraph.SkeletonGraph` carries its spec as
    :attr:`~skelgraph.SkeletonGraph.preprocess` (the ``"preprocess"`` object of its JSON
    file, :meth:`~skelgraph.SkeletonGraph.from_json`); :meth:`for_layout` finds the spec
    of a layout name or graph. Without ``z_axis`` and ``x_axis`` (2-D data, say) a spec
    only centres.

    Parameters
    ----------
    center : int or tuple of int
        The joint subtracted by :func:`center_joints` (a tuple: their mean).
    z_axis : (JointRef, JointRef) or None
        ``(bottom, top)``: the spine vector ``x[top] - x[bottom]`` is turned to +z.
    x_axis : (JointRef, JointRef) or None
        ``(left, right)``: the shoulder vector ``x[right] - x[left]`` is turned to +x.
    """

    center: JointRef
    z_axis: tuple[JointRef, JointRef] | None = None
    x_axis: tuple[JointRef, JointRef] | None = None

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> PreprocessSpec:
        """A spec from ``{"center": ..., "z_axis": [...], "x_axis": [...]}`` (lists for
        tuples, as in JSON).

        Parameters
        ----------
        spec : mapping
            ``center`` (required), ``z_axis`` and ``x_axis`` (optional), as
            :meth:`to_dict` gives them.
        """

        def ref(value: Any) -> JointRef:
            return tuple(int(v) for v in value) if isinstance(value, (list, tuple)) else int(value)

        def pair(value: Any) -> tuple[JointRef, JointRef] | None:
            return None if value is None else (ref(value[0]), ref(value[1]))

        unknown = sorted(set(spec) - {"center", "z_axis", "x_axis"})
        if unknown or "center" not in spec:
            raise ValueError(
                f"a PreprocessSpec needs 'center' and may have 'z_axis', 'x_axis'; got "
                f"keys {sorted(spec)}"
            )
        return cls(ref(spec["center"]), pair(spec.get("z_axis")), pair(spec.get("x_axis")))

    def to_dict(self) -> dict[str, Any]:
        """``{"center", "z_axis", "x_axis"}`` with lists for tuples (JSON-ready); axes that
        are ``None`` are left out."""

        def plain(value: Any) -> Any:
            return [plain(v) for v in value] if isinstance(value, tuple) else value

        out = {"center": plain(self.center)}
        for key in ("z_axis", "x_axis"):
            if getattr(self, key) is not None:
                out[key] = plain(getattr(self, key))
        return out

    @classmethod
    def for_layout(cls, layout: str | SkeletonGraph | PreprocessSpec) -> PreprocessSpec:
        """The spec of a layout: a key of :data:`PREPROCESS_SPECS` or pyskl alias, a
        :class:`~skelgraph.SkeletonGraph` with :attr:`~skelgraph.SkeletonGraph.preprocess`
        or equal to a built-in layout, or a spec (returned as it is).

        Parameters
        ----------
        layout : str or SkeletonGraph or PreprocessSpec
            The layout whose preprocessing joints are wanted.

        Raises
        ------
        ValueError
            A name without a spec, or a custom graph without ``preprocess``.
        """
        if isinstance(layout, PreprocessSpec):
            return layout
        if isinstance(layout, SkeletonGraph):
            if layout.preprocess is not None:
                return cls.from_dict(layout.preprocess)
            name = layout.name
            if name in PREPROCESS_SPECS and SkeletonGraph.from_layout(name) == layout:
                return PREPROCESS_SPECS[name]
            raise ValueError(
                f"graph {layout.name!r} has no preprocessing joints: give it preprocess= "
                '(or a "preprocess" object in its JSON file), or pass a PreprocessSpec'
            )
        name = LAYOUT_ALIASES.get(layout, layout) if isinstance(layout, str) else layout
        if name not in PREPROCESS_SPECS:
            raise ValueError(
                f"no preprocessing joints for layout {layout!r}; known: "
                f"{', '.join(PREPROCESS_SPECS)}; pass a PreprocessSpec for a custom layout"
            )
        return PREPROCESS_SPECS[name]


PREPROCESS_SPECS: dict[str, PreprocessSpec] = {
    # The authors' joints: centre 1 (spine mid), z from 0 (spine base) to 1 (spine mid),
    # x from 4 (left shoulder) to 8 (right shoulder). Note: not the graph's centre (20).
    "ntu-rgbd": PreprocessSpec(1, (0, 1), (4, 8)),
    "ntu-rgbd-pyskl": PreprocessSpec(1, (0, 1), (4, 8)),
    # Kinect v1 has the same first nine joints: 1 spine, 0 hip centre, 4/8 shoulders.
    "kinect-v1-20": PreprocessSpec(1, (0, 1), (4, 8)),
    # The authors' script names joint 1 (neck) as the Kinetics centre; mid-hip (8, 11).
    "openpose-18": PreprocessSpec(1, ((8, 11), 1), (5, 2)),
    # No neck or spine joint: mid-shoulder is the centre, mid-hip to mid-shoulder the spine.
    "coco-17": PreprocessSpec((5, 6), ((11, 12), (5, 6)), (5, 6)),
    "mediapipe-pose-33": PreprocessSpec((11, 12), ((23, 24), (11, 12)), (11, 12)),
    # A hand: wrist centre, wrist -> middle-finger MCP as "spine", index MCP -> pinky MCP.
    "mediapipe-hand-21": PreprocessSpec(0, (0, 9), (5, 17)),
}
"""The :class:`PreprocessSpec` of each built-in layout.

For ``ntu-rgbd`` these are the MS-G3D / 2s-AGCN joints (0-based): centre 1 (spine mid),
spine 0 → 1, shoulders 4 → 8 (left → right). The centre used here is the one the
authors subtract, not :attr:`SkeletonGraph.center` (20, spine shoulder), which is the root
of the bone tree.
"""


def fill_empty_frames(data: np.ndarray) -> np.ndarray:
    """Fill each person's empty frames by replaying the person's sequence (2s-AGCN).

    Per person (persons absent from every frame are left alone):

    1. if frame 0 is empty, the non-empty frames are moved, in order, to the start
       (this removes every gap);
    2. the trailing run of empty frames, frames f..T-1 after the last non-empty one, is
       filled with frames 0, 1, ..., f-1, 0, 1, ... (replay).

    Interior empty frames of a person whose frame 0 is present stay empty, as in the
    authors' script. A frame is empty when all its channels and joints are zero (the
    script tests a zero sum).

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M).

    Returns
    -------
    numpy.ndarray
        A new array of the same shape and dtype.
    """
    data = as_sequence(data)
    out = data.copy()
    num_frames = data.shape[1]
    for m in range(data.shape[3]):
        person = out[:, :, :, m]
        present = person.any(axis=(0, 2))
        if not present.any():
            continue
        if not present[0]:
            kept = person[:, present]
            person[:] = 0
            person[:, : kept.shape[1]] = kept
            present = np.arange(num_frames) < kept.shape[1]
        last = int(np.flatnonzero(present)[-1]) + 1
        if last < num_frames:
            reps = -(-(num_frames - last) // last)
            person[:, last:] = np.concatenate([person[:, :last]] * reps, axis=1)[
                :, : num_frames - last
            ]
    return out


def center_joints(
    data: np.ndarray, joint: JointRef, *, dims: int | None = None, frame: int | None = None
) -> np.ndarray:
    r"""Translate every person by person 0's centre joint, frame by frame.

    .. math::

        x'_{c,t,v,m} = \bigl(x_{c,t,v,m} - x_{c,t,j,0}\bigr)\,[\text{joint } (t,v,m)
        \text{ present}]

    with ``j`` the centre joint (or the mean of several); with ``frame`` = f every frame is
    translated by frame f's centre instead, :math:`x_{c,f,j,0}` (CTR-GCN's N-UCLA feeder
    centres on frame 0's joint 1, which keeps the motion of the body in the
    coordinates). Absent joints stay zero. The
    second person is moved by the first one's centre, which keeps their relative
    position; in frames where person 0 is absent nothing is subtracted.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M).
    joint : int or tuple of int
        The centre joint; see :data:`PREPROCESS_SPECS` for each layout's.
    dims : int, optional
        Number of leading coordinate channels to translate (2 for ``(x, y, score)``);
        all channels by default. Presence is judged on these channels.
    frame : int, optional
        Centre every frame on this frame's centre joint (default: each on its own).

    Returns
    -------
    numpy.ndarray
        A new array of the same shape and dtype.
    """
    data = as_sequence(data)
    require_finite(data)
    dims = data.shape[0] if dims is None else dims
    check_dims(dims, data.shape[0])
    out = data.copy()
    coords = data[:dims]
    center = joint_position(coords, joint)[:, :, None, 0:1]  # (dims, T, 1, 1)
    if frame is not None:
        if not -data.shape[1] <= frame < data.shape[1]:
            raise ValueError(f"frame {frame} is out of range for T = {data.shape[1]}")
        center = center[:, frame : frame + 1 or None]
    present = coords.any(axis=0, keepdims=True)  # (1, T, V, M)
    out[:dims] = (coords - center) * present
    return out


def rotation_about_axis(axis: np.ndarray, angle: float) -> np.ndarray:
    r"""Right-handed rotation by ``angle`` (radians) about ``axis`` (Rodrigues' formula).

    .. math::

        R = \cos\theta\, I + \sin\theta\, [k]_\times + (1 - \cos\theta)\, k k^\top,
        \qquad k = \text{axis} / \lVert \text{axis} \rVert

    Returns the identity, as the authors' ``rotation_matrix`` does, when
    :math:`\sum |\text{axis}| < 10^{-6}` or :math:`|\theta| < 10^{-6}`.

    Parameters
    ----------
    axis : numpy.ndarray
        (3,), the axis; it need not be a unit vector.
    angle : float
        θ, in radians.

    Returns
    -------
    numpy.ndarray
        (3, 3) float64.
    """
    axis = np.asarray(axis, dtype=np.float64)
    if np.abs(axis).sum() < 1e-6 or abs(angle) < 1e-6:
        return np.eye(3)
    k = axis / np.linalg.norm(axis)
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.cos(angle) * np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * np.outer(k, k)


def _turn_onto(vector: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The authors' rotation taking ``vector`` onto the direction of ``target``."""
    norm = np.linalg.norm(vector)
    if np.abs(vector).sum() < 1e-6:
        return np.eye(3)
    angle = float(np.arccos(np.clip(vector @ target / norm, -1.0, 1.0)))
    return rotation_about_axis(np.cross(vector, target), angle)


def alignment_rotation(
    spine: np.ndarray,
    shoulders: np.ndarray,
    method: Literal["authors", "orthonormal"] = "authors",
) -> np.ndarray:
    """The rotation :func:`align_to_axes` applies, from a spine and a shoulder vector.

    ``"authors"`` (2s-AGCN, MS-G3D): :math:`R = R_x R_z`, where :math:`R_z` turns the
    spine onto +z about the axis ``spine × z`` and :math:`R_x` then turns the rotated
    shoulder vector onto +x about ``(R_z shoulders) × x``. Afterwards the shoulders lie
    along +x exactly; the spine stays along +z only as far as it was perpendicular to the
    shoulders (the second turn moves it). A vector anti-parallel to its target is left
    alone (the cross product vanishes), as in the authors' script.

    ``"orthonormal"``: the frame with +z along the spine and +x along the shoulder
    vector's component perpendicular to it (Gram-Schmidt), so the spine is exactly +z
    and the shoulders lie in the x-z plane with positive x.

    Parameters
    ----------
    spine, shoulders : numpy.ndarray
        3-vectors (bottom → top, left → right).
    method : {"authors", "orthonormal"}

    Returns
    -------
    numpy.ndarray
        (3, 3) float64 rotation (orthogonal, determinant 1), to be applied as ``R @ p``.
    """
    spine = np.asarray(spine, dtype=np.float64)
    shoulders = np.asarray(shoulders, dtype=np.float64)
    if method == "authors":
        r_z = _turn_onto(spine, np.array([0.0, 0.0, 1.0]))
        r_x = _turn_onto(r_z @ shoulders, np.array([1.0, 0.0, 0.0]))
        return r_x @ r_z
    if method == "orthonormal":
        z_norm = np.linalg.norm(spine)
        if z_norm < 1e-12:
            return np.eye(3)
        z = spine / z_norm
        x = shoulders - (shoulders @ z) * z
        x_norm = np.linalg.norm(x)
        if x_norm < 1e-12:  # shoulders along the spine: any x perpendicular to z
            x = np.cross(z, [1.0, 0.0, 0.0] if abs(z[0]) < 0.9 else [0.0, 1.0, 0.0])
            x_norm = np.linalg.norm(x)
        x = x / x_norm
        return np.stack([x, np.cross(z, x), z])
    raise ValueError(f"method must be 'authors' or 'orthonormal', got {method!r}")


def align_to_axes(
    data: np.ndarray,
    z_axis: tuple[JointRef, JointRef],
    x_axis: tuple[JointRef, JointRef],
    *,
    method: Literal["authors", "orthonormal"] = "authors",
    frame: int = 0,
) -> np.ndarray:
    """Rotate a 3-D sequence so person 0's spine is along +z and shoulders along +x.

    One rotation :math:`R` (:func:`alignment_rotation`) is computed from person 0 in
    ``frame`` and applied to every joint of every frame and person: channels 0-2 become
    :math:`R\\,(x, y, z)^\\top`; further channels are copied. Rotation preserves bone
    lengths and keeps absent (zero) joints at zero.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M), C >= 3, channels 0-2 the 3-D coordinates.
    z_axis : (bottom, top)
        Spine joints, e.g. ``(0, 1)`` for NTU (spine base → spine mid).
    x_axis : (left, right)
        Shoulder joints, e.g. ``(4, 8)`` for NTU (left → right shoulder).
    method : {"authors", "orthonormal"}
        See :func:`alignment_rotation`.
    frame : int
        Frame of person 0 the rotation is measured in (the authors: 0).

    Returns
    -------
    numpy.ndarray
        A new array of the same shape and dtype.

    Raises
    ------
    ValueError
        Fewer than 3 channels (2-D data cannot be rotated this way).
    """
    data = as_sequence(data)
    require_finite(data)
    if data.shape[0] < 3:
        raise ValueError(f"align_to_axes needs 3-D coordinates, got C = {data.shape[0]}")
    if not -data.shape[1] <= frame < data.shape[1]:
        raise ValueError(f"frame {frame} is out of range for T = {data.shape[1]}")
    xyz = data[:3, frame, :, 0].astype(np.float64)  # (3, V)
    point = lambda j: joint_position(xyz[:, None, :, None], j)[:, 0, 0]  # noqa: E731
    spine = point(z_axis[1]) - point(z_axis[0])
    shoulders = point(x_axis[1]) - point(x_axis[0])
    rotation = alignment_rotation(spine, shoulders, method)
    out = data.copy()
    out[:3] = np.einsum("ij,jtvm->itvm", rotation, data[:3].astype(np.float64))
    return out


def pad_to_length(
    data: np.ndarray, length: int, *, mode: Literal["replay", "zero"] = "replay"
) -> np.ndarray:
    """Bring a sequence to ``length`` frames: cut longer ones, pad shorter ones.

    ``"replay"`` repeats the whole sequence, frames 0..T-1, 0..T-1, ..., cut at
    ``length`` (the paper pads "by replaying the actions"); ``"zero"`` appends empty
    frames. :func:`paper_preprocess` instead zero-pads and lets
    :func:`fill_empty_frames` replay each person over its own length, as the authors do.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M), T >= 1.
    length : int
        Frames wanted.
    mode : {"replay", "zero"}
        Pad by repeating the whole sequence, or with empty frames.

    Returns
    -------
    numpy.ndarray
        Shape (C, length, V, M), a new array.
    """
    data = sequence_and_length(data, length, "pad")
    t = data.shape[1]
    if t >= length:
        return data[:, :length].copy()
    if mode == "replay":
        return data[:, np.arange(length) % t].copy()
    if mode == "zero":
        out = np.zeros((data.shape[0], length, *data.shape[2:]), dtype=data.dtype)
        out[:, :t] = data
        return out
    raise ValueError(f"mode must be 'replay' or 'zero', got {mode!r}")


def paper_preprocess(
    data: np.ndarray,
    layout: str | PreprocessSpec | SkeletonGraph = "ntu-rgbd",
    *,
    length: int | None = 300,
    dims: int = 3,
    rotate: bool | None = None,
    method: Literal["authors", "orthonormal"] = "authors",
) -> np.ndarray:
    """The MS-G3D / 2s-AGCN preprocessing of one sequence.

    Zero-pad (or cut) to ``length`` frames, :func:`fill_empty_frames`,
    :func:`center_joints` on the layout's centre, then, for 3-D data,
    :func:`align_to_axes`. With ``"ntu-rgbd"`` and the defaults this is what the
    authors' ``ntu_gendata.py`` writes for one file (up to float32 rounding).

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M).
    layout : str or PreprocessSpec or SkeletonGraph
        A key of :data:`PREPROCESS_SPECS` (or its pyskl alias, e.g. ``"coco"``), a spec
        for a custom layout, or a graph carrying one
        (:meth:`PreprocessSpec.for_layout`).
    length : int or None
        T of the result; ``None`` keeps T.
    dims : int
        Number of leading coordinate channels (3 for x, y, z; 2 for x, y, score).
    rotate : bool, optional
        Whether to align the axes; by default when ``dims == 3``.
    method : {"authors", "orthonormal"}
        See :func:`alignment_rotation`.

    Returns
    -------
    numpy.ndarray
        Shape (C, length, V, M), same dtype. A sequence with no skeleton at all is
        returned zero-padded and otherwise untouched.

    Raises
    ------
    ValueError
        An unknown layout, data whose joint count V is not the layout's, or data holding
        NaN or infinity (one NaN in the centre joint of frame 0 would otherwise make the
        whole sequence NaN through the rotation; mark missing joints with zeros).
    """
    data = as_sequence(data)
    spec = PreprocessSpec.for_layout(layout)
    if isinstance(layout, str | SkeletonGraph):  # the spec's joint indices mean nothing else
        graph = SkeletonGraph.coerce(layout)
        if data.shape[2] != graph.num_nodes:
            raise ValueError(
                f"layout {graph.name!r} has {graph.num_nodes} joints but the data has V = "
                f"{data.shape[2]} (shape {data.shape}); pass the data's own layout"
            )
    require_finite(data)
    rotate = dims == 3 if rotate is None else rotate
    if rotate and dims != 3:
        raise ValueError(f"rotation needs dims = 3 coordinate channels, got dims = {dims}")
    if rotate and (spec.z_axis is None or spec.x_axis is None):
        raise ValueError(
            "rotation needs the spec's z_axis and x_axis joints; this one has only a centre "
            "(pass rotate=False)"
        )
    if length is not None:
        data = pad_to_length(data, length, mode="zero")
    if not data.any():
        return data.copy()
    data = fill_empty_frames(data)
    data = center_joints(data, spec.center, dims=dims)
    if rotate:
        data = align_to_axes(data, spec.z_axis, spec.x_axis, method=method)
    return data
