"""MS-TCN: the multi-scale temporal convolution of MS-G3D (Fig. 3c)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from skelgraph._validation import check_bool, check_input, check_int
from skelgraph.nn import backend
from skelgraph.nn.activation import ActivationLike, make_activation
from skelgraph.nn.batch_norm import groupable
from skelgraph.nn.functional import conv_frames, fold_batch_norm
from skelgraph.nn.ms_tcn_fast import (
    MSTCNGeometry,
    MSTCNNorms,
    MSTCNWeights,
    merge_one_by_one,
    multiscale_temporal_conv,
)
from skelgraph.nn.streaming import (
    StreamingModule,
    TemporalWindow,
    WindowState,
    temporal_padding,
)

__all__ = ["CausalMaxPool", "MSTemporalConv", "MSTemporalConvPlan", "TemporalConv"]


class TemporalConv(StreamingModule):
    r"""A temporal convolution over frames followed by batch norm.

    .. math::

        Y_t = \operatorname{BN}\Big(\sum_{j=0}^{k-1} W_j\, X_{s t + d j - p}\Big)

    with a (kernel_size × 1) kernel, dilation d, stride s over T, and zero padding
    (:math:`X_u = 0` outside the clip) that keeps ``ceil(T / stride)`` frames; each joint
    is convolved on its own. Symmetric (default): :math:`p = d (k - 1) / 2`, the window
    centred on frame s·t. Causal: :math:`p = d (k - 1)`, the window ends on frame s·t, so
    output frame t sees only input frames up to s·t (the same output positions: a
    symmetric checkpoint loads as is).

    Parameters
    ----------
    in_channels : int
        C, channels of the input.
    out_channels : int
        C', channels of the output.
    kernel_size : int
        k, frames of the kernel; odd unless causal, so that the window is centred on each
        frame.
    stride : int
        Temporal stride: T frames become ceil(T / stride).
    dilation : int
        d, the gap between the kernel's frames.
    causal : bool
        Look back only: all the padding at the front.

    Shapes
    ------
    Input (N, C, T, V), output (N, C', ceil(T / stride), V).

    Examples
    --------
    >>> import torch
    >>> TemporalConv(8, 16, kernel_size=5, stride=2, dilation=2)(torch.randn(2, 8, 30, 25)).shape
    torch.Size([2, 16, 15, 25])

    Step-wise (:mod:`skelgraph.nn.streaming`): a window of the last d·(k - 1) + 1 padded
    input frames; ``delay`` = d·(k - 1) - p, e.g. 1 for k = 3, d = 1, and 0 when causal.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        *,
        causal: bool = False,
    ) -> None:
        super().__init__()
        kernel_size = check_int("kernel_size", kernel_size, 1)
        self.causal = check_bool("causal", causal)
        if kernel_size % 2 == 0 and not causal:  # symmetric padding keeps T frames if odd
            raise ValueError(
                f"kernel_size must be odd (the window is centred on each frame), got {kernel_size}"
            )
        dilation = check_int("dilation", dilation, 1)
        span = dilation * (kernel_size - 1)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride = check_int("stride", stride, 1)
        # (front, back): frames of zeros before and after the clip, how far a window
        # reaches back from and ahead of its output frame's position s·t.
        self.padding = temporal_padding(span, self.causal)
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size=(kernel_size, 1),
            padding=(0 if causal else span // 2, 0),
            stride=(check_int("stride", stride, 1), 1),
            dilation=(dilation, 1),
        )
        self.bn = nn.BatchNorm2d(out_channels)

    def reset_parameters(self) -> None:
        """Re-initialise the convolution and batch norm."""
        self.conv.reset_parameters()
        self.bn.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V) to (N, C', ceil(T / stride), V).

        Parameters
        ----------
        x : Tensor
            (N, C, T, V).
        """
        check_input(x, self.in_channels, -1, self)
        if self.causal:
            x = F.pad(x, (0, 0, self.padding[0], 0))
        return self.bn(self.conv(x))

    State = WindowState

    def new_state(self) -> WindowState:
        """A fresh stream: an empty window of d·(k - 1) + 1 padded frames."""
        front, back = self.padding
        return WindowState(window=TemporalWindow(front + back, self.stride, front, back))

    @property
    def delay(self) -> int:
        return self.padding[1]

    def _conv_window(self, window: torch.Tensor) -> torch.Tensor:
        """The offline convolution on complete windows, without padding."""
        conv = self.conv
        return self.bn(F.conv2d(window, conv.weight, conv.bias, conv.stride, 0, conv.dilation))

    def _steps(self, x: torch.Tensor) -> torch.Tensor:
        return self._ready(self.stream_state.window.apply(x, self._conv_window))

    def _flush(self) -> torch.Tensor:
        return self._ready(self.stream_state.window.apply(None, self._conv_window))

    def extra_repr(self) -> str:
        return "causal=True" if self.causal else ""


class CausalMaxPool(nn.MaxPool2d):
    """A (k × 1) max-pool over frames whose window ends on its output frame s·t: the
    input padded with k - 1 frames of −inf at the front only (``nn.MaxPool2d``'s own
    padding is symmetric), so ``ceil(T / stride)`` frames at the symmetric pool's
    positions.

    Parameters
    ----------
    kernel_size : int
        k, frames of the window.
    stride : int
        Temporal stride.
    """

    def __init__(self, kernel_size: int, stride: int) -> None:
        super().__init__(kernel_size=(kernel_size, 1), stride=(stride, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V) to (N, C, ceil(T / stride), V).

        Parameters
        ----------
        x : Tensor
            (N, C, T, V).
        """
        return super().forward(F.pad(x, (0, 0, self.kernel_size[0] - 1, 0), value=-torch.inf))


class _Layer:
    """One named layer of an MS-TCN branch: the child at its key in the authors'
    ``nn.Sequential`` (``"0"``, ``"1"``, ...: their checkpoints load as is), checked to be
    of its kind when reached."""

    def __init__(self, key: str, kind: type[nn.Module]) -> None:
        self.key, self.kind = key, kind

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, branch: Any, owner: type | None = None) -> Any:
        if branch is None:
            return self
        branch.check()
        return branch.get_submodule(self.key)


