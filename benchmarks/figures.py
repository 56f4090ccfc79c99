"""The figures the README and the docs quote, computed from the committed results.

A figure is a measured number as prose shows it (``"1.50×"``, ``"7.6 ms"``) with where it
comes from: the results file in ``benchmarks/results/``, the machine and the date its
header records. Prose never restates a measurement by hand: the docs insert figures by
name (``:result:`speed.train8.speedup``` in ``docs/_ext/benchmark_tables.py``) and the
README's figures block is written from them (``python -m benchmarks.readme``), so a new
run of a benchmark changes every place that quotes it.

>>> from benchmarks.figures import figures
>>> f = figures()["speed.train8.speedup"]
>>> f.source.file, f.text.endswith("×")
('speed.md', True)
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from benchmarks import nucla_recipe

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Source:
    """A results file (its name in ``benchmarks/results/``), its machine and date."""

    file: str
    machine: str
    date: str

    def __str__(self) -> str:
        return f"{self.file}: {self.machine}, {self.date}"


@dataclass(frozen=True)
class Figure:
    text: str
    source: Source


def _header(path: Path) -> str:
    """The lines of a results Markdown file before its first table."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("|"):
            break
        lines.append(line)
    return "\n".join(lines)


@cache
def source(name: str, results: Path = RESULTS) -> Source:
    """Machine and date of ``results/name``, as its header records them.

    The scripts write ``- machine: ...`` and ``- date: ...`` lines; the online-accuracy
    script puts the machine after the date (``date: ...; torch ...; Linux ...``) and the
    hand-written ``amp-accuracy.md`` says "run DATE on a N-CPU machine".
    """
    header = _header(results / name)
    date = re.search(r"\d{4}-\d{2}-\d{2}", header)
    machine = (
        re.search(r"^- machine: (.+)$", header, re.M)
        or re.search(r"; (Linux [^;\n]+)$", header, re.M)
        or re.search(r"on an? (\d+-CPU machine)", header)
    )
    if date is None or machine is None:
        raise ValueError(f"{name}: its header names no date or no machine")
    return Source(name, machine[1].strip(), date[0])


def _ratio(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}×"


def _authors_twin(runs: list[dict], mine: dict, fields: tuple[str, ...]) -> dict:
    """The authors' run of ``runs`` that agrees with ``mine`` on ``fields``."""
    return next(r for r in runs if r["impl"] == "authors" and all(r[f] == mine[f] for f in fields))


def _speed(results: Path) -> dict[str, Figure]:
    """MS-G3D Net against the authors' code (speed.json): per phase, batch and allocator."""
    src = source("speed.md", results)
    runs = json.loads((results / "speed.json").read_text())
    out = {}
    for mine in runs:
        if (mine["case"], mine["impl"]) != ("msg3d", "skelgraph"):
            continue
        theirs = _authors_twin(runs, mine, ("case", "batch", "phase", "malloc"))
        name = f"speed.{mine['phase']}{mine['batch']}" + (
            "" if mine["malloc"] == "default" else f"-{mine['malloc']}"
        )
        out[f"{name}.time"] = Figure(f"{mine['median_s']:.1f} s", src)
        out[f"{name}.authors"] = Figure(f"{theirs['median_s']:.1f} s", src)
        out[f"{name}.speedup"] = Figure(_ratio(theirs["median_s"] / mine["median_s"]), src)
        out[f"{name}.memory"] = Figure(_ratio(mine["peak_mib"] / theirs["peak_mib"]), src)
    return out


SPEEDUPS = (1.8, 2.5, 5.0)
"""The speed-ups over the authors' code that the project aims at (the speed issue's
targets): float32 2.5× theirs, bf16 1.8× their bf16 and 5× their float32."""


MODULE_SPEEDUP = 2.0
"""The speed-up over the authors' MS-TCN module that the project aims at."""


def _of_peak_at(speedup: float, cell: dict, base: dict) -> float:
    """The fraction of the GEMM peak ``cell`` would run at, at its own multiply-adds, if it
    took ``base``'s min time over ``speedup`` (its fraction scales with its speed)."""
    return cell["of_peak"] * cell["min_s"] * speedup / base["min_s"]


