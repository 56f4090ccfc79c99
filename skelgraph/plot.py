"""Figures of skeleton graphs and adjacency stacks (needs the ``plot`` extra: matplotlib)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import torch

from skelgraph.graph.skeleton import GraphLike, SkeletonGraph

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["draw_adjacency_stack", "draw_skeleton"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skelgraph.plot needs matplotlib: pip install 'skelgraph[plot]'"
        ) from error
    return plt


def draw_skeleton(
    graph: GraphLike,
    positions: np.ndarray | None = None,
    *,
    ax: Axes | None = None,
    labels: bool = True,
    node_color: str = "tab:blue",
) -> Axes:
    """Draw a skeleton graph in 2-D with its joint labels.

    Parameters
    ----------
    graph : GraphLike
        A :class:`~skelgraph.SkeletonGraph` or anything :meth:`SkeletonGraph.coerce` takes.
    positions : array of shape (V, 2), optional
        Joint coordinates (e.g. one frame of real data). Without them, a Kamada-Kawai layout
        of the graph (networkx) is used, rooted visually by its centre.
    ax : matplotlib.axes.Axes, optional
        The axes to draw into; default a new figure's.
    labels : bool
        Write each joint's index and name beside it.
    node_color : str
        Colour of the joints; the centre joint is drawn in red.

    Returns
    -------
    matplotlib.axes.Axes
    """
    plt = _pyplot()
    g = SkeletonGraph.coerce(graph)
    if positions is None:
        layout = nx.kamada_kawai_layout(g.to_networkx())
        positions = np.array([layout[i] for i in range(g.num_nodes)])
    positions = np.asarray(positions, dtype=float)
    if positions.shape != (g.num_nodes, 2):
        raise ValueError(f"positions must have shape ({g.num_nodes}, 2), got {positions.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    for a, b in g.edges:
        ax.plot(*positions[[a, b]].T, color="0.5", lw=2, zorder=1)
    colors = [("tab:red" if i == g.center else node_color) for i in range(g.num_nodes)]
    ax.scatter(*positions.T, c=colors, s=40, zorder=2)
    if labels:
        for i, (x, y) in enumerate(positions):
            ax.annotate(f"{i} {g.joint_names[i]}", (x, y), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")  # fmt: skip
    ax.set_title(f"{g.name} ({g.num_nodes} joints, {g.num_edges} bones)")
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_adjacency_stack(
    stack: np.ndarray | torch.Tensor,
    *,
    titles: list[str] | None = None,
    cmap: str = "Blues",
    ncols: int | None = None,
) -> Figure:
    """Draw a (K, V, V) stack of scale matrices as K heat maps, as in Fig. 2 of the paper.

    Parameters
    ----------
    stack : array or tensor, shape (K, V, V) or (V, V)
        The scale matrices, one heat map each (a single matrix: one map).
    titles : list of str, optional
        One title per scale; defaults to ``"k = 0"``, ``"k = 1"``, ...
    cmap : str
        Matplotlib colour map; darker means more weight.
    ncols : int, optional
        Heat maps per row (default: all in one row, at most 6).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _pyplot()
    if isinstance(stack, torch.Tensor):
        stack = stack.detach().cpu().numpy()
    stack = np.asarray(stack, dtype=float)
    if stack.ndim == 2:
        stack = stack[None]
    if stack.ndim != 3 or stack.shape[1] != stack.shape[2]:
        raise ValueError(f"expected a (K, V, V) stack, got shape {stack.shape}")
    k = len(stack)
    titles = titles or [f"k = {i}" for i in range(k)]
    if len(titles) != k:
        raise ValueError(f"expected {k} titles, got {len(titles)}")
    ncols = ncols or min(k, 6)
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.2 * ncols, 2.2 * nrows), squeeze=False)
    for ax in axes.flat[k:]:
        ax.axis("off")
    for ax, matrix, title in zip(axes.flat, stack, titles):
        ax.imshow(matrix, cmap=cmap, vmin=0)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
