"""Train MS-G3D Net on skeleton data with the paper's recipe, on CPU, one GPU or many.

Recipe (Liu et al., CVPR 2020; the authors' configs): SGD with momentum 0.9 and Nesterov,
weight decay 5e-4 on every parameter, cross-entropy, learning rate 0.05 for a batch of 32
scaled linearly with the (global) batch size, ``lr = base_lr * batch_size / base_batch``,
×0.1 step decay at the milestones (by default at 60 % and 80 % of the epochs, i.e. epochs
30 and 40 of 50 as on NTU-60), no warm-up. Every option can come from the command line or
from a JSON file (``--config``, keys named like the options with ``_`` for ``-``; the
command line wins).

Data:

- ``--dataset nw-ucla --data-root DIR`` reads ``DIR/all_sqe/*.json`` with
  :func:`skelgraph.data.read_nucla_json`, splits it cross-view
  (:func:`skelgraph.data.nucla_cross_view_split`: train views 1, 2; test view 3) and
  preprocesses every sequence once: :func:`skelgraph.data.paper_preprocess` on the
  ``kinect-v1-20`` layout without padding (replay-fill empty frames, centre on joint 1, the
  spine, and, with ``--align`` (default), rotate so that the first frame's hip→spine vector
  points along +z and its left→right shoulder vector along +x), then
  :func:`skelgraph.data.resample_frames` to ``--frames`` frames (linear). The result is
  cached as memory-mapped ``.npy`` files in ``--cache-dir`` (default ``OUT/cache``).
  Training items are augmented on the fly: a random rotation (±``--rotate-degrees`` about
  each axis) and scaling (factor in 1 ± ``--scale``); test items are not.
- ``--dataset arrays --train-data X.npy --train-labels y.npy --test-data ... --test-labels
  ...``: arrays (N, C, T, V, M) already preprocessed (e.g. the authors' NTU or Kinetics
  ``*_data_joint.npy``), memory-mapped; set ``--rotate-degrees 0 --scale 0`` to turn the
  augmentation off (it assumes x, y, z channels).
- ``--dataset pose-pickle --annotations FILE --train-split NAME --val-split NAME``: a
  pyskl / mmaction2 annotation pickle (:func:`skelgraph.data.read_pose_pickle`), any
  layout it holds (inferred from the joint count, or ``--layout``). Every sequence is
  preprocessed once in memory (:class:`examples.msg3d.pipeline.Pipeline`: 2-D pixel
  coordinates normalised by ``img_shape``, the paper's centring and, for 3-D data with
  ``--align``, rotation on the layout's joints), then each item is a clip of
  ``--frames`` frames drawn as pyskl's ``UniformSampleFrames`` does (random when
  training, the fixed test clips for validation), with ``--persons`` persons.

The graph, the input channels and persons, and the class count come from the data
(``--num-classes``, or the number of ``--class-names``, or for pose pickles the largest
label + 1, else the preset's); ``--layout NAME_OR_FILE.json`` sets the graph
(:meth:`skelgraph.SkeletonGraph.from_json` for a file), ``--model-args JSON`` overrides
any other :class:`~examples.msg3d.model.MSG3DNet` argument, ``--stream`` picks the input
stream (joint, bone, joint-motion, bone-motion). Every label is checked against the class
count before training starts.

Outputs in ``--out``: ``last.pt`` and ``best.pt`` (model, optimizer, scheduler, epoch,
and what ``predict.py`` needs: ``model_config`` (preset and overrides, the graph as a
layout name or its edges), ``layout``, ``pipeline`` (preprocessing, stream, clip length),
``class_names``; load with ``torch.load(..., weights_only=True)``), ``metrics.json``
(per-epoch losses, top-1, top-5 and mean class accuracy on the test split),
``curves.png``, and, for the best epoch, ``val_scores.npz`` (``ids``, ``labels``,
``logits`` of every validation sample, for ``fuse.py``) and ``confusion.png``.
``--tensorboard DIR`` also logs the curves for TensorBoard (needs the ``tensorboard``
package). ``--resume`` continues from ``OUT/last.pt`` (or a given checkpoint).

From Python, ``train(cfg, model=..., datasets=(train_set, test_set))`` trains any model
on any pair of datasets of ``(tensor (C, T, V, M), label)`` items with the same recipe
(``cfg = parse_args([...])`` or :class:`TrainConfig` ``(...)``); such a checkpoint has no
``model_config`` unless the model was built here.

Usage::

    python -m examples.msg3d.train --dataset nw-ucla --data-root ../shared/fixtures/nw-ucla \\
        --out runs/nucla
    torchrun --nproc-per-node 4 -m examples.msg3d.train ...   # DistributedDataParallel

Under ``torchrun`` every process gets ``batch_size / world_size`` samples per step (so the
global batch and hence the learning rate do not change with the number of processes), the
backend is NCCL on GPUs and gloo on CPU, and only rank 0 writes logs and checkpoints.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from examples.msg3d.model import PRESETS, MSG3DNet
from examples.msg3d.pipeline import (
    STREAMS,
    Pipeline,
    SampleDataset,
    graph_from_config,
    graph_to_config,
)
from skelgraph.data import (
    Compose,
    PaperPreprocess,
    PreprocessSpec,
    RandomRotate,
    RandomScale,
    ResampleFrames,
    SkeletonDataset,
    SkeletonFormatError,
    nucla_cross_view_split,
    read_nucla_json,
    read_pose_pickle,
)

__all__ = [
    "TrainConfig",
    "Trainer",
    "build_datasets",
    "build_model",
    "check_labels",
    "evaluate",
    "main",
    "parse_args",
    "plot_curves",
    "scaled_lr",
    "train",
]

BASE_BATCH = 32
"""The batch size that ``--lr`` (0.05, the authors' NTU rate) is quoted for."""


@dataclass
class TrainConfig:
    """Every setting of a run; the command-line options, ``-`` written ``_``."""

    # data
    dataset: str = "nw-ucla"
    data_root: str | None = None
    train_data: str | None = None
    train_labels: str | None = None
    test_data: str | None = None
    test_labels: str | None = None
    annotations: str | None = None
    train_split: str | None = None
    val_split: str | None = None
    layout: str | None = None
    stream: str = "joint"
    persons: int | None = None
    cache_dir: str | None = None
    frames: int = 32
    align: bool = True
    rotate_degrees: float = 10.0
    scale: float = 0.1
    subset: int | None = None
    # model
    preset: str = "nw-ucla-small"
    aggregation: str = "disentangled"
    num_classes: int | None = None
    class_names: str | None = None
    model_args: dict[str, Any] | None = None
    # recipe
    epochs: int = 50
    amp: str = "off"
    checkpoint: bool = False
    batch_size: int = 32
    forward_batch_size: int | None = None
    test_batch_size: int = 64
    lr: float = 0.05
    base_batch: int = BASE_BATCH
    scale_lr: bool = True
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    milestones: list[int] | None = None
    gamma: float = 0.1
    # run
    out: str = "runs/msg3d"
    resume: str | None = None
    override_resumed: bool = False
    seed: int = 0
    threads: int | None = None
    workers: int = 0
    device: str = "auto"
    tensorboard: str | None = None
    quiet: bool = False

    def validate(self) -> None:
        """Raise ``SystemExit`` naming the first option out of its range (a NaN rate,
        zero epochs, ... would otherwise train to NaN or silently do nothing)."""
        counts = ("epochs", "batch_size", "forward_batch_size", "test_batch_size", "frames")
        for name in (*counts, "base_batch"):
            value = getattr(self, name)  # forward_batch_size may be None: whole batches
            if value is not None and value < 1:
                raise SystemExit(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        ranges = {
            "lr": (lambda v: v > 0, "> 0"),
            "gamma": (lambda v: 0 < v <= 1, "in (0, 1]"),
            "momentum": (lambda v: 0 <= v <= 1, "in [0, 1]"),
            "weight_decay": (lambda v: v >= 0, ">= 0"),
        }
        for name, (valid, bound) in ranges.items():
            value = float(getattr(self, name))
            if not (math.isfinite(value) and valid(value)):
                raise SystemExit(
                    f"--{name.replace('_', '-')} must be finite and {bound}, got {value}"
                )
        if self.amp not in AMP_DTYPES:
            raise SystemExit(f"--amp must be one of {', '.join(AMP_DTYPES)}, got {self.amp!r}")
        if self.workers < 0:
            raise SystemExit(f"--workers must be >= 0, got {self.workers}")

    def effective_lr(self) -> float:
        """The learning rate used: scaled linearly with the batch size unless disabled."""
        return scaled_lr(self.lr, self.batch_size, self.base_batch) if self.scale_lr else self.lr

    def effective_milestones(self) -> list[int]:
        """The epochs after which the rate drops; default 60 % and 80 % of ``epochs``."""
        if self.milestones is not None:
            return sorted(int(m) for m in self.milestones)
        return sorted({max(1, round(0.6 * self.epochs)), max(1, round(0.8 * self.epochs))})


# --amp: autocast's dtype for the forward pass (parameters and their updates stay float32).
AMP_DTYPES = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, amp: str) -> torch.autocast:
    """The forward pass's autocast context for ``--amp`` (disabled for ``"off"``)."""
    dtype = AMP_DTYPES[amp]
    return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)


