"""Array-level adjacency mathematics: normalisation and multi-scale stacks.

These functions take plain matrices; :class:`~skelgraph.SkeletonGraph` calls them with its
cached adjacency and hop distances. Notation follows the MS-G3D paper (Liu et al., 2020):
``A`` is the 0/1 bone adjacency, ``Ã = A + I`` and ``d(i, j)`` the hop distance.
"""

from __future__ import annotations

from typing import Literal, TypeVar

import numpy as np
import torch

from skelgraph._validation import check_choice, check_int

__all__ = [
    "UNREACHABLE",
    "Aggregation",
    "Normalization",
    "disentangled_stack",
    "k_adjacency_from_hops",
    "normalize_adjacency",
    "normalize_adjacency_tensor",
    "powering_stack",
]

UNREACHABLE = -1
"""Hop distance recorded for a pair of joints with no path between them."""

Aggregation = Literal["disentangled", "powering"]
Normalization = Literal["sym", "rw", "none"]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def normalize_adjacency(matrix: ArrayT, normalization: Normalization = "sym") -> ArrayT:
    r"""Normalise a (stack of) adjacency matrices by their degrees.

    .. math::

        \text{sym}: D^{-1/2} M D^{-1/2}, \qquad \text{rw}: D^{-1} M, \qquad
        D = \operatorname{diag}\Big(\sum_j M_{ij}\Big)

    ``"sym"`` is the GCN normalisation of Eq. 1 and Eq. 4 and the MS-G3D authors' choice;
    ``"rw"`` makes every row sum to one; ``"none"`` returns ``M`` unchanged.
    A node of non-positive degree keeps a zero row (and column) instead of producing
    ``inf`` or ``NaN``.

    Parameters
    ----------
    matrix : numpy.ndarray or torch.Tensor, shape (..., V, V)
        Weights; rows index the receiving node.
    normalization : {"sym", "rw", "none"}

    Returns
    -------
    Same type and shape as ``matrix`` (floating point).
    """
    check_choice("normalization", normalization, Normalization)
    is_numpy = isinstance(matrix, np.ndarray)
    # Copy numpy input: it may be a read-only cached array, which torch refuses to wrap.
    m = torch.from_numpy(np.array(matrix)) if is_numpy else torch.as_tensor(matrix)
    if not m.is_floating_point():
        m = m.to(torch.float64)
    if m.ndim < 2 or m.shape[-1] != m.shape[-2]:
        raise ValueError(f"expected a square matrix (..., V, V), got shape {tuple(m.shape)}")
    m = normalize_adjacency_tensor(m, normalization)
    return m.numpy() if is_numpy else m


def normalize_adjacency_tensor(m: torch.Tensor, normalization: str) -> torch.Tensor:
    """Tensor-only core of :func:`normalize_adjacency` (no checks of ``m``).

    Parameters
    ----------
    m : torch.Tensor
        Shape (..., V, V), rows index the receiving node.
    normalization : {"sym", "rw", "none"}
        ``"sym"``: :math:`D^{-1/2} M D^{-1/2}`; ``"rw"``: :math:`D^{-1} M`; ``"none"``:
        ``m`` itself. D holds the row sums; a node with degree 0 keeps zero rows (and
        columns, for ``"sym"``).

    Raises
    ------
    ValueError
        Another ``normalization``.
    """
    check_choice("normalization", normalization, Normalization)
    if normalization == "none":
        return m
    degree = m.sum(-1)
    positive = degree > 0
    safe = torch.where(positive, degree, torch.ones_like(degree))
    zero = torch.zeros_like(degree)
    if normalization == "sym":
        scale = torch.where(positive, safe.rsqrt(), zero)
        return scale.unsqueeze(-1) * m * scale.unsqueeze(-2)
    return torch.where(positive, safe.reciprocal(), zero).unsqueeze(-1) * m


def k_adjacency_from_hops(hops: np.ndarray, k: int) -> np.ndarray:
    r"""The k-adjacency :math:`\tilde A_{(k)}` of Eq. 3 from a hop-distance matrix.

    .. math::

        [\tilde A_{(k)}]_{ij} = 1 \text{ if } d(v_i, v_j) = k \text{ or } i = j,
        \text{ else } 0

    Unreachable pairs (marked :data:`UNREACHABLE`) belong to no ``k``.

    Parameters
    ----------
    hops : numpy.ndarray
        (V, V) hop distances :math:`d(v_i, v_j)`
        (:attr:`~skelgraph.SkeletonGraph.hop_distances`), :data:`UNREACHABLE` where no
        path joins the pair.
    k : int
        The hop distance, >= 0 (``k = 0``: the identity).
    """
    k = check_int("k", k, 0)
    return ((hops == k) | np.eye(len(hops), dtype=bool)).astype(np.float64)


def disentangled_stack(
    hops: np.ndarray, num_scales: int, normalization: Normalization = "sym"
) -> np.ndarray:
    r"""Scales :math:`\operatorname{norm}(\tilde A_{(k)})`, k = 0..K-1 (Eq. 3-4).

    Returns an array of shape (K, V, V).

    Parameters
    ----------
    hops : numpy.ndarray
        (V, V) hop distances :math:`d(v_i, v_j)`
        (:attr:`~skelgraph.SkeletonGraph.hop_distances`), :data:`UNREACHABLE` where no
        path joins the pair.
    num_scales : int
        K, scales k = 0..K-1.
    normalization : {"sym", "rw", "none"}
        See :func:`normalize_adjacency`.
    """
    stack = np.stack([k_adjacency_from_hops(hops, k) for k in range(num_scales)])
    return normalize_adjacency(stack, normalization)


def powering_stack(
    adjacency: np.ndarray, num_scales: int, normalization: Normalization = "sym"
) -> np.ndarray:
    r"""Scales :math:`\operatorname{norm}(\tilde A)^k`, k = 0..K-1 (Eq. 2), shape (K, V, V).

    ``adjacency`` is the 0/1 matrix ``A`` without self-loops; ``Ã = A + I`` is formed here.

    Parameters
    ----------
    adjacency : numpy.ndarray
        (V, V), the 0/1 matrix ``A``.
    num_scales : int
        K, powers k = 0..K-1.
    normalization : {"sym", "rw", "none"}
        Applied to ``Ã`` before the powers (:func:`normalize_adjacency`).

    Raises
    ------
    OverflowError
        A power that overflows float64 (e.g. large K with ``"none"``).
    """
    base = normalize_adjacency(adjacency + np.eye(len(adjacency)), normalization)
    stack = np.stack([np.linalg.matrix_power(base, k) for k in range(num_scales)])
    if not np.isfinite(stack).all():
        raise OverflowError(
            f"norm(Ã)^k overflows float64 for k < {num_scales} with normalization="
            f"{normalization!r}; use a normalisation or fewer scales"
        )
    return stack
