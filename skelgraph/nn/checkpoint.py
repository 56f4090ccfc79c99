"""Activation checkpointing with batch norm's running statistics updated once per step.

:func:`torch.utils.checkpoint.checkpoint` keeps only a segment's inputs in the forward and
recomputes its activations in the backward. A batch norm in training mode would then
update its running mean and variance twice per step, once in each pass, and the model
would drift from the one trained without checkpointing. Here the recomputation runs the
layers exactly as the forward did (batch statistics, the same numbers) and the running
statistics and batch counters are put back afterwards, as the forward left them.

Examples
--------
>>> import torch
>>> from skelgraph import STGCBlock
>>> block = STGCBlock(3, 24, "kinect-v1-20", num_gcn_scales=4, num_g3d_scales=2,
...                   windows=((3, 1),), checkpoint=True)
>>> block(torch.randn(2, 3, 8, 20)).sum().backward()
>>> int(block.tcn.branches[0].bn.num_batches_tracked)
1
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

__all__ = ["checkpointed"]


@contextlib.contextmanager
def _statistics_restored(module: nn.Module) -> Iterator[None]:
    """The running statistics of ``module``'s batch norms put back as they were on entry:
    the recomputation runs the layers exactly as the forward did (the same saved tensors),
    and its update is undone."""
    buffers = [
        buffer
        for m in module.modules()
        if isinstance(m, _BatchNorm) and m.training and m.track_running_stats
        for buffer in (m.running_mean, m.running_var, m.num_batches_tracked)
        if buffer is not None
    ]
    saved = [buffer.clone() for buffer in buffers]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in zip(buffers, saved):
                buffer.copy_(value)


def checkpointed(
    function: Callable[..., torch.Tensor], *inputs: torch.Tensor, module: nn.Module
) -> torch.Tensor:
    """``function(*inputs)`` with its activations recomputed in the backward instead of
    kept (:func:`torch.utils.checkpoint.checkpoint`, non-reentrant, random state
    preserved), the batch norms of ``module`` updating their running statistics in the
    forward only.

    Parameters
    ----------
    function : callable
        The segment, e.g. a block's forward without checkpointing.
    *inputs : Tensor
        Its inputs: all that the segment keeps for the backward.
    module : nn.Module
        The module holding the segment's batch norms.
    """
    return checkpoint(
        function,
        *inputs,
        use_reentrant=False,
        context_fn=lambda: (contextlib.nullcontext(), _statistics_restored(module)),
    )
