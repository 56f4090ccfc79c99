"""Which thread count to train with when other work shares the CPUs.

Times one short ``train.py`` run (the small preset on an N-UCLA subset, one epoch; the
cache is built once before timing) with ``--threads`` 1 and ``--threads`` = all CPUs, on a
quiet machine and beside 1 .. CPUs busy processes (a spin loop each, standing in for a
second job). The cells run interleaved, round after round, so that a drift of the
machine's speed falls on every cell alike; each cell reports its median and range.

    python -m benchmarks.threads --data-root DATA  # DATA: a folder holding N-UCLA's all_sqe/

Results go to ``benchmarks/results/threads.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from benchmarks.provenance import machine
from examples.msg3d import cli

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "threads"


def _spin() -> None:
    while True:
        pass


def train_command(data_root: Path, out: Path, cache: Path, threads: int, subset: int):
    return [
        sys.executable, "-m", "examples.msg3d.train", "--dataset", "nw-ucla",
        "--data-root", str(data_root), "--subset", str(subset), "--epochs", "1",
        "--out", str(out), "--overwrite", "--quiet", "--threads", str(threads),
        "--cache-dir", str(cache),
    ]  # fmt: skip


def time_run(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def measure(data_root: Path, rounds: int, subset: int) -> list[dict]:
    """Seconds per run for every (busy processes, threads) cell, ``rounds`` times each."""
    cpus = os.cpu_count() or 1
    cells = [(busy, threads) for busy in range(cpus + 1) for threads in sorted({1, cpus})]
    times: dict[tuple[int, int], list[float]] = {cell: [] for cell in cells}
    with tempfile.TemporaryDirectory() as tmp:
        cache, out = Path(tmp) / "cache", Path(tmp) / "run"
        time_run(train_command(data_root, out, cache, cpus, subset))  # builds the cache
        for _ in range(rounds):
            for busy, threads in cells:
                load = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(busy)]
                for process in load:
                    process.start()
                try:
                    command = train_command(data_root, out, cache, threads, subset)
                    times[busy, threads].append(time_run(command))
                finally:
                    for process in load:
                        process.kill()
                        process.join()
    return [
        {
            "busy": busy,
            "threads": threads,
            "median_s": statistics.median(times[busy, threads]),
            "min_s": min(times[busy, threads]),
            "max_s": max(times[busy, threads]),
            "runs": times[busy, threads],
        }
        for busy, threads in cells
    ]


def markdown(cells: list[dict], command: str, header: dict[str, str]) -> str:
    cpus = max(c["threads"] for c in cells)
    lines = [
        "# Training threads beside other work",
        "",
        f"- command: `{command}`",
        f"- machine: {header['machine']}",
        f"- date: {header['date']}",
        "",
        "Seconds for one short `train.py` run (median, min-max over the rounds), with",
        f"`--threads 1` and `--threads {cpus}`, beside busy processes (one spin loop each).",
        "",
        f"| busy processes | `--threads 1` (s) | `--threads {cpus}` (s) | {cpus} threads / 1 |",
        "|---:|---:|---:|---:|",
    ]
    for busy in sorted({c["busy"] for c in cells}):
        one = next(c for c in cells if c["busy"] == busy and c["threads"] == 1)
        many = next(c for c in cells if c["busy"] == busy and c["threads"] == cpus)
        lines.append(
            f"| {busy} | {one['median_s']:.2f} ({one['min_s']:.2f}-{one['max_s']:.2f}) "
            f"| {many['median_s']:.2f} ({many['min_s']:.2f}-{many['max_s']:.2f}) "
            f"| {many['median_s'] / one['median_s']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, required=True, help="folder with all_sqe/")
    parser.add_argument(
        "--rounds", type=cli.bounded_int(1, 1000), default=3, help="runs of every cell"
    )
    parser.add_argument(
        "--subset", type=cli.bounded_int(1, 10**9), default=200, help="items per split"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results path, no suffix")
    args = parser.parse_args(argv)
    cells = measure(args.data_root, args.rounds, args.subset)
    words = list(argv if argv is not None else sys.argv[1:])
    for i, word in enumerate(words[:-1]):  # the data's place is the reader's own
        if word == "--data-root":
            words[i + 1] = "DATA"
    command = " ".join(["python -m benchmarks.threads", *words])
    header = {
        "machine": machine(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {"command": command, **header, "cells": cells}
    args.out.with_suffix(".json").write_text(json.dumps(document, indent=1) + "\n")
    args.out.with_suffix(".md").write_text(markdown(cells, command, header))
    print(args.out.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
