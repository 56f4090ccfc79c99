"""Activation checkpointing of the block: the same step, batch norm updated once, less kept."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from skelgraph import STGCBlock
from skelgraph.nn import backend
from skelgraph.nn.checkpoint import checkpointed
from tests.layer_helpers import TINY, randomize


def tiny_block(checkpoint: bool) -> STGCBlock:
    torch.manual_seed(0)
    block = STGCBlock(3, 12, TINY, stride=2, num_gcn_scales=3, num_g3d_scales=2)
    block = randomize(block).train()
    block.checkpoint = checkpoint
    return block


def training_step(block: nn.Module, x: torch.Tensor, amp: torch.dtype | None = None):
    """Output, gradients (input first) and batch-norm state after one forward + backward."""
    x = x.detach().requires_grad_()
    with torch.autocast("cpu", dtype=amp or torch.bfloat16, enabled=amp is not None):
        out = block(x)
    weights = torch.linspace(-1, 1, out.numel()).view(out.shape)  # a non-uniform gradient
    (out.float() * weights).sum().backward()
    grads = [x.grad, *(p.grad for p in block.parameters())]
    norms = [m for m in block.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    state = [t for m in norms for t in (m.running_mean, m.running_var, m.num_batches_tracked)]
    return out, grads, state


@pytest.mark.parametrize("amp", [None, torch.bfloat16, torch.float16], ids=["fp32", "bf16", "fp16"])
@pytest.mark.parametrize("setting", ["reference", "fast"])
def test_checkpointed_step_equals_the_plain_one(setting, amp):
    """Same output, same gradients and the same running statistics as without
    checkpointing: the recomputation's update of the running statistics is undone (each
    batch norm counts one batch)."""
    x = torch.randn(3, 3, 9, 5)
    with backend.implementation(setting):
        plain = training_step(tiny_block(False), x, amp)
        block = tiny_block(True)
        checkpointed_ = training_step(block, x, amp)
    for got, expected in zip(checkpointed_, plain):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
    counts = [m.num_batches_tracked for m in block.modules() if hasattr(m, "num_batches_tracked")]
    assert counts and all(int(c) == 1 for c in counts)


def test_plain_checkpoint_would_update_the_statistics_twice():
    """Why the recomputation freezes them: torch's checkpoint alone counts two batches."""
    block = tiny_block(False)
    x = torch.randn(3, 3, 9, 5, requires_grad=True)
    torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False).sum().backward()
    assert int(block.tcn.branches[0][1].num_batches_tracked) == 2


def saved_bytes(block: nn.Module, x: torch.Tensor) -> int:
    """Bytes autograd keeps for the backward of ``block(x)``, outside any checkpoint."""
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.nelement() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        block(x)
    return total


def test_checkpointed_block_keeps_none_of_its_activations():
    x = torch.randn(3, 3, 9, 5, requires_grad=True)
    input_bytes = x.nelement() * x.element_size()
    assert saved_bytes(tiny_block(False), x) > 50 * input_bytes  # activations, many times x
    assert saved_bytes(tiny_block(True), x) == input_bytes  # the block's input alone


def test_checkpoint_is_off_in_eval_and_without_gradients():
    block = tiny_block(True)
    x = torch.randn(2, 3, 9, 5)
    with torch.no_grad():
        out = block(x)  # no checkpoint frame: the plain forward
    torch.testing.assert_close(out, tiny_block(False)(x))
    block.eval()
    assert saved_bytes(block, x.requires_grad_()) > 0  # eval: plain (nothing to recompute)
    assert "checkpoint=True" in repr(block)


def test_checkpointed_runs_any_segment():
    norm = nn.BatchNorm1d(4).train()
    x = torch.randn(6, 4, requires_grad=True)
    twin = copy.deepcopy(norm)
    checkpointed(norm, x, module=norm).sum().backward()
    twin(x).sum().backward()
    torch.testing.assert_close(norm.running_mean, twin.running_mean)
    assert int(norm.num_batches_tracked) == 1
