"""pyskl's test pipeline for its MS-G3D checkpoints (``configs/msg3d/*/{j,b,jm,bm}.py``).

Per sample, as ``pyskl/datasets/pipelines/`` runs it:

1. ``PreNormalize3D`` (3-D, :func:`prenormalize_3d`): drop the frames where the main
   person is absent, the main person first; subtract the centre joint of the first kept
   frame; rotate the spine to +z, then the shoulders to +x. Or ``PreNormalize2D`` (2-D,
   :func:`prenormalize_2d`): pixel coordinates to [-1, 1] by the sample's ``img_shape``
   (default 1080 × 1920), x and y zeroed where the score is at most 0.01;
2. ``GenSkeFeat``: the stream, with pyskl's bone pairs (:data:`BONE_PAIRS`; for COCO-17
   not its graph's tree: the hips hang from the nose) and, for (x, y, score), the scores
   averaged instead of differenced;
3. ``UniformSample(clip_len=100, num_clips=10)``: pyskl's fixed test clips;
4. ``FormatGCNInput(num_person=2)``: persons padded with zeros or cut.

The model's softmax is then averaged over the clips (``Predictor.probabilities``).
Steps 2-4 are :class:`~skelgraph.data.Pipeline`'s with the bone graph of
:data:`BONE_PAIRS`; this module adds step 1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from skelgraph import SkeletonGraph
from skelgraph.data import Pipeline, SkeletonSample, align_to_axes

__all__ = [
    "BONE_PAIRS",
    "PysklPipeline",
    "bone_graph",
    "pipeline_from_dict",
    "prenormalize_2d",
    "prenormalize_3d",
]

BONE_PAIRS: dict[str, tuple[tuple[int, int], ...]] = {
    # pyskl's JointToBone pairs (child, parent); the root is paired with itself.
    "ntu-rgbd-pyskl": (
        (0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8),
        (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17),
        (19, 18), (20, 20), (21, 22), (22, 7), (23, 24), (24, 11),
    ),
    "coco-17": (
        (0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (6, 0), (7, 5), (8, 6), (9, 7),
        (10, 8), (11, 0), (12, 0), (13, 11), (14, 12), (15, 13), (16, 14),
    ),
    "openpose-18": (
        (0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6), (8, 2), (9, 8),
        (10, 9), (11, 5), (12, 11), (13, 12), (14, 0), (15, 0), (16, 14), (17, 15),
    ),
}  # fmt: skip
"""pyskl's bone pairs (``JointToBone``) for each layout, by skelgraph's layout name."""

PRENORMALIZE_3D_AXES = ((0, 1), (4, 8))
"""``PreNormalize3D``'s spine (bottom, top) and shoulders (left, right), NTU's joints."""


def bone_graph(layout: str) -> SkeletonGraph:
    """The tree of :data:`BONE_PAIRS` over ``layout``'s joints, so that its
    :attr:`~skelgraph.SkeletonGraph.bone_pairs` are pyskl's."""
    pairs = BONE_PAIRS[layout]
    root = next(child for child, parent in pairs if child == parent)
    base = SkeletonGraph.from_layout(layout)
    return SkeletonGraph.from_edges(
        [pair for pair in pairs if pair[0] != pair[1]],
        base.num_nodes,
        joint_names=base.joint_names,
        center=root,
        name=f"{layout}/pyskl-bones",
    )


def prenormalize_3d(data: np.ndarray) -> np.ndarray:
    """pyskl's ``PreNormalize3D`` on a (C, T, V, M) array of 1 or 2 persons.

    The main person is the one present (not all-zero) in more frames (person 0 on a tie);
    it becomes person 0, and only its frames are kept. Then, with ``c`` the centre joint
    (1 for NTU's 25 joints, else the last) of person 0 in the first kept frame, every
    joint present in a frame is moved by ``-c`` (absent ones stay zero), and one rotation
    from that frame (:func:`~skelgraph.data.align_to_axes`, the authors' method) turns
    the spine 0 → 1 to +z and the shoulders 4 → 8 to +x.

    Parameters
    ----------
    data : numpy.ndarray
        (3, T, V, M) joint positions, M <= 2.

    Raises
    ------
    ValueError
        More than 2 persons (pyskl asserts 1 or 2), or no frame with a person.
    """
    x = np.asarray(data, dtype=np.float32)
    _, _, v, m = x.shape
    if m > 2:
        raise ValueError(f"pyskl's PreNormalize3D takes 1 or 2 persons, got M = {m}")
    if x.sum() == 0:
        return x.copy()
    present = [~np.isclose(x[..., p], 0).all(axis=(0, 2)) for p in range(m)]
    main = 1 if m == 2 and present[0].sum() < present[1].sum() else 0
    if not present[main].any():
        raise ValueError("pyskl's PreNormalize3D: no frame has a person (all joints near 0)")
    x = x[:, present[main]][..., [main, 1 - main][:m]]
    center = x[:, 0, 1 if v == 25 else -1, 0].copy()
    x = (x - center[:, None, None, None]) * (x != 0).any(axis=0, keepdims=True)
    return align_to_axes(x, *PRENORMALIZE_3D_AXES)


