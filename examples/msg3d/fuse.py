"""Fuse the validation scores of several streams (``val_scores.npz`` of ``train.py``).

Usage::

    python -m examples.msg3d.fuse runs/j/val_scores.npz runs/b/val_scores.npz \\
        runs/jm/val_scores.npz runs/bm/val_scores.npz --weights 2 2 1 1

Each file holds the ``ids``, ``labels`` and ``logits`` of one stream's validation set;
the samples are matched by id (every file must have the same ids and labels), the
streams are fused with :func:`skelgraph.fusion.fuse_streams` (the weighted sum of their
softmax scores; pyskl weighs joint, bone, joint motion, bone motion 2 : 2 : 1 : 1) and
the top-1, top-5 and mean class accuracy of each stream and of the fusion are printed
(:func:`skelgraph.metrics.classification_metrics`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from skelgraph.fusion import fuse_streams

__all__ = ["fuse_files", "load_scores", "main"]


def load_scores(path: str | Path) -> dict[str, Any]:
    """``ids``, ``labels``, ``logits`` (and ``stream``) of a ``val_scores.npz``."""
    try:
        with np.load(path, allow_pickle=False) as data:
            out = {k: data[k] for k in ("ids", "labels", "logits")}
            out["stream"] = str(data["stream"]) if "stream" in data else Path(path).parent.name
    except (OSError, KeyError, ValueError) as error:
        raise SystemExit(f"{path}: not a val_scores.npz of train.py ({error})") from None
    return out


def fuse_files(
    paths: Sequence[str | Path], weights: Sequence[float] | None = None
) -> dict[str, Any]:
    """Per-stream and fused metrics of several score files (see the module docstring)."""
    from skelgraph.metrics import classification_metrics

    if weights is not None and len(weights) != len(paths):
        raise SystemExit(f"{len(paths)} score files but {len(weights)} weights")
    files = [load_scores(p) for p in paths]
    first = files[0]
    order = {sid: i for i, sid in enumerate(first["ids"].tolist())}
    logits = []
    for path, f in zip(paths, files):
        ids = f["ids"].tolist()
        if set(ids) != set(order) or len(ids) != len(order):
            raise SystemExit(
                f"{path} scores other samples than {paths[0]} ({len(ids)} vs {len(order)} ids)"
            )
        perm = np.array([ids.index(sid) for sid in first["ids"].tolist()], dtype=np.int64)
        if not np.array_equal(f["labels"][perm], first["labels"]):
            raise SystemExit(f"{path} has other labels than {paths[0]} for the same samples")
        if f["logits"].shape[1] != first["logits"].shape[1]:
            raise SystemExit(f"{path} has another class count than {paths[0]}")
        logits.append(torch.from_numpy(f["logits"][perm]))
    labels = torch.from_numpy(first["labels"])
    k = first["logits"].shape[1]
    rows = []
    for path, f, z in zip(paths, files, logits):
        m = classification_metrics(z, labels, k)
        rows.append({"file": str(path), "stream": f["stream"], **_summary(m)})
    fused = fuse_streams(logits, weights)
    return {
        "streams": rows,
        "weights": list(weights) if weights is not None else [1.0] * len(paths),
        "fused": _summary(classification_metrics(fused, labels, k)),
        "count": len(labels),
    }


def _summary(m: dict[str, Any]) -> dict[str, float]:
    return {key: m[key] for key in ("top1", "top5", "mean_class_accuracy")}


def build_parser() -> argparse.ArgumentParser:
    """The command line (the docs show its ``--help``)."""
    p = argparse.ArgumentParser(description="Fuse the val_scores.npz of several streams.")
    p.add_argument("scores", nargs="+", metavar="SCORES.npz")
    p.add_argument("--weights", type=float, nargs="+", help="one per file (default all 1)")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = build_parser().parse_args(argv)
    result = fuse_files(args.scores, args.weights)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['count']} validation samples")
    for row, w in zip(result["streams"], result["weights"]):
        print(
            f"  {row['stream']:<12} weight {w:g}: top-1 {100 * row['top1']:.2f} %  "
            f"top-5 {100 * row['top5']:.2f} %  ({row['file']})"
        )
    fused = result["fused"]
    print(f"fused: top-1 {100 * fused['top1']:.2f} %  top-5 {100 * fused['top5']:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
