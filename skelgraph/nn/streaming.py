r"""Step-wise (online) evaluation: the shared machinery of the layers' ``forward_steps``.

Every layer of MS-G3D is, along time, a window of bounded width: a G3D window of τ frames
with dilation d, a (k × 1) temporal convolution, a 3-frame max-pool, or a frame-wise map.
One new input frame therefore changes only a few output frames, and a layer fed frame by
frame can keep the inputs its next window still needs and emit each output frame as soon
as its window is complete. The convention is that of the ``continual-inference`` package
(Hedegaard et al.):

- ``forward_steps(x)``: the next frames (N, C, T_new, V) in, the output frames that have
  become computable out, (N, C', T_ready, V) with possibly T_ready = 0, continuing from the
  layer's state;
- ``flush()``: ends the stream as the offline ``forward`` ends the clip (its zero padding,
  −inf for a max-pool), returns the remaining output frames and cleans the state;
- ``clean_state()``: forgets the stream;
- ``delay``: how many input frames the first output frame lags, i.e. output frame t is
  ready once input frame ``stride·t + delay`` has arrived.

Exactness comes from the padding. The offline forward pads each layer's input at both
ends; a :class:`TemporalWindow` starts as that front padding, holds the padded frames the
next window needs, and :meth:`TemporalWindow.finish` feeds the back padding. The layer
runs its offline computation on exactly the frames of the ready windows, without padding,
so for a clip fed from a clean state in any chunking the concatenated ``forward_steps``
outputs and ``flush()`` equal ``forward(clip)`` up to float rounding. With stride s only
the windows at the offline positions s·t are computed, whatever the chunking.

Pathways with different delays (the branches of an MS-TCN, a block's two pathways) are
aligned by an :class:`Aligner`, which queues the frames of the faster ones.

Streaming is inference: ``forward_steps`` runs without gradients and raises in training
mode (batch statistics over a stream are not defined; batch norm uses its running
statistics). A stream reads the weights once, at its first frame (batch norm folded into
the convolutions, an MS-TCN's 1×1 convolutions merged); weights changed mid-stream take
effect from the next ``clean_state()``.

Examples
--------
>>> import torch
>>> from skelgraph import MSTemporalConv
>>> tcn = MSTemporalConv(12, 12).eval()
>>> clip = torch.randn(1, 12, 10, 5)
>>> steps = [tcn.forward_steps(clip[:, :, t : t + 1]) for t in range(10)]
>>> stream = torch.cat([*steps, tcn.flush()], dim=2)
>>> torch.allclose(stream, tcn(clip), atol=1e-5), tcn.delay
(True, 4)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

import torch
from torch import nn

from skelgraph._validation import check_input

__all__ = [
    "Aligner",
    "RunningMean",
    "StreamState",
    "StreamingModule",
    "TemporalWindow",
    "chain_delay",
    "flush_through",
    "steps_through",
]


class StreamState:
    """Base of the state objects a :class:`StreamingModule` holds as attributes;
    :meth:`StreamingModule.clean_state` calls :meth:`reset` on each of them."""

    def reset(self) -> None:
        raise NotImplementedError

    @property
    def nbytes(self) -> int:
        """Bytes of the tensors this state holds now."""
        total = 0
        for value in vars(self).values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, torch.Tensor):
                    total += item.nelement() * item.element_size()
        return total


class TemporalWindow(StreamState):
    r"""The padded input frames that a temporal window op still needs, and its stride phase.

    The offline op pads its input with ``front`` frames before and ``back`` after (of
    ``value``) and computes output frame t from padded frames
    :math:`s t, \dots, s t + \text{span}`; it gives
    :math:`\lfloor (T + \text{front} + \text{back} - \text{span} - 1) / s \rfloor + 1`
    frames. The window holds the padded frames from the next output's first one on (at
    most span + chunk frames), skips the frames no output uses (stride > span + 1), and
    hands the op exactly the frames of the outputs that became ready.

    Parameters
    ----------
    span : int
        Frames between the first and last of a window, d·(k - 1).
    stride : int
        s.
    front, back : int, optional
        Padding; default ``span // 2`` and ``span - front``.
    value : float
        Padding value (0; ``-inf`` for a max-pool).
    """

    def __init__(
        self,
        span: int,
        stride: int = 1,
        front: int | None = None,
        back: int | None = None,
        value: float = 0.0,
    ) -> None:
        self.span, self.stride = span, stride
        self.front = span // 2 if front is None else front
        self.back = span - self.front if back is None else back
        self.value = value
        self.reset()

    @property
    def delay(self) -> int:
        """Input frames between output frame t's position s·t and its last input frame."""
        return self.span - self.front

    def reset(self) -> None:
        # Padded frames [start, start + held) lie in buffer[begin : begin + held], the
        # buffer time-major (frames, N, C, ...): new frames are written after them, so a
        # window is a view, not a concatenation, and one frame of it is contiguous.
        self._buffer: torch.Tensor | None = None
        self._begin = 0
        self._held = 0
        self._start = 0  # padded index of the next output's first frame
        self._seen = 0  # padded frames received (front padding included)

    def _reserve(self, frames: int) -> None:
        """Room for ``frames`` more after the held ones: move those to the front, into a
        buffer with room for span + 1 frames more (so frame by frame, one move of at most
        span frames per span + 1 steps), resized if a chunk needs more or needed less."""
        assert self._buffer is not None
        buffer, begin, held = self._buffer, self._begin, self._held
        if begin + held + frames <= buffer.shape[0]:
            return
        size = held + frames + self.span + 1
        if not size <= buffer.shape[0] <= 2 * size:
            self._buffer = buffer.new_empty((size, *buffer.shape[1:]))
        self._buffer[:held] = buffer[begin : begin + held].clone()
        self._begin = 0

    def push(self, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor | None:
        """Add frames (N, C, T, ...), or parts of them to be concatenated along channels;
        the frames of the newly ready windows (their op, with the stride and no padding,
        gives exactly the new output frames), or ``None`` when no window is complete. The
        frames are a view, valid until the next ``push``."""
        parts = [x] if isinstance(x, torch.Tensor) else list(x)
        frames = parts[0].shape[2]
        if self._buffer is None:
            if frames == 0:
                return None
            channels = sum(part.shape[1] for part in parts)
            shape = (0, parts[0].shape[0], channels, *parts[0].shape[3:])
            self._buffer = parts[0].new_empty(shape)
            self._reserve(self.front + frames)
            self._buffer[: self.front] = self.value
            self._held = self._seen = self.front
        skip = max(0, self._start - self._seen)  # frames between two strided windows
        kept = max(0, frames - skip)
        self._reserve(kept)
        end, channel = self._begin + self._held, 0
        for part in parts:
            width = part.shape[1]
            self._buffer[end : end + kept, :, channel : channel + width] = part[
                :, :, skip:
            ].movedim(2, 0)
            channel += width
        self._held += kept
        self._seen += frames
        last = (self._seen - 1 - self.span) // self.stride  # last ready output
        ready = last - self._start // self.stride + 1
        if self._seen - 1 - self.span < 0 or ready <= 0:
            return None
        used = self.stride * (ready - 1) + self.span + 1
        window = self._buffer[self._begin : self._begin + used].movedim(0, 2)
        dropped = min(self.stride * ready, self._held)
        self._begin += dropped
        self._held -= dropped
        self._start += self.stride * ready
        return window

    def finish(self) -> torch.Tensor | None:
        """Feed the back padding: the frames of the last windows (or ``None``)."""
        if self._buffer is None:
            return None
        n, channels, *rest = self._buffer.shape[1:]
        return self.push(self._buffer.new_full((n, channels, self.back, *rest), self.value))

    def apply(
        self,
        x: torch.Tensor | Sequence[torch.Tensor] | None,
        op: Callable[[torch.Tensor], torch.Tensor],
    ):
        """``op`` on the frames of the windows that ``x`` (as for :meth:`push`) completes
        (``x=None``: on those of :meth:`finish`); ``None`` if none. ``op`` must return a
        new tensor, not a view of its input."""
        window = self.finish() if x is None else self.push(x)
        return None if window is None else op(window)


class Aligner(StreamState):
    """Align pathways that emit the same output frames at different delays: queue each
    pathway's frames (dim 2) and release the frames all of them have computed."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._queues: list[torch.Tensor | None] = []

    def push(self, parts: Sequence[torch.Tensor | None]) -> list[torch.Tensor] | None:
        """The next frames of every pathway (``None``: none) in; their common frames out,
        or ``None`` when some pathway has none yet."""
        if not self._queues:
            self._queues = [None] * len(parts)
        queues = []
        for queue, part in zip(self._queues, parts):
            if part is not None and part.shape[2]:
                queue = part if queue is None else torch.cat([queue, part], dim=2)
            queues.append(queue)
        self._queues = queues
        if any(q is None for q in queues):
            return None
        ready = min(q.shape[2] for q in queues)  # type: ignore[union-attr]
        if ready == 0:
            return None
        out = [q[:, :, :ready] for q in queues]  # type: ignore[index]
        self._queues = [q[:, :, ready:] for q in queues]  # type: ignore[index]
        return out


class RunningMean(StreamState):
    """Mean over the last ``window`` frames of a stream of (N, C) vectors, one running sum:
    O(1) per frame. The sum is recomputed from the kept frames once per ``window`` frames,
    which bounds the rounding drift of adding and subtracting.

    The running sum holds the finite values only; NaN, +inf and -inf are counted apart,
    per entry, and give the mean its value while the window holds them (NaN, or ±inf, or
    NaN for both infinities, as a plain mean would). So a bad frame affects exactly the
    means of the windows that hold it: a NaN never enters the sum, to be subtracted
    (NaN - NaN is NaN) for ever after.

    Parameters
    ----------
    window : int
        Frames averaged; until that many have come, the mean of those so far.
    """

    def __init__(self, window: int) -> None:
        self.window = window
        self.reset()

    def reset(self) -> None:
        self._ring: torch.Tensor | None = None  # (window, N, C), the frames as they came
        self._sum: torch.Tensor | None = None  # (N, C), of the finite values
        self._bad: torch.Tensor | None = None  # (3, N, C), counts of NaN, +inf, -inf
        self._count = 0

    @staticmethod
    def _split(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``frames`` as their finite part (the rest 0) and (3, ...) indicators of NaN,
        +inf and -inf."""
        kinds = torch.stack([frames.isnan(), frames == torch.inf, frames == -torch.inf])
        return frames.masked_fill(kinds.any(0), 0), kinds.to(torch.int32)

    def push(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames (N, C, T) in; (N, C, T), the mean of the window ending at each frame."""
        if self._ring is None:
            self._ring = frames.new_zeros(self.window, *frames.shape[:2])
            self._sum = frames.new_zeros(frames.shape[:2])
            self._bad = torch.zeros(3, *frames.shape[:2], dtype=torch.int32, device=frames.device)
        assert self._sum is not None and self._bad is not None
        means = []
        for t in range(frames.shape[2]):
            slot = self._count % self.window
            if self._count >= self.window:
                finite, bad = self._split(self._ring[slot])
                self._sum -= finite
                self._bad -= bad
            self._ring[slot] = frames[:, :, t]
            self._count += 1
            finite, bad = self._split(frames[:, :, t])
            self._bad += bad
            if slot == self.window - 1:  # a full turn: the exact sum of the window
                self._sum = self._split(self._ring)[0].sum(0)
            else:
                self._sum += finite
            means.append(self._mean())
        return torch.stack(means, dim=2) if means else frames.new_zeros(frames.shape)

    def _mean(self) -> torch.Tensor:
        assert self._sum is not None and self._bad is not None
        nan, pos, neg = self._bad > 0
        mean = self._sum / min(self._count, self.window)
        mean = mean.masked_fill(pos, torch.inf).masked_fill(neg, -torch.inf)
        return mean.masked_fill(nan | (pos & neg), torch.nan)


class StreamingModule(nn.Module):
    """A module with step-wise evaluation (``forward_steps``, ``flush``, ``clean_state``,
    ``delay``; see :mod:`skelgraph.nn.streaming`).

    Subclasses implement ``_steps(x)`` (frames of a non-empty chunk to ready outputs),
    ``_flush()`` (the remaining outputs), ``delay`` and ``out_channels``; they keep their
    state in :class:`StreamState` attributes (reset by :meth:`clean_state`) and in child
    streaming modules. ``stride`` is the temporal stride of the output frames.
    """

    stride: int = 1
    out_channels: int

    def _check_steps_input(self, x: torch.Tensor) -> None:
        """Raise unless ``x`` is one chunk of this layer's input (T may be 0)."""
        channels = getattr(self, "in_channels", -1)
        check_input(x, channels, getattr(self, "num_joints", -1), self, 0)

    def _empty(self, x: torch.Tensor) -> torch.Tensor:
        """No output frames, shaped like this layer's output for input ``x``."""
        return x.new_zeros(x.shape[0], self.out_channels, 0, *x.shape[3:])

    def _no_output(self) -> torch.Tensor:
        """No output frames, shaped like this stream's outputs."""
        n, *rest, dtype, device = self.__dict__["_stream_started"]
        return torch.zeros(n, self.out_channels, 0, *rest, dtype=dtype, device=device)

    def _ready(self, y: torch.Tensor | None) -> torch.Tensor:
        """``y``, or no output frames for ``None``."""
        return self._no_output() if y is None else y

    def _stream_constant(self, name: str, make: Callable[[], object]):
        """``make()``, computed at the stream's first use and kept until ``clean_state``
        (e.g. weights with batch norm folded in: a stream reads the weights once)."""
        key = f"_stream_constant_{name}"  # clean_state drops _stream_* keys
        if key not in self.__dict__:
            self.__dict__[key] = make()
        return self.__dict__[key]

    def _stream_shape(self, x: torch.Tensor) -> tuple:
        return (x.shape[0], *x.shape[3:], x.dtype, x.device)

    def forward_steps(self, x: torch.Tensor) -> torch.Tensor:
        """The next frames of the stream in; the output frames that became ready out.

        Parameters
        ----------
        x : Tensor
            (N, C, T, V), the next T frames (T may be 0); every chunk of a stream has the
            same N, V, dtype and device.
        """
        if self.training:
            raise RuntimeError(
                f"{type(self).__name__}.forward_steps is inference only: call .eval() first "
                "(batch statistics over a stream are not defined)"
            )
        self._check_steps_input(x)
        shape = self._stream_shape(x)
        started = self.__dict__.get("_stream_started")
        if started is not None and started != shape:
            raise ValueError(
                f"{type(self).__name__}: this stream has (N, ..., dtype, device) = {started}, "
                f"got a chunk with {shape}; call clean_state() to start another stream"
            )
        self.__dict__["_stream_started"] = shape
        if x.shape[2] == 0:  # no new frame: no new output anywhere downstream
            return self._empty(x)
        self.__dict__["_stream_frames"] = self.__dict__.get("_stream_frames", 0) + x.shape[2]
        with torch.no_grad():
            return self._steps(x)

    def flush(self) -> torch.Tensor:
        """End the stream as the offline forward ends the clip; the remaining outputs.
        The state is cleaned afterwards, ready for another stream."""
        if self.training:
            raise RuntimeError(f"{type(self).__name__}.flush is inference only: call .eval()")
        if not self.__dict__.get("_stream_frames"):
            raise RuntimeError(
                f"{type(self).__name__}.flush(): no frame since the last clean_state(); "
                "feed at least one frame with forward_steps first"
            )
        with torch.no_grad():
            out = self._flush()
        self.clean_state()
        return out

    def _stream_states(self) -> Iterator[tuple[StreamingModule, list[StreamState]]]:
        """Every streaming module here and inside, with its state objects."""
        for module in self.modules():
            if isinstance(module, StreamingModule):
                yield module, [v for v in vars(module).values() if isinstance(v, StreamState)]

    def clean_state(self) -> None:
        """Forget the stream, in this module and every streaming module inside it."""
        for module, states in self._stream_states():
            for key in [k for k in vars(module) if k.startswith("_stream_")]:
                del module.__dict__[key]  # the stream's shape, frame count, constants
            for state in states:
                state.reset()

    @property
    def delay(self) -> int:
        """Output frame t is ready once input frame ``stride·t + delay`` has arrived."""
        raise NotImplementedError

    def state_nbytes(self) -> int:
        """Bytes of the stream's state now held by this module and the modules inside it."""
        return sum(state.nbytes for _, states in self._stream_states() for state in states)

    def _steps(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _flush(self) -> torch.Tensor:
        raise NotImplementedError


def steps_through(layers: Iterable[StreamingModule], x: torch.Tensor) -> torch.Tensor:
    """``forward_steps`` of a chain of streaming layers.

    Parameters
    ----------
    layers : iterable of StreamingModule
        The chain, in the order the frames go through it.
    x : Tensor
        The next frames of the stream, the first layer's input (N, C, T, V).
    """
    for layer in layers:
        x = layer.forward_steps(x)
    return x


def flush_through(layers: Iterable[StreamingModule]) -> torch.Tensor:
    """``flush`` of a chain: each layer's remaining outputs go through the layers after it
    before those are flushed.

    Parameters
    ----------
    layers : iterable of StreamingModule
        The chain (not empty), in the order the frames go through it.
    """
    out: torch.Tensor | None = None
    for layer in layers:
        if out is None:
            out = layer.flush()
        else:
            out = torch.cat([layer.forward_steps(out), layer.flush()], dim=2)
    assert out is not None, "an empty chain"
    return out


def chain_delay(layers: Iterable[StreamingModule]) -> int:
    """Delay of a chain in its input frames: d₁ + s₁·(d₂ + s₂·(d₃ + …)).

    Parameters
    ----------
    layers : iterable of StreamingModule
        The chain, in the order the frames go through it.
    """
    delay = 0
    for layer in reversed(list(layers)):
        delay = layer.delay + layer.stride * delay
    return delay
