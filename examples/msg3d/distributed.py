"""One process or many under ``torchrun``: rank, device, sums over processes.

Under ``torchrun`` every process gets ``batch_size / world_size`` samples per step (so the
global batch and hence the learning rate do not change with the number of processes), the
backend is NCCL on GPUs and gloo on CPU, and only rank 0 writes logs and checkpoints.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist

__all__ = ["all_sum", "process_group", "select_device", "world"]


def world() -> tuple[int, int, int]:
    """(rank, world size, local rank) under torchrun, else (0, 1, 0)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0))
    return 0, 1, 0


def select_device(name: str, local_rank: int) -> torch.device:
    """The device of ``--device`` (``auto``: this process's GPU if there is one, else CPU)."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise SystemExit(f"--device {name!r}: {error}") from None
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def all_sum(values: list[float], device: torch.device) -> list[float]:
    """``values`` summed over every process (themselves in a single process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


@contextmanager
def process_group(device: str) -> Iterator[None]:
    """Join the process group when started by torchrun (``WORLD_SIZE`` > 1), and leave it
    together with the other processes at the end."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield
        return
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group("nccl" if use_cuda else "gloo")
    try:
        yield
        # Leave together: a gloo rank torn down while rank 0 still writes its outputs
        # can abort ("terminate called without an active exception").
        dist.barrier()
    finally:
        dist.destroy_process_group()
