"""Products of rows by oneDNN or torch.mm: the same numbers either way, and the route taken
where the rule says so."""

from __future__ import annotations

import contextlib

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from skelgraph import DisentangledGraphConv, G3DConv, MSTemporalConv
from skelgraph.nn import backend, products
from skelgraph.nn.products import rows_mm, rows_t_mm, uses_onednn
from tests.layer_helpers import randomize

pytestmark = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="this PyTorch build has no oneDNN"
)


@contextlib.contextmanager
def threads(count: int):
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def onednn_route(monkeypatch):
    """The route on any CPU: what it computes does not depend on the CPU, only whether it
    is taken (:func:`test_the_route_is_taken_on_avx512_only`)."""
    monkeypatch.setattr(products, "ONEDNN_FLOAT32", True)


@pytest.fixture
def convolutions(monkeypatch):
    """Counts the products that ran as oneDNN's convolution."""
    calls = []
    original = products._pixels

    def counted(rows):
        calls.append(tuple(rows.shape))
        return original(rows)

    monkeypatch.setattr(products, "_pixels", counted)
    return calls


def test_the_rule():
    a, b = torch.randn(512, 8), torch.randn(8, 4)
    with threads(1):
        assert uses_onednn(a, b) and uses_onednn(a[:300], b)  # 32 or 20 images of rows
        assert not uses_onednn(a[:293], b)  # one thread: oneDNN only from 16 images on
    with threads(2):
        assert uses_onednn(a[:293], b)
    assert not uses_onednn(a[: products.MIN_ROWS - 16], b)  # a stream step's few rows
    assert not uses_onednn(a.double(), b.double())  # no oneDNN float64 kernel
    assert not uses_onednn(a.bfloat16(), b.bfloat16())  # already oneDNN's
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not uses_onednn(a, b)


@pytest.mark.parametrize(
    ("capability", "taken"),
    [("AVX512", True), ("AVX2", False), ("DEFAULT", False), ("SVE256", False),
     ("ZVECTOR", False)],
)  # fmt: skip
def test_the_route_is_taken_on_avx512_only(capability, taken, monkeypatch):
    """On an AVX2-only CPU MKL's product is as fast as oneDNN's and the route slowed the
    model down (benchmarks/results/products-avx2.md): there every product is torch.mm's,
    and a 1×1 convolution PyTorch's own choice."""
    assert products._onednn_beats_blas(capability) is taken
    monkeypatch.setattr(products, "ONEDNN_FLOAT32", taken)
    a, b = torch.randn(512, 8), torch.randn(8, 4)
    x, w = torch.randn(2, 8, 10, 25), torch.randn(4, 8, 1, 1)
    with threads(1):
        assert uses_onednn(a, b) is taken
        with Ops() as ops:
            y = products.conv2d(x, w)
    assert ops.names == ["mkldnn_convolution.default" if taken else "convolution.default"]
    torch.testing.assert_close(y, torch.nn.functional.conv2d(x, w))


