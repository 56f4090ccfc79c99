"""MS-G3D: unified spatial-temporal graph convolution over sliding windows (Eq. 5-7)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
from torch import nn

from skelgraph._validation import check_bool, check_choice, check_input, check_int
from skelgraph.graph.adjacency import Aggregation, Normalization
from skelgraph.graph.skeleton import GraphLike, SkeletonGraph, WindowVariant
from skelgraph.nn import backend, functional
from skelgraph.nn.activation import ActivationLike, make_activation
from skelgraph.nn.aggregation import MaskPlacement, MultiScaleAggregation
from skelgraph.nn.batch_norm import norm
from skelgraph.nn.node_major import node_major_frames, stack_scales
from skelgraph.nn.norm_relu_conv import norm_relu_conv
from skelgraph.nn.products import rows_mm
from skelgraph.nn.project_first import (
    aggregate_windows,
    frame_projection,
    multiply_adds,
    project_frames,
    project_then_aggregate,
    window_blocks,
)
from skelgraph.nn.streaming import (
    PathwaysState,
    StreamingModule,
    TemporalWindow,
    WindowState,
    temporal_padding,
)

__all__ = ["G3DConv", "G3DPlan", "MultiWindowG3D"]


class G3DPlan(NamedTuple):
    """The kernels a :class:`G3DConv` runs now (:meth:`G3DConv.plan`).

    Parameters
    ----------
    window_conv : {"project-first", "reference"}
        The window convolution of ``forward``:
        :func:`~skelgraph.nn.project_first.project_then_aggregate` or
        :func:`~skelgraph.nn.functional.window_graph_conv` (unfold, aggregate, project).
    whole_tensor : bool
        Project-first as whole-batch tensor operations (autograd's backward), what
        ``torch.compile`` and ``torch.export`` record, rather than its per-sample custom
        autograd function (a backward that rebuilds the projected frames).
    fused_epilogue : bool
        Bias, batch norm and ReLU as one in-place step
        (:func:`~skelgraph.nn.functional.bias_norm_act`, ``fused=True``).
    stream : {"project-first", "node-major", "reference"}
        The window convolution of a stream started now: frames projected as they arrive
        and their windows aggregated (:func:`~skelgraph.nn.project_first.project_frames`,
        :func:`~skelgraph.nn.project_first.aggregate_windows`), or the complete windows
        unfolded and convolved by the node-major kernel (one product per step) or the
        reference.
    fast_batch_norm : bool
        Both batch norms in training mode in fewer passes than PyTorch's CPU kernel
        (:func:`~skelgraph.nn.batch_norm.batch_norm`, ``fast=True``).
    recompute_activation : bool
        The window tensor's batch norm, ReLU and collapse as
        :func:`~skelgraph.nn.norm_relu_conv.norm_relu_conv`, which saves only the norm's
        input and rebuilds the ReLU's output in the backward.
    """

    window_conv: Literal["project-first", "reference"]
    whole_tensor: bool
    fused_epilogue: bool
    stream: Literal["project-first", "node-major", "reference"]
    fast_batch_norm: bool
    recompute_activation: bool = False


class _StreamKernels(NamedTuple):
    """What a G3D stream reads from the weights at its first frame: its window
    convolution (:attr:`G3DPlan.stream`) and what it reads (the effective scales for the
    reference, stacked node-major for node-major, the frame projection and the window
    blocks for project-first), the fused epilogue's per-channel (scale, shift) (``None``:
    not fused), and the collapse with its batch norm folded, as a (C', C_e, τ) matrix."""

    kind: Literal["project-first", "node-major", "reference"]
    epilogue: tuple[torch.Tensor, torch.Tensor] | None
    adjacency: torch.Tensor | None
    stacked: torch.Tensor | None
    theta: torch.Tensor | None
    blocks: torch.Tensor | None
    collapse: tuple[torch.Tensor, torch.Tensor]


class G3DConv(StreamingModule):
    r"""One MS-G3D pathway: multi-scale graph convolution on spatial-temporal windows.

    For every output frame t, a window of τ frames with dilation d, input frames
    :math:`s t + d i - p` (i = 0..τ-1, zero outside the clip), forms a τV-node graph
    (Eq. 5, :meth:`SkeletonGraph.window`), over which (Eq. 7, with the residual mask):

    .. math::

        [X_{(\tau)}]_t' = \operatorname{ReLU}\Big(\operatorname{BN}\Big(\sum_{k=0}^{K-1}
        \big(\operatorname{norm}(\tilde A_{(\tau,k)}) + R_k\big)\, [X_{(\tau)}]_t\,
        \Theta_k\Big)\Big)

    then the τ frames of each window collapse into one by a learned weighted sum
    (a (1, τ, 1) 3-D convolution with bias, :math:`C_e \to C'`) and batch norm:

    .. math::

        Y_{t, v} = \operatorname{BN}\Big(\sum_{i=0}^{\tau-1} W_i\, [X_{(\tau)}]_t'{}_{(i, v)}
        + b\Big)

    The window is centred on frame s·t, :math:`p = \lfloor d (\tau - 1) / 2 \rfloor`, or,
    causal, ends on it, :math:`p = d (\tau - 1)`: output frame t then sees no input frame
    after s·t (same parameters: a symmetric checkpoint loads as is).
    The output has no activation (the STGC block applies it after summing pathways).
    This matches the authors' ``MS_G3D`` module weight for weight. Which kernels run is
    the layer's :meth:`plan` (the rule of :mod:`skelgraph.nn.backend`): the reference
    window convolution (unfold, aggregate, project) or the fast project-first kernel.

    Parameters
    ----------
    in_channels : int
        C, channels of the input.
    out_channels : int
        C', channels of the output (after the collapse).
    graph : GraphLike
        The spatial skeleton graph; the window graph is derived from it.
    window_size : int
        τ, frames per window (the paper uses 3 and 5).
    window_dilation : int
        d, the gap between frames of a window.
    num_scales : int
        K for the window graph (the paper uses 6).
    stride : int
        Temporal stride: T frames give ceil(T / stride).
    embed_channels : int, optional
        :math:`C_e`, channels of the window convolution before the collapse. Default
        ``in_channels``; the authors' first block (3 input channels) uses
        ``out_channels``.
    window_variant : {"cross-spacetime", "grid", "grid-dense-self"}
        The window graph of Table 3 (``"cross-spacetime"``, Eq. 5, is MS-G3D's).
    aggregation, normalization, residual_mask, mask_placement
        As in :class:`~skelgraph.DisentangledGraphConv`.
    activation : str, nn.Module or None
        σ after the window convolution, ReLU by default.
    causal : bool
        Windows over the current and past frames only (above).

    Shapes
    ------
    Input (N, C, T, V), output (N, C', ceil(T / stride), V).

    Step-wise (:mod:`skelgraph.nn.streaming`): a window of the last d·(τ - 1) + 1 padded
    frames, ``delay`` = d·(τ - 1) - p (1 for τ = 3, 2 for τ = 5; 0 when causal). Where the
    project-first kernel is chosen (:attr:`G3DPlan.stream`) the window holds projected
    frames, so that each frame is projected once, as offline.

    Examples
    --------
    >>> import torch
    >>> g3d = G3DConv(3, 96, "ntu-rgbd", window_size=3, embed_channels=96)
    >>> g3d(torch.randn(2, 3, 30, 25)).shape
    torch.Size([2, 96, 30, 25])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        graph: GraphLike,
        *,
        window_size: int = 3,
        window_dilation: int = 1,
        num_scales: int = 6,
        stride: int = 1,
        embed_channels: int | None = None,
        window_variant: WindowVariant = "cross-spacetime",
        aggregation: Aggregation = "disentangled",
        normalization: Normalization = "sym",
        residual_mask: bool = True,
        mask_placement: MaskPlacement = "after-norm",
        activation: ActivationLike = "relu",
        causal: bool = False,
    ) -> None:
        super().__init__()
        self.causal = check_bool("causal", causal)
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.out_channels = check_int("out_channels", out_channels, 1)
        self.window_size = check_int("window_size", window_size, 1)
        self.window_dilation = check_int("window_dilation", window_dilation, 1)
        self.stride = check_int("stride", stride, 1)
        embed = in_channels if embed_channels is None else embed_channels
        self.embed_channels = check_int("embed_channels", embed, 1)
        self.graph = SkeletonGraph.coerce(graph)
        self.num_joints = self.graph.num_nodes
        self.window_variant = check_choice("window_variant", window_variant, WindowVariant)
        self.aggregate = MultiScaleAggregation(
            self.graph.window(window_size, window_variant),
            num_scales,
            aggregation=aggregation,
            normalization=normalization,
            residual_mask=residual_mask,
            mask_placement=mask_placement,
        )
        self.proj = nn.Conv2d(num_scales * in_channels, self.embed_channels, kernel_size=1)
        self.bn = nn.BatchNorm2d(self.embed_channels)
        self.act = make_activation(activation)
        self.collapse = nn.Conv3d(
            self.embed_channels, out_channels, kernel_size=(1, window_size, 1)
        )
        self.out_bn = nn.BatchNorm2d(out_channels)
        # Multiply-adds of both orders, counted once, at the paper's T = 300: the choice
        # hardly depends on T, and a fixed length keeps it out of the symbolic shapes of
        # torch.compile and torch.export.
        sizes = (in_channels, self.embed_channels, num_scales, self.num_joints, 300)
        geometry = (self.window_size, self.window_dilation, self.stride)
        orders = ("aggregate-first", "project-first")
        self._costs = tuple(multiply_adds(order, *sizes, *geometry) for order in orders)

    @dataclass(kw_only=True)
    class State(WindowState):
        """A G3D stream: the padded frames its windows still need (projected ones under
        project-first) and the kernels read from the weights at its first frame.

        Parameters
        ----------
        shape, frames, window
            As in :class:`~skelgraph.nn.streaming.WindowState`.
        kernels : tuple, optional
            The window blocks and projection read from the weights (the private
            ``_StreamKernels``); ``None`` until the first frame.
        """

        kernels: _StreamKernels | None = None

    def new_state(self) -> G3DConv.State:
        """A fresh stream: an empty window of d·(τ - 1) + 1 padded frames."""
        front, back = self.padding
        return self.State(window=TemporalWindow(front + back, self.stride, front, back))

    @property
    def padding(self) -> tuple[int, int]:
        """Zero frames before and after the clip, as (front, back), i.e. how far a window
        reaches back from and ahead of its output frame's position s·t."""
        return temporal_padding(self.window_dilation * (self.window_size - 1), self.causal)

    def reset_parameters(self) -> None:
        """Re-initialise the mask, projection, collapse and batch norms."""
        self.aggregate.reset_parameters()
        for module in (self.proj, self.bn, self.collapse, self.out_bn):
            module.reset_parameters()

    def plan(self) -> G3DPlan:
        """The kernels this layer runs now: the one place it chooses, by the rule of
        :mod:`skelgraph.nn.backend` on its multiply-adds (counted when built), the global
        setting and the runtime (a recording tool, gradients, batch norm mode)."""
        project_first = backend.use_fast(*self._costs)
        node_major = backend.use_fast(0, 0)  # the reference's products, cheaper order
        if project_first:
            stream = "project-first"
        else:
            stream = "node-major" if node_major else "reference"
        return G3DPlan(
            window_conv="project-first" if project_first else "reference",
            whole_tensor=backend.recording_tool() == "compile",
            fused_epilogue=backend.fuses_epilogue(self.bn, self.act),
            stream=stream,
            fast_batch_norm=backend.fast_batch_norm(self.bn, self.out_bn),
            recompute_activation=backend.recomputes_activation(self.act, self.bn),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V) to (N, C', ceil(T / stride), V).

        Parameters
        ----------
        x : Tensor
            (N, C, T, V).
        """
        check_input(x, self.in_channels, self.num_joints, self)
        plan = self.plan()
        tau, d, s, causal = self.window_size, self.window_dilation, self.stride, self.causal
        adjacency, weight = self.aggregate.adjacency(), self.proj.weight.flatten(1)
        if plan.window_conv == "project-first":
            y = project_then_aggregate(
                x, adjacency, weight, tau, d, s, whole_tensor=plan.whole_tensor, causal=causal
            )
        else:
            y = functional.window_graph_conv(x, adjacency, weight, tau, d, s, causal=causal)
        fast = plan.fast_batch_norm
        windows = (y.shape[0], self.embed_channels, y.shape[2], tau, self.num_joints)
        if plan.recompute_activation:
            # A strided layer's windows are a slice of a longer buffer: one copy buys the
            # fewer-pass norm and a ReLU output that need not be kept.
            z = norm_relu_conv(
                y.contiguous(), self.bn, self.collapse, self.proj.bias, shape=windows,
                recompute=True,
            )  # fmt: skip
        else:
            y = functional.bias_norm_act(
                y, self.proj.bias, self.bn, self.act, fused=plan.fused_epilogue,
                fast_batch_norm=fast,
            )  # fmt: skip
            z = self.collapse(y.view(windows))  # (N, C_e, T', τ, V) to (N, C', T', 1, V)
        return norm(self.out_bn, z.squeeze(3), fast=fast)

    @property
    def delay(self) -> int:
        return self.padding[1]

    def _stream_kernels(self) -> _StreamKernels:
        """The stream's kernels and weights, read once, at its first frame."""
        plan, k = self.plan(), self.aggregate.num_scales
        adjacency, weight = self.aggregate.adjacency().detach(), self.proj.weight.flatten(1)
        kind = plan.stream
        projected = kind == "project-first"
        collapse, bias = functional.fold_batch_norm(self.collapse, self.out_bn)
        # (C', C_e, 1, τ, 1) as a (τ·C_e, C') matrix, rows (window frame i, channel c)
        collapse = collapse.view(-1, self.embed_channels, self.window_size).permute(2, 1, 0)
        collapse = collapse.reshape(self.window_size * self.embed_channels, -1)
        return _StreamKernels(
            kind,
            functional.epilogue_affine(self.proj.bias, self.bn) if plan.fused_epilogue else None,
            adjacency if kind == "reference" else None,
            stack_scales(adjacency) if kind == "node-major" else None,
            frame_projection(weight, k).detach() if projected else None,
            window_blocks(adjacency, self.window_size) if projected else None,
            (collapse, bias),
        )

    def _windows(self, window: torch.Tensor) -> torch.Tensor:
        """Output frames of the complete windows (no padding) of the stream's frames."""
        kernels = self.stream_state.kernels
        assert kernels is not None
        tau, d, s = self.window_size, self.window_dilation, self.stride
        if kernels.kind == "project-first":  # the window holds projected frames
            y = aggregate_windows(window, kernels.blocks, d, s)
        else:
            windows = functional.unfold_windows(window, tau, d, s, padding=False)
            weight = self.proj.weight.flatten(1)
            if kernels.stacked is not None:  # node-major
                y = node_major_frames(windows, kernels.stacked.to(window.dtype), weight)
            else:
                y = functional.multiscale_graph_conv(windows, kernels.adjacency, weight)
        # The epilogue, then the collapse and its batch norm folded into one matrix product
        # over each window's τ frames, a row per (sample, output frame, joint).
        if kernels.epilogue is not None:
            y = functional.affine_act_(y, *kernels.epilogue, self.act)
        else:
            y = functional.bias_norm_act(y, self.proj.bias, self.bn, self.act)
        matrix, bias = kernels.collapse
        n, frames, v = y.shape[0], y.shape[2], self.num_joints
        rows = y.unflatten(3, (tau, v)).permute(0, 2, 4, 3, 1).reshape(n * frames * v, -1)
        out = rows_mm(rows, matrix, bias)
        return out.view(n, frames, v, -1).permute(0, 3, 1, 2)

    def _steps(self, x: torch.Tensor) -> torch.Tensor:
        state = self.stream_state
        if state.kernels is None:  # one kernel for the whole stream
            state.kernels = self._stream_kernels()
        if state.kernels.kind == "project-first":
            # Every frame projected once as it arrives (zero padding commutes with the
            # projection: its bias comes after).
            x = project_frames(x, state.kernels.theta, self.aggregate.num_scales)
        return self._ready(state.window.apply(x, self._windows))

    def _flush(self) -> torch.Tensor:
        return self._ready(self.stream_state.window.apply(None, self._windows))

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, graph={self.graph.name!r}, "
            f"window_size={self.window_size}, window_dilation={self.window_dilation}, "
            f"stride={self.stride}, embed_channels={self.embed_channels}, "
            f"window_variant={self.window_variant!r}" + (", causal=True" if self.causal else "")
        )


class MultiWindowG3D(StreamingModule):
    r"""Several :class:`G3DConv` pathways on the same input, summed (the paper's
    multi-pathway design, e.g. windows (τ, d) = (3, 1) and (5, 1)).

    .. math::

        Y = \sum_{(\tau, d) \in \text{windows}} \operatorname{G3D}_{\tau, d}(X)

    Parameters
    ----------
    in_channels : int
        C, channels of the input.
    out_channels : int
        C', channels of every pathway's output (and of their sum).
    graph : GraphLike
        The spatial skeleton graph, shared by the pathways.
    windows : sequence of (window_size, window_dilation)
        One pathway per (τ, d); at least one.
    **kwargs
        Passed to every :class:`G3DConv` (``num_scales``, ``stride``, ``causal``, ...).

    Shapes
    ------
    Input (N, C, T, V), output (N, C', ceil(T / stride), V).

    Examples
    --------
    >>> import torch
    >>> g3d = MultiWindowG3D(16, 32, "ntu-rgbd", windows=((3, 1), (5, 1)), num_scales=4)
    >>> g3d(torch.randn(2, 16, 20, 25)).shape
    torch.Size([2, 32, 20, 25])

    Step-wise (:mod:`skelgraph.nn.streaming`): the pathways aligned, ``delay`` the
    largest of theirs (0 when causal).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        graph: GraphLike,
        windows: Sequence[tuple[int, int]] = ((3, 1), (5, 1)),
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if not windows:
            raise ValueError("windows must list at least one (window_size, window_dilation)")
        graph = SkeletonGraph.coerce(graph)
        self.pathways = nn.ModuleList(
            G3DConv(
                in_channels, out_channels, graph, window_size=size, window_dilation=dil, **kwargs
            )
            for size, dil in windows
        )
        first = self.pathways[0]
        self.in_channels, self.out_channels = first.in_channels, first.out_channels
        self.num_joints, self.stride = first.num_joints, first.stride

    State = PathwaysState

    def reset_parameters(self) -> None:
        """Re-initialise every pathway."""
        for pathway in self.pathways:
            pathway.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V) to (N, C', ceil(T / stride), V): the sum of the pathways.

        Parameters
        ----------
        x : Tensor
            (N, C, T, V).
        """
        out = self.pathways[0](x)
        for i, pathway in enumerate(self.pathways):
            if i > 0:
                out = out + pathway(x)
        return out

    @property
    def delay(self) -> int:
        return max(pathway.delay for pathway in self.pathways)

    def _sum(self, parts: list) -> torch.Tensor:
        aligned = self.stream_state.align.push(parts)
        if aligned is None:
            return self._no_output()
        out = aligned[0]
        for part in aligned[1:]:
            out = out + part
        return out

    def _steps(self, x: torch.Tensor) -> torch.Tensor:
        return self._sum([pathway._inner_steps(x) for pathway in self.pathways])

    def _flush(self) -> torch.Tensor:
        return self._sum([pathway.flush() for pathway in self.pathways])
