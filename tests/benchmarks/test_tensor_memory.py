"""benchmarks/tensor_memory.py: the peak of live tensor storage, against sizes counted by
hand."""

from __future__ import annotations

import torch

from benchmarks.tensor_memory import PeakTensorMemory

MIB = 2**20


def test_frees_views_and_in_place_results_are_counted_once():
    with PeakTensorMemory() as memory:
        a = torch.zeros(MIB // 4)  # 1 MiB
        view = a[: MIB // 8].view(-1, 2)  # shares a's storage
        view.add_(1)  # in place: no new storage
        b = a + 1  # 2 MiB live
        del a, view, b
        c = torch.zeros(MIB // 8)  # 0.5 MiB after 2 were freed
        assert memory.live_bytes == MIB // 2
    assert memory.peak_bytes == 2 * MIB
    del c


def test_backward_allocations_count_and_earlier_tensors_do_not():
    weight = torch.randn(256, 256, requires_grad=True)  # before the mode: not counted
    x = torch.randn(1024, 256)
    with PeakTensorMemory() as memory:
        y = x @ weight  # 1 MiB, kept alive by y
        y.square().sum().backward()  # y², 2y, the weight's gradient and more
    assert memory.peak_bytes >= 2 * MIB + weight.numel() * 4
    assert memory.peak_bytes < 8 * MIB
