"""Skeleton-graph layers: MS-GCN, MS-G3D and MS-TCN."""

from skelgraph.nn._utils import Implementation
from skelgraph.nn.aggregation import MultiScaleAggregation
from skelgraph.nn.block import STGCBlock
from skelgraph.nn.g3d import G3DConv, MultiWindowG3D, unfold_windows
from skelgraph.nn.graph_conv import DisentangledGraphConv
from skelgraph.nn.temporal import MSTemporalConv, TemporalConv

__all__ = [
    "DisentangledGraphConv",
    "G3DConv",
    "Implementation",
    "MSTemporalConv",
    "MultiScaleAggregation",
    "MultiWindowG3D",
    "STGCBlock",
    "TemporalConv",
    "unfold_windows",
]
