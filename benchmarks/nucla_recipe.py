"""Collect ``train.py`` runs of CTR-GCN's N-UCLA recipe into a results file.

The runs are trained with ``examples/msg3d/configs/nw-ucla-ctrgcn.json`` (one folder per
stream and seed); this script reads each folder's ``metrics.json`` (settings and every
epoch's row) and, where one seed has several streams, fuses their final-epoch
``val_scores.npz`` (:func:`examples.msg3d.fuse.fuse_files`, pyskl's weights 2 : 2 : 1 : 1
for joint, bone, joint motion, bone motion). It writes, from those files alone:

- ``nucla-recipe.json``: per run its command settings, parameters, seconds per epoch and
  the per-epoch history; the fused results;
- ``nucla-recipe.md``: the header (date, machine, versions), one line per run (final
  epoch: the number reported; never the best epoch on the test view), mean ± std over
  seeds per stream and fused, and how much of the recipe each run covered;
- ``nucla-recipe.png``: training curves (test top-1 and training loss per epoch).

``--fuse A+B`` adds a fusion of the named run folders (by folder name, each a complete
run, of any model: the full-size joint stream with a small bone stream, say), reported
apart from the per-seed fusions of the preset.

Usage (from the repository root)::

    python -m benchmarks.nucla_recipe RUN_FOLDER [RUN_FOLDER ...] --command "CMD" ...
    python -m benchmarks.nucla_recipe RUN_FOLDER ... --fuse FOLDER_A+FOLDER_B
    python -m benchmarks.nucla_recipe --report      # rewrite md and png from the json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RECIPE_EPOCHS = 65
FUSION_WEIGHTS = {"joint": 2.0, "bone": 2.0, "joint-motion": 1.0, "bone-motion": 1.0}
# The fusions reported, each over the seeds that ran all its streams (a mean over seeds of
# one fusion, never of different ones).
FUSIONS = {"joint + bone": ("joint", "bone"), "four streams": tuple(FUSION_WEIGHTS)}


def collect(folder: Path) -> dict[str, Any]:
    """One run's summary from its ``metrics.json``."""
    record = json.loads((folder / "metrics.json").read_text())
    cfg, epochs = record["config"], record["epochs"]
    if not epochs:
        raise SystemExit(f"{folder}: no finished epoch in metrics.json")
    final = epochs[-1]
    return {
        "folder": folder.name,
        "stream": cfg["stream"],
        "seed": cfg["seed"],
        "preset": cfg["preset"],
        "model_args": cfg.get("model_args"),
        "checkpoint": cfg.get("checkpoint", False),
        "feeder": cfg["feeder"],
        "amp": cfg["amp"],
        "threads": cfg["threads"],
        "epochs_planned": cfg["epochs"],
        "milestones": record["milestones"],
        "parameters": record["parameters"],
        "torch": record["torch"],
        "final_epoch": final["epoch"],
        "final_top1": final["test_top1"],
        "final_top5": final["test_top5"],
        "final_mean_class_accuracy": final["test_mean_class_accuracy"],
        "median_epoch_seconds": statistics.median(e["seconds"] for e in epochs),
        "history": epochs,
    }


def summarised(run: dict[str, Any]) -> bool:
    """Whether a run enters the means and fusions: the preset as it is (no ``--model-args``)
    trained for all its planned epochs. Other runs are listed, not averaged."""
    return run.get("model_args") is None and run["final_epoch"] == run["epochs_planned"]


def model_name(run: dict[str, Any]) -> str:
    """The preset, with the ``--model-args`` overrides and checkpointing where given."""
    name = run["preset"]
    if run.get("model_args"):
        name += " + " + json.dumps(run["model_args"], separators=(",", ":"))
    return name + (", checkpointed" if run.get("checkpoint") else "")


def fuse(folders: Sequence[Path], runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per fusion of :data:`FUSIONS` and seed whose :func:`summarised` runs hold all its
    streams: the fused final-epoch scores' metrics."""
    from examples.msg3d.fuse import fuse_files

    out = []
    pairs = [(f, r) for f, r in zip(folders, runs) if summarised(r)]
    for name, streams in FUSIONS.items():
        for seed in sorted({r["seed"] for _, r in pairs}):
            by_stream = {r["stream"]: f for f, r in pairs if r["seed"] == seed}
            if not set(streams) <= set(by_stream):
                continue
            weights = [FUSION_WEIGHTS[stream] for stream in streams]
            result = fuse_files([by_stream[s] / "val_scores.npz" for s in streams], weights)
            out.append(
                {"name": name, "seed": seed, "streams": list(streams), "weights": weights,
                 **result["fused"]}
            )  # fmt: skip
    return out


def fuse_named(
    folders: Sequence[Path], runs: Sequence[dict[str, Any]], names: Sequence[str]
) -> list[dict[str, Any]]:
    """The fusions of ``--fuse``: each ``"A+B"`` the final-epoch scores of the runs whose
    folders are named A and B, with their streams' weights; a name that is not among the
    runs, or a run that stopped before its planned epochs, is refused by name."""
    from examples.msg3d.fuse import fuse_files

    by_name = {f.name: (f, r) for f, r in zip(folders, runs)}
    out = []
    for spec in names:
        chosen = spec.split("+")
        if len(chosen) < 2 or len(set(chosen)) != len(chosen):
            raise SystemExit(
                f"--fuse: expected two or more different run folders A+B, got {spec!r}"
            )
        for name in chosen:
            if name not in by_name:
                raise SystemExit(f"--fuse {spec}: {name!r} is not among the runs {sorted(by_name)}")
            run = by_name[name][1]
            if run["final_epoch"] != run["epochs_planned"]:
                raise SystemExit(
                    f"--fuse {spec}: {name} stopped at epoch {run['final_epoch']} of "
                    f"{run['epochs_planned']}: only complete runs are fused"
                )
        streams = [by_name[n][1]["stream"] for n in chosen]
        weights = [FUSION_WEIGHTS[stream] for stream in streams]
        result = fuse_files([by_name[n][0] / "val_scores.npz" for n in chosen], weights)
        out.append({"runs": chosen, "streams": streams, "weights": weights, **result["fused"]})
    return out


def _mean_std(values: Sequence[float]) -> str:
    values = [100 * v for v in values]
    if len(values) == 1:
        return f"{values[0]:.2f} % (n=1)"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f} % (n={len(values)})"


