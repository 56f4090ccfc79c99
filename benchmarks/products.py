"""Float32 MS-G3D Net with the fast kernels' products in oneDNN against ``torch.mm``.

``skelgraph.nn.products`` runs a large float32 product of rows as oneDNN's 1×1
convolution where that library is the faster (on this project's AVX-512 AMD EPYC MKL,
behind ``torch.mm``, does not use the full AVX-512 width; the route is taken on AVX-512
CPUs only, ``products.ONEDNN_FLOAT32``). This script measures what the route gives a
whole model on the machine it runs on, whatever the CPU: the NTU-60 MS-G3D Net's
inference call and training step (forward and backward) in float32, once with the route
(``oneDNN``) and once with every product left to ``torch.mm`` (``torch.mm``:
:data:`~skelgraph.nn.products.MIN_ROWS` set out of reach),
the two interleaved in one process, round after round in alternating order, so that the
machine's drift falls on both alike. Per cell: min and median time of each, the speed-up
(``torch.mm``'s time over oneDNN's) and the largest difference between the two outputs.

    python -m benchmarks.products --batch 2 8 --frames 100 --threads 2 --rounds 6
    python -m benchmarks.products --quick        # tiny, seconds (the test)

Writes ``benchmarks/results/products.md`` and ``products.json`` (``--out`` elsewhere,
``--name`` another stem).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import statistics
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import torch

from benchmarks.provenance import command_line, interleaved_header, machine, results_stem
from examples.msg3d import cli
from examples.msg3d.config import int_setting
from skelgraph.nn import products

ROOT = Path(__file__).resolve().parents[1]
ROUTES = ("torch.mm", "oneDNN")


@contextlib.contextmanager
def route(name: str) -> Iterator[None]:
    """The products' route for a block: ``"oneDNN"`` (the rule's shapes, on any CPU) or
    ``"torch.mm"`` (none)."""
    saved = products.MIN_ROWS, products.ONEDNN_FLOAT32
    if name == "oneDNN":
        products.ONEDNN_FLOAT32 = True
    else:
        products.MIN_ROWS = 2**62
    try:
        yield
    finally:
        products.MIN_ROWS, products.ONEDNN_FLOAT32 = saved


def step(model: torch.nn.Module, x: torch.Tensor, phase: str) -> torch.Tensor:
    """One inference call (no gradients) or training step (forward and backward)."""
    model.train(phase == "train")
    with torch.set_grad_enabled(phase == "train"):
        y = model(x)
    if phase == "train":
        model.zero_grad(set_to_none=True)
        y.sum().backward()
    return y.detach()


def measure(batches: Sequence[int], frames: int, phases: Sequence[str], rounds: int) -> list:
    """Every (batch, phase) cell's two routes, interleaved; one warm-up each."""
    from examples.msg3d.model import MSG3DNet

    torch.manual_seed(0)
    model = MSG3DNet.from_preset("ntu60")
    cells = []
    for batch, phase in itertools.product(batches, phases):
        x = torch.randn(batch, 3, frames, 25, 2)
        times: dict[str, list[float]] = {name: [] for name in ROUTES}
        outputs = {}
        for r in range(rounds + 1):
            for name in ROUTES if r % 2 == 0 else ROUTES[::-1]:
                with route(name):
                    start = time.perf_counter()
                    outputs[name] = step(model, x, phase)
                    if r:  # the first round warms up
                        times[name].append(time.perf_counter() - start)
        mm, onednn = times["torch.mm"], times["oneDNN"]
        cells.append(dict(
            batch=batch, phase=phase, times_s=times,
            min_s={k: min(v) for k, v in times.items()},
            median_s={k: statistics.median(v) for k, v in times.items()},
            speedup_min=min(mm) / min(onednn),
            speedup_median=statistics.median(mm) / statistics.median(onednn),
            max_abs_difference=(outputs["oneDNN"] - outputs["torch.mm"]).abs().max().item(),
        ))  # fmt: skip
    return cells


def markdown(data: dict) -> str:
    """The results file, from its json."""
    lines = [
        "# Float32 products in oneDNN against torch.mm (benchmarks/products.py)",
        "",
        *interleaved_header(data),
        "- MS-G3D Net NTU-60 in float32; time: min and median over the rounds after one "
        "warm-up, the two routes interleaved in one process; speed-up: torch.mm's time "
        "over oneDNN's (min / median); difference: the largest between the two outputs",
        *(
            [
                "- the route the rule takes on this CPU (`ONEDNN_FLOAT32`, AVX-512 only): "
                + data["rule"]
            ]
            if "rule" in data
            else []
        ),
        "",
        "| batch | phase | torch.mm min (s) | torch.mm median (s) | oneDNN min (s) | "
        "oneDNN median (s) | speed-up | largest difference |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c in data["cells"]:
        lines.append(
            f"| {c['batch']} | {c['phase']} | {c['min_s']['torch.mm']:.3f} | "
            f"{c['median_s']['torch.mm']:.3f} | {c['min_s']['oneDNN']:.3f} | "
            f"{c['median_s']['oneDNN']:.3f} | {c['speedup_min']:.2f}× / "
            f"{c['speedup_median']:.2f}× | {c['max_abs_difference']:.2g} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=cli.bounded_int(1, 1024), nargs="+", default=[2, 8])
    parser.add_argument("--frames", type=cli.bounded_int(1, 10_000), default=100)
    parser.add_argument("--phases", nargs="+", choices=("infer", "train"),
                        default=["infer", "train"])  # fmt: skip
    parser.add_argument("--threads", type=int_setting("threads"), default=2)
    parser.add_argument("--rounds", type=cli.bounded_int(1, 1000), default=6)
    parser.add_argument("--quick", action="store_true", help="tiny shapes, 2 rounds (the test)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", type=results_stem, help="results file stem (products)")
    args = parser.parse_args(argv)
    if args.quick:
        args.batch, args.frames, args.rounds = [1], 8, 2
    torch.set_num_threads(args.threads)
    data = dict(
        command=command_line("products", argv), date=datetime.now(timezone.utc).isoformat(
            timespec="seconds"), machine=machine(), torch=torch.__version__,
        threads=args.threads, frames=args.frames, rounds=args.rounds,
        rule="oneDNN" if products.ONEDNN_FLOAT32 else "torch.mm",
        cells=measure(args.batch, args.frames, args.phases, args.rounds),
    )  # fmt: skip
    name = args.name or ("products-quick" if args.quick else "products")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    (args.out / f"{name}.md").write_text(markdown(data))
    print(markdown(data))


if __name__ == "__main__":
    main()