def test_the_route_follows_the_cpu_pytorch_runs_on():
    capability = torch.backends.cpu.get_cpu_capability()
    assert products._onednn_beats_blas(capability) is capability.startswith("AVX512")


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 700),
    depth=st.integers(1, 40),
    columns=st.integers(1, 40),
    transposed=st.booleans(),
    bias=st.booleans(),
    into=st.sampled_from(["new", "out", "accumulate"]),
    chunk=st.sampled_from([products.CHUNK_FLOATS, 512]),
    count=st.sampled_from([1, 2]),
)
def test_rows_mm_is_the_product(rows, depth, columns, transposed, bias, into, chunk, count):
    """Against float64, for every layout, bias, output mode, chunking and thread count."""
    generator = torch.Generator().manual_seed(rows * 1000 + depth)
    a = torch.randn(rows, depth, generator=generator)
    if transposed:  # a view that is not rows: copied first
        a = torch.randn(depth, rows, generator=generator).t()
    b = torch.randn(depth, columns, generator=generator)
    c = torch.randn(columns, generator=generator) if bias and into != "accumulate" else None
    start = torch.randn(rows, columns, generator=generator)
    expected = a.double() @ b.double()
    if c is not None:
        expected += c.double()
    if into == "accumulate":
        expected += start.double()
    out = start.clone() if into != "new" else None
    saved = products.CHUNK_FLOATS
    products.CHUNK_FLOATS = chunk
    try:
        with threads(count):
            y = rows_mm(a, b, c, out=out, accumulate=into == "accumulate")
    finally:
        products.CHUNK_FLOATS = saved
    if out is not None:
        assert y.data_ptr() == out.data_ptr()
    torch.testing.assert_close(y.double(), expected, rtol=1e-5, atol=1e-5 * depth**0.5)


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(1, 700),
    depth=st.integers(1, 40),
    columns=st.integers(1, 40),
    transposed=st.booleans(),
    count=st.sampled_from([1, 2]),
)
def test_rows_t_mm_is_the_sum_over_rows(rows, depth, columns, transposed, count):
    generator = torch.Generator().manual_seed(rows * 1000 + columns)
    x = torch.randn(rows, depth, generator=generator)
    g = torch.randn(columns, rows, generator=generator).t()  # a view that is not rows
    if not transposed:
        g = g.contiguous()
    with threads(count):
        w = rows_t_mm(x, g)
    expected = x.double().t() @ g.double()
    torch.testing.assert_close(w.double(), expected, rtol=1e-5, atol=1e-5 * rows**0.5)


def test_the_sum_over_rows_runs_in_onednn(convolutions):
    x, g = torch.randn(512, 12), torch.randn(512, 10)
    torch.testing.assert_close(rows_t_mm(x, g), x.t() @ g, rtol=1e-5, atol=1e-4)
    assert convolutions == [(512, 10), (512, 12)]  # the gradient's rows, the input's
    convolutions.clear()
    rows_t_mm(x[:100], g[:100])
    assert not convolutions


def test_large_products_run_in_onednn_in_chunks(convolutions, monkeypatch):
    monkeypatch.setattr(products, "CHUNK_FLOATS", 64 * 10)
    a, b = torch.randn(1024, 12), torch.randn(12, 10)
    with threads(1):
        y = rows_mm(a, b)
    assert convolutions == [(64, 12)] * 16  # 64 rows at a time, batches of 16 rows
    torch.testing.assert_close(y, a @ b)
    convolutions.clear()
    with threads(2):  # the last chunk's 40 rows as a batch of one
        torch.testing.assert_close(rows_mm(a[:1000], b), a[:1000] @ b)
    assert convolutions == [(64, 12)] * 15 + [(40, 12)]
    convolutions.clear()
    rows_mm(a[:100], b)
    assert not convolutions


def test_gradients_flow_through_the_convolution(convolutions):
    a = torch.randn(512, 12, requires_grad=True)
    b = torch.randn(12, 10, requires_grad=True)
    bias = torch.randn(10, requires_grad=True)
    grad = torch.randn(512, 10)
    rows_mm(a, b, bias).backward(grad)
    assert convolutions
    got = [t.grad.clone() for t in (a, b, bias)]
    for t in (a, b, bias):
        t.grad = None
    torch.addmm(bias, a, b).backward(grad)
    for g, t in zip(got, (a, b, bias)):
        torch.testing.assert_close(g, t.grad, rtol=1e-5, atol=1e-4)


def test_accumulate_needs_out_and_no_bias():
    a, b = torch.randn(4, 3), torch.randn(3, 2)
    with pytest.raises(ValueError, match="accumulate=True adds to out"):
        rows_mm(a, b, accumulate=True)
    with pytest.raises(ValueError, match="accumulate=True adds to out"):
        rows_mm(a, b, torch.zeros(2), out=torch.zeros(4, 2), accumulate=True)


