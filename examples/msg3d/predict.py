"""Predict actions with a checkpoint of ``train.py``: top-5 classes of any skeleton file.

Usage::

    python -m examples.msg3d.predict --checkpoint runs/x/best.pt S001C001P001R001A001.skeleton
    python -m examples.msg3d.predict --checkpoint best.pt ntu.pkl --split xsub_val --json

INPUT is any file skelgraph reads: an NTU ``.skeleton``, a Kinetics-Skeleton or N-UCLA
``.json`` (told apart by their keys), an OpenPose ``--write_json`` folder, a pose pickle
(``.pkl``; every sample, or those of ``--split``), a ``.npy`` array (T, V, C) or
(T, M, V, C) in the checkpoint's layout, or a ``.txt`` file of joint rows in that layout
(:func:`skelgraph.data.read_joint_rows`). The checkpoint's own pipeline (preprocessing,
stream, clip length, persons) is applied (:class:`skelgraph.data.Pipeline`); with
``--num-clips N`` the softmax scores of N of pyskl's fixed test clips are averaged
(:func:`skelgraph.data.average_clip_scores`). The checkpoint is loaded with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from examples.msg3d.model import MSG3DNet
from skelgraph.data import (
    Pipeline,
    SkeletonFormatError,
    SkeletonSample,
    average_clip_scores,
    graph_from_config,
    read_array_file,
    read_joint_rows,
    read_kinetics_json,
    read_ntu_skeleton,
    read_nucla_json,
    read_openpose_folder,
    read_pose_pickle,
)

__all__ = ["Predictor", "load_checkpoint", "main", "read_input"]


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> dict:
    """A ``train.py`` checkpoint, loaded with ``weights_only=True`` (no code runs)."""
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except FileNotFoundError:
        raise SystemExit(f"no checkpoint {path}") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise SystemExit(f"{path} is not a train.py checkpoint (no 'model' entry)")
    for key in ("model_config", "pipeline"):
        if not ckpt.get(key):
            raise SystemExit(
                f"{path} has no {key!r}: it was written by an older train.py or for a model "
                "or datasets passed from Python; rebuild the model yourself and load "
                "ckpt['model']"
            )
    return ckpt


class Predictor:
    """A checkpoint's model and pipeline, ready for samples.

    Parameters
    ----------
    checkpoint : dict
        From :func:`load_checkpoint`.
    device : str or torch.device
    """

    def __init__(self, checkpoint: dict[str, Any], device: str | torch.device = "cpu") -> None:
        config = checkpoint["model_config"]
        kwargs = dict(config["overrides"])
        if "graph" in kwargs:
            kwargs["graph"] = graph_from_config(kwargs["graph"])
        if "windows" in kwargs:
            kwargs["windows"] = tuple(tuple(w) for w in kwargs["windows"])
        self.model = MSG3DNet.from_preset(config["preset"], **kwargs)
        self.model.load_state_dict(checkpoint["model"])
        self.model.to(device).eval()
        self.device = torch.device(device)
        self.pipeline = Pipeline.from_dict(checkpoint["pipeline"])
        k = self.model.fc.out_features
        names = checkpoint.get("class_names")
        self.class_names = list(names) if names else [f"class {i}" for i in range(k)]

    @property
    def graph(self):
        """The checkpoint's :class:`~skelgraph.SkeletonGraph`."""
        return self.pipeline.graph

    @torch.no_grad()
    def probabilities(self, sample: SkeletonSample, num_clips: int = 1) -> torch.Tensor:
        """Class probabilities (K,) of one sample, averaged over ``num_clips`` clips."""
        batch = self.pipeline.model_input(sample, num_clips).to(self.device)
        return average_clip_scores(self.model(batch), mode="prob").cpu()

    def top_k(self, sample: SkeletonSample, k: int = 5, num_clips: int = 1) -> list[dict]:
        """The ``k`` most probable classes: ``{"rank", "class", "name", "probability"}``."""
        probs = self.probabilities(sample, num_clips)
        values, indices = probs.topk(min(k, len(probs)))
        return [
            {"rank": r + 1, "class": int(i), "name": self.class_names[i], "probability": float(p)}
            for r, (p, i) in enumerate(zip(values.tolist(), indices.tolist()))
        ]


def read_input(
    path: str | os.PathLike[str], predictor: Predictor, *, split: str | None = None
) -> list[tuple[str, SkeletonSample]]:
    """``(name, sample)`` pairs of one INPUT (a pose pickle gives several).

    Raises
    ------
    SystemExit
        A file type not recognised, or a reader's :class:`SkeletonFormatError`.
    """
    path = Path(path)
    graph = predictor.graph
    try:
        if path.is_dir():
            return [(str(path), read_openpose_folder(path))]
        suffix = path.suffix.lower()
        if suffix == ".skeleton":
            return [(str(path), read_ntu_skeleton(path))]
        if suffix == ".pkl":
            samples = read_pose_pickle(path, split, layout=graph)
            return [(f"{path}:{s.meta['frame_dir']}", s) for s in samples]
        if suffix == ".npy":
            return [(str(path), read_array_file(path, graph))]
        if suffix == ".txt":
            confidence = predictor.pipeline.channels == 4  # x y z c rows, c kept
            return [(str(path), read_joint_rows(path, graph, keep_confidence=confidence))]
        if suffix == ".json":
            with open(path, encoding="utf-8") as file:
                content = json.load(file)
            if isinstance(content, dict) and "skeletons" in content:
                return [(str(path), read_nucla_json(path))]
            return [(str(path), read_kinetics_json(path))]
    except (SkeletonFormatError, ValueError, OSError) as error:
        raise SystemExit(f"cannot read {path}: {error}") from None
    raise SystemExit(
        f"{path}: not a file skelgraph reads (.skeleton, .json, .pkl, .npy, .txt or an OpenPose "
        "folder)"
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Top-5 actions of skeleton files with a train.py checkpoint.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--checkpoint", required=True, help="best.pt or last.pt of train.py")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="skeleton files or folders")
    p.add_argument("--split", help="pose pickles: only this split's samples")
    p.add_argument("--num-clips", type=int, default=1, help="test clips averaged per input")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("--device", default="cpu")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = build_parser().parse_args(argv)
    if args.num_clips < 1 or args.top_k < 1:
        raise SystemExit("--num-clips and --top-k must be >= 1")
    predictor = Predictor(load_checkpoint(args.checkpoint, args.device), args.device)
    results = []
    for item in args.inputs:
        for name, sample in read_input(item, predictor, split=args.split):
            try:
                top = predictor.top_k(sample, args.top_k, args.num_clips)
            except ValueError as error:
                raise SystemExit(f"{name}: {error}") from None
            results.append({"input": name, "label": sample.label, "top": top})
    if args.json:
        json.dump({"checkpoint": str(args.checkpoint), "predictions": results}, sys.stdout)
        print()
        return 0
    width = max(len(t["name"]) for r in results for t in r["top"])
    for result in results:
        label = result["label"]
        names = predictor.class_names
        known = label is not None and 0 <= label < len(names)
        truth = "" if label is None else f"  (label {label}{': ' + names[label] if known else ''})"
        print(f"{result['input']}{truth}")
        for t in result["top"]:
            print(f"  {t['rank']}. {t['name']:<{width}}  {t['probability']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
