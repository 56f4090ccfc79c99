"""Built-in skeleton layouts: joint names, bones and centre joint.

Every layout is stored 0-based. Where the source of a layout numbers its joints from 1
(the Kinect SDKs, the NTU RGB+D toolbox), the bones are written 1-based, as in that
source, and shifted once at import, so they can be checked against it by eye.

The ``center`` of a layout is the root of its bone tree: bones point away from it
(Section 3.4 of the MS-G3D paper) and it is the joint ST-GCN and MS-G3D call the centre.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LAYOUTS", "LAYOUT_ALIASES", "Layout", "resolve_layout"]


@dataclass(frozen=True)
class Layout:
    """A named skeleton layout.

    Parameters
    ----------
    name : str
        The name ``SkeletonGraph.from_layout`` knows it by.
    joint_names : tuple of str
        One name per joint, in the order of the data.
    edges : tuple of (int, int)
        Undirected bones, 0-based, each listed once.
    center : int
        0-based index of the root joint of the bone tree.
    description : str
        Where the layout comes from.
    """

    name: str
    joint_names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    center: int
    description: str


def _from_one_based(pairs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    return tuple((a - 1, b - 1) for a, b in pairs)


_KINECT_V2_JOINTS = (
    "spine_base", "spine_mid", "neck", "head",
    "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right",
    "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
    "spine_shoulder", "handtip_left", "thumb_left", "handtip_right", "thumb_right",
)  # fmt: skip

# Kinect v2 body, 1-based, shared by both NTU variants; they differ only in the hands.
_KINECT_V2_BODY = [
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7),
    (9, 21), (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15),
    (17, 1), (18, 17), (19, 18), (20, 19),
]  # fmt: skip

_OPENPOSE_18_JOINTS = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)  # fmt: skip

_COCO_17_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

_KINECT_V1_JOINTS = (
    "hip_center", "spine", "shoulder_center", "head",
    "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right",
    "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
)  # fmt: skip

_FINGERS = ("thumb", "index", "middle", "ring", "pinky")
_HAND_21_JOINTS = ("wrist",) + tuple(
    f"{finger}_{part}"
    for finger, parts in zip(
        _FINGERS,
        [("cmc", "mcp", "ip", "tip")] + [("mcp", "pip", "dip", "tip")] * 4,
    )
    for part in parts
)

_POSE_33_JOINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer", "left_ear", "right_ear",
    "mouth_left", "mouth_right", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip

_LAYOUT_LIST = [
    Layout(
        "ntu-rgbd",
        _KINECT_V2_JOINTS,
        # Hands chained tip-thumb-hand, as in the MS-G3D, 2s-AGCN and ST-GCN code.
        _from_one_based(_KINECT_V2_BODY + [(22, 23), (23, 8), (24, 25), (25, 12)]),
        center=20,
        description="NTU RGB+D 60/120, Kinect v2, 25 joints; the bones of the MS-G3D "
        "authors' code (hand tip - thumb - hand chained).",
    ),
    Layout(
        "ntu-rgbd-pyskl",
        _KINECT_V2_JOINTS,
        # Hand tip and thumb both attached to the hand, as in pyskl and mmaction2.
        _from_one_based(_KINECT_V2_BODY + [(22, 8), (23, 8), (24, 12), (25, 12)]),
        center=20,
        description="NTU RGB+D 60/120, Kinect v2, 25 joints; the bones of pyskl and "
        "mmaction2 (hand tip and thumb both on the hand).",
    ),
    Layout(
        "openpose-18",
        _OPENPOSE_18_JOINTS,
        (
            (4, 3),
            (3, 2),
            (7, 6),
            (6, 5),
            (13, 12),
            (12, 11),
            (10, 9),
            (9, 8),
            (11, 5),
            (8, 2),
            (5, 1),
            (2, 1),
            (0, 1),
            (15, 0),
            (14, 0),
            (17, 15),
            (16, 14),
        ),  # fmt: skip
        center=1,
        description="OpenPose COCO-18 (Kinetics-Skeleton); the bones of ST-GCN and the "
        "MS-G3D authors' code.",
    ),
    Layout(
        "coco-17",
        _COCO_17_JOINTS,
        (
            (15, 13),
            (13, 11),
            (16, 14),
            (14, 12),
            (11, 5),
            (12, 6),
            (9, 7),
            (7, 5),
            (10, 8),
            (8, 6),
            (5, 0),
            (6, 0),
            (1, 0),
            (3, 1),
            (2, 0),
            (4, 2),
        ),  # fmt: skip
        center=0,
        description="COCO-17 keypoints (HRNet, ViTPose, YOLO-pose, ...); the tree of "
        "pyskl's 'coco' layout.",
    ),
    Layout(
        "kinect-v1-20",
        _KINECT_V1_JOINTS,
        _from_one_based(
            [
                (1, 2),
                (2, 3),
                (3, 4),
                (3, 5),
                (5, 6),
                (6, 7),
                (7, 8),
                (3, 9),
                (9, 10),
                (10, 11),
                (11, 12),
                (1, 13),
                (13, 14),
                (14, 15),
                (15, 16),
                (1, 17),
                (17, 18),
                (18, 19),
                (19, 20),
            ]
        ),  # fmt: skip
        center=2,
        description="Kinect v1, 20 joints, in the order of Northwestern-UCLA "
        "Multiview Action3D; the centre is the shoulder centre, like NTU's.",
    ),
    Layout(
        "mediapipe-hand-21",
        _HAND_21_JOINTS,
        (
            (0, 1),
            (1, 2),
            (2, 3),
            (3, 4),
            (0, 5),
            (5, 6),
            (6, 7),
            (7, 8),
            (5, 9),
            (9, 10),
            (10, 11),
            (11, 12),
            (9, 13),
            (13, 14),
            (14, 15),
            (15, 16),
            (13, 17),
            (0, 17),
            (17, 18),
            (18, 19),
            (19, 20),
        ),  # fmt: skip
        center=0,
        description="MediaPipe Hands, 21 landmarks; MediaPipe's hand connections "
        "(the palm closes a cycle wrist - index - middle - ring - pinky - wrist).",
    ),
    Layout(
        "mediapipe-pose-33",
        _POSE_33_JOINTS,
        (
            # MediaPipe's pose connections ...
            (0, 1),
            (1, 2),
            (2, 3),
            (3, 7),
            (0, 4),
            (4, 5),
            (5, 6),
            (6, 8),
            (9, 10),
            (11, 12),
            (11, 13),
            (13, 15),
            (15, 17),
            (15, 19),
            (15, 21),
            (17, 19),
            (12, 14),
            (14, 16),
            (16, 18),
            (16, 20),
            (16, 22),
            (18, 20),
            (11, 23),
            (12, 24),
            (23, 24),
            (23, 25),
            (24, 26),
            (25, 27),
            (26, 28),
            (27, 29),
            (28, 30),
            (29, 31),
            (30, 32),
            (27, 31),
            (28, 32),
            # ... leave the face, the mouth and the body apart; these join them.
            (0, 9),
            (0, 10),
            (0, 11),
            (0, 12),
        ),  # fmt: skip
        center=0,
        description="MediaPipe Pose / BlazePose, 33 landmarks; MediaPipe's pose "
        "connections plus nose-mouth and nose-shoulder edges that make it connected.",
    ),
]

LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in _LAYOUT_LIST}
"""The built-in layouts, by name."""

LAYOUT_ALIASES: dict[str, str] = {
    # Same joint order and bones as pyskl's graph of that name.
    "nturgb+d": "ntu-rgbd-pyskl",
    "coco": "coco-17",
    "openpose": "openpose-18",
    # Same joint order (MediaPipe's); pyskl's graph is a tree without the palm edges.
    "handmp": "mediapipe-hand-21",
}
"""pyskl's layout names (``pyskl/utils/graph.py``), accepted wherever a layout name is."""


def resolve_layout(name: str) -> str:
    """The built-in layout name for ``name``, itself or a pyskl alias (:data:`LAYOUT_ALIASES`).

    Parameters
    ----------
    name : str
        A built-in layout name or a pyskl alias.

    Raises
    ------
    ValueError
        Neither a built-in layout nor an alias; the message lists both.

    Examples
    --------
    >>> resolve_layout("coco"), resolve_layout("ntu-rgbd")
    ('coco-17', 'ntu-rgbd')
    """
    if name in LAYOUTS:
        return name
    if isinstance(name, str) and name in LAYOUT_ALIASES:
        return LAYOUT_ALIASES[name]
    raise ValueError(
        f"unknown layout {name!r}; built-in layouts: {', '.join(LAYOUTS)}; "
        f"pyskl aliases: {', '.join(LAYOUT_ALIASES)}"
    )