def markdown(record: dict[str, Any]) -> str:
    """``nucla-recipe.md`` from the json record."""
    lines = [
        "# N-UCLA cross-view with CTR-GCN's recipe (train.py --config "
        "examples/msg3d/configs/nw-ucla-ctrgcn.json)",
        "",
        *(f"- command: `{c}`" for c in record["commands"]),
        f"- date: {record['date']}",
        f"- machine: {record['machine']}",
        f"- torch {record['runs'][0]['torch']}, torch threads per run: "
        f"{sorted({r['threads'] for r in record['runs']}, key=str)}",
        "- reported: the final epoch of each run (never the best epoch on the test view); "
        f"the recipe is {RECIPE_EPOCHS} epochs with ×0.1 at epoch 50",
        "",
        "| run | stream | seed | model | parameters | amp | epochs run / planned | "
        "milestones | s / epoch | top-1 | top-5 | mean class acc. |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in record["runs"]:
        lines.append(
            f"| {r['folder']} | {r['stream']} | {r['seed']} | {model_name(r)} | "
            f"{r['parameters']:,} | {r['amp']} | {r['final_epoch']} / {r['epochs_planned']} | "
            f"{r['milestones']} | {r['median_epoch_seconds']:.0f} | "
            f"{100 * r['final_top1']:.2f} % | {100 * r['final_top5']:.2f} % | "
            f"{100 * r['final_mean_class_accuracy']:.2f} % |"
        )
    complete = [r for r in record["runs"] if summarised(r)]
    lines += [
        "",
        f"Over the runs of the preset as it is that ran all {RECIPE_EPOCHS} epochs:",
        "",
        "| stream | final top-1, mean ± std over seeds |",
        "|---|---|",
    ]
    for stream in dict.fromkeys(r["stream"] for r in complete):
        top1 = [r["final_top1"] for r in complete if r["stream"] == stream]
        lines.append(f"| {stream} | {_mean_std(top1)} |")
    for name, streams in FUSIONS.items():
        top1 = [f["top1"] for f in record["fused"] if f["name"] == name]
        weights = " : ".join(f"{FUSION_WEIGHTS[s]:g}" for s in streams)
        value = _mean_std(top1) if top1 else "– (no seed ran all of them)"
        lines.append(f"| fused, {name} ({weights}) | {value} |")
    if record.get("named_fusions"):
        lines += [
            "",
            "Fusions named with `--fuse` (complete runs of any model):",
            "",
            "| runs | streams (weights) | top-1 | top-5 | mean class acc. |",
            "|---|---|---|---|---|",
        ]
        for f in record["named_fusions"]:
            streams = " + ".join(f["streams"])
            weights = " : ".join(f"{w:g}" for w in f["weights"])
            lines.append(
                f"| {' + '.join(f['runs'])} | {streams} ({weights}) | {100 * f['top1']:.2f} % | "
                f"{100 * f['top5']:.2f} % | {100 * f['mean_class_accuracy']:.2f} % |"
            )
    lines += ["", "![](nucla-recipe.png)", ""]
    return "\n".join(lines)


def plot(record: dict[str, Any], path: Path) -> None:
    """Test top-1 and training loss per epoch, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, loss) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in record["runs"]:
        epochs = [e["epoch"] for e in r["history"]]
        label = f"{r['stream']}, seed {r['seed']}"
        top.plot(epochs, [100 * e["test_top1"] for e in r["history"]], label=label)
        loss.plot(epochs, [e["train_loss"] for e in r["history"]], label=label)
    top.set(xlabel="epoch", ylabel="test top-1 (%)", title="N-UCLA cross-view, view 3")
    loss.set(xlabel="epoch", ylabel="training loss", yscale="log", title="training loss")
    for ax in (top, loss):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    """Collect the runs (or only rewrite from the json) and write the results."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="*", type=Path, help="train.py output folders")
    p.add_argument("--command", action="append", default=[], help="a command that ran them")
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    p.add_argument("--report", action="store_true", help="rewrite md and png from the json")
    p.add_argument(
        "--fuse", action="append", default=[], metavar="A+B", help="fuse these run folders"
    )
    args = p.parse_args(argv)
    path = args.out / "nucla-recipe.json"
    if args.report and args.fuse:
        p.error("--fuse fuses run folders: give them, not --report")
    if args.report:
        record = json.loads(path.read_text())
    else:
        if not args.runs:
            p.error("give the run folders (or --report)")
        runs = [collect(folder) for folder in args.runs]
        uname = platform.uname()
        record = {
            "commands": args.command,
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "machine": f"{uname.system} {uname.machine}, {os.cpu_count()} logical CPUs "
            "(shared with other work)",
            "runs": runs,
            "fused": fuse(args.runs, runs),
            "named_fusions": fuse_named(args.runs, runs, args.fuse),
        }
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1) + "\n")
    (args.out / "nucla-recipe.md").write_text(markdown(record))
    plot(record, args.out / "nucla-recipe.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