def _limit(results: Path) -> dict[str, Figure]:
    """MS-G3D Net against the authors' code at the same precision and against the
    machine's GEMM peak (speed-limit.json, ``speed.py --interleave``; ``limit-avx2.*`` from
    speed-limit-avx2.json, an AVX2-only CPU): per phase, batch and precision,
    ``limit.train8-bf16.vs-same`` (min times' ratio to the authors' at bf16),
    ``.vs-float32`` (to the authors' float32), ``.of-peak``, the authors' own
    ``.authors-of-peak`` at the same precision, and the fraction of the peak that a
    speed-up of :data:`SPEEDUPS` would take at the cell's multiply-adds,
    ``.of-peak-at-2.5x-same`` (``-float32``: over the authors' float32 time); per precision
    and product kernel, ``limit.peak.float32.matmul`` and
    ``limit.peak.float32.1x1-convolution``."""
    out = {}
    for stem, prefix in (("speed-limit", "limit"), ("speed-limit-avx2", "limit-avx2")):
        if (results / f"{stem}.json").exists():
            out.update(_limit_file(results, stem, prefix))
    return out


def _limit_file(results: Path, stem: str, prefix: str) -> dict[str, Figure]:
    """:func:`_limit`'s figures of one results file."""
    src = source(f"{stem}.md", results)
    data = json.loads((results / f"{stem}.json").read_text())
    cells = {(c["impl"], c["batch"], c["phase"], c["amp"]): c for c in data["cells"]}
    out = {}
    for (impl, batch, phase, amp), cell in cells.items():
        if impl != "skelgraph":
            continue
        name = f"{prefix}.{phase}{batch}-{'float32' if amp == 'off' else amp}"
        same, fp32 = (
            cells[data["baseline"], batch, phase, amp],
            cells[data["baseline"], batch, phase, "off"],
        )
        out[f"{name}.vs-same"] = Figure(_ratio(same["min_s"] / cell["min_s"]), src)
        out[f"{name}.vs-float32"] = Figure(_ratio(fp32["min_s"] / cell["min_s"]), src)
        out[f"{name}.of-peak"] = Figure(f"{100 * cell['of_peak']:.0f} %", src)
        out[f"{name}.authors-of-peak"] = Figure(f"{100 * same['of_peak']:.0f} %", src)
        for speedup in SPEEDUPS:
            for key, base in (("same", same), ("float32", fp32)):
                needed = _of_peak_at(speedup, cell, base)
                out[f"{name}.of-peak-at-{speedup:g}x-{key}"] = Figure(f"{100 * needed:.0f} %", src)
        out[f"{name}.gflops"] = Figure(f"{cell['gflops']:.0f} GFLOP/s", src)
    for gemm in data["gemm"]:  # limit.peak.float32.matmul, limit.peak.float32.1x1-convolution
        kernel = gemm.get("kernel", "matmul").replace(" ", "-")
        out[f"{prefix}.peak.{gemm['dtype']}.{kernel}"] = Figure(
            f"{gemm['gflops']:.0f} GFLOP/s", src
        )
    return out


def _amp(results: Path) -> dict[str, Figure]:
    """bf16 autocast and activation checkpointing (speed-amp-checkpoint.json), against the
    authors' float32 code; ``checkpoint.*`` against skelgraph's plain float32 step."""
    src = source("speed-amp-checkpoint.md", results)
    runs = {
        (r["impl"], r["amp"], r["phase"], r["batch"]): r
        for r in json.loads((results / "speed-amp-checkpoint.json").read_text())
    }
    out = {}
    for (impl, amp, phase, batch), run in runs.items():
        base = runs["authors", "off", phase, batch]
        if impl == "skelgraph" and amp == "bf16":
            name = f"amp.{phase}{batch}"
        elif impl == "skelgraph-checkpointed" and amp == "off":
            name = f"checkpoint.{phase}{batch}"
            plain = runs["skelgraph", "off", phase, batch]
            out[f"{name}.time-vs-plain"] = Figure(
                _ratio(run["median_s"] / plain["median_s"], 1), src
            )
            out[f"{name}.memory-vs-plain"] = Figure(
                _ratio(run["peak_mib"] / plain["peak_mib"]), src
            )
        else:
            continue
        out[f"{name}.speedup"] = Figure(_ratio(base["median_s"] / run["median_s"], 1), src)
        out[f"{name}.memory"] = Figure(_ratio(run["peak_mib"] / base["peak_mib"]), src)
    return out


