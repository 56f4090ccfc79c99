"""Where a multi-scale aggregation puts its weight: the paper's "biased weighting"."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["hop_weight_mass"]


def hop_weight_mass(
    stack: np.ndarray | torch.Tensor, hops: np.ndarray, *, per_node: bool = False
) -> np.ndarray:
    r"""Share of each node's aggregation weight that lands at each hop distance.

    For scale ``k`` of a stack ``W`` (e.g. :meth:`SkeletonGraph.multiscale_adjacency`),
    node ``i`` and hop distance ``h``:

    .. math::

        m_k(i, h) = \frac{\sum_{j:\, d(i, j) = h} |W_k[i, j]|}{\sum_j |W_k[i, j]|}

    This is the quantity behind Fig. 2 of the MS-G3D paper: under adjacency powering the
    mass of scale ``k`` stays mostly on hops < k (near joints), under disentangled
    aggregation it sits on hop ``k`` and on the node itself.

    Parameters
    ----------
    stack : array or tensor, shape (K, V, V) or (V, V)
        Aggregation weights; rows index the receiving node.
    hops : numpy.ndarray, shape (V, V)
        Hop distances with -1 for unreachable pairs (:attr:`SkeletonGraph.hop_distances`).
    per_node : bool
        Return the per-node shares instead of their mean over nodes.

    Returns
    -------
    numpy.ndarray
        Shape (K, D + 1), or (K, V, D + 1) with ``per_node``, where D is the largest
        hop distance. Each row sums to 1 (up to weight on unreachable pairs, which is
        not counted); nodes whose row of ``W_k`` is all zero are left out of the mean.
    """
    if isinstance(stack, torch.Tensor):
        stack = stack.detach().cpu().double().numpy()
    w = np.abs(np.asarray(stack, dtype=np.float64))
    if w.ndim == 2:
        w = w[None]
    hops = np.asarray(hops)
    if w.ndim != 3 or w.shape[1:] != hops.shape or hops.shape[0] != hops.shape[1]:
        raise ValueError(
            f"expected a (K, V, V) stack matching hops of shape {hops.shape}, got {w.shape}"
        )
    num_hops = int(hops.max()) + 1
    onehot = (hops[..., None] == np.arange(num_hops)).astype(np.float64)  # (V, V, H)
    mass = np.einsum("kij,ijh->kih", w, onehot)  # (K, V, H)
    total = w.sum(-1, keepdims=True)
    share = np.divide(mass, total, out=np.zeros_like(mass), where=total > 0)
    if per_node:
        return share
    counted = (total > 0).sum(1)  # (K, 1)
    return share.sum(1) / np.maximum(counted, 1)