def prenormalize_2d(
    data: np.ndarray, img_shape: Sequence[float] = (1080, 1920), threshold: float | None = 0.01
) -> np.ndarray:
    r"""pyskl's ``PreNormalize2D`` (``mode='fix'``) on (x, y[, score]) pixels (C, T, V, M).

    .. math::

        x' = \frac{x - w/2}{w/2}, \qquad y' = \frac{y - h/2}{h/2}, \qquad
        (x', y') = (0, 0) \text{ where } s \le \text{threshold}

    Parameters
    ----------
    data : numpy.ndarray
        (C, T, V, M), channels x, y and optionally the score.
    img_shape : (float, float)
        (height, width) of the frame.
    threshold : float or None
        Scores at most this zero x and y (pyskl: 0.01); ``None``: no masking
        (mmaction2 1.x's ``PreNormalize2D``).
    """
    x = np.array(data, dtype=np.float32)
    h, w = (float(s) for s in img_shape)
    x[0] = (x[0] - w / 2) / (w / 2)
    x[1] = (x[1] - h / 2) / (h / 2)
    if threshold is not None and x.shape[0] == 3:
        x[:2, x[2] <= threshold] = 0
    return x


@dataclass
class PysklPipeline:
    """pyskl's test pipeline for one checkpoint; see the module docstring.

    Attributes
    ----------
    layout : str
        skelgraph's name of the checkpoint's layout (``"ntu-rgbd-pyskl"``, ``"coco-17"``).
    dims : int
        3: ``PreNormalize3D`` on (x, y, z); 2: ``PreNormalize2D`` on (x, y, score).
    stream : str
        ``"joint"``, ``"bone"``, ``"joint-motion"`` or ``"bone-motion"``.
    clip_len : int
        Frames per test clip (100).
    num_persons : int
        Persons the model takes (2).
    img_shape : (int, int)
        ``PreNormalize2D``'s frame size for samples without ``meta["img_shape"]``.
    threshold : float or None
        ``PreNormalize2D``'s score threshold (pyskl 0.01, mmaction2 ``None``).
    """

    layout: str
    dims: int
    stream: str = "joint"
    clip_len: int = 100
    num_persons: int = 2
    img_shape: tuple[int, int] = (1080, 1920)
    threshold: float | None = 0.01

    def __post_init__(self) -> None:
        if self.layout not in BONE_PAIRS:
            raise ValueError(f"pyskl layouts: {', '.join(BONE_PAIRS)}; got {self.layout!r}")
        if self.dims not in (2, 3):
            raise ValueError(f"dims must be 2 or 3, got {self.dims!r}")
        self.img_shape = tuple(self.img_shape)
        self._features = Pipeline(
            bone_graph(self.layout).to_dict(),
            channels=3,
            dims=self.dims,
            stream=self.stream,
            frames=self.clip_len,
            num_persons=self.num_persons,
            normalize_2d=False,
            preprocess=False,
        )

    @property
    def channels(self) -> int:
        """C the model takes: (x, y, z) or (x, y, score)."""
        return 3

    @property
    def graph(self) -> SkeletonGraph:
        """The layout's :class:`~skelgraph.SkeletonGraph` (inputs are read in it)."""
        return SkeletonGraph.from_layout(self.layout)

    def normalize(self, sample: SkeletonSample) -> SkeletonSample:
        """Step 1 (``PreNormalize3D`` or ``PreNormalize2D``) on a sample.

        Raises
        ------
        ValueError
            A sample with other joints than the layout's, or not 3 channels
            ((x, y, z), or (x, y, score) for 2-D keypoints).
        """
        c, _, v, _ = sample.data.shape
        graph = self.graph
        if v != graph.num_nodes or c != 3:
            what = "(x, y, z)" if self.dims == 3 else "(x, y, score)"
            raise ValueError(
                f"the model takes {what} of the {graph.num_nodes} joints of {self.layout!r}; "
                f"this sample has C = {c}, V = {v} (layout {sample.layout_name!r})"
            )
        if self.dims == 3:
            data = prenormalize_3d(sample.data)
        else:
            shape = sample.meta.get("img_shape") or self.img_shape
            data = prenormalize_2d(sample.data, shape, self.threshold)
        return dataclasses.replace(sample, data=data)

    def prepare(self, sample: SkeletonSample) -> np.ndarray:
        """Steps 1 and 2: the stream of the normalised sample, (C, T', V, M) float32."""
        return self._features.prepare(self.normalize(sample))

    def model_input(self, sample: SkeletonSample, num_clips: int = 1) -> torch.Tensor:
        """Steps 1-4: (num_clips, C, clip_len, V, num_persons) float32."""
        return self._features.model_input(self.normalize(sample), num_clips)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint, marked ``"kind": "pyskl"``."""
        return {"kind": "pyskl", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PysklPipeline:
        """The inverse of :meth:`to_dict`."""
        return cls(**{k: v for k, v in values.items() if k != "kind"})


def pipeline_from_dict(values: dict[str, Any]) -> Pipeline | PysklPipeline:
    """A checkpoint's pipeline: :class:`PysklPipeline` where marked so, else
    :class:`~skelgraph.data.Pipeline`."""
    if values.get("kind") == "pyskl":
        return PysklPipeline.from_dict(values)
    return Pipeline.from_dict(values)