# Settings that change where and how a run executes, not what it trains: free on resume.
RUN_ONLY = frozenset(
    {"out", "resume", "override_resumed", "threads", "workers", "device", "tensorboard",
     "quiet", "cache_dir", "checkpoint"}
)  # fmt: skip


def resumed_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(setting, checkpoint's value, this run's value) for every training setting that
    differs between a checkpoint's config and this run's."""
    keys = sorted((set(saved) | set(current)) - RUN_ONLY)
    return [(k, saved.get(k), current.get(k)) for k in keys if saved.get(k) != current.get(k)]


def scaled_lr(base_lr: float, batch_size: int, base_batch: int = BASE_BATCH) -> float:
    """Linear scaling rule: ``base_lr * batch_size / base_batch``.

    >>> scaled_lr(0.05, 64)
    0.1
    """
    return base_lr * batch_size / base_batch


# --------------------------------------------------------------------------- command line
def build_parser() -> argparse.ArgumentParser:
    """The argument parser; defaults come from :class:`TrainConfig`."""
    d = TrainConfig()
    p = argparse.ArgumentParser(
        description="Train MS-G3D Net (examples/msg3d/model.py) with the paper's recipe.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--config", help="JSON file of option values (command line overrides it)")
    g = p.add_argument_group("data")
    g.add_argument("--dataset", choices=("nw-ucla", "arrays", "pose-pickle"), default=d.dataset)
    g.add_argument("--data-root", help="N-UCLA folder containing all_sqe/")
    for part in ("train", "test"):
        g.add_argument(f"--{part}-data", help=f"{part} array (N, C, T, V, M) .npy")
        g.add_argument(f"--{part}-labels", help=f"{part} labels (N,) .npy")
    g.add_argument("--annotations", help="pose pickle (pyskl / mmaction2 annotation file)")
    g.add_argument("--train-split", help="pose pickle: split to train on (e.g. xsub_train)")
    g.add_argument("--val-split", help="pose pickle: split to validate on (e.g. xsub_val)")
    g.add_argument(
        "--layout", help="graph: a layout name or a layout JSON file (default: the data's)"
    )
    g.add_argument("--stream", choices=STREAMS, default=d.stream, help="input stream")
    g.add_argument("--persons", type=int, help="pose pickle: persons M (default the preset's)")
    g.add_argument("--cache-dir", help="preprocessed-data cache (default OUT/cache)")
    g.add_argument("--frames", type=int, default=d.frames, help="N-UCLA: frames per sequence")
    g.add_argument(
        "--align",
        action=argparse.BooleanOptionalAction,
        default=d.align,
        help="N-UCLA: rotate each sequence to the spine/shoulder axes of its first frame",
    )
    g.add_argument("--rotate-degrees", type=float, default=d.rotate_degrees)
    g.add_argument("--scale", type=float, default=d.scale, help="random scale 1 ± this")
    g.add_argument("--subset", type=int, help="keep N evenly spaced items of each split")
    g = p.add_argument_group("model")
    g.add_argument("--preset", choices=sorted(PRESETS), default=d.preset)
    g.add_argument("--aggregation", choices=("disentangled", "powering"), default=d.aggregation)
    g.add_argument("--num-classes", type=int, help="default: from the data or the preset")
    g.add_argument("--class-names", help="text file, one class name per line")
    g.add_argument(
        "--model-args",
        type=json.loads,
        help="JSON object of MSG3DNet arguments, e.g. '{\"channels\": [16, 32, 64]}'",
    )
    g = p.add_argument_group("recipe")
    g.add_argument("--epochs", type=int, default=d.epochs)
    g.add_argument(
        "--amp", choices=list(AMP_DTYPES), default=d.amp,
        help="mixed precision: the forward pass under autocast in bfloat16 or float16 "
        "(float16 with loss scaling); parameters stay float32",
    )  # fmt: skip
    g.add_argument(
        "--checkpoint", action=argparse.BooleanOptionalAction, default=d.checkpoint,
        help="activation checkpointing: every block's activations recomputed in the "
        "backward instead of kept (less memory, a second forward per step; same numbers)",
    )  # fmt: skip
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="global batch")
    g.add_argument(
        "--forward-batch-size", type=int, help="split each batch (gradient accumulation)"
    )
    g.add_argument("--test-batch-size", type=int, default=d.test_batch_size)
    g.add_argument("--lr", type=float, default=d.lr, help="rate for a batch of --base-batch")
    g.add_argument("--base-batch", type=int, default=d.base_batch)
    g.add_argument(
        "--scale-lr",
        action=argparse.BooleanOptionalAction,
        default=d.scale_lr,
        help="lr * batch_size / base_batch",
    )
    g.add_argument("--momentum", type=float, default=d.momentum)
    g.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=d.nesterov)
    g.add_argument("--weight-decay", type=float, default=d.weight_decay)
    g.add_argument(
        "--milestones", type=int, nargs="+", help="epochs of ×gamma (default 60%%, 80%%)"
    )
    g.add_argument("--gamma", type=float, default=d.gamma)
    g = p.add_argument_group("run")
    g.add_argument("--out", default=d.out, help="output folder")
    g.add_argument(
        "--resume", nargs="?", const="last", help="checkpoint to resume (default OUT/last.pt)"
    )
    g.add_argument(
        "--override-resumed",
        action="store_true",
        help="with --resume: train on with this command's settings where they differ from "
        "the checkpoint's (default: refuse)",
    )
    g.add_argument("--seed", type=int, default=d.seed)
    g.add_argument("--threads", type=int, help="torch.set_num_threads")
    g.add_argument("--workers", type=int, default=d.workers, help="DataLoader workers")
    g.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:1, ...")
    g.add_argument("--tensorboard", help="also log to this TensorBoard folder")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """A :class:`TrainConfig` from command-line arguments (and ``--config``)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    first, _ = parser.parse_known_args(argv)
    if first.config:
        values = json.loads(Path(first.config).read_text())
        known = {f.name for f in dataclasses.fields(TrainConfig)}
        unknown = set(values) - known
        if unknown:
            parser.error(f"{first.config}: unknown keys {sorted(unknown)}")
        parser.set_defaults(**values)
    args = vars(parser.parse_args(argv))
    args.pop("config")
    return TrainConfig(**args)


