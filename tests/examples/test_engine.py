"""The training engine's evaluation: non-finite outputs and an empty test set are one-line
errors (a ``SystemExit`` that the command prints), never a traceback from the metrics."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

pytest.importorskip("torchmetrics", reason="the train extra is not installed")

from examples.msg3d.engine import evaluate


class Constant(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 3), self.value)


def loader(n: int) -> DataLoader:
    return DataLoader(TensorDataset(torch.zeros(n, 2), torch.zeros(n, dtype=torch.long)), 2)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_outputs_end_with_one_message(value):
    with pytest.raises(SystemExit, match="not finite"):
        evaluate(Constant(value), loader(3), torch.device("cpu"), num_classes=3)


def test_an_empty_test_set_ends_with_one_message():
    with pytest.raises(SystemExit, match="no samples"):
        evaluate(Constant(0.0), loader(0), torch.device("cpu"), num_classes=3)


def test_finite_outputs_are_evaluated():
    # equal logits: argmax is class 0, every label's class
    result = evaluate(Constant(0.0), loader(3), torch.device("cpu"), num_classes=3)
    assert result["top1"] == 1.0
