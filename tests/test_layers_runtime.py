"""The layers as PyTorch modules: gradients, compilers, exporters, dtypes, persistence,
and clear errors for bad input. All on tiny shapes so the suite stays fast."""

from __future__ import annotations

import copy
import io
import pickle
import warnings

import pytest
import torch

from skelgraph import DisentangledGraphConv, G3DConv, MSTemporalConv
from tests.layer_helpers import TINY, randomize, tiny_layers

LAYERS = tiny_layers()
NAMES = sorted(LAYERS)


def instance(name):
    layer, shape = LAYERS[name]
    layer = copy.deepcopy(layer)
    torch.manual_seed(0)
    layer.reset_parameters()
    return randomize(layer).eval(), torch.randn(*shape)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_in_float64(name):
    layer, x = instance(name)
    layer = layer.double().train()
    x = x.double().requires_grad_()
    params = [p for p in layer.parameters()]
    # Check the input and every parameter, as explicit inputs of a pure function.
    names = [n for n, _ in layer.named_parameters()]

    def fn(inp, *weights):
        return torch.func.functional_call(layer, dict(zip(names, weights)), (inp,))

    inputs = (x, *[p.detach().clone().requires_grad_() for p in params])
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # deprecated in torch 2.13
@pytest.mark.parametrize("name", NAMES)
def test_torch_jit_script(name):
    layer, x = instance(name)
    scripted = torch.jit.script(layer)
    torch.testing.assert_close(scripted(x), layer(x))
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    torch.testing.assert_close(torch.jit.load(buffer)(x), layer(x))


def dynamic_shapes():
    return {
        "x": {
            0: torch.export.Dim("batch", min=1, max=64),
            2: torch.export.Dim("frames", min=4, max=512),
        }
    }


@pytest.mark.parametrize("name", NAMES)
def test_torch_export_with_dynamic_batch_and_frames(name):
    layer, x = instance(name)
    program = torch.export.export(layer, (x,), dynamic_shapes=dynamic_shapes())
    for shape in (x.shape, (5, x.shape[1], 11, x.shape[3])):
        other = torch.randn(*shape)
        torch.testing.assert_close(program.module()(other), layer(other))


