"""One module against its siblings, interleaved in one process: ratios a noisy machine
cannot bias.

Each repeat times one call of every implementation in turn (inference: ``eval()`` and
``no_grad``; training: ``train()``, forward and backward), so a burst of load on the
machine slows all of them alike; the table gives each one's minimum and median and the
ratios of the medians to the authors' module (or, without ``--reference``, to
skelgraph's reference path). Implementations: ``fast`` (the default setting of
:mod:`skelgraph.nn.backend`), ``reference`` (``backend.implementation("reference")``)
and, with ``--reference PATH`` (a local clone of the authors' repository, never vendored
here), the authors' module, same weights.

Module: ``ms-tcn``, the MS-TCNs of MS-G3D Net on NTU-60 (``--widths``: C→C' and stride,
T = ``--frames``, V = 25, two persons per sample). ``--malloc`` runs the process under
one of ``speed.py``'s glibc settings (``tuned``: freed memory kept, so oneDNN's large
scratch buffers are not faulted in afresh on every call).

Against the machine's limit: each cell's multiply-adds are counted once per
implementation (``speed.multiply_adds``, forward and backward in training), and a
``--gemm-size``² matrix product in the cell's precision, by each of PyTorch's two kernels
for it (``speed.gemm_steps``), joins every repeat's rotation; the table gives GFLOP/s per
CPU second (2 × multiply-adds over the min time) and its fraction of the faster product's
GFLOP/s in the cell's own rotation, so that a target speed-up over the authors' module
can be read as the fraction of the peak it would take.

    python -m benchmarks.modules --module ms-tcn --reference ~/src/MS-G3D --batch 1 8
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch import nn

from benchmarks.provenance import command_line, machine
from benchmarks.speed import (
    MALLOC,
    PRECISIONS,
    ROOT,
    gemm_steps,
    multiply_adds,
    with_authors_path,
)
from examples.msg3d import cli
from examples.msg3d.config import int_setting
from skelgraph.amp import AMP_DTYPES, autocast
from skelgraph.nn import backend

MODULES = ("ms-tcn",)
Step = Callable[[], None]
"""One call or training step, ready to run."""

# MS-G3D Net's MS-TCNs on NTU-60: (in, out, stride) of blocks 1-3.
WIDTHS = ("96,96,1", "96,192,2", "192,192,1", "192,384,2", "384,384,1")


def build(module: str, width: str, authors: bool) -> nn.Module:
    """The module at one width, the authors' if asked (its keys are skelgraph's)."""
    c_in, c_out, stride = map(int, width.split(","))
    if authors:
        from model.ms_tcn import MultiScale_TemporalConv

        return MultiScale_TemporalConv(c_in, c_out, stride=stride)
    from skelgraph import MSTemporalConv

    return MSTemporalConv(c_in, c_out, stride=stride)


def step(module: nn.Module, x: torch.Tensor, phase: str, amp: str, setting: str) -> Step:
    """One inference call (``eval()``, no gradients) or training step (``train()``,
    forward and backward) of ``module`` under ``setting``, as a function."""

    def run() -> None:
        module.train(phase == "train")
        with backend.implementation(setting), torch.set_grad_enabled(phase == "train"):
            with autocast(x.device, amp):
                y = module(x)
            if phase == "train":
                module.zero_grad(set_to_none=True)
                y.float().sum().backward()

    return run


def timed(run: Step) -> float:
    """CPU seconds of the process for one ``run()`` (on a loaded machine CPU time is
    inflated far less than wall time)."""
    start = time.process_time()
    run()
    return time.process_time() - start


def measure(args: argparse.Namespace) -> Iterator[dict]:
    """Every (width, batch, phase, amp) cell's implementations, interleaved with the GEMM
    peak's products at the cell's precision: per implementation its CPU seconds, the
    ratio of the baseline's median to its own, its multiply-adds, GFLOP/s and fraction of
    the peak (the faster product's best GFLOP/s in the cell's own rotation)."""
    torch.manual_seed(0)
    for width, batch, phase, amp in itertools.product(
        args.widths, args.batch, args.phase, args.amp
    ):
        x = torch.randn(2 * batch, int(width.split(",")[0]), args.frames, 25)
        ours = build(args.module, width, authors=False)
        impls = {"fast": (ours, "auto"), "reference": (ours, "reference")}
        if args.authors:
            theirs = build(args.module, width, authors=True)
            theirs.load_state_dict(ours.state_dict())
            impls["authors"] = (theirs, "auto")
        steps = {
            name: step(module, x, phase, amp, setting) for name, (module, setting) in impls.items()
        }
        macs = {name: multiply_adds(run, grad=phase == "train") for name, run in steps.items()}
        precision = PRECISIONS[amp]
        gemms = gemm_steps(args.gemm_size, getattr(torch, precision)) if args.gemm_size else {}
        times: dict[str, list[float]] = {name: [] for name in [*steps, *gemms]}
        for repeat in range(args.repeats + 1):
            for name, run in [*steps.items(), *gemms.items()]:
                seconds = timed(run)
                if repeat:  # the first is a warm-up
                    times[name].append(seconds)
        peak = max((2 * args.gemm_size**3 / min(times.pop(name)) / 1e9 for name in gemms),
                   default=0.0)  # fmt: skip
        base = statistics.median(times["authors" if args.authors else "reference"])
        for name, values in times.items():
            median = statistics.median(values)
            gflops = 2 * macs[name] / min(values) / 1e9
            limit = {"peak_gflops": peak, "of_peak": gflops / peak} if peak else {}
            yield dict(width=width, batch=batch, phase=phase, amp=amp, impl=name,
                       times_s=values, min_s=min(values), median_s=median,
                       vs_baseline=base / median, macs=macs[name], gflops=gflops,
                       **limit)  # fmt: skip


def peaks(cells: list[dict]) -> dict[str, tuple[float, float]]:
    """The least and the greatest GEMM peak of the cells, per precision."""
    found: dict[str, list[float]] = {}
    for cell in cells:
        if "peak_gflops" in cell:
            found.setdefault(PRECISIONS[cell["amp"]], []).append(cell["peak_gflops"])
    return {precision: (min(values), max(values)) for precision, values in found.items()}


def row(cell: dict) -> str:
    """A cell's line of the table."""
    return (
        f"| {cell['width']} | {cell['batch']} | {cell['phase']} | {cell['amp']} | "
        f"{cell['impl']} | {1e3 * cell['min_s']:.1f} | {1e3 * cell['median_s']:.1f} | "
        f"{cell['vs_baseline']:.2f} | {2 * cell['macs'] / 1e9:.2f} | {cell['gflops']:.1f} | "
        + (f"{100 * cell['of_peak']:.0f} % |" if "of_peak" in cell else "– |")
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", choices=MODULES, default="ms-tcn")
    parser.add_argument("--reference", help="local clone of the authors' MS-G3D repository")
    parser.add_argument("--widths", nargs="+", default=["192,192,1", "96,192,2"])
    parser.add_argument("--batch", type=cli.bounded_int(1, 65_536), nargs="+", default=[1, 8])
    parser.add_argument("--frames", type=cli.bounded_int(1, 100_000), default=100)
    phases = ("infer", "train")
    parser.add_argument("--phase", nargs="+", choices=phases, default=list(phases))
    parser.add_argument("--amp", nargs="+", choices=tuple(AMP_DTYPES), default=["off", "bf16"])
    parser.add_argument("--repeats", type=cli.bounded_int(1, 10_000), default=5)
    parser.add_argument(
        "--gemm-size",
        type=cli.bounded_int(0, 16_384),
        default=1024,
        help="matrix size of the GEMM peak measured beside every cell (0: none)",
    )
    parser.add_argument("--threads", type=int_setting("threads"), default=1)
    parser.add_argument("--malloc", choices=tuple(MALLOC), default="default")
    parser.add_argument("--out", type=Path, help="also write OUT.md and OUT.json")
    parser.add_argument("--authors", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for width in args.widths:
        parts = width.split(",")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            parser.exit(2, f"--widths: expected IN,OUT,STRIDE positive integers, got {width!r}\n")
    malloc = MALLOC[args.malloc]
    if (args.reference or malloc) and not (args.authors or args.child):
        # Rerun in a process that starts under the allocator's settings and, with
        # --reference, whose PYTHONPATH starts with their clone (their packages
        # ``model`` and ``graph`` importable).
        command = [sys.executable, "-m", "benchmarks.modules", *(argv or sys.argv[1:])]
        env = {**os.environ, **malloc}
        if args.reference:
            env = with_authors_path(env, args.reference)
            command.append("--authors")
        else:
            command.append("--child")
        raise SystemExit(subprocess.call(command, env=env, cwd=ROOT))
    torch.set_num_threads(args.threads)
    table = [
        "| C→C',s | batch | phase | amp | impl | min (CPU ms) | median (CPU ms) | × baseline "
        "| GFLOP | GFLOP/s | of GEMM peak |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | ---: | ---: | ---: |",
    ]
    print(f"{args.module}, T={args.frames}, V=25, N=2·batch, {args.threads} thread(s)")
    print("\n".join(table))
    cells = []
    for cell in measure(args):
        cells.append({**cell, "malloc": args.malloc})
        table.append(row(cell))
        print(table[-1], flush=True)
    if args.out:
        words = sys.argv[1:] if argv is None else argv
        command = command_line("modules", [a for a in words if a not in ("--authors", "--child")])
        header = [
            f"# {args.module} against the authors' module (benchmarks/modules.py)",
            "",
            f"- command: `{command}`",
            f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
            f"- torch {torch.__version__}, {args.threads} thread(s), T = {args.frames}, "
            "V = 25, N = 2·batch (two persons per sample)",
            f"- glibc malloc: {args.malloc} "
            + (" ".join(f"{k}={os.environ.get(k)}" for k in malloc) or "(as installed)"),
            f"- machine: {machine()}",
            "- time: CPU seconds of the process per call (inference) or step (training), "
            "implementations interleaved, after one warm-up; × baseline: the "
            + ("authors' module's" if args.authors else "reference path's")
            + " median over this one's",
            "- GFLOP: 2 × multiply-adds (FlopCounterMode / 2, of the implementation's own code, "
            "forward and backward in training); GFLOP/s: per CPU second, at the min time; "
            + (
                f"of GEMM peak: against a {args.gemm_size}² matrix product at the cell's "
                "precision (the faster of torch.mm and the same product as a 1x1 "
                "convolution, min time) timed in the cell's own rotation: "
                + "; ".join(
                    f"{p} {low:.1f}-{high:.1f} GFLOP/s" for p, (low, high) in peaks(cells).items()
                )
                if args.gemm_size
                else "no GEMM peak measured (--gemm-size 0)"
            ),
            "",
        ]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text("\n".join(header + table) + "\n")
        args.out.with_suffix(".json").write_text(json.dumps(cells, indent=1) + "\n")


if __name__ == "__main__":
    main()
