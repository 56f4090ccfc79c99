r"""2-D keypoints as pose estimators give them: pixel coordinates with a confidence.

Estimators (HRNet, ViTPose, OpenPose, ...) give (x, y, score) per joint in pixels of a
frame of height h and width w. :func:`normalize_2d` maps the frame to [-1, 1]²;
:func:`threshold_scores` drops joints the estimator is unsure of. Both take and return
(C, T, V, M) arrays whose channels 0 and 1 are x and y; absent joints (all channels zero)
stay zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from skelgraph.data._checks import as_sequence, check_score_channel

__all__ = ["normalize_2d", "threshold_scores"]


def normalize_2d(data: np.ndarray, img_shape: Sequence[float]) -> np.ndarray:
    r"""Centre and scale pixel coordinates by the image size, as pyskl's ``PreNormalize2D``.

    .. math::

        x' = \frac{x - w/2}{w/2}, \qquad y' = \frac{y - h/2}{h/2}

    the formula of pyskl's ``PreNormalize2D`` in its default ``mode='fix'``
    (``pyskl/datasets/pipelines/pose_related.py``), so the frame spans [-1, 1] on both
    axes and y still points down. Other channels (the score) are left alone. Unlike
    pyskl, which zeroes x and y wherever the score is at most its ``threshold`` (0.01),
    this function only keeps absent joints (all channels zero) at zero; compose it after
    :func:`threshold_scores` for pyskl's masking.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M), C >= 2, channels 0 and 1 the x and y pixel coordinates.
    img_shape : (float, float)
        ``(height, width)`` of the frame, in that order, as pyskl's ``img_shape``.

    Returns
    -------
    numpy.ndarray
        Same shape and dtype.

    Examples
    --------
    >>> x = np.zeros((3, 1, 2, 1), np.float32)
    >>> x[:, 0, 0, 0] = [1920, 0, 0.5]  # top-right corner of a 1080 x 1920 frame
    >>> normalize_2d(x, (1080, 1920))[:, 0, :, 0].tolist()
    [[1.0, 0.0], [-1.0, 0.0], [0.5, 0.0]]
    """
    data = as_sequence(data)
    if data.shape[0] < 2:
        raise ValueError(f"2-D keypoints need channels x and y, got C = {data.shape[0]}")
    h, w = _image_shape(img_shape)
    absent = ~data.any(axis=0)
    out = data.copy()
    out[0] = (data[0] - w / 2) / (w / 2)
    out[1] = (data[1] - h / 2) / (h / 2)
    out[:, absent] = 0
    return out


def threshold_scores(data: np.ndarray, threshold: float, *, score_channel: int = 2) -> np.ndarray:
    """Zero every joint whose confidence is below ``threshold``, all its channels.

    A joint with score < ``threshold`` becomes absent (all zeros), the convention of every
    reader here; a score equal to the threshold is kept. pyskl's ``PreNormalize2D``
    instead zeroes only x and y, for scores at most its threshold, and keeps the score.

    Parameters
    ----------
    data : numpy.ndarray
        Shape (C, T, V, M).
    threshold : float
        Lowest confidence kept.
    score_channel : int
        The confidence channel (2 for (x, y, score)).

    Returns
    -------
    numpy.ndarray
        Same shape and dtype.
    """
    data = as_sequence(data)
    check_score_channel(score_channel, data.shape[0], optional=False)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    low = data[score_channel] < threshold
    out = data.copy()
    out[:, low] = 0
    return out


def _image_shape(img_shape: Sequence[float]) -> tuple[float, float]:
    try:
        h, w = (float(s) for s in img_shape)
    except (TypeError, ValueError):
        raise ValueError(f"img_shape must be (height, width), got {img_shape!r}") from None
    if not (np.isfinite(h) and np.isfinite(w) and h > 0 and w > 0):
        raise ValueError(f"img_shape must be positive (height, width), got {img_shape!r}")
    return h, w