# --------------------------------------------------------------------------- data
def _spread(items: Sequence[Any], n: int | None) -> list[Any]:
    """``n`` evenly spaced items (all when ``n`` is None or large)."""
    if n is None or n >= len(items):
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, n).round().astype(int)]


def augmentation(cfg: TrainConfig, dims: int = 3) -> Callable[[np.ndarray], np.ndarray] | None:
    """The training-time transform: random rotation and scaling (None if both are off)."""
    steps: list[Any] = []
    if cfg.rotate_degrees > 0:
        steps.append(RandomRotate(cfg.rotate_degrees, dims=dims, seed=cfg.seed))
    if cfg.scale > 0:
        steps.append(RandomScale(1 - cfg.scale, 1 + cfg.scale, dims=dims, seed=cfg.seed + 1))
    return Compose(steps) if steps else None


def _with_stream(
    transform: Callable[[np.ndarray], np.ndarray] | None, pipeline: Pipeline
) -> Callable[[np.ndarray], np.ndarray] | None:
    """``transform`` followed by the pipeline's stream features (bones, motion)."""
    if pipeline.stream == "joint":
        return transform
    steps = list(getattr(transform, "transforms", [transform])) if transform else []
    return Compose([*steps, pipeline.stream_transform()])


def _base(dataset: Dataset) -> Dataset:
    return dataset.dataset if isinstance(dataset, Subset) else dataset


