"""MS-G3D Net (Fig. 3a of Liu et al., CVPR 2020), assembled from skelgraph's layers.

    input (N, C, T, V, M) → data BN over M·V·C → STGC block ×3 (96, 192, 384 channels;
    blocks 2 and 3 stride 2) → global average pool over T, V → mean over persons → linear

Presets give the paper's configurations (and a small one that trains on a CPU); the
state_dict converts to and from the authors' checkpoints with ``convert_checkpoint.py``.

Online inference (:mod:`skelgraph.nn.streaming`): ``forward_steps`` takes the next frames
of a live stream and returns a prediction for every output frame of the last block that
became ready (or, with ``stream_every_frame``, one per input frame), pooling the ready
frames of the last ``stream_window`` input frames with a running sum; ``flush()`` ends the
stream and returns the logits that ``forward(clip)`` gives for the whole stream (when it
is at most ``stream_window`` frames long).

Two kinds of model stream. The symmetric one (the paper's) is an exact replica of the clip
model: its temporal windows are centred, so each output frame waits for its future frames
(``delay`` = 72 input frames for the presets). A causal model (``causal=True``: every
window ends on its output frame) has no delay, and its prediction after frame t is that of
``forward`` on the frames seen so far, ``model(x[:, :, : t + 1])``, for every t while the
stream is at most ``stream_window`` frames long; it is a different model, trained (or
fine-tuned from a symmetric checkpoint: the same parameters) as such.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from skelgraph import SkeletonGraph, STGCBlock, limits
from skelgraph._validation import check_bool, check_int, check_tensor
from skelgraph.graph.adjacency import Aggregation
from skelgraph.graph.skeleton import GraphLike
from skelgraph.nn.streaming import (
    RunningMean,
    StreamingModule,
    StreamState,
    chain_delay,
    flush_through,
    steps_through,
)

__all__ = ["PRESETS", "MSG3DNet"]

PRESETS: dict[str, dict[str, Any]] = {
    # The authors' configurations (config/*.yaml in their repository).
    "ntu60": {"num_classes": 60, "graph": "ntu-rgbd"},
    "ntu120": {"num_classes": 120, "graph": "ntu-rgbd"},
    "kinetics400": {
        "num_classes": 400,
        "graph": "openpose-18",
        "num_gcn_scales": 8,
        "num_g3d_scales": 8,
    },
    # Small enough to train on a 2-core CPU: N-UCLA, 20 joints (diameter 10), one person.
    "nw-ucla-small": {
        "num_classes": 10,
        "graph": "kinect-v1-20",
        "num_persons": 1,
        "num_gcn_scales": 8,
        "num_g3d_scales": 4,
        "windows": ((3, 1),),
        "channels": (24, 48, 96),
    },
}


class MSG3DNet(StreamingModule):
    """MS-G3D Net: the paper's full model, composed of :class:`skelgraph.STGCBlock`.

    Parameters
    ----------
    num_classes : int
        Number of actions: the size of the logits.
    graph : GraphLike
        Layout of the joints (``"ntu-rgbd"`` for NTU RGB+D).
    num_persons : int
        M, persons per sample (2 for NTU RGB+D and Kinetics-Skeleton).
    in_channels : int
        C of the input (3: xyz, or x, y, score).
    num_gcn_scales, num_g3d_scales : int
        K of the factorised MS-GCNs and of the G3D windows.
    windows : sequence of (window_size, window_dilation)
        The G3D pathways of every block.
    channels : sequence of int
        Width of each STGC block; blocks after the first have stride 2.
    aggregation : {"disentangled", "powering"}
        Multi-scale scheme of every graph convolution (``"powering"`` for ablations).
    stream_window : int
        W, input frames over which the step-wise predictions pool (default 300).
    checkpoint : bool
        Activation checkpointing of every block in training (see
        :class:`skelgraph.STGCBlock`): less memory for a second forward per step.
    causal : bool
        Causal blocks (:class:`skelgraph.STGCBlock`): every temporal window looks back
        only, ``delay`` is 0. Same parameters: a symmetric checkpoint loads as is.
    stream_every_frame : bool
        ``forward_steps`` gives one prediction per input frame (below) instead of one
        per output frame of the last block.

    Shapes
    ------
    Input (N, C, T, V, M), output logits (N, num_classes).

    Step-wise: ``forward_steps`` (N, C, T_new, V, M) to (N, num_classes, T_ready), one
    prediction per ready output frame of the last block (one per ``stride`` = 4 input
    frames), each from the mean over the last ⌈W / 4⌉ ready output frames; ``flush()`` to
    the (N, num_classes) logits of the whole stream. ``delay`` (in input frames) is 72 for
    the presets' blocks, 0 for causal ones.

    With ``stream_every_frame`` the prediction after input frame i is the latest one
    ready by then (output frame ⌊(i - delay) / stride⌋'s, held until the next), so
    T_ready is the chunk's T_new once the first prediction is out (frames before it
    have none). It costs no computation: the blocks run as without it, and a held
    prediction is repeated. For a causal model the held prediction after frame i is
    exactly ``forward`` on frames 0..i (every output frame of a causal layer depends only
    on input frames up to its position, and the last block's output frames of frames
    0..i are the ⌈(i + 1) / stride⌉ the stream has computed), as long as ⌈W / stride⌉
    covers them; beyond, it is the mean of the last ⌈W / stride⌉ of those frames.
    """

    def __init__(
        self,
        num_classes: int,
        graph: GraphLike,
        *,
        num_persons: int = 2,
        in_channels: int = 3,
        num_gcn_scales: int = 13,
        num_g3d_scales: int = 6,
        windows: Sequence[tuple[int, int]] = ((3, 1), (5, 1)),
        channels: Sequence[int] = (96, 192, 384),
        aggregation: Aggregation = "disentangled",
        stream_window: int = 300,
        checkpoint: bool = False,
        causal: bool = False,
        stream_every_frame: bool = False,
    ) -> None:
        super().__init__()
        check_int("num_classes", num_classes, 1)
        if num_classes > limits.MAX_CLASSES:
            raise ValueError(
                f"num_classes must be at most {limits.MAX_CLASSES} (skelgraph.limits."
                f"MAX_CLASSES), got {num_classes}"
            )
        self.num_persons = check_int("num_persons", num_persons, 1)
        self.in_channels = check_int("in_channels", in_channels, 1)
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or not channels:
            raise ValueError(f"channels must be a non-empty sequence of ints, got {channels!r}")
        channels = [check_int(f"channels[{i}]", c, 1) for i, c in enumerate(channels)]
        check_bool("checkpoint", checkpoint)
        self.causal = check_bool("causal", causal)
        self.graph = SkeletonGraph.coerce(graph)
        self.data_bn = nn.BatchNorm1d(num_persons * self.graph.num_nodes * in_channels)
        widths = [in_channels, *channels]
        self.blocks = nn.ModuleList(
            STGCBlock(
                c_in,
                c_out,
                self.graph,
                stride=1 if i == 0 else 2,
                num_gcn_scales=num_gcn_scales,
                num_g3d_scales=num_g3d_scales,
                windows=windows,
                embed_channels=c_out if i == 0 else c_in,  # the authors' choice
                aggregation=aggregation,
                checkpoint=checkpoint,
                causal=causal,
            )
            for i, (c_in, c_out) in enumerate(itertools.pairwise(widths))
        )
        self.fc = nn.Linear(widths[-1], num_classes)
        self.out_channels = num_classes
        self.stride = math.prod(block.stride for block in self.blocks)
        self.stream_window = stream_window
        self.stream_every_frame = check_bool("stream_every_frame", stream_every_frame)

    @dataclass(kw_only=True)
    class State(StreamState):
        """The model's own stream: the running mean of the last block's pooled frames and
        the latest prediction (what ``flush`` returns).

        Parameters
        ----------
        shape, frames
            As in :class:`~skelgraph.nn.streaming.StreamState`.
        pool : RunningMean
            Over the last ⌈W / stride⌉ output frames.
        logits : Tensor, optional
            (N, num_classes), ``None`` before the first prediction.
        predictions : int
            Predictions made so far (output frames of the last block).
        """

        pool: RunningMean
        logits: torch.Tensor | None = None
        predictions: int = 0

    def new_state(self) -> MSG3DNet.State:
        """A fresh stream: an empty running mean over ⌈W / stride⌉ output frames."""
        return self.State(pool=RunningMean(-(-self._stream_window // self.stride)))

    @property
    def stream_window(self) -> int:
        """W, the input frames the step-wise predictions pool over; setting it cleans the
        stream's state."""
        return self._stream_window

    @stream_window.setter
    def stream_window(self, frames: int) -> None:
        check_int("stream_window", frames, 1)
        self._stream_window = frames
        self.clean_state()

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> MSG3DNet:
        """A model of a named configuration (:data:`PRESETS`), with keyword overrides.

        Parameters
        ----------
        name : str
            A key of :data:`PRESETS`: ``"ntu60"``, ``"ntu120"``, ``"kinetics400"`` or
            ``"nw-ucla-small"``.
        **overrides
            Constructor arguments that replace the preset's (``num_classes=5``, ...).

        Raises
        ------
        ValueError
            An unknown preset name.
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def _check_steps_input(self, x: torch.Tensor) -> None:
        check_tensor(x, self)
        v, m, c = self.graph.num_nodes, self.num_persons, self.in_channels
        if x.dim() != 5 or x.shape[1] != c or x.shape[3] != v or x.shape[4] != m:
            raise ValueError(
                f"MSG3DNet expects input (N, C={c}, T, V={v}, M={m}) for graph "
                f"{self.graph.name!r}, got {list(x.shape)}"
            )

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        """Input (N, C, T, V, M) through the data batch norm, as (N·M, C, T, V)."""
        n, c, t, v, m = x.shape
        # Data BN normalises each (person, joint, channel) over the batch and time.
        x = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t))
        return x.view(n * m, v, c, t).permute(0, 2, 3, 1)  # (N·M, C, T, V)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V, M) clips to (N, num_classes) logits.

        Parameters
        ----------
        x : Tensor
            Clips of shape (N, C, T, V, M): C coordinates, T frames, V joints, M persons.
        """
        self._check_steps_input(x)
        n = x.shape[0]
        x = self._embed(x)
        for block in self.blocks:
            x = block(x)
        x = x.reshape(n, self.num_persons, x.shape[1], -1).mean(3).mean(1)  # pool T, V; persons
        return self.fc(x)

    @property
    def delay(self) -> int:
        return chain_delay(self.blocks)

    def _no_output(self) -> torch.Tensor:
        n, *_, dtype, device = self.stream_state.shape
        return torch.zeros(n, self.out_channels, 0, dtype=dtype, device=device)

    def _empty(self, x: torch.Tensor) -> torch.Tensor:
        """No predictions for a chunk of no frames: (N, num_classes, 0)."""
        return x.new_zeros(x.shape[0], self.out_channels, 0)

    def _predict(self, y: torch.Tensor) -> torch.Tensor:
        """Ready output frames (N·M, C, T_ready, V) of the last block to predictions."""
        nm, c, t, v = y.shape
        m = self.num_persons
        if t == 0:
            return self._no_output()
        frames = y.view(nm // m, m, c, t, v).sum((1, 4))  # (N, C, T_ready): sum of M·V
        state = self.stream_state
        pooled = state.pool.push(frames) / (m * v)
        logits = self.fc(pooled.transpose(1, 2)).transpose(1, 2)  # (N, classes, T_ready)
        state.logits = logits[:, :, -1]
        state.predictions += t
        return logits

    def _every_frame(self, held: torch.Tensor | None, logits: torch.Tensor, new: int):
        """One prediction per input frame of a chunk of ``new`` frames: for frame i the
        latest ready by then, output frame ⌊(i - delay) / stride⌋'s; ``held`` is the one
        before the chunk's ``logits``."""
        state, delay = self.stream_state, self.delay
        first = max(state.frames - new, delay)  # the chunk's first frame with a prediction
        frames = torch.arange(min(first, state.frames), state.frames, device=logits.device)
        if held is not None:
            logits = torch.cat([held[:, :, None], logits], dim=2)
        # index in `logits` of output frame (i - delay) // stride; `held` is frame before
        before = state.predictions - logits.shape[2]
        return logits[:, :, (frames - delay) // self.stride - before]

    def _steps(self, x: torch.Tensor) -> torch.Tensor:
        held = self.stream_state.logits
        logits = self._predict(steps_through(self.blocks, self._embed(x)))
        if not self.stream_every_frame:
            return logits
        return self._every_frame(held, logits, x.shape[2])

    def _flush(self) -> torch.Tensor:
        self._predict(flush_through(self.blocks))
        return self.stream_state.logits
