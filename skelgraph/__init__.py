"""skelgraph: skeleton-graph layers for skeleton-based action recognition (MS-G3D)."""

from skelgraph.graph import SkeletonGraph, hop_weight_mass, normalize_adjacency

__version__ = "0.1.0.dev0"

__all__ = ["SkeletonGraph", "__version__", "hop_weight_mass", "normalize_adjacency"]
