"""The commands' allocator setting: freed memory kept in the process (glibc).

On Linux, glibc's ``malloc`` maps every block above its mmap threshold (128 KiB, growing
with the blocks freed, up to 32 MiB) on its own and hands it back to the system when it
is freed, and it trims the top of its heap; a training or inference step that frees and
reallocates its activations then has their pages faulted in and zeroed by the kernel on
every step. For MS-G3D Net at batch 8 on CPU that kernel time is a large share of the step
and makes timings depend on the process's allocation history (the docs' *On CPU: the
allocator*; ``benchmarks/results/speed.md`` measures both codes both ways). Keeping freed
memory in the process removes it, at the cost of a resident size that stays at the heap's
high-water mark (freed blocks between live ones: up to about twice glibc's own peak).

:func:`keep_freed_memory` does what ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=...``
would do before Python starts, through ``mallopt``; every command of ``examples/msg3d``
calls it at start (:func:`examples.msg3d.cli.run`). It leaves the allocator alone where
the user chose one: any ``MALLOC_*`` variable, ``GLIBC_TUNABLES`` or ``LD_PRELOAD`` in
the environment (e.g. ``MALLOC_MMAP_MAX_=65536`` keeps glibc's own behaviour, or preload
jemalloc), and off glibc.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Mapping

__all__ = ["ENVIRONMENT", "keep_freed_memory", "user_chose_allocator"]

# mallopt's parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
TRIM_THRESHOLD = 2**31 - 1
"""Free bytes at the top of the heap before glibc trims it (mallopt takes an int: 2 GiB)."""
ENVIRONMENT = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD)}
"""The same setting as glibc's environment variables, for a process started from here
(``benchmarks/speed.py --malloc tuned`` runs every implementation under it)."""


def user_chose_allocator(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment sets glibc's malloc (``MALLOC_*``, ``GLIBC_TUNABLES``) or
    preloads a library (``LD_PRELOAD``, e.g. jemalloc or tcmalloc)."""
    return any(name.startswith("MALLOC_") for name in environ) or any(
        environ.get(name) for name in ("GLIBC_TUNABLES", "LD_PRELOAD")
    )


def keep_freed_memory() -> bool:
    """Keep freed memory in this process: no block mapped on its own (``M_MMAP_MAX`` 0),
    the heap trimmed only past :data:`TRIM_THRESHOLD` free bytes. Affects the blocks
    allocated from then on.

    Returns
    -------
    bool
        Whether it was set: ``False`` off glibc (Linux's usual C library), or where
        :func:`user_chose_allocator`.
    """
    # musl and others have no such settings (musl's mallopt does nothing)
    if platform.libc_ver()[0] != "glibc" or user_chose_allocator():
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
