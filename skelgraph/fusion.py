"""Score fusion of several input streams (joint, bone, motion), as in the paper's Sec. 3.4."""

from __future__ import annotations

from collections.abc import Sequence

import torch

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
        One per stream; default all 1.

    Returns
    -------
    Tensor
        (N, num_classes) fused scores (not normalised: argmax gives the prediction).

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
    shapes = {tuple(z.shape) for z in logits}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(
            f"stream logits must all be (N, num_classes) of one shape, got "
            f"{[list(z.shape) for z in logits]}"
        )
    return sum(w * z.softmax(-1) for w, z in zip(weights, logits, strict=True))
