"""skelgraph's examples: models assembled from the library's layers, run from a clone.

From the repository root: ``python -m examples.msg3d.train ...`` (see ``examples/msg3d``).
"""
