"""Cross-cutting runtime checks of every layer and the block, on both kernels (the global
setting of skelgraph.nn.backend): gradients, compilers, tracing and both ONNX exporters,
dtypes and autocast, persistence, DDP and clear errors. All on tiny shapes so the suite
stays fast."""

from __future__ import annotations

import collections
import copy
import io
import os
import pickle
import warnings

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from skelgraph import DisentangledGraphConv, G3DConv, MSTemporalConv
from skelgraph.nn import backend, node_major
from tests.layer_helpers import LAYERS, TINY, instance

# The causal block differs from the block only by its windows' padding, which the causal
# MS-TCN (its -inf max-pool padding included) covers here.
NAMES = sorted(set(LAYERS) - {"block-causal"})
# (layer, global setting): both kernels of every layer with a graph convolution.
CASES = [(n, i) for n in NAMES for i in ("reference", "fast")]
SMALL = [(n, i) for n, i in CASES if n in ("gcn", "g3d", "tcn", "tcn-causal", "block")]
LAYER_CASES = [(n, i) for n, i in CASES if n != "block"]


def case_id(case: tuple[str, str]) -> str:
    return "-".join(case)


@pytest.fixture
def case(request):
    """The layer and input of a (name, setting) case, run under that setting."""
    name, setting = request.param
    with backend.implementation(setting):
        yield instance(name)


@pytest.mark.parametrize("case", LAYER_CASES, indirect=True, ids=case_id)
def test_gradcheck_in_float64(case):
    """Every layer (the block is their sum: its float64 gradients are compared between the
    kernels in tests/examples/test_msg3d_model.py)."""
    layer, x = case
    layer = layer.double().train()
    x = x.double().requires_grad_()
    params = [p for p in layer.parameters()]
    # Check the input and every parameter, as explicit inputs of a pure function.
    names = [n for n, _ in layer.named_parameters()]

    def fn(inp, *weights):
        return torch.func.functional_call(layer, dict(zip(names, weights)), (inp,))

    inputs = (x, *[p.detach().clone().requires_grad_() for p in params])
    # Along random directions (fast mode): the full Jacobians over every parameter took
    # minutes; the kernels' own tests check theirs in full.
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, fast_mode=True)


def dynamic_shapes():
    return {
        "x": {
            0: torch.export.Dim("batch", min=1, max=64),
            2: torch.export.Dim("frames", min=4, max=512),
        }
    }


@pytest.mark.parametrize("case", CASES, indirect=True, ids=case_id)
def test_torch_export_with_dynamic_batch_and_frames(case):
    layer, x = case
    program = torch.export.export(layer, (x,), dynamic_shapes=dynamic_shapes())
    for shape in (x.shape, (5, x.shape[1], 11, x.shape[3])):
        other = torch.randn(*shape)
        torch.testing.assert_close(program.module()(other), layer(other))


