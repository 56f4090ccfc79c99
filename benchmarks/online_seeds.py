"""Early recognition over seeds: several ``online_accuracy.py`` runs of one recipe, each
with other seeds, as mean ± standard deviation per curve.

One run of ``online_accuracy.py`` measures one seed of each model; on N-UCLA's 464 test
clips two seeds of one recipe can differ by several points. This script reads the json
of each run (``--name`` gives each its own), checks that they measure the same curves,
and writes ``NAME.md`` and ``NAME.json`` in ``--out``: per curve its top-1 after half of
each clip, on whole clips and its area (the mean over the ten points), as mean ± sample
standard deviation over the runs, and every run's value::

    python -m benchmarks.online_seeds benchmarks/results/online-accuracy-mixed-seed*.json \\
        --name online-seeds-mixed

Nothing is measured here: the figures are the runs', each run's command is listed.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.online_accuracy import CURVES, FRACTIONS, ROOT
from benchmarks.provenance import command_line, machine

RECIPE_OF = {"stream": "symmetric", "prefix": "symmetric"}  # curve -> its model's recipe key
MEASURES = {"half": "after half of each clip", "whole": "whole clip", "area": "area"}
NAME = re.compile(r"online-seeds-[A-Za-z0-9._-]{1,80}")


def _stats(values: list[float]) -> dict:
    spread = statistics.stdev(values) if len(values) > 1 else float("nan")
    return {"mean": statistics.fmean(values), "std": spread, "values": values}


def summarize(runs: list[dict]) -> dict[str, dict]:
    """Per curve of every run (in :data:`CURVES` order): its label and, per measure of
    :data:`MEASURES`, the mean, standard deviation and values over the runs. A curve whose
    model has one recipe in every run (the same checkpoint, e.g. the ``--checkpoint``
    every seed's run was compared with) is counted once, and its label says so."""
    labels = [run.get("labels", {}) for run in runs]
    keys = [key for key in CURVES if all(key in run["curves"] for run in runs)]
    half = FRACTIONS.index(0.5)
    out = {}
    for key in keys:
        names = {label.get(key, CURVES[key]) for label in labels}
        if len(names) > 1:
            raise SystemExit(f"the runs measure different models as {key!r}: {sorted(names)}")
        # the symmetric model's two curves come from its one checkpoint (--checkpoint)
        recipes = {run.get("recipes", {}).get(RECIPE_OF.get(key, key)) for run in runs}
        shared = len(runs) > 1 and len(recipes) == 1 and None not in recipes
        counted = runs[:1] if shared else runs
        curves = [run["curves"][key] for run in counted]
        out[key] = {
            "label": names.pop() + (" (one model, the same in every run)" if shared else ""),
            "half": _stats([c[half] for c in curves]),
            "whole": _stats([c[-1] for c in curves]),
            "area": _stats([run["area"][key] for run in counted]),
        }
    return out


def _cell(stats: dict) -> str:
    values = ", ".join(f"{v:.1f}" for v in stats["values"])
    if len(stats["values"]) == 1:
        return values
    return f"{stats['mean']:.1f} ± {stats['std']:.1f} ({values})"


def _stem(text: str) -> str:
    if not NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected a name online-seeds-X (X: letters, digits, '.', '_', '-'), got {text!r}"
        )
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="online_accuracy.py's json files")
    parser.add_argument("--name", type=_stem, required=True, help="online-seeds-X")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    runs = []
    for path in args.runs:
        try:
            runs.append(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            raise SystemExit(f"{path}: not an online_accuracy.py json ({error})") from None
        if not isinstance(runs[-1], dict) or "curves" not in runs[-1]:
            raise SystemExit(f"{path}: not an online_accuracy.py json (no curves)")
    summary = summarize(runs)
    command = command_line("online_seeds", argv)
    lines = [
        "# Early recognition on N-UCLA over seeds (benchmarks/online_seeds.py)",
        "",
        f"- command: `{command.strip()}`",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC} (a summary: each run's own "
        "file says where and when it was measured)",
        f"- machine: {machine()}",
        *[f"- run {i + 1}: `{run.get('command', '?')}`" for i, run in enumerate(runs)],
        "",
        f"Top-1 (%) over {len(runs)} runs: mean ± standard deviation (each run's value).",
        "",
        "| curve | " + " | ".join(MEASURES.values()) + " |",
        "|---" * (len(MEASURES) + 1) + "|",
        *[
            f"| {s['label']} | " + " | ".join(_cell(s[m]) for m in MEASURES) + " |"
            for s in summary.values()
        ],
        "",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines)
    (args.out / f"{args.name}.md").write_text(text)
    record = {"command": command, "runs": [str(p) for p in args.runs], "summary": summary}
    (args.out / f"{args.name}.json").write_text(json.dumps(record, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
