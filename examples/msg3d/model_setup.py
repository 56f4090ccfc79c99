"""The model a run trains: MS-G3D Net of a preset, fitted to the data and the options.

The graph, the input channels and persons, and the class count come from the data
(``--num-classes``, or the number of ``--class-names``, or for pose pickles the largest
label + 1, else the preset's); ``--layout`` sets the graph, ``--model-args`` overrides any
other :class:`~examples.msg3d.model.MSG3DNet` argument.
"""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from examples.msg3d import cli
from examples.msg3d.checkpoint import check_weights_fit, load_checkpoint
from examples.msg3d.config import INT_RANGES, TrainConfig
from examples.msg3d.datasets import TrainData
from examples.msg3d.model import PRESETS, MSG3DNet
from skelgraph.data import graph_from_config

__all__ = ["build_model", "init_weights", "model_overrides", "read_class_names"]


def build_model(cfg: TrainConfig, overrides: dict[str, Any] | None = None) -> nn.Module:
    """MS-G3D Net of the configured preset (and aggregation), with ``overrides`` (the graph
    as a layout name, a layout file or a :meth:`~skelgraph.SkeletonGraph.to_dict`).

    Arguments the model does not take, or values it refuses, are a ``SystemExit``.
    """
    kwargs = {"aggregation": cfg.aggregation, "checkpoint": cfg.checkpoint, **(overrides or {})}
    try:
        if "graph" in kwargs:
            kwargs["graph"] = graph_from_config(kwargs["graph"])
        if "windows" in kwargs:
            kwargs["windows"] = tuple(tuple(w) for w in kwargs["windows"])
        return MSG3DNet.from_preset(cfg.preset, **kwargs)
    except (TypeError, ValueError, OSError) as error:
        given = {k: v for k, v in kwargs.items() if k not in ("aggregation", "checkpoint")}
        raise SystemExit(f"cannot build MSG3DNet {cfg.preset!r} with {given}: {error}") from None


def read_class_names(path: str | os.PathLike[str]) -> list[str]:
    """One class name per non-empty line of a small UTF-8 file (:func:`cli.read_text`)."""
    lines = cli.read_text(path, "--class-names").splitlines()
    return [line.strip() for line in lines if line.strip()]


def model_overrides(
    cfg: TrainConfig, data: TrainData, class_names: list[str] | None
) -> dict[str, Any]:
    """The MSG3DNet arguments that come from the data and the options, beyond the preset.

    The graph, input channels and persons of the data's pipeline (where they differ
    from the preset's), the class count (``--num-classes``, else the number of
    ``--class-names``, else the data's for pose pickles), and ``--model-args``.
    """
    preset = {"num_persons": 2, "in_channels": 3, **PRESETS[cfg.preset]}
    out: dict[str, Any] = {}
    pipeline = data.pipeline
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
        num_classes = data.num_classes
        high = INT_RANGES["num_classes"][1]
        if num_classes is not None and not 1 <= num_classes <= high:
            raise SystemExit(
                f"the data's labels give {num_classes} classes, outside [1, {high}]; "
                "fix the labels or pass --num-classes"
            )
    if num_classes is not None and num_classes != preset["num_classes"]:
        out["num_classes"] = int(num_classes)
    if cfg.causal:
        out["causal"] = True
    out.update(cfg.model_args or {})
    return out


def init_weights(model: nn.Module, path: str) -> None:
    """Load the weights of the ``train.py`` checkpoint at ``path`` (checked as untrusted:
    :func:`~examples.msg3d.checkpoint.load_checkpoint`) into ``model``, whose parameter
    names and shapes they must have; a ``SystemExit`` naming ``--init-from`` otherwise.
    The checkpoint's model may differ in what has no parameters (``causal``)."""
    try:
        ckpt = load_checkpoint(path)
    except SystemExit as error:
        raise SystemExit(f"--init-from: {error}") from None
    try:
        check_weights_fit(ckpt["model"], model.state_dict(), "this run's options")
    except ValueError as error:
        raise SystemExit(f"--init-from {path}: {error}") from None
    model.load_state_dict(ckpt["model"])
