"""pyskl's and mmaction2's MS-G3D: their checkpoint keys, graphs and model configuration.

pyskl (``pyskl/models/gcns/msg3d.py``) and mmaction2 1.x (``projects/msg3d``) share one
model: the authors' module tree under ``backbone.``, a head ``cls_head.fc_cls`` (pyskl)
or ``cls_head.fc`` (mmaction2), and per graph convolution a fixed buffer ``A`` (K, V', V')
beside a learned residual ``PA`` of the same shape. Their aggregation is
``einsum('kvu,nctv->nkctu', A + PA, x)``, i.e. ``(A + PA)ᵀ`` applied to the joints, with
``A`` the column-normalised k-adjacency ``Ã₍ₖ₎ D⁻¹`` of pyskl's own graph; ours applies
``scales + mask`` with the symmetric ``D^-½ Ã₍ₖ₎ D^-½``. Since the residual is free, the
whole effective matrix carries over exactly: ``mask = (A + PA)ᵀ - scales``.

This module maps pyskl's keys onto the authors' (whose mapping onto ``MSG3DNet`` is
``convert_checkpoint.py``'s) with the residuals already the effective matrices in our
orientation, and back; :func:`pyskl_scales` rebuilds pyskl's ``A`` buffers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from skelgraph import SkeletonGraph

__all__ = [
    "HEADS",
    "LAYOUTS",
    "from_pyskl_keys",
    "model_config",
    "pyskl_adjacency",
    "pyskl_scales",
    "to_pyskl_keys",
]

LAYOUTS: dict[int, tuple[str, str]] = {
    25: ("nturgb+d", "ntu-rgbd-pyskl"),
    17: ("coco", "coco-17"),
    18: ("openpose", "openpose-18"),
}
"""Joint count → (pyskl's layout name, skelgraph's layout with the same joints and edges)."""

HEADS = {"pyskl": "cls_head.fc_cls.", "mmaction2": "cls_head.fc."}
"""The classifier's key prefix in each code base."""

BACKBONE = "backbone."


def layout_of(num_joints: int) -> tuple[str, str]:
    """(pyskl's layout, ours) for ``num_joints`` joints.

    Raises
    ------
    ValueError
        A joint count of none of pyskl's layouts this converter knows.
    """
    if num_joints not in LAYOUTS:
        known = ", ".join(f"{v} ({LAYOUTS[v][0]})" for v in LAYOUTS)
        raise ValueError(f"a pyskl MS-G3D with {num_joints} joints: known layouts {known}")
    return LAYOUTS[num_joints]


def pyskl_adjacency(num_joints: int) -> np.ndarray:
    """pyskl's ``Graph(layout, mode='binary_adj').A[0]``: (V, V) 0/1, no self-loops."""
    return SkeletonGraph.from_layout(layout_of(num_joints)[1]).adjacency


def pyskl_scales(graph: SkeletonGraph, num_scales: int) -> np.ndarray:
    r"""pyskl's ``A`` buffer of a graph convolution over ``graph``: (K, V, V) float64.

    .. math::

        A_k = \tilde A_{(k)} D_k^{-1}, \qquad (D_k)_{jj} = \textstyle\sum_i
        [\tilde A_{(k)}]_{ij}

    (``normalize_digraph(k_adjacency(A, k, with_self=True))``): the k-adjacency with
    self-loops, each column divided by its sum. For a G3D window pyskl tiles ``A + I``
    over the τ frames, which is ``graph.window(τ)``'s adjacency.

    Parameters
    ----------
    graph : SkeletonGraph
        pyskl's graph (or its window graph).
    num_scales : int
        K.
    """
    stack = np.stack([graph.k_adjacency(k) for k in range(num_scales)])
    return stack / stack.sum(axis=1, keepdims=True)  # every column has its self-loop


def _graph_of(base: SkeletonGraph, nodes: int) -> SkeletonGraph:
    """``base`` or its window graph with ``nodes`` nodes."""
    tau = nodes // base.num_nodes
    return base if tau == 1 else base.window(tau)


