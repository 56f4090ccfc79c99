"""Compact tables of the committed benchmark results, for docs/benchmarks.rst.

The scripts in ``benchmarks/`` write long tables (``speed.md`` has one row per case,
batch, phase, allocator *and* implementation). This extension reads their data files in
``benchmarks/results/`` and reshapes them to fit the page: one row per case, and as
columns the comparisons a reader wants. The full files stay downloadable from the page.

Directives (each takes the results file, relative to the page, as its argument)::

    .. speed-table:: ../benchmarks/results/speed.json
       :malloc: default

    .. bias-table:: ../benchmarks/results/bias.csv

    .. accuracy-table:: ../benchmarks/results/accuracy-paired.csv

Roles, for a measured number in prose (from :mod:`benchmarks.figures`, so prose never
restates a result by hand) and for the results file, machine and date it comes from::

    training is :result:`speed.train8.speedup` faster (:results-source:`speed.md`)

The ``load_*`` functions are used by the pages' figures too (``.. plot::`` code imports
this module), so the tables and the plots read the same numbers.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import Directive, directives

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"

# Short names of benchmarks/speed.py's cases, and the shapes they stand for.
SPEED_CASES = {
    "ms-gcn": ("MS-GCN", "96→96 channels, K = 13 (STGC block 2)"),
    "g3d-3": ("G3D τ=3", "96→192 channels, stride 2 (block 2)"),
    "g3d-5": ("G3D τ=5", "96→192 channels, stride 2 (block 2)"),
    "ms-tcn": ("MS-TCN", "192→192 channels, T = 150 (block 2)"),
    "msg3d": ("MS-G3D Net", "the whole NTU-60 model"),
}
PHASES = {"infer": "inference", "train": "training step"}


# -- data ------------------------------------------------------------------------------
def load_speed(path: Path = RESULTS / "speed.json") -> list[dict]:
    """One dict per (case, batch, phase, malloc): skelgraph's time and memory, and its
    ratios to the authors' code and to skelgraph's reference path (None where not run).

    ``speed_vs_*`` is the other's time over skelgraph's (above 1: skelgraph is faster);
    ``memory_vs_*`` is skelgraph's peak memory over the other's (below 1: it uses less).
    """
    runs = json.loads(Path(path).read_text())
    groups: dict[tuple, dict[str, dict]] = {}
    for run in runs:
        key = (run["case"], run["batch"], run["phase"], run["malloc"])
        groups.setdefault(key, {})[run["impl"]] = run
    order = list(SPEED_CASES)
    rows = []
    for (case, batch, phase, malloc), impls in sorted(
        groups.items(),
        key=lambda item: (order.index(item[0][0]), item[0][1], item[0][2], item[0][3]),
    ):
        mine = impls.get("skelgraph")
        if mine is None:
            continue
        row = {
            "case": case,
            "batch": batch,
            "phase": phase,
            "malloc": malloc,
            "time_s": mine["median_s"],
            "peak_mib": mine["peak_mib"],
        }
        for name, impl in (("authors", "authors"), ("reference", "skelgraph-reference")):
            other = impls.get(impl)
            row[f"time_{name}_s"] = other["median_s"] if other else None
            row[f"speed_vs_{name}"] = other["median_s"] / mine["median_s"] if other else None
            row[f"memory_vs_{name}"] = (
                mine["peak_mib"] / other["peak_mib"] if other and other["peak_mib"] > 0 else None
            )
        rows.append(row)
    return rows


def load_bias_full_stacks(path: Path = RESULTS / "bias.csv") -> list[dict]:
    """The summed stacks at K = D + 1 (every hop reachable), one dict per layout and
    graph, with the mass on far joints (hops >= 4), hop 1 and hop 0 by mode."""
    rows = list(csv.DictReader(Path(path).open(encoding="utf-8")))
    full: dict[tuple[str, str], dict] = {}
    for r in rows:
        if r["stack"] != "sum" or int(r["K"]) != int(r["diameter"]) + 1:
            continue
        entry = full.setdefault((r["layout"], r["graph"]), {"K": int(r["K"])})
        entry[r["mode"]] = {
            "far": float(r["hops_ge_4"]),
            "hop1": float(r["hop_1"]),
            "hop0": float(r["hop_0"]),
        }
    return [{"layout": layout, "graph": graph, **v} for (layout, graph), v in full.items()]


def load_accuracy(path: Path = RESULTS / "accuracy-paired.csv") -> list[dict]:
    """The paired differences D − E of ``accuracy.py`` (one row per family, masks, K)."""
    return list(csv.DictReader(Path(path).open(encoding="utf-8")))


# -- tables ----------------------------------------------------------------------------
def _cell(text: str, classes: Sequence[str] = (), **attributes) -> nodes.entry:
    entry = nodes.entry(classes=list(classes), **attributes)
    entry += nodes.paragraph(text=text)
    return entry


def _table(
    header: Sequence[tuple[str, Sequence[str]]],
    body: Sequence[Sequence[nodes.entry]],
    classes: Sequence[str] = (),
) -> nodes.table:
    """A table whose header is ``[(group, [column, ...]), ...]``: a group with one column
    and an empty group name is a plain column spanning both header rows."""
    ncols = sum(len(columns) for _, columns in header)
    table = nodes.table(classes=["compact-table", *classes])
    group = nodes.tgroup(cols=ncols)
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in range(ncols))
    thead = nodes.thead()
    group += thead
    two_rows = any(name for name, _ in header)
    top, second = nodes.row(), nodes.row()
    for name, columns in header:
        if not name:
            top += _cell(columns[0], morerows=1) if two_rows else _cell(columns[0])
        else:
            top += _cell(name, ["group"], morecols=len(columns) - 1)
            second.extend(_cell(column) for column in columns)
    thead += top
    if two_rows:
        thead += second
    tbody = nodes.tbody()
    group += tbody
    for cells in body:
        row = nodes.row()
        row.extend(cells)
        tbody += row
    return table


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}×"


def _results_path(directive: Directive) -> Path:
    env = directive.state.document.settings.env
    _, path = env.relfn2path(directive.arguments[0])
    env.note_dependency(path)
    return Path(path)


class SpeedTable(Directive):
    """skelgraph against the authors' code and its own reference path, one row per case."""

    required_arguments = 1
    option_spec: ClassVar = {"malloc": directives.unchanged}

    def run(self):
        malloc = self.options.get("malloc", "default")
        rows = [r for r in load_speed(_results_path(self)) if r["malloc"] == malloc]
        header = [
            ("", ["case"]),
            ("", ["batch"]),
            ("", ["phase"]),
            ("time", ["skelgraph (s)", "authors (s)", "speed-up vs authors", "vs reference"]),
            ("peak memory", ["skelgraph (MiB)", "vs authors", "vs reference"]),
        ]
        body = []
        previous = None
        for r in rows:
            cells = []
            if r["case"] != previous:
                span = sum(1 for other in rows if other["case"] == r["case"]) - 1
                cells.append(_cell(SPEED_CASES[r["case"]][0], ["text"], morerows=span))
                previous = r["case"]
            authors = r["time_authors_s"]
            cells += [
                _cell(str(r["batch"]), ["num"]),
                _cell(PHASES[r["phase"]], ["text"]),
                _cell(f"{r['time_s']:.3f}", ["num"]),
                _cell("–" if authors is None else f"{authors:.3f}", ["num"]),
                _cell(_ratio(r["speed_vs_authors"]), ["num", "key"]),
                _cell(_ratio(r["speed_vs_reference"]), ["num"]),
                _cell(f"{r['peak_mib']:.0f}", ["num"]),
                _cell(_ratio(r["memory_vs_authors"]), ["num", "key"]),
                _cell(_ratio(r["memory_vs_reference"]), ["num"]),
            ]
            body.append(cells)
        return [_table(header, body)]


