"""The commands' allocator setting: what it changes in a process, when it stays away, and
that every command makes it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from examples.msg3d import allocator, cli

ROOT = Path(__file__).resolve().parents[2]

# Resident MiB after 256 MiB were written and freed, less before; the setting first if asked.
PROBE = """
import sys
import numpy as np
from examples.msg3d.allocator import keep_freed_memory

def resident():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

kept = keep_freed_memory() if sys.argv[1] == "keep" else False
before = resident()
block = np.empty(256 * 2**20, np.uint8)
block.fill(1)
del block
print(kept, round(resident() - before))
"""

glibc_only = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="the setting is glibc's (Linux with glibc only)"
)


def probe(mode: str, setting: dict[str, str] | None = None) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if not allocator.user_chose_allocator({k: v})}
    env |= setting or {}
    done = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    kept, grown = done.stdout.split()
    return kept, int(grown)


@glibc_only
def test_freed_memory_stays_in_the_process_only_with_the_setting():
    """glibc as it comes returns a freed 256 MiB block to the system; with the setting the
    block came from the heap and its pages stay resident (what the next step reuses)."""
    assert probe("keep") == ("True", pytest.approx(256, abs=8))
    kept, grown = probe("default")
    assert kept == "False" and grown < 8


@glibc_only
def test_the_environment_form_is_the_same_setting():
    """``ENVIRONMENT`` (the benchmarks' ``--malloc tuned``) keeps the block as ``mallopt``
    does, and a process started under it leaves the allocator as the environment set it."""
    assert probe("keep", allocator.ENVIRONMENT) == ("False", pytest.approx(256, abs=8))


@pytest.mark.parametrize(
    "environ",
    [{"MALLOC_MMAP_MAX_": "65536"}, {"MALLOC_ARENA_MAX": "2"},
     {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=1"}, {"LD_PRELOAD": "libjemalloc.so.2"}],
)  # fmt: skip
def test_an_allocator_chosen_in_the_environment_is_left_alone(environ, monkeypatch):
    assert allocator.user_chose_allocator({"PATH": "/bin", **environ})
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: pytest.fail("mallopt called"))
    assert allocator.keep_freed_memory() is False


def test_an_empty_preload_is_no_choice():
    assert not allocator.user_chose_allocator({"PATH": "/bin", "LD_PRELOAD": ""})


def test_off_glibc_nothing_is_set(monkeypatch):
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("musl", "1.2"))
    monkeypatch.setattr(allocator.ctypes, "CDLL", lambda name: pytest.fail("mallopt called"))
    assert allocator.keep_freed_memory() is False


def test_every_command_sets_it_before_its_main(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append("allocator"))
    assert cli.run(lambda argv: calls.append("main")) == 0
    assert calls == ["allocator", "main"]
