"""The train and test datasets of a run, from N-UCLA files, arrays or a pose pickle.

- ``nw-ucla``: ``DATA_ROOT/all_sqe/*.json`` (:func:`skelgraph.data.read_nucla_json`),
  split cross-view (train views 1, 2; test view 3), preprocessed once
  (:func:`skelgraph.data.paper_preprocess` on ``kinect-v1-20`` without padding, aligned
  with ``--align``, then resampled to ``--frames``) and cached as memory-mapped ``.npy``.
  With ``--feeder ctrgcn``, CTR-GCN's feeder instead (:class:`skelgraph.data.Pipeline`
  ``sampling="ctrgcn"``): sequences held in memory, centred on frame 0, then per item
  augmented, min-max normalised and sampled to ``--frames``.
- ``arrays``: (N, C, T, V, M) ``.npy`` arrays already preprocessed, memory-mapped.
- ``pose-pickle``: a pyskl / mmaction2 annotation pickle, any layout it holds; each
  sequence prepared once in memory by a :class:`skelgraph.data.Pipeline`, then clips of
  ``--frames`` frames drawn as pyskl's ``UniformSampleFrames`` does.

Training items are augmented on the fly (random rotation ±``--rotate-degrees`` about each
of ``--rotate-axes``, scaling by 1 ± ``--scale``); then the input stream (bones, motion)
is computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset, Subset

from examples.msg3d.config import TrainConfig
from examples.msg3d.model import PRESETS
from skelgraph.data import (
    Compose,
    PaperPreprocess,
    Pipeline,
    PreprocessSpec,
    RandomRotate,
    RandomScale,
    ResampleFrames,
    SampleDataset,
    SkeletonDataset,
    SkeletonFormatError,
    graph_from_config,
    graph_to_config,
    nucla_cross_view_split,
    read_nucla_json,
    read_pose_pickle,
)

__all__ = [
    "TrainData",
    "augmentation",
    "build_datasets",
    "check_labels",
    "dataset_ids",
    "dataset_labels",
    "reseed",
    "worker_init",
]

Transform = Callable[[np.ndarray], np.ndarray]


@dataclass
class TrainData:
    """The two datasets of a run and what the model needs to know of them.

    ``pipeline`` (how a sample becomes input, stored in checkpoints for ``predict.py``) and
    ``num_classes`` (the data's class count, where the data says it) are None for
    datasets passed in from Python.
    """

    train: Dataset
    test: Dataset
    pipeline: Pipeline | None = None
    num_classes: int | None = None


def _spread(items: Sequence[Any], n: int | None) -> list[Any]:
    """``n`` evenly spaced items (all when ``n`` is None or large)."""
    if n is None or n >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def augmentation(cfg: TrainConfig, dims: int = 3) -> Compose | None:
    """The training-time transform: random rotation and scaling (None if both are off)."""
    steps: list[Any] = []
    if cfg.rotate_degrees > 0:
        axes = cfg.rotate_axes if dims == 3 else "xyz"  # 2-D: one in-plane angle
        steps.append(RandomRotate(cfg.rotate_degrees, dims=dims, axes=axes, seed=cfg.seed))
    if cfg.scale > 0:
        steps.append(RandomScale(1 - cfg.scale, 1 + cfg.scale, dims=dims, seed=cfg.seed + 1))
    return Compose(steps) if steps else None


def _with_stream(transform: Compose | None, pipeline: Pipeline) -> Transform | None:
    """``transform`` followed by the pipeline's stream features (bones, motion)."""
    if pipeline.stream == "joint":
        return transform
    steps = list(transform.transforms) if transform is not None else []
    return Compose([*steps, pipeline.stream_transform()])


def _base(dataset: Dataset) -> Dataset:
    return dataset.dataset if isinstance(dataset, Subset) else dataset


def dataset_ids(dataset: Dataset) -> list[str]:
    """One id per item: the ids of a :class:`SampleDataset`, the file stems of a
    :class:`SkeletonDataset` with names, else positions (through a ``Subset``)."""
    base = _base(dataset)
    if isinstance(base, SampleDataset):
        ids = base.ids
    elif isinstance(base, SkeletonDataset) and base.names:
        ids = [Path(n).stem for n in base.names]
    else:
        ids = [str(i) for i in range(len(base))]
    if isinstance(dataset, Subset):
        return [ids[i] for i in dataset.indices]
    return list(ids)


def dataset_labels(dataset: Dataset) -> np.ndarray | None:
    """The labels of every item of a skelgraph dataset (through a ``Subset``), else None."""
    base = _base(dataset)
    if not isinstance(base, SampleDataset | SkeletonDataset):
        return None
    labels = np.asarray(base.labels)
    return labels[list(dataset.indices)] if isinstance(dataset, Subset) else labels


def check_labels(dataset: Dataset, num_classes: int, part: str) -> None:
    """Every label in 0..num_classes-1, or a SystemExit naming the first sample that is not."""
    labels = dataset_labels(dataset)
    if labels is None:
        return
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if len(bad):
        i = int(bad[0])
        label = int(labels[i])
        what = "has no label" if label < 0 else f"has label {label}"
        raise SystemExit(
            f"{part} sample {dataset_ids(dataset)[i]!r} {what}, outside the {num_classes} "
            f"classes 0..{num_classes - 1} of the model ({len(bad)} such sample(s)); "
            "set --num-classes or fix the labels"
        )


def reseed(transform: Any, seed: int) -> None:
    """Reseed every random step of a (composed) transform."""
    steps = transform.transforms if isinstance(transform, Compose) else [transform]
    for i, step in enumerate(steps):
        if hasattr(step, "reseed"):  # the random steps, clip sampling included
            step.reseed(seed * 1000 + i)


def _transform(dataset: Dataset) -> Any:
    base = _base(dataset)
    return base.transform if isinstance(base, SampleDataset | SkeletonDataset) else None


def reseed_dataset(dataset: Dataset, seed: int) -> None:
    """Reseed the augmentation of a skelgraph dataset (through a ``Subset``, or the
    ``ConcatDataset`` of ``--repeat``, whose parts share one transform)."""
    if isinstance(dataset, ConcatDataset):
        dataset = dataset.datasets[0]
    reseed(_transform(dataset), seed)


def worker_init(worker_id: int) -> None:
    """Give each data-loader worker its own augmentation draws."""
    info = torch.utils.data.get_worker_info()
    reseed_dataset(info.dataset, info.seed % 2**31)


def nucla_preprocess(cfg: TrainConfig) -> Compose:
    """The deterministic per-sequence preprocessing cached for N-UCLA."""
    return Compose(
        [
            PaperPreprocess("kinect-v1-20", length=None, rotate=cfg.align),
            ResampleFrames(cfg.frames),
        ]
    )


def _nucla_pipeline(cfg: TrainConfig) -> Pipeline:
    """N-UCLA's pipeline: the paper's (resampled, aligned with ``--align``) or CTR-GCN's."""
    ctrgcn = cfg.feeder == "ctrgcn"
    return Pipeline(
        "kinect-v1-20",
        3,
        stream=cfg.stream,
        frames=cfg.frames,
        sampling="ctrgcn" if ctrgcn else "resample",
        num_persons=1,
        rotate=cfg.align and not ctrgcn,
        normalize_2d=False,
    )


def _nucla(cfg: TrainConfig) -> TrainData:
    if not cfg.data_root:
        raise SystemExit("--dataset nw-ucla needs --data-root (the folder with all_sqe/)")
    folder = Path(cfg.data_root) / "all_sqe"
    try:
        files = sorted(folder.glob("*.json"))
    except OSError as error:  # a symlink loop, a folder without read permission
        raise SystemExit(f"--data-root {cfg.data_root}: {error.strerror or error}") from None
    if not files:
        raise SystemExit(f"no N-UCLA *.json files in {folder}")
    train_files, test_files = nucla_cross_view_split(files)
    if cfg.feeder == "ctrgcn":
        return _nucla_ctrgcn(cfg, _spread(train_files, cfg.subset), _spread(test_files, cfg.subset))
    cache = Path(cfg.cache_dir or Path(cfg.out) / "cache")
    tag = f"nw-ucla-T{cfg.frames}{'' if cfg.align else '-noalign'}"
    if cfg.subset is not None:
        tag += f"-subset{cfg.subset}"
    pipeline = _nucla_pipeline(cfg)
    transforms = {"train": _with_stream(augmentation(cfg), pipeline)}
    transforms["test"] = _with_stream(None, pipeline)
    parts = {}
    for name, files_ in (("train", train_files), ("test", test_files)):
        parts[name] = SkeletonDataset.from_files(
            _spread(files_, cfg.subset),
            read_nucla_json,
            preprocess=nucla_preprocess(cfg),
            cache_dir=cache / tag / name,
            transform=transforms[name],
        )
    return TrainData(parts["train"], parts["test"], pipeline)


def _nucla_ctrgcn(cfg: TrainConfig, train_files: list[str], test_files: list[str]) -> TrainData:
    """CTR-GCN's N-UCLA feeder: the sequences in memory (a few MB), every step per item."""
    pipeline = _nucla_pipeline(cfg)
    parts = {}
    for name, files_ in (("train", train_files), ("test", test_files)):
        train = name == "train"
        parts[name] = SampleDataset(
            [read_nucla_json(f) for f in files_],
            pipeline,
            train=train,
            augment=augmentation(cfg) if train else None,
            seed=cfg.seed,
            ids=[Path(f).stem for f in files_],
        )
    return TrainData(parts["train"], parts["test"], pipeline)


def _arrays(cfg: TrainConfig) -> TrainData:
    names = ("train_data", "train_labels", "test_data", "test_labels")
    missing = [f"--{n.replace('_', '-')}" for n in names if not getattr(cfg, n)]
    if missing:
        raise SystemExit("--dataset arrays needs " + ", ".join(missing))
    graph = graph_from_config(cfg.layout or PRESETS[cfg.preset]["graph"])
    train_set = SkeletonDataset.from_arrays(cfg.train_data, cfg.train_labels)
    test_set = SkeletonDataset.from_arrays(cfg.test_data, cfg.test_labels)
    c, _, v, m = train_set.data.shape[1:]
    if graph.num_nodes != v:
        raise SystemExit(
            f"the arrays have V = {v} joints, the graph {graph.name!r} "
            f"{graph.num_nodes}; pass --layout"
        )
    pipeline = Pipeline(
        graph_to_config(graph), c, stream=cfg.stream, sampling="none", num_persons=m
    )
    train_set.transform = _with_stream(augmentation(cfg), pipeline)
    test_set.transform = _with_stream(None, pipeline)
    if cfg.subset is None:
        return TrainData(train_set, test_set, pipeline)
    return TrainData(
        Subset(train_set, _spread(range(len(train_set)), cfg.subset)),
        Subset(test_set, _spread(range(len(test_set)), cfg.subset)),
        pipeline,
    )


def _pose_pickle(cfg: TrainConfig) -> TrainData:
    missing = [o for o in ("annotations", "train_split", "val_split") if not getattr(cfg, o)]
    if missing:
        raise SystemExit(
            "--dataset pose-pickle needs " + ", ".join(f"--{m.replace('_', '-')}" for m in missing)
        )
    graph = graph_from_config(cfg.layout) if cfg.layout else None
    try:
        train_samples = read_pose_pickle(cfg.annotations, cfg.train_split, layout=graph)
        val_samples = read_pose_pickle(cfg.annotations, cfg.val_split, layout=graph)
    except SkeletonFormatError as error:
        hint = " (give the layout with --layout)" if "pass layout=" in str(error) else ""
        raise SystemExit(f"{error}{hint}") from None
    if not train_samples or not val_samples:
        raise SystemExit(
            f"{cfg.annotations}: split {cfg.train_split!r} or {cfg.val_split!r} is empty"
        )
    first = train_samples[0]
    for sample in (*train_samples, *val_samples):
        if sample.shape[0] != first.shape[0] or sample.layout_name != first.layout_name:
            raise SystemExit(
                f"{cfg.annotations}: sample {sample.meta['frame_dir']!r} has C = "
                f"{sample.shape[0]}, layout {sample.layout_name!r}; the first has C = "
                f"{first.shape[0]}, layout {first.layout_name!r}"
            )
    graph = first.graph
    dims = 2 if tuple(first.meta.get("channels", ()))[2:3] != ("z",) else 3
    try:
        spec: PreprocessSpec | None = PreprocessSpec.for_layout(graph)
    except ValueError:
        spec = None  # a custom graph without preprocess joints: used as it comes
    if spec is not None and dims == 3 and cfg.align and None in (spec.z_axis, spec.x_axis):
        raise SystemExit(
            f"layout {graph.name!r} has no alignment joints (z_axis, x_axis in its "
            "preprocess) to rotate 3-D data with; pass --no-align or add them to the layout"
        )
    pipeline = Pipeline(
        graph_to_config(graph),
        first.shape[0],
        dims=dims,
        stream=cfg.stream,
        frames=cfg.frames,
        sampling="uniform",
        num_persons=cfg.persons or PRESETS[cfg.preset].get("num_persons", 2),
        rotate=cfg.align,
        preprocess=spec is not None,
    )
    augment = augmentation(cfg, dims=dims)
    try:
        train_set = SampleDataset(
            _spread(train_samples, cfg.subset), pipeline, train=True, augment=augment, seed=cfg.seed
        )
        test_set = SampleDataset(_spread(val_samples, cfg.subset), pipeline, train=False)
    except ValueError as error:  # a sample the pipeline cannot prepare (NaN, wrong shape)
        raise SystemExit(f"{cfg.annotations}: {error}") from None
    # The class count of the data, for the model: the largest label + 1 in the file.
    every = read_pose_pickle(cfg.annotations, layout=graph) if cfg.num_classes is None else []
    num_classes = 1 + max((s.label for s in every), default=-1)
    return TrainData(train_set, test_set, pipeline, num_classes)


BUILDERS: dict[str, Callable[[TrainConfig], TrainData]] = {
    "nw-ucla": _nucla,
    "arrays": _arrays,
    "pose-pickle": _pose_pickle,
}
"""The datasets of each ``--dataset`` choice."""


def build_datasets(cfg: TrainConfig) -> TrainData:
    """The train (augmented) and test datasets of the configured data, and its pipeline.

    Files that cannot be read or are not what they claim to be are a ``SystemExit``
    naming the file.
    """
    if cfg.dataset not in BUILDERS:
        raise SystemExit(f"unknown dataset {cfg.dataset!r}")
    try:
        return BUILDERS[cfg.dataset](cfg)
    except OSError as error:
        where = error.filename or cfg.data_root or cfg.annotations
        raise SystemExit(f"{where}: {error.strerror or error}") from None
    except (ValueError, SkeletonFormatError) as error:
        raise SystemExit(f"--dataset {cfg.dataset}: {error}") from None
