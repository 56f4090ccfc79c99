"""The layers under DistributedDataParallel (two CPU processes, gloo backend)."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from skelgraph import DisentangledGraphConv, G3DConv, MSTemporalConv
from tests.layer_helpers import TINY


def _run(rank: int, world: int, init_file: str, results: dict) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)  # same initial weights on every rank
        model = nn.Sequential(
            DisentangledGraphConv(3, 6, TINY, num_scales=3),
            G3DConv(6, 6, TINY, window_size=3, num_scales=2),
            MSTemporalConv(6, 6),
        )
        ddp = nn.parallel.DistributedDataParallel(model)
        torch.manual_seed(100 + rank)  # different data on every rank
        ddp(torch.randn(2, 3, 6, 5)).pow(2).mean().backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        gathered = [torch.empty_like(grads) for _ in range(world)]
        dist.all_gather(gathered, grads)
        results[rank] = bool(all(torch.allclose(g, gathered[0]) for g in gathered))
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
def test_gradients_are_synchronised_across_processes(tmp_path):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    results = mp.Manager().dict()
    mp.spawn(_run, args=(2, str(tmp_path / "init"), results), nprocs=2, join=True)
    assert dict(results) == {0: True, 1: True}