@pytest.mark.parametrize("layer", ["msgcn", "g3d", "g3d-strided"])
def test_fast_layers_on_the_onednn_route_match_the_reference(layer, convolutions):
    """Float32 layers with enough rows for the route (2 samples × 32 frames × 25 joints):
    the fast kernels' forward and gradients equal the reference's."""
    torch.manual_seed(0)
    module = {
        "msgcn": lambda: DisentangledGraphConv(16, 24, "ntu-rgbd", num_scales=4),
        "g3d": lambda: G3DConv(16, 24, "ntu-rgbd", window_size=3, num_scales=3),
        "g3d-strided": lambda: G3DConv(16, 64, "ntu-rgbd", window_size=5, stride=2),
    }[layer]()
    x = torch.randn(2, 16, 32, 25)
    results = {}
    for setting in ("reference", "fast"):
        module.zero_grad()
        xi = x.clone().requires_grad_()
        with backend.implementation(setting):
            y = module(xi)
        y.backward(torch.ones_like(y))
        grads = [p.grad.clone() for p in module.parameters() if p.grad is not None]
        results[setting] = (y.detach(), xi.grad, grads)
    assert convolutions  # the fast kernels took oneDNN's route
    (y0, gx0, gp0), (y1, gx1, gp1) = results["reference"], results["fast"]
    torch.testing.assert_close(y1, y0, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(gx1, gx0, rtol=1e-4, atol=1e-4)
    for g1, g0 in zip(gp1, gp0):
        torch.testing.assert_close(g1, g0, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: rows_mm(torch.randn(300, 4), torch.randn(5, 3)),
            r"rows_mm: expected a \(M, K\) and b \(K, N\), got \(300, 4\) and \(5, 3\)",
        ),
        (lambda: rows_mm(torch.randn(300, 4, 1), torch.randn(4, 3)), r"got \(300, 4, 1\)"),
        (
            lambda: rows_mm(torch.randn(300, 4), torch.randn(4, 3), torch.randn(4)),
            r"expected bias \(3,\), got \(4,\)",
        ),
        (
            lambda: rows_mm(torch.randn(300, 4), torch.randn(4, 3), out=torch.zeros(300, 4)),
            r"expected out \(300, 3\), got \(300, 4\)",
        ),
        (
            lambda: rows_t_mm(torch.randn(300, 4), torch.randn(299, 3)),
            r"rows_t_mm: expected x \(M, K\) and g \(M, N\), got \(300, 4\) and \(299, 3\)",
        ),
    ],
)
def test_mismatched_operands_are_named(call, match):
    """Refused by name on both routes (300 rows: oneDNN's), not deep inside conv2d."""
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(("depth", "columns"), [(0, 3), (4, 0)])
def test_empty_products_are_products(depth, columns):
    a, b = torch.randn(300, depth), torch.randn(depth, columns)
    torch.testing.assert_close(rows_mm(a, b), a @ b)
    g = torch.randn(300, columns)
    torch.testing.assert_close(rows_t_mm(a, g), a.t() @ g)