class _Branch(nn.Sequential):
    """An MS-TCN branch: the authors' ``nn.Sequential``, its layers named by the class's
    :class:`_Layer` attributes, in order (``LAYERS``)."""

    LAYERS: ClassVar[tuple[_Layer, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.LAYERS = tuple(v for v in cls.__dict__.values() if isinstance(v, _Layer))

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__(*layers)
        self.check()

    def _layouts(self) -> tuple[list[tuple[str, type[nn.Module]]], list[tuple[str, nn.Module]]]:
        """The (key, kind) of the named layers, and the (key, module) children."""
        return [(layer.key, layer.kind) for layer in self.LAYERS], list(self.named_children())

    def holds_its_layers(self) -> bool:
        """Whether the branch holds exactly its named layers, at their keys."""
        expected, found = self._layouts()
        return len(found) == len(expected) and all(
            key == want_key and isinstance(module, kind)
            for (key, module), (want_key, kind) in zip(found, expected)
        )

    def check(self) -> None:
        """Raise unless the branch :meth:`holds_its_layers`: the stream and the authors'
        checkpoints rely on them (e.g. a dropout inserted into a branch would shift them)."""
        if not self.holds_its_layers():
            expected, found = self._layouts()
            layout = ", ".join(f"{key}: {kind.__name__}" for key, kind in expected)
            got = ", ".join(f"{key}: {type(module).__name__}" for key, module in found)
            raise TypeError(
                f"{type(self).__name__} must hold exactly ({layout}), the authors' layers "
                f"that its stream and their checkpoints rely on; got ({got})"
            )


class _DilatedBranch(_Branch):
    """1×1 conv → BN → ReLU → (k × 1) temporal conv with dilation d and the stride."""

    conv = _Layer("0", nn.Conv2d)
    bn = _Layer("1", nn.BatchNorm2d)
    relu = _Layer("2", nn.ReLU)
    temporal = _Layer("3", TemporalConv)


class _PoolBranch(_Branch):
    """1×1 conv → BN → ReLU → 3×1 max-pool with the stride → BN."""

    conv = _Layer("0", nn.Conv2d)
    bn = _Layer("1", nn.BatchNorm2d)
    relu = _Layer("2", nn.ReLU)
    pool = _Layer("3", nn.MaxPool2d)
    pool_bn = _Layer("4", nn.BatchNorm2d)


class _PointwiseBranch(_Branch):
    """1×1 conv with the stride → BN."""

    conv = _Layer("0", nn.Conv2d)
    bn = _Layer("1", nn.BatchNorm2d)


class MSTemporalConvPlan(NamedTuple):
    """The kernels an :class:`MSTemporalConv` runs now (:meth:`MSTemporalConv.plan`).

    Parameters
    ----------
    temporal_conv : {"merged", "reference"}
        :func:`~skelgraph.nn.ms_tcn_fast.multiscale_temporal_conv` (the branches' 1×1
        convolutions as one product, their batch norms grouped) or the branches one by
        one, as the authors' module.
    whole_tensor : bool
        Merged, with the max-pool as ``max_pool2d`` whatever the gradients (what
        ``torch.compile`` and ``torch.export`` record) rather than
        :func:`~skelgraph.nn.ms_tcn_fast.frame_max_pool`'s in-place running maximum.
    folded : bool
        Merged, with every batch norm folded into the convolution before it (inference:
        no gradients, batch norm in eval mode with running statistics).
    fast_batch_norm : bool
        Merged, with the batch norms in training mode in fewer passes than PyTorch's CPU
        kernel where their input allows it (:func:`~skelgraph.nn.batch_norm.batch_norm`,
        ``fast=True``).
    recompute_activation : bool
        Merged, with each dilated branch's batch norm, ReLU and convolution as
        :func:`~skelgraph.nn.norm_relu_conv.norm_relu_conv`, which saves only the norm's
        input and rebuilds the ReLU's output in the backward.
    """

    temporal_conv: Literal["merged", "reference"]
    whole_tensor: bool
    folded: bool
    fast_batch_norm: bool
    recompute_activation: bool = False


class MSTemporalConv(StreamingModule):
    r"""Multi-scale temporal convolution (MS-TCN, Fig. 3c of Liu et al., 2020).

    ``len(dilations) + 2`` parallel branches, each with ``out_channels / branches``
    channels, concatenated, plus a residual, then the activation:

    .. math::

        Y = \sigma\Big(\big[\,B_{d_1}(X) \,\|\, \cdots \,\|\, B_{d_n}(X) \,\|\,
        B_{\max}(X) \,\|\, B_{1\times1}(X)\,\big] + \operatorname{res}(X)\Big)

    - :math:`B_d`: 1×1 conv → BN → ReLU → (kernel_size × 1) temporal conv with dilation d
      and the stride → BN;
    - :math:`B_{\max}`: 1×1 conv → BN → ReLU → 3×1 max-pool with the stride → BN;
    - :math:`B_{1\times1}`: 1×1 conv with the stride → BN;
    - res: identity when the shapes allow, otherwise a strided
      (residual_kernel_size × 1) :class:`TemporalConv`; zero when ``residual=False``.

    Every branch's output frame t sits at input frame s·t. ``causal=True`` makes every
    temporal window (the dilated convolutions, the max-pool, a residual convolution) end
    there instead of being centred on it (:class:`TemporalConv`,
    :class:`~skelgraph.nn.temporal.CausalMaxPool`):
    output frame t then depends on input frames up to s·t only. The parameters are the
    same, so a symmetric checkpoint loads into a causal model.

    The module's ``state_dict`` keys are those of the authors' ``MultiScale_TemporalConv``
    (``branches.0.0.weight``, ..., ``residual.conv.weight``), so their weights load as is.
    Which kernels run is the layer's :meth:`plan` (the rule of :mod:`skelgraph.nn.backend`):
    the branches one by one, or merged (:mod:`skelgraph.nn.ms_tcn_fast`).

    Parameters
    ----------
    in_channels, out_channels : int
        ``out_channels`` must be divisible by ``len(dilations) + 2``.
    kernel_size : int
        Temporal kernel of the dilated branches.
    stride : int
        Temporal stride: T frames become ceil(T / stride).
    dilations : sequence of int
        One branch per dilation.
    residual : bool
        Add the input (or, when the channels or stride change, a :class:`TemporalConv` of
        it) before the activation.
    residual_kernel_size : int
        Kernel of that residual convolution (1: a strided 1×1 projection).
    activation : str, nn.Module or None
        The final σ (``"relu"``; the model's factorised pathway uses ``None`` on its last
        MS-TCN).
    causal : bool
        Every branch looks back only (above).

    Shapes
    ------
    Input (N, C, T, V), output (N, C', ceil(T / stride), V).

    Step-wise (:mod:`skelgraph.nn.streaming`): the bottlenecks run frame-wise as one
    product, and one window of their outputs and the input, as wide as the widest branch,
    serves every branch (each is centred on its output frame, so they come out aligned;
    the max-pool's zero padding equals −inf padding there, its input being post-ReLU);
    ``delay`` is ⌈max(d)·(k - 1) / 2⌉, at least 1 (4 for the defaults), and 0 when
    causal.

    Examples
    --------
    >>> import torch
    >>> tcn = MSTemporalConv(96, 96, stride=2)
    >>> tcn(torch.randn(2, 96, 30, 25)).shape
    torch.Size([2, 96, 15, 25])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int = 3,
        stride: int = 1,
        dilations: Sequence[int] = (1, 2, 3, 4),
        residual: bool = True,
        residual_kernel_size: int = 1,
        activation: ActivationLike = "relu",
        causal: bool = False,
    ) -> None:
        super().__init__()
        self.causal = check_bool("causal", causal)
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.out_channels = check_int("out_channels", out_channels, 1)
        self.stride = check_int("stride", stride, 1)
        self.dilations = tuple(check_int("dilation", d, 1) for d in dilations)
        num_branches = len(self.dilations) + 2
        if out_channels % num_branches:
            raise ValueError(
                f"out_channels={out_channels} must be divisible by the {num_branches} branches "
                f"(len(dilations)={len(self.dilations)} dilated + max-pool + 1x1)"
            )
        width = out_channels // num_branches

        def bottleneck() -> list[nn.Module]:
            return [nn.Conv2d(in_channels, width, 1), nn.BatchNorm2d(width), nn.ReLU()]

        branches: list[_Branch] = [
            _DilatedBranch(
                *bottleneck(), TemporalConv(width, width, kernel_size, stride, d, causal=causal)
            )
            for d in self.dilations
        ]
        pool = (
            CausalMaxPool(3, stride)
            if causal
            else nn.MaxPool2d(kernel_size=(3, 1), stride=(stride, 1), padding=(1, 0))
        )
        branches.append(
            _PoolBranch(
                *bottleneck(),
                pool,
                nn.BatchNorm2d(width),
            )
        )
        branches.append(
            _PointwiseBranch(
                nn.Conv2d(in_channels, width, 1, stride=(stride, 1)), nn.BatchNorm2d(width)
            )
        )
        # Keys branches.0 ... as the authors' (dilated, max-pool, 1×1); reached by kind.
        self.branches = nn.ModuleList(branches)
        self.has_residual = bool(residual)
        if residual and (in_channels != out_channels or stride != 1):
            self.residual: nn.Module = TemporalConv(
                in_channels, out_channels, residual_kernel_size, stride, causal=causal
            )
        else:
            self.residual = nn.Identity()
        self.act = make_activation(activation)
        # Step-wise: one window around each output frame, reaching as far back and ahead
        # as the branch that reaches farthest, of the ReLU'd bottleneck outputs and the
        # input (see _steps). A branch reaches as far as its offline padding.
        reaches = self.branch_padding()
        self.padding = (max(f for f, _ in reaches), max(b for _, b in reaches))

    def branch_padding(self) -> list[tuple[int, int]]:
        """(front, back) padding of every temporal window, i.e. how far it reaches back
        from and ahead of its output frame's position s·t: the dilated branches', the
        max-pool's and, if the residual is a convolution, the residual's."""
        reaches = [branch.temporal.padding for branch in self._dilated]
        reaches.append(temporal_padding(2, self.causal))  # the 3-frame max-pool
        if isinstance(self.residual, TemporalConv):
            reaches.append(self.residual.padding)
        return reaches

    @dataclass(kw_only=True)
    class State(WindowState):
        """An MS-TCN stream: the window of bottleneck outputs and input frames, the
        weights read at its first frame, and the gather indices per number of ready
        output frames.

        Parameters
        ----------
        shape, frames, window
            As in :class:`~skelgraph.nn.streaming.WindowState`.
        weights : tuple, optional
            The folded weights (the private ``_StreamWeights``); ``None`` until the
            first frame.
        taps : dict of (int, int) to tuple
            The gather indices (``MSTemporalConv._tap_index``) by number of ready frames
            and of the window's channels.
        """

        weights: _StreamWeights | None = None
        taps: dict[tuple[int, int], tuple] = field(default_factory=dict)

    def new_state(self) -> MSTemporalConv.State:
        """A fresh stream: an empty window reaching as far as the farthest branch, its
        frames channels first (the entries the branches read are gathered as rows)."""
        front, back = self.padding
        window = TemporalWindow(front + back, self.stride, front, back, channels_first=True)
        return self.State(window=window)

    @property
    def _dilated(self) -> list[_DilatedBranch]:
        return [branch for branch in self.branches if isinstance(branch, _DilatedBranch)]

    def _branch(self, kind: type[_Branch]) -> Any:
        """The one branch of a kind (max-pool or 1×1)."""
        (branch,) = [branch for branch in self.branches if isinstance(branch, kind)]
        return branch

    def reset_parameters(self) -> None:
        """Re-initialise every convolution and batch norm."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V) to (N, C', ceil(T / stride), V): the branches concatenated, the
        residual added, then the activation.

        Parameters
        ----------
        x : Tensor
            (N, C, T, V).
        """
        check_input(x, self.in_channels, -1, self)
        plan = self.plan()
        if plan.temporal_conv == "merged":
            weights, norms = self._merged_inputs(plan.folded)
            return multiscale_temporal_conv(
                x,
                weights,
                self._geometry(),
                norms,
                self.act,
                whole_tensor=plan.whole_tensor,
                fast_batch_norm=plan.fast_batch_norm,
                recompute=plan.recompute_activation,
            )
        out = torch.cat([branch(x) for branch in self.branches], dim=1)
        if self.has_residual:
            out = out + self.residual(x)
        return self.act(out)

    def plan(self) -> MSTemporalConvPlan:
        """The kernels this layer runs now: the one place it chooses, by the rule of
        :mod:`skelgraph.nn.backend` (merging does the same multiply-adds), where the merged
        kernel computes the same: the authors' branch layout, and batch norms that run as
        one per group (:func:`~skelgraph.nn.batch_norm.groupable`)."""
        kinds = [type(branch) for branch in self.branches]
        layout = kinds == [_DilatedBranch] * len(self.dilations) + [_PoolBranch, _PointwiseBranch]
        layout = layout and all(branch.holds_its_layers() for branch in self.branches)
        norms = self._norms() if layout else None
        merged = backend.use_fast(0, 0, applicable=norms is not None and all(map(groupable, norms)))
        inference = norms is not None and all(
            not group[0].training and group[0].running_mean is not None for group in norms
        )
        fast = merged and backend.fast_batch_norm(*norms.bottlenecks, *norms.outputs)
        return MSTemporalConvPlan(
            temporal_conv="merged" if merged else "reference",
            whole_tensor=merged and backend.recording_tool() == "compile",
            folded=merged and inference and not torch.is_grad_enabled(),
            fast_batch_norm=fast,
            recompute_activation=fast
            and bool(self._dilated)
            and backend.recomputes_activation(self._dilated[0].relu, *norms.bottlenecks),
        )

    def _norms(self) -> MSTCNNorms:
        """The batch norms in the merged kernel's two groups."""
        dilated, pool = self._dilated, self._branch(_PoolBranch)
        outputs = [branch.temporal.bn for branch in dilated]
        outputs += [pool.pool_bn, self._branch(_PointwiseBranch).bn]
        if isinstance(self.residual, TemporalConv):
            outputs.append(self.residual.bn)
        return MSTCNNorms([branch.bn for branch in [*dilated, pool]], outputs)

    def _geometry(self) -> MSTCNGeometry:
        """Stride, dilations and (front, back) paddings of every branch."""
        reaches = self.branch_padding()  # the dilated branches', the max-pool's, a residual's
        pool = self._branch(_PoolBranch).pool
        kind = "conv" if isinstance(self.residual, TemporalConv) else "identity"
        return MSTCNGeometry(
            self.stride,
            self.dilations,
            tuple(reaches[: len(self.dilations)]),
            pool.kernel_size[0],
            reaches[len(self.dilations)],
            kind if self.has_residual else "none",
            reaches[-1] if kind == "conv" else (0, 0),
        )

    def _merged_inputs(self, folded: bool) -> tuple[MSTCNWeights, MSTCNNorms | None]:
        """The merged kernel's convolutions, with their batch norms folded in
        (:func:`~skelgraph.nn.functional.fold_batch_norm`) or beside them."""
        dilated, pool = self._dilated, self._branch(_PoolBranch)
        one_by_one: _PointwiseBranch = self._branch(_PointwiseBranch)
        residual = self.residual
        groups = (
            [(branch.conv, branch.bn) for branch in [*dilated, pool]],
            [(branch.temporal.conv, branch.temporal.bn) for branch in dilated],
            [(one_by_one.conv, one_by_one.bn)],
            [(residual.conv, residual.bn)] if isinstance(residual, TemporalConv) else [],
        )
        if folded:
            convs = [[fold_batch_norm(conv, bn) for conv, bn in group] for group in groups]
            pool_affine, norms = fold_batch_norm(None, pool.pool_bn), None
        else:
            convs = [[(conv.weight, conv.bias) for conv, _ in group] for group in groups]
            pool_affine, norms = None, self._norms()
        bottlenecks, temporal, (one,), residual_conv = convs
        weights = MSTCNWeights(
            bottlenecks, temporal, one, residual_conv[0] if residual_conv else None, pool_affine
        )
        return weights, norms

    @property
    def delay(self) -> int:
        return self.padding[1]

    @property
    def _projection_carries_one_by_one(self) -> bool:
        """Whether a stream runs the 1×1 branch inside a 1×1 residual projection (both
        read the centre frames)."""
        residual = self.residual
        return isinstance(residual, TemporalConv) and residual.conv.kernel_size[0] == 1

    def _stream_weights(self) -> _StreamWeights:
        state = self.stream_state
        if state.weights is None:  # read once per stream
            state.weights = _StreamWeights.of(self)
        return state.weights

    def _steps(self, x: torch.Tensor) -> torch.Tensor:
        # Every bottleneck is frame-wise: all of them run as one 1x1 conv on the new frames,
        # and the window keeps their ReLU'd outputs beside the input frames. Output frame
        # t sits at input frame s·t in every branch, so one window reaching as far as the
        # farthest branch serves all of them and the branches come out aligned.
        weights = self._stream_weights()
        hidden = conv_frames(x, *weights.bottleneck).relu_()
        return self._ready(self.stream_state.window.apply([hidden, x], self._from_window))

    def _flush(self) -> torch.Tensor:
        return self._ready(self.stream_state.window.apply(None, self._from_window))

    def _tap_index(self, ready: int, stacked: int, device: torch.device):
        """The row (frame·``stacked`` + channel) in the window's (frames·C, N·V) matrix
        of every entry that ``ready`` output frames read, in four groups (dilated taps,
        max-pool taps, centres of the input, residual taps; each ordered channel, tap,
        output frame), and the groups' sizes."""
        width = self.out_channels // len(self.branches)
        centres = torch.arange(ready) * self.stride + self.padding[0]  # s·t in the window

        def taps(channels: range, offsets: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
            c = torch.tensor(channels)[:, None, None]
            t = torch.tensor(offsets)[None, :, None] + centres[None, None, :]
            c, t = torch.broadcast_tensors(c, t)
            return c.flatten(), t.flatten()

        def reach(padding: tuple[int, int]) -> list[int]:
            return list(range(-padding[0], padding[1] + 1))

        dilated = [branch.temporal for branch in self._dilated]
        groups: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[], [], [], []]
        for i, conv in enumerate(dilated):
            k, d, front = conv.conv.kernel_size[0], conv.conv.dilation[0], conv.padding[0]
            groups[0].append(
                taps(range(i * width, (i + 1) * width), [j * d - front for j in range(k)])
            )
        pool = len(dilated) * width
        groups[1].append(taps(range(pool, pool + width), reach(temporal_padding(2, self.causal))))
        inputs = range(pool + width, pool + width + self.in_channels)
        groups[2].append(taps(inputs, [0]))
        if isinstance(self.residual, TemporalConv) and not self._projection_carries_one_by_one:
            groups[3].append(taps(inputs, reach(self.residual.padding)))
        rows = torch.cat([t * stacked + c for group in groups for c, t in group])
        sizes = [sum(c.numel() for c, _ in group) for group in groups]
        return rows.to(device), sizes

    def _from_window(self, window: torch.Tensor) -> torch.Tensor:
        """The output frames of complete windows (N, branches·w + C, L, V): every entry the
        branches read gathered at once, channel-major, then each branch's offline operation
        as a matrix product (the dilated branches batched) or a max."""
        weights, s, span = self._stream_weights(), self.stride, sum(self.padding)
        n, ready, v = window.shape[0], (window.shape[2] - span - 1) // s + 1, window.shape[3]
        taps, key = self.stream_state.taps, (ready, window.shape[1])
        if key not in taps:
            taps[key] = self._tap_index(*key, window.device)
        rows, sizes = taps[key]
        # (entries, N·V), rows of the window's (frames·C, N·V) matrix (a view: its frames
        # are channels first): products over channels and taps need no batch broadcast
        entries = window.permute(2, 1, 0, 3).reshape(-1, n * v).index_select(0, rows)
        dilated, pooled, centres, residual = entries.split(sizes)
        columns = ready * n * v  # (output frame, sample, joint)
        # Each branch written into its rows of the output: no concatenation.
        out = entries.new_empty(self.out_channels, columns)
        width = self.out_channels // len(self.branches)
        dilated_rows, pool_rows, one_rows = out.split([len(self.dilations) * width, width, width])
        centres = centres.view(-1, columns)
        # With a 1×1 residual projection carrying the 1×1 branch, it writes every row
        # first and the other branches add to theirs; else each branch writes its rows.
        merged = weights.one_by_one is None
        if merged:
            weight, bias = weights.residual  # type: ignore[misc]
            torch.addmm(bias, weight, centres, out=out)
        if weights.dilated is not None:
            weight, bias = weights.dilated  # (branches, w, w·k), (branches, w, 1)
            batch = (weight.shape[0], -1, columns)
            target = dilated_rows.view(batch)
            if merged:
                target.baddbmm_(weight, dilated.view(batch)).add_(bias)
            else:
                torch.baddbmm(bias, weight, dilated.view(batch), out=target)
        pooled = pooled.view(-1, 3, columns).amax(1)
        if merged:
            pool_rows.addcmul_(pooled, weights.pool_scale).add_(weights.pool_shift)
        else:
            torch.addcmul(weights.pool_shift, pooled, weights.pool_scale, out=pool_rows)
            weight, bias = weights.one_by_one  # type: ignore[misc]
            torch.addmm(bias, weight, centres, out=one_rows)
            if weights.residual is not None:
                weight, bias = weights.residual
                out += torch.addmm(bias, weight, residual.view(-1, columns))
            elif self.has_residual:
                out += centres
        out = self.act(out).view(-1, ready, n, v)
        return out.permute(2, 0, 1, 3).contiguous()  # (N, C', ready, V)

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, stride={self.stride}, "
            f"dilations={self.dilations}, residual={self.has_residual}"
            + (", causal=True" if self.causal else "")
        )


class _StreamWeights(NamedTuple):
    """An MS-TCN's weights for a stream, each batch norm folded into its convolution:
    ``(weight, bias)`` of the bottlenecks stacked (dilated branches, then the max-pool's),
    of the dilated convolutions as a batch of (w, w·k) matrices, of the 1x1 branch and of a
    residual convolution, and the max-pool branch's batch norm as a per-channel scale and
    shift. A 1×1 residual projection carries the 1×1 branch in its last rows
    (:func:`~skelgraph.nn.ms_tcn_fast.merge_one_by_one`), and ``one_by_one`` is then
    ``None``."""

    bottleneck: tuple[torch.Tensor, torch.Tensor]
    dilated: tuple[torch.Tensor, torch.Tensor] | None
    pool_scale: torch.Tensor
    pool_shift: torch.Tensor
    one_by_one: tuple[torch.Tensor, torch.Tensor] | None
    residual: tuple[torch.Tensor, torch.Tensor] | None

    @classmethod
    def of(cls, tcn: MSTemporalConv) -> _StreamWeights:
        dilated = tcn._dilated
        pool: _PoolBranch = tcn._branch(_PoolBranch)
        one_by_one: _PointwiseBranch = tcn._branch(_PointwiseBranch)
        kinds = [type(branch) for branch in tcn.branches]
        if kinds != [_DilatedBranch] * len(dilated) + [_PoolBranch, _PointwiseBranch]:
            raise TypeError(
                "MSTemporalConv streams branches in the authors' order (dilated ones, "
                f"max-pool, 1×1), got {[kind.__name__ for kind in kinds]}"
            )
        bottlenecks = [fold_batch_norm(branch.conv, branch.bn) for branch in [*dilated, pool]]
        scale, shift = fold_batch_norm(None, pool.pool_bn)
        temporal = [branch.temporal for branch in dilated]
        one = fold_batch_norm(one_by_one.conv, one_by_one.bn)
        residual = tcn.residual
        projection = (
            fold_batch_norm(residual.conv, residual.bn)
            if isinstance(residual, TemporalConv)
            else None
        )
        if tcn._projection_carries_one_by_one:
            projection, one = merge_one_by_one(projection, one), None  # type: ignore[arg-type]
        return cls(
            (torch.cat([w for w, _ in bottlenecks]), torch.cat([b for _, b in bottlenecks])),
            _stacked([fold_batch_norm(conv.conv, conv.bn) for conv in temporal]),
            scale.view(-1, 1),
            shift.view(-1, 1),
            None if one is None else _matrix(*one),
            None if projection is None else _matrix(*projection),
        )


def _matrix(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A (C', C, k, 1) convolution as a (C', C·k) matrix (columns channel, then tap) and a
    (C', 1) bias."""
    return weight.flatten(1), bias.view(-1, 1)


def _stacked(pairs: list[tuple[torch.Tensor, torch.Tensor]]):
    """Convolutions of equal shape as a batch of :func:`_matrix` pairs; ``None`` for
    none."""
    if not pairs:
        return None
    matrices = [_matrix(*pair) for pair in pairs]
    return torch.stack([w for w, _ in matrices]), torch.stack([b for _, b in matrices])
