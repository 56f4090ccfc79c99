"""Train MS-G3D Net on skeleton data with the paper's recipe, on CPU, one GPU or many.

The recipe is in :mod:`examples.msg3d.config`, the data in :mod:`examples.msg3d.datasets`,
the model in :mod:`examples.msg3d.model_setup`, the loop in :mod:`examples.msg3d.engine`.
Every option can come from the command line or from a JSON file (``--config``, keys named
like the options with ``_`` for ``-``; the command line wins). A value out of its range,
a file that cannot be read, an output folder in use: one line on stderr, exit status 2.

Outputs in ``--out``: ``last.pt`` and ``best.pt`` (:mod:`examples.msg3d.checkpoints`),
``metrics.json``, ``curves.png``, and for the final epoch ``val_scores.npz`` and
``confusion.png`` (:mod:`examples.msg3d.logs`). The accuracy to report is the final
epoch's (``metrics.json`` ``"final"``): ``best.pt`` and ``"best"`` are the epoch of highest
top-1 on the validation data, which for N-UCLA and the pose pickles' ``*_val`` splits is
the test set, so picking it there overstates the accuracy. A folder that holds a run is refused
unless ``--resume`` continues it or ``--overwrite`` replaces it; ``train.lock`` keeps a
second run out (:mod:`examples.msg3d.run_folder`).

Usage::

    python -m examples.msg3d.train --dataset nw-ucla --data-root ../shared/fixtures/nw-ucla \\
        --out runs/nucla
    torchrun --nproc-per-node 4 -m examples.msg3d.train ...   # DistributedDataParallel
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from examples.msg3d import cli, logs
from examples.msg3d.config import (
    FEEDERS,
    MILESTONE_RANGE,
    ROTATE_AXES,
    TrainConfig,
    check_types,
    float_setting,
    int_setting,
)
from examples.msg3d.distributed import process_group, world
from examples.msg3d.engine import train
from examples.msg3d.model import PRESETS
from skelgraph.amp import AMP_DTYPES
from skelgraph.data import STREAMS

__all__ = ["build_parser", "main", "parse_args"]

PROG = "train.py"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; defaults come from :class:`TrainConfig`, ranges from
    :data:`~examples.msg3d.config.INT_RANGES` and :data:`~examples.msg3d.config.FLOAT_RANGES`."""
    d = TrainConfig()
    p = cli.Parser(
        prog=PROG,
        description="Train MS-G3D Net (examples/msg3d/model.py) with the paper's recipe.",
    )
    p.add_argument("--config", help="JSON file of option values (command line overrides it)")
    g = p.add_argument_group("data")
    g.add_argument(
        "--dataset", choices=("nw-ucla", "arrays", "pose-pickle"), default=d.dataset,
        help="N-UCLA files (--data-root), preprocessed .npy arrays (--train-data ...) or a "
        "pose pickle (--annotations ...)",
    )  # fmt: skip
    g.add_argument("--data-root", help="nw-ucla: the folder holding all_sqe/")
    for part in ("train", "test"):
        g.add_argument(f"--{part}-data", help=f"arrays: {part} array (N, C, T, V, M) .npy")
        g.add_argument(f"--{part}-labels", help=f"arrays: {part} labels (N,) .npy")
    g.add_argument("--annotations", help="pose-pickle: the pyskl / mmaction2 annotation file")
    g.add_argument("--train-split", help="pose-pickle: split to train on (e.g. xsub_train)")
    g.add_argument("--val-split", help="pose-pickle: split to validate on (e.g. xsub_val)")
    g.add_argument(
        "--layout", help="graph: a layout name or a layout JSON file (default: the data's)"
    )
    g.add_argument("--stream", choices=STREAMS, default=d.stream, help="input stream")
    g.add_argument(
        "--persons", type=int_setting("persons"),
        help="pose-pickle: persons M per clip (default: the preset's)",
    )  # fmt: skip
    g.add_argument("--cache-dir", help="nw-ucla: preprocessed-data cache (default: OUT/cache)")
    g.add_argument(
        "--frames", type=int_setting("frames"), default=d.frames,
        help="nw-ucla and pose-pickle: frames per clip (arrays are used as they are)",
    )  # fmt: skip
    g.add_argument(
        "--feeder",
        choices=FEEDERS,
        default=d.feeder,
        help="nw-ucla: 'paper' (fill, centre, align, resample to --frames, cached) or "
        "'ctrgcn' (CTR-GCN's feeder: centre on frame 0, augment, min-max to [-1, 1], "
        "--frames drawn with replacement and sorted / evenly spaced when testing)",
    )
    g.add_argument(
        "--align",
        action=argparse.BooleanOptionalAction,
        default=d.align,
        help="nw-ucla and 3-D pose-pickle data: rotate each sequence to the spine/shoulder "
        "axes of its first frame",
    )
    g.add_argument(
        "--rotate-degrees", type=float_setting("rotate_degrees"), default=d.rotate_degrees,
        help="random rotation ± this about each axis when training",
    )  # fmt: skip
    g.add_argument(
        "--rotate-axes", choices=ROTATE_AXES, default=d.rotate_axes,
        help="the axes the random rotation turns about",
    )  # fmt: skip
    g.add_argument(
        "--scale", type=float_setting("scale"), default=d.scale, help="random scale 1 ± this"
    )
    g.add_argument(
        "--subset", type=int_setting("subset"),
        help="keep N evenly spaced items of each split (default: all)",
    )  # fmt: skip
    g = p.add_argument_group("model")
    g.add_argument(
        "--preset", choices=sorted(PRESETS), default=d.preset,
        help="model size, graph and classes (examples/msg3d/model.py)",
    )  # fmt: skip
    g.add_argument(
        "--aggregation", choices=("disentangled", "powering"), default=d.aggregation,
        help="multi-scale graph: disentangled k-adjacency (the paper's) or adjacency powering",
    )  # fmt: skip
    g.add_argument(
        "--num-classes", type=int_setting("num_classes"),
        help="classes (default: from the data or the preset)",
    )  # fmt: skip
    g.add_argument("--class-names", help="text file, one class name per line")
    g.add_argument(
        "--model-args",
        type=cli.json_object,
        help="JSON object of MSG3DNet arguments, e.g. '{\"channels\": [16, 32, 64]}'",
    )
    g.add_argument(
        "--causal", action=argparse.BooleanOptionalAction, default=d.causal,
        help="causal temporal windows (every one ends on its output frame): the stream "
        "has no delay and predicts from the first frame (docs: Online inference)",
    )  # fmt: skip
    g.add_argument(
        "--init-from", metavar="CKPT",
        help="start from the weights of this train.py checkpoint (same model but for "
        "--causal, e.g. a symmetric model to fine-tune into a causal one); a new run",
    )  # fmt: skip
    g = p.add_argument_group("recipe")
    g.add_argument("--epochs", type=int_setting("epochs"), default=d.epochs, help="training epochs")
    g.add_argument(
        "--min-prefix", type=float_setting("min_prefix"), default=d.min_prefix, metavar="FRACTION",
        help="train each batch on its clips' first L frames, L uniform in [FRACTION T, T] "
        "in steps of the model's stride (early recognition; 1: whole clips)",
    )  # fmt: skip
    g.add_argument(
        "--whole-clips", type=float_setting("whole_clips"), default=d.whole_clips,
        metavar="SHARE", help="with --min-prefix, the share of batches trained on whole clips "
        "(0: every batch on a drawn prefix)",
    )  # fmt: skip
    g.add_argument(
        "--repeat", type=int_setting("repeat"), default=d.repeat,
        help="passes over the training set per epoch (CTR-GCN's N-UCLA recipe: 5)",
    )  # fmt: skip
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
    g.add_argument(
        "--batch-size", type=int_setting("batch_size"), default=d.batch_size, help="global batch"
    )
    g.add_argument(
        "--forward-batch-size",
        type=int_setting("forward_batch_size"),
        help="forward each batch in parts of this size, gradients accumulated (default: the "
        "whole batch)",
    )
    g.add_argument(
        "--test-batch-size", type=int_setting("test_batch_size"), default=d.test_batch_size,
        help="batch when testing",
    )  # fmt: skip
    g.add_argument(
        "--lr", type=float_setting("lr"), default=d.lr, help="rate for a batch of --base-batch"
    )
    g.add_argument(
        "--base-batch", type=int_setting("base_batch"), default=d.base_batch,
        help="the batch size --lr is given for",
    )  # fmt: skip
    g.add_argument(
        "--scale-lr",
        action=argparse.BooleanOptionalAction,
        default=d.scale_lr,
        help="scale --lr by --batch-size / --base-batch (linear scaling rule)",
    )
    g.add_argument(
        "--momentum", type=float_setting("momentum"), default=d.momentum, help="SGD momentum"
    )
    g.add_argument(
        "--nesterov", action=argparse.BooleanOptionalAction, default=d.nesterov,
        help="Nesterov momentum",
    )  # fmt: skip
    g.add_argument(
        "--weight-decay", type=float_setting("weight_decay"), default=d.weight_decay,
        help="L2 penalty on every parameter",
    )  # fmt: skip
    g.add_argument(
        "--milestones", type=cli.bounded_int(*MILESTONE_RANGE), nargs="+",
        help="epochs after which the rate is multiplied by --gamma (default: 60%% and 80%% "
        "of --epochs)",
    )  # fmt: skip
    g.add_argument(
        "--warmup-epochs", type=int_setting("warmup_epochs"), default=d.warmup_epochs,
        help="linear warm-up: epoch e (from 0) at lr · (e + 1) / this (default: none)",
    )  # fmt: skip
    g.add_argument(
        "--gamma",
        type=float_setting("gamma"),
        default=d.gamma,
        help="rate factor at each milestone",
    )
    g = p.add_argument_group("run")
    g.add_argument("--out", default=d.out, help="output folder")
    g.add_argument(
        "--resume", nargs="?", const="last",
        help="continue the run of this checkpoint (--resume alone: OUT/last.pt)",
    )  # fmt: skip
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run found in --out (default: refuse a folder that holds one)",
    )
    g.add_argument(
        "--override-resumed",
        action="store_true",
        help="with --resume: train on with this command's settings where they differ from "
        "the checkpoint's (default: refuse)",
    )
    g.add_argument(
        "--seed", type=int_setting("seed"), default=d.seed,
        help="random seed: initial weights, data order, augmentation",
    )  # fmt: skip
    g.add_argument(
        "--threads",
        type=int_setting("threads"),
        help=cli.THREADS_HELP,
    )
    g.add_argument(
        "--workers",
        type=int_setting("workers"),
        default=d.workers,
        help="DataLoader worker processes",
    )
    g.add_argument(
        "--device", default=d.device,
        help="where to train: auto (a GPU if there is one, else the CPU), cpu, cuda, cuda:1, ...",
    )  # fmt: skip
    g.add_argument("--tensorboard", help="also log to this TensorBoard folder")
    g.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=d.progress,
        help="report progress within each epoch: bars on a terminal, otherwise a line every "
        f"{logs.HEARTBEAT_SECONDS:g} s with the time left; --no-progress keeps only the "
        "per-epoch lines and the summary",
    )  # fmt: skip
    g.add_argument(
        "--quiet", action="store_true",
        help="print nothing while training: no progress, no per-epoch lines, no summary "
        "(errors still go to stderr; metrics.json has every epoch)",
    )  # fmt: skip
    return p


