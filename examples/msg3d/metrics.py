"""Accuracy on the test split and the scores of every test sample, over every process.

Needs torchmetrics (``pip install 'skelgraph[train]'``): the engine imports this module
only when it evaluates, and says so where torchmetrics is missing.
"""

from __future__ import annotations

from typing import Any

import torch
from torchmetrics import Metric

from skelgraph.metrics import ClassificationMetrics, plot_confusion_matrix

__all__ = ["ClassificationMetrics", "ScoreCollector", "plot_confusion_matrix"]


class ScoreCollector(Metric):
    """Gathers ``(index, label, logits)`` rows of every process (concatenated on sync)."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        for name in ("index", "label", "logits"):
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, index: torch.Tensor, label: torch.Tensor, logits: torch.Tensor) -> None:
        """Add one batch: dataset indices, labels and logits."""
        self.index.append(index)
        self.label.append(label)
        self.logits.append(logits)

    def compute(self) -> dict[str, torch.Tensor]:
        """Every row so far: ``{"index", "label", "logits"}``."""
        return {"index": _cat(self.index), "label": _cat(self.label), "logits": _cat(self.logits)}


def _cat(state: Any) -> torch.Tensor:
    """A list state concatenated (after a sync, torchmetrics may hold one tensor)."""
    return torch.cat(state) if isinstance(state, list) else state
