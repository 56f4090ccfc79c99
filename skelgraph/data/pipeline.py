"""How a sample becomes a model's input, the same when training and when predicting.

A :class:`Pipeline` is a plain description (stored in every checkpoint as a dict of
numbers, strings and lists, so ``torch.load(..., weights_only=True)`` reads it) of how one
:class:`~skelgraph.data.SkeletonSample` becomes the model's input:

1. :meth:`Pipeline.prepare`, deterministic, once per sample: for 2-D keypoints with an
   ``img_shape``, :func:`~skelgraph.data.normalize_2d`; the paper's preprocessing
   (:func:`~skelgraph.data.paper_preprocess` without padding: replay-fill empty frames,
   centre, and for 3-D data with ``rotate`` align the spine and shoulders) on the layout's
   joints where it has them; for ``sampling="resample"`` (the N-UCLA recipe)
   :func:`~skelgraph.data.resample_frames` to ``frames``; then the input stream
   (:data:`STREAMS`: joints, bones, or their motion);
2. :meth:`Pipeline.clip_transform`, per item: for ``sampling="uniform"`` (pyskl's, for
   pose pickles) clips of ``frames`` frames drawn with
   :class:`~skelgraph.data.UniformSampleFrames` (random when training, pyskl's fixed
   clips when testing); persons padded with zeros or cut to ``num_persons``.

``sampling="ctrgcn"`` is CTR-GCN's N-UCLA feeder (``feeders/feeder_ucla.py``, written
anew): :meth:`~Pipeline.prepare` only centres every frame on frame 0's centre joint (with
``preprocess``); per item, the training augmentation (random rotation and scale), then
:func:`~skelgraph.data.minmax_normalize` of the whole sequence, then ``frames`` frames
(:func:`~skelgraph.data.replacement_sample_indices`: drawn with replacement and sorted
when training, evenly spaced when testing), then the input stream.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from skelgraph.data.features import bone_features, motion_features, resample_frames
from skelgraph.data.keypoints2d import normalize_2d
from skelgraph.data.preprocess import PreprocessSpec, center_joints, paper_preprocess
from skelgraph.data.sample import SkeletonSample
from skelgraph.data.transforms import (
    Compose,
    MinMaxNormalize,
    ReplacementSampleFrames,
    UniformSampleFrames,
)
from skelgraph.graph import LAYOUTS, SkeletonGraph

__all__ = [
    "SAMPLINGS",
    "STREAMS",
    "FitPersons",
    "Pipeline",
    "graph_from_config",
    "graph_to_config",
]

STREAMS = ("joint", "bone", "joint-motion", "bone-motion")
"""The input streams of Section 3.4 (and pyskl's j, b, jm, bm)."""

SAMPLINGS = ("uniform", "resample", "ctrgcn", "none")
"""The values of :attr:`Pipeline.sampling`."""


def graph_to_config(graph: SkeletonGraph) -> str | dict[str, Any]:
    """A built-in layout's name, or the graph's :meth:`~SkeletonGraph.to_dict`.

    Parameters
    ----------
    graph : SkeletonGraph
        The graph to describe as plain data (for a checkpoint).
    """
    if graph.name in LAYOUTS and SkeletonGraph.from_layout(graph.name) == graph:
        if graph.preprocess is None:
            return graph.name
    return graph.to_dict()


def graph_from_config(value: str | dict[str, Any] | SkeletonGraph) -> SkeletonGraph:
    """The inverse of :func:`graph_to_config`; a ``.json`` path is read as a layout file.

    Parameters
    ----------
    value : str, dict or SkeletonGraph
        A layout name, a layout file, a :meth:`~SkeletonGraph.to_dict`, or a graph.
    """
    if isinstance(value, SkeletonGraph):
        return value
    if isinstance(value, str):
        if value.endswith(".json"):
            return SkeletonGraph.from_json(value)
        return SkeletonGraph.from_layout(value)
    return SkeletonGraph.from_dict(value)


class FitPersons:
    """Pad (zeros) or cut the person axis M of a (C, T, V, M) array to ``num_persons``.

    Parameters
    ----------
    num_persons : int
        M of the result.
    """

    def __init__(self, num_persons: int) -> None:
        self.num_persons = num_persons

    def __call__(self, data: np.ndarray) -> np.ndarray:
        m = data.shape[3]
        if m >= self.num_persons:
            return np.ascontiguousarray(data[..., : self.num_persons])
        pad = np.zeros((*data.shape[:3], self.num_persons - m), dtype=data.dtype)
        return np.concatenate([data, pad], axis=3)

    def __repr__(self) -> str:
        return f"FitPersons({self.num_persons})"


@dataclass
class Pipeline:
    """How a sample becomes model input; see the module docstring.

    Parameters
    ----------
    layout : str or dict
        The graph (:func:`graph_to_config`).
    channels : int
        C the model takes.
    dims : int
        Leading coordinate channels (3: x, y, z; 2: x, y[, score]).
    stream : str
        One of :data:`STREAMS`.
    frames : int
        Frames per clip (``"uniform"``, ``"ctrgcn"``) or after resampling (``"resample"``).
    sampling : {"uniform", "resample", "ctrgcn", "none"}
        ``"none"``: the data is used as it comes (preprocessed arrays); ``"ctrgcn"``:
        CTR-GCN's N-UCLA feeder (module docstring).
    num_persons : int
        Persons M per clip (padded with zeros or cut).
    rotate : bool
        Align 3-D data to the spine and shoulder axes.
    normalize_2d : bool
        Map 2-D pixel coordinates to [-1, 1] where a sample has ``meta["img_shape"]``.
    preprocess : bool
        Run the paper's preprocessing (fill, centre, align) on the layout's joints.
    """

    layout: str | dict[str, Any]
    channels: int
    dims: int = 3
    stream: str = "joint"
    frames: int = 32
    sampling: str = "uniform"
    num_persons: int = 2
    rotate: bool = True
    normalize_2d: bool = True
    preprocess: bool = True

    def __post_init__(self) -> None:
        if self.stream not in STREAMS:
            raise ValueError(f"stream must be one of {', '.join(STREAMS)}, got {self.stream!r}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(
                f"sampling must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}"
            )

    @property
    def graph(self) -> SkeletonGraph:
        """The :class:`SkeletonGraph` of ``layout``."""
        return graph_from_config(self.layout)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Pipeline:
        """The inverse of :meth:`to_dict`.

        Parameters
        ----------
        values : dict
            A :meth:`to_dict` result (e.g. a checkpoint's ``"pipeline"``).
        """
        return cls(**values)

    def _score_channel(self, channels: int) -> int | None:
        return 2 if self.dims == 2 and channels == 3 else None

    def prepare(self, sample: SkeletonSample) -> np.ndarray:
        """The deterministic part for one sample: (C, T', V, M) float32.

        Raises
        ------
        ValueError
            A sample whose joint or channel count differs from the pipeline's.
        """
        graph = self.graph
        c, _, v, _ = sample.data.shape
        if v != graph.num_nodes or c != self.channels:
            raise ValueError(
                f"the model takes {self.channels} channels of {graph.num_nodes} joints "
                f"(layout {graph.name!r}), this sample has C = {c}, V = {v} "
                f"(layout {sample.layout_name!r})"
            )
        x = np.asarray(sample.data, dtype=np.float32)
        if self.sampling == "none":
            return self._stream(x, graph)
        if self.dims == 2 and self.normalize_2d and sample.meta.get("img_shape") is not None:
            x = normalize_2d(x, sample.meta["img_shape"])
        if self.sampling == "ctrgcn":  # the rest, and the stream, per item
            if not self.preprocess:
                return x
            center = PreprocessSpec.for_layout(graph).center
            return center_joints(x, center, dims=self.dims, frame=0)
        if self.preprocess:
            x = paper_preprocess(
                x,
                PreprocessSpec.for_layout(graph),
                length=None,
                dims=self.dims,
                rotate=self.rotate and self.dims == 3,
            )
        if self.sampling == "resample":
            x = resample_frames(x, self.frames)
        return self._stream(x, graph)

    def _stream(self, x: np.ndarray, graph: SkeletonGraph) -> np.ndarray:
        return np.ascontiguousarray(_Stream(self.stream, graph, self._score())(x), np.float32)

    def _score(self) -> int | None:
        return self._score_channel(self.channels)

    def stream_transform(self) -> Any:
        """A transform computing :attr:`stream` from joints (the identity for ``"joint"``)."""
        return _Stream(self.stream, self.graph, self._score())

    def clip_transform(
        self, *, train: bool, num_clips: int = 1, seed: int = 0, augment: Any = None
    ) -> Compose:
        """The per-item step: clips (for ``"uniform"``), then :class:`FitPersons`, then
        ``augment``; for ``"ctrgcn"``: ``augment``, min-max normalisation, frames, stream,
        :class:`FitPersons`.

        The result maps (C, T', V, M) to (C, num_clips · frames, V, num_persons)
        (``"uniform"``), (C, frames, V, num_persons) (``"ctrgcn"``) or (C, T', V,
        num_persons).

        Parameters
        ----------
        train : bool
            Random clips instead of the fixed test clips.
        num_clips : int
            Clips per item (``"uniform"``).
        seed : int
            Seed of the random clips.
        augment : callable, optional
            The training augmentation (a transform or a :class:`Compose` of them), put
            where the sampling needs it.
        """
        extra = list(augment.transforms) if isinstance(augment, Compose) else [augment]
        extra = [step for step in extra if step is not None]
        if self.sampling == "ctrgcn":
            return Compose(
                [
                    *extra,
                    MinMaxNormalize(dims=self.dims),
                    ReplacementSampleFrames(self.frames, test_mode=not train, seed=seed),
                    self.stream_transform(),
                    FitPersons(self.num_persons),
                ]
            )
        steps: list[Any] = []
        if self.sampling == "uniform":
            steps.append(
                UniformSampleFrames(
                    self.frames, num_clips=num_clips, test_mode=not train, seed=seed
                )
            )
        steps.append(FitPersons(self.num_persons))
        return Compose([*steps, *extra])

    def model_input(self, sample: SkeletonSample, num_clips: int = 1) -> torch.Tensor:
        """A sample as a test-time batch of its clips: (num_clips, C, T, V, M) float32.

        With ``"uniform"`` sampling these are pyskl's fixed test clips; otherwise every
        clip is the whole prepared sequence (so averaging them changes nothing).
        """
        x = self.prepare(sample)
        clips = self.clip_transform(train=False, num_clips=num_clips)(x)
        c, t, v, m = clips.shape
        if self.sampling == "uniform":
            batch = clips.reshape(c, num_clips, t // num_clips, v, m).transpose(1, 0, 2, 3, 4)
        else:
            batch = np.repeat(clips[None], num_clips, axis=0)
        return torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))


class _Stream:
    def __init__(self, stream: str, graph: SkeletonGraph, score_channel: int | None) -> None:
        self.stream, self.graph, self.score_channel = stream, graph, score_channel

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.stream.startswith("bone"):
            x = bone_features(x, self.graph, score_channel=self.score_channel)
        if self.stream.endswith("motion"):
            x = motion_features(x, score_channel=self.score_channel)
        return x

    def __repr__(self) -> str:
        return f"Stream({self.stream!r}, {self.graph.name!r})"
