"""Table 1 of MS-G3D on real data: disentangled (-D) vs powering (-E), paired by seed.

Section 4.3 / Table 1 of Liu et al. (CVPR 2020) compare single-pathway models whose graph
convolutions aggregate K scales either by adjacency powering, ``norm(Ã)^k`` (Eq. 2; the
"-E" rows) or by the disentangled k-adjacency, ``norm(Ã_(k))`` (Eq. 3-4; "-D"), with the
learnable residual masks ``A_res``. This script does the same on Northwestern-UCLA,
cross-view (train views 1, 2; test view 3), with small models that train on a CPU:

- **GCN-E / GCN-D**: data BN → L × [:class:`~skelgraph.DisentangledGraphConv` (K scales)
  → :class:`~skelgraph.MSTemporalConv` (stride 2 after the first layer)] → pool → linear;
- **G3D-E / G3D-D**: the same with :class:`~skelgraph.G3DConv` (3-frame cross-spacetime
  windows, K scales) in place of the graph convolution.

``aggregation`` is ``"powering"`` for -E and ``"disentangled"`` for -D; ``residual_mask``
toggles the masks. K runs over ``--scales`` (default 1, 4, 8, 12), bounded by the layout:
the 20-joint Kinect v1 layout has diameter 10, so a requested K above D + 1 = 11 is
clipped to 11. At K = 1 both modes are the same operator (``Ã_(0) = norm(Ã)^0 = I``) with
the same initial weights, so only -D is trained there and the difference is 0 by
construction.

**Paired seeds.** The -D and -E runs of one seed share everything but the adjacency: the
same initial weights (their parameters have the same shapes and are drawn after
``set_seed(seed)``), the same batches in the same order and the same augmentation draws
(both follow ``(seed, epoch)`` in :mod:`examples.msg3d.engine`). Per (family, masks, K)
the script reports the paired difference D − E of the final-epoch top-1 over the seeds
run for both, with a 95 % Student-t confidence interval (mean ± t₀.₉₇₅,ₙ₋₁ · s / √n), and
reads it: "D better" (interval above 0), "E better" (below 0), or "no difference shown".

**Recipe.** Every run uses one ``train.py`` recipe, by default CTR-GCN's N-UCLA recipe
(``examples/msg3d/configs/nw-ucla-ctrgcn.json``: its feeder, augmentation and optimizer)
shortened by ``--epochs``, ``--frames``, ``--repeat``, ``--warmup-epochs`` and
``--milestones``; the final epoch is reported, never the best on the test view.

Run from the repository root (the data folder defaults to ``../shared/fixtures/nw-ucla``)::

    python -m benchmarks.accuracy --threads 1                  # the default grid
    python -m benchmarks.accuracy --families gcn --scales 4 --seeds 0 1 2 --resume
    python -m benchmarks.accuracy --report                     # rewrite the files from the csv
    python -m benchmarks.accuracy --merge RUN1 RUN2            # add their runs, then report
    python -m benchmarks.accuracy --quick                      # one tiny run, temp folder

Outputs in ``--out`` (default ``benchmarks/results``; ``--quick`` without ``--out`` writes
to a new temporary folder), all computed from ``accuracy.csv`` (one line per run):
``accuracy.md`` (header, per-cell top-1 with 95 % intervals, the paired differences and
what of the requested grid is still missing, with the command that finishes it),
``accuracy-paired.csv`` (the differences) and ``accuracy.png`` (top-1 against K with the
intervals). They are rewritten after every run; ``--resume`` keeps the runs already in
``accuracy.csv`` with the same settings (and the earlier command lines) and trains only
what is missing. Processes that share the work (one per core or per machine) each write
to their own ``--out`` (started from a copy of the results, with ``--resume``);
``--merge`` then adds their runs and command lines to ``--out`` and reports. The earlier
3-seed, 6-epoch grid is kept as ``accuracy-toy.md``.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import itertools
import math
import operator
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import skelgraph
from benchmarks.provenance import command_line
from examples.msg3d import cli
from examples.msg3d.config import MILESTONE_RANGE, TrainConfig, int_setting
from examples.msg3d.datasets import build_datasets
from examples.msg3d.engine import set_seed, train
from skelgraph import DisentangledGraphConv, G3DConv, MSTemporalConv, SkeletonGraph

ROOT = Path(__file__).resolve().parents[1]

LAYOUT = "kinect-v1-20"
NUM_CLASSES = 10
DEFAULT_DATA = ROOT.parent / "shared" / "fixtures" / "nw-ucla"
FAMILIES = {"gcn": "GCN", "g3d": "G3D"}
AGGREGATIONS = {"powering": "E", "disentangled": "D"}


class SinglePathwayNet(nn.Module):
    """A one-pathway model of Table 1: graph layers (GCN or G3D) each followed by an MS-TCN.

    Input (N, C, T, V, M) as :class:`examples.msg3d.model.MSG3DNet`; output logits.
    """

    def __init__(
        self,
        family: str,
        aggregation: str,
        residual_mask: bool,
        num_scales: int,
        *,
        graph: str = LAYOUT,
        channels: Sequence[int] = (24, 48),
        num_classes: int = NUM_CLASSES,
        in_channels: int = 3,
        num_persons: int = 1,
    ) -> None:
        super().__init__()
        g = SkeletonGraph.coerce(graph)
        self.data_bn = nn.BatchNorm1d(num_persons * g.num_nodes * in_channels)
        layers: list[nn.Module] = []
        for i, (c_in, c_out) in enumerate(itertools.pairwise([in_channels, *channels])):
            common = {"aggregation": aggregation, "residual_mask": residual_mask}
            if family == "gcn":
                layers.append(DisentangledGraphConv(c_in, c_out, g, num_scales, **common))
            elif family == "g3d":
                layers.append(
                    G3DConv(
                        c_in,
                        c_out,
                        g,
                        window_size=3,
                        num_scales=num_scales,
                        embed_channels=c_out if i == 0 else c_in,
                        **common,
                    )
                )
            else:
                raise ValueError(f"family must be 'gcn' or 'g3d', got {family!r}")
            layers.append(MSTemporalConv(c_out, c_out, stride=1 if i == 0 else 2))
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(channels[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        x = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t))
        x = x.view(n * m, v, c, t).permute(0, 2, 3, 1)
        x = self.layers(x)
        return self.fc(x.reshape(n, m, x.shape[1], -1).mean(3).mean(1))


def model_name(family: str, aggregation: str) -> str:
    """``GCN-E``, ``GCN-D``, ``G3D-E`` or ``G3D-D``."""
    return f"{FAMILIES[family]}-{AGGREGATIONS[aggregation]}"


def bounded_scales(scales: Sequence[int], graph: str = LAYOUT) -> tuple[list[int], int]:
    """The K values clipped to diameter + 1 (deduplicated, in order), and that bound."""
    bound = SkeletonGraph.coerce(graph).diameter + 1
    out: list[int] = []
    for k in scales:
        if k < 1:
            raise ValueError(f"K must be >= 1, got {k}")
        k = min(k, bound)
        if k not in out:
            out.append(k)
    return out, bound


# --------------------------------------------------------------------------- statistics
CONFIG = ROOT / "examples" / "msg3d" / "configs" / "nw-ucla-ctrgcn.json"
FIELDS = ["model", "mask", "K", "seed", "setting", "final_top1", "seconds", "parameters"]
Cell = tuple[str, bool, int]  # (model, masks, K)


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t interval, ``t_{(1+level)/2, n-1} · s / √n``
    (half-width NaN for fewer than two values)."""
    from scipy import stats

    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.nan
    spread = statistics.stdev(values) / math.sqrt(len(values))
    return mean, float(stats.t.ppf((1 + level) / 2, len(values) - 1)) * spread


