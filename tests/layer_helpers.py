"""Helpers for the layer tests: tiny instances, non-trivial batch-norm state, and
independent computations (explicit loops) to compare against."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from skelgraph import DisentangledGraphConv, G3DConv, MSTemporalConv, SkeletonGraph, STGCBlock

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
    """One small instance of each layer and of the block, with a matching input shape
    (N, C, T, V)."""
    return {
        "gcn": (DisentangledGraphConv(3, 4, TINY, num_scales=3), (2, 3, 5, 5)),
        "g3d": (G3DConv(3, 4, TINY, window_size=3, num_scales=2, stride=2), (2, 3, 5, 5)),
        "g3d-dilated": (
            G3DConv(2, 3, TINY, window_size=3, window_dilation=2, num_scales=4),
            (2, 2, 6, 5),
        ),
        "tcn": (MSTemporalConv(4, 6, stride=2), (2, 4, 7, 5)),
        "block": (
            STGCBlock(3, 6, TINY, stride=2, num_gcn_scales=3, num_g3d_scales=2),
            (2, 3, 6, 5),
        ),
        # Causal: every temporal window ends on its output frame.
        "tcn-causal": (MSTemporalConv(4, 6, stride=2, causal=True), (2, 4, 7, 5)),
        "block-causal": (
            STGCBlock(3, 6, TINY, stride=2, num_gcn_scales=3, num_g3d_scales=2, causal=True),
            (2, 3, 6, 5),
        ),
    }


LAYERS = tiny_layers()


def instance(name: str) -> tuple[nn.Module, torch.Tensor]:
    """A fresh copy of a tiny layer with non-trivial state, in eval mode, and an input."""
    layer, shape = LAYERS[name]
    layer = copy.deepcopy(layer)
    torch.manual_seed(0)
    layer.reset_parameters()
    return randomize(layer).eval(), torch.randn(*shape)


# ---------------------------------------------------------------- explicit loops
def batch_norm_eval(bn, x):
    """Per channel: (x - mean) / sqrt(var + eps) * weight + bias; channels on axis 0."""
    shape = (-1,) + (1,) * (x.ndim - 1)
    scale = bn.weight.detach().numpy() / np.sqrt(bn.running_var.numpy() + bn.eps)
    return (x - bn.running_mean.numpy().reshape(shape)) * scale.reshape(
        shape
    ) + bn.bias.detach().numpy().reshape(shape)


def graph_conv_by_loops(a, x, weight, bias):
    """out[o, t, v] = sum_k sum_u sum_c W[o, k·C + c] a[k, v, u] x[c, t, u] + b[o]."""
    k_scales, v_nodes, _ = a.shape
    c_in, t_frames, _ = x.shape
    out = np.zeros((weight.shape[0], t_frames, v_nodes))
    for o in range(weight.shape[0]):
        for t in range(t_frames):
            for v in range(v_nodes):
                total = bias[o]
                for k in range(k_scales):
                    for u in range(v_nodes):
                        for c in range(c_in):
                            total += weight[o, k * c_in + c] * a[k, v, u] * x[c, t, u]
                out[o, t, v] = total
    return out


# ---------------------------------------------------------------- relabelling, powering
def relabelled(graph: SkeletonGraph, perm: np.ndarray) -> SkeletonGraph:
    """The same skeleton with joint perm[i] renamed i (new index i = old joint perm[i])."""
    new_of_old = np.argsort(perm)
    return SkeletonGraph.from_edges(
        [(new_of_old[a], new_of_old[b]) for a, b in graph.edges], graph.num_nodes
    )
