r"""Which computation the graph convolutions run: one global setting, one rule.

skelgraph's graph convolutions have two sibling implementations that give the same result
up to float rounding:

- ``"reference"``: the authors' order of operations (aggregate the K scales into K·C
  channels, then a 1×1 convolution; for G3D, on unfolded windows), in
  :mod:`skelgraph.nn.functional`;
- ``"fast"``: kernels that do the same sums with less memory traffic and, for G3D, fewer
  multiply-adds (:mod:`skelgraph.nn.node_major`, :mod:`skelgraph.nn.project_first`), and
  a no-grad inference epilogue that folds bias, batch norm and ReLU into one in-place step.

The setting is global (:func:`set_implementation`, or the :func:`implementation` context
manager). Each layer turns it into a *plan*, the kernels it runs, in one method
(``DisentangledGraphConv.plan``, ``G3DConv.plan``) that applies the rule of
:func:`use_fast` and :func:`fuses_epilogue`; its ``forward`` branches on the plan's named
fields. The kernels read no setting. The rule:

- ``"auto"`` (default): the fast kernel when it needs no more multiply-adds than the
  reference (:func:`~skelgraph.nn.project_first.multiply_adds`, counted once, when the
  layer is built). Node-major MS-GCN does the reference's products in a cheaper memory
  order, so it is always chosen; project-first G3D is chosen unless the projection widens
  the channels a lot (the authors' first block, 3 → 96 channels, keeps the reference
  order).
- ``"reference"`` or ``"fast"``: always that one, where the fast kernel applies.
- Whatever the setting, the reference runs where a fast kernel cannot: while dropout acts
  on the aggregated features (which the fast MS-GCN never forms), and under
  :func:`torch.jit.trace` and the TorchScript-based ONNX exporter (``dynamo=False``),
  which cannot record custom autograd functions. Under :func:`torch.compile` and
  :func:`torch.export.export` (and the default ONNX exporter, which uses it) the fast
  kernels run as whole-tensor operations that those tools record
  (:func:`recording_tool`).

A plan is evaluated at every call, from the layer's costs, the setting and these runtime
conditions: a few comparisons, and never stale (a context manager, a module switched to
training, a trace of a module built earlier all get the kernels they need).

Examples
--------
>>> import torch
>>> from skelgraph.nn import G3DConv, backend
>>> layer = G3DConv(32, 32, "ntu-rgbd").eval()
>>> x = torch.randn(1, 32, 8, 25)
>>> with backend.implementation("reference"):
...     slow = layer(x)
...     layer.plan().window_conv
'reference'
>>> layer.plan().window_conv
'project-first'
>>> torch.allclose(layer(x), slow, atol=1e-5)
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch
from torch import nn

from skelgraph._validation import check_choice

__all__ = [
    "Implementation",
    "fast_batch_norm",
    "fuses_epilogue",
    "get_implementation",
    "implementation",
    "recomputes_activation",
    "recording_tool",
    "set_implementation",
    "use_fast",
]

Implementation = Literal["auto", "reference", "fast"]
"""The global setting: ``"auto"`` (the rule of :func:`use_fast`), ``"reference"`` or
``"fast"``."""

_implementation: Implementation = "auto"


def get_implementation() -> Implementation:
    """The current global setting."""
    return _implementation


def set_implementation(value: Implementation) -> None:
    """Set the global setting (``"auto"``, ``"reference"`` or ``"fast"``).

    Parameters
    ----------
    value : {"auto", "reference", "fast"}
        The new setting.
    """
    global _implementation
    _implementation = check_choice("implementation", value, Implementation)


@contextmanager
def implementation(value: Implementation) -> Iterator[None]:
    """Run a block under another setting, restoring the previous one afterwards.

    Parameters
    ----------
    value : {"auto", "reference", "fast"}
        The setting inside the block.

    Examples
    --------
    >>> from skelgraph.nn import backend
    >>> with backend.implementation("reference"):
    ...     backend.get_implementation()
    'reference'
    >>> backend.get_implementation()
    'auto'
    """
    previous = get_implementation()
    set_implementation(value)
    try:
        yield
    finally:
        set_implementation(previous)


def recording_tool() -> Literal["trace", "compile"] | None:
    """Which tool, if any, is recording the computation now.

    ``"trace"``: :func:`torch.jit.trace` or the TorchScript-based ONNX exporter, which
    record tensor operations but not custom autograd functions; ``"compile"``:
    :func:`torch.compile` or :func:`torch.export.export`, which record whole-tensor
    operations (Python loops over a symbolic batch would unroll or specialise it);
    ``None``: eager mode.
    """
    if torch.jit.is_tracing():
        return "trace"
    if torch.compiler.is_compiling() or torch.compiler.is_exporting():
        return "compile"
    return None


def use_fast(reference_cost: int, fast_cost: int, *, applicable: bool = True) -> bool:
    """Whether a layer's plan takes its fast kernel: the rule, in one place.

    Parameters
    ----------
    reference_cost, fast_cost : int
        Multiply-adds of the two implementations for the call at hand.
    applicable : bool
        ``False`` where the fast kernel does not compute this call (e.g. dropout on
        features it never forms).
    """
    if not applicable or recording_tool() == "trace":
        return False
    setting = get_implementation()
    if setting == "auto":
        return fast_cost <= reference_cost
    return setting == "fast"


def fuses_epilogue(bn: nn.Module, act: nn.Module) -> bool:
    """Whether a layer's plan folds ``act(bn(y + bias))`` into one in-place affine map and
    clamp (:func:`skelgraph.nn.functional.bias_norm_act` with ``fused=True``): the rule of
    :func:`use_fast` at equal cost, where it computes the same: no gradients, batch norm
    in eval mode with running statistics, a ReLU or no activation.

    Parameters
    ----------
    bn : nn.Module
        The layer's batch norm.
    act : nn.Module
        The layer's activation, applied after it.
    """
    fusable = (
        isinstance(bn, nn.BatchNorm2d)
        and not bn.training
        and bn.track_running_stats
        and isinstance(act, nn.ReLU | nn.Identity)
        and not torch.is_grad_enabled()
    )
    return use_fast(0, 0, applicable=fusable)


def fast_batch_norm(*norms: nn.Module) -> bool:
    """Whether a layer's plan normalises in training mode by
    :func:`skelgraph.nn.batch_norm.batch_norm`'s fewer passes (measured faster than
    PyTorch's CPU kernel; the kernel itself keeps PyTorch's where the tensor does not
    allow them): the rule of :func:`use_fast` at equal cost, where it computes the same:
    plain ``nn.BatchNorm2d`` normalising with the batch's statistics, in eager mode
    (``torch.compile`` fuses PyTorch's own).

    Parameters
    ----------
    *norms : nn.Module
        The layer's batch norms.
    """
    applicable = recording_tool() is None and all(
        type(bn) is nn.BatchNorm2d and (bn.training or bn.running_mean is None) for bn in norms
    )
    return use_fast(0, 0, applicable=applicable)


def recomputes_activation(act: nn.Module, *norms: nn.Module) -> bool:
    """Whether a layer's plan runs batch norm, ReLU and the convolution after them as
    :func:`skelgraph.nn.norm_relu_conv.norm_relu_conv`, which keeps only the norm's input
    for the backward and rebuilds the ReLU's output there, where :func:`fast_batch_norm`
    holds, the activation is a ReLU and gradients are on (the kernel itself runs the
    modules where the tensor does not allow it). The rule of :func:`use_fast` by cost:

    - float32 and float64 outside autocast: the rebuild is one element-wise pass of the
      fewer-pass batch norm, nearly free: ``"auto"`` and ``"fast"`` take it;
    - otherwise (bfloat16 or float16, under autocast or not) it runs on PyTorch's kernel,
      whose statistics are computed again, a cost in time for the memory: ``"fast"``
      only.

    Parameters
    ----------
    act : nn.Module
        The activation after the batch norms.
    *norms : nn.Module
        The batch norms.
    """
    applicable = isinstance(act, nn.ReLU) and torch.is_grad_enabled()
    if not (applicable and fast_batch_norm(*norms)):
        return False
    return get_implementation() == "fast" or all(map(_float_outside_autocast, norms))


def _float_outside_autocast(bn: nn.Module) -> bool:
    """Whether a batch norm's tensors are float32 or float64, outside autocast."""
    tensor = bn.weight if bn.weight is not None else bn.running_mean
    device = "cpu" if tensor is None else tensor.device.type
    if torch.is_autocast_enabled(device):
        return False
    return tensor is None or tensor.dtype in (torch.float32, torch.float64)