def _memory(results: Path) -> dict[str, Figure]:
    """Peak memory of MS-G3D Net at T = 100 against the authors' code at the same autocast
    (memory-t100.json; memory-t100-bf16-fast.json adds the ``"fast"`` setting under bf16):
    peak RSS with glibc's default allocator, ``memory.{phase}{batch}.{float32,bf16}``, with
    ``--malloc lean``, ``....lean``, and the peak of live tensors, ``....tensors``; the
    ``"fast"`` path's names have ``.fast`` after the precision."""
    out = {}
    for name, impl in (("memory-t100", "skelgraph"), ("memory-t100-bf16-fast", "skelgraph-fast")):
        if impl != "skelgraph" and not (results / f"{name}.json").exists():
            continue
        src = source(f"{name}.md", results)
        runs = json.loads((results / f"{name}.json").read_text())
        for mine in runs:
            if mine["impl"] != impl:
                continue
            theirs = _authors_twin(runs, mine, ("phase", "batch", "amp", "malloc"))
            precision = "float32" if mine["amp"] == "off" else mine["amp"]
            key = f"memory.{mine['phase']}{mine['batch']}.{precision}"
            key += ".fast" if mine["impl"] == "skelgraph-fast" else ""
            rss = Figure(_ratio(mine["peak_mib"] / theirs["peak_mib"]), src)
            if mine["malloc"] != "default":
                out[f"{key}.{mine['malloc']}"] = rss
                continue
            out[key] = rss
            tensors = mine["tensor_peak_mib"] / theirs["tensor_peak_mib"]
            out[f"{key}.tensors"] = Figure(_ratio(tensors), src)
    return out


def _streaming(results: Path) -> dict[str, Figure]:
    """One frame of the stream against rerunning the clip model (streaming.json)."""
    src = source("streaming.md", results)
    out = {}
    for r in json.loads((results / "streaming.json").read_text()):
        name = f"stream.{r['preset']}"
        out[f"{name}.frame-ms"] = Figure(f"{1e3 * r['frame_s']:.1f} ms", src)
        out[f"{name}.emit-ms"] = Figure(f"{1e3 * r['emit_frame_s']:.1f} ms", src)
        out[f"{name}.frame-macs"] = Figure(f"{r['frame_macs'] / 1e6:.1f} M", src)
        out[f"{name}.rerun-ms"] = Figure(f"{1e3 * r['rerun_s']:.0f} ms", src)
        out[f"{name}.rerun-macs"] = Figure(f"{r['rerun_macs'] / 1e9:.1f} G", src)
        out[f"{name}.fewer-macs"] = Figure(f"{r['rerun_macs'] / r['frame_macs']:.0f}×", src)
        out[f"{name}.faster"] = Figure(f"{r['rerun_s'] / r['frame_s']:.0f}×", src)
        out[f"{name}.predictions-per-s"] = Figure(f"{r['predictions_per_s']:.0f}", src)
        if "chunk_predictions_per_s" in r:
            chunked = f"{r['chunk_predictions_per_s']:.0f}"
            out[f"{name}.chunk-predictions-per-s"] = Figure(chunked, src)
        if r.get("authors_rerun_s"):
            out[f"{name}.authors-rerun-ms"] = Figure(f"{1e3 * r['authors_rerun_s']:.0f} ms", src)
            out[f"{name}.authors-fewer-macs"] = Figure(
                f"{r['authors_rerun_macs'] / r['frame_macs']:.0f}×", src
            )
            out[f"{name}.authors-faster"] = Figure(
                f"{r['authors_rerun_s'] / r['frame_s']:.0f}×", src
            )
    return out | _causal_streaming(results)


