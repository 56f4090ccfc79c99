"""MS-GCN: the disentangled multi-scale graph convolution (Eq. 4, with the mask of Eq. 8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import nn

from skelgraph._validation import check_input, check_int
from skelgraph.graph.adjacency import Aggregation, Normalization
from skelgraph.graph.skeleton import GraphLike, SkeletonGraph
from skelgraph.nn import backend, functional
from skelgraph.nn.activation import ActivationLike, make_activation
from skelgraph.nn.aggregation import MaskPlacement, MultiScaleAggregation
from skelgraph.nn.node_major import node_major_frames, node_major_graph_conv, stack_scales
from skelgraph.nn.project_first import multiply_adds
from skelgraph.nn.streaming import StreamingModule, StreamState

__all__ = ["DisentangledGraphConv", "GraphConvPlan"]


class GraphConvPlan(NamedTuple):
    """The kernels a :class:`DisentangledGraphConv` runs now
    (:meth:`DisentangledGraphConv.plan`).

    Parameters
    ----------
    graph_conv : {"node-major", "reference"}
        :func:`~skelgraph.nn.node_major.node_major_graph_conv` or
        :func:`~skelgraph.nn.functional.multiscale_graph_conv` (aggregate, dropout,
        project).
    whole_tensor : bool
        Node-major as whole-tensor operations (autograd's backward): what
        ``torch.compile`` and ``torch.export`` record, and one product for a stream step;
        otherwise its chunked custom autograd function (a backward that recomputes the
        expanded features).
    fused_epilogue : bool
        Bias, batch norm and ReLU as one in-place step
        (:func:`~skelgraph.nn.functional.bias_norm_act`, ``fused=True``).
    fast_batch_norm : bool
        Batch norm in training mode in fewer passes than PyTorch's CPU kernel
        (:func:`~skelgraph.nn.batch_norm.batch_norm`, ``fast=True``).
    """

    graph_conv: Literal["node-major", "reference"]
    whole_tensor: bool
    fused_epilogue: bool
    fast_batch_norm: bool


class _StreamKernels(NamedTuple):
    """What an MS-GCN stream reads from the weights at its first frame: its plan and,
    where that is node-major with the fused epilogue, the scales stacked node-major and
    the projection with its bias and batch norm folded in, ``(weight, bias)`` (a step is
    then two products and the activation; otherwise the plan's kernels read the weights
    at every step)."""

    plan: GraphConvPlan
    stacked: torch.Tensor | None
    projection: tuple[torch.Tensor, torch.Tensor] | None


class DisentangledGraphConv(StreamingModule):
    r"""Multi-scale graph convolution with disentangled neighbourhoods (MS-GCN).

    Applied to every frame :math:`X_t \in \mathbb{R}^{V \times C}` (Eq. 4 of Liu et al.,
    2020, with the residual mask of Eq. 8):

    .. math::

        X_t' = \sigma\Big(\operatorname{BN}\Big(\sum_{k=0}^{K-1}
        \big(\operatorname{norm}(\tilde A_{(k)}) + R_k\big)\, X_t\, \Theta_k\Big)\Big)

    where :math:`[\tilde A_{(k)}]_{ij} = 1` if joints i and j are exactly k hops apart or
    i = j (Eq. 3), norm is :math:`D^{-1/2} M D^{-1/2}` and :math:`R_k` a learnable
    residual mask. With ``aggregation="powering"`` the scales are
    :math:`\operatorname{norm}(\tilde A)^k` instead (Eq. 2, the biased baseline).

    The parameters are those of the authors' ``MS_GCN``: the scales and residual mask
    (:class:`~skelgraph.nn.MultiScaleAggregation`), a 1×1 convolution of the K·C stacked
    channels (the :math:`\Theta_k`, with a bias), batch norm and the activation. The
    kernels are the layer's :meth:`plan` (the rule of :mod:`skelgraph.nn.backend`): the
    reference or the fast node-major kernel.

    Parameters
    ----------
    in_channels, out_channels : int
        C and C'.
    graph : GraphLike
        A :class:`~skelgraph.SkeletonGraph`, a layout name, a networkx graph or a (V, V)
        0/1 adjacency.
    num_scales : int
        K, the number of scales k = 0..K-1 (the paper uses 13 on NTU RGB+D).
    aggregation : {"disentangled", "powering"}
    normalization : {"sym", "rw", "none"}
    residual_mask : bool
        Learn :math:`R_k` (initialised uniform in ±1e-6).
    mask_placement : {"after-norm", "in-norm"}
        ``"after-norm"``: :math:`\operatorname{norm}(\tilde A_{(k)}) + R_k`, the authors'
        code (default; their checkpoints load). ``"in-norm"``:
        :math:`\operatorname{norm}(\tilde A_{(k)} + R_k)`, the paper's Eq. 8.
    dropout : float
        Dropout probability on the aggregated features before the projection.
    activation : str, nn.Module or None
        σ; ``"relu"`` by default, ``None`` for none.

    Shapes
    ------
    Input (N, C, T, V), output (N, C', T, V).

    Step-wise (:mod:`skelgraph.nn.streaming`): frame-wise, ``delay`` 0; the stream holds
    no frame, only the scales and the projection (batch norm folded in) read at its first
    frame.

    The (K, V, V) scale stack is the buffer ``aggregate.scales``: it moves with ``.to()``
    and is rebuilt from the graph, not stored in the ``state_dict``.

    Examples
    --------
    >>> import torch
    >>> gcn = DisentangledGraphConv(3, 64, "ntu-rgbd", num_scales=13)
    >>> gcn(torch.randn(2, 3, 30, 25)).shape
    torch.Size([2, 64, 30, 25])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        graph: GraphLike,
        num_scales: int,
        *,
        aggregation: Aggregation = "disentangled",
        normalization: Normalization = "sym",
        residual_mask: bool = True,
        mask_placement: MaskPlacement = "after-norm",
        dropout: float = 0.0,
        activation: ActivationLike = "relu",
    ) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.out_channels = check_int("out_channels", out_channels, 1)
        self.graph = SkeletonGraph.coerce(graph)
        self.num_joints = self.graph.num_nodes
        self.aggregate = MultiScaleAggregation(
            self.graph,
            num_scales,
            aggregation=aggregation,
            normalization=normalization,
            residual_mask=residual_mask,
            mask_placement=mask_placement,
        )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.proj = nn.Conv2d(num_scales * in_channels, out_channels, kernel_size=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = make_activation(activation)
        # Both orders do the same multiply-adds (counted once, at T = 300).
        self._cost = multiply_adds("aggregate-first", in_channels, out_channels, num_scales,
                                   self.num_joints)  # fmt: skip

    @dataclass(kw_only=True)
    class State(StreamState):
        """An MS-GCN stream (frame-wise: no frame kept): the kernels read from the weights
        at its first frame.

        Parameters
        ----------
        shape, frames
            As in :class:`~skelgraph.nn.streaming.StreamState`.
        kernels : tuple, optional
            The plan, stacked scales and folded projection (the private
            ``_StreamKernels``); ``None`` until the first frame.
        """

        kernels: _StreamKernels | None = None

    def reset_parameters(self) -> None:
        """Re-initialise the mask, projection and batch norm."""
        self.aggregate.reset_parameters()
        self.proj.reset_parameters()
        self.bn.reset_parameters()

    def plan(self, *, stream: bool = False) -> GraphConvPlan:
        """The kernels this layer runs now: the one place it chooses, by the rule of
        :mod:`skelgraph.nn.backend` on its multiply-adds (counted when built), the global
        setting and the runtime (a recording tool, active dropout, gradients, batch norm
        mode).

        Parameters
        ----------
        stream : bool
            For a stream step (a few frames, no gradients).
        """
        dropout_active = self.training and self.dropout > 0
        node_major = backend.use_fast(self._cost, self._cost, applicable=not dropout_active)
        return GraphConvPlan(
            graph_conv="node-major" if node_major else "reference",
            whole_tensor=stream or backend.recording_tool() == "compile",
            fused_epilogue=backend.fuses_epilogue(self.bn, self.act),
            fast_batch_norm=backend.fast_batch_norm(self.bn),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V) to (N, C', T, V).

        Parameters
        ----------
        x : Tensor
            (N, C, T, V).
        """
        check_input(x, self.in_channels, self.num_joints, self)
        return self._graph_conv(x, self.plan())

    def _graph_conv(self, x: torch.Tensor, plan: GraphConvPlan) -> torch.Tensor:
        adjacency, weight = self.aggregate.adjacency(), self.proj.weight.flatten(1)
        if plan.graph_conv == "node-major":
            y = node_major_graph_conv(x, adjacency, weight, whole_tensor=plan.whole_tensor)
        else:
            y = functional.multiscale_graph_conv(
                x, adjacency, weight, dropout=self.dropout, training=self.training
            )
        return functional.bias_norm_act(
            y,
            self.proj.bias,
            self.bn,
            self.act,
            fused=plan.fused_epilogue,
            fast_batch_norm=plan.fast_batch_norm,
        )

    @property
    def delay(self) -> int:
        """Always 0, as the layer works frame by frame."""
        return 0

    def _stream_kernels(self) -> _StreamKernels:
        """The stream's kernels, read once, at its first frame."""
        plan = self.plan(stream=True)
        if plan.graph_conv != "node-major" or not plan.fused_epilogue:
            return _StreamKernels(plan, None, None)
        weight, bias = functional.fold_batch_norm(self.proj, self.bn)
        stacked = stack_scales(self.aggregate.adjacency().detach())
        return _StreamKernels(plan, stacked, (weight.flatten(1), bias))

    def _steps(self, x: torch.Tensor) -> torch.Tensor:
        state = self.stream_state
        if state.kernels is None:
            state.kernels = self._stream_kernels()
        plan, stacked, projection = state.kernels
        if stacked is None or projection is None:
            return self._graph_conv(x, plan)
        weight, bias = projection
        return self.act(node_major_frames(x, stacked.to(x.dtype), weight.to(x.dtype), bias))

    def _flush(self) -> torch.Tensor:
        return self._no_output()

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, graph={self.graph.name!r}, "
            f"num_joints={self.num_joints}, num_scales={self.aggregate.num_scales}"
            + (f", dropout={self.dropout}" if self.dropout else "")
        )
