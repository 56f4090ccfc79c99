"""The stream-state interface (skelgraph.nn.streaming): each streaming module declares one
typed state, get_state/set_state resume a stream exactly, clean_state resets, the
interface is checked when a subclass is defined, and an MS-TCN branch whose layers moved
is refused by its stream."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from torch import nn

from skelgraph import MSTemporalConv
from skelgraph.nn import backend
from skelgraph.nn.streaming import StreamingModule, StreamState, WindowState
from tests.layer_helpers import LAYERS, instance
from tests.nn.test_streaming import chunked, float64, stream

NAMES = sorted(LAYERS)


def streaming_modules(layer: nn.Module) -> dict[str, StreamingModule]:
    return {n: m for n, m in layer.named_modules() if isinstance(m, StreamingModule)}


def rest_of(layer, x: torch.Tensor, start: int) -> torch.Tensor:
    """The outputs of x's frames from ``start`` on, frame by frame, and the flush."""
    outs = [layer.forward_steps(x[:, :, t : t + 1]) for t in range(start, x.shape[2])]
    return torch.cat([*outs, layer.flush()], dim=2)


@pytest.mark.parametrize("name", NAMES)
def test_every_streaming_module_declares_one_typed_state(name):
    layer, x = float64(name)
    layer.forward_steps(x[:, :, :3])
    assert layer.stream_state.frames == 3
    for module in streaming_modules(layer).values():
        state = module.stream_state
        assert type(state) is type(module).State
        assert dataclasses.is_dataclass(state) and isinstance(state, StreamState)
    # Every tensor the stream holds is in a declared state: the module's attributes
    # outside its state are the same before and after the stream started.
    fresh = float64(name)[0]
    for (_, before), (_, after) in zip(fresh.named_modules(), layer.named_modules()):
        assert set(vars(before)) == set(vars(after))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("start", [2, 5])
