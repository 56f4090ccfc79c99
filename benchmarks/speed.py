"""Speed and memory of skelgraph's layers and MS-G3D Net, against a baseline in the same run.

Every measurement runs in a fresh subprocess, so peak memory is that of one configuration:

- time: median over ``--repeats`` timed runs after one warm-up, of inference (``eval()``,
  ``no_grad``) and of a training step (``train()``, forward + backward);
- memory: peak resident set size of the worker above its size just before the first
  step (CPU), or ``torch.cuda.max_memory_allocated`` (CUDA); and on any device the peak
  of live tensor storage in one more, untimed step
  (:class:`benchmarks.tensor_memory.PeakTensorMemory`), what the code holds whatever the
  allocator keeps (on CUDA the same figure as ``max_memory_allocated``).

Cases, at the paper's shapes (T = 300, V = 25, M = 2; batch sizes ``--batch``): the MS-GCN,
the two G3D pathways and the MS-TCN of STGC block 2, and the whole NTU-60 model, each with
disentangled and powering aggregation. Implementations: ``skelgraph`` (the default
setting of :mod:`skelgraph.nn.backend`, ``"auto"``: the fast kernels),
``skelgraph-reference`` (``backend.set_implementation("reference")``: the authors' order
of operations), ``skelgraph-fast`` (``"fast"``: the fast kernels wherever they apply,
e.g. the activation rebuild under autocast), ``skelgraph-compiled`` (``--compile``),
``skelgraph-checkpointed`` (``--checkpoint``: the model with activation checkpointing,
training only), and with
``--reference PATH`` (a local clone of the authors' repository, never vendored here; the
workers import it through ``PYTHONPATH``) the authors' modules, which are then the
baseline; otherwise the baseline is skelgraph's reference path.

``--malloc tuned`` runs the workers with glibc's allocator kept from returning memory to
the system, the setting the commands make at start (``examples/msg3d/allocator.py``,
here as ``MALLOC_MMAP_MAX_=0`` and a 2 GiB trim threshold): on CPU, the page faults of
freshly mapped large tensors otherwise cost a large share of a training step, for every
implementation alike. ``--malloc lean`` does the opposite: every block over 128 KiB is
mapped on its own and unmapped when freed (``MALLOC_MMAP_THRESHOLD_`` fixed, which stops
glibc from raising it after each free), so peak RSS follows the live tensors instead of
what the allocator kept from earlier steps. Results go to ``benchmarks/results/speed.md``
and ``speed.json``.

``--interleave`` measures against the machine's limit instead: MS-G3D Net (NTU-60) only,
skelgraph and the authors' code (else skelgraph's reference path) at each ``--amp``
precision, every cell in one process, round-robin over ``--rounds`` rounds (alternating
order) so that a noisy machine slows every cell alike; min and median per cell. Each cell
also reports its multiply-adds (``FlopCounterMode``, forward and backward), the GFLOP/s
they give at its min time, and the fraction of this machine's GEMM peak for its
precision, measured in the same rounds (a large matrix product per dtype); its ratios are
to the baseline at the same precision and to the baseline's float32. No peak memory:
one process holds every cell. Results go to ``speed-limit.json`` and, written from it,
``speed-limit.md``.

    python -m benchmarks.speed --reference ~/src/MS-G3D      # full run (tens of minutes)
    python -m benchmarks.speed --quick                        # tiny shapes, seconds (CI)
    python -m benchmarks.speed --interleave --reference ~/src/MS-G3D --batch 2 8 \
        --frames 100 --threads 2 --amp off bf16 --rounds 8  # about 8 minutes
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.provenance import command_line, interleaved_header, machine, results_stem
from benchmarks.tensor_memory import PeakTensorMemory
from examples.msg3d import allocator, cli
from examples.msg3d.config import int_setting
from skelgraph.amp import AMP_DTYPES, autocast
from skelgraph.nn import backend

ROOT = Path(__file__).resolve().parents[1]

CASES = {
    "ms-gcn": "MS-GCN 96→96, K=13, T=300 (block 2)",
    "g3d-3": "G3D τ=3 96→192, T=300, stride 2 (block 2)",
    "g3d-5": "G3D τ=5 96→192, T=300, stride 2 (block 2)",
    "ms-tcn": "MS-TCN 192→192, T=150 (block 2)",
    "msg3d": "MS-G3D Net, NTU-60",
}
IMPLEMENTATIONS = (
    "skelgraph",
    "skelgraph-reference",
    "skelgraph-fast",
    "skelgraph-compiled",
    "skelgraph-checkpointed",
    "authors",
)
# the global kernel setting (skelgraph.nn.backend) of the paths that do not run "auto"
SETTINGS = {"skelgraph-reference": "reference", "skelgraph-fast": "fast"}
# glibc malloc settings of the workers (see the module docstring): as installed; the
# commands' setting, freed memory kept (tuned); every block over 128 KiB mapped on its own
# and unmapped when freed, the threshold fixed (lean: peak RSS follows the live tensors).
MALLOC: dict[str, dict[str, str]] = {
    "default": {},
    "tuned": allocator.ENVIRONMENT,
    "lean": {
        "MALLOC_MMAP_THRESHOLD_": str(2**17),
        "MALLOC_TRIM_THRESHOLD_": str(2**17),
        "MALLOC_TOP_PAD_": "0",
    },
}


def build(case: str, impl: str, aggregation: str, batch: int, frames: int, reference: str | None):
    """The module and its input for one configuration."""
    m = 2
    shapes = {
        "ms-gcn": (batch * m, 96, frames, 25),
        "g3d-3": (batch * m, 96, frames, 25),
        "g3d-5": (batch * m, 96, frames, 25),
        "ms-tcn": (batch * m, 192, frames // 4, 25),
        "msg3d": (batch, 3, frames, 25, m),
    }
    x = torch.randn(*shapes[case])
    disentangled = aggregation == "disentangled"
    if impl == "authors":
        # The authors' top-level packages, importable through PYTHONPATH (run_worker).
        from graph.ntu_rgb_d import AdjMatrixGraph
        from model.ms_gcn import MultiScale_GraphConv
        from model.ms_tcn import MultiScale_TemporalConv
        from model.msg3d import MS_G3D, Model

        a = AdjMatrixGraph().A_binary
        if case == "msg3d":
            if not disentangled:
                raise ValueError("the authors' Model has no powering switch")
            module = Model(60, 25, 2, 13, 6, "graph.ntu_rgb_d.AdjMatrixGraph")
        elif case == "ms-gcn":
            module = MultiScale_GraphConv(13, 96, 96, a, disentangled_agg=disentangled)
        elif case.startswith("g3d"):
            if not disentangled:
                raise ValueError("the authors' MS_G3D has no powering switch")
            module = MS_G3D(96, 192, a, 6, int(case[-1]), 2, 1)
        else:
            module = MultiScale_TemporalConv(192, 192)
        return module, x
    from examples.msg3d.model import MSG3DNet
    from skelgraph import DisentangledGraphConv, G3DConv, MSTemporalConv

    options = {"aggregation": aggregation}
    if case == "msg3d":
        checkpoint = impl == "skelgraph-checkpointed"
        module = MSG3DNet.from_preset("ntu60", checkpoint=checkpoint, **options)
    elif case == "ms-gcn":
        module = DisentangledGraphConv(96, 96, "ntu-rgbd", 13, **options)
    elif case.startswith("g3d"):
        module = G3DConv(96, 192, "ntu-rgbd", window_size=int(case[-1]), stride=2, **options)
    else:
        module = MSTemporalConv(192, 192)
    if impl == "skelgraph-compiled":
        module = torch.compile(module)
    return module, x


def make_step(module: torch.nn.Module, x: torch.Tensor, phase: str, amp: str):
    """One inference (``eval()``, ``no_grad``) or training step (``train()``, forward and
    backward) of ``module`` on ``x`` under the autocast setting ``amp``, as a function."""
    train, device = phase == "train", x.device

    def forward():
        with autocast(device, amp):
            return module(x).float().sum()

    def step():
        module.train(train)
        if train:
            module.zero_grad(set_to_none=True)
            forward().backward()
        else:
            with torch.no_grad():
                forward()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step


def worker(spec: dict) -> dict:
    """Measure one configuration (runs in its own process)."""
    torch.manual_seed(0)
    torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    keys = ("case", "impl", "aggregation", "batch", "frames", "reference")
    module, x = build(*(spec[k] for k in keys))
    if spec["impl"] in SETTINGS:  # one process per configuration: set it globally
        backend.set_implementation(SETTINGS[spec["impl"]])
    module, x = module.to(device), x.to(device)
    step = make_step(module, x, spec["phase"], spec.get("amp", "off"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    step()  # warm-up (and compilation, for the compiled path)
    first = time.perf_counter() - start
    times = []
    for _ in range(spec["repeats"]):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before
    with PeakTensorMemory() as tensors:
        step()
    median = statistics.median(times)
    return {
        **spec,
        "median_s": median,
        "times_s": times,
        "first_s": first,
        "peak_mib": peak,
        "tensor_peak_mib": tensors.peak_bytes / 2**20,
        # what this process ran under, read back: the record that the settings reached it
        "kernel_setting": backend.get_implementation(),
        "malloc_env": {
            name: os.environ.get(name) for name in sorted(set().union(*MALLOC.values()))
        },
    }


def with_authors_path(env: dict[str, str], reference: str) -> dict[str, str]:
    """``env`` with the authors' clone first on ``PYTHONPATH``: their top-level packages
    (``model``, ``graph``) importable in a subprocess, no ``sys.path`` edit here."""
    paths = [reference, env.get("PYTHONPATH")]
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def run_worker(spec: dict) -> dict | None:
    """``spec`` measured in a fresh process (its stderr shown live for an interleaved run)."""
    env = {**os.environ, **MALLOC[spec["malloc"]]}
    if "authors" in spec.get("impls", [spec.get("impl")]):
        env = with_authors_path(env, spec["reference"])
    interleaved = "rounds" in spec
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.speed", "--worker", json.dumps(spec)],
        stdout=subprocess.PIPE,
        stderr=None if interleaved else subprocess.PIPE,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr else f"exit {proc.returncode}"
        print(f"  failed: {reason}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ratio(mine: float, base: float) -> float:
    return mine / base if base > 0 else float("nan")


def table(results: list[dict]) -> list[str]:
    amp = any(r.get("amp", "off") != "off" for r in results)
    lines = [
        "| case | batch | phase | malloc | implementation | aggregation | "
        + ("autocast | " if amp else "")
        + "median time (s) | speed-up vs baseline | peak memory (MiB) | memory vs baseline | "
        "peak tensors (MiB) | tensors vs baseline |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if amp else ""),
    ]
    key = lambda r: (r["case"], r["batch"], r["phase"], r["device"], r["malloc"])  # noqa: E731
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    for (case, batch, phase, _, malloc), rows in groups.items():
        # The baseline runs in float32: the authors' code where run, else the reference.
        plain = [r for r in rows if r.get("amp", "off") == "off"] or rows
        base = next((r for r in plain if r["impl"] == "authors"), None) or next(
            (r for r in plain if r["impl"] == "skelgraph-reference"), plain[0]
        )
        for r in rows:
            speed = base["median_s"] / r["median_s"]
            memory = _ratio(r["peak_mib"], base["peak_mib"])
            tensors = _ratio(r["tensor_peak_mib"], base["tensor_peak_mib"])
            autocast = f"{r.get('amp', 'off')} | " if amp else ""
            lines.append(
                f"| {CASES[case]} | {batch} | {phase} | {malloc} | {r['impl']} | "
                f"{r['aggregation']} | {autocast}"
                f"{r['median_s']:.3f} | {speed:.2f}× | {r['peak_mib']:.0f} | {memory:.2f}× | "
                f"{r['tensor_peak_mib']:.0f} | {tensors:.2f}× |"
            )
    return lines


# -- against the machine's limit: every cell in one process, interleaved ---------------
# The baselines of an interleaved run, as its results file names them.
BASELINES = {"authors": "the authors' code", "skelgraph-reference": "skelgraph's reference path"}
# The dtype of each autocast setting's products: whose GEMM peak its cells are held to.
PRECISIONS = {"off": "float32", "bf16": "bfloat16", "fp16": "float16"}


def _addmm_inplace(self_shape, mat1, mat2, *args, out_shape=None, **kwargs):
    return 2 * mat1[0] * mat1[1] * mat2[1]  # not in FlopCounterMode's table


def multiply_adds(fn, *, grad: bool = False) -> int:
    """Multiply-adds of ``fn()``: FlopCounterMode's flops / 2, the in-place ``addmm_`` of
    the fast kernels counted too. Under ``no_grad`` unless ``grad`` (then a backward that
    ``fn`` runs counts as well)."""
    mapping = {torch.ops.aten.addmm_: _addmm_inplace}
    counter = FlopCounterMode(display=False, custom_mapping=mapping)
    with counter, torch.set_grad_enabled(grad):
        fn()
    return counter.get_total_flops() // 2


def gemm_steps(size: int, dtype: torch.dtype) -> dict[str, Callable[[], torch.Tensor]]:
    """A (size × size) @ (size × size) product in ``dtype`` by each of PyTorch's two CPU
    kernels for it, as functions: 2·size³ flops, the fastest work the machine does.

    ``matmul`` is ``torch.mm`` (the build's BLAS, MKL); ``1x1 convolution`` is the same
    product as ``conv2d`` of the rows viewed as a channels-last batch (oneDNN). Which is
    faster depends on the CPU: on this project's AMD EPYC oneDNN's float32 was twice
    MKL's, so the peak is the faster kernel's, never one library's.
    """
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    # PyTorch hands a 1x1 convolution to oneDNN on one thread only from a batch of 16 on.
    batch = math.gcd(size, 16)
    rows = a.view(batch, size // batch, 1, size).permute(0, 3, 1, 2)  # no copy
    weight = b.t().contiguous().view(size, size, 1, 1)
    return {"matmul": lambda: torch.mm(a, b), "1x1 convolution": lambda: F.conv2d(rows, weight)}


def interleaved(spec: dict) -> dict:
    """Time every cell of ``spec`` in this one process, round after round (runs in a fresh
    worker): MS-G3D Net NTU-60 per batch, phase, implementation and autocast setting,
    and a large matrix product per precision for the machine's peak.

    One warm-up step per cell, then ``rounds`` rounds that each run every cell once, in
    alternating order, so that a drift of the machine's speed falls on every cell alike.
    A cell's multiply-adds are counted once (:func:`multiply_adds`, its own implementation:
    the fast kernels do fewer than the authors'; the same for every precision).
    """
    torch.manual_seed(0)
    torch.set_num_threads(spec["threads"])
    frames, reference = spec["frames"], spec["reference"]
    models = {
        impl: build("msg3d", impl, "disentangled", 1, frames, reference)[0]
        for impl in spec["impls"]
    }
    inputs = {batch: torch.randn(batch, 3, frames, 25, 2) for batch in spec["batches"]}
    cells, steps = [], []
    for batch, phase, impl, amp in itertools.product(
        spec["batches"], ("infer", "train"), spec["impls"], spec["amps"]
    ):
        step = make_step(models[impl], inputs[batch], phase, amp)
        if impl == "skelgraph-reference":  # the global setting, for this cell's steps only
            step = functools.partial(_with_reference_kernels, step)
        cells.append(dict(case="msg3d", impl=impl, batch=batch, phase=phase, amp=amp))
        steps.append(step)
    counted: dict[tuple, int] = {}
    for cell, step in zip(cells, steps):
        key = (cell["impl"], cell["batch"], cell["phase"])
        if key not in counted:
            counted[key] = multiply_adds(step, grad=True)
        cell["macs"] = counted[key]
        step()  # warm-up
        print(f"warm: {cell}", file=sys.stderr)
    gemms = []
    for amp in spec["amps"]:
        dtype, size = PRECISIONS[amp], spec["gemm_size"]
        for kernel, step in gemm_steps(size, getattr(torch, dtype)).items():
            gemms.append(dict(dtype=dtype, size=size, kernel=kernel))
            steps.append(step)
            step()  # warm-up
    timed = cells + gemms
    for cell in timed:
        cell["times_s"] = []
    for r in range(spec["rounds"]):
        order = list(zip(timed, steps))
        for cell, step in order if r % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            step()
            cell["times_s"].append(time.perf_counter() - start)
        print(f"round {r + 1} of {spec['rounds']}", file=sys.stderr)
    for cell in timed:
        cell["min_s"], cell["median_s"] = min(cell["times_s"]), statistics.median(cell["times_s"])
    for gemm in gemms:
        gemm["gflops"] = 2 * gemm["size"] ** 3 / gemm["min_s"] / 1e9
    peak = gemm_peak(gemms)
    for cell in cells:
        cell["gflops"] = 2 * cell["macs"] / cell["min_s"] / 1e9
        cell["of_peak"] = cell["gflops"] / peak[PRECISIONS[cell["amp"]]]
    return {"cells": cells, "gemm": gemms}


def gemm_peak(gemms: list[dict]) -> dict[str, float]:
    """GFLOP/s of the fastest product kernel per dtype."""
    peak: dict[str, float] = {}
    for gemm in gemms:
        peak[gemm["dtype"]] = max(peak.get(gemm["dtype"], 0.0), gemm["gflops"])
    return peak


def _with_reference_kernels(step) -> None:
    with backend.implementation("reference"):
        step()


def limit_markdown(data: dict) -> str:
    """The results file of an interleaved run, from its json (:func:`interleaved` and the
    run's header fields)."""
    cells = data["cells"]
    base = data["baseline"]

    def kernels(dtype: str) -> str:
        return ", ".join(
            f"{g.get('kernel', 'matmul')} {g['gflops']:.0f}"
            for g in data["gemm"]
            if g["dtype"] == dtype
        )

    peak = "; ".join(
        f"{dtype} {value:.0f} GFLOP/s ({kernels(dtype)})"
        for dtype, value in gemm_peak(data["gemm"]).items()
    )
    lines = [
        "# Speed against the machine's limit (benchmarks/speed.py --interleave)",
        "",
        *interleaved_header(data),
        f"- GEMM peak (a {data['gemm'][0]['size']}² matrix product, best of the rounds, "
        f"the faster of torch.mm and the same product as a 1x1 convolution): {peak}",
        "- every cell in one process, round-robin over the cells, alternating order; "
        "time: min and median over the rounds after one warm-up; multiply-adds: "
        "FlopCounterMode / 2, of the cell's own code (forward and backward in training); "
        "GFLOP/s: 2 × multiply-adds / min time; of GEMM peak: against the peak of the "
        f"cell's precision; ratios: the time of {BASELINES[base]} over the cell's "
        "(min / median), at the same precision and in float32",
        "",
        "| batch | phase | code | precision | min (s) | median (s) | multiply-adds (G) "
        f"| GFLOP/s | of GEMM peak | vs {base}, same precision | vs {base} float32 |",
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    index = {(c["impl"], c["batch"], c["phase"], c["amp"]): c for c in cells}

    def ratio(other: dict | None, cell: dict) -> str:
        if other is None:
            return "–"
        return (
            f"{other['min_s'] / cell['min_s']:.2f}× / {other['median_s'] / cell['median_s']:.2f}×"
        )

    for c in cells:
        same = index.get((base, c["batch"], c["phase"], c["amp"]))
        fp32 = index.get((base, c["batch"], c["phase"], "off"))
        lines.append(
            f"| {c['batch']} | {c['phase']} | {c['impl']} | {PRECISIONS[c['amp']]} | "
            f"{c['min_s']:.3f} | {c['median_s']:.3f} | {c['macs'] / 1e9:.1f} | "
            f"{c['gflops']:.0f} | {100 * c['of_peak']:.0f} % | {ratio(same, c)} | "
            f"{ratio(fp32, c)} |"
        )
    return "\n".join(lines) + "\n"


def run_interleaved(args: argparse.Namespace, command: str) -> None:
    """The ``--interleave`` run: one worker, then speed-limit.json (``--name``.json) and,
    from it, .md."""
    impls = ["skelgraph", "authors" if args.reference else "skelgraph-reference"]
    spec = dict(
        impls=impls, batches=args.batch, amps=args.amp, frames=args.frames,
        rounds=args.rounds, threads=args.threads, reference=args.reference,
        gemm_size=args.gemm_size, malloc=args.malloc[0],
    )  # fmt: skip
    result = run_worker(spec)
    if result is None:
        raise SystemExit("the interleaved run failed (its error is above)")
    data = {
        "command": command,
        "date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
        "torch": torch.__version__,
        "threads": args.threads,
        "frames": args.frames,
        "rounds": args.rounds,
        "malloc": args.malloc[0],
        "machine": machine(),
        "baseline": impls[1],
        **result,
    }
    name = args.name or ("speed-limit-quick" if args.quick else "speed-limit")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{name}.json"
    path.write_text(json.dumps(data, indent=1))
    text = limit_markdown(json.loads(path.read_text()))
    (args.out / f"{name}.md").write_text(text)
    print(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", help="local clone of the authors' MS-G3D repository")
    count = cli.bounded_int(1, 10_000)
    parser.add_argument("--batch", type=cli.bounded_int(1, 4096), nargs="+", default=[1, 8])
    # T: at least the MS-TCN case's T / 4 = 1 frame; at most a long recording
    parser.add_argument("--frames", type=cli.bounded_int(4, 100_000), default=300)
    parser.add_argument("--repeats", type=count, default=3)
    parser.add_argument("--threads", type=int_setting("threads"), default=torch.get_num_threads())
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument(
        "--aggregations", nargs="+", default=["disentangled", "powering"],
        choices=["disentangled", "powering"],
    )  # fmt: skip
    parser.add_argument("--compile", action="store_true", help="add a torch.compile'd path")
    parser.add_argument(
        "--checkpoint", action="store_true",
        help="add MS-G3D Net with activation checkpointing (training steps only)",
    )  # fmt: skip
    parser.add_argument(
        "--implementations", nargs="+", default=["skelgraph", "skelgraph-reference"],
        choices=IMPLEMENTATIONS[:3], help="skelgraph paths to run",
    )  # fmt: skip
    parser.add_argument(
        "--malloc", nargs="+", default=["default"], choices=list(MALLOC),
        help="glibc allocator settings of the workers (see the module docstring)",
    )  # fmt: skip
    parser.add_argument(
        "--amp", nargs="+", default=["off"], choices=list(AMP_DTYPES),
        help="autocast settings to run (the baseline stays the float32 run)",
    )  # fmt: skip
    parser.add_argument(
        "--interleave", action="store_true",
        help="MS-G3D Net only, every cell in one process, round-robin over --rounds rounds, "
        "with GFLOP/s and the fraction of the machine's GEMM peak (speed-limit.md)",
    )  # fmt: skip
    parser.add_argument("--rounds", type=count, default=5, help="rounds of --interleave")
    parser.add_argument(
        "--gemm-size", type=cli.bounded_int(16, 16_384), default=2048,
        help="matrix size of --interleave's GEMM peak measurement",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="tiny shapes for a smoke test")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--name", type=results_stem, help="--interleave's results file stem (speed-limit)"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(interleaved(spec) if "rounds" in spec else worker(spec)))
        return
    if args.quick:
        args.batch, args.frames, args.repeats = [1], 16, 1
        args.rounds, args.gemm_size = 2, 256
    command = command_line("speed", argv)
    if args.interleave:
        if len(args.malloc) > 1:
            parser.error(f"--interleave runs one allocator setting, got --malloc {args.malloc}")
        run_interleaved(args, command.strip())
        return
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    impls = list(args.implementations) + (["skelgraph-compiled"] if args.compile else [])
    impls += ["skelgraph-checkpointed"] if args.checkpoint else []
    impls += ["authors"] if args.reference else []
    results = []
    grid = itertools.product(
        devices, args.malloc, args.cases, args.batch, ("infer", "train"), impls,
        args.aggregations, args.amp,
    )  # fmt: skip
    for device, malloc, case, batch, phase, impl, aggregation, amp in grid:
        if case == "ms-tcn" and aggregation == "powering":
            continue  # no graph, no aggregation
        if aggregation == "powering" and impl == "authors" and case != "ms-gcn":
            continue  # the authors' G3D and Model have no powering switch
        if impl == "skelgraph-checkpointed" and (case != "msg3d" or phase != "train"):
            continue  # checkpointing is of the model's blocks, in training
        spec = dict(
            case=case, impl=impl, aggregation=aggregation, batch=batch, frames=args.frames,
            phase=phase, repeats=args.repeats, threads=args.threads, device=device,
            reference=args.reference, malloc=malloc, amp=amp,
        )  # fmt: skip
        print(f"{device} malloc={malloc} {case} B={batch} {phase} {impl} {aggregation} {amp} ...")
        result = run_worker(spec)
        if result:
            print(f"  {result['median_s']:.3f} s, {result['peak_mib']:.0f} MiB")
            results.append(result)
    args.out.mkdir(parents=True, exist_ok=True)
    header = [
        "# Speed and memory (benchmarks/speed.py)",
        "",
        f"- command: `{command.strip()}`",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- torch {torch.__version__}, {args.threads} threads, T = {args.frames}",
        f"- machine: {machine()}",
        "- time: median of the timed runs after one warm-up; memory: peak RSS growth of a fresh "
        "process (CPU) or peak CUDA allocation; tensors: the most bytes live tensors held at "
        "once in one more step (benchmarks/tensor_memory.py), whatever the allocator keeps; "
        "baseline: the authors' code where run, else skelgraph's disentangled path",
        "",
    ]
    # Autocast runs go to their own files; speed.md/json keep the float32 comparison.
    name = "speed-quick" if args.quick else "speed" if args.amp == ["off"] else "speed-amp"
    name += "-checkpoint" if args.checkpoint and not args.quick else ""
    (args.out / f"{name}.md").write_text("\n".join(header + table(results)) + "\n")
    (args.out / f"{name}.json").write_text(json.dumps(results, indent=1))
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()
