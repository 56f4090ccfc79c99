"""Helpers for the layer tests: tiny instances and non-trivial batch-norm state."""

from __future__ import annotations

import torch
from torch import nn

from skelgraph import DisentangledGraphConv, G3DConv, MSTemporalConv, SkeletonGraph

# A 5-joint tree: 0-1-2-3 with a branch 1-4 (diameter 3).
TINY = SkeletonGraph.from_edges([(0, 1), (1, 2), (2, 3), (1, 4)], name="tiny")


def randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every batch norm and residual mask non-trivial values, so that a layer that
    ignores or misplaces one of them gives a different output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
        for name, p in module.named_parameters():
            if name.endswith("mask"):
                p.copy_((torch.rand(p.shape, generator=gen) - 0.5) * 0.1)
    return module


def tiny_layers() -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    """One small instance of each layer with a matching input shape (N, C, T, V); the
    graph convolutions by default (``"auto"``: their fast paths) and as reference."""
    return {
        "gcn": (DisentangledGraphConv(3, 4, TINY, num_scales=3), (2, 3, 5, 5)),
        "gcn-reference": (
            DisentangledGraphConv(3, 4, TINY, num_scales=3, implementation="reference"),
            (2, 3, 5, 5),
        ),
        "g3d": (G3DConv(3, 4, TINY, window_size=3, num_scales=2, stride=2), (2, 3, 5, 5)),
        "g3d-reference": (
            G3DConv(3, 4, TINY, window_size=3, num_scales=2, stride=2, implementation="reference"),
            (2, 3, 5, 5),
        ),
        "g3d-dilated": (G3DConv(2, 3, TINY, window_size=3, window_dilation=2), (2, 2, 6, 5)),
        "tcn": (MSTemporalConv(4, 6, stride=2), (2, 4, 7, 5)),
    }
