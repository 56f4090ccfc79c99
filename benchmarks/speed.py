"""Speed and memory of skelgraph's layers and MS-G3D Net, against a baseline in the same run.

Every measurement runs in a fresh subprocess, so peak memory is that of one configuration:

- time: median over ``--repeats`` timed runs after one warm-up, of inference (``eval()``,
  ``no_grad``) and of a training step (``train()``, forward + backward);
- memory: peak resident set size of the worker above its size just before the first
  step (CPU), or ``torch.cuda.max_memory_allocated`` (CUDA).

Cases, at the paper's shapes (T = 300, V = 25, M = 2; batch sizes ``--batch``): the MS-GCN,
the two G3D pathways and the MS-TCN of STGC block 2, and the whole NTU-60 model, each with
disentangled and powering aggregation. Implementations: ``skelgraph`` (the default
setting of :mod:`skelgraph.nn.backend`, ``"auto"``: the fast kernels),
``skelgraph-reference`` (``backend.set_implementation("reference")``: the authors' order
of operations), ``skelgraph-compiled`` (``--compile``), ``skelgraph-checkpointed``
(``--checkpoint``: the model with activation checkpointing, training only), and with
``--reference PATH`` (a local clone of the authors' repository, never vendored here; the
workers import it through ``PYTHONPATH``) the authors' modules, which are then the
baseline; otherwise the baseline is skelgraph's reference path.

``--malloc tuned`` runs the workers with glibc's allocator kept from returning memory to
the system (``MALLOC_MMAP_MAX_=0``, large trim threshold): on CPU, the page faults of
freshly mapped large tensors otherwise cost a large share of a training step, for every
implementation alike. Results go to ``benchmarks/results/speed.md`` and ``speed.json``.

    python -m benchmarks.speed --reference ~/src/MS-G3D      # full run (tens of minutes)
    python -m benchmarks.speed --quick                        # tiny shapes, seconds (CI)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from skelgraph.amp import AMP_DTYPES, autocast

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
    "skelgraph-compiled",
    "skelgraph-checkpointed",
    "authors",
)
# glibc malloc kept from unmapping freed memory (see the module docstring).
TUNED_MALLOC = {
    "MALLOC_MMAP_MAX_": "0",
    "MALLOC_TRIM_THRESHOLD_": str(2**40),
    "MALLOC_TOP_PAD_": str(2**30),
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


def worker(spec: dict) -> dict:
    """Measure one configuration (runs in its own process)."""
    torch.manual_seed(0)
    torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    keys = ("case", "impl", "aggregation", "batch", "frames", "reference")
    module, x = build(*(spec[k] for k in keys))
    if spec["impl"] == "skelgraph-reference":  # one process per configuration: set it globally
        from skelgraph.nn import backend

        backend.set_implementation("reference")
    module, x = module.to(device), x.to(device)
    train = spec["phase"] == "train"
    module.train(train)
    amp = spec.get("amp", "off")

    def forward():
        with autocast(device, amp):
            return module(x).float().sum()

    def step():
        if train:
            module.zero_grad(set_to_none=True)
            forward().backward()
        else:
            with torch.no_grad():
                forward()
        if device.type == "cuda":
            torch.cuda.synchronize()

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
    median = statistics.median(times)
    return {**spec, "median_s": median, "times_s": times, "first_s": first, "peak_mib": peak}


def with_authors_path(env: dict[str, str], reference: str) -> dict[str, str]:
    """``env`` with the authors' clone first on ``PYTHONPATH``: their top-level packages
    (``model``, ``graph``) importable in a subprocess, no ``sys.path`` edit here."""
    paths = [reference, env.get("PYTHONPATH")]
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def run_worker(spec: dict) -> dict | None:
    env = {**os.environ, **(TUNED_MALLOC if spec["malloc"] == "tuned" else {})}
    if spec["impl"] == "authors":
        env = with_authors_path(env, spec["reference"])
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.speed", "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        reason = proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode
        print(f"  failed: {reason}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} CPUs"


def table(results: list[dict]) -> list[str]:
    amp = any(r.get("amp", "off") != "off" for r in results)
    lines = [
        "| case | batch | phase | malloc | implementation | aggregation | "
        + ("autocast | " if amp else "")
        + "median time (s) | speed-up vs baseline | peak memory (MiB) | memory vs baseline |",
        "|---|---|---|---|---|---|---|---|---|---|" + ("---|" if amp else ""),
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
            memory = r["peak_mib"] / base["peak_mib"] if base["peak_mib"] > 0 else float("nan")
            autocast = f"{r.get('amp', 'off')} | " if amp else ""
            lines.append(
                f"| {CASES[case]} | {batch} | {phase} | {malloc} | {r['impl']} | "
                f"{r['aggregation']} | {autocast}"
                f"{r['median_s']:.3f} | {speed:.2f}× | {r['peak_mib']:.0f} | {memory:.2f}× |"
            )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", help="local clone of the authors' MS-G3D repository")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
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
        choices=IMPLEMENTATIONS[:2], help="skelgraph paths to run",
    )  # fmt: skip
    parser.add_argument(
        "--malloc", nargs="+", default=["default"], choices=["default", "tuned"],
        help="glibc allocator settings of the workers (see the module docstring)",
    )  # fmt: skip
    parser.add_argument(
        "--amp", nargs="+", default=["off"], choices=list(AMP_DTYPES),
        help="autocast settings to run (the baseline stays the float32 run)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="tiny shapes for a smoke test")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    if args.quick:
        args.batch, args.frames, args.repeats = [1], 16, 1
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
        if case == "ms-tcn" and (impl == "skelgraph-reference" or aggregation == "powering"):
            continue  # no graph: one implementation, no aggregation
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
    command = "python -m benchmarks.speed " + " ".join(argv if argv is not None else sys.argv[1:])
    header = [
        "# Speed and memory (benchmarks/speed.py)",
        "",
        f"- command: `{command.strip()}`",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- torch {torch.__version__}, {args.threads} threads, T = {args.frames}",
        f"- machine: {machine()}",
        "- time: median of the timed runs after one warm-up; memory: peak RSS growth of a fresh "
        "process (CPU) or peak CUDA allocation; baseline: the authors' code where run, else "
        "skelgraph's disentangled path",
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
