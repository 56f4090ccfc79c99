"""Callable transforms over (C, T, V, M) arrays, composable with :class:`Compose`.

Each class wraps one array function (of :mod:`~skelgraph.data.preprocess`,
:mod:`~skelgraph.data.features`, :mod:`~skelgraph.data.keypoints2d`,
:mod:`~skelgraph.data.augment` or :mod:`~skelgraph.data.sampling`) and is documented by
reference to it: ``transform(x)`` equals the function on ``x`` with the arguments the
transform was built with, which mean what the function's docstring says; a class
describes only what differs. The random ones own a :class:`numpy.random.Generator` made
from their ``seed`` instead of taking ``rng``, so a seeded pipeline gives the same
sequence of draws on every run (give each data-loader worker its own seed, or
``reseed`` it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from skelgraph.data import augment, features, keypoints2d, preprocess, sampling
from skelgraph.data.augment import SeedLike, as_generator
from skelgraph.data.preprocess import JointRef, PreprocessSpec
from skelgraph.graph import GraphLike

__all__ = [
    "AlignToAxes",
    "BoneFeatures",
    "CenterJoints",
    "Compose",
    "FillEmptyFrames",
    "MinMaxNormalize",
    "MotionFeatures",
    "Normalize2D",
    "PadToLength",
    "PaperPreprocess",
    "RandomRotate",
    "RandomScale",
    "RandomShift",
    "ReplacementSampleFrames",
    "ResampleFrames",
    "ThresholdScores",
    "Transform",
    "UniformSampleFrames",
]

Transform = Callable[[np.ndarray], np.ndarray]
"""Anything that maps a (C, T, V, M) array to another."""


class _Repr:
    def _args(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._args().items())
        return f"{type(self).__name__}({args})"


class _ScoreChannel(_Repr):
    def _args(self) -> dict[str, Any]:
        # Without a score channel the repr stays what it was before the option existed.
        args = super()._args()
        if args.get("score_channel") is None:
            args.pop("score_channel", None)
        return args


class Compose(_Repr):
    """Apply transforms in order: ``Compose([f, g])(x) == g(f(x))``.

    Parameters
    ----------
    transforms : sequence of callables
        Each maps a (C, T, V, M) array to an array.
    """

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"{t!r} is not callable")

    def __call__(self, data: np.ndarray) -> np.ndarray:
        for t in self.transforms:
            data = t(data)
        return data

    def __len__(self) -> int:
        return len(self.transforms)


class FillEmptyFrames(_Repr):
    """See :func:`~skelgraph.data.preprocess.fill_empty_frames`."""

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return preprocess.fill_empty_frames(data)


class CenterJoints(_Repr):
    """See :func:`~skelgraph.data.preprocess.center_joints`.

    Parameters
    ----------
    joint, dims, frame
        As in the function.
    """

    def __init__(
        self, joint: JointRef, *, dims: int | None = None, frame: int | None = None
    ) -> None:
        self.joint = joint
        self.dims = dims
        self.frame = frame

    def _args(self) -> dict[str, Any]:
        # Without a frame the repr stays what it was before the option existed.
        args = super()._args()
        if self.frame is None:
            del args["frame"]
        return args

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return preprocess.center_joints(data, self.joint, dims=self.dims, frame=self.frame)


class AlignToAxes(_Repr):
    """See :func:`~skelgraph.data.preprocess.align_to_axes` (``frame=0``, as the authors).

    Parameters
    ----------
    z_axis, x_axis, method
        As in the function.
    """

    def __init__(
        self,
        z_axis: tuple[JointRef, JointRef],
        x_axis: tuple[JointRef, JointRef],
        *,
        method: Literal["authors", "orthonormal"] = "authors",
    ) -> None:
        self.z_axis = z_axis
        self.x_axis = x_axis
        self.method = method

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return preprocess.align_to_axes(data, self.z_axis, self.x_axis, method=self.method)


class PadToLength(_Repr):
    """See :func:`~skelgraph.data.preprocess.pad_to_length`.

    Parameters
    ----------
    length, mode
        As in the function.
    """

    def __init__(self, length: int, *, mode: Literal["replay", "zero"] = "replay") -> None:
        self.length = length
        self.mode = mode

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return preprocess.pad_to_length(data, self.length, mode=self.mode)


class PaperPreprocess(_Repr):
    """See :func:`~skelgraph.data.preprocess.paper_preprocess`.

    Parameters
    ----------
    layout, length, dims, rotate, method
        As in the function.
    """

    def __init__(
        self,
        layout: str | PreprocessSpec = "ntu-rgbd",
        *,
        length: int | None = 300,
        dims: int = 3,
        rotate: bool | None = None,
        method: Literal["authors", "orthonormal"] = "authors",
    ) -> None:
        self.layout = layout
        self.length = length
        self.dims = dims
        self.rotate = rotate
        self.method = method

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return preprocess.paper_preprocess(
            data,
            self.layout,
            length=self.length,
            dims=self.dims,
            rotate=self.rotate,
            method=self.method,
        )


class ResampleFrames(_Repr):
    """See :func:`~skelgraph.data.features.resample_frames`.

    Parameters
    ----------
    length, mode
        As in the function.
    """

    def __init__(self, length: int, *, mode: Literal["linear", "nearest"] = "linear") -> None:
        self.length = length
        self.mode = mode

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return features.resample_frames(data, self.length, mode=self.mode)


class MinMaxNormalize(_Repr):
    """See :func:`~skelgraph.data.features.minmax_normalize`.

    Parameters
    ----------
    dims
        As in the function.
    """

    def __init__(self, *, dims: int = 3) -> None:
        self.dims = dims

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return features.minmax_normalize(data, dims=self.dims)


class BoneFeatures(_ScoreChannel):
    """See :func:`~skelgraph.data.features.bone_features`.

    Parameters
    ----------
    graph, score_channel
        As in the function.
    """

    def __init__(self, graph: GraphLike, *, score_channel: int | None = None) -> None:
        self.graph = graph
        self.score_channel = score_channel

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return features.bone_features(data, self.graph, score_channel=self.score_channel)


class MotionFeatures(_ScoreChannel):
    """See :func:`~skelgraph.data.features.motion_features`.

    Parameters
    ----------
    score_channel
        As in the function.
    """

    def __init__(self, *, score_channel: int | None = None) -> None:
        self.score_channel = score_channel

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return features.motion_features(data, score_channel=self.score_channel)


class Normalize2D(_Repr):
    """See :func:`~skelgraph.data.keypoints2d.normalize_2d`; one frame size for all items.

    Parameters
    ----------
    img_shape
        As in the function; by default pyskl's ``PreNormalize2D`` default, 1080 x 1920.
        Where each sample has its own size (``sample.meta["img_shape"]`` of a pose
        pickle), call the function instead.
    """

    def __init__(self, img_shape: tuple[float, float] = (1080, 1920)) -> None:
        keypoints2d._image_shape(img_shape)  # fail at construction, not on the first item
        self.img_shape = tuple(img_shape)

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return keypoints2d.normalize_2d(data, self.img_shape)


class ThresholdScores(_Repr):
    """See :func:`~skelgraph.data.keypoints2d.threshold_scores`.

    Parameters
    ----------
    threshold, score_channel
        As in the function; by default the threshold is pyskl's, 0.01.
    """

    def __init__(self, threshold: float = 0.01, *, score_channel: int = 2) -> None:
        self.threshold = threshold
        self.score_channel = score_channel

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return keypoints2d.threshold_scores(data, self.threshold, score_channel=self.score_channel)


class _Random(_Repr):
    def __init__(self, seed: SeedLike) -> None:
        self.reseed(seed)

    def reseed(self, seed: SeedLike) -> None:
        """Restart the draws from ``seed`` (e.g. in a data-loader ``worker_init_fn``)."""
        self.seed = seed
        self._rng = as_generator(seed)


class RandomRotate(_Random):
    """See :func:`~skelgraph.data.augment.random_rotate`.

    Parameters
    ----------
    max_degrees, dims, axes
        As in the function.
    seed : int, Generator or None
        Seed of the transform's own generator, used as the function's ``rng``.
    """

    def __init__(
        self,
        max_degrees: float = 17.0,
        *,
        dims: int = 3,
        axes: str = "xyz",
        seed: SeedLike = None,
    ) -> None:
        augment._check_axes(axes)  # fail at construction, not on the first item
        super().__init__(seed)
        self.max_degrees = max_degrees
        self.dims = dims
        self.axes = axes

    def _args(self) -> dict[str, Any]:
        # The default axes keep the repr it had before the option existed.
        args = super()._args()
        if self.axes == "xyz":
            del args["axes"]
        return args

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return augment.random_rotate(
            data, self._rng, max_degrees=self.max_degrees, dims=self.dims, axes=self.axes
        )


class RandomScale(_Random):
    """See :func:`~skelgraph.data.augment.random_scale`.

    Parameters
    ----------
    low, high, dims, per_axis
        As in the function.
    seed : int, Generator or None
        Seed of the transform's own generator, used as the function's ``rng``.
    """

    def __init__(
        self,
        low: float = 0.9,
        high: float = 1.1,
        *,
        dims: int = 3,
        per_axis: bool = False,
        seed: SeedLike = None,
    ) -> None:
        super().__init__(seed)
        self.low = low
        self.high = high
        self.dims = dims
        self.per_axis = per_axis

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return augment.random_scale(
            data, self._rng, low=self.low, high=self.high, dims=self.dims, per_axis=self.per_axis
        )


class RandomShift(_Random):
    """See :func:`~skelgraph.data.augment.random_shift`.

    Parameters
    ----------
    max_shift, dims
        As in the function.
    seed : int, Generator or None
        Seed of the transform's own generator, used as the function's ``rng``.
    """

    def __init__(self, max_shift: float = 0.1, *, dims: int = 3, seed: SeedLike = None) -> None:
        super().__init__(seed)
        self.max_shift = max_shift
        self.dims = dims

    def __call__(self, data: np.ndarray) -> np.ndarray:
        return augment.random_shift(data, self._rng, max_shift=self.max_shift, dims=self.dims)


class UniformSampleFrames(_Random):
    """See :func:`~skelgraph.data.sampling.uniform_sample_indices`; the frames, not indices.

    Returns (C, num_clips · clip_len, V, M), the clips one after another in time;
    ``x.reshape(C, num_clips, clip_len, V, M)`` separates them.

    Parameters
    ----------
    clip_len, num_clips, p_interval, test_mode
        As in the function.
    seed : int, Generator or None
        Seed of the transform's own generator, used as the function's ``rng``.
    test_seed : int
        The function's ``seed``: the test draws' seed, pyskl's 255.
    """

    def __init__(
        self,
        clip_len: int,
        *,
        num_clips: int = 1,
        p_interval: sampling.Interval = 1.0,
        test_mode: bool = False,
        seed: SeedLike = None,
        test_seed: int = sampling.PYSKL_TEST_SEED,
    ) -> None:
        super().__init__(seed)
        self.clip_len = clip_len
        self.num_clips = num_clips
        self.p_interval = p_interval
        self.test_mode = test_mode
        self.test_seed = test_seed
        sampling._interval(p_interval)  # fail at construction, not on the first item

    def __call__(self, data: np.ndarray) -> np.ndarray:
        inds = sampling.uniform_sample_indices(
            data.shape[1],
            self.clip_len,
            num_clips=self.num_clips,
            p_interval=self.p_interval,
            test_mode=self.test_mode,
            rng=self._rng,
            seed=self.test_seed,
        )
        return np.ascontiguousarray(data[:, inds.ravel()])


class ReplacementSampleFrames(_Random):
    """See :func:`~skelgraph.data.sampling.replacement_sample_indices`; the frames.

    Parameters
    ----------
    clip_len, test_mode
        As in the function.
    seed : int, Generator or None
        Seed of the transform's own generator, used as the function's ``rng``.
    """

    def __init__(self, clip_len: int, *, test_mode: bool = False, seed: SeedLike = None) -> None:
        if clip_len < 1:
            raise ValueError(f"clip_len must be >= 1, got {clip_len}")
        super().__init__(seed)
        self.clip_len = clip_len
        self.test_mode = test_mode

    def __call__(self, data: np.ndarray) -> np.ndarray:
        inds = sampling.replacement_sample_indices(
            data.shape[1], self.clip_len, test_mode=self.test_mode, rng=self._rng
        )
        return np.ascontiguousarray(data[:, inds])
