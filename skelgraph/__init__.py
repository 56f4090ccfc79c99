"""skelgraph: skeleton-graph layers for skeleton-based action recognition (MS-G3D)."""

from skelgraph.fusion import fuse_streams
from skelgraph.graph import SkeletonGraph, hop_weight_mass, normalize_adjacency
from skelgraph.nn import (
    DisentangledGraphConv,
    G3DConv,
    MSTemporalConv,
    MultiScaleAggregation,
    MultiWindowG3D,
    STGCBlock,
    TemporalConv,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "DisentangledGraphConv",
    "G3DConv",
    "MSTemporalConv",
    "MultiScaleAggregation",
    "MultiWindowG3D",
    "STGCBlock",
    "SkeletonGraph",
    "TemporalConv",
    "__version__",
    "fuse_streams",
    "hop_weight_mass",
    "normalize_adjacency",
]
