"""Samples held in memory, prepared by a :class:`~skelgraph.data.Pipeline`, as a Dataset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from skelgraph.data.pipeline import Pipeline
from skelgraph.data.sample import SkeletonSample

__all__ = ["SampleDataset"]


class SampleDataset(Dataset):
    """Prepared samples (in memory) as ``(tensor, label)`` pairs for the training loop.

    Parameters
    ----------
    samples : sequence of SkeletonSample
        The samples, each prepared once (:meth:`Pipeline.prepare`) when built.
    pipeline : Pipeline
        How a sample becomes model input.
    train : bool
        Random clips (and ``augment``) instead of the fixed test clips.
    augment : callable, optional
        The augmentation when training, where the pipeline puts it
        (:meth:`Pipeline.clip_transform`).
    seed : int
        Seed of the random clips.
    ids : sequence of str, optional
        One id per sample (default ``meta["frame_dir"]`` or the position).
    """

    def __init__(
        self,
        samples: Sequence[SkeletonSample],
        pipeline: Pipeline,
        *,
        train: bool,
        augment: Any = None,
        seed: int = 0,
        ids: Sequence[str] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.items = [pipeline.prepare(s) for s in samples]
        self.labels = np.array([-1 if s.label is None else s.label for s in samples], np.int64)
        self.ids = (
            list(ids)
            if ids is not None
            else [str(s.meta.get("frame_dir", i)) for i, s in enumerate(samples)]
        )
        self.transform = pipeline.clip_transform(
            train=train, seed=seed, augment=augment if train else None
        )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.transform(self.items[index])
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), int(self.labels[index])