def dataset_ids(dataset: Dataset) -> list[str]:
    """One id per item: ``ids`` of the dataset (or its base, for a Subset), else positions."""
    base = _base(dataset)
    ids = getattr(base, "ids", None)
    if ids is None:
        names = getattr(base, "names", None)
        ids = [Path(n).stem for n in names] if names else [str(i) for i in range(len(base))]
    if isinstance(dataset, Subset):
        return [ids[i] for i in dataset.indices]
    return list(ids)


def dataset_labels(dataset: Dataset) -> np.ndarray | None:
    """The labels of every item, where the dataset keeps them (``labels``), else None."""
    labels = getattr(_base(dataset), "labels", None)
    if labels is None:
        return None
    labels = np.asarray(labels)
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
    for i, step in enumerate(getattr(transform, "transforms", [transform])):
        if hasattr(step, "reseed"):
            step.reseed(seed * 1000 + i)


def _worker_init(worker_id: int) -> None:
    """Give each data-loader worker its own augmentation draws."""
    info = torch.utils.data.get_worker_info()
    base = info.dataset.dataset if isinstance(info.dataset, Subset) else info.dataset
    reseed(getattr(base, "transform", None), info.seed % 2**31)


def nucla_preprocess(cfg: TrainConfig) -> Compose:
    """The deterministic per-sequence preprocessing cached for N-UCLA."""
    return Compose(
        [
            PaperPreprocess("kinect-v1-20", length=None, rotate=cfg.align),
            ResampleFrames(cfg.frames),
        ]
    )


def build_datasets(cfg: TrainConfig) -> tuple[Dataset, Dataset]:
    """Train (augmented) and test :class:`SkeletonDataset` of the configured data."""
    if cfg.dataset == "nw-ucla":
        if not cfg.data_root:
            raise SystemExit("--dataset nw-ucla needs --data-root (the folder with all_sqe/)")
        folder = Path(cfg.data_root) / "all_sqe"
        files = sorted(folder.glob("*.json"))
        if not files:
            raise SystemExit(f"no N-UCLA *.json files in {folder}")
        train_files, test_files = nucla_cross_view_split(files)
        train_files, test_files = _spread(train_files, cfg.subset), _spread(test_files, cfg.subset)
        cache = Path(cfg.cache_dir or Path(cfg.out) / "cache")
        tag = f"nw-ucla-T{cfg.frames}{'' if cfg.align else '-noalign'}"
        if cfg.subset is not None:
            tag += f"-subset{cfg.subset}"
        pre = nucla_preprocess(cfg)
        parts = []
        for name, files_ in (("train", train_files), ("test", test_files)):
            parts.append(
                SkeletonDataset.from_files(
                    files_, read_nucla_json, preprocess=pre, cache_dir=cache / tag / name
                )
            )
        train_set, test_set = parts
        pipeline = Pipeline(
            "kinect-v1-20",
            3,
            stream=cfg.stream,
            frames=cfg.frames,
            sampling="resample",
            num_persons=1,
            rotate=cfg.align,
            normalize_2d=False,
        )
    elif cfg.dataset == "pose-pickle":
        return _pose_pickle_datasets(cfg)
    elif cfg.dataset == "arrays":
        missing = [
            o
            for o in ("train_data", "train_labels", "test_data", "test_labels")
            if not getattr(cfg, o)
        ]
        if missing:
            raise SystemExit("--dataset arrays needs " + ", ".join(f"--{m}" for m in missing))
        train_set = SkeletonDataset.from_arrays(cfg.train_data, cfg.train_labels)
        test_set = SkeletonDataset.from_arrays(cfg.test_data, cfg.test_labels)
        c, _, v, m = train_set.data.shape[1:]
        graph = graph_from_config(cfg.layout or PRESETS[cfg.preset]["graph"])
        if graph.num_nodes != v:
            raise SystemExit(
                f"the arrays have V = {v} joints, the graph {graph.name!r} "
                f"{graph.num_nodes}; pass --layout"
            )
        pipeline = Pipeline(
            graph_to_config(graph), c, stream=cfg.stream, sampling="none", num_persons=m
        )
        if cfg.subset is not None:
            train_set = Subset(train_set, _spread(range(len(train_set)), cfg.subset))
            test_set = Subset(test_set, _spread(range(len(test_set)), cfg.subset))
    else:
        raise SystemExit(f"unknown dataset {cfg.dataset!r}")
    for part in (train_set, test_set):
        _base(part).pipeline = pipeline
    _base(train_set).transform = _with_stream(augmentation(cfg), pipeline)
    _base(test_set).transform = _with_stream(None, pipeline)
    return train_set, test_set


def _pose_pickle_datasets(cfg: TrainConfig) -> tuple[Dataset, Dataset]:
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
    channels = first.shape[0]
    dims = 2 if tuple(first.meta.get("channels", ()))[2:3] != ("z",) else 3
    try:
        PreprocessSpec.for_layout(graph)
        preprocess = True
    except ValueError:
        preprocess = False  # a custom graph without preprocess joints: used as it comes
    pipeline = Pipeline(
        graph_to_config(graph),
        channels,
        dims=dims,
        stream=cfg.stream,
        frames=cfg.frames,
        sampling="uniform",
        num_persons=cfg.persons or PRESETS[cfg.preset].get("num_persons", 2),
        rotate=cfg.align,
        preprocess=preprocess,
    )
    train_samples = _spread(train_samples, cfg.subset)
    val_samples = _spread(val_samples, cfg.subset)
    train_set = SampleDataset(
        train_samples,
        pipeline,
        train=True,
        augment=augmentation(cfg, dims=dims),
        seed=cfg.seed,
    )
    test_set = SampleDataset(val_samples, pipeline, train=False)
    # The class count of the data, for the model: the largest label + 1 in the file.
    every = read_pose_pickle(cfg.annotations, layout=graph) if cfg.num_classes is None else []
    train_set.data_num_classes = 1 + max((s.label for s in every), default=-1)
    return train_set, test_set


