"""skelgraph's benchmarks, run from a clone's root: ``python -m benchmarks.speed ...``."""
