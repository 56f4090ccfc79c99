r"""Project-first multi-scale graph convolution over sliding windows: the fast path.

The layers compute :math:`\sum_k \hat A_k X \Theta_k` by aggregating first (K·C channels
per window node) and projecting after, as the authors do. Aggregation acts on nodes and
the projection on channels, so the two commute:

.. math::

    \sum_k \hat A_k\, X\, \Theta_k = \sum_k \hat A_k\, (X \Theta_k)

Projecting first has two gains. A frame is projected once, not once per window that
contains it (τ times at stride 1, τ/2 at stride 2). And with the projected frames laid
out as (N, C', T, K, V), every window is a contiguous run of rows, so the window
aggregation is τ plain matrix products over strided row views (one per window position),
with no unfolded copy of the input and no K·τ-fold expanded tensor.
:func:`sliding_window_matmul` is that product, with a backward that writes the input
gradient in place. Results equal the aggregate-first path up to float rounding; the
multiply-add counts of both orders are given by :func:`multiply_adds`, from which
:class:`~skelgraph.G3DConv`'s plan chooses (:mod:`skelgraph.nn.backend`).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from skelgraph.amp import compute_dtype
from skelgraph.nn.products import rows_mm, rows_t_mm
from skelgraph.padding import temporal_padding

__all__ = [
    "aggregate_windows",
    "frame_projection",
    "multiply_adds",
    "project_frames",
    "project_then_aggregate",
    "sliding_window_matmul",
    "window_blocks",
]


def _windows(z: torch.Tensor, w: torch.Tensor, rows: int, stride: int, dilation: int, out=None):
    """Forward of the sliding-window product (see :func:`sliding_window_matmul`), into
    ``out`` (R, Q) if given; z and w share a dtype."""
    y = rows_mm(z[::stride], w[0], out=out)  # position 0 covers every output row
    for j in range(1, w.shape[0]):
        zj = z[j * dilation :: stride][:rows]
        rows_mm(zj, w[j], out=y[: zj.shape[0]], accumulate=True)
    return y


def _windows_backward(z, w, grad, rows, stride, dilation, need_z, need_w):
    """Gradients of the sliding-window product for z and w (each or ``None``)."""
    grad_z = torch.zeros_like(z) if need_z else None
    grad_w = []
    for j in range(w.shape[0]):
        zj = z[j * dilation :: stride][:rows]
        m = zj.shape[0]
        if grad_z is not None:  # rows of one position never overlap: write in place
            rows_mm(grad[:m], w[j].t(), out=grad_z[j * dilation :: stride][:m], accumulate=True)
        if need_w:
            grad_w.append(rows_t_mm(zj, grad[:m]))
    return grad_z, torch.stack(grad_w) if grad_w else None


class _SlidingWindowMatmul(torch.autograd.Function):
    """``y[r] = sum_j z[j·d + s·r] @ w[j]`` for rows r < ``rows`` (see the public wrapper)."""

    @staticmethod
    def forward(
        ctx: Any, z: torch.Tensor, w: torch.Tensor, rows: int, stride: int, dilation: int
    ) -> torch.Tensor:
        ctx.save_for_backward(z, w)
        ctx.geometry = (rows, stride, dilation)
        return _windows(z, w, rows, stride, dilation)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        z, w = ctx.saved_tensors
        grad = grad.contiguous()
        need_z, need_w = ctx.needs_input_grad[:2]
        grads = _windows_backward(z, w, grad, *ctx.geometry, need_z, need_w)
        return *grads, None, None, None


def _project(x: torch.Tensor, theta: torch.Tensor, k: int, front: int, padded: int):
    """Frames (..., C, T, V) of one sample or a batch, projected to K·C' channels and laid
    out (..., C', T_pad, K, V), zero-padded, as (…·C'·T_pad, K·V) rows: a window's τ
    frames are then τ·K·V consecutive values of a row run."""
    *lead, c, t, v = x.shape
    frames, theta = x.reshape(*lead, c, t * v), theta.to(x.dtype)
    # A sample: its K·C' weight rows times its frames; a batch: one broadcast product.
    z = torch.matmul(theta, frames) if lead else rows_mm(theta, frames)
    z = z.view(*lead, k, -1, t, v).movedim(-4, -2)  # (..., C', T, K, V)
    return F.pad(z, (0, 0, 0, 0, front, padded - front - t)).reshape(-1, k * v)


class _ProjectThenAggregate(torch.autograd.Function):
    """Eager path of :func:`project_then_aggregate`, one sample at a time.

    The projected frames of a sample (K·C' per frame) are built, used and dropped; the
    backward rebuilds them instead of keeping the whole batch's, which saves K·C'/C times
    the input's memory for one more projection.
    """

    @staticmethod
    def forward(ctx: Any, x, theta, blocks, geometry):
        k, front, padded, stride, dilation = geometry
        rows = theta.shape[0] // k * (padded // stride)  # per sample: C'·P
        # Every operand in the products' dtype once (autocast's, if on): the loop then
        # casts nothing, and the backward reuses these copies.
        dtype = compute_dtype(x)
        x, theta, blocks = x.to(dtype), theta.to(dtype), blocks.to(dtype)
        y = x.new_empty(x.shape[0], rows, blocks.shape[2])
        for i in range(x.shape[0]):  # each sample's product straight into its rows
            _windows(_project(x[i], theta, k, front, padded), blocks, rows, stride, dilation, y[i])
        ctx.save_for_backward(x, theta, blocks)
        ctx.geometry = geometry
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        x, theta, blocks = ctx.saved_tensors
        k, front, padded, stride, dilation = ctx.geometry
        n, c, t, v = x.shape
        rows = grad.shape[1]
        grad = grad.to(x.dtype)
        need_x, need_theta, need_blocks = ctx.needs_input_grad[:3]
        grad_x = x.new_empty(x.shape) if need_x else None  # contiguous, whatever x is
        # Parameter gradients sum over the samples: accumulated in float32 (or float64)
        # even when the products run in bfloat16 or float16 (autocast).
        acc = torch.promote_types(x.dtype, torch.float32)
        grad_theta = torch.zeros_like(theta, dtype=acc) if need_theta else None
        grad_blocks = torch.zeros_like(blocks, dtype=acc) if need_blocks else None
        for i in range(n):
            z = _project(x[i], theta, k, front, padded)
            grad_z, grad_w = _windows_backward(
                z, blocks, grad[i], rows, stride, dilation, need_x or need_theta, need_blocks
            )
            if grad_blocks is not None:
                grad_blocks += grad_w
            if grad_z is None:
                continue
            grad_z = grad_z.view(-1, padded, k, v)[:, front : front + t]  # (C', T, K, V)
            grad_z = grad_z.permute(2, 0, 1, 3).reshape(theta.shape[0], t * v)
            if grad_theta is not None:
                grad_theta += rows_mm(grad_z, x[i].reshape(c, t * v).t())
            if grad_x is not None:
                torch.mm(theta.t(), grad_z, out=grad_x[i].view(c, t * v))
        return grad_x, grad_theta, grad_blocks, None


def sliding_window_matmul(
    z: torch.Tensor, weight: torch.Tensor, rows: int, stride: int = 1, dilation: int = 1
) -> torch.Tensor:
    r"""Sum of matrix products over a sliding window of rows.

    .. math::

        Y_r = \sum_{j=0}^{\tau-1} Z_{\,j d + s r}\; W_j, \qquad r = 0, \dots, R - 1

    ``z`` has exactly R·s rows; rows past its end count as zero. Equal to unfolding τ
    rows per output row and one product with the stacked :math:`W_j`, without
    materialising the unfold: each position j is one matrix product over a strided view
    of ``z``, and the backward accumulates the gradient of ``z`` in place.

    Parameters
    ----------
    z : Tensor
        (R·s, P).
    weight : Tensor
        (τ, P, Q), one matrix per window position.
    rows : int
        R, the number of output rows.
    stride, dilation : int
        s and d.

    Returns
    -------
    Tensor
        (R, Q).
    """
    if z.dim() != 2 or weight.dim() != 3 or z.shape[1] != weight.shape[1]:
        raise ValueError(
            f"expected z (rows, P) and weight (τ, P, Q), got {tuple(z.shape)} and "
            f"{tuple(weight.shape)}"
        )
    if stride < 1 or dilation < 1 or weight.shape[0] < 1:
        raise ValueError(
            f"expected stride >= 1, dilation >= 1 and at least one window position, got "
            f"stride={stride}, dilation={dilation}, weight {tuple(weight.shape)}"
        )
    if z.dtype != weight.dtype:
        raise ValueError(f"z and weight must share a dtype, got {z.dtype} and {weight.dtype}")
    if z.shape[0] != rows * stride:
        raise ValueError(f"expected z with rows·stride = {rows * stride} rows, got {z.shape[0]}")
    return _SlidingWindowMatmul.apply(z, weight, rows, stride, dilation)


def _geometry(
    frames: int, window_size: int, dilation: int, stride: int, causal: bool = False
) -> tuple[int, int, int]:
    """Output frames, front padding (``span // 2``, or ``span`` when causal) and padded
    length.

    The padded length is a multiple of the stride, s·(T' + ⌈span / s⌉), long enough for
    every window and for the front padding with the T frames; no ``max``, so symbolic
    shapes stay simple under ``torch.export``.
    """
    span = dilation * (window_size - 1)
    # Ceilings as positive floor divisions: ONNX integer division truncates toward zero.
    out_frames = (frames + stride - 1) // stride
    front = temporal_padding(span, causal)[0]
    return out_frames, front, stride * (out_frames + (span + stride - 1) // stride)


def multiply_adds(
    order: str,
    in_channels: int,
    out_channels: int,
    num_scales: int,
    num_nodes: int,
    frames: int = 300,
    window_size: int = 1,
    dilation: int = 1,
    stride: int = 1,
) -> int:
    """Multiply-adds per sample of the graph convolution, aggregation and projection.

    ``order`` is ``"aggregate-first"`` (the reference path: aggregate K·C channels over
    every window node, then project) or ``"project-first"`` (project every frame to
    K·C' channels, then aggregate windows). The choice between them depends only on
    the channel counts and the window: project-first wins when C' is not much larger
    than C, and more so for larger windows at small strides.

    Project-first counts every window position of all ⌈T_pad / s⌉ windows per channel;
    the kernel skips the few products of the last sample's last windows that fall past
    the end of the batch (fewer than τ·d/s rows per position).

    Parameters
    ----------
    order : {"aggregate-first", "project-first"}
        Which computation to count.
    in_channels : int
        C, channels of the input.
    out_channels : int
        C', channels of the projection (a G3D pathway's embedding width).
    num_scales : int
        K, scales of the (window) graph.
    num_nodes : int
        V, joints of the skeleton (a window has τ·V nodes).
    frames : int
        T of the input (the layers decide at T = 300).
    window_size, dilation, stride : int
        τ, d and s of the windows (τ = 1: a frame-wise graph convolution).

    Returns
    -------
    int
        Multiply-adds for one sample.
    """
    out_frames, _, padded = _geometry(frames, window_size, dilation, stride)
    nodes = window_size * num_nodes
    if order == "aggregate-first":
        per_window = nodes * num_scales * nodes * in_channels
        per_window += nodes * num_scales * in_channels * out_channels
        return out_frames * per_window
    if order == "project-first":
        projection = frames * num_nodes * in_channels * num_scales * out_channels
        return projection + (padded // stride) * nodes * num_scales * nodes * out_channels
    raise ValueError(f"order must be 'aggregate-first' or 'project-first', got {order!r}")


def project_then_aggregate(
    x: torch.Tensor,
    adjacency: torch.Tensor,
    weight: torch.Tensor,
    window_size: int = 1,
    dilation: int = 1,
    stride: int = 1,
    *,
    whole_tensor: bool = False,
    causal: bool = False,
) -> torch.Tensor:
    r"""Multi-scale graph convolution over sliding windows, projecting first.

    .. math::

        Y_{t} = \sum_{k} \hat A_k\, \big([X_{(\tau)}]_t\, \Theta_k\big)

    the same result as projecting the output of
    :class:`~skelgraph.nn.MultiScaleAggregation` on
    :func:`~skelgraph.nn.unfold_windows`'s windows (without the bias).

    Parameters
    ----------
    x : Tensor
        (N, C, T, V).
    adjacency : Tensor
        (K, τV, τV), the effective scales of the window graph (τ = 1: the skeleton's).
    weight : Tensor
        (C', K·C), the projection with scale-major input channels ``k·C + c``
        (a 1×1 convolution's weight, flattened).
    window_size, dilation, stride : int
        τ, d and s of the windows.
    whole_tensor : bool
        Whole-batch operations that compilers record (:func:`torch.compile`,
        :func:`torch.export.export`; a loop over a symbolic batch would unroll or
        specialise it) instead of the per-sample custom autograd function.
    causal : bool
        Windows that end on frame s·t (zero padding at the front only), as
        :func:`~skelgraph.nn.unfold_windows` with ``causal=True``.

    Returns
    -------
    Tensor
        (N, C', ceil(T / s), τV), window nodes frame-major.
    """
    if x.dim() != 4:
        raise ValueError(f"expected x (N, C, T, V), got shape {tuple(x.shape)}")
    n, c, t, v = x.shape
    k = adjacency.shape[0]
    e = weight.shape[0]
    tau = window_size
    if adjacency.shape != (k, tau * v, tau * v) or weight.shape != (e, k * c):
        raise ValueError(
            f"expected adjacency (K, τV, τV) = (K, {tau * v}, {tau * v}) and weight "
            f"(C', K·C) with C={c}, got adjacency {tuple(adjacency.shape)} and weight "
            f"{tuple(weight.shape)}"
        )
    out_frames, front, padded = _geometry(t, tau, dilation, stride, causal)
    theta, blocks = frame_projection(weight, k), window_blocks(adjacency, tau)
    if whole_tensor:
        z = _project(x, theta, k, front, padded)
        rows = n * e * (padded // stride)  # windows past out_frames: computed, dropped
        y = sliding_window_matmul(z, blocks.to(z.dtype), rows, stride, dilation)
    else:
        geometry = (k, front, padded, stride, dilation)
        y = _ProjectThenAggregate.apply(x, theta, blocks, geometry)
    return y.view(n, e, padded // stride, tau * v)[:, :, :out_frames]


def frame_projection(weight: torch.Tensor, num_scales: int) -> torch.Tensor:
    """Θ (C', K·C), scale-major input channels, as the (K·C', C) matrix that projects a
    frame to all K scales at once.

    Parameters
    ----------
    weight : Tensor
        Θ, (C', K·C), input channel ``k·C + c``.
    num_scales : int
        K.
    """
    e, k = weight.shape[0], num_scales
    return weight.reshape(e, k, -1).transpose(0, 1).reshape(k * e, -1)


def window_blocks(adjacency: torch.Tensor, window_size: int) -> torch.Tensor:
    r"""The (K, τV, τV) scales of a window graph as τ blocks (τ, K·V, τV), one per window
    position j: ``blocks[j, k·V + u, i·V + v]`` = :math:`\hat A_k[(i, v), (j, u)]`.

    Parameters
    ----------
    adjacency : Tensor
        (K, τV, τV), window nodes frame-major.
    window_size : int
        τ.
    """
    k, tau = adjacency.shape[0], window_size
    v = adjacency.shape[-1] // tau
    blocks = adjacency.reshape(k, tau, v, tau, v).permute(3, 0, 4, 1, 2)
    return blocks.reshape(tau, k * v, tau * v)


def project_frames(x: torch.Tensor, theta: torch.Tensor, num_scales: int) -> torch.Tensor:
    r"""The first stage of project-first on its own: every frame projected once to all K
    scales, :math:`X_t \Theta_k`.

    Shapes: ``x`` (N, C, T, V) and ``theta`` (K·C', C) from :func:`frame_projection` to
    (N, C', T, K·V), element ``[n, e, t, k·V + u]`` = :math:`(X_t \Theta_k)_{u, e}`. Zero
    frames project to zero (no bias), so zero padding commutes with this stage.

    Parameters
    ----------
    x : Tensor
        (N, C, T, V).
    theta : Tensor
        (K·C', C), cast to ``x``'s dtype.
    num_scales : int
        K.
    """
    n, c, t, v = x.shape
    k = num_scales
    if theta.shape[1] != c or theta.shape[0] % k:
        raise ValueError(f"expected theta (K·C', C) with K={k}, C={c}, got {tuple(theta.shape)}")
    # One product with a row per (sample, frame, joint) (wider than one per sample).
    z = rows_mm(x.permute(0, 2, 3, 1).reshape(n * t * v, c), theta.to(x.dtype).t())
    return z.view(n, t, v, k, -1).permute(0, 4, 1, 3, 2).reshape(n, -1, t, k * v)


def aggregate_windows(
    z: torch.Tensor, blocks: torch.Tensor, dilation: int = 1, stride: int = 1
) -> torch.Tensor:
    r"""The second stage of project-first on the complete windows of projected frames,
    without padding: window t takes frames :math:`s t + d i`, i = 0..τ-1, and

    .. math::

        Y_{t, (i, v)} = \sum_{j, k, u} \hat A_k[(i, v), (j, u)]\; Z_{s t + d j,\, k, u}

    as τ matrix products, one per window position j.

    Shapes: ``z`` (N, C', T, K·V) from :func:`project_frames`, ``blocks`` (τ, K·V, τV) from
    :func:`window_blocks`; output (N, C', ⌊(T - d(τ - 1) - 1) / s⌋ + 1, τV), window nodes
    frame-major, nodes outermost in memory (a view of the (τV, N, C', T') product).

    Parameters
    ----------
    z : Tensor
        (N, C', T, K·V), the projected frames.
    blocks : Tensor
        (τ, K·V, τV), cast to ``z``'s dtype.
    dilation : int
        d, frames between a window's frames.
    stride : int
        s, frames between windows.
    """
    n, e, t, kv = z.shape
    tau = blocks.shape[0]
    out_frames = (t - dilation * (tau - 1) - 1) // stride + 1
    if out_frames <= 0 or blocks.shape[1] != kv:
        raise ValueError(
            f"expected z (N, C', T, K·V) with at least d(τ-1)+1 = {dilation * (tau - 1) + 1} "
            f"frames and blocks (τ, K·V, τV) with K·V = {kv}, got z {tuple(z.shape)} and "
            f"blocks {tuple(blocks.shape)}"
        )
    blocks = blocks.to(z.dtype).transpose(1, 2)  # (τ, τV, K·V)
    length = stride * (out_frames - 1) + 1

    def rows(j: int) -> torch.Tensor:
        # As a matrix: matmul would broadcast a strided 4-D operand as C' tiny products.
        return z.narrow(2, j * dilation, length)[:, :, ::stride].reshape(-1, kv)

    # The transposed product, (τV, K·V) blocks times (K·V, N·C'·T') frames: the same sums,
    # measured 15-20 % faster than the frames times the blocks at a stream step's sizes.
    y = torch.mm(blocks[0], rows(0).t())
    for j in range(1, tau):
        y.addmm_(blocks[j], rows(j).t())
    return y.view(-1, n, e, out_frames).permute(1, 2, 3, 0)
