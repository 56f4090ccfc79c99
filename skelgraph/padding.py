"""Where a temporal window's zero frames go: centred around the clip, or all in front of it
for a causal layer (one rule for the layers, their kernels and their streams)."""

from __future__ import annotations

__all__ = ["temporal_padding"]


def temporal_padding(span: int, causal: bool) -> tuple[int, int]:
    """(front, back) zero frames around a clip for windows of ``span`` + 1 frames at
    positions s·t: centred (the back one frame longer for an odd span), or all at the
    front when causal, so that output frame t sees no input frame after s·t.

    Parameters
    ----------
    span : int
        Frames between a window's first and last, d·(k - 1).
    causal : bool
        Look back only.
    """
    return (span, 0) if causal else (span // 2, span - span // 2)
