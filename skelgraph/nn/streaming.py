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

State is declared. Every streaming module holds one state object, a dataclass of the type
its class declares as ``State`` (deriving from :class:`StreamState`), built by its
``new_state()``; children are reached by name. :meth:`StreamingModule.get_state` copies
the states of a module and of the streaming modules inside it, by module name, and
:meth:`StreamingModule.set_state` resumes from such a copy; ``clean_state()`` gives every
one a fresh state. A subclass that declares no ``State`` or implements no step is refused
when it is defined.

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

import copy
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from skelgraph._validation import check_input
from skelgraph.padding import temporal_padding

__all__ = [
    "Aligner",
    "PathwaysState",
    "RunningMean",
    "StreamState",
    "StreamingModule",
    "TemporalWindow",
    "WindowState",
    "chain_delay",
    "flush_through",
    "steps_through",
    "temporal_padding",
]


def _nbytes(value: Any) -> int:
    """Bytes of the tensors in a state: in its dataclass fields, lists, tuples and dicts."""
    if isinstance(value, torch.Tensor):
        return value.nelement() * value.element_size()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(_nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, list | tuple):
        return sum(_nbytes(item) for item in value)
    if isinstance(value, dict):
        return sum(_nbytes(item) for item in value.values())
    return 0


@dataclass(eq=False)
class TemporalWindow:
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
        Padding; default centred (:func:`temporal_padding`), ``span // 2`` and
        ``span - front``.
    value : float
        Padding value (0; ``-inf`` for a max-pool).
    channels_first : bool
        Lay each held frame out as (C, N, ...) in memory (the windows are the same
        tensors): a window's frames are then one (frames·C, N·...) matrix, whose rows a
        gather picks with ``index_select`` (the MS-TCN stream's).
    """

    span: int
    stride: int = 1
    front: int | None = None
    back: int | None = None
    value: float = 0.0
    channels_first: bool = False
    # Padded frames [start, start + held) lie in buffer[begin : begin + held], the buffer
    # time-major (frames, N, C, ...): new frames are written after them, so a window is a
    # view, not a concatenation, and one frame of it is contiguous.
    _buffer: torch.Tensor | None = field(default=None, init=False, repr=False)
    _begin: int = field(default=0, init=False)
    _held: int = field(default=0, init=False)
    _start: int = field(default=0, init=False)  # padded index of the next output's first frame
    _seen: int = field(default=0, init=False)  # padded frames received (front padding included)

    def __post_init__(self) -> None:
        centred = temporal_padding(self.span, causal=False)
        self.front = centred[0] if self.front is None else self.front
        self.back = self.span - self.front if self.back is None else self.back

    @property
    def delay(self) -> int:
        """Input frames between output frame t's position s·t and its last input frame."""
        return self.span - self.front

    @property
    def nbytes(self) -> int:
        """Bytes of the frames held now."""
        return _nbytes(self)

    def _new_buffer(self, like: torch.Tensor, size: int, shape: Sequence[int]) -> torch.Tensor:
        """An empty (size, N, C, ...) buffer of ``like``'s dtype and device, in memory
        (size, C, N, ...) if channels first."""
        if not self.channels_first:
            return like.new_empty((size, *shape))
        n, channels, *rest = shape
        return like.new_empty((size, channels, n, *rest)).transpose(1, 2)

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
            self._buffer = self._new_buffer(buffer, size, buffer.shape[1:])
        kept = buffer[begin : begin + held]
        # Moved within the buffer the held frames lie after their new place (begin >= held
        # whenever the room ran out, as held <= span): a copy needs no temporary.
        self._buffer[:held] = kept if self._buffer is not buffer or begin >= held else kept.clone()
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
            shape = (parts[0].shape[0], channels, *parts[0].shape[3:])
            self._buffer = self._new_buffer(parts[0], 0, shape)
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


@dataclass(eq=False)
class Aligner:
    """Align pathways that emit the same output frames at different delays: queue each
    pathway's frames (dim 2) and release the frames all of them have computed.

    A queue is a list of the chunks received, so a frame is copied at most once, when
    the frames released span several chunks (never for a pathway that is not ahead)."""

    _queues: list[list[torch.Tensor]] = field(default_factory=list, init=False)
    _counts: list[int] = field(default_factory=list, init=False)  # frames queued

    def push(self, parts: Sequence[torch.Tensor | None]) -> list[torch.Tensor] | None:
        """The next frames of every pathway (``None``: none) in; their common frames out,
        or ``None`` when some pathway has none yet."""
        if not self._queues:
            self._queues, self._counts = [[] for _ in parts], [0] * len(parts)
        for i, part in enumerate(parts):
            if part is not None and part.shape[2]:
                self._queues[i].append(part)
                self._counts[i] += part.shape[2]
        ready = min(self._counts)
        if ready == 0:
            return None
        return [self._take(i, ready) for i in range(len(parts))]

    def _take(self, pathway: int, frames: int) -> torch.Tensor:
        """The first ``frames`` queued frames of a pathway, removed from its queue."""
        queue, taken, got = self._queues[pathway], [], 0
        while got < frames:
            chunk, need = queue[0], frames - got
            if chunk.shape[2] <= need:
                taken.append(queue.pop(0))
            else:
                taken.append(chunk[:, :, :need])
                queue[0] = chunk[:, :, need:]
            got += taken[-1].shape[2]
        self._counts[pathway] -= frames
        return taken[0] if len(taken) == 1 else torch.cat(taken, dim=2)


@dataclass(eq=False)
class RunningMean:
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

    window: int
    _ring: torch.Tensor | None = field(default=None, init=False, repr=False)  # (window, N, C)
    _sum: torch.Tensor | None = field(default=None, init=False, repr=False)  # finite values
    _bad: torch.Tensor | None = field(default=None, init=False, repr=False)  # (3, N, C)
    _count: int = field(default=0, init=False)

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


@dataclass(kw_only=True)
class StreamState:
    """The state of one streaming module's stream. This base holds what every stream has;
    a module's class declares as ``State`` a dataclass deriving from it with its own
    fields (declared, typed, reached by name).

    Parameters
    ----------
    shape : tuple, optional
        (N, ..., dtype, device) of the stream's chunks; ``None`` before the first.
    frames : int
        Input frames received so far.
    """

    shape: tuple | None = None
    frames: int = 0

    @property
    def nbytes(self) -> int:
        """Bytes of the tensors this state holds now."""
        return _nbytes(self)


@dataclass(kw_only=True)
class WindowState(StreamState):
    """The state of a module with one temporal window: the padded frames it still needs.

    Parameters
    ----------
    shape, frames
        As in :class:`StreamState`.
    window : TemporalWindow
        The window.
    """

    window: TemporalWindow


@dataclass(kw_only=True)
class PathwaysState(StreamState):
    """The state of a module that sums pathways of different delays: their aligner.

    Parameters
    ----------
    shape, frames
        As in :class:`StreamState`.
    align : Aligner
        Queues the frames of the faster pathways.
    """

    align: Aligner = field(default_factory=Aligner)


class StreamingModule(nn.Module):
    """A module with step-wise evaluation (``forward_steps``, ``flush``, ``clean_state``,
    ``get_state``, ``set_state``, ``delay``; see :mod:`skelgraph.nn.streaming`).

    A subclass declares ``State``, the dataclass of its stream's state (deriving from
    :class:`StreamState`; the base itself for a frame-wise module), and implements
    ``_steps(x)`` (frames of a non-empty chunk to ready outputs), ``_flush()`` (the
    remaining outputs) and ``delay``; both are checked when the subclass is defined.
    ``new_state()`` builds a fresh state (default ``State()``); it is kept as
    :attr:`stream_state` until :meth:`clean_state`. ``out_channels`` and ``stride`` (the
    temporal stride of the output frames) describe the outputs.
    """

    State: ClassVar[type[StreamState]]
    stride: int = 1
    out_channels: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        state = getattr(cls, "State", None)
        problems = []
        if not (
            isinstance(state, type)
            and issubclass(state, StreamState)
            and "__dataclass_fields__" in state.__dict__  # itself a dataclass, fields declared
        ):
            problems.append(f"declare State, a dataclass deriving from StreamState (got {state!r})")
        missing = [
            name
            for name in ("_steps", "_flush", "delay")
            if getattr(cls, name) is getattr(StreamingModule, name)
        ]
        if missing:
            problems.append(f"implement {', '.join(missing)}")
        if problems:
            raise TypeError(
                f"{cls.__name__} is a StreamingModule: it must {' and '.join(problems)} "
                "(see skelgraph.nn.streaming)"
            )

    def __init__(self) -> None:
        super().__init__()
        self._state: StreamState | None = None  # built on first use, by new_state()

    def new_state(self) -> StreamState:
        """A fresh state for a new stream (``State()``; modules whose state needs their
        sizes override this)."""
        return self.State()

    @property
    def stream_state(self) -> StreamState:
        """This module's stream state, the live object (:meth:`get_state` gives a copy)."""
        if self._state is None:
            self._state = self.new_state()
        return self._state

    def _check_steps_input(self, x: torch.Tensor) -> None:
        """Raise unless ``x`` is one chunk of this layer's input (T may be 0)."""
        channels = getattr(self, "in_channels", -1)
        check_input(x, channels, getattr(self, "num_joints", -1), self, 0)

    def _empty(self, x: torch.Tensor) -> torch.Tensor:
        """No output frames, shaped like this layer's output for input ``x``."""
        return x.new_zeros(x.shape[0], self.out_channels, 0, *x.shape[3:])

    def _no_output(self) -> torch.Tensor:
        """No output frames, shaped like this stream's outputs."""
        shape = self.stream_state.shape
        assert shape is not None, "no output before the stream's first chunk"
        n, *rest, dtype, device = shape
        return torch.zeros(n, self.out_channels, 0, *rest, dtype=dtype, device=device)

    def _ready(self, y: torch.Tensor | None) -> torch.Tensor:
        """``y``, or no output frames for ``None``."""
        return self._no_output() if y is None else y

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
        self._refuse_training("forward_steps")
        self._check_steps_input(x)
        with torch.no_grad():
            return self._inner_steps(x)

    def _refuse_training(self, method: str) -> None:
        if self.training:
            raise RuntimeError(
                f"{type(self).__name__}.{method} is inference only: call .eval() first "
                "(batch statistics over a stream are not defined)"
            )

    def _inner_steps(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward_steps` for a layer inside a streaming module, whose input the
        outer module checked, under its ``no_grad``. The input is checked on the stream's
        first chunk only, the later chunks against that one's (N, ..., dtype, device): a
        frame costs a few small matrix products, and dozens of full checks per step were a
        fifth of it."""
        self._refuse_training("forward_steps")
        shape, state = self._stream_shape(x), self.stream_state
        if state.shape is None:
            self._check_steps_input(x)
        elif state.shape != shape:
            raise ValueError(
                f"{type(self).__name__}: this stream has (N, ..., dtype, device) = "
                f"{state.shape}, got a chunk with {shape}; call clean_state() to start another "
                "stream"
            )
        state.shape = shape
        if x.shape[2] == 0:  # no new frame: no new output anywhere downstream
            return self._empty(x)
        state.frames += x.shape[2]
        return self._steps(x)

    def flush(self) -> torch.Tensor:
        """End the stream as the offline forward ends the clip; the remaining outputs.
        The state is cleaned afterwards, ready for another stream."""
        self._refuse_training("flush")
        if not self.stream_state.frames:
            raise RuntimeError(
                f"{type(self).__name__}.flush(): no frame since the last clean_state(); "
                "feed at least one frame with forward_steps first"
            )
        with torch.no_grad():
            out = self._flush()
        self.clean_state()
        return out

    def _streaming_modules(self) -> Iterator[tuple[str, StreamingModule]]:
        """This module (``""``) and every streaming module inside it, by name."""
        for name, module in self.named_modules():
            if isinstance(module, StreamingModule):
                yield name, module

    def clean_state(self) -> None:
        """Forget the stream, in this module and every streaming module inside it."""
        for _, module in self._streaming_modules():
            module._state = None

    def get_state(self) -> dict[str, StreamState]:
        """A copy of the stream's state: this module's (key ``""``) and that of every
        streaming module inside it, by module name; :meth:`set_state` resumes from it."""
        return {name: copy.deepcopy(m.stream_state) for name, m in self._streaming_modules()}

    def set_state(self, state: Mapping[str, StreamState]) -> None:
        """Resume the stream that :meth:`get_state` copied (from a copy of ``state``, so it
        can be set again).

        Parameters
        ----------
        state : Mapping of str to StreamState
            From :meth:`get_state` of a module of the same structure.
        """
        modules = dict(self._streaming_modules())
        if set(state) != set(modules):
            raise ValueError(
                f"{type(self).__name__}.set_state: expected the states of the streaming "
                f"modules {sorted(modules)}, got {sorted(state)}"
            )
        for name, module in modules.items():
            if type(state[name]) is not module.State:
                raise ValueError(
                    f"{type(self).__name__}.set_state: {name or 'the module'!r} expects a "
                    f"{module.State.__qualname__}, got a {type(state[name]).__qualname__}"
                )
        for name, module in modules.items():
            module._state = copy.deepcopy(state[name])

    @property
    def delay(self) -> int:
        """Output frame t is ready once input frame ``stride·t + delay`` has arrived."""
        raise NotImplementedError

    def state_nbytes(self) -> int:
        """Bytes of the stream's state now held by this module and the modules inside it."""
        return sum(m.stream_state.nbytes for _, m in self._streaming_modules())

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
        x = layer._inner_steps(x)
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
            out = torch.cat([layer._inner_steps(out), layer.flush()], dim=2)
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
