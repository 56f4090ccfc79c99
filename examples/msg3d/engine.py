"""The training loop: :class:`Trainer` (set up a run, :meth:`~Trainer.fit` it),
:func:`train_one_epoch` and :func:`evaluate`.

From Python, ``train(cfg, model=..., datasets=(train_set, test_set))`` trains any model on
any pair of datasets of ``(tensor (C, T, V, M), label)`` items with the same recipe; such
a checkpoint has no ``model_config`` unless the model was built here.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    DistributedSampler,
    RandomSampler,
)

from examples.msg3d import checkpoints, cli, logs
from examples.msg3d.config import TrainConfig, to_jsonable
from examples.msg3d.datasets import (
    TrainData,
    build_datasets,
    check_labels,
    dataset_ids,
    reseed_dataset,
    worker_init,
)
from examples.msg3d.distributed import all_sum, select_device, world
from examples.msg3d.model_setup import (
    build_model,
    init_weights,
    model_overrides,
    read_class_names,
)
from examples.msg3d.run_folder import RunFolder
from skelgraph.amp import autocast
from skelgraph.data import random_prefix_length

__all__ = ["Trainer", "evaluate", "set_seed", "train", "train_one_epoch"]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy's global state and torch (augmentation has its own Generators)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - for code that uses the global state
    torch.manual_seed(seed)


def _metrics() -> ModuleType:
    try:
        from examples.msg3d import metrics
    except ImportError as error:
        raise SystemExit(
            "train.py measures accuracy with skelgraph.metrics, which needs torchmetrics: "
            "pip install 'skelgraph[train]'"
        ) from error
    return metrics


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
    metrics = _metrics()
    model.eval()
    loss_sum, count = 0.0, 0.0
    order = list(loader.sampler) if loader.sampler is not None else None
    metric, collector, seen = None, metrics.ScoreCollector() if scores else None, 0
    if num_classes is not None:
        metric = metrics.ClassificationMetrics(num_classes).to(device)
    if collector is not None:
        collector = collector.to(device)
    bar = (progress or logs.NoBar)(loader, desc="test", leave=False, unit="batch")
    with torch.no_grad():
        for x, y in bar:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast(device, amp):
                logits = model(x).float()
            if not torch.isfinite(logits).all():  # the metrics would refuse them mid-epoch
                raise SystemExit(
                    "the model's outputs on the test data are not finite (NaN or inf): "
                    "training diverged (lower --lr, or try --amp off) or the input holds them"
                )
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
    loss_sum, count = all_sum([loss_sum, count], device)
    if count == 0:
        raise SystemExit("the test set holds no samples")
    result = metric.compute()
    out: dict[str, Any] = {
        "loss": loss_sum / max(count, 1.0),
        "top1": float(result["top1"]),
        "top5": float(result["top5"]),
        "mean_class_accuracy": float(result["mean_class_accuracy"]),
        "confusion_matrix": result["confusion_matrix"].cpu().numpy(),
    }
    if collector is not None:
        got = collector.compute() if seen or world()[1] > 1 else None
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
    prefix: Callable[[int], int] | None = None,
) -> dict[str, float]:
    """One pass over ``loader``; one optimizer step per batch (chunks accumulate).

    ``amp``: the forward pass under autocast (the loss in float32); ``scaler``: a
    ``GradScaler`` for float16, whose scaled loss keeps small gradients from underflowing.
    ``prefix``: maps a batch's clip length T to the number of first frames it is trained
    on (e.g. :func:`skelgraph.data.random_prefix_length`); ``None``: whole clips.
    """
    model.train()
    loss_sum, correct, count = 0.0, 0.0, 0.0
    bar = (progress or logs.NoBar)(loader, desc=desc, leave=False, unit="batch")
    for x, y in bar:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if prefix is not None:
            x = x[:, :, : prefix(x.shape[2])]
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
    loss_sum, correct, count = all_sum([loss_sum, correct, count], device)
    count = max(count, 1.0)
    return {"loss": loss_sum / count, "top1": correct / count}


class Trainer:
    """One training run: model, data, SGD + MultiStepLR, checkpoints and logs.

    Parameters
    ----------
    cfg : TrainConfig
        The run's settings.
    model : nn.Module, optional
        Default :func:`build_model` ``(cfg)``; benchmarks pass their own.
    datasets : TrainData or (train, test), optional
        Default :func:`build_datasets` ``(cfg)``.
    write_outputs : bool
        Write checkpoints, ``metrics.json`` and the plots (on rank 0), in
        ``cfg.out`` claimed with a :class:`RunFolder`; call :meth:`close` (or use
        :func:`train`) to release it.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        model: nn.Module | None = None,
        datasets: TrainData | tuple[Dataset, Dataset] | None = None,
        write_outputs: bool = True,
    ) -> None:
        cfg.validate()
        self.cfg = cfg
        self.rank, self.world, local_rank = world()
        self.device = select_device(cfg.device, local_rank)
        self.folder: RunFolder | None = None
        self.writer: Any = None
        if write_outputs and self.rank == 0:
            folder = RunFolder(cfg.out, resume=bool(cfg.resume), overwrite=cfg.overwrite)
            self.folder = folder.open()
        try:
            self._setup(model, datasets)
        except BaseException:
            self.close()
            raise

    def _setup(
        self, model: nn.Module | None, datasets: TrainData | tuple[Dataset, Dataset] | None
    ) -> None:
        cfg = self.cfg
        torch.set_num_threads(cfg.threads or cli.default_threads())
        set_seed(cfg.seed)
        if datasets is None:
            datasets = self._datasets()
        self.data = datasets if isinstance(datasets, TrainData) else TrainData(*datasets)
        self.train_set, self.test_set = self.data.train, self.data.test
        self.class_names = read_class_names(cfg.class_names) if cfg.class_names else None
        self.model_config: dict[str, Any] | None = None
        if model is None:
            overrides = model_overrides(cfg, self.data, self.class_names)
            self.model_config = {
                "preset": cfg.preset,
                "overrides": {"aggregation": cfg.aggregation, **overrides},
            }
            model = build_model(cfg, overrides)
        if cfg.init_from:
            init_weights(model, cfg.init_from)
        self.model = model.to(self.device)
        fc = self.model.fc if isinstance(getattr(self.model, "fc", None), nn.Linear) else None
        self.num_classes: int | None = fc.out_features if fc is not None else cfg.num_classes
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
            path = Path(cfg.out) / "last.pt" if cfg.resume == "last" else Path(cfg.resume)
            self.start_epoch, self.best_top1, self.history = checkpoints.restore(
                checkpoints.read_checkpoint(path, self.device), path, cfg, self.model,
                self.optimizer, self.scheduler, self.scaler,
            )  # fmt: skip
        # Within an epoch: bars on a terminal, heartbeat lines in a log, or nothing.
        self.progress = "off"
        if cfg.progress and not cfg.quiet and self.rank == 0:
            self.progress = "bars" if sys.stderr.isatty() else "lines"
        if cfg.tensorboard and self.folder is not None:
            self.writer = logs.open_tensorboard(cfg.tensorboard)

    def _datasets(self) -> TrainData:
        if self.world > 1 and self.cfg.dataset == "nw-ucla":
            # Rank 0 builds the cache, the others then memory-map it.
            if self.rank == 0:
                build_datasets(self.cfg)
            dist.barrier()
        return build_datasets(self.cfg)

    def close(self) -> None:
        """Release the output folder (and the TensorBoard writer); idempotent."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.folder is not None:
            self.folder.close()
            self.folder = None

    def _loader(self, dataset: Dataset, *, train: bool, epoch: int) -> DataLoader:
        cfg = self.cfg
        if train:
            batch = cfg.batch_size // self.world
            # Augmentation draws depend on (seed, rank, epoch): a resumed run repeats them.
            reseed_dataset(dataset, (cfg.seed * 1009 + epoch) * 64 + self.rank)
            if cfg.repeat > 1:  # one epoch: --repeat passes, shuffled together
                dataset = ConcatDataset([dataset] * cfg.repeat)
            if self.world > 1:
                sampler: Any = DistributedSampler(
                    dataset, self.world, self.rank, shuffle=True, seed=cfg.seed
                )
                sampler.set_epoch(epoch)
            else:
                generator = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
                sampler = RandomSampler(dataset, generator=generator)
        else:
            batch = cfg.test_batch_size
            # Each process tests a disjoint slice: exact counts, no padding duplicates.
            sampler = list(range(self.rank, len(dataset), self.world))
        return DataLoader(
            dataset,
            batch_size=batch,
            sampler=sampler,
            num_workers=cfg.workers,
            worker_init_fn=worker_init if train and cfg.workers else None,
            drop_last=False,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )

    def state(self, epoch: int) -> dict[str, Any]:
        """What ``last.pt`` / ``best.pt`` hold (:mod:`examples.msg3d.checkpoints`)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),
            "epoch": epoch,
            "best_top1": self.best_top1,
            "history": self.history,
            **checkpoints.predict_fields(
                self.cfg, self.model_config, self.data.pipeline, self.num_classes,
                self.class_names,
            ),
        }  # fmt: skip

    def _record(self) -> dict[str, Any]:
        """``metrics.json``: the run's settings and every epoch's row."""
        cfg = self.cfg
        best = max(self.history, key=lambda h: h["test_top1"]) if self.history else None
        return {
            "config": to_jsonable(dataclasses.asdict(cfg)),
            "lr": cfg.effective_lr(),
            "milestones": cfg.effective_milestones(),
            "world_size": self.world,
            "device": str(self.device),
            "torch": torch.__version__,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "train_size": len(self.train_set),
            "test_size": len(self.test_set),
            "epochs": self.history,
            "final": self.history[-1] if self.history else None,
            "best": best,
        }

    def _scores(self, epoch: int, stats: dict[str, Any]) -> dict[str, np.ndarray]:
        index, labels, logits = stats["scores"]
        ids = dataset_ids(self.test_set)
        return {
            "ids": np.array([ids[i] for i in index], dtype=str),
            "labels": labels.astype(np.int64),
            "logits": logits.astype(np.float32),
            "stream": np.array(self.cfg.stream),
            "epoch": np.array(epoch),
            "class_names": np.array(self.class_names or [], dtype=str),
        }

    def _prefix(self, epoch: int) -> Callable[[int], int] | None:
        """``--min-prefix``'s draw of each batch's length, in steps of the model's stride
        (where its stream predicts), the whole clip for ``--whole-clips`` of them, seeded
        like the augmentation by (seed, rank, epoch)."""
        cfg = self.cfg
        if cfg.min_prefix >= 1.0:
            return None
        rng = np.random.default_rng([cfg.seed, self.rank, epoch])
        multiple = int(getattr(self.model, "stride", 1))
        return functools.partial(
            random_prefix_length,
            min_fraction=cfg.min_prefix,
            multiple=multiple,
            whole_share=cfg.whole_clips,
            rng=rng,
        )

    def _epoch(
        self, epoch: int, progress: Callable[..., Any], test_loader: DataLoader
    ) -> tuple[bool, dict[str, Any]]:
        """Train and test one epoch and append its row to the history; whether it is the
        best, and the test statistics."""
        cfg = self.cfg
        start = time.perf_counter()
        warmup = cfg.lr_at(epoch)
        if warmup is not None:  # the last warm-up epoch leaves the full rate in place
            for group in self.optimizer.param_groups:
                group["lr"] = warmup
        lr = self.optimizer.param_groups[0]["lr"]
        train_stats = train_one_epoch(
            self.net,
            self._loader(self.train_set, train=True, epoch=epoch),
            self.optimizer,
            self.device,
            forward_batch_size=cfg.forward_batch_size,
            progress=progress,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            amp=cfg.amp,
            scaler=self.scaler,
            prefix=self._prefix(epoch),
        )
        if not math.isfinite(train_stats["loss"]):
            raise SystemExit(
                f"epoch {epoch + 1}: the training loss is {train_stats['loss']} (diverged); "
                f"lower --lr (now {cfg.effective_lr():.4g} after batch scaling)"
            )
        self.scheduler.step()
        # The unwrapped model: DDP's buffer broadcast would need equal batch counts.
        test = evaluate(
            self.model, test_loader, self.device, progress=progress,
            num_classes=self.num_classes, scores=True, amp=cfg.amp,
        )  # fmt: skip
        self.history.append(
            {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": train_stats["loss"],
                "train_top1": train_stats["top1"],
                "test_loss": test["loss"],
                "test_top1": test["top1"],
                "test_top5": test["top5"],
                "test_mean_class_accuracy": test["mean_class_accuracy"],
                "seconds": time.perf_counter() - start,
            }
        )
        is_best = test["top1"] > self.best_top1
        self.best_top1 = max(self.best_top1, test["top1"])
        return is_best, test

    def _write(self, epoch: int, is_best: bool, test: dict[str, Any]) -> None:
        """Checkpoints, this epoch's scores, metrics.json, TensorBoard, the epoch line.

        The scores are the latest epoch's, so a finished run's are the final epoch's: the
        ones to report and fuse (``best.pt`` is picked on the validation split)."""
        folder, row = self.folder, self.history[-1]
        checkpoints.save_checkpoints(folder, self.state(epoch), is_best)
        logs.write_scores(
            folder, self._scores(epoch, test), test["confusion_matrix"], self.class_names, epoch
        )
        logs.write_metrics(folder, self._record())
        if self.writer is not None:
            for key, value in row.items():
                if key != "epoch":
                    self.writer.add_scalar(key.replace("_", "/", 1), value, epoch)
            self.writer.flush()
        if self.progress != "bars" and not self.cfg.quiet:
            print(logs.epoch_line(row, self.cfg.epochs), flush=True)

    def fit(self) -> list[dict[str, Any]]:
        """Train from ``start_epoch`` to ``cfg.epochs``; returns the per-epoch history."""
        progress = logs.progress(self.progress)
        test_loader = self._loader(self.test_set, train=False, epoch=0)
        epochs = progress(
            range(self.start_epoch, self.cfg.epochs),
            desc="training",
            initial=self.start_epoch,
            total=self.cfg.epochs,
            unit="epoch",
        )
        for epoch in epochs:
            is_best, test = self._epoch(epoch, progress, test_loader)
            epochs.set_postfix(top1=f"{test['top1']:.3f}", best=f"{self.best_top1:.3f}")
            if self.folder is not None:
                self._write(epoch + 1, is_best, test)
        epochs.close()
        if self.folder is not None:
            logs.write_metrics(self.folder, self._record())
        return self.history


def train(
    cfg: TrainConfig,
    *,
    model: nn.Module | None = None,
    datasets: TrainData | tuple[Dataset, Dataset] | None = None,
    write_outputs: bool = True,
) -> list[dict[str, Any]]:
    """Run :class:`Trainer` ``(cfg, ...).fit()`` and release its folder; the history."""
    trainer = Trainer(cfg, model=model, datasets=datasets, write_outputs=write_outputs)
    try:
        return trainer.fit()
    finally:
        trainer.close()
