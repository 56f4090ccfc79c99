"""Table 1 of MS-G3D on real data: disentangled vs powered aggregation, with and without masks.

Section 4.3 / Table 1 of Liu et al. (CVPR 2020) compare single-pathway models whose graph
convolutions aggregate K scales either by adjacency powering, ``norm(Ã)^k`` (Eq. 2; the
"-E" rows) or by the disentangled k-adjacency, ``norm(Ã_(k))`` (Eq. 3-4; "-D"), with and
without the learnable residual masks ``A_res``. This script does the same on
Northwestern-UCLA, cross-view (train views 1, 2; test view 3), with small models that train
on a CPU:

- **GCN-E / GCN-D**: data BN → L × [:class:`~skelgraph.DisentangledGraphConv` (K scales)
  → :class:`~skelgraph.MSTemporalConv` (stride 2 after the first layer)] → pool → linear;
- **G3D-E / G3D-D**: the same with :class:`~skelgraph.G3DConv` (3-frame cross-spacetime
  windows, K scales) in place of the graph convolution.

``aggregation`` is ``"powering"`` for -E and ``"disentangled"`` for -D; ``residual_mask``
toggles the masks. K runs over ``--scales`` (default 1, 4, 8, 12), bounded by the layout:
scales k = 0 .. K - 1 reach hop K - 1, and the 20-joint Kinect v1 layout has diameter 10
(also the diameter of its window graphs), so K > D + 1 = 11 adds only empty (disentangled)
or repeated-mass (powering) scales; a requested K above D + 1 is clipped to D + 1 (12 → 11)
and the table says so. Every cell uses the same data, epochs, width and recipe
(``examples/msg3d/train.py``: SGD, Nesterov, lr 0.05 × batch / 32, weight decay 5e-4,
×0.1 at 60 % and 80 % of the epochs), and ≥ 3 seeds; the table gives mean ± std
(sample std, n - 1) of the final-epoch cross-view top-1.

Run from the repository root (the data folder defaults to ``../shared/fixtures/nw-ucla``)::

    python -m benchmarks.accuracy                  # the full grid (about an hour, 2 CPUs)
    python -m benchmarks.accuracy --families gcn --masks on --scales 1 8 --seeds 0 1 2
    python -m benchmarks.accuracy --quick          # one cell: GCN-D, mask, K = 4, 1 seed
    python -m benchmarks.accuracy --families g3d --resume   # add runs to the existing table

Outputs in ``--out`` (default ``benchmarks/results``; ``--quick`` without ``--out`` writes
to a new temporary folder): ``accuracy.md`` (run header and table), ``accuracy.csv`` (one
line per run) and ``accuracy.png``. They are rewritten after every run, so an interrupted
grid leaves the runs it finished; ``--resume`` keeps them (and the earlier command lines)
and trains only what is missing. One run takes about 15-70 s with one torch thread on a
shared 2-CPU box (GCN faster than G3D, larger K slower), so the full 96-run grid takes about
an hour.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import itertools
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
from examples.msg3d.config import TrainConfig
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


# --------------------------------------------------------------------------- reporting
def run_header(argv: Sequence[str], threads: int) -> list[str]:
    """Markdown lines: command, date, versions, machine and threads."""
    uname = platform.uname()
    return [
        "# Table 1 design on N-UCLA cross-view: single-pathway models, -E vs -D, masks",
        "",
        f"- command: `{' '.join(['python -m benchmarks.accuracy', *argv])}`",
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- skelgraph {skelgraph.__version__}, torch {torch.__version__}, "
        f"numpy {np.__version__}, Python {platform.python_version()}",
        f"- machine: {uname.system} {uname.machine}, {os.cpu_count()} logical CPUs "
        f"(shared with other work), torch threads {threads}",
    ]


def summarise(rows: list[dict[str, Any]]) -> dict[tuple[str, bool, int], list[float]]:
    """Final top-1 (%) of every run, grouped by (model, mask, K)."""
    cells: dict[tuple[str, bool, int], list[float]] = {}
    for r in rows:
        cells.setdefault((r["model"], r["mask"], r["K"]), []).append(100 * r["final_top1"])
    return cells


def _fmt(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.1f} (n=1)"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f} (n={len(values)})"


def table(rows: list[dict[str, Any]], scales: Sequence[int]) -> list[str]:
    """The Markdown table: one line per (model, mask), one column per K."""
    cells = summarise(rows)
    keys = sorted({(m, mask) for m, mask, _ in cells}, key=lambda km: (km[0], not km[1]))
    lines = [
        "| model | masks | " + " | ".join(f"K = {k}" for k in scales) + " |",
        "|---|---|" + "---|" * len(scales),
    ]
    for model, mask in keys:
        values = [_fmt(cells.get((model, mask, k), [])) for k in scales]
        lines.append(f"| {model} | {'yes' if mask else 'no'} | " + " | ".join(values) + " |")
    return lines


def write_outputs(
    out: Path,
    rows: list[dict[str, Any]],
    header: list[str],
    notes: list[str],
) -> None:
    """``accuracy.md``, ``accuracy.csv`` and ``accuracy.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    scales = _table_scales(rows)
    text = [*header, *notes, "", *table(rows, scales), ""]
    (out / "accuracy.md").write_text("\n".join(text))
    fields = ["model", "mask", "K", "seed", "epochs", "final_top1", "best_top1", "seconds"]
    fields += ["parameters"]
    with open(out / "accuracy.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, out / "accuracy.png")


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Top-1 against K, mean ± std over seeds: one panel per family, a line per (model, mask)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = summarise(rows)
    families = sorted({m.split("-")[0] for m, _, _ in cells}, reverse=True)  # GCN, G3D
    fig, axes = plt.subplots(1, len(families), figsize=(5 * len(families), 4), squeeze=False)
    for ax, family in zip(axes[0], families):
        for model, mask in sorted({(m, k) for m, k, _ in cells if m.startswith(family)}):
            ks = sorted(k for m, msk, k in cells if (m, msk) == (model, mask))
            runs = [cells[model, mask, k] for k in ks]
            ax.errorbar(
                ks,
                [statistics.mean(r) for r in runs],
                yerr=[statistics.stdev(r) if len(r) > 1 else 0.0 for r in runs],
                marker="o" if model.endswith("D") else "s",
                linestyle="-" if mask else "--",
                color="C0" if model.endswith("D") else "C3",
                alpha=1.0 if mask else 0.6,
                capsize=3,
                label=f"{model}{' + masks' if mask else ', no masks'}",
            )
        ax.set(
            xlabel="K (scales)",
            ylabel="cross-view top-1 (%), mean ± std over seeds",
            title=f"{family}: N-UCLA cross-view (chance 10 %)",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _previous_runs(path: Path) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Rows of an earlier ``accuracy.csv``, keyed by (model, mask, K, seed, epochs, params)."""
    if not path.is_file():
        return {}
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            row = {
                "model": r["model"],
                "mask": r["mask"] == "True",
                "K": int(r["K"]),
                "seed": int(r["seed"]),
                "epochs": int(r["epochs"]),
                "final_top1": float(r["final_top1"]),
                "best_top1": float(r["best_top1"]),
                "seconds": float(r["seconds"]),
                "parameters": int(r["parameters"]),
            }
            key = ("model", "mask", "K", "seed", "epochs", "parameters")
            out[tuple(row[k] for k in key)] = row
    return out


def _earlier_commands(path: Path) -> list[str]:
    """The command lines recorded in an earlier ``accuracy.md``, as "earlier command" lines."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        for prefix in ("- command: ", "- earlier command: "):
            if line.startswith(prefix):
                out.append("- earlier command: " + line[len(prefix) :])
    return out


def _progress(trained: int, seconds: float, previous: dict[Any, Any]) -> list[str]:
    lines = [f"- this invocation: {trained} runs trained in {seconds:.0f} s"]
    if previous:
        lines.append(
            f"- {len(previous)} further runs kept (`--resume`) from `accuracy.csv` of the "
            "earlier commands above, same settings"
        )
    return lines


def _table_scales(rows: list[dict[str, Any]]) -> list[int]:
    return sorted({r["K"] for r in rows})


# --------------------------------------------------------------------------- main
def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=str(DEFAULT_DATA), help="folder with all_sqe/")
    p.add_argument("--out", help="output folder (default benchmarks/results)")
    p.add_argument("--cache-dir", help="preprocessed-data cache (default: temporary folder)")
    p.add_argument("--families", nargs="+", choices=tuple(FAMILIES), default=list(FAMILIES))
    p.add_argument(
        "--aggregations", nargs="+", choices=tuple(AGGREGATIONS), default=list(AGGREGATIONS)
    )
    p.add_argument("--masks", nargs="+", choices=("on", "off"), default=["on", "off"])
    p.add_argument("--scales", type=int, nargs="+", default=[1, 4, 8, 12])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--channels", type=int, nargs="+", default=[24, 48])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--subset", type=int, help="N evenly spaced sequences per split (tests)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs already in OUT/accuracy.csv (same --epochs) in the table and train "
        "only the grid's missing ones (matched on model, masks, K, seed, parameters)",
    )
    p.add_argument(
        "--quick", action="store_true", help="one cell: GCN-D, masks, K = 4, seed 0, 1 epoch"
    )
    args = p.parse_args(argv)
    if args.quick:
        args.families, args.aggregations, args.masks = ["gcn"], ["disentangled"], ["on"]
        args.scales, args.seeds, args.epochs = [4], [0], 1
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the grid and write the outputs; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    if args.out:
        out = Path(args.out)
    elif args.quick:
        out = Path(tempfile.mkdtemp(prefix="skelgraph-accuracy-"))
    else:
        out = ROOT / "benchmarks" / "results"
    if not (Path(args.data_root) / "all_sqe").is_dir():
        raise SystemExit(f"N-UCLA not found: {args.data_root}/all_sqe (pass --data-root)")
    cache = args.cache_dir or Path(tempfile.gettempdir()) / "skelgraph-accuracy-cache"
    scales, bound = bounded_scales(args.scales)
    base = TrainConfig(
        dataset="nw-ucla",
        data_root=args.data_root,
        cache_dir=str(cache),
        frames=args.frames,
        subset=args.subset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        out=str(out),
        quiet=True,
    )
    datasets = build_datasets(base)
    header = run_header(argv, threads)
    notes = [
        f"- data: N-UCLA cross-view, {len(datasets.train)} train (views 1, 2) / "
        f"{len(datasets.test)} test (view 3) sequences, {args.frames} frames "
        "(paper_preprocess without padding, resampled), rotation ±10° and scale ±10 % "
        "on train",
        f"- models: single pathway, {len(args.channels)} layers of widths "
        f"{tuple(args.channels)}, each graph layer followed by MS-TCN; G3D: 3-frame windows",
        f"- recipe: SGD Nesterov momentum 0.9, lr {base.effective_lr():g} "
        f"(0.05 × {args.batch_size} / 32), weight decay 5e-4, batch {args.batch_size}, "
        f"{args.epochs} epochs, ×0.1 after epochs {base.effective_milestones()}",
        f"- grid of this command: families {args.families}, aggregations {args.aggregations}, "
        f"masks {args.masks}, K {scales} (requested {args.scales}; K ≤ diameter + 1 = "
        f"{bound} for the 20-joint layout), seeds {args.seeds}",
        "- cells: final-epoch cross-view top-1 (%), mean ± sample std over seeds (n runs)",
    ]
    previous: dict[tuple[Any, ...], dict[str, Any]] = {}
    if args.resume:
        previous = {
            key: row
            for key, row in _previous_runs(out / "accuracy.csv").items()
            if row["epochs"] == args.epochs
        }
        header += _earlier_commands(out / "accuracy.md")
    rows: list[dict[str, Any]] = list(previous.values())
    grid = list(itertools.product(args.families, args.aggregations, args.masks, scales, args.seeds))
    trained = 0
    start_all = time.perf_counter()
    for i, (family, aggregation, mask, k, seed) in enumerate(grid, 1):
        name = model_name(family, aggregation)
        cfg = TrainConfig(**{**base.__dict__, "seed": seed})
        set_seed(seed)
        model = SinglePathwayNet(family, aggregation, mask == "on", k, channels=args.channels)
        parameters = sum(p.numel() for p in model.parameters())
        if (name, mask == "on", k, seed, args.epochs, parameters) in previous:
            continue
        start = time.perf_counter()
        history = train(cfg, model=model, datasets=datasets, write_outputs=False)
        seconds = time.perf_counter() - start
        row = {
            "model": name,
            "mask": mask == "on",
            "K": k,
            "seed": seed,
            "epochs": args.epochs,
            "final_top1": history[-1]["test_top1"],
            "best_top1": max(h["test_top1"] for h in history),
            "seconds": round(seconds, 1),
            "parameters": parameters,
        }
        rows.append(row)
        trained += 1
        elapsed = time.perf_counter() - start_all
        print(
            f"[{i}/{len(grid)}] {name} mask={mask} K={k} seed={seed}: "
            f"top-1 {100 * row['final_top1']:.1f} % ({seconds:.0f} s; {elapsed:.0f} s total)",
            flush=True,
        )
        write_outputs(out, rows, header, [*notes, *_progress(trained, elapsed, previous)])
    write_outputs(
        out, rows, header, [*notes, *_progress(trained, time.perf_counter() - start_all, previous)]
    )
    rows_scales = _table_scales(rows)
    print("\n".join(table(rows, rows_scales)))
    print(f"outputs in {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