VARIANTS = {
    ("authors", "off"): "authors, float32",
    ("authors", "bf16"): "authors, bf16 autocast",
    ("skelgraph", "off"): "skelgraph, float32",
    ("skelgraph", "bf16"): "skelgraph, bf16 autocast",
    ("skelgraph-checkpointed", "off"): "skelgraph, checkpointed, float32",
    ("skelgraph-checkpointed", "bf16"): "skelgraph, checkpointed, bf16",
}


class AmpTable(Directive):
    """A ``speed.py --amp ... [--checkpoint]`` run of one case: one row per batch, phase and
    variant, ratios against the authors' float32 run of the same batch and phase."""

    required_arguments = 1

    def run(self):
        runs = json.loads(_results_path(self).read_text())
        header = [
            ("", ["batch"]),
            ("", ["phase"]),
            ("", ["code, precision"]),
            ("time", ["median (s)", "speed-up vs authors' float32"]),
            ("peak memory", ["MiB", "vs authors' float32"]),
        ]
        body = []
        for run in runs:
            base = next(
                r for r in runs
                if (r["impl"], r.get("amp", "off"), r["batch"], r["phase"])
                == ("authors", "off", run["batch"], run["phase"])
            )  # fmt: skip
            memory = run["peak_mib"] / base["peak_mib"] if base["peak_mib"] > 0 else None
            body.append([
                _cell(str(run["batch"]), ["num"]),
                _cell(PHASES[run["phase"]], ["text"]),
                _cell(VARIANTS[run["impl"], run.get("amp", "off")], ["text"]),
                _cell(f"{run['median_s']:.2f}", ["num"]),
                _cell(_ratio(base["median_s"] / run["median_s"]), ["num", "key"]),
                _cell(f"{run['peak_mib']:.0f}", ["num"]),
                _cell(_ratio(memory), ["num", "key"]),
            ])  # fmt: skip
        return [_table(header, body)]


