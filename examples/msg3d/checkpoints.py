"""``last.pt`` and ``best.pt``: what they hold, how they are written and resumed.

A checkpoint holds the model, optimizer, scheduler (and float16 loss scaler) states, the
epoch, the best top-1 so far, the per-epoch history, the run's config, and what
``predict.py`` needs: ``model_config`` (preset and overrides, the graph as a layout name
or its edges), ``layout``, ``pipeline`` (:meth:`skelgraph.data.Pipeline.to_dict`),
``stream``, ``clip_len``, ``num_classes``, ``class_names``. All plain tensors, numbers,
strings and lists: ``torch.load(..., weights_only=True)`` reads it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from examples.msg3d.config import TrainConfig, resumed_changes, to_jsonable
from examples.msg3d.run_folder import RunFolder
from skelgraph.data import Pipeline

__all__ = ["predict_fields", "read_checkpoint", "restore", "save_checkpoints"]


def predict_fields(
    cfg: TrainConfig,
    model_config: dict[str, Any] | None,
    pipeline: Pipeline | None,
    num_classes: int | None,
    class_names: list[str] | None,
) -> dict[str, Any]:
    """The part of a checkpoint that ``predict.py`` reads (plain data)."""
    return {
        "config": to_jsonable(dataclasses.asdict(cfg)),
        "model_config": to_jsonable(model_config),
        "layout": None if pipeline is None else to_jsonable(pipeline.layout),
        "pipeline": None if pipeline is None else to_jsonable(pipeline.to_dict()),
        "stream": cfg.stream,
        "clip_len": cfg.frames,
        "num_classes": num_classes,
        "class_names": class_names,
    }


def save_checkpoints(folder: RunFolder, state: dict[str, Any], is_best: bool) -> None:
    """``last.pt`` (and ``best.pt``): both written in full first, then renamed best before
    last, so that a run killed in between resumes from the older ``last.pt`` and repeats
    that epoch, never pairing a stale ``best.pt`` with a newer ``last.pt``."""
    names = ["best.pt", "last.pt"] if is_best else ["last.pt"]
    folder.write_all([(name, lambda file: torch.save(state, file)) for name in names])


def read_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """A checkpoint to resume from (``weights_only``), or a ``SystemExit`` naming it."""
    if not path.is_file():
        raise SystemExit(f"--resume: no checkpoint {path}")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:  # EOFError, UnpicklingError, RuntimeError of a torn zip, ...
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise SystemExit(f"--resume: {path} is not a readable checkpoint ({reason})") from None
    needed = {"model", "optimizer", "scheduler", "epoch"}
    if not isinstance(ckpt, dict) or not needed <= set(ckpt):
        raise SystemExit(f"--resume: {path} is not a train.py checkpoint (needs {sorted(needed)})")
    return ckpt


def restore(
    ckpt: dict[str, Any],
    path: Path,
    cfg: TrainConfig,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.MultiStepLR,
    scaler: torch.amp.GradScaler | None,
) -> tuple[int, float, list[dict[str, Any]]]:
    """Load model, optimizer and scheduler from ``ckpt``; (epoch, best top-1, history).

    Settings that differ from the checkpoint's are refused unless
    ``cfg.override_resumed``; then the schedule is the one of the settings that now run.
    """
    changed = resumed_changes(ckpt.get("config", {}), to_jsonable(dataclasses.asdict(cfg)))
    if changed and not cfg.override_resumed:
        raise SystemExit(
            f"--resume: these settings differ from {path}'s: "
            + "; ".join(f"{k} {old!r} -> {new!r}" for k, old, new in changed)
            + " (keep them, or pass --override-resumed to train on with the new ones)"
        )
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    if scaler is not None and ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    if changed:  # the schedule of the settings that now run, not the checkpoint's
        milestones = cfg.effective_milestones()
        scheduler.milestones = Counter(milestones)
        scheduler.gamma = cfg.gamma
        scheduler.base_lrs = [cfg.effective_lr()] * len(scheduler.base_lrs)
        drops = sum(m <= int(ckpt["epoch"]) for m in milestones)
        for group in optimizer.param_groups:
            group["lr"] = cfg.effective_lr() * cfg.gamma**drops
    return int(ckpt["epoch"]), float(ckpt.get("best_top1", -1.0)), list(ckpt.get("history", []))