def _causal_streaming(results: Path) -> dict[str, Figure]:
    """The causal model's stream against the symmetric one's, measured in one run
    (streaming-causal.json, ``streaming.py --causal``): ``stream-causal.ntu60.cycle-ratio``
    (time per 4-frame prediction, causal over symmetric), ``.macs-ratio``, and each
    model's ``.predictions-per-s`` (``.symmetric-predictions-per-s``)."""
    path = results / "streaming-causal.json"
    if not path.exists():
        return {}
    src = source("streaming-causal.md", results)
    runs = {(r["preset"], r["causal"]): r for r in json.loads(path.read_text())}
    out = {}
    for (preset, causal), c in runs.items():
        s = runs.get((preset, False))
        if not causal or s is None:
            continue
        name = f"stream-causal.{preset}"
        out[f"{name}.cycle-ratio"] = Figure(_ratio(c["cycle_s"] / s["cycle_s"]), src)
        out[f"{name}.macs-ratio"] = Figure(_ratio(c["frame_macs"] / s["frame_macs"]), src)
        out[f"{name}.predictions-per-s"] = Figure(f"{c['predictions_per_s']:.0f}", src)
        out[f"{name}.symmetric-predictions-per-s"] = Figure(f"{s['predictions_per_s']:.0f}", src)
    return out


_ONLINE_NAMES = {
    "stream": "stream", "prefix": "clip", "causal": "causal", "finetuned": "finetuned",
    "prefix_symmetric": "prefix-trained-clip", "prefix_causal": "prefix-trained-causal",
}  # fmt: skip
"""online_accuracy.py's curve keys as figure names."""


def _online_seeds(results: Path) -> dict[str, Figure]:
    """Each ``online_seeds.py --name online-seeds-X`` summary: per curve and measure
    (``half``, ``whole``, ``area``) the mean ± standard deviation over its runs,
    ``online-seeds-X.prefix-trained-causal-half``, and ``online-seeds-X.runs``."""
    out = {}
    for path in sorted(results.glob("online-seeds-*.json")):
        src = source(f"{path.stem}.md", results)
        record = json.loads(path.read_text())
        out[f"{path.stem}.runs"] = Figure(str(len(record["runs"])), src)
        for key, curve in record["summary"].items():
            for measure in ("half", "whole", "area"):
                stats = curve[measure]
                unit = "" if measure == "area" else " %"
                spread = "" if len(stats["values"]) == 1 else f" ± {stats['std']:.1f}"
                text = f"{stats['mean']:.1f}{spread}{unit}"
                out[f"{path.stem}.{_ONLINE_NAMES[key]}-{measure}"] = Figure(text, src)
    return out


def _online(results: Path) -> dict[str, Figure]:
    """Top-1 of the stream and of the clip model on the frames so far (online-accuracy,
    ``online.*``; each further run ``online_accuracy.py --name online-accuracy-X``,
    ``online-X.*``)."""
    out = _online_run(results, "online-accuracy", "online")
    for path in sorted(results.glob("online-accuracy-*.json")):
        out |= _online_run(
            results, path.stem, "online-" + path.stem.removeprefix("online-accuracy-")
        )
    return out


def _online_run(results: Path, stem: str, prefix: str) -> dict[str, Figure]:
    """The figures of one online_accuracy.py run, named ``{prefix}.*``."""
    src = source(f"{stem}.md", results)
    r = json.loads((results / f"{stem}.json").read_text())
    out = {f"{prefix}.frames": Figure(str(r["frames"]), src)}
    if "whole_clip_top1" in r:  # a symmetric model was measured (--checkpoint)
        out[f"{prefix}.whole"] = Figure(f"{r['whole_clip_top1']:.1f} %", src)
        out[f"{prefix}.flush-vs-forward"] = Figure(f"{r['flush_vs_forward_max_abs']:.0e}", src)
    for key, curve in r["curves"].items():
        for fraction, top1 in zip(r["fractions"], curve):
            out[f"{prefix}.{_ONLINE_NAMES[key]}-{round(100 * fraction)}"] = Figure(
                f"{top1:.1f} %", src
            )
    for key, area in r["area"].items():
        out[f"{prefix}.{_ONLINE_NAMES[key]}-area"] = Figure(f"{area:.1f}", src)
    for key in ("causal", "finetuned", "prefix_causal", "prefix_symmetric"):
        if f"{key}_whole_clip_top1" in r:
            name = _ONLINE_NAMES[key]
            out[f"{prefix}.{name}-whole"] = Figure(f"{r[f'{key}_whole_clip_top1']:.1f} %", src)
            gap = r[f"{key}_stream_vs_prefix_max_abs"]
            out[f"{prefix}.{name}-vs-prefix"] = Figure(f"{gap:.0e}", src)
    cost = r.get("cost", {})
    for key, c in cost.items():
        out[f"{prefix}.{key}-prediction-macs"] = Figure(f"{c['prediction_macs'] / 1e6:.1f} M", src)
        out[f"{prefix}.{key}-prediction-ms"] = Figure(f"{c['prediction_ms']:.1f} ms", src)
        out[f"{prefix}.{key}-rerun-macs"] = Figure(f"{c['rerun_macs'] / 1e6:.0f} M", src)
    if {"symmetric", "causal"} <= set(cost):
        ratio = cost["causal"]["prediction_ms"] / cost["symmetric"]["prediction_ms"]
        out[f"{prefix}.causal-step-ratio"] = Figure(_ratio(ratio), src)
    return out