@pytest.mark.parametrize("case", SMALL, indirect=True, ids=case_id)
def test_torch_compile(case):
    layer, x = case
    compiled = torch.compile(layer)
    torch.testing.assert_close(compiled(x), layer(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", SMALL, indirect=True, ids=case_id)
@pytest.mark.parametrize("dynamo", [True, False], ids=["dynamo", "torchscript"])
def test_onnx_export_matches_onnxruntime(case, dynamo, tmp_path):
    """Both exporters: the default (torch.export) and the TorchScript-based one that
    TensorRT pipelines use, with dynamic batch and frames."""
    layer, x = case
    assert_onnx_export_matches(layer, x, (3, x.shape[1], 13, x.shape[3]), tmp_path, dynamo)


def assert_onnx_export_matches(layer, x, other_shape, tmp_path, dynamo):
    """Export ``layer`` on ``x`` and compare onnxruntime with eager on x and another shape."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime (dev extra) not installed")
    pytest.importorskip("onnxscript", reason="onnxscript (dev extra) not installed")
    path = tmp_path / "layer.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            shapes = dynamic_shapes()
            torch.onnx.export(layer, (x,), str(path), dynamo=True, dynamic_shapes=shapes)
        else:  # output_names given: the exporter otherwise reads `layer.graph` as its own
            axes = {"x": {0: "batch", 2: "frames"}}
            torch.onnx.export(layer, (x,), str(path), dynamo=False, input_names=["x"],
                              output_names=["y"], dynamic_axes=axes)  # fmt: skip
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in (x.shape, other_shape):
        other = torch.randn(*shape)
        (out,) = session.run(None, {session.get_inputs()[0].name: other.numpy()})
        with torch.no_grad():
            expected = layer(other)
        torch.testing.assert_close(torch.from_numpy(out), expected, rtol=1e-4, atol=1e-5)


def assert_trace_matches(layer, x, other_shape):
    """torch.jit.trace on ``x``, then the traced module on another batch size and length."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated in 2.13
        traced = torch.jit.trace(layer, (x,))
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    for shape in (x.shape, other_shape):
        other = torch.randn(*shape)
        with torch.no_grad():
            expected = layer(other)
        torch.testing.assert_close(traced(other), expected)
        torch.testing.assert_close(loaded(other), expected)


@pytest.mark.parametrize("case", CASES, indirect=True, ids=case_id)
def test_torch_jit_trace_with_other_batch_and_frames(case):
    layer, x = case
    assert_trace_matches(layer, x, (3, x.shape[1], 11, x.shape[3]))


# Relative errors allowed under autocast, against float32 (outputs, gradients). Outputs:
# a few roundings of 2^-9 (bfloat16) or 2^-12 (float16) each; measured up to 5e-3 and
# 8e-4. Gradients: a pre-activation within rounding of zero flips its ReLU (or a max-pool
# tie), which moves that gradient entry by its whole size; on these few thousand entries
# the flips gave up to 8e-2 (bfloat16) and 5e-2 (float16) of the gradient's norm.
AUTOCAST_TOLERANCE = {torch.bfloat16: (2e-2, 0.2), torch.float16: (5e-3, 0.1)}


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return float((got.float() - expected).norm() / expected.norm())


@pytest.mark.parametrize("input_dtype", ["float32", "autocast"])
@pytest.mark.parametrize("amp", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("case", CASES, indirect=True, ids=case_id)
def test_autocast_forward_and_backward_on_cpu(case, amp, input_dtype):
    """Forward and backward of every kernel under autocast, with float32 input (the first
    layer) and with input already in the autocast dtype (every later layer): outputs in
    that dtype, parameter gradients in float32, both close to float32."""
    layer, x = case
    x = torch.randn(4, x.shape[1], 24, x.shape[3])  # enough entries for a stable norm
    weights = torch.randn_like(layer(x))
    results = []
    for enabled in (False, True):
        layer.zero_grad()
        inp = (x.to(amp) if enabled and input_dtype == "autocast" else x).detach()
        inp.requires_grad_()
        with torch.autocast("cpu", dtype=amp, enabled=enabled):
            out = layer(inp)
        (out.float() * weights).sum().backward()
        grads = [inp.grad.float(), *(p.grad for p in layer.parameters())]
        assert all(p.grad.dtype == p.dtype == torch.float32 for p in layer.parameters())
        results.append((out, torch.cat([g.flatten() for g in grads])))
    (out32, grad32), (out, grad) = results
    assert out.dtype == amp
    out_tolerance, grad_tolerance = AUTOCAST_TOLERANCE[amp]
    assert relative_error(out, out32) <= out_tolerance
    assert relative_error(grad, grad32) <= grad_tolerance


class LowerPrecisionCasts(TorchDispatchMode):
    """Counts, per source tensor (storage, offset, shape), its casts to ``dtype``. The
    sources are kept alive, so that a freed temporary's address, reused by another one of
    the same shape, is not taken for a second cast of the same tensor."""

    def __init__(self, dtype: torch.dtype):
        super().__init__()
        self.dtype, self.casts, self.sources = dtype, collections.Counter(), []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in (torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default):
            source = args[1] if func is torch.ops.aten.copy_.default else args[0]
            if source.dtype != self.dtype and out.dtype == self.dtype:
                key = (source.untyped_storage().data_ptr(), source.storage_offset(),
                       tuple(source.shape))  # fmt: skip
                self.casts[key] += 1
                self.sources.append(source)
        return out


@pytest.mark.parametrize("amp", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("case", CASES, indirect=True, ids=case_id)
def test_autocast_casts_each_weight_once_per_training_step(case, amp, monkeypatch):
    """A training step under autocast casts every weight to the autocast dtype once,
    however many chunks or samples the kernels loop over, and never again in the
    backward: the kernels save the cast copies."""
    monkeypatch.setattr(node_major, "CHUNK_FLOATS", 1)  # a chunk per frame: many products
    layer, x = case
    x = torch.randn(3, x.shape[1], 8, x.shape[3], requires_grad=True)  # samples: a loop
    with LowerPrecisionCasts(amp) as mode:
        with torch.autocast("cpu", dtype=amp):
            out = layer(x)
        out.float().sum().backward()
    # The input, not a weight: cast by each layer that reads it (the block's three).
    weights = {k: n for k, n in mode.casts.items() if k[0] != x.untyped_storage().data_ptr()}
    assert weights and max(weights.values()) == 1, collections.Counter(weights).most_common(3)


@pytest.mark.parametrize("case", CASES, indirect=True, ids=case_id)
def test_float64_and_buffers_move_with_to(case):
    layer, x = case
    reference = layer(x)
    layer = layer.to(torch.float64)
    for buffer in layer.buffers():
        assert buffer.dtype in (torch.float64, torch.int64)
    out = layer(x.double())
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.float(), reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES, indirect=True, ids=case_id)
def test_state_dict_round_trip_deepcopy_and_pickle(case):
    layer, x = case
    state = layer.state_dict()
    assert not any(k.endswith(("scales", "base")) for k in state)  # rebuilt from the graph
    fresh = copy.deepcopy(layer).eval()
    fresh.reset_parameters()
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh(x), layer(x))
    torch.testing.assert_close(copy.deepcopy(layer)(x), layer(x))
    torch.testing.assert_close(pickle.loads(pickle.dumps(layer))(x), layer(x))
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    torch.testing.assert_close(fresh(x), layer(x))


@pytest.mark.parametrize("case", CASES, indirect=True, ids=case_id)
def test_reset_parameters_and_repr(case):
    layer, _ = case
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
def test_bad_input_shapes_raise_value_errors(name, shape, match, implementation):
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


@pytest.mark.parametrize("case", CASES, indirect=True, ids=case_id)
def test_no_grad_inference_equals_inference_with_autograd(case):
    # Under no_grad the fast paths fold bias, batch norm and ReLU into one in-place step.
    layer, x = case
    with torch.no_grad():
        folded = layer(x)
    torch.testing.assert_close(folded, layer(x).detach())


# ---------------------------------------------------------------- DDP (two CPU processes, gloo)
def _run(rank: int, world: int, init_file: str, setting: str, results: dict) -> None:
    backend.set_implementation(setting)  # a fresh process: the parent's setting is not inherited
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)  # same initial weights on every rank
        model = nn.Sequential(
            DisentangledGraphConv(3, 6, TINY, num_scales=3),
            G3DConv(6, 6, TINY, window_size=3, num_scales=2),
            MSTemporalConv(6, 6),
        )
        ddp = nn.parallel.DistributedDataParallel(model)
        torch.manual_seed(100 + rank)  # different data on every rank
        ddp(torch.randn(2, 3, 6, 5)).pow(2).mean().backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters()])
        gathered = [torch.empty_like(grads) for _ in range(world)]
        dist.all_gather(gathered, grads)
        results[rank] = bool(all(torch.allclose(g, gathered[0]) for g in gathered))
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
@pytest.mark.parametrize("setting", ["reference", "fast"])
def test_ddp_gradients_are_synchronised_across_processes(tmp_path, setting):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # gloo's rare abort at a process group's teardown ("terminate called without an active
    # exception", SIGABRT; as in test_train's DDP run, not yet understood) earns one more
    # run; any other failure fails at once.
    for attempt in range(2):
        results = mp.Manager().dict()
        try:
            mp.spawn(_run, args=(2, str(tmp_path / f"init{attempt}"), setting, results), nprocs=2)
            break
        except mp.ProcessExitedException as error:
            if error.signal_name != "SIGABRT" or attempt == 1:
                raise
    assert dict(results) == {0: True, 1: True}