def by_cell(rows: Sequence[dict[str, Any]]) -> dict[Cell, dict[int, float]]:
    """Final top-1 (%) of every run, ``{(model, masks, K): {seed: top-1}}``."""
    cells: dict[Cell, dict[int, float]] = {}
    for r in rows:
        cells.setdefault((r["model"], r["mask"], r["K"]), {})[r["seed"]] = 100 * r["final_top1"]
    return cells


def reading(low: float, high: float) -> str:
    """What a 95 % interval of D − E says."""
    if math.isnan(low):
        return "too few seeds"
    if low > 0:
        return "D better"
    if high < 0:
        return "E better"
    return "no difference shown"


def paired_differences(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (family, masks, K): the seeds run for both -D and -E, their means, and D − E
    (points) with its 95 % t interval. K = 1 (one operator, the identity): the -D seeds,
    difference 0 by construction."""
    cells = by_cell(rows)
    out = []
    for (model, mask, k), d_runs in sorted(cells.items()):
        family, mode = model.split("-")
        if mode != "D":
            continue
        e_runs = d_runs if k == 1 else cells.get((f"{family}-E", mask, k), {})
        seeds = sorted(set(d_runs) & set(e_runs))
        if not seeds:
            continue
        diffs = [d_runs[s] - e_runs[s] for s in seeds]
        mean, half = t_interval(diffs)
        if k == 1:
            half = 0.0
        out.append(
            {
                "family": family,
                "mask": mask,
                "K": k,
                "seeds": len(seeds),
                "D": statistics.fmean(d_runs[s] for s in seeds),
                "E": statistics.fmean(e_runs[s] for s in seeds),
                "diff": mean,
                "low": mean - half,
                "high": mean + half,
                "reading": "identical (K = 1)" if k == 1 else reading(mean - half, mean + half),
            }
        )
    return out


# --------------------------------------------------------------------------- reporting
def run_header(argv: Sequence[str], threads: int) -> list[str]:
    """Markdown lines: title, command, date, versions, machine and threads."""
    uname = platform.uname()
    return [
        "# Table 1 on N-UCLA cross-view: disentangled (-D) vs powering (-E), paired seeds",
        "",
        f"- command: `{command_line('accuracy', argv)}`",
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- skelgraph {skelgraph.__version__}, torch {torch.__version__}, "
        f"numpy {np.__version__}, Python {platform.python_version()}",
        f"- machine: {uname.system} {uname.machine}, {os.cpu_count()} logical CPUs "
        f"(shared with other work), torch threads {threads}",
    ]


def _ci(values: Sequence[float]) -> str:
    mean, half = t_interval(values)
    if math.isnan(half):
        return f"{mean:.1f} (n=1)"
    return f"{mean:.1f} ± {half:.1f} (n={len(values)})"


def cell_table(rows: Sequence[dict[str, Any]], scales: Sequence[int]) -> list[str]:
    """Top-1 per (model, masks) and K: mean ± 95 % half-width (n seeds)."""
    cells = by_cell(rows)
    keys = sorted({(m, mask) for m, mask, _ in cells} | {
        (m[:-1] + "E", mask) for m, mask, _ in cells if m.endswith("D")
    }, key=lambda km: (km[0], not km[1]))  # fmt: skip
    lines = [
        "| model | masks | " + " | ".join(f"K = {k}" for k in scales) + " |",
        "|---|---|" + "---|" * len(scales),
    ]
    for model, mask in keys:
        values = []
        for k in scales:
            runs = cells.get((model, mask, k))
            if k == 1 and model.endswith("E"):
                values.append("= D (same operator)")
            else:
                values.append(_ci(list(runs.values())) if runs else "–")
        lines.append(f"| {model} | {'yes' if mask else 'no'} | " + " | ".join(values) + " |")
    return lines


def paired_table(pairs: Sequence[dict[str, Any]]) -> list[str]:
    """The paired differences as Markdown."""
    lines = [
        "| family | masks | K | paired seeds | D | E | D − E [95 % CI] | reading |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in pairs:
        interval = "" if math.isnan(p["low"]) else f" [{p['low']:+.1f}, {p['high']:+.1f}]"
        lines.append(
            f"| {p['family']} | {'yes' if p['mask'] else 'no'} | {p['K']} | {p['seeds']} | "
            f"{p['D']:.1f} | {p['E']:.1f} | {p['diff']:+.1f}{interval} | {p['reading']} |"
        )
    return lines


def missing(grid: Sequence[tuple[str, str, int, int]], rows: Sequence[dict[str, Any]]) -> int:
    """How many runs of ``grid`` ((model, masks, K, seed)) ``rows`` lacks."""
    done = {(r["model"], "on" if r["mask"] else "off", r["K"], r["seed"]) for r in rows}
    return sum(run not in done for run in grid)


def write_outputs(
    out: Path,
    rows: list[dict[str, Any]],
    kept: list[dict[str, Any]],
    header: list[str],
    notes: list[str],
    remaining: list[str],
) -> None:
    """``accuracy.csv`` (``rows`` and the ``kept`` runs of other settings), and from the
    runs of this setting ``accuracy.md``, ``accuracy-paired.csv`` and ``accuracy.png``."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "accuracy.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([*kept, *rows])
    pairs = paired_differences(rows)
    with open(out / "accuracy-paired.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(pairs[0]) if pairs else ["family"])
        writer.writeheader()
        for p in pairs:
            writer.writerow({k: round(v, 3) if isinstance(v, float) else v for k, v in p.items()})
    scales = sorted({r["K"] for r in rows})
    text = [
        *header,
        *notes,
        "",
        "## Final-epoch top-1 (%), mean ± 95 % t-interval half-width (n seeds)",
        "",
        *cell_table(rows, scales),
        "",
        "## Paired difference D − E (points), same seeds, 95 % t-interval",
        "",
        *paired_table(pairs),
        "",
        "## Still to run",
        "",
        *remaining,
        "",
    ]
    (out / "accuracy.md").write_text("\n".join(text))
    plot(rows, pairs, out / "accuracy.png")


def plot(rows: Sequence[dict[str, Any]], pairs: Sequence[dict[str, Any]], path: Path) -> None:
    """Top: top-1 against K, mean ± 95 % interval, -D and -E; bottom: D − E ± interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = by_cell(rows)
    families = sorted({m.split("-")[0] for m, _, _ in cells}, reverse=True)  # GCN, G3D
    fig, axes = plt.subplots(
        2, len(families), figsize=(5 * len(families), 6.5), squeeze=False, sharex="col"
    )
    for col, family in enumerate(families):
        ax = axes[0, col]
        for mode, color, marker, shift in (("D", "C0", "o", 0.08), ("E", "C3", "s", -0.08)):
            for mask in sorted({msk for m, msk, _ in cells if m.startswith(family)}):
                source = f"{family}-{mode}"
                ks = sorted(k for m, msk, k in cells if (m, msk) == (f"{family}-D", mask))
                ks = [k for k in ks if (source, mask, k) in cells or k == 1]
                stats_ = [t_interval(list(cells[f"{family}-D" if k == 1 else source, mask, k]
                                          .values())) for k in ks]  # fmt: skip
                ax.errorbar(
                    [k + shift for k in ks],
                    [m for m, _ in stats_],
                    yerr=[0.0 if math.isnan(h) else h for _, h in stats_],
                    color=color, marker=marker, capsize=3, linestyle="-" if mask else "--",
                    label=f"{family}-{mode}{' + masks' if mask else ', no masks'}",
                )  # fmt: skip
        ax.set(ylabel="top-1 (%), mean ± 95 % CI", title=f"{family}: N-UCLA cross-view")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax = axes[1, col]
        ax.axhline(0, color="k", lw=0.8)
        for mask in (True, False):
            mine = [p for p in pairs if p["family"] == family and p["mask"] == mask]
            if not mine:
                continue
            ax.errorbar(
                [p["K"] for p in mine],
                [p["diff"] for p in mine],
                yerr=[0.0 if math.isnan(p["low"]) else p["diff"] - p["low"] for p in mine],
                marker="o", capsize=3, color="C2", linestyle="-" if mask else "--",
                label=f"D − E{' + masks' if mask else ', no masks'} (paired seeds)",
            )  # fmt: skip
        ax.set_xticks(sorted({k for m, _, k in cells if m.startswith(family)}))
        ax.set(xlabel="K (scales)", ylabel="D − E (points), 95 % CI")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def read_runs(path: Path) -> list[dict[str, Any]]:
    """The rows of an ``accuracy.csv`` (empty when there is none)."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [
            {
                "model": r["model"],
                "mask": r["mask"] == "True",
                "K": int(r["K"]),
                "seed": int(r["seed"]),
                "setting": r["setting"],
                "final_top1": float(r["final_top1"]),
                "seconds": float(r["seconds"]),
                "parameters": int(r["parameters"]),
            }
            for r in csv.DictReader(f)
        ]


def _header_of(path: Path) -> list[str]:
    """The lines of an earlier ``accuracy.md`` before its first section (``--report``)."""
    lines = path.read_text().splitlines() if path.is_file() else []
    first = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
    return lines[: max(first - 1, 0)]


def merged(
    rows: list[dict[str, Any]], header: list[str], folders: Sequence[Path]
) -> tuple[list[dict[str, Any]], list[str]]:
    """``rows`` and ``header`` with the runs of other output folders added (a run that
    ``rows`` already holds, by model, masks, K, seed and setting, is kept as it is) and
    their command lines as "earlier command" lines."""
    key = operator.itemgetter("model", "mask", "K", "seed", "setting")
    have, rows, header = {key(r) for r in rows}, list(rows), list(header)
    for folder in folders:
        if not (folder / "accuracy.csv").is_file():
            raise SystemExit(f"--merge: no accuracy.csv in {folder}")
        for row in read_runs(folder / "accuracy.csv"):
            if key(row) not in have:
                have.add(key(row))
                rows.append(row)
        known = set(_earlier_commands_of(header))
        header += [c for c in _earlier_commands(folder / "accuracy.md") if c not in known]
    return rows, header


def _earlier_commands_of(lines: Sequence[str]) -> list[str]:
    """The command lines among ``lines``, as "earlier command" lines."""
    out = []
    for line in lines:
        for prefix in ("- command: ", "- earlier command: "):
            if line.startswith(prefix):
                out.append("- earlier command: " + line[len(prefix) :])
    return out


def _earlier_commands(path: Path) -> list[str]:
    """The command lines recorded in an earlier ``accuracy.md``, as "earlier command" lines."""
    return _earlier_commands_of(path.read_text().splitlines()) if path.is_file() else []


# --------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=str(DEFAULT_DATA), help="folder with all_sqe/")
    p.add_argument("--out", help="output folder (default benchmarks/results)")
    p.add_argument("--cache-dir", help="preprocessed-data cache (default: temporary folder)")
    p.add_argument("--config", default=str(CONFIG), help="train.py recipe (JSON config)")
    p.add_argument("--families", nargs="+", choices=tuple(FAMILIES), default=list(FAMILIES))
    p.add_argument(
        "--aggregations", nargs="+", choices=tuple(AGGREGATIONS), default=list(AGGREGATIONS)
    )
    p.add_argument("--masks", nargs="+", choices=("on", "off"), default=["on"])
    p.add_argument("--scales", type=cli.bounded_int(1, 1000), nargs="+", default=[1, 4, 8, 12])
    p.add_argument("--seeds", type=int_setting("seed"), nargs="+", default=list(range(10)))
    p.add_argument("--channels", type=cli.bounded_int(1, 4096), nargs="+", default=[24, 48])
    for name, help_ in (
        ("--epochs", "epochs (default: the recipe's)"),
        ("--frames", "frames per clip (default: the recipe's)"),
        ("--repeat", "passes over the training set per epoch (default: the recipe's)"),
        ("--warmup-epochs", "linear warm-up epochs (default: the recipe's)"),
        ("--batch-size", "batch (default: the recipe's)"),
    ):
        p.add_argument(name, type=int_setting(name[2:].replace("-", "_")), help=help_)
    milestone = cli.bounded_int(*MILESTONE_RANGE)
    p.add_argument("--milestones", type=milestone, nargs="+", help="default: the recipe's")
    p.add_argument(
        "--subset", type=int_setting("subset"), help="N evenly spaced sequences per split"
    )
    p.add_argument("--threads", type=int_setting("threads"), help="torch threads (default: all)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs already in OUT/accuracy.csv with the same settings and train "
        "only the grid's missing ones",
    )
    p.add_argument(
        "--report", action="store_true", help="train nothing: rewrite the outputs from the csv"
    )
    p.add_argument(
        "--merge", nargs="+", metavar="DIR", type=Path,
        help="train nothing: add the runs and command lines of these output folders to "
        "--out, then report",
    )  # fmt: skip
    p.add_argument(
        "--quick",
        action="store_true",
        help="one tiny run: GCN-D, masks, K = 4, seed 0, 1 epoch, 1 pass, 8 frames",
    )
    args = p.parse_args(argv)
    args.report = args.report or bool(args.merge)
    if args.quick:
        args.families, args.aggregations, args.masks = ["gcn"], ["disentangled"], ["on"]
        args.scales, args.seeds, args.epochs, args.repeat = [4], [0], 1, 1
        args.warmup_epochs, args.milestones, args.frames = 0, [1], args.frames or 8
    return args


def recipe(args: argparse.Namespace, out: Path, cache: Path) -> TrainConfig:
    """The runs' :class:`TrainConfig`: ``--config`` with this command's overrides."""
    from examples.msg3d.train import parse_args as train_args

    argv = ["--config", args.config, "--data-root", args.data_root, "--out", str(out)]
    argv += ["--cache-dir", str(cache), "--quiet"]
    for name in ("epochs", "frames", "repeat", "warmup_epochs", "batch_size", "subset"):
        if getattr(args, name) is not None:
            argv += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.milestones:
        argv += ["--milestones", *map(str, args.milestones)]
    return train_args(argv)


def setting_of(cfg: TrainConfig, channels: Sequence[int]) -> str:
    """Everything that makes two runs of one (model, masks, K, seed) the same run."""
    return " ".join(
        [
            f"{cfg.feeder} T{cfg.frames} e{cfg.epochs} r{cfg.repeat} w{cfg.warmup_epochs}",
            f"m{'-'.join(map(str, cfg.effective_milestones()))} b{cfg.batch_size}",
            f"lr{cfg.effective_lr():g} wd{cfg.weight_decay:g} rot{cfg.rotate_degrees:g}"
            f"{cfg.rotate_axes} s{cfg.scale:g} c{'-'.join(map(str, channels))}",
            *([f"n{cfg.subset}"] if cfg.subset else []),
        ]
    )


def grid_of(args: argparse.Namespace, scales: Sequence[int]) -> list[tuple[str, str, int, int]]:
    """(model, masks, K, seed) of every run asked for, seed by seed (so an interrupted grid
    has whole pairs), -D before -E; no -E at K = 1 (the same operator as -D)."""
    return [
        (model_name(family, aggregation), mask, k, seed)
        for seed, family, mask, k, aggregation in itertools.product(
            args.seeds, args.families, args.masks, scales, sorted(args.aggregations)
        )
        if not (aggregation == "powering" and k == 1)
    ]


GRID_OPTIONS = ("--families", "--aggregations", "--masks", "--scales", "--seeds")


def finish_command(argv: Sequence[str], *, whole_table: bool = False) -> str:
    """The command that trains what is missing: ``argv`` with ``--resume``, without
    ``--report`` or ``--merge`` (and, for the ``whole_table``, without the options that
    narrow the grid, so the defaults apply)."""
    words, skipping = [], False
    for word in argv:
        if word.startswith("--"):
            skipping = (whole_table and word in GRID_OPTIONS) or word == "--merge"
            if word in ("--resume", "--report", "--merge"):
                continue
        if not skipping:
            words.append(word)
    return " ".join(["python -m benchmarks.accuracy", *words, "--resume"])


def remaining(
    rows: Sequence[dict[str, Any]], grids: dict[str, list], argv: Sequence[str]
) -> list[str]:
    """Markdown lines: per grid (this command's, then the whole table's) how many runs
    are missing, the time they take at this setting's median, and the command."""
    seconds = statistics.median([r["seconds"] for r in rows]) if rows else math.nan
    lines = []
    for (what, grid), whole in zip(grids.items(), (False, True)):
        left = missing(grid, rows)
        if not left:
            lines.append(f"- {what}: nothing, all {len(grid)} runs are in `accuracy.csv`.")
            continue
        lines.append(
            f"- {what}: {left} of {len(grid)} runs (median {seconds:.0f} s per run here: "
            f"about {left * seconds / 3600:.1f} h on one thread); to finish, from the "
            f"repository root: `{finish_command(argv, whole_table=whole)}`"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grid (or only report) and write the outputs; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.out:
        out = Path(args.out)
    elif args.quick:
        out = Path(tempfile.mkdtemp(prefix="skelgraph-accuracy-"))
    else:
        out = ROOT / "benchmarks" / "results"
    cache = Path(args.cache_dir or Path(tempfile.gettempdir()) / "skelgraph-accuracy-cache")
    scales, bound = bounded_scales(args.scales)
    base = recipe(args, out, cache)
    setting = setting_of(base, args.channels)
    grid = grid_of(args, scales)
    earlier = read_runs(out / "accuracy.csv") if args.resume or args.report else []
    merged_header: list[str] = []  # the results' header with the merged command lines
    if args.merge:
        earlier, merged_header = merged(earlier, _header_of(out / "accuracy.md"), args.merge)
        merged_header.append(f"- merged: `{command_line('accuracy', argv)}`")
    rows = [r for r in earlier if r["setting"] == setting]
    kept = [r for r in earlier if r["setting"] != setting]
    if args.report:
        header = merged_header or _header_of(out / "accuracy.md")
        notes: list[str] = []
    else:
        header = run_header(argv, torch.get_num_threads())
        if args.resume:
            header += _earlier_commands(out / "accuracy.md")
        notes = [
            f"- data: N-UCLA cross-view (train views 1, 2; test view 3); recipe "
            f"`{Path(args.config).name}` ({base.feeder} feeder, {base.frames} frames, "
            f"rotation ±{base.rotate_degrees:g}° about {base.rotate_axes}, scale 1 ± "
            f"{base.scale:g}, {base.repeat} passes per epoch), batch {base.batch_size}, SGD "
            f"Nesterov lr {base.effective_lr():g} ({base.warmup_epochs} warm-up epochs, ×"
            f"{base.gamma:g} after epochs {base.effective_milestones()}), weight decay "
            f"{base.weight_decay:g}, {base.epochs} epochs; the final epoch is reported",
            f"- models: single pathway, {len(args.channels)} layers of widths "
            f"{tuple(args.channels)}, each graph layer followed by MS-TCN; G3D: 3-frame windows",
            f"- setting key (csv column `setting`): `{setting}`",
            f"- grid asked for: families {args.families}, masks {args.masks}, K {scales} "
            f"(requested {args.scales}; K ≤ diameter + 1 = {bound}), seeds {args.seeds}; "
            "-E is not run at K = 1, where it is the same operator with the same weights as -D",
            "- pairing: -D and -E of one seed share initial weights, batch order and "
            "augmentation draws; only the adjacency differs",
        ]
    datasets = None
    trained, start_all = 0, time.perf_counter()

    full = parse_args(finish_command(argv, whole_table=True).split()[3:])
    grids = {
        "this command's grid": grid,
        "the whole Table 1 (the default grid)": grid_of(full, bounded_scales(full.scales)[0]),
    }

    done = {(r["model"], "on" if r["mask"] else "off", r["K"], r["seed"]) for r in rows}
    for i, (name, mask, k, seed) in enumerate(grid, 1):
        if args.report or (name, mask, k, seed) in done:
            continue
        if datasets is None:
            if not (Path(args.data_root) / "all_sqe").is_dir():
                raise SystemExit(f"N-UCLA not found: {args.data_root}/all_sqe (pass --data-root)")
            datasets = build_datasets(base)
        family, aggregation = _parse_model(name)
        cfg = TrainConfig(**{**base.__dict__, "seed": seed})
        set_seed(seed)
        model = SinglePathwayNet(family, aggregation, mask == "on", k, channels=args.channels)
        start = time.perf_counter()
        history = train(cfg, model=model, datasets=datasets, write_outputs=False)
        row = {
            "model": name,
            "mask": mask == "on",
            "K": k,
            "seed": seed,
            "setting": setting,
            "final_top1": history[-1]["test_top1"],
            "seconds": round(time.perf_counter() - start, 1),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        rows.append(row)
        trained += 1
        print(
            f"[{i}/{len(grid)}] {name} masks={mask} K={k} seed={seed}: final top-1 "
            f"{100 * row['final_top1']:.1f} % ({row['seconds']:.0f} s)",
            flush=True,
        )
        progress = [f"- this invocation: {trained} runs in {time.perf_counter() - start_all:.0f} s"]
        write_outputs(out, rows, kept, header, [*notes, *progress], remaining(rows, grids, argv))
    if not args.report:
        progress = [f"- this invocation: {trained} runs in {time.perf_counter() - start_all:.0f} s"]
        notes += progress
    write_outputs(out, rows, kept, header, notes, remaining(rows, grids, argv))
    print("\n".join(paired_table(paired_differences(rows))))
    print(f"outputs in {out}")
    return 0


def _parse_model(name: str) -> tuple[str, str]:
    family, mode = name.split("-")
    return (
        next(f for f, label in FAMILIES.items() if label == family),
        next(a for a, label in AGGREGATIONS.items() if label == mode),
    )


if __name__ == "__main__":
    raise SystemExit(main())