def _accuracy(results: Path) -> dict[str, Figure]:
    """Table 1 on N-UCLA (accuracy-paired.csv, written by accuracy.py from accuracy.csv):
    per family, masks and K, the paired difference D − E with its 95 % interval
    (``accuracy.gcn-k8.diff``: ``"+1.2 points [-0.3, +2.7]"``), its reading and its
    number of paired seeds, its interval's half-width (``accuracy.gcn-k8.halfwidth``), how
    many cells with K > 1 have one under a point (``accuracy.cells-within-1``); and the
    runs and setting of the table."""
    src = source("accuracy.md", results)
    out = {}
    halves = []  # of the cells with K > 1 (at K = 1, D − E is 0 by construction)
    for r in csv.DictReader((results / "accuracy-paired.csv").open(encoding="utf-8")):
        name = f"accuracy.{r['family'].lower()}-k{r['K']}" + (
            "" if r["mask"] == "True" else "-nomask"
        )
        low, high = float(r["low"]), float(r["high"])
        interval = "" if low != low else f" [{low:+.1f}, {high:+.1f}]"  # NaN: one seed
        out[f"{name}.diff"] = Figure(f"{float(r['diff']):+.1f} points{interval}", src)
        out[f"{name}.reading"] = Figure(r["reading"], src)
        out[f"{name}.seeds"] = Figure(r["seeds"], src)
        half = "none (one seed)" if low != low else f"±{(high - low) / 2:.1f} points"
        out[f"{name}.halfwidth"] = Figure(half, src)
        if int(r["K"]) > 1:
            halves.append((high - low) / 2)
    narrow = sum(h < 1.0 for h in halves)  # NaN (one seed) counts as wide
    out["accuracy.cells-within-1"] = Figure(f"{narrow} of {len(halves)}", src)
    runs = list(csv.DictReader((results / "accuracy.csv").open(encoding="utf-8")))
    out["accuracy.runs"] = Figure(str(len(runs)), src)
    top1 = [100 * float(r["final_top1"]) for r in runs]
    if top1:
        out["accuracy.top1-range"] = Figure(f"{min(top1):.1f}-{max(top1):.1f} %", src)
    return out


