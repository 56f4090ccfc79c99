"""The STGC block of MS-G3D (Fig. 3b): a G3D pathway and a factorised pathway, summed."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from skelgraph._validation import check_bool, check_input, check_int
from skelgraph.graph.adjacency import Aggregation
from skelgraph.graph.skeleton import GraphLike, SkeletonGraph
from skelgraph.nn.checkpoint import checkpointed
from skelgraph.nn.g3d import MultiWindowG3D
from skelgraph.nn.graph_conv import DisentangledGraphConv
from skelgraph.nn.streaming import (
    PathwaysState,
    StreamingModule,
    chain_delay,
    flush_through,
    steps_through,
)
from skelgraph.nn.temporal import MSTemporalConv

__all__ = ["STGCBlock"]


class STGCBlock(StreamingModule):
    r"""Spatial-temporal graph convolutional block of MS-G3D (Fig. 3b of Liu et al., 2020).

    .. math::

        Y = \operatorname{TCN}\Big(\operatorname{ReLU}\big(
        \textstyle\sum_{(\tau, d)} \operatorname{G3D}_{\tau, d}(X)
        + \operatorname{TCN}'(\operatorname{TCN}(\operatorname{GCN}(X)))\big)\Big)

    - G3D pathways: :class:`~skelgraph.MultiWindowG3D`, one :class:`~skelgraph.G3DConv` per
      window (τ, d), K = ``num_g3d_scales``;
    - factorised pathway: :class:`~skelgraph.DisentangledGraphConv` (K =
      ``num_gcn_scales``) → :class:`~skelgraph.MSTemporalConv` (with the stride) →
      :class:`~skelgraph.MSTemporalConv` without its final activation;
    - after the sum and ReLU, one more :class:`~skelgraph.MSTemporalConv`.

    This block lives in the library, not in the example model, because it is the unit
    people reuse: it is MS-G3D's answer to "one spatial-temporal layer", and any layout
    or width works. Its submodules have the structure of the authors' code, so their
    weights map onto it one to one (``examples/msg3d/convert_checkpoint.py``).

    Parameters
    ----------
    in_channels : int
        C, channels of the input.
    out_channels : int
        C', channels of the output.
    graph : GraphLike
        The skeleton (a :class:`~skelgraph.SkeletonGraph`, a layout name, ...).
    stride : int
        Temporal stride of the block (the paper's blocks 2 and 3 use 2).
    num_gcn_scales : int
        K of the factorised pathway's MS-GCN (13 on NTU RGB+D: hops 0..12).
    num_g3d_scales : int
        K of every G3D window graph (6 on NTU RGB+D).
    windows : sequence of (window_size, window_dilation)
        G3D pathways, summed; the paper uses (3, 1) and (5, 1).
    embed_channels : int, optional
        Width of the graph convolutions (MS-GCN output and G3D window features) before
        the channel change; default ``in_channels``. The authors' first block, whose input
        is 3-D coordinates, uses ``out_channels``.
    aggregation : {"disentangled", "powering"}
        Multi-scale scheme of every graph convolution in the block (Table 1's -D and -E).
    checkpoint : bool
        Activation checkpointing in training (:func:`skelgraph.nn.checkpoint.checkpointed`):
        the block keeps only its input for the backward and recomputes the rest, trading
        a second forward for memory; batch norm statistics are still updated once per
        step. An attribute, so it can be switched on an existing block.
    causal : bool
        Every temporal window (G3D windows, MS-TCN branches) ends on its output frame
        instead of being centred on it: output frame t depends on input frames up to
        stride·t only, and the stream has no delay. Same parameters as the symmetric
        block.

    Shapes
    ------
    Input (N, C, T, V), output (N, C', ceil(T / stride), V).

    Examples
    --------
    >>> import torch
    >>> block = STGCBlock(3, 48, "kinect-v1-20", stride=2, num_gcn_scales=8, num_g3d_scales=4,
    ...                   windows=((3, 1),), embed_channels=48)
    >>> block(torch.randn(2, 3, 16, 20)).shape
    torch.Size([2, 48, 8, 20])

    Step-wise (:mod:`skelgraph.nn.streaming`): the G3D pathway, being faster, is aligned
    with the factorised one; ``delay`` = max(4 + 4·s, G3D's) + 4·s with the default
    MS-TCNs: 12 for stride 1, 20 for stride 2; 0 when causal.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        graph: GraphLike,
        *,
        stride: int = 1,
        num_gcn_scales: int = 13,
        num_g3d_scales: int = 6,
        windows: Sequence[tuple[int, int]] = ((3, 1), (5, 1)),
        embed_channels: int | None = None,
        aggregation: Aggregation = "disentangled",
        checkpoint: bool = False,
        causal: bool = False,
    ) -> None:
        super().__init__()
        graph = SkeletonGraph.coerce(graph)
        self.causal = check_bool("causal", causal)
        self.checkpoint = bool(checkpoint)
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.out_channels = check_int("out_channels", out_channels, 1)
        self.stride = check_int("stride", stride, 1)
        embed = in_channels if embed_channels is None else embed_channels
        self.g3d = MultiWindowG3D(
            in_channels,
            out_channels,
            graph,
            windows,
            num_scales=num_g3d_scales,
            stride=stride,
            embed_channels=embed,
            aggregation=aggregation,
            causal=causal,
        )
        self.factorized = nn.Sequential(
            DisentangledGraphConv(
                in_channels,
                embed,
                graph,
                num_gcn_scales,
                aggregation=aggregation,
            ),
            MSTemporalConv(embed, out_channels, stride=stride, causal=causal),
            MSTemporalConv(out_channels, out_channels, activation=None, causal=causal),
        )
        self.tcn = MSTemporalConv(out_channels, out_channels, causal=causal)

    State = PathwaysState

    def reset_parameters(self) -> None:
        """Re-initialise every layer of the block."""
        self.g3d.reset_parameters()
        for layer in self.factorized:
            layer.reset_parameters()
        self.tcn.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V) to (N, C', ceil(T / stride), V): ReLU of the two pathways' sum, then the
        MS-TCN.

        Parameters
        ----------
        x : Tensor
            (N, C, T, V).
        """
        check_input(x, self.in_channels, -1, self)
        if self.checkpoint and self.training and torch.is_grad_enabled():
            return checkpointed(self._forward, x, module=self)
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tcn(F.relu(self.factorized(x) + self.g3d(x)))

    @property
    def delay(self) -> int:
        pathways = max(chain_delay(self.factorized), self.g3d.delay)
        return pathways + self.stride * self.tcn.delay

    def _sum(self, factorized: torch.Tensor, g3d: torch.Tensor) -> torch.Tensor:
        aligned = self.stream_state.align.push([factorized, g3d])
        if aligned is None:  # nothing for the MS-TCN: its output would be no frames too
            return self._no_output()
        return self.tcn._inner_steps(F.relu(aligned[0] + aligned[1]))

    def _steps(self, x: torch.Tensor) -> torch.Tensor:
        return self._sum(steps_through(self.factorized, x), self.g3d._inner_steps(x))

    def _flush(self) -> torch.Tensor:
        out = self._sum(flush_through(self.factorized), self.g3d.flush())
        return torch.cat([out, self.tcn.flush()], dim=2)

    def extra_repr(self) -> str:
        checkpoint = ", checkpoint=True" if self.checkpoint else ""
        causal = ", causal=True" if self.causal else ""
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}{checkpoint}{causal}"