def build_model(cfg: TrainConfig, overrides: dict[str, Any] | None = None) -> nn.Module:
    """MS-G3D Net of the configured preset (and aggregation), with ``overrides`` (the graph
    as a layout name, a layout file or a :meth:`~skelgraph.SkeletonGraph.to_dict`)."""
    kwargs = {"aggregation": cfg.aggregation, "checkpoint": cfg.checkpoint, **(overrides or {})}
    if "graph" in kwargs:
        kwargs["graph"] = graph_from_config(kwargs["graph"])
    if "windows" in kwargs:
        kwargs["windows"] = tuple(tuple(w) for w in kwargs["windows"])
    return MSG3DNet.from_preset(cfg.preset, **kwargs)


def read_class_names(path: str | os.PathLike[str]) -> list[str]:
    """One class name per non-empty line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise SystemExit(f"--class-names: cannot read {path}: {error}") from None
    return [line.strip() for line in lines if line.strip()]


def model_overrides(
    cfg: TrainConfig, datasets: tuple[Dataset, Dataset], class_names: list[str] | None
) -> dict[str, Any]:
    """The MSG3DNet arguments that come from the data and the options, beyond the preset.

    The graph, input channels and persons of the datasets' pipeline (where they differ
    from the preset's), the class count (``--num-classes``, else the number of
    ``--class-names``, else the data's for pose pickles), and ``--model-args``.
    """
    preset = {"num_persons": 2, "in_channels": 3, **PRESETS[cfg.preset]}
    out: dict[str, Any] = {}
    pipeline = getattr(_base(datasets[1]), "pipeline", None)
    if pipeline is not None:
        graph = pipeline.graph
        if graph_from_config(preset["graph"]) != graph or cfg.layout:
            out["graph"] = pipeline.layout
        for key, value in (
            ("in_channels", pipeline.channels),
            ("num_persons", pipeline.num_persons),
        ):
            if preset[key] != value:
                out[key] = value
    num_classes = cfg.num_classes
    if num_classes is None and class_names is not None:
        num_classes = len(class_names)
    if num_classes is None:
        num_classes = getattr(_base(datasets[0]), "data_num_classes", None)
    if num_classes is not None and num_classes != preset["num_classes"]:
        out["num_classes"] = int(num_classes)
    out.update(cfg.model_args or {})
    return out


# --------------------------------------------------------------------------- helpers
def _tqdm(enabled: bool) -> Callable[..., Any]:
    """``tqdm.tqdm``, or a pass-through when bars are off; tqdm is imported lazily."""
    if not enabled:
        return lambda iterable=None, **_: _NoBar(iterable)
    try:
        from tqdm.auto import tqdm
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise SystemExit(
            "progress bars need tqdm: pip install tqdm (or pass --quiet to run without)"
        ) from error
    return tqdm


class _NoBar:
    def __init__(self, iterable: Any = None) -> None:
        self.iterable = iterable

    def __iter__(self) -> Any:
        return iter(self.iterable)

    def set_postfix(self, *_: Any, **__: Any) -> None:
        pass

    def update(self, *_: Any) -> None:
        pass

    def close(self) -> None:
        pass


def set_seed(seed: int) -> None:
    """Seed Python, NumPy's global state and torch (augmentation has its own Generators)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - for code that uses the global state
    torch.manual_seed(seed)


