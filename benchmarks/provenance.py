"""Where a results file comes from: the command that wrote it and the machine it ran on
(every results header states both; ``figures.py`` reads them back)."""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""A results file's stem: a name in the results folder, no folders."""


def results_stem(text: str) -> str:
    """An argparse ``type`` for ``--name``: a results file's stem (:data:`STEM`), never a
    path elsewhere."""
    if not STEM.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"expected a file name stem of letters, digits, '.', '_', '-' "
            f"(up to 100, not starting with '.'), got {text!r}"
        )
    return text


def machine() -> str:
    """``System arch, CPU model (vector ISA), N CPUs`` of this machine: the ISA is the one
    PyTorch's kernels use (``AVX2``, ``AVX512``; machines that share a model name differ
    there, and in speed by several times)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    isa = torch.backends.cpu.get_cpu_capability()
    return f"{platform.system()} {platform.machine()}, {cpu} ({isa}), {os.cpu_count()} CPUs"


def command_line(module: str, argv: Sequence[str] | None = None) -> str:
    """``python -m benchmarks.MODULE ARGS``: the command that reruns this one, from
    ``argv`` (a script's ``main(argv)``) or, when ``None``, the process's arguments."""
    words = list(sys.argv[1:] if argv is None else argv)
    return " ".join([f"python -m benchmarks.{module}", *words])


def interleaved_header(data: dict) -> list[str]:
    """The provenance lines of an interleaved run's results file (command, date, torch,
    threads, T and rounds, machine), from its json's fields of those names."""
    return [
        f"- command: `{data['command']}`",
        f"- date: {data['date']}",
        f"- torch {data['torch']}, {data['threads']} threads, T = {data['frames']}, "
        f"{data['rounds']} rounds",
        f"- machine: {data['machine']}",
    ]
