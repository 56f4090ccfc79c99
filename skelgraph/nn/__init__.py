"""Skeleton-graph layers: MS-GCN, MS-G3D and MS-TCN.

The layers call the functional operations of :mod:`skelgraph.nn.functional`, which pick
the reference or the fast kernels from the one global setting of
:mod:`skelgraph.nn.backend`. Every temporal layer also evaluates step-wise on a live
stream (``forward_steps``, ``flush``; :mod:`skelgraph.nn.streaming`).
"""

from skelgraph.nn import backend, functional, streaming
from skelgraph.nn.aggregation import MultiScaleAggregation
from skelgraph.nn.backend import Implementation
from skelgraph.nn.block import STGCBlock
from skelgraph.nn.functional import unfold_windows
from skelgraph.nn.g3d import G3DConv, MultiWindowG3D
from skelgraph.nn.graph_conv import DisentangledGraphConv
from skelgraph.nn.streaming import StreamingModule
from skelgraph.nn.temporal import MSTemporalConv, TemporalConv

__all__ = [
    "DisentangledGraphConv",
    "G3DConv",
    "Implementation",
    "MSTemporalConv",
    "MultiScaleAggregation",
    "MultiWindowG3D",
    "STGCBlock",
    "StreamingModule",
    "TemporalConv",
    "backend",
    "functional",
    "streaming",
    "unfold_windows",
]
