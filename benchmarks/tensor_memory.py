"""The most memory a computation's tensors hold at once, whatever the allocator keeps.

On CPU a process's peak resident set size also counts what glibc's allocator keeps after
tensors are freed (freed chunks it has not returned, fragments between live ones), which
depends on its thresholds and on the order of allocations more than on the code under
test. The peak of live tensor storage is the figure ``torch.cuda.max_memory_allocated``
gives on a GPU: this mode counts it on any device, from the operators' outputs
(:class:`~torch.utils._python_dispatch.TorchDispatchMode`), each storage once, until
it is freed.

Examples
--------
>>> import torch
>>> with PeakTensorMemory() as memory:
...     a = torch.ones(1024, 256)        # 1 MiB
...     b = a * 2                        # 2 MiB held
...     del a, b
...     c = torch.ones(512, 256)         # 0.5 MiB
>>> memory.peak_bytes / 2**20
2.0
"""

from __future__ import annotations

import weakref
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

__all__ = ["PeakTensorMemory"]


class PeakTensorMemory(TorchDispatchMode):
    """Count the bytes of tensor storage that operators allocate while the mode is on,
    each storage once, until it is freed; ``peak_bytes`` is the most held at once.

    Tensors that existed before (parameters, inputs) are not counted; views and in-place
    results share a counted storage. Counting costs Python work per operator: run it on
    a step of its own, not a timed one.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live_bytes = 0
        self.peak_bytes = 0
        self._counted: set[int] = set()

    def _freed(self, key: int, size: int) -> None:
        self.live_bytes -= size
        self._counted.discard(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None) -> Any:
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if not isinstance(leaf, torch.Tensor):
                continue
            storage = leaf.untyped_storage()
            key, size = storage.data_ptr(), storage.nbytes()
            if size == 0 or key in self._counted:
                continue
            self._counted.add(key)
            self.live_bytes += size
            self.peak_bytes = max(self.peak_bytes, self.live_bytes)
            # A storage's Python object lives as long as the storage itself.
            weakref.finalize(storage, self._freed, key, size)
        return out