def _recipe(results: Path) -> dict[str, Figure]:
    """CTR-GCN's N-UCLA recipe (nucla-recipe.json): per stream the final-epoch top-1 (mean
    over seeds), the epochs run of the recipe's 65, and seconds per epoch; the fusion."""
    src = source("nucla-recipe.md", results)
    record = json.loads((results / "nucla-recipe.json").read_text())
    complete = [r for r in record["runs"] if nucla_recipe.summarised(r)]
    out = {}
    for stream in dict.fromkeys(r["stream"] for r in complete):
        runs = [r for r in complete if r["stream"] == stream]
        top1 = statistics.fmean(100 * r["final_top1"] for r in runs)
        out[f"recipe.{stream}.top1"] = Figure(f"{top1:.1f} %", src)
        out[f"recipe.{stream}.seeds"] = Figure(str(len(runs)), src)
        out[f"recipe.{stream}.epochs"] = Figure(str(min(r["final_epoch"] for r in runs)), src)
        seconds = statistics.median(r["median_epoch_seconds"] for r in runs)
        out[f"recipe.{stream}.epoch-seconds"] = Figure(f"{seconds:.0f} s", src)
    others = [r for r in record["runs"] if not nucla_recipe.summarised(r)]
    if others:  # the largest model of the runs listed, not averaged: how far it got
        big = max(others, key=lambda r: r["parameters"])
        seconds = big["median_epoch_seconds"]
        out["recipe.largest-other.parameters"] = Figure(f"{big['parameters'] / 1e6:.1f} M", src)
        out["recipe.largest-other.epochs"] = Figure(str(big["final_epoch"]), src)
        out["recipe.largest-other.epoch-seconds"] = Figure(f"{seconds:.0f} s", src)
        hours = seconds * big["epochs_planned"] / 3600
        out["recipe.largest-other.recipe-hours"] = Figure(f"{hours:.0f} h", src)
        out["recipe.largest-other.top1"] = Figure(f"{100 * big['final_top1']:.1f} %", src)
        # its first fusion named with --fuse, if any (with the preset's other streams)
        named = [f for f in record.get("named_fusions", []) if big["folder"] in f["runs"]]
        if named:
            fused = named[0]
            out["recipe.largest-other.fused.top1"] = Figure(f"{100 * fused['top1']:.1f} %", src)
            out["recipe.largest-other.fused.streams"] = Figure(" + ".join(fused["streams"]), src)
    for key, name in (("fused", "four streams"), ("fused-joint-bone", "joint + bone")):
        fused = [100 * f["top1"] for f in record["fused"] if f["name"] == name]
        if fused:
            out[f"recipe.{key}.top1"] = Figure(f"{statistics.fmean(fused):.1f} %", src)
            out[f"recipe.{key}.seeds"] = Figure(str(len(fused)), src)
    return out