def from_pyskl_keys(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A pyskl or mmaction2 ``state_dict`` in the authors' names, each residual ``A_res``
    holding the effective ``(A + PA)ᵀ`` (float64, flattened to (K·V', V') as theirs).

    Raises
    ------
    KeyError
        Keys outside ``backbone.`` and the head, or a ``PA`` without its ``A``.
    """
    out: dict[str, torch.Tensor] = {}
    foreign = []
    for key, value in state_dict.items():
        head = next((h for h in HEADS.values() if key.startswith(h)), None)
        if head is not None:
            out["fc." + key[len(head) :]] = value
        elif not key.startswith(BACKBONE):
            foreign.append(key)
        elif key == BACKBONE + "A" or key.endswith(".A"):
            continue  # the fixed part; taken with its PA
        elif key.endswith(".PA"):
            fixed = state_dict.get(key[:-2] + "A")
            if fixed is None:
                raise KeyError(f"{key} has no fixed matrix {key[:-2] + 'A'} beside it")
            effective = (fixed.double() + value.double()).transpose(-1, -2)
            k, v, _ = effective.shape
            out[key[len(BACKBONE) : -2] + "A_res"] = effective.reshape(k * v, v)
        else:
            out[key[len(BACKBONE) :]] = value
    if foreign:
        raise KeyError(f"not pyskl/mmaction2 MS-G3D keys (backbone.*, cls_head.*): {foreign}")
    return out


def to_pyskl_keys(
    state_dict: Mapping[str, torch.Tensor], head: str = "pyskl"
) -> dict[str, torch.Tensor]:
    """The inverse of :func:`from_pyskl_keys`: authors' names whose ``A_res`` are the
    effective matrices to pyskl's keys, with pyskl's ``A`` and ``PA = effectiveᵀ - A``
    (float32).

    Parameters
    ----------
    state_dict : Mapping of str to Tensor
        Authors' keys; every ``A_res`` the effective (K·V', V') matrix.
    head : {"pyskl", "mmaction2"}
        The classifier's names.
    """
    num_joints = state_dict["sgcn1.0.A_res"].shape[-1]
    graph = SkeletonGraph.from_layout(layout_of(num_joints)[1])
    out = {BACKBONE + "A": torch.tensor(pyskl_adjacency(num_joints), dtype=torch.float32)}
    for key, value in state_dict.items():
        if key.startswith("fc."):
            out[HEADS[head] + key[3:]] = value
        elif key.endswith("A_res"):
            v = value.shape[-1]
            effective = value.double().reshape(-1, v, v).transpose(-1, -2)
            fixed = torch.tensor(pyskl_scales(_graph_of(graph, v), effective.shape[0]))
            prefix = BACKBONE + key[: -len("A_res")]
            out[prefix + "A"] = fixed.float()
            out[prefix + "PA"] = (effective - fixed).float()
        else:
            out[BACKBONE + key] = value
    return out


def model_config(state_dict: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """``MSG3DNet`` keyword arguments of a pyskl/mmaction2 checkpoint, read off its shapes:
    the layout from the joint count, channels, persons, scales, windows and classes.

    Raises
    ------
    KeyError
        A key the model always has is missing (not an MS-G3D checkpoint).
    ValueError
        A joint count of no known layout.
    """
    num_joints = state_dict[BACKBONE + "A"].shape[-1]
    graph = layout_of(num_joints)[1]
    gcn = state_dict[BACKBONE + "sgcn1.0.PA"]
    g3d_scales = state_dict[BACKBONE + "gcn3d1.gcn3d.0.gcn3d.1.PA"].shape[0]
    proj = state_dict[BACKBONE + "sgcn1.0.mlp.layers.0.weight"]  # (C1, K·C)
    in_channels = proj.shape[1] // gcn.shape[0]
    windows = []
    while BACKBONE + f"gcn3d1.gcn3d.{len(windows)}.gcn3d.1.PA" in state_dict:
        pa = state_dict[BACKBONE + f"gcn3d1.gcn3d.{len(windows)}.gcn3d.1.PA"]
        windows.append((pa.shape[-1] // num_joints, 1))
    head = next((h for h in HEADS.values() if h + "weight" in state_dict), None)
    if head is None:
        raise KeyError(f"no classifier ({' or '.join(h + 'weight' for h in HEADS.values())})")
    c1 = proj.shape[0]
    return {
        "num_classes": state_dict[head + "weight"].shape[0],
        "graph": graph,
        "num_persons": state_dict[BACKBONE + "data_bn.weight"].numel()
        // (num_joints * in_channels),
        "in_channels": in_channels,
        "num_gcn_scales": gcn.shape[0],
        "num_g3d_scales": g3d_scales,
        "windows": tuple(windows),
        "channels": (c1, 2 * c1, 4 * c1),
    }
