"""Score fusion of several input streams (joint, bone, motion), as in the paper's Sec. 3.4."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import torch

from skelgraph._validation import check_finite_scores

__all__ = ["fuse_streams"]


def fuse_streams(
    logits: Sequence[torch.Tensor], weights: Sequence[float] | None = None
) -> torch.Tensor:
    r"""Fuse the predictions of several streams: the weighted sum of their softmax scores.

    .. math::

        s = \sum_i w_i \operatorname{softmax}(z_i)

    MS-G3D sums the joint and bone streams with equal weights (Sec. 3.4); pyskl weighs
    joint, bone, joint motion and bone motion 2 : 2 : 1 : 1.

    Parameters
    ----------
    logits : sequence of Tensor
        One (N, num_classes) tensor per stream, all the same shape.
    weights : sequence of float, optional
        One per stream, finite and not all zero; default all 1.

    Returns
    -------
    Tensor
        (N, num_classes) fused scores (not normalised: argmax gives the prediction).

    Raises
    ------
    ValueError
        No stream, a number of weights other than of streams, a weight that is not a
        finite real number or all weights zero, logits not all (N, num_classes) of one
        shape, or a NaN or infinite logit (the message names the stream, sample and
        class): no fused score could rank it.

    Examples
    --------
    >>> import torch
    >>> joint, bone = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    >>> fuse_streams([joint, bone]).argmax(-1)
    tensor([0])
    """
    logits = list(logits)
    if not logits:
        raise ValueError("fuse_streams needs at least one stream's logits")
    weights = [1.0] * len(logits) if weights is None else list(weights)
    if len(weights) != len(logits):
        raise ValueError(f"got {len(logits)} streams but {len(weights)} weights")
    if not all(isinstance(w, Real) and math.isfinite(w) for w in weights) or not any(weights):
        raise ValueError(f"weights must be finite real numbers, not all zero, got {weights}")
    shapes = {tuple(z.shape) for z in logits}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(
            f"stream logits must all be (N, num_classes) of one shape, got "
            f"{[list(z.shape) for z in logits]}"
        )
    for i, z in enumerate(logits):
        check_finite_scores(z, f"the logits of stream {i}")
    return sum(w * z.softmax(-1) for w, z in zip(weights, logits, strict=True))