class BiasTable(Directive):
    """Far, hop-1 and hop-0 mass of the full summed stacks, powering against disentangled."""

    required_arguments = 1

    def run(self):
        rows = load_bias_full_stacks(_results_path(self))
        header = [
            ("", ["layout"]),
            ("", ["graph"]),
            ("", ["K = D+1"]),
            ("hops ≥ 4", ["pow.", "dis.", "dis. / pow."]),
            ("hop 1", ["pow.", "dis."]),
            ("hop 0", ["pow.", "dis."]),
        ]
        body = []
        previous = None
        for r in rows:
            cells = []
            if r["layout"] != previous:
                span = sum(1 for other in rows if other["layout"] == r["layout"]) - 1
                cells.append(_cell(r["layout"], ["text"], morerows=span))
                previous = r["layout"]
            pow_, dis = r["powering"], r["disentangled"]
            cells += [
                _cell(r["graph"], ["text"]),
                _cell(str(r["K"]), ["num"]),
                _cell(f"{pow_['far']:.3f}", ["num"]),
                _cell(f"{dis['far']:.3f}", ["num"]),
                _cell(f"{dis['far'] / pow_['far']:.1f}×", ["num", "key"]),
                _cell(f"{pow_['hop1']:.3f}", ["num"]),
                _cell(f"{dis['hop1']:.3f}", ["num"]),
                _cell(f"{pow_['hop0']:.3f}", ["num"]),
                _cell(f"{dis['hop0']:.3f}", ["num"]),
            ]
            body.append(cells)
        return [_table(header, body)]