@pytest.mark.parametrize("name", ["gcn", "g3d", "tcn"])
def test_torch_compile(name):
    layer, x = instance(name)
    compiled = torch.compile(layer)
    torch.testing.assert_close(compiled(x), layer(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["gcn", "g3d", "tcn"])
def test_onnx_export_matches_onnxruntime(name, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime (dev extra) not installed")
    pytest.importorskip("onnxscript", reason="onnxscript (dev extra) not installed")
    layer, x = instance(name)
    path = tmp_path / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(layer, (x,), str(path), dynamo=True, dynamic_shapes=dynamic_shapes())
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in (x.shape, (3, x.shape[1], 13, x.shape[3])):
        other = torch.randn(*shape)
        (out,) = session.run(None, {session.get_inputs()[0].name: other.numpy()})
        torch.testing.assert_close(torch.from_numpy(out), layer(other), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_autocast_bfloat16_on_cpu(name):
    layer, x = instance(name)
    reference = layer(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), reference, rtol=0.1, atol=0.1)


@pytest.mark.parametrize("name", NAMES)
def test_float64_and_buffers_move_with_to(name):
    layer, x = instance(name)
    reference = layer(x)
    layer = layer.to(torch.float64)
    for buffer in layer.buffers():
        assert buffer.dtype in (torch.float64, torch.int64)
    out = layer(x.double())
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.float(), reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_deepcopy_and_pickle(name):
    layer, x = instance(name)
    state = layer.state_dict()
    assert not any(k.endswith(("scales", "base")) for k in state)  # rebuilt from the graph
    fresh = copy.deepcopy(LAYERS[name][0]).eval()
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh(x), layer(x))
    torch.testing.assert_close(copy.deepcopy(layer)(x), layer(x))
    torch.testing.assert_close(pickle.loads(pickle.dumps(layer))(x), layer(x))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    torch.testing.assert_close(fresh(x), layer(x))


@pytest.mark.parametrize("name", NAMES)
def test_reset_parameters_and_repr(name):
    layer, _ = instance(name)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    layer.reset_parameters()
    after = layer.state_dict()
    changed = [k for k in before if k.endswith("weight") and not torch.equal(before[k], after[k])]
    assert changed
    for key, value in after.items():
        if key.endswith("mask"):
            assert value.abs().max() <= 1e-6
        if key.endswith("running_var"):
            assert torch.equal(value, torch.ones_like(value))
    text = repr(layer)
    assert str(layer.in_channels) in text and str(layer.out_channels) in text


def test_training_updates_the_residual_mask():
    layer = DisentangledGraphConv(2, 4, TINY, num_scales=3)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
    before = layer.aggregate.mask.detach().clone()
    layer(torch.randn(4, 2, 6, 5)).pow(2).mean().backward()
    optimizer.step()
    assert not torch.equal(layer.aggregate.mask, before)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("name", "shape", "match"),
    [
        ("gcn", (3, 5, 5), r"shape \(N, C, T, V\), got 3 dimensions"),
        ("gcn", (2, 4, 5, 5), "expects C=3 input channels, got 4"),
        ("gcn", (2, 3, 5, 25), "expects V=5 joints, got 25"),
        ("g3d", (2, 3, 5, 6), "G3DConv expects V=5 joints, got 6"),
        ("g3d", (2, 3, 5, 5, 2), "got 5 dimensions"),
        ("tcn", (2, 3, 7, 5), "MSTemporalConv expects C=4 input channels, got 3"),
        ("gcn", (0, 3, 5, 5), r"at least one sample and one frame, got input shape \[0, 3,"),
        ("g3d", (2, 3, 0, 5), r"G3DConv expects at least one sample and one frame"),
    ],
)
def test_bad_input_shapes_raise_value_errors(name, shape, match):
    layer, _ = instance(name)
    with pytest.raises(ValueError, match=match):
        layer(torch.randn(*shape))


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: MSTemporalConv(4, 10), ValueError, "out_channels=10 must be divisible by the 6"),
        (lambda: MSTemporalConv(4, 6, dilations=(0,)), ValueError, "dilation must be >= 1"),
        (lambda: DisentangledGraphConv(3, 4, "nope", 3), ValueError, "unknown layout 'nope'"),
        (lambda: DisentangledGraphConv(3, 4, TINY, 0), ValueError, "num_scales must be >= 1"),
        (lambda: DisentangledGraphConv(0, 4, TINY, 2), ValueError, "in_channels must be >= 1"),
        (
            lambda: DisentangledGraphConv(3, 4, TINY, 2, activation="swish!"),
            ValueError,
            "activation",
        ),
        (
            lambda: DisentangledGraphConv(
                3, 4, TINY, 2, aggregation="powering", mask_placement="in-norm"
            ),
            ValueError,
            "in-norm",
        ),
        (
            lambda: DisentangledGraphConv(3, 4, TINY, 2, mask_placement="inside"),
            ValueError,
            "mask_placement",
        ),
        (lambda: G3DConv(3, 4, TINY, window_size=0), ValueError, "window_size must be >= 1"),
        (lambda: G3DConv(3, 4, TINY, window_variant="dense"), ValueError, "variant must be one of"),
        (lambda: G3DConv(3, 4, TINY, stride=1.5), TypeError, "stride must be an integer"),
    ],
)
def test_bad_arguments_raise_clear_errors(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_graph_like_arguments():
    import networkx as nx

    by_name = DisentangledGraphConv(3, 4, "coco-17", 2)
    by_nx = DisentangledGraphConv(3, 4, nx.path_graph(6), 2)
    by_matrix = DisentangledGraphConv(3, 4, torch.tensor(TINY.adjacency), 2)
    assert (by_name.num_joints, by_nx.num_joints, by_matrix.num_joints) == (17, 6, 5)


@pytest.mark.parametrize("name", NAMES)
def test_no_grad_inference_equals_inference_with_autograd(name):
    # Under no_grad the fast paths fold bias, batch norm and ReLU into one in-place step.
    layer, x = instance(name)
    with torch.no_grad():
        folded = layer(x)
    torch.testing.assert_close(folded, layer(x).detach())


def test_folding_keeps_other_activations_and_a_norm_without_affine():
    layer = DisentangledGraphConv(3, 4, TINY, num_scales=3, activation="gelu").eval()
    layer.bn = torch.nn.BatchNorm2d(4, affine=False).eval()
    x = torch.randn(2, 3, 5, 5)
    with torch.no_grad():
        folded = layer(x)
    torch.testing.assert_close(folded, layer(x).detach())
    assert (folded < 0).any()  # GELU, not clamped like ReLU
