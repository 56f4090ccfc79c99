"""The skeleton graph: one immutable object from which every adjacency is derived."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from numbers import Integral
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import networkx as nx
import numpy as np
import torch

from skelgraph._validation import check_choice, check_graph_size, check_int
from skelgraph.graph.adjacency import (
    UNREACHABLE,
    Aggregation,
    Normalization,
    disentangled_stack,
    k_adjacency_from_hops,
    powering_stack,
)
from skelgraph.graph.analysis import hop_weight_mass
from skelgraph.graph.layouts import LAYOUTS, resolve_layout

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["GraphLike", "SkeletonGraph", "WindowVariant"]

_HOPS = ("hop_distances",)  # the cache key of the hop distances

WindowVariant = Literal["cross-spacetime", "grid", "grid-dense-self"]


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


class SkeletonGraph:
    r"""An undirected skeleton graph: joints, bones, and everything derived from them.

    The graph is immutable; every derived quantity (adjacency, hop distances, k-adjacency
    stacks, window graphs) is computed on first use and cached. Arrays it returns are
    read-only views of that cache.

    Notation of the MS-G3D paper: ``A`` is the V×V 0/1 bone adjacency (no self-loops),
    ``Ã = A + I``, ``d(i, j)`` the shortest-path hop distance.

    Parameters
    ----------
    edges : iterable of (int, int)
        Undirected bones, 0-based, each listed once, no self-loops (self-loops are added
        by the mathematics, never given).
    num_nodes : int
        Number of joints V.
    joint_names : sequence of str, optional
        One name per joint; defaults to ``"joint_0"``, ``"joint_1"``, ...
    center : int, optional
        Root joint of the bone tree (see :attr:`bone_pairs`); defaults to 0.
    name : str
        A label shown in ``repr``.
    preprocess : mapping, optional
        The joints :func:`~skelgraph.data.paper_preprocess` centres and aligns on, keys
        ``center``, ``z_axis`` ``(bottom, top)`` and ``x_axis`` ``(left, right)``, each a
        joint index or a tuple of indices whose mean is used (the fields of
        :class:`~skelgraph.data.PreprocessSpec`); ``z_axis`` and ``x_axis`` may be left
        out for data that is never rotated (2-D). Kept in :attr:`preprocess`; not part of
        equality, like the name.

    Raises
    ------
    ValueError
        Empty graph, an index out of range, a self edge, a duplicate edge, a wrong
        number of joint names, or a malformed ``preprocess``.

    Examples
    --------
    >>> g = SkeletonGraph.from_layout("ntu-rgbd")
    >>> g.num_nodes, g.num_edges, g.diameter
    (25, 24, 12)
    >>> g.multiscale_adjacency(13).shape
    (13, 25, 25)
    """

    def __init__(
        self,
        edges: Iterable[tuple[int, int]],
        num_nodes: int,
        *,
        joint_names: Sequence[str] | None = None,
        center: int | None = None,
        name: str = "custom",
        preprocess: Mapping[str, Any] | None = None,
    ) -> None:
        num_nodes = check_int("num_nodes", num_nodes, 0)
        if num_nodes == 0:
            raise ValueError("a skeleton graph needs at least one joint, got num_nodes=0")
        check_graph_size(num_nodes, "a graph")
        canonical: set[tuple[int, int]] = set()
        for position, edge in enumerate(edges):
            try:
                a, b = edge
            except (TypeError, ValueError):
                raise ValueError(f"edge #{position} must be a pair of ints, got {edge!r}") from None
            if not all(isinstance(i, Integral) and not isinstance(i, bool) for i in (a, b)):
                # int(1.9) would be 1: a float or bool joint id is a mistake, not a joint
                raise ValueError(f"edge #{position} must be a pair of ints, got {edge!r}")
            a, b = int(a), int(b)
            if not (0 <= a < num_nodes and 0 <= b < num_nodes):
                raise ValueError(
                    f"edge #{position} {(a, b)} is out of range: joints are 0..{num_nodes - 1}"
                )
            if a == b:
                raise ValueError(
                    f"edge #{position} {(a, b)} is a self edge; self-loops are added by the "
                    "k-adjacency and normalisation, do not list them"
                )
            key = (min(a, b), max(a, b))
            if key in canonical:
                raise ValueError(f"edge #{position} {(a, b)} duplicates an earlier edge")
            canonical.add(key)
        if joint_names is None:
            joint_names = [f"joint_{i}" for i in range(num_nodes)]
        if len(joint_names) != num_nodes:
            raise ValueError(f"expected {num_nodes} joint names, got {len(joint_names)}")
        center = 0 if center is None else check_int("center", center, 0)
        if center >= num_nodes:
            raise ValueError(f"center {center} is out of range: joints are 0..{num_nodes - 1}")
        object.__setattr__(self, "_edges", tuple(sorted(canonical)))
        object.__setattr__(self, "_num_nodes", num_nodes)
        object.__setattr__(self, "_joint_names", tuple(str(n) for n in joint_names))
        object.__setattr__(self, "_center", center)
        object.__setattr__(self, "_name", str(name))
        object.__setattr__(self, "_preprocess", _check_preprocess(preprocess, num_nodes))
        object.__setattr__(self, "_cache", {})

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"SkeletonGraph is immutable; cannot set {key!r}")

    # ------------------------------------------------------------------ constructors
    @staticmethod
    def layouts() -> list[str]:
        """Names of the built-in layouts, for :meth:`from_layout`."""
        return list(LAYOUTS)

    @classmethod
    def from_layout(cls, name: str) -> SkeletonGraph:
        """A built-in layout by name (see :meth:`layouts`) or pyskl alias.

        pyskl's names (``"nturgb+d"``, ``"coco"``, ``"openpose"``, ``"handmp"``) are
        accepted as aliases (:data:`~skelgraph.graph.LAYOUT_ALIASES`); the graph keeps the
        built-in name.

        Parameters
        ----------
        name : str
            A name of :meth:`layouts` (``"ntu-rgbd"``, ...) or a pyskl alias.

        Raises
        ------
        ValueError
            Unknown name; the message lists the known ones.
        """
        layout = LAYOUTS[resolve_layout(name)]
        return cls(
            layout.edges,
            len(layout.joint_names),
            joint_names=layout.joint_names,
            center=layout.center,
            name=layout.name,
        )

    @classmethod
    def from_edges(
        cls,
        edges: Iterable[tuple[int, int]],
        num_nodes: int | None = None,
        *,
        joint_names: Sequence[str] | None = None,
        center: int | None = None,
        name: str = "custom",
        preprocess: Mapping[str, Any] | None = None,
    ) -> SkeletonGraph:
        """A graph from an undirected edge list.

        Parameters
        ----------
        edges : iterable of (int, int)
            Undirected bones as pairs of 0-based joint indices, each listed once.
        num_nodes : int, optional
            Number of joints V; defaults to ``len(joint_names)`` or, failing that, one more
            than the largest index in ``edges``.
        joint_names, center, name, preprocess
            As for the class.
        """
        edges = [tuple(e) for e in edges]
        if num_nodes is None:
            if joint_names is not None:
                num_nodes = len(joint_names)
            elif edges:
                num_nodes = 1 + max(max(int(i) for i in e) for e in edges)
            else:
                raise ValueError("cannot infer num_nodes from an empty edge list; pass num_nodes")
        return cls(
            edges,
            num_nodes,
            joint_names=joint_names,
            center=center,
            name=name,
            preprocess=preprocess,
        )

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> SkeletonGraph:
        """A graph from the plain dictionary :meth:`to_dict` gives (or a JSON object).

        Keys: ``edges`` (list of pairs, 0-based; required), ``joint_names`` and/or
        ``num_nodes`` (at least one where ``edges`` does not reach the last joint),
        ``center``, ``name`` and ``preprocess`` (see the class), all optional.

        Parameters
        ----------
        spec : mapping
            The description, with the keys above.

        Raises
        ------
        ValueError
            Not a mapping, unknown keys, or anything the constructor refuses.
        """
        if not isinstance(spec, Mapping):
            raise ValueError(f"a graph description must be a mapping, got {type(spec).__name__}")
        known = {"edges", "num_nodes", "joint_names", "center", "name", "preprocess", "format"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ValueError(
                f"unknown keys {unknown} in a graph description; known: {sorted(known)}"
            )
        if "edges" not in spec:
            raise ValueError("a graph description needs 'edges' (a list of [i, j] pairs)")
        edges = spec["edges"]
        if isinstance(edges, (str, bytes)) or not isinstance(edges, Sequence):
            raise ValueError(f"'edges' must be a list of [i, j] pairs, got {edges!r:.60}")
        return cls.from_edges(
            edges,
            spec.get("num_nodes"),
            joint_names=spec.get("joint_names"),
            center=spec.get("center"),
            name=spec.get("name", "custom"),
            preprocess=spec.get("preprocess"),
        )

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> SkeletonGraph:
        """Read a graph from a small JSON file (the object :meth:`to_dict` describes).

        Example file (a 5-joint arm)::

            {
              "name": "arm",
              "joint_names": ["chest", "shoulder", "elbow", "wrist", "hand"],
              "edges": [[0, 1], [1, 2], [2, 3], [3, 4]],
              "center": 0,
              "preprocess": {"center": 0, "z_axis": [0, 1], "x_axis": [1, 2]}
            }

        Parameters
        ----------
        path : str or os.PathLike
            The JSON file.

        Raises
        ------
        ValueError
            Unreadable or invalid JSON, or an invalid description; the message names the
            file.
        """
        try:
            with open(path, encoding="utf-8") as file:
                spec = json.load(file)
        except (OSError, ValueError) as error:
            raise ValueError(f"{os.fspath(path)}: cannot read a graph: {error}") from None
        except RecursionError:  # json recurses per nesting level: "[" * 100000
            raise ValueError(
                f"{os.fspath(path)}: cannot read a graph: JSON nested too deep"
            ) from None
        try:
            return cls.from_dict(spec)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{os.fspath(path)}: {error}") from None

    @classmethod
    def from_networkx(
        cls, graph: nx.Graph, *, center: Any = None, name: str | None = None
    ) -> SkeletonGraph:
        """A graph from an undirected networkx graph.

        Parameters
        ----------
        graph : networkx.Graph
            Undirected, simple, without self edges. Nodes are numbered in ``graph.nodes``
            order; their labels become the joint names.
        center : hashable, optional
            The root joint, as a node label of ``graph``; defaults to the first node.
        name : str, optional
            Defaults to ``graph.name``, or ``"custom"``.
        """
        if graph.is_directed():
            raise ValueError("expected an undirected networkx graph, got a directed one")
        if graph.is_multigraph():
            raise ValueError(
                "expected a simple networkx graph, got a multigraph; a bone is one edge "
                "(collapse parallel edges with nx.Graph(graph))"
            )
        if nx.number_of_selfloops(graph):
            loops = list(nx.selfloop_edges(graph))
            raise ValueError(f"self edges are not allowed, found {loops[:5]}")
        index = {node: i for i, node in enumerate(graph.nodes)}
        if center is not None and center not in index:
            raise ValueError(f"center {center!r} is not a node of the graph")
        return cls(
            [(index[a], index[b]) for a, b in graph.edges],
            len(index),
            joint_names=[str(node) for node in graph.nodes],
            center=None if center is None else index[center],
            name=name or str(graph.name or "custom"),
        )

    @classmethod
    def from_edge_index(
        cls,
        edge_index: torch.Tensor | np.ndarray,
        num_nodes: int | None = None,
        *,
        joint_names: Sequence[str] | None = None,
        center: int | None = None,
        name: str = "custom",
    ) -> SkeletonGraph:
        """A graph from a PyG ``edge_index`` of shape (2, E) with both directions listed.

        Parameters
        ----------
        edge_index : Tensor or numpy.ndarray
            Integer array of shape (2, E): each undirected edge in both directions, once.
        num_nodes : int, optional
            Number of joints V, as for :meth:`from_edges`.
        joint_names, center, name
            As for the class.

        Raises
        ------
        ValueError
            A wrong shape, an edge whose reverse is missing, or a repeated edge.
        """
        ei = torch.as_tensor(edge_index)
        if ei.ndim != 2 or ei.shape[0] != 2:
            raise ValueError(f"edge_index must have shape (2, E), got {tuple(ei.shape)}")
        directed = [tuple(int(i) for i in pair) for pair in ei.t().tolist()]
        present = set(directed)
        if len(present) != len(directed):
            raise ValueError("edge_index lists a directed edge more than once")
        missing = [(a, b) for a, b in directed if (b, a) not in present]
        if missing:
            raise ValueError(
                f"edge_index is not symmetric: {missing[:5]} have no reverse edge; "
                "use torch_geometric.utils.to_undirected"
            )
        return cls.from_edges(
            # Each undirected edge once; a self-loop is passed on so the constructor rejects it.
            [(a, b) for a, b in directed if a <= b],
            num_nodes,
            joint_names=joint_names,
            center=center,
            name=name,
        )

    @classmethod
    def from_adjacency(
        cls, matrix: np.ndarray | torch.Tensor, *, center: int | None = None, name: str = "custom"
    ) -> SkeletonGraph:
        """A graph from a symmetric (V, V) 0/1 adjacency matrix with a zero diagonal.

        Parameters
        ----------
        matrix : numpy.ndarray or Tensor
            The adjacency matrix A, shape (V, V), without self-loops.
        center, name
            As for the class.
        """
        if isinstance(matrix, torch.Tensor):
            matrix = matrix.detach().cpu().numpy()
        m = np.asarray(matrix, dtype=np.float64)
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"expected a (V, V) adjacency matrix, got shape {m.shape}")
        if not np.isin(m, (0.0, 1.0)).all():
            raise ValueError("adjacency matrix entries must be 0 or 1")
        if not (m == m.T).all():
            raise ValueError("adjacency matrix must be symmetric")
        if np.diag(m).any():
            raise ValueError(
                "adjacency matrix has a non-zero diagonal; pass A without self-loops "
                "(they are added by the k-adjacency and normalisation)"
            )
        rows, cols = np.nonzero(np.triu(m))
        return cls(zip(rows.tolist(), cols.tolist()), len(m), center=center, name=name)

    @classmethod
    def coerce(cls, graph: GraphLike) -> SkeletonGraph:
        """Turn any :data:`GraphLike` (graph, layout name, networkx graph, (V, V) matrix)
        into a :class:`SkeletonGraph`; the layers accept all of them through this.

        Parameters
        ----------
        graph : GraphLike
            A :class:`SkeletonGraph` (returned as is), a layout name, an undirected
            networkx graph or a (V, V) adjacency matrix.
        """
        if isinstance(graph, SkeletonGraph):
            return graph
        if isinstance(graph, str):
            return cls.from_layout(graph)
        if isinstance(graph, nx.Graph):
            return cls.from_networkx(graph)
        if isinstance(graph, (np.ndarray, torch.Tensor)):
            return cls.from_adjacency(graph)
        raise TypeError(
            "expected a SkeletonGraph, a layout name, a networkx graph or a (V, V) adjacency "
            f"matrix, got {type(graph).__name__}"
        )

    # ------------------------------------------------------------------ basic facts
    @property
    def name(self) -> str:
        """The layout name, or the name given to a custom graph."""
        return self._name

    @property
    def num_nodes(self) -> int:
        """Number of joints V."""
        return self._num_nodes

    def __len__(self) -> int:
        return self._num_nodes

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """Undirected bones ``(i, j)`` with ``i < j``, sorted."""
        return self._edges

    @property
    def num_edges(self) -> int:
        """Number of undirected bones."""
        return len(self._edges)

    @property
    def joint_names(self) -> tuple[str, ...]:
        """One name per joint."""
        return self._joint_names

    @property
    def center(self) -> int:
        """Root joint of the bone tree."""
        return self._center

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SkeletonGraph):
            return NotImplemented
        return (self._num_nodes, self._edges, self._center, self._joint_names) == (
            other._num_nodes,
            other._edges,
            other._center,
            other._joint_names,
        )

    def __hash__(self) -> int:
        return hash((self._num_nodes, self._edges, self._center, self._joint_names))

    def __repr__(self) -> str:
        connected = "connected" if self.is_connected else f"{self.num_components} components"
        return (
            f"SkeletonGraph({self._name!r}, num_nodes={self._num_nodes}, "
            f"num_edges={self.num_edges}, center={self._center} "
            f"({self._joint_names[self._center]}), diameter={self.diameter}, {connected})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {"joint_names": self._joint_names, "center": self._center, "name": self._name}
        if self._preprocess is not None:
            kwargs["preprocess"] = dict(self._preprocess)
        return (_rebuild, (self._edges, self._num_nodes, kwargs))

    @property
    def preprocess(self) -> Mapping[str, Any] | None:
        """The preprocessing joints given to the constructor (read-only), or ``None``.

        Values are ints or tuples of ints (``center``) and pairs of them (``z_axis``,
        ``x_axis``); built-in layouts keep theirs in
        :data:`~skelgraph.data.PREPROCESS_SPECS` instead.
        """
        return self._preprocess

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-serialisable description: ``name``, ``num_nodes``,
        ``joint_names``, ``edges``, ``center`` and, where set, ``preprocess``;
        :meth:`from_dict` turns it back into an equal graph."""
        out: dict[str, Any] = {
            "name": self._name,
            "num_nodes": self._num_nodes,
            "joint_names": list(self._joint_names),
            "edges": [list(e) for e in self._edges],
            "center": self._center,
        }
        if self._preprocess is not None:
            out["preprocess"] = _jsonable(dict(self._preprocess))
        return out

    def to_json(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        preprocess: Any = None,
    ) -> str:
        """The :meth:`to_dict` description as JSON text, also written to ``path`` if given.

        Parameters
        ----------
        path : str or path, optional
        preprocess : PreprocessSpec or mapping, optional
            Preprocessing joints to store instead of :attr:`preprocess` (for example
            ``PREPROCESS_SPECS["ntu-rgbd"]`` when saving a built-in layout).
        """
        out = self.to_dict()
        if preprocess is not None:
            if not isinstance(preprocess, Mapping):
                preprocess = {k: getattr(preprocess, k) for k in ("center", "z_axis", "x_axis")}
            out["preprocess"] = _jsonable(dict(_check_preprocess(preprocess, self._num_nodes)))
        # One line per key: edges stay readable as a list of pairs.
        lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in out.items()]
        text = "{\n" + ",\n".join(lines) + "\n}\n"
        if path is not None:
            with open(path, "w", encoding="utf-8") as file:
                file.write(text)
        return text

    # ------------------------------------------------------------------ structure
    @cached_property
    def adjacency(self) -> np.ndarray:
        """The 0/1 bone adjacency ``A``, shape (V, V), float64, no self-loops."""
        a = np.zeros((self._num_nodes, self._num_nodes))
        if self._edges:
            rows, cols = np.array(self._edges).T
            a[rows, cols] = a[cols, rows] = 1.0
        return _readonly(a)

    @cached_property
    def degrees(self) -> np.ndarray:
        """Number of bones at each joint, shape (V,), int64 (self-loops not counted)."""
        return _readonly(self.adjacency.sum(1).astype(np.int64))

    @property
    def hop_distances(self) -> np.ndarray:
        """Shortest-path hop distances ``d(i, j)``, shape (V, V), int64.

        Pairs with no path between them (a disconnected graph) hold
        :data:`~skelgraph.graph.adjacency.UNREACHABLE` (-1), so they never pass for a
        distance in arithmetic or comparisons with ``k >= 0``.
        """
        # Kept in the graph's cache, where a window graph is given its closed form.
        return self._cached(_HOPS, self._searched_hops)

    def _searched_hops(self) -> np.ndarray:
        hops = np.full((self._num_nodes, self._num_nodes), UNREACHABLE, dtype=np.int64)
        for source, lengths in nx.all_pairs_shortest_path_length(self.to_networkx()):
            for target, length in lengths.items():
                hops[source, target] = length
        return _readonly(hops)

    @cached_property
    def diameter(self) -> int:
        """Largest finite hop distance (over all components of a disconnected graph)."""
        return int(self.hop_distances.max())

    @cached_property
    def num_components(self) -> int:
        """Number of connected components (a two-person graph has at least two)."""
        return nx.number_connected_components(self.to_networkx())

    @property
    def is_connected(self) -> bool:
        """Whether every joint can reach every other."""
        return self.num_components == 1

    @cached_property
    def bone_pairs(self) -> tuple[tuple[int, int], ...]:
        """One ``(child, parent)`` pair per joint, bones directed away from the centre.

        The parent is the neighbour one hop closer to :attr:`center` (the lowest-indexed
        one where several are); the centre is its own parent, so the bone stream of
        Section 3.4, ``x[child] - x[parent]``, is zero there. In a disconnected graph each
        other component is rooted at its lowest-indexed joint. For the ``ntu-rgbd`` layout
        these are the pairs of the MS-G3D authors' bone data.
        """
        hops = self.hop_distances
        roots = {self._center}
        for component in nx.connected_components(self.to_networkx()):
            if self._center not in component:
                roots.add(min(component))
        pairs = []
        for child in range(self._num_nodes):
            root = next(r for r in roots if hops[r, child] != UNREACHABLE)
            if child == root:
                pairs.append((child, child))
                continue
            parent = next(
                int(j)
                for j in np.flatnonzero(self.adjacency[child])
                if hops[root, j] == hops[root, child] - 1
            )
            pairs.append((child, parent))
        return tuple(pairs)

    # ------------------------------------------------------------------ adjacency stacks
    def k_adjacency(self, k: int) -> np.ndarray:
        r"""The k-adjacency :math:`\tilde A_{(k)}` of Eq. 3, shape (V, V), 0/1 float64.

        .. math::

            [\tilde A_{(k)}]_{ij} = \begin{cases} 1 & d(v_i, v_j) = k \\ 1 & i = j \\
            0 & \text{otherwise} \end{cases}

        so :math:`\tilde A_{(0)} = I`, :math:`\tilde A_{(1)} = A + I`, and
        :math:`\tilde A_{(k)} = I` for ``k`` beyond the diameter.
        """
        k = check_int("k", k, 0)
        return self._cached(("k", k), lambda: k_adjacency_from_hops(self.hop_distances, k))

    def multiscale_adjacency(
        self,
        num_scales: int,
        aggregation: Aggregation = "disentangled",
        normalization: Normalization = "sym",
    ) -> np.ndarray:
        r"""The K normalised scales of a multi-scale graph convolution, shape (K, V, V).

        ``aggregation="disentangled"`` gives :math:`\operatorname{norm}(\tilde A_{(k)})`,
        k = 0..K-1 (Eq. 3-4); ``"powering"`` gives the biased baseline
        :math:`\operatorname{norm}(\tilde A)^k` (Eq. 2). ``normalization`` is ``"sym"``
        (:math:`D^{-1/2} M D^{-1/2}`, the authors' choice), ``"rw"`` (:math:`D^{-1} M`) or
        ``"none"``. No entry is ever NaN or infinite.

        Asking for scales beyond the diameter is allowed (they are ``I``, as in the
        authors' code) but warns, since they add parameters and no information.
        """
        num_scales = check_int("num_scales", num_scales, 1)
        check_choice("aggregation", aggregation, Aggregation)

        def build() -> np.ndarray:
            if aggregation == "powering":
                return powering_stack(self.adjacency, num_scales, normalization)
            if num_scales - 1 > self.diameter:
                warnings.warn(
                    f"num_scales={num_scales} asks for hops up to {num_scales - 1}, but "
                    f"{self._name!r} has diameter {self.diameter}: the scales beyond it are "
                    "the identity and add parameters without information",
                    stacklevel=4,
                )
            return disentangled_stack(self.hop_distances, num_scales, normalization)

        return self._cached(("stack", num_scales, aggregation, normalization), build)

    def hop_weight_mass(self, stack: np.ndarray | torch.Tensor) -> np.ndarray:
        """Share of each joint's aggregation weight at each hop distance, shape (K, D+1).

        See :func:`skelgraph.graph.analysis.hop_weight_mass`; D is the diameter.
        """
        return hop_weight_mass(stack, self.hop_distances)

    # ------------------------------------------------------------------ windows
    def window(self, tau: int, variant: WindowVariant = "cross-spacetime") -> SkeletonGraph:
        r"""The τV-node graph of a spatial-temporal window of τ frames (Eq. 5).

        Node ``(i, v)`` (frame ``i`` of the window, joint ``v``) has index ``i * V + v``
        (frame-major). Its ``Ã`` is, by variant (Table 3 of the paper):

        - ``"cross-spacetime"``: :math:`\tilde A_{(\tau)} = 1_{\tau\times\tau} \otimes
          \tilde A`: each joint links to itself and its neighbours in every frame.
        - ``"grid"``: diagonal blocks ``Ã``, first off-diagonal blocks ``I``: a joint
          links to itself in the adjacent frames only.
        - ``"grid-dense-self"``: diagonal blocks ``Ã``, all other blocks ``I``.

        The result is an ordinary :class:`SkeletonGraph`, so :meth:`k_adjacency` and
        :meth:`multiscale_adjacency` give :math:`\tilde A_{(\tau, k)}` of Eq. 7 unchanged.
        A dilated window (Section 3.3) reuses the same graph: dilation only changes which
        frames fill it. The centre is the centre joint of the middle frame.
        """
        tau = check_int("tau", tau, 1)
        check_choice("variant", variant, WindowVariant)
        check_graph_size(
            tau * self._num_nodes, f"a window of {tau} frames of {self._num_nodes} joints"
        )

        def build() -> SkeletonGraph:
            v = self._num_nodes
            a_tilde = self.adjacency + np.eye(v)
            if variant == "cross-spacetime":
                big = np.kron(np.ones((tau, tau)), a_tilde)
            else:
                frames = (
                    np.ones((tau, tau))
                    if variant == "grid-dense-self"
                    else (np.eye(tau, k=1) + np.eye(tau, k=-1))
                )
                big = np.kron(np.eye(tau), a_tilde) + np.kron(frames, np.eye(v))
            np.fill_diagonal(big, 0)
            rows, cols = np.nonzero(np.triu(big))
            window = SkeletonGraph(
                zip(rows.tolist(), cols.tolist()),
                tau * v,
                joint_names=[f"{n}@{i}" for i in range(tau) for n in self._joint_names],
                center=(tau // 2) * v + self._center,
                name=f"{self._name}/window{tau}"
                + ("" if variant == "cross-spacetime" else f"-{variant}"),
            )
            # Its hop distances in closed form, in O((τV)²) instead of a search per node.
            window._cache[_HOPS] = _readonly(self._window_hops(tau, variant))
            return window

        return self._cached(("window", tau, variant), build)

    def _window_hops(self, tau: int, variant: WindowVariant) -> np.ndarray:
        """Hop distances of :meth:`window`'s graph from the skeleton's.

        The window graph is a product of the frames' graph F (the τ frames: complete for
        ``"cross-spacetime"`` and ``"grid-dense-self"``, a path for ``"grid"``) and the
        skeleton G. ``"cross-spacetime"`` links (i, v) to (j, u) whenever u ∈ N[v] (a
        strong product), so a step moves at most one hop in each:
        d = max(d_F(i, j), d_G(v, u)). The grids link either a frame or a joint per
        step (Cartesian products): d = d_F(i, j) + d_G(v, u). Pairs of joints in
        different components stay unreachable.
        """
        v = self._num_nodes
        steps = np.abs(np.subtract.outer(np.arange(tau), np.arange(tau)))
        frames = np.kron(steps if variant == "grid" else np.minimum(steps, 1), np.ones((v, v)))
        joints = np.tile(self.hop_distances, (tau, tau))
        hops = np.maximum(frames, joints) if variant == "cross-spacetime" else frames + joints
        hops[joints == UNREACHABLE] = UNREACHABLE
        return hops.astype(np.int64)

    # ------------------------------------------------------------------ conversions
    def to_networkx(self) -> nx.Graph:
        """A new undirected networkx graph with nodes 0..V-1 carrying a ``name`` attribute."""
        graph = nx.Graph(name=self._name)
        graph.add_nodes_from((i, {"name": n}) for i, n in enumerate(self._joint_names))
        graph.add_edges_from(self._edges)
        return graph

    @property
    def edge_index(self) -> torch.Tensor:
        """PyG ``edge_index``, shape (2, 2E), int64, both directions of every bone."""
        if not self._edges:
            return torch.empty(2, 0, dtype=torch.long)
        forward = torch.tensor(self._edges, dtype=torch.long).t()
        return torch.cat([forward, forward.flip(0)], dim=1)

    def to_pyg_data(self) -> Data:
        """A ``torch_geometric.data.Data`` with ``edge_index`` and ``num_nodes``."""
        from torch_geometric.data import Data

        return Data(edge_index=self.edge_index, num_nodes=self._num_nodes)

    # ------------------------------------------------------------------ internals
    def _cached(self, key: tuple[Any, ...], build: Any) -> Any:
        cache = self._cache
        if key not in cache:
            value = build()
            cache[key] = _readonly(value) if isinstance(value, np.ndarray) else value
        return cache[key]


GraphLike = SkeletonGraph | str | nx.Graph | np.ndarray | torch.Tensor
"""Anything :meth:`SkeletonGraph.coerce` turns into a graph: a graph, a layout name, a
networkx graph or a (V, V) 0/1 adjacency matrix."""


def _joint_ref(value: Any, num_nodes: int, where: str) -> int | tuple[int, ...]:
    def one(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"preprocess {where}: expected a joint index, got {v!r:.40}")
        if not 0 <= int(v) < num_nodes:
            raise ValueError(
                f"preprocess {where}: joint {int(v)} is out of range: joints are 0..{num_nodes - 1}"
            )
        return int(v)

    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"preprocess {where}: an empty list of joints")
        return tuple(one(v) for v in value)
    return one(value)


def _check_preprocess(spec: Mapping[str, Any] | None, num_nodes: int) -> Mapping[str, Any] | None:
    """Validated, normalised (ints and tuples), read-only preprocessing joints."""
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise ValueError(f"preprocess must be a mapping, got {type(spec).__name__}")
    unknown = sorted(set(spec) - {"center", "z_axis", "x_axis"})
    if unknown:
        raise ValueError(f"preprocess: unknown keys {unknown}; known: center, z_axis, x_axis")
    if "center" not in spec:
        raise ValueError("preprocess needs 'center' (a joint or a list of joints)")
    out: dict[str, Any] = {"center": _joint_ref(spec["center"], num_nodes, "center")}
    for key in ("z_axis", "x_axis"):
        if spec.get(key) is None:
            continue
        pair = spec[key]
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"preprocess {key}: expected a pair of joints, got {pair!r:.60}")
        out[key] = tuple(_joint_ref(v, num_nodes, key) for v in pair)
    return MappingProxyType(out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _rebuild(edges: tuple[tuple[int, int], ...], num_nodes: int, kwargs: dict) -> SkeletonGraph:
    return SkeletonGraph(edges, num_nodes, **kwargs)