def _amp_accuracy(results: Path) -> dict[str, Figure]:
    """N-UCLA top-1 with and without bf16 autocast (the table of amp-accuracy.md)."""
    src = source("amp-accuracy.md", results)
    out = {}
    for line in (results / "amp-accuracy.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if line.startswith("|") and cells[0] in ("off", "bf16"):
            name = "float32" if cells[0] == "off" else "bf16"
            mean = re.match(r"[\d.]+", cells[-1])[0]
            out[f"amp-accuracy.{name}"] = Figure(f"{mean} %", src)
            out["amp-accuracy.seeds"] = Figure(str(len(cells) - 2), src)
    return out


def _bias(results: Path) -> dict[str, Figure]:
    """Mass on far joints (hops ≥ 4), hop 1 and hop 0 of the full summed stacks (bias.csv)."""
    src = source("bias.md", results)
    full: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
    for r in csv.DictReader((results / "bias.csv").open(encoding="utf-8")):
        if r["stack"] == "sum":
            key = r["layout"], r["graph"]
            mass = {
                "far": float(r["hops_ge_4"]),
                "hop1": float(r["hop_1"]),
                "hop0": float(r["hop_0"]),
            }
            full.setdefault(key, {})[f"{r['mode']}-K{r['K']}"] = mass
            if int(r["K"]) == int(r["diameter"]) + 1:
                full[key][r["mode"]] = mass
    out = {}
    ratios: dict[str, list[float]] = {"spatial": [], "window": []}
    for (layout, graph), modes in full.items():
        ratio = modes["disentangled"]["far"] / modes["powering"]["far"]
        ratios["spatial" if graph == "spatial" else "window"].append(ratio)
        if layout != "ntu-rgbd":
            continue
        name = "bias." + (
            "spatial" if graph == "spatial" else graph.split()[-1].replace("τ=", "window")
        )
        for mode, short in (("powering", "pow"), ("disentangled", "dis")):
            for band, mass in modes[mode].items():
                out[f"{name}.{band}-{short}"] = Figure(f"{mass:.3f}", src)
        out[f"{name}.far-ratio"] = Figure(_ratio(ratio, 1), src)
        if graph == "spatial":
            out["bias.spatial.far-dis-K8"] = Figure(f"{modes['disentangled-K8']['far']:.3f}", src)
    for graph, values in ratios.items():
        out[f"bias.{graph}.ratio-min"] = Figure(_ratio(min(values), 1), src)
        out[f"bias.{graph}.ratio-max"] = Figure(_ratio(max(values), 1), src)
    return out


def _threads(results: Path) -> dict[str, Figure]:
    """A training run with every CPU's thread against one, per busy processes beside it
    (threads.json): ``threads.busy{N}.ratio``, the median times' ratio."""
    src = source("threads.md", results)
    cells = json.loads((results / "threads.json").read_text())["cells"]
    cpus = max(c["threads"] for c in cells)
    median = {(c["busy"], c["threads"]): c["median_s"] for c in cells}
    return {
        f"threads.busy{busy}.ratio": Figure(_ratio(median[busy, cpus] / median[busy, 1]), src)
        for busy, threads in median
        if threads == 1
    }


def _modules(results: Path) -> dict[str, Figure]:
    """MS-TCN alone against the authors' module (modules-ms-tcn.json, and
    modules-ms-tcn-tuned.json and modules-ms-tcn-limit.json under the tuned allocator), CPU
    time: ``modules.{stem}.{phase}{batch}.{float32,bf16}``, the least ratio of skelgraph's
    default path over the widths measured; where the cells hold the GEMM peak, at that
    least width ``.of-peak`` (skelgraph's fraction of the peak), ``.authors-of-peak`` and
    ``.of-peak-at-2x`` (the fraction that :data:`MODULE_SPEEDUP` × the authors' speed
    would take at skelgraph's multiply-adds, min times)."""
    figures: dict[str, Figure] = {}
    for stem in ("ms-tcn", "ms-tcn-tuned", "ms-tcn-limit"):
        if not (results / f"modules-{stem}.json").exists():
            continue
        src = source(f"modules-{stem}.md", results)
        cells = json.loads((results / f"modules-{stem}.json").read_text())
        least: dict[str, dict] = {}
        for c in cells:
            if c["impl"] != "fast":
                continue
            precision = "float32" if c["amp"] == "off" else c["amp"]
            key = f"modules.{stem}.{c['phase']}{c['batch']}.{precision}"
            if key not in least or c["vs_baseline"] < least[key]["vs_baseline"]:
                least[key] = c
        for key, c in least.items():
            figures[key] = Figure(_ratio(c["vs_baseline"]), src)
            if "of_peak" not in c:
                continue
            theirs = _authors_twin(cells, c, ("width", "batch", "phase", "amp"))
            needed = _of_peak_at(MODULE_SPEEDUP, c, theirs)
            figures[f"{key}.of-peak"] = Figure(f"{100 * c['of_peak']:.0f} %", src)
            figures[f"{key}.authors-of-peak"] = Figure(f"{100 * theirs['of_peak']:.0f} %", src)
            figures[f"{key}.of-peak-at-{MODULE_SPEEDUP:g}x"] = Figure(f"{100 * needed:.0f} %", src)
    return figures


def _products(results: Path) -> dict[str, Figure]:
    """Float32 MS-G3D Net with the products in oneDNN against torch.mm (products.json, and
    products-avx2.json from an AVX2-only CPU): ``{stem}.{phase}{batch}.speedup``, the min
    times' ratio."""
    out = {}
    for stem in ("products", "products-avx2"):
        if not (results / f"{stem}.json").exists():
            continue
        src = source(f"{stem}.md", results)
        for c in json.loads((results / f"{stem}.json").read_text())["cells"]:
            out[f"{stem}.{c['phase']}{c['batch']}.speedup"] = Figure(_ratio(c["speedup_min"]), src)
    return out


@cache
def figures(results: Path = RESULTS) -> dict[str, Figure]:
    """Every named figure, computed from the files in ``results``."""
    out: dict[str, Figure] = {}
    parts = (
        _speed, _limit, _amp, _memory, _streaming, _online, _online_seeds, _accuracy, _recipe,
        _amp_accuracy, _bias, _threads, _modules, _products,
    )  # fmt: skip
    for part in parts:
        out.update(part(results))
    return out