class Ops(TorchDispatchMode):
    """Records the names of the operations that ran."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(func.__name__)
        return func(*args, **(kwargs or {}))


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 3),
    c_in=st.integers(1, 9),
    c_out=st.integers(1, 9),
    frames=st.integers(8, 40),
    kernel=st.sampled_from([1, 3]),
    stride=st.integers(1, 2),
    dilation=st.integers(1, 2),
    front=st.integers(0, 2),
    bias=st.booleans(),
    count=st.sampled_from([1, 2]),
)
def test_conv2d_is_the_convolution(
    n, c_in, c_out, frames, kernel, stride, dilation, front, bias, count
):
    """Against float64 ``F.conv2d``, forward and gradients, on 1 and 2 threads."""
    generator = torch.Generator().manual_seed(n * 100 + c_in * 10 + c_out)
    x = torch.randn(n, c_in, frames, 25, generator=generator, requires_grad=True)
    w = torch.randn(c_out, c_in, kernel, 1, generator=generator, requires_grad=True)
    b = torch.randn(c_out, generator=generator, requires_grad=True) if bias else None
    geometry = ((stride, 1), (front, 0), (dilation, 1))
    leaves = [t for t in (x, w, b) if t is not None]
    with threads(count):
        y = products.conv2d(x, w, b, *geometry)
    grad = torch.randn(y.shape, generator=generator)
    got = torch.autograd.grad(y, leaves, grad)
    doubles = [t.detach().double().requires_grad_() for t in leaves]
    expected_y = torch.nn.functional.conv2d(
        doubles[0], doubles[1], doubles[2] if bias else None, *geometry
    )
    expected = torch.autograd.grad(expected_y, doubles, grad.double())
    torch.testing.assert_close(y.double(), expected_y, rtol=1e-5, atol=1e-4)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g.double(), e, rtol=1e-5, atol=1e-4)


def test_conv2d_takes_onednn_where_pytorch_would_not():
    """One thread, two images, a 1×1 kernel: ``F.conv2d`` runs im2col and MKL there."""
    x, w = torch.randn(2, 8, 10, 25), torch.randn(4, 8, 1, 1)
    with threads(1):
        with Ops() as ops:
            products.conv2d(x, w)
        assert ops.names == ["mkldnn_convolution.default"]
        refused = [
            (x.double(), w.double()),  # no oneDNN float64 kernel
            (x[:, :, :5], w),  # 2 × 5 × 25 pixels: below MIN_ROWS
        ]
        for xi, wi in refused:
            with Ops() as ops:
                products.conv2d(xi, wi)
            assert ops.names == ["convolution.default"]
        with Ops() as ops, torch.autocast("cpu", dtype=torch.bfloat16):
            products.conv2d(x, w)
        assert "mkldnn_convolution.default" not in ops.names


def test_conv2d_keeps_the_plain_convolution_in_a_trace():
    x, w = torch.randn(2, 8, 10, 25), torch.randn(4, 8, 1, 1)
    traced = torch.jit.trace(lambda a: products.conv2d(a, w), (x,), check_trace=False)
    assert "mkldnn_convolution" not in str(traced.graph)
    torch.testing.assert_close(traced(x), torch.nn.functional.conv2d(x, w))


def test_conv2d_refuses_what_conv2d_refuses():
    with pytest.raises(RuntimeError, match=r"expected input.*to have 8 channels, but got 4"):
        products.conv2d(torch.randn(2, 4, 10, 25), torch.randn(4, 8, 1, 1))


@pytest.mark.parametrize(
    ("c_in", "stride", "kernel"), [(16, 1, 1), (8, 2, 1), (8, 1, 3), (8, 2, 3)]
)
def test_folded_ms_tcn_on_the_onednn_route_matches_the_reference(c_in, stride, kernel):
    """Float32 inference of every residual kind (identity, a 1×1 projection carrying the
    1×1 branch, a (3 × 1) one) on one thread: the folded kernel equals the reference."""
    torch.manual_seed(0)
    layer = MSTemporalConv(c_in, 16, stride=stride, dilations=(1, 2), residual_kernel_size=kernel)
    layer = randomize(layer).eval()
    x = torch.randn(2, c_in, 32, 25)
    with threads(1), torch.no_grad():
        with Ops() as ops:
            fast = layer(x)
        assert "mkldnn_convolution.default" in ops.names
        with backend.implementation("reference"):
            expected = layer(x)
    torch.testing.assert_close(fast, expected, rtol=1e-5, atol=1e-5)


def test_flop_counter_counts_the_onednn_convolution():
    """Forward and backward, as many multiply-adds as ``F.conv2d``'s (benchmarks and the
    stream's cost tests count them)."""
    x = torch.randn(2, 8, 10, 25, requires_grad=True)
    w = torch.randn(4, 8, 3, 1, requires_grad=True)
    counts = []
    for convolution in (products.conv2d, torch.nn.functional.conv2d):
        with threads(1), FlopCounterMode(display=False) as counter:
            convolution(x, w, None, (2, 1), (1, 0)).sum().backward()
        counts.append(counter.get_total_flops())
    assert counts[0] == counts[1] == 3 * 2 * 4 * 8 * 3 * 2 * 5 * 25
