"""Predict actions with a checkpoint of ``train.py``: top-5 classes of any skeleton file.

Usage::

    python -m examples.msg3d.predict --checkpoint runs/x/best.pt S001C001P001R001A001.skeleton
    python -m examples.msg3d.predict --checkpoint best.pt ntu.pkl --split xsub_val --json
    python -m examples.msg3d.predict --weights pyskl-ntu60-xsub-3d-j S001C001P001R001A001.skeleton
    python -m examples.msg3d.predict --weights pyskl-ntu60-xsub-hrnet-j \
        --weights pyskl-ntu60-xsub-hrnet-b ntu60_hrnet.pkl --num-clips 10

``--weights NAME`` (:data:`examples.msg3d.weights.WEIGHTS`) downloads a released
checkpoint once into torch's hub cache and converts it, with its own test pipeline;
several ``--weights`` (one per stream) fuse their probabilities, weighed by
``--fusion-weights`` (pyskl: 1 1 for joint and bone, 2 2 1 1 for four streams).

INPUT is any file skelgraph reads: an NTU ``.skeleton``, a Kinetics-Skeleton or N-UCLA
``.json`` (told apart by their keys), an OpenPose ``--write_json`` folder, a pose pickle
(``.pkl``; every sample, or those of ``--split``), a ``.npy`` array (T, V, C) or
(T, M, V, C) in the checkpoint's layout, or a ``.txt`` file of joint rows in that layout
(:func:`skelgraph.data.read_joint_rows`). The checkpoint's own pipeline (preprocessing,
stream, clip length, persons) is applied (:class:`skelgraph.data.Pipeline`); with
``--num-clips N`` the softmax scores of N of pyskl's fixed test clips are averaged
(:func:`skelgraph.data.average_clip_scores`). The checkpoint is loaded with
``torch.load(..., weights_only=True)`` and checked before anything is built
(:mod:`examples.msg3d.checkpoint`).
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

from examples.msg3d import cli
from examples.msg3d.checkpoint import build_model, load_checkpoint
from examples.msg3d.config import INT_RANGES
from examples.msg3d.pyskl_pipeline import pipeline_from_dict
from skelgraph.data import (
    SkeletonFormatError,
    SkeletonSample,
    average_clip_scores,
    read_array_file,
    read_joint_rows,
    read_kinetics_json,
    read_ntu_skeleton,
    read_nucla_json,
    read_openpose_folder,
    read_pose_pickle,
)
from skelgraph.data.readers._common import load_json

__all__ = ["Predictor", "load_checkpoint", "main", "read_input"]

NUM_CLIPS = (1, 100)  # pyskl tests with 10; every clip is a batch item of the model
TOP_K = (1, 1000)


class Predictor:
    """A checkpoint's model and pipeline, ready for samples.

    Parameters
    ----------
    checkpoint : dict
        From :func:`load_checkpoint` (which checks it: see
        :mod:`examples.msg3d.checkpoint`).
    device : str or torch.device
    """

    def __init__(self, checkpoint: dict[str, Any], device: str | torch.device = "cpu") -> None:
        self.model = build_model(checkpoint["model_config"])
        self.model.load_state_dict(checkpoint["model"])
        self.model.to(device).eval()
        self.device = torch.device(device)
        self.pipeline = pipeline_from_dict(checkpoint["pipeline"])
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
        return top_k(self.probabilities(sample, num_clips), self.class_names, k)


def top_k(probs: torch.Tensor, class_names: Sequence[str], k: int = 5) -> list[dict]:
    """The ``k`` largest of ``probs`` (K,): ``{"rank", "class", "name", "probability"}``."""
    values, indices = probs.topk(min(k, len(probs)))
    return [
        {"rank": r + 1, "class": int(i), "name": class_names[i], "probability": float(p)}
        for r, (p, i) in enumerate(zip(values.tolist(), indices.tolist()))
    ]


def fused_probabilities(
    predictors: Sequence[Predictor],
    sample: SkeletonSample,
    num_clips: int = 1,
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    r"""pyskl's fusion of streams: :math:`\sum_i w_i p_i / \sum_i w_i`, each :math:`p_i`
    one checkpoint's clip-averaged probabilities (its own pipeline) of the same sample.

    Parameters
    ----------
    predictors : sequence of Predictor
        One per stream, the same classes.
    sample : SkeletonSample
    num_clips : int
    weights : sequence of float, optional
        One per predictor, default all 1 (pyskl: 2 2 1 1 for j, b, jm, bm).
    """
    weights = [1.0] * len(predictors) if weights is None else list(weights)
    fused = sum(w * p.probabilities(sample, num_clips) for w, p in zip(weights, predictors))
    return fused / sum(weights)


def load_weights(name: str, device: str | torch.device = "cpu") -> dict:
    """The converted checkpoint of a released model (:mod:`examples.msg3d.weights`),
    downloaded once; a ``SystemExit`` naming the problem when that fails (offline, say)."""
    from examples.msg3d.weights import DownloadError, get_weights  # downloads only here

    try:
        checkpoint = get_weights(name).checkpoint(progress=sys.stderr.isatty())
    except (DownloadError, ValueError) as error:
        raise SystemExit(f"--weights {name}: {error}") from None
    checkpoint["model"] = {k: v.to(device) for k, v in checkpoint["model"].items()}
    return checkpoint


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
    if not path.exists():
        raise SystemExit(f"{path}: no such file or folder")
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
            content = load_json(path)  # within the readers' budget, as they read it
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
    p = cli.Parser(
        description="Top-5 actions of skeleton files with a train.py checkpoint.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="best.pt or last.pt of train.py")
    source.add_argument(
        "--weights",
        action="append",
        metavar="NAME",
        help="a released checkpoint by name (see examples/msg3d/weights.py); repeat to fuse "
        "streams",
    )
    p.add_argument(
        "--fusion-weights",
        type=cli.bounded_float(0.0),
        nargs="+",
        metavar="W",
        help="one weight per --weights (default: all 1; pyskl's four streams: 2 2 1 1)",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="skeleton files or folders")
    p.add_argument("--split", help="pose pickles: only this split's samples (default: all)")
    p.add_argument(
        "--num-clips", type=cli.bounded_int(*NUM_CLIPS), default=1,
        help=f"test clips averaged per input ({NUM_CLIPS[0]}..{NUM_CLIPS[1]})",
    )  # fmt: skip
    p.add_argument(
        "--top-k", type=cli.bounded_int(*TOP_K), default=5,
        help="how many of the likeliest classes to list per input ({}..{})".format(*TOP_K),
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument(
        "--device", type=cli.device, default="cpu", help="where to run: cpu, cuda, cuda:1, mps"
    )
    p.add_argument(
        "--threads",
        type=cli.bounded_int(*INT_RANGES["threads"]),
        metavar="N",
        help=cli.THREADS_HELP,
    )
    return p


def build_predictors(args: argparse.Namespace) -> list[Predictor]:
    """The predictors of ``--checkpoint`` or of every ``--weights``; a ``SystemExit`` for
    ``--fusion-weights`` not one per ``--weights``, or streams of other classes or
    layouts."""
    if args.checkpoint is not None:
        if args.fusion_weights is not None:
            raise SystemExit("--fusion-weights goes with several --weights")
        return [Predictor(load_checkpoint(args.checkpoint, args.device), args.device)]
    if args.fusion_weights is not None and len(args.fusion_weights) != len(args.weights):
        raise SystemExit(
            f"--fusion-weights: {len(args.fusion_weights)} weights for "
            f"{len(args.weights)} --weights"
        )
    predictors = [Predictor(load_weights(n, args.device), args.device) for n in args.weights]
    kinds = {(len(p.class_names), p.graph.name) for p in predictors}
    if len(kinds) > 1:
        raise SystemExit(f"--weights of different classes or layouts cannot fuse: {kinds}")
    return predictors


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads or cli.default_threads())
    predictors = build_predictors(args)
    predictor = predictors[0]
    results = []
    for item in args.inputs:
        for name, sample in read_input(item, predictor, split=args.split):
            try:
                probs = fused_probabilities(predictors, sample, args.num_clips, args.fusion_weights)
            except ValueError as error:
                raise SystemExit(f"{name}: {error}") from None
            top = top_k(probs, predictor.class_names, args.top_k)
            results.append({"input": name, "label": sample.label, "top": top})
    if args.json:
        source = args.checkpoint or args.weights
        json.dump({"checkpoint": source, "predictions": results}, sys.stdout)
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
    raise SystemExit(cli.run(main))