class AccuracyTable(Directive):
    """Table 1's paired differences: per family, masks and K, the seeds run for both
    modes, the mean top-1 of each, D − E with its 95 % interval, and its reading."""

    required_arguments = 1

    def run(self):
        header = [("", ["family"]), ("", ["masks"]), ("", ["K"]), ("", ["seeds"])]
        header += [("top-1 (%)", ["D", "E"]), ("D − E (points)", ["mean", "95 % CI"])]
        header += [("", ["reading"])]
        body = []
        for r in load_accuracy(_results_path(self)):
            low, high = float(r["low"]), float(r["high"])
            interval = "–" if low != low else f"[{low:+.1f}, {high:+.1f}]"  # NaN: one seed
            body.append(
                [
                    _cell(r["family"], ["text"]),
                    _cell("yes" if r["mask"] == "True" else "no", ["text"]),
                    _cell(r["K"], ["num"]),
                    _cell(r["seeds"], ["num"]),
                    _cell(f"{float(r['D']):.1f}", ["num"]),
                    _cell(f"{float(r['E']):.1f}", ["num"]),
                    _cell(f"{float(r['diff']):+.1f}", ["num"]),
                    _cell(interval, ["num"]),
                    _cell(r["reading"], ["text"]),
                ]
            )
        return [_table(header, body)]


# Options whose values in a committed run's command name a folder outside the repository
# (the machine's data or clone), and what the page shows instead.
OUTSIDE_PATHS = {"--data-root": "DATA", "--reference": "AUTHORS_CLONE"}


def _literal_text(text: str) -> list[nodes.Node]:
    """Markdown with `code` spans as docutils nodes (no other markup is interpreted)."""
    out: list[nodes.Node] = []
    for i, part in enumerate(text.split("`")):
        if part:
            out.append(nodes.literal(text=part) if i % 2 else nodes.Text(part))
    return out


def results_header(path: Path) -> list[str]:
    """The bullet list under the title of a results Markdown file (command, date,
    versions, machine, ...), with the folders outside the repository replaced."""
    items: list[str] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines()[1:]:
        if line.startswith(("|", "#")):
            break
        if line.startswith("- "):
            items.append(line[2:])
        elif line.startswith("  ") and items:
            items[-1] += " " + line.strip()
    options = "|".join(map(re.escape, OUTSIDE_PATHS))
    pattern = re.compile(rf"({options})\s+(\S+)")
    return [pattern.sub(lambda m: f"{m[1]} {OUTSIDE_PATHS[m[1]]}", item) for item in items]


class ResultsHeader(Directive):
    """The header of a results file as a bullet list."""

    required_arguments = 1

    def run(self):
        bullets = nodes.bullet_list(bullet="-")
        for item in results_header(_results_path(self)):
            paragraph = nodes.paragraph()
            paragraph.extend(_literal_text(item))
            bullets += nodes.list_item("", paragraph)
        return [bullets]


def _figures() -> dict:
    from benchmarks.figures import figures  # run from the repository root, as the plots

    return figures(RESULTS)


def result_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``:result:`speed.train8.speedup```: the figure's text, e.g. "1.50×"."""
    figure = _figures().get(text)
    if figure is None:
        message = inliner.reporter.error(f"no figure named {text!r} in benchmarks/figures.py")
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    inliner.document.settings.env.note_dependency(str(RESULTS / figure.source.file))
    return [nodes.inline(rawtext, figure.text, classes=["result"])], []


def results_source_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``:results-source:`speed.md```: "speed.md: MACHINE, DATE"."""
    from benchmarks.figures import source

    try:
        found = source(text, RESULTS)
    except (OSError, ValueError) as error:
        message = inliner.reporter.error(f"results file {text!r}: {error}")
        return [inliner.problematic(rawtext, rawtext, message)], [message]
    inliner.document.settings.env.note_dependency(str(RESULTS / text))
    node = nodes.inline(rawtext, "", classes=["results-source"])
    node += nodes.literal(text, text)
    node += nodes.Text(f": {found.machine}, {found.date}")
    return [node], []


def setup(app):
    app.add_role("result", result_role)
    app.add_role("results-source", results_source_role)
    app.add_directive("results-header", ResultsHeader)
    app.add_directive("speed-table", SpeedTable)
    app.add_directive("amp-table", AmpTable)
    app.add_directive("bias-table", BiasTable)
    app.add_directive("accuracy-table", AccuracyTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
