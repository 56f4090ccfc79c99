"""Skeleton graphs and their adjacency mathematics."""

from skelgraph.graph.adjacency import UNREACHABLE, normalize_adjacency
from skelgraph.graph.analysis import hop_weight_mass
from skelgraph.graph.layouts import LAYOUT_ALIASES, LAYOUTS, Layout, resolve_layout
from skelgraph.graph.skeleton import GraphLike, SkeletonGraph

__all__ = [
    "LAYOUTS",
    "LAYOUT_ALIASES",
    "UNREACHABLE",
    "GraphLike",
    "Layout",
    "SkeletonGraph",
    "hop_weight_mass",
    "normalize_adjacency",
    "resolve_layout",
]