def _world() -> tuple[int, int, int]:
    """(rank, world size, local rank) under torchrun, else (0, 1, 0)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
    return 0, 1, 0


def _device(cfg: TrainConfig, local_rank: int) -> torch.device:
    if cfg.device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        return torch.device("cpu")
    device = torch.device(cfg.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def plot_confusion_matrix(matrix: np.ndarray, names: list[str] | None) -> Any:
    """:func:`skelgraph.metrics.plot_confusion_matrix`, annotated for up to 20 classes."""
    return _metrics_module().plot_confusion_matrix(matrix, names)


def _all_sum(values: list[float], device: torch.device) -> list[float]:
    if not (dist.is_available() and dist.is_initialized()):
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- train / test
def _metrics_module() -> Any:
    try:
        from skelgraph import metrics
    except ImportError as error:
        raise SystemExit(
            "train.py measures accuracy with skelgraph.metrics, which needs torchmetrics: "
            "pip install 'skelgraph[train]'"
        ) from error
    return metrics


def _score_collector() -> Any:
    """A torchmetrics Metric gathering (index, label, logits) rows from every process."""
    from torchmetrics import Metric

    class ScoreCollector(Metric):
        full_state_update = False

        def __init__(self) -> None:
            super().__init__()
            for name in ("index", "label", "logits"):
                self.add_state(name, default=[], dist_reduce_fx="cat")

        def update(self, index: torch.Tensor, label: torch.Tensor, logits: torch.Tensor) -> None:
            self.index.append(index)
            self.label.append(label)
            self.logits.append(logits)

        def compute(self) -> dict[str, torch.Tensor]:
            def cat(state: Any) -> torch.Tensor:
                return torch.cat(state) if isinstance(state, list) else state

            return {n: cat(getattr(self, n)) for n in ("index", "label", "logits")}

    return ScoreCollector()


def evaluate(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    *,
    progress: Callable[..., Any] | None = None,
    num_classes: int | None = None,
    scores: bool = False,
    amp: str = "off",
) -> dict[str, Any]:
    """Loss, top-1, top-5 and mean class accuracy (fractions) over a loader, and the
    confusion matrix, over every process (:class:`skelgraph.metrics.ClassificationMetrics`).

    With ``scores`` also ``"scores"``: ``(index, label, logits)`` NumPy arrays of every
    item of every process, in dataset order (the loader's sampler gives the indices).
    """
    metrics = _metrics_module()
    model.eval()
    loss_sum, count = 0.0, 0.0
    order = list(loader.sampler) if loader.sampler is not None else None
    metric, collector, seen = None, _score_collector() if scores else None, 0
    if num_classes is not None:
        metric = metrics.ClassificationMetrics(num_classes).to(device)
    if collector is not None:
        collector = collector.to(device)
    bar = (progress or _tqdm(False))(loader, desc="test", leave=False)
    with torch.no_grad():
        for x, y in bar:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast(device, amp):
                logits = model(x).float()
            if metric is None:
                metric = metrics.ClassificationMetrics(logits.shape[1]).to(device)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            metric.update(logits, y)
            if collector is not None:
                index = torch.as_tensor(order[seen : seen + len(y)], device=device)
                collector.update(index, y, logits.float())
            seen += len(y)
            count += len(y)
    if metric is None:
        raise SystemExit("evaluate: an empty loader and no num_classes")
    loss_sum, count = _all_sum([loss_sum, count], device)
    result = metric.compute()
    out: dict[str, Any] = {
        "loss": loss_sum / max(count, 1.0),
        "top1": float(result["top1"]),
        "top5": float(result["top5"]),
        "mean_class_accuracy": float(result["mean_class_accuracy"]),
        "confusion_matrix": result["confusion_matrix"].cpu().numpy(),
    }
    if collector is not None:
        got = collector.compute() if seen or _world()[1] > 1 else None
        if got is None or not len(got["index"]):
            k = metric.num_classes
            out["scores"] = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, k)))
        else:
            arrays = [got[n].cpu().numpy() for n in ("index", "label", "logits")]
            perm = np.argsort(arrays[0], kind="stable")
            out["scores"] = tuple(a[perm] for a in arrays)
    return out


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    *,
    forward_batch_size: int | None = None,
    progress: Callable[..., Any] | None = None,
    desc: str = "train",
    amp: str = "off",
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """One pass over ``loader``; one optimizer step per batch (chunks accumulate).

    ``amp``: the forward pass under autocast (the loss in float32); ``scaler``: a
    ``GradScaler`` for float16, whose scaled loss keeps small gradients from underflowing.
    """
    model.train()
    loss_sum, correct, count = 0.0, 0.0, 0.0
    bar = (progress or _tqdm(False))(loader, desc=desc, leave=False)
    for x, y in bar:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        chunk = forward_batch_size or len(y)
        for xs, ys in zip(x.split(chunk), y.split(chunk)):
            with autocast(device, amp):
                logits = model(xs).float()
            loss = F.cross_entropy(logits, ys)
            part = loss * len(ys) / len(y)
            (scaler.scale(part) if scaler is not None else part).backward()
            loss_sum += float(loss.detach()) * len(ys)
            correct += float((logits.argmax(1) == ys).sum())
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        count += len(y)
        bar.set_postfix(loss=f"{loss_sum / count:.3f}", acc=f"{correct / count:.3f}")
    loss_sum, correct, count = _all_sum([loss_sum, correct, count], device)
    count = max(count, 1.0)
    return {"loss": loss_sum / count, "top1": correct / count}


def plot_curves(history: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Loss and accuracy per epoch (train and test) as a PNG (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["test_loss"] for h in history], "s-", label="test")
    ax1.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax2.plot(epochs, [100 * h["train_top1"] for h in history], "o-", label="train top-1")
    ax2.plot(epochs, [100 * h["test_top1"] for h in history], "s-", label="test top-1")
    ax2.plot(epochs, [100 * h["test_top5"] for h in history], "^--", label="test top-5")
    ax2.set(xlabel="epoch", ylabel="%", title="accuracy", ylim=(0, 100))
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class Trainer:
    """One training run: model, data, SGD + MultiStepLR, checkpoints and logs.

    Parameters
    ----------
    cfg : TrainConfig
    model : nn.Module, optional
        Default :func:`build_model` ``(cfg)``; benchmarks pass their own.
    datasets : (train, test), optional
        Default :func:`build_datasets` ``(cfg)``.
    write_outputs : bool
        Write checkpoints, ``metrics.json`` and the plot (on rank 0).
    """

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        model: nn.Module | None = None,
        datasets: tuple[Dataset, Dataset] | None = None,
        write_outputs: bool = True,
    ) -> None:
        cfg.validate()
        self.cfg = cfg
        self.rank, self.world, local_rank = _world()
        self.device = _device(cfg, local_rank)
        self.out = Path(cfg.out)
        self.write = write_outputs and self.rank == 0
        if self.write:
            self.out.mkdir(parents=True, exist_ok=True)
            for stale in self.out.glob("*.tmp"):  # left by a run killed while saving
                stale.unlink()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        set_seed(cfg.seed)
        if datasets is None:
            datasets = self._datasets()
        self.train_set, self.test_set = datasets
        self.pipeline: Pipeline | None = getattr(_base(self.test_set), "pipeline", None)
        self.class_names = read_class_names(cfg.class_names) if cfg.class_names else None
        self.model_config: dict[str, Any] | None = None
        if model is None:
            overrides = model_overrides(cfg, datasets, self.class_names)
            self.model_config = {
                "preset": cfg.preset,
                "overrides": {"aggregation": cfg.aggregation, **overrides},
            }
            model = build_model(cfg, overrides)
        self.model = model.to(self.device)
        fc = getattr(self.model, "fc", None)
        self.num_classes: int | None = getattr(fc, "out_features", cfg.num_classes)
        if self.num_classes is not None:
            if self.class_names is not None and len(self.class_names) != self.num_classes:
                raise SystemExit(
                    f"--class-names {cfg.class_names}: {len(self.class_names)} names for "
                    f"{self.num_classes} classes"
                )
            check_labels(self.train_set, self.num_classes, "training")
            check_labels(self.test_set, self.num_classes, "validation")
        self.net: nn.Module = self.model
        if self.world > 1:
            self.net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if cfg.batch_size % self.world:
            raise SystemExit(f"--batch-size {cfg.batch_size} not divisible by {self.world}")
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=cfg.effective_lr(),
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
        )
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, cfg.effective_milestones(), gamma=cfg.gamma
        )
        # float16 gradients underflow without loss scaling; bfloat16 has float32's range.
        self.scaler = torch.amp.GradScaler(self.device.type) if cfg.amp == "fp16" else None
        self.start_epoch, self.best_top1, self.history = 0, -1.0, []
        if cfg.resume:
            self.load(self.out / "last.pt" if cfg.resume == "last" else Path(cfg.resume))
        self.bars = not cfg.quiet and self.rank == 0 and sys.stderr.isatty()
        self.writer = None
        if cfg.tensorboard and self.write:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise SystemExit(
                    "--tensorboard needs the tensorboard package (pip install tensorboard); "
                    "metrics.json and curves.png are written without it"
                ) from None
            self.writer = SummaryWriter(cfg.tensorboard)

    def _datasets(self) -> tuple[Dataset, Dataset]:
        if self.world > 1 and self.cfg.dataset == "nw-ucla":
            # Rank 0 builds the cache, the others then memory-map it.
            if self.rank == 0:
                build_datasets(self.cfg)
            dist.barrier()
        return build_datasets(self.cfg)

    # ------------------------------------------------------------------ loaders
    def _loader(self, dataset: Dataset, *, train: bool, epoch: int) -> DataLoader:
        cfg = self.cfg
        if train:
            batch = cfg.batch_size // self.world
            if self.world > 1:
                sampler: Any = torch.utils.data.DistributedSampler(
                    dataset, self.world, self.rank, shuffle=True, seed=cfg.seed
                )
                sampler.set_epoch(epoch)
            else:
                generator = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
                sampler = torch.utils.data.RandomSampler(dataset, generator=generator)
            # Augmentation draws depend on (seed, rank, epoch): a resumed run repeats them.
            base = dataset.dataset if isinstance(dataset, Subset) else dataset
            reseed(getattr(base, "transform", None), (cfg.seed * 1009 + epoch) * 64 + self.rank)
        else:
            batch = cfg.test_batch_size
            # Each process tests a disjoint slice: exact counts, no padding duplicates.
            sampler = list(range(self.rank, len(dataset), self.world))
        return DataLoader(
            dataset,
            batch_size=batch,
            sampler=sampler,
            num_workers=cfg.workers,
            worker_init_fn=_worker_init if train and cfg.workers else None,
            drop_last=False,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    # ------------------------------------------------------------------ checkpoints
    def state(self, epoch: int) -> dict[str, Any]:
        """What ``last.pt`` / ``best.pt`` hold: plain tensors, numbers, strings, lists."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "epoch": epoch,
            "best_top1": self.best_top1,
            "history": self.history,
            "config": _to_jsonable(dataclasses.asdict(self.cfg)),
            # What predict.py needs (plain data: weights_only=True loads it).
            "model_config": _to_jsonable(self.model_config),
            "layout": None if self.pipeline is None else _to_jsonable(self.pipeline.layout),
            "pipeline": None if self.pipeline is None else _to_jsonable(self.pipeline.to_dict()),
            "stream": self.cfg.stream,
            "clip_len": self.cfg.frames,
            "num_classes": self.num_classes,
            "class_names": self.class_names,
        }

    def load(self, path: Path) -> None:
        """Restore model, optimizer, scheduler and history from a checkpoint."""
        if not path.is_file():
            raise SystemExit(f"--resume: no checkpoint {path}")
        ckpt = torch.load(path, map_location=self.device, weights_only=True)
        changed = resumed_changes(
            ckpt.get("config", {}), _to_jsonable(dataclasses.asdict(self.cfg))
        )
        if changed and not self.cfg.override_resumed:
            raise SystemExit(
                f"--resume: these settings differ from {path}'s: "
                + "; ".join(f"{k} {old!r} -> {new!r}" for k, old, new in changed)
                + " (keep them, or pass --override-resumed to train on with the new ones)"
            )
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.scaler is not None and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        if changed:  # the schedule of the settings that now run, not the checkpoint's
            self.scheduler.milestones = Counter(self.cfg.effective_milestones())
            self.scheduler.gamma = self.cfg.gamma
            self.scheduler.base_lrs = [self.cfg.effective_lr()] * len(self.scheduler.base_lrs)
            drops = sum(m <= int(ckpt["epoch"]) for m in self.cfg.effective_milestones())
            for group in self.optimizer.param_groups:
                group["lr"] = self.cfg.effective_lr() * self.cfg.gamma**drops
        self.start_epoch = int(ckpt["epoch"])
        self.best_top1 = float(ckpt.get("best_top1", -1.0))
        self.history = list(ckpt.get("history", []))

    def _save(self, epoch: int, is_best: bool) -> None:
        """Both files written in full first, then renamed best before last: a run killed
        in between resumes from the older last.pt and repeats that epoch, never pairing
        a stale best.pt with a newer last.pt."""
        state = self.state(epoch)
        names = ["best.pt", "last.pt"] if is_best else ["last.pt"]
        for name in names:
            torch.save(state, self.out / f"{name}.tmp")
        for name in names:
            os.replace(self.out / f"{name}.tmp", self.out / name)

    def _log(self) -> None:
        cfg = self.cfg
        best = max(self.history, key=lambda h: h["test_top1"]) if self.history else None
        record = {
            "config": _to_jsonable(dataclasses.asdict(cfg)),
            "lr": cfg.effective_lr(),
            "milestones": cfg.effective_milestones(),
            "world_size": self.world,
            "device": str(self.device),
            "torch": torch.__version__,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "train_size": len(self.train_set),
            "test_size": len(self.test_set),
            "epochs": self.history,
            "best": best,
        }
        tmp = self.out / "metrics.json.tmp"
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(tmp, self.out / "metrics.json")
        if self.history:
            plot_curves(self.history, self.out / "curves.png")

    # ------------------------------------------------------------------ run
    def fit(self) -> list[dict[str, Any]]:
        """Train from ``start_epoch`` to ``cfg.epochs``; returns the per-epoch history."""
        cfg = self.cfg
        tqdm = _tqdm(self.bars)
        test_loader = self._loader(self.test_set, train=False, epoch=0)
        epochs = tqdm(
            range(self.start_epoch, cfg.epochs),
            desc="epochs",
            initial=self.start_epoch,
            total=cfg.epochs,
        )
        for epoch in epochs:
            start = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]
            train_stats = train_one_epoch(
                self.net,
                self._loader(self.train_set, train=True, epoch=epoch),
                self.optimizer,
                self.device,
                forward_batch_size=cfg.forward_batch_size,
                progress=tqdm,
                desc=f"epoch {epoch + 1}",
                amp=cfg.amp,
                scaler=self.scaler,
            )
            if not math.isfinite(train_stats["loss"]):
                raise SystemExit(
                    f"epoch {epoch + 1}: the training loss is {train_stats['loss']} (diverged); "
                    f"lower --lr (now {cfg.effective_lr():.4g} after batch scaling)"
                )
            self.scheduler.step()
            # The unwrapped model: DDP's buffer broadcast would need equal batch counts.
            test_stats = evaluate(
                self.model,
                test_loader,
                self.device,
                progress=tqdm,
                num_classes=self.num_classes,
                scores=True,
                amp=cfg.amp,
            )
            row = {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": train_stats["loss"],
                "train_top1": train_stats["top1"],
                "test_loss": test_stats["loss"],
                "test_top1": test_stats["top1"],
                "test_top5": test_stats["top5"],
                "test_mean_class_accuracy": test_stats["mean_class_accuracy"],
                "seconds": time.perf_counter() - start,
            }
            self.history.append(row)
            is_best = row["test_top1"] > self.best_top1
            self.best_top1 = max(self.best_top1, row["test_top1"])
            epochs.set_postfix(top1=f"{row['test_top1']:.3f}", best=f"{self.best_top1:.3f}")
            if self.write:
                self._save(epoch + 1, is_best)
                if is_best:
                    self._save_scores(epoch + 1, test_stats)
                self._log()
                if self.writer is not None:
                    for key, value in row.items():
                        if key != "epoch":
                            self.writer.add_scalar(key.replace("_", "/", 1), value, epoch + 1)
                    self.writer.flush()
                if not self.bars and not cfg.quiet:
                    print(
                        f"epoch {epoch + 1}/{cfg.epochs} lr {lr:.4g} "
                        f"train loss {row['train_loss']:.3f} top-1 {row['train_top1']:.3f} | "
                        f"test loss {row['test_loss']:.3f} top-1 {row['test_top1']:.3f} "
                        f"top-5 {row['test_top5']:.3f} ({row['seconds']:.0f} s)",
                        flush=True,
                    )
        epochs.close()
        if self.write:
            self._log()
        if self.writer is not None:
            self.writer.close()
        return self.history

    def _save_scores(self, epoch: int, stats: dict[str, Any]) -> None:
        """``val_scores.npz`` (ids, labels, logits per validation sample) and
        ``confusion.png`` of the best epoch."""
        index, labels, logits = stats["scores"]
        ids = dataset_ids(self.test_set)
        np.savez(
            self.out / "val_scores.npz",
            ids=np.array([ids[i] for i in index], dtype=str),
            labels=labels.astype(np.int64),
            logits=logits.astype(np.float32),
            stream=np.array(self.cfg.stream),
            epoch=np.array(epoch),
            class_names=np.array(self.class_names or [], dtype=str),
        )
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ax = plot_confusion_matrix(stats["confusion_matrix"], self.class_names)
        ax.set_title(f"validation, epoch {epoch}")
        ax.figure.savefig(self.out / "confusion.png", dpi=100, bbox_inches="tight")
        plt.close(ax.figure)


def train(
    cfg: TrainConfig,
    *,
    model: nn.Module | None = None,
    datasets: tuple[Dataset, Dataset] | None = None,
    write_outputs: bool = True,
) -> list[dict[str, Any]]:
    """Run :class:`Trainer` ``(cfg, ...).fit()``; the per-epoch history."""
    return Trainer(cfg, model=model, datasets=datasets, write_outputs=write_outputs).fit()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; sets up and tears down ``torch.distributed`` under torchrun."""
    cfg = parse_args(argv)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        use_cuda = cfg.device.startswith("cuda") or (
            cfg.device == "auto" and torch.cuda.is_available()
        )
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group("nccl" if use_cuda else "gloo")
    try:
        history = train(cfg)
        if distributed:
            # Leave together: a gloo rank torn down while rank 0 still writes its outputs
            # can abort ("terminate called without an active exception").
            dist.barrier()
    finally:
        if distributed:
            dist.destroy_process_group()
    if history and _world()[0] == 0 and not cfg.quiet:
        best = max(history, key=lambda h: h["test_top1"])
        print(
            f"best test top-1 {best['test_top1']:.4f} (epoch {best['epoch']}), "
            f"last {history[-1]['test_top1']:.4f}; outputs in {cfg.out}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