def test_get_and_set_state_resume_the_stream_exactly(name, start):
    layer, x = float64(name)
    head = [layer.forward_steps(x[:, :, t : t + 1]) for t in range(start)]
    saved = layer.get_state()
    assert set(saved) == set(streaming_modules(layer))
    first = rest_of(layer, x, start)  # flush cleaned the state
    torch.testing.assert_close(torch.cat([*head, first], 2), layer(x), rtol=0, atol=1e-12)
    layer.set_state(saved)
    torch.testing.assert_close(rest_of(layer, x, start), first, rtol=0, atol=0)
    other = copy.deepcopy(layer)  # a clean module of the same structure resumes it too
    other.set_state(saved)
    torch.testing.assert_close(rest_of(other, x, start), first, rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_clean_state_gives_every_module_a_fresh_state(name):
    layer, x = float64(name)
    layer.forward_steps(x[:, :, :4])
    assert layer.state_nbytes() > 0 or name == "gcn"
    layer.clean_state()
    assert layer.state_nbytes() == 0
    for module in streaming_modules(layer).values():
        fresh = module.new_state()
        state = module.stream_state
        assert (state.shape, state.frames, state.nbytes) == (None, 0, 0)
        assert type(state) is type(fresh)
    torch.testing.assert_close(stream(layer, x), layer(x), rtol=1e-12, atol=1e-12)


def test_set_state_refuses_another_structure():
    layer, x = instance("g3d")
    layer.forward_steps(x[:, :, :2])
    with pytest.raises(ValueError, match=r"expected the states of the streaming modules \[''\]"):
        layer.set_state(instance("block")[0].get_state())
    with pytest.raises(ValueError, match=r"expects a G3DConv\.State, got a StreamState"):
        layer.set_state({"": StreamState()})


def test_a_subclass_without_the_interface_is_refused_when_defined():
    with pytest.raises(TypeError, match="must declare State, a dataclass deriving from"):

        class NoState(StreamingModule):
            delay = 0

            def _steps(self, x):
                return x

            def _flush(self):
                return self._no_output()

    with pytest.raises(TypeError, match=r"must implement _flush, delay"):

        class NoFlush(StreamingModule):
            State = StreamState

            def _steps(self, x):
                return x

    with pytest.raises(TypeError, match="declare State"):

        class NotADataclass(StreamingModule):
            class State(StreamState):  # a subclass, but not declared as a dataclass
                extra: int = 0

            delay = 0

            def _steps(self, x):
                return x

            def _flush(self):
                return self._no_output()


def test_a_declared_subclass_streams():
    class Doubling(StreamingModule):
        """Frame-wise: doubles its input; counts its chunks in its own state."""

        @dataclasses.dataclass(kw_only=True)
        class State(StreamState):
            chunks: int = 0

        delay = 0

        def __init__(self):
            super().__init__()
            self.out_channels = 2

        def _steps(self, x):
            self.stream_state.chunks += 1
            return 2 * x

        def _flush(self):
            return self._no_output()

    layer = Doubling().eval()
    x = torch.randn(1, 2, 5, 3)
    outs = [layer.forward_steps(c) for c in chunked(x, [2, 3])]
    assert layer.stream_state.chunks == 2
    torch.testing.assert_close(torch.cat([*outs, layer.flush()], 2), 2 * x)
    assert layer.stream_state.chunks == 0


@pytest.mark.parametrize("position", [2, 3, 4])
def test_a_dropout_inserted_into_a_branch_is_refused_by_the_stream(position):
    layer, x = instance("tcn")
    layer.branches[0].insert(position, nn.Dropout(0.5))
    layer(x)  # the offline forward runs every layer (dropout is the identity in eval)
    with pytest.raises(TypeError, match=r"must hold exactly \(0: Conv2d, 1: BatchNorm2d, 2: ReLU"):
        layer.forward_steps(x)


def test_branch_layers_are_reached_by_name():
    tcn = MSTemporalConv(6, 6)
    dilated, pool, one_by_one = tcn.branches[0], tcn.branches[4], tcn.branches[5]
    assert dilated.temporal.padding == (1, 1) and dilated.conv.out_channels == 1
    assert isinstance(pool.pool, nn.MaxPool2d) and isinstance(pool.pool_bn, nn.BatchNorm2d)
    assert one_by_one.conv.stride == (1, 1)
    assert "branches.0.3.conv.weight" in tcn.state_dict()  # the authors' keys


def test_a_stream_keeps_the_kernels_it_started_with():
    """The G3D stream's window holds projected frames under project-first: its kernels are
    read at the first frame and kept, whatever the setting does mid-stream."""
    layer, x = float64("g3d")
    with backend.implementation("fast"):
        assert layer.plan().stream == "project-first"
        head = [layer.forward_steps(x[:, :, t : t + 1]) for t in range(2)]
    with backend.implementation("reference"):
        assert layer.plan().stream == "reference"
        rest = rest_of(layer, x, 2)
        expected = layer(x)
    torch.testing.assert_close(torch.cat([*head, rest], 2), expected, rtol=1e-12, atol=1e-12)


def test_window_state_is_the_base_of_the_windowed_layers():
    for name in ("g3d", "tcn"):
        assert issubclass(type(instance(name)[0]).State, WindowState)


@pytest.mark.parametrize("name", ["gcn", "g3d", "tcn"])
def test_a_stream_keeps_the_weights_it_started_with(name):
    """The weights (batch norm folded in, the MS-GCN's projection and scales included) are
    read at a stream's first frame: changed mid-stream, they act from the next stream."""
    layer, x = float64(name)
    before = copy.deepcopy(layer)
    with backend.implementation("fast"):
        head = [layer.forward_steps(x[:, :, t : t + 1]) for t in range(2)]
        with torch.no_grad():
            for p in [*layer.parameters(), *layer.buffers()]:
                if p.is_floating_point():
                    p.mul_(1.5)
        rest = rest_of(layer, x, 2)
        torch.testing.assert_close(torch.cat([*head, rest], 2), before(x), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(stream(layer, x), layer(x), rtol=1e-12, atol=1e-12)