def _read_config(path: str) -> dict[str, object]:
    """A ``--config`` file: a small JSON object of option values of the right types."""
    text = cli.read_text(path, "--config")
    try:
        values = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise SystemExit(f"--config {path}: not a JSON object of options ({error})") from None
    if not isinstance(values, dict):
        raise SystemExit(f"--config {path}: expected a JSON object, got {type(values).__name__}")
    check_types(values, f"--config {path}")
    return values


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """A :class:`TrainConfig` from command-line arguments (and ``--config``), in range."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    first, _ = parser.parse_known_args(argv)
    if first.config:
        try:
            parser.set_defaults(**_read_config(first.config))
        except SystemExit as error:
            parser.error(str(error))
    args = vars(parser.parse_args(argv))
    args.pop("config")
    cfg = TrainConfig(**args)
    try:
        cfg.validate()  # the values of a --config file, which argparse does not check
    except SystemExit as error:
        parser.error(str(error))
    return cfg


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; sets up and tears down ``torch.distributed`` under torchrun.

    A refusal is a ``SystemExit("message")`` (:mod:`examples.msg3d.cli`'s contract: run as
    a command, one line on stderr and exit status 2).
    """
    cfg = parse_args(argv)
    try:
        with process_group(cfg.device):
            history = train(cfg)
    except OSError as error:  # a file the run needed, named by the error
        where = f"{error.filename}: " if error.filename else ""
        raise SystemExit(f"{where}{error.strerror or error}") from None
    if history and world()[0] == 0 and not cfg.quiet:
        final = history[-1]
        print(
            f"final epoch {final['epoch']}: test top-1 {final['test_top1']:.4f} "
            f"(the number to report; best.pt is the highest epoch on this same test data); "
            f"outputs in {cfg.out}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
