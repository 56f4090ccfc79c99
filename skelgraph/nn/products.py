r"""Matrix products of rows, by the CPU library that runs them fastest.

PyTorch multiplies float matrices on CPU with two libraries: ``torch.mm`` and its
relatives call the build's BLAS (MKL), a convolution calls oneDNN. They are not equally
fast everywhere: on the AVX-512 AMD EPYC CPUs this project measures on, MKL does not use
the full AVX-512 width and oneDNN's float32 product is far faster (the two GEMM peaks of
``benchmarks/results/speed-limit.md``; the route below made MS-G3D Net faster there,
``products.md``); on an AVX2-only EPYC both reach the same GEMM peak, and the route made
the model slower (``products-avx2.md``). So the route is taken only where
PyTorch's CPU code runs AVX-512 (:data:`ONEDNN_FLOAT32`, decided once, at import).

The fast kernels' largest products have a left operand of rows, one per (sample, frame,
joint), and a small right operand of weights:

.. math::

    Y = A B \quad (A: M \times K \text{ rows}, B: K \times N)

is a 1×1 convolution of the rows viewed as a channels-last batch (N output channels, the
rows as pixels), with :math:`B^\top` as its kernel: no copy of A, and the output rows
are Y's. :func:`rows_mm` runs it so where that is the faster path (:func:`uses_onednn`) and
as ``torch.mm`` elsewhere. A weight's gradient sums over the rows,

.. math::

    \nabla W = X^\top G \quad (X: M \times K, G: M \times N \text{ rows}),

which is that convolution's weight gradient: :func:`rows_t_mm`. Either way the same sums in
another order: float rounding apart, the same numbers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torch.utils.flop_counter

__all__ = ["MIN_ROWS", "ONEDNN_FLOAT32", "conv2d", "rows_mm", "rows_t_mm", "uses_onednn"]

MIN_ROWS = 256
"""Rows below which a product stays ``torch.mm``: with a stream step's few rows (50 for
one NTU-60 frame) the convolution's set-up costs what its speed saves (measured equal
at 50 rows, 2× faster from a few hundred)."""


def _onednn_beats_blas(capability: str) -> bool:
    """Whether oneDNN's float32 product outruns the BLAS on a CPU whose vector code PyTorch
    runs at ``capability`` (``torch.backends.cpu.get_cpu_capability()``): AVX-512 only
    (measured on AMD EPYC; on AVX2 MKL is as fast, and on other ISAs unmeasured)."""
    return capability.startswith("AVX512")


ONEDNN_FLOAT32 = _onednn_beats_blas(torch.backends.cpu.get_cpu_capability())
"""Whether float32 products of rows take oneDNN's route on this CPU (read at each call,
so a test may set it)."""

# Output floats per convolution: a larger fresh output is mapped afresh by the allocator
# on every call, and its page faults cost more than the product saves (a 46 MB output ran
# at half torch.mm's speed); chunks of about 4 MB are reused from the heap.
CHUNK_FLOATS = 1 << 20
# PyTorch gives a one-thread 1×1 convolution to oneDNN only from a batch of 16 images on.
_BATCH = 16


def _batch(rows: int) -> int:
    """Images to cut ``rows`` into: the least divisor from 16 to 64 (as fast as one image
    on two threads, measured), else 1."""
    return next((d for d in range(_BATCH, 4 * _BATCH + 1) if rows % d == 0), 1)


def _recorded() -> bool:
    """Whether ``torch.compile``, ``torch.export`` or a trace records the call: the graph
    keeps the plain operation, with no guard on its shapes."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.compiler.is_exporting()


def _onednn_float32(*tensors: torch.Tensor) -> bool:
    """float32 on CPU outside autocast (bfloat16 and float16 products already run in
    oneDNN; float64 has no oneDNN kernel), on a CPU where oneDNN is the faster
    (:data:`ONEDNN_FLOAT32`), oneDNN available."""
    return (
        ONEDNN_FLOAT32
        and all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors)
        and not torch.is_autocast_enabled("cpu")
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
    )


def _worth_onednn(rows: int, c_in: int, c_out: int, *tensors: torch.Tensor) -> bool:
    """The shape and type rule both routes share: at least :data:`MIN_ROWS` rows (pixels)
    first (a stream step's products stop here), a channel in and out (a convolution needs
    them), then :func:`_onednn_float32`."""
    return rows >= MIN_ROWS and c_in > 0 < c_out and _onednn_float32(*tensors)


