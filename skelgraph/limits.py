"""Budgets: the largest inputs skelgraph builds, checked before anything is allocated.

Each budget is a module attribute read at the moment of the check, so a program that
needs a larger input raises it once, before building::

    import skelgraph.limits

    skelgraph.limits.MAX_GRAPH_NODES = 4096

A value over a budget is refused with a ``ValueError`` (a
:class:`~skelgraph.data.SkeletonFormatError` for a file) that names the budget. See
``docs/concepts/limits.rst`` for what each one protects. The readers of
:mod:`skelgraph.data` take their per-file budgets as arguments (``max_bytes``,
``max_elements``).
"""

from __future__ import annotations

__all__ = [
    "MAX_CLASSES",
    "MAX_GRAPH_NODES",
    "MAX_PICKLE_ARRAY_ELEMENTS",
    "MAX_PICKLE_DEPTH",
]

MAX_GRAPH_NODES = 1024
"""Most nodes of a graph, a skeleton's joints or the τ·V nodes of a G3D window graph. A
graph keeps dense V×V matrices (adjacency, hop distances, one per scale), 8 MiB each in
float64 at this size, and finds all-pairs hop distances (about a second for a chain of
1024 joints); the largest built-in layout has 25 joints, its 5-frame window 125 nodes."""

MAX_CLASSES = 2**16
"""Most classes a label may index (labels of a pose pickle are 0..MAX_CLASSES - 1) and a
model may have: the final layer of 384 inputs is then 96 MiB in float32. Kinetics has 700
classes."""

MAX_PICKLE_ARRAY_ELEMENTS = 2**26
"""Most elements of any one array in a pose pickle (67,108,864, or 256 MiB in float32; an
hour of 30 fps video of two people of 17 joints in 3-D is 11 M), checked from the shape an
array declares, before it is allocated. An item wider than 8 bytes (complex128, a string)
counts as itemsize / 8 elements."""

MAX_PICKLE_DEPTH = 100
"""Deepest nesting of containers in a pose pickle (a file holds dict → annotations list →
annotation dict → meta values: about 5 levels)."""
