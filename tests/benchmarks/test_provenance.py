"""benchmarks/provenance.py: the command and machine lines of every results header."""

from __future__ import annotations

import os
import sys

import torch

from benchmarks.provenance import command_line, interleaved_header, machine


def test_command_line_from_argv_or_the_process(monkeypatch):
    assert command_line("speed", ["--quick", "--threads", "1"]) == (
        "python -m benchmarks.speed --quick --threads 1"
    )
    assert command_line("speed", []) == "python -m benchmarks.speed"
    monkeypatch.setattr(sys, "argv", ["speed.py", "--batch", "8"])
    assert command_line("speed") == "python -m benchmarks.speed --batch 8"


def test_machine_names_system_and_cpu_count():
    text = machine()
    assert text.endswith(f", {os.cpu_count()} CPUs") and text.count(",") >= 2
    assert f"({torch.backends.cpu.get_cpu_capability()})," in text  # AVX2, AVX512 ...


def test_interleaved_header_states_every_field():
    data = dict(
        command="python -m benchmarks.products --quick", date="2026-12-05",
        torch="2.13.0+cpu", threads=2, frames=100, rounds=6, machine="Linux x86_64",
    )  # fmt: skip
    assert interleaved_header(data) == [
        "- command: `python -m benchmarks.products --quick`",
        "- date: 2026-12-05",
        "- torch 2.13.0+cpu, 2 threads, T = 100, 6 rounds",
        "- machine: Linux x86_64",
    ]