def uses_onednn(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether :func:`rows_mm` runs ``a @ b`` (and :func:`rows_t_mm` ``a.T @ b``) as
    oneDNN's convolution: in eager mode (checked first, so that a recorded graph gets no
    guard on a symbolic shape), at least :data:`MIN_ROWS` rows and a channel in and out,
    on one thread rows that split into 16 to 64 images, float32 on CPU outside autocast
    (bfloat16 and float16 products already run in oneDNN; float64 has no oneDNN kernel),
    an AVX-512 CPU (:data:`ONEDNN_FLOAT32`) and oneDNN available.

    Parameters
    ----------
    a, b : Tensor
        (M, K) and (K, N).
    """
    if _recorded():
        return False
    rows = a.shape[0]
    return _worth_onednn(rows, a.shape[-1], b.shape[-1], a, b) and (
        torch.get_num_threads() > 1 or _batch(rows) > 1
    )


def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (0, 0),
    dilation: tuple[int, int] = (1, 1),
) -> torch.Tensor:
    r"""``F.conv2d`` (no groups), by oneDNN wherever the rule of :func:`uses_onednn` holds
    for its pixels as rows:

    .. math::

        Y_{n, o, h, w} = b_o + \sum_{c, i, j} W_{o, c, i, j}\,
        X_{n, c,\, s_h h + d_h i - p_h,\, s_w w + d_w j - p_w}

    PyTorch itself sends a float32 convolution to oneDNN except one case: on one thread,
    a 1×1 kernel over fewer than 16 images runs as ``im2col`` and an MKL product, at half
    the speed (a 1×1 convolution of (2, 192, 100, 25) to 192 channels: 3.2 ms against
    1.6 ms in oneDNN, measured on AVX-512). Here that case goes to oneDNN too where
    :data:`ONEDNN_FLOAT32`; gradients flow through oneDNN's convolution backward.

    Parameters
    ----------
    x : Tensor
        (N, C, H, W).
    weight : Tensor
        (C', C, kH, kW).
    bias : Tensor, optional
        (C',).
    stride, padding, dilation : (int, int)
        As ``F.conv2d``'s.

    Returns
    -------
    Tensor
        (N, C', H', W'), as ``F.conv2d``.
    """
    if _recorded() or x.dim() != 4 or weight.dim() != 4 or x.shape[1] != weight.shape[1]:
        return F.conv2d(x, weight, bias, stride, padding, dilation)  # its own errors
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    tensors = (x, weight) if bias is None else (x, weight, bias)
    if _worth_onednn(pixels, x.shape[1], weight.shape[0], *tensors):
        return torch.ops.aten.mkldnn_convolution(
            x, weight, bias, list(padding), list(stride), list(dilation), 1
        )
    return F.conv2d(x, weight, bias, stride, padding, dilation)


def _mkldnn_convolution_flops(x_shape, w_shape, _bias, _padding, _stride, _dilation, _groups,
                              *, out_shape, **kwargs) -> int:  # fmt: skip
    """What ``FlopCounterMode`` counts for the oneDNN convolution :func:`conv2d` calls: a
    convolution's (PyTorch 2.13 has no formula for it, and counted it as nothing)."""
    return torch.utils.flop_counter.conv_flop_count(x_shape, w_shape, out_shape, transposed=False)


if torch.ops.aten.mkldnn_convolution not in torch.utils.flop_counter.flop_registry:
    torch.utils.flop_counter.register_flop_formula(torch.ops.aten.mkldnn_convolution)(
        _mkldnn_convolution_flops
    )


def _check_shapes(name: str, expected: str, a: torch.Tensor, b: torch.Tensor, ok: bool) -> None:
    if not ok:
        raise ValueError(f"{name}: expected {expected}, got {tuple(a.shape)} and {tuple(b.shape)}")


def _pixels(rows: torch.Tensor) -> torch.Tensor:
    """(M, K) contiguous rows as a channels-last (batch, K, M / batch, 1) view."""
    count, depth = rows.shape
    batch = _batch(count)
    return rows.view(batch, count // batch, 1, depth).permute(0, 3, 1, 2)


def _conv_rows(a: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """(M, K) contiguous rows times ``kernel`` (N, K, 1, 1)ᵀ as a 1×1 convolution: (M, N)."""
    return F.conv2d(_pixels(a), kernel).permute(0, 2, 3, 1).reshape(a.shape[0], -1)


def rows_mm(
    a: torch.Tensor,
    b: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    out: torch.Tensor | None = None,
    accumulate: bool = False,
) -> torch.Tensor:
    r"""``a @ b (+ bias)``, by oneDNN where :func:`uses_onednn`, else ``torch.mm``.

    .. math::

        Y = A B + \mathbf{1} b^\top \quad (\text{or } Y \mathrel{+}= A B \text{ into ``out``})

    Parameters
    ----------
    a : Tensor
        (M, K); copied to rows if it is not already (a transposed view, say).
    b : Tensor
        (K, N).
    bias : Tensor, optional
        (N,), added to every row.
    out : Tensor, optional
        (M, N): written (or added to, with ``accumulate``) instead of a new tensor.
    accumulate : bool
        Add the product to ``out`` (``out.addmm_(a, b)``); needs ``out`` and no bias.

    Returns
    -------
    Tensor
        (M, N), ``out`` if given.
    """
    if accumulate and (out is None or bias is not None):
        raise ValueError("rows_mm: accumulate=True adds to out: pass out and no bias")
    _check_shapes("rows_mm", "a (M, K) and b (K, N)", a, b, a.dim() == b.dim() == 2 and (
        a.shape[1] == b.shape[0]))  # fmt: skip
    rows, columns = a.shape[0], b.shape[1]
    if bias is not None and tuple(bias.shape) != (columns,):
        raise ValueError(f"rows_mm: expected bias ({columns},), got {tuple(bias.shape)}")
    if out is not None and tuple(out.shape) != (rows, columns):
        raise ValueError(f"rows_mm: expected out ({rows}, {columns}), got {tuple(out.shape)}")
    if not uses_onednn(a, b):
        if accumulate:
            return out.addmm_(a, b)  # type: ignore[union-attr]
        if bias is None:
            return torch.mm(a, b, out=out)
        return torch.addmm(bias, a, b, out=out)
    a = a.contiguous()
    kernel = b.t().contiguous()[:, :, None, None]
    step = max(_BATCH, CHUNK_FLOATS // max(1, columns) // _BATCH * _BATCH)
    if out is None and rows <= step:
        y = _conv_rows(a, kernel)
        return y if bias is None else y.add_(bias)
    if out is None:
        out = a.new_empty(rows, columns)
    for start in range(0, rows, step):
        chunk = _conv_rows(a[start : start + step], kernel)
        target = out[start : start + step]
        if accumulate:
            target.add_(chunk)
        elif bias is None:
            target.copy_(chunk)
        else:
            torch.add(chunk, bias, out=target)
    return out


def rows_t_mm(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    r"""``x.T @ g``, a sum over rows, by oneDNN where :func:`uses_onednn` (for ``x`` as the
    rows), else ``torch.mm``.

    .. math::

        W = X^\top G = \sum_r x_r g_r^\top

    It is the weight gradient of the 1×1 convolution with input rows X and output
    gradient rows G, which oneDNN computes without forming either transpose.

    Parameters
    ----------
    x : Tensor
        (M, K); copied to rows if it is not already.
    g : Tensor
        (M, N); likewise.

    Returns
    -------
    Tensor
        (K, N), a transposed view where oneDNN computed it.
    """
    _check_shapes("rows_t_mm", "x (M, K) and g (M, N)", x, g, x.dim() == g.dim() == 2 and (
        x.shape[0] == g.shape[0]))  # fmt: skip
    if not uses_onednn(x, g):
        return torch.mm(x.t(), g)
    x, g = x.contiguous(), g.contiguous()
    weight = x.new_empty(g.shape[1], x.shape[1], 1, 1)  # its shape only
    _, grad_weight, _ = torch.ops.aten.convolution_backward(
        _pixels(g), _pixels(x), weight, None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1,
        [False, True, False],
    )  # fmt: skip
    return grad_weight.view(g.shape[1], x.shape[1]).t()
