"""Every setting of a training run (:class:`TrainConfig`) and the recipe's rules on them.

The paper's recipe (Liu et al., CVPR 2020; the authors' configs): SGD with momentum 0.9
and Nesterov, weight decay 5e-4 on every parameter, cross-entropy, learning rate 0.05 for
a batch of 32 scaled linearly with the (global) batch size, ×0.1 step decay at the
milestones (by default at 60 % and 80 % of the epochs), no warm-up (``warmup_epochs``
adds CTR-GCN's linear one; ``configs/nw-ucla-ctrgcn.json`` is CTR-GCN's N-UCLA recipe).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from examples.msg3d import cli
from skelgraph.amp import AMP_DTYPES

__all__ = [
    "BASE_BATCH",
    "FEEDERS",
    "FLOAT_RANGES",
    "INT_RANGES",
    "MILESTONE_RANGE",
    "ROTATE_AXES",
    "RUN_ONLY",
    "TrainConfig",
    "check_types",
    "describe_range",
    "resumed_changes",
    "scaled_lr",
    "to_jsonable",
]

BASE_BATCH = 32
"""The batch size that ``--lr`` (0.05, the authors' NTU rate) is quoted for."""

ROTATE_AXES = ("xyz", "xy", "xz", "yz", "x", "y", "z")
"""The values of ``rotate_axes``: the axes the training rotation turns about."""

FEEDERS = ("paper", "ctrgcn")
"""How N-UCLA sequences become clips: the paper's preprocessing resampled to ``frames``
and cached, or CTR-GCN's feeder (:class:`skelgraph.data.Pipeline` ``sampling="ctrgcn"``)."""


INT_RANGES: dict[str, tuple[int, int]] = {
    "epochs": (1, 100_000),
    "batch_size": (1, 65_536),
    "forward_batch_size": (1, 65_536),
    "test_batch_size": (1, 65_536),
    "base_batch": (1, 65_536),
    "frames": (1, 10_000),
    "persons": (1, 64),
    "num_classes": (1, 100_000),
    "subset": (1, 1_000_000_000),
    "seed": (0, 2**31 - 1),
    "repeat": (1, 1000),
    "warmup_epochs": (0, 100_000),
    "threads": (1, 4096),
    "workers": (0, 1024),
}
"""The allowed range of each integer setting (bounds every allocation they size)."""

MILESTONE_RANGE = (1, 100_000)
"""The allowed range of each ``--milestones`` epoch."""

FLOAT_RANGES: dict[str, tuple[float, float, bool]] = {
    "lr": (0.0, math.inf, True),
    "gamma": (0.0, 1.0, True),
    "momentum": (0.0, 1.0, False),
    "weight_decay": (0.0, math.inf, False),
    "rotate_degrees": (0.0, 180.0, False),
    "scale": (0.0, 1.0, False),
    "min_prefix": (0.0, 1.0, True),
    "whole_clips": (0.0, 1.0, False),
}
"""``(low, high, low excluded)`` of each real-valued setting; every one must be finite."""


def int_setting(name: str) -> Callable[[str], int]:
    """The argparse ``type`` of integer setting ``name``: its :data:`INT_RANGES` bounds."""
    return cli.bounded_int(*INT_RANGES[name])


def float_setting(name: str) -> Callable[[str], float]:
    """The argparse ``type`` of real setting ``name`` (:data:`FLOAT_RANGES`; an excluded
    low end is left to :meth:`TrainConfig.validate`)."""
    low, high, _ = FLOAT_RANGES[name]
    return cli.bounded_float(low, high)


def describe_range(low: float, high: float, open_low: bool) -> str:
    """How an error message states a range, e.g. ``finite and in (0, 1]``, ``finite and > 0``."""
    if math.isinf(high):
        return f"finite and {'>' if open_low else '>='} {low:g}"
    return f"finite and in {'(' if open_low else '['}{low:g}, {high:g}]"


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
    feeder: str = "paper"
    align: bool = True
    rotate_degrees: float = 10.0
    rotate_axes: str = "xyz"
    scale: float = 0.1
    subset: int | None = None
    # model
    preset: str = "nw-ucla-small"
    aggregation: str = "disentangled"
    num_classes: int | None = None
    class_names: str | None = None
    model_args: dict[str, Any] | None = None
    causal: bool = False
    init_from: str | None = None
    # recipe
    epochs: int = 50
    repeat: int = 1
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
    warmup_epochs: int = 0
    gamma: float = 0.1
    min_prefix: float = 1.0
    whole_clips: float = 0.0
    # run
    out: str = "runs/msg3d"
    resume: str | None = None
    overwrite: bool = False
    override_resumed: bool = False
    seed: int = 0
    threads: int | None = None
    workers: int = 0
    device: str = "auto"
    tensorboard: str | None = None
    progress: bool = True
    quiet: bool = False

    def validate(self) -> None:
        """Raise ``SystemExit`` naming the first value out of its range (:data:`INT_RANGES`,
        :data:`FLOAT_RANGES`): the command line checks each option as it parses it, this
        also covers a ``--config`` file and a config built in Python."""
        for name, (low, high) in INT_RANGES.items():
            value = getattr(self, name)  # None: not set (whole batches, the data's count)
            if value is not None and not low <= value <= high:
                raise SystemExit(
                    f"--{name.replace('_', '-')} must be in [{low}, {high}], got {value}"
                )
        for m in self.milestones or ():
            if not MILESTONE_RANGE[0] <= m <= MILESTONE_RANGE[1]:
                raise SystemExit(
                    f"--milestones must be epochs in [{MILESTONE_RANGE[0]}, {MILESTONE_RANGE[1]}], "
                    f"got {self.milestones}"
                )
        for name, (low, high, open_low) in FLOAT_RANGES.items():
            value = float(getattr(self, name))
            above_low = low < value if open_low else low <= value
            if not (math.isfinite(value) and above_low and value <= high):
                raise SystemExit(
                    f"--{name.replace('_', '-')} must be {describe_range(low, high, open_low)}, "
                    f"got {value}"
                )
        if self.whole_clips > 0.0 and self.min_prefix >= 1.0:
            raise SystemExit(
                f"--whole-clips {self.whole_clips} mixes whole clips with prefixes: "
                "it needs --min-prefix below 1"
            )
        if self.feeder not in FEEDERS:
            raise SystemExit(f"--feeder must be one of {', '.join(FEEDERS)}, got {self.feeder!r}")
        if self.feeder == "ctrgcn" and self.dataset != "nw-ucla":
            raise SystemExit(f"--feeder ctrgcn is N-UCLA's; --dataset is {self.dataset!r}")
        if self.rotate_axes not in ROTATE_AXES:
            raise SystemExit(
                f"--rotate-axes must be one of {', '.join(ROTATE_AXES)}, got {self.rotate_axes!r}"
            )
        if self.warmup_epochs and self.effective_milestones()[0] <= self.warmup_epochs:
            raise SystemExit(
                f"--warmup-epochs {self.warmup_epochs} must end before the first milestone "
                f"{self.effective_milestones()[0]}"
            )
        if self.amp not in AMP_DTYPES:
            raise SystemExit(f"--amp must be one of {', '.join(AMP_DTYPES)}, got {self.amp!r}")
        if self.init_from and self.resume:
            raise SystemExit(
                "--init-from starts a new run from a checkpoint's weights; --resume continues "
                "a run: give one of them"
            )

    def effective_lr(self) -> float:
        """The learning rate used: scaled linearly with the batch size unless disabled."""
        return scaled_lr(self.lr, self.batch_size, self.base_batch) if self.scale_lr else self.lr

    def lr_at(self, epoch: int) -> float | None:
        """The warm-up rate of 0-based ``epoch``, ``effective_lr · (epoch + 1) / warmup``
        (CTR-GCN's); None after the warm-up, where the milestones rule."""
        if epoch >= self.warmup_epochs:
            return None
        return self.effective_lr() * (epoch + 1) / self.warmup_epochs

    def effective_milestones(self) -> list[int]:
        """The epochs after which the rate drops; default 60 % and 80 % of ``epochs``."""
        if self.milestones is not None:
            return sorted(int(m) for m in self.milestones)
        return sorted({max(1, round(0.6 * self.epochs)), max(1, round(0.8 * self.epochs))})


# Settings that change where and how a run executes, not what it trains: free on resume.
# (init_from only sets the first epoch's weights: a resumed run starts from last.pt's.)
RUN_ONLY = frozenset(
    {"out", "resume", "overwrite", "override_resumed", "threads", "workers", "device",
     "tensorboard", "progress", "quiet", "cache_dir", "checkpoint", "init_from"}
)  # fmt: skip


def resumed_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(setting, checkpoint's value, this run's value) for every training setting that
    differs between a checkpoint's config and this run's.

    A setting the checkpoint lacks was added after it was written: the run then trained
    with that setting's default, which is what it is compared with.
    """
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    saved = {**to_jsonable(defaults), **saved}
    keys = sorted((set(saved) | set(current)) - RUN_ONLY)
    return [(k, saved.get(k), current.get(k)) for k in keys if saved.get(k) != current.get(k)]


def scaled_lr(base_lr: float, batch_size: int, base_batch: int = BASE_BATCH) -> float:
    """Linear scaling rule: ``base_lr * batch_size / base_batch``.

    >>> scaled_lr(0.05, 64)
    0.1
    """
    return base_lr * batch_size / base_batch


def to_jsonable(obj: Any) -> Any:
    """Tuples as lists, recursively: what ``json`` and ``torch.load(weights_only=True)``
    read back unchanged."""
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj


_KINDS = {"bool": (bool,), "int": (int,), "float": (int, float), "str": (str,)}


def check_types(values: dict[str, Any], source: str) -> None:
    """Each value of a config file of the type of its :class:`TrainConfig` field, or a
    ``SystemExit`` naming ``source``, the key and both types (unknown keys included)."""
    fields = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise SystemExit(f"{source}: unknown keys {unknown}")
    for key, value in values.items():
        kind = fields[key]
        if value is None and kind.endswith("| None"):
            continue
        base = kind.removesuffix(" | None")
        if base.startswith("list"):
            ok = isinstance(value, list) and all(_is(v, (int,)) for v in value)
        elif base.startswith("dict"):
            ok = isinstance(value, dict)
        else:
            ok = _is(value, _KINDS[base])
        if not ok:
            raise SystemExit(f"{source}: {key!r} must be {kind}, got {type(value).__name__}")


def _is(value: Any, kinds: tuple[type, ...]) -> bool:
    """``isinstance``, except that a bool is no number."""
    return isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))
