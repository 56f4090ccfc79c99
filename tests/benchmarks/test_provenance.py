"""benchmarks/provenance.py: the command and machine lines of every results header."""

from __future__ import annotations

import os
import sys

from benchmarks.provenance import command_line, machine


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
