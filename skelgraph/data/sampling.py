r"""Clip sampling as pyskl's ``UniformSampleFrames`` (and CTR-GCN's N-UCLA feeder:
:func:`replacement_sample_indices`), and test-time averaging over clips.

A sequence of T frames gives ``num_clips`` clips of ``clip_len`` frame indices each
(pyskl's ``pyskl/datasets/pipelines/sampling.py``). Each clip first keeps a random
sub-interval of ``int(ratio T)`` frames (``ratio`` uniform in ``p_interval``, at a random
offset), then picks ``clip_len`` of its n frames:

- n < ``clip_len``: ``clip_len`` consecutive frames from a start (random when training;
  ``i`` or ``i n // num_clips`` for clip ``i`` when testing), wrapping round the
  sequence (indices are taken modulo T);
- ``clip_len`` <= n < 2 ``clip_len``: ``n - clip_len`` of the ``clip_len + 1`` gaps
  around the chosen frames, drawn without replacement, each skip one frame, so the
  clip is increasing and skips at most one frame before, between or after its frames;
- n >= 2 ``clip_len``: n is cut into ``clip_len`` segments at ``i n // clip_len`` and one
  frame is drawn uniformly in each.

Training draws from a :class:`numpy.random.Generator`; testing draws from a fresh
``numpy.random.RandomState(seed)`` every call, the stream pyskl's ``np.random.seed(255)``
gives, so test clips are fixed and equal pyskl's.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from skelgraph.data.augment import SeedLike, as_generator

__all__ = [
    "PYSKL_TEST_SEED",
    "average_clip_scores",
    "random_prefix_length",
    "replacement_sample_indices",
    "uniform_sample_indices",
]

PYSKL_TEST_SEED = 255
"""The seed of pyskl's test-time sampling (``UniformSampleFrames(seed=255)``)."""

Interval = float | tuple[float, float]


class _Draws:
    """One interface over a Generator (training) and a RandomState (pyskl's test stream)."""

    def __init__(self, rng: np.random.Generator | np.random.RandomState) -> None:
        self.rng = rng
        self.legacy = isinstance(rng, np.random.RandomState)

    def uniform(self) -> float:
        return float(self.rng.rand() if self.legacy else self.rng.random())

    def below(self, high):  # int or int array: uniform in [0, high)
        return self.rng.randint(high) if self.legacy else self.rng.integers(high)

    def subset(self, n: int, k: int) -> np.ndarray:
        return self.rng.choice(n, k, replace=False)


def uniform_sample_indices(
    num_frames: int,
    clip_len: int,
    *,
    num_clips: int = 1,
    p_interval: Interval = 1.0,
    test_mode: bool = False,
    rng: SeedLike = None,
    seed: int = PYSKL_TEST_SEED,
) -> np.ndarray:
    """Frame indices of ``num_clips`` clips of ``clip_len`` frames, as pyskl samples them.

    See the module docstring for the rule. With ``test_mode`` the draws come from
    ``numpy.random.RandomState(seed)``, restarted on every call, in pyskl's order, so
    the result is fixed and equals pyskl's ``UniformSampleFrames`` (``test_mode=True``)
    indices; ``rng`` is then unused. One difference: a sub-interval ``int(ratio T)`` that
    rounds to 0 frames is taken as 1 frame (pyskl fails there).

    Parameters
    ----------
    num_frames : int
        T >= 1.
    clip_len : int
        Frames per clip, >= 1.
    num_clips : int
        Clips, >= 1.
    p_interval : float or (float, float)
        The fraction of T each clip is drawn from, fixed or uniform in ``(low, high)``,
        0 < low <= high <= 1; 1 uses the whole sequence.
    test_mode : bool
        Fixed, seeded draws (testing) instead of ``rng``'s (training).
    rng : int, Generator or None
        The training draws (:func:`~skelgraph.data.as_generator`).
    seed : int
        The test draws' seed; pyskl's is 255.

    Returns
    -------
    numpy.ndarray
        int64, shape (num_clips, clip_len), each in [0, T). ``.ravel()`` gives pyskl's
        ``frame_inds``.
    """
    for name, value in (("num_frames", num_frames), ("clip_len", clip_len)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    low, high = _interval(p_interval)
    draws = _Draws(np.random.RandomState(seed) if test_mode else as_generator(rng))
    clips = []
    for i in range(num_clips):
        # pyskl draws the ratio even when the interval is fixed; kept for its stream.
        ratio = draws.uniform() * (high - low) + low
        n = max(1, int(ratio * num_frames))
        offset = int(draws.below(num_frames - n + 1))
        if n < clip_len:
            if test_mode:
                start = i if n < num_clips else i * n // num_clips
            else:
                start = int(draws.below(n))
            inds = np.arange(start, start + clip_len)
        elif n < 2 * clip_len:
            skips = np.zeros(clip_len + 1, np.int64)
            skips[draws.subset(clip_len + 1, n - clip_len)] = 1
            inds = np.arange(clip_len) + np.cumsum(skips)[:-1]
        else:
            bounds = np.arange(clip_len + 1) * n // clip_len
            inds = bounds[:-1] + draws.below(np.diff(bounds))
        clips.append(inds + offset)
    return np.mod(np.stack(clips), num_frames).astype(np.int64)


def replacement_sample_indices(
    num_frames: int, clip_len: int, *, test_mode: bool = False, rng: SeedLike = None
) -> np.ndarray:
    r"""Frame indices of one clip as CTR-GCN's N-UCLA feeder picks them.

    Training: ``clip_len`` indices drawn uniformly from [0, T) with replacement, sorted
    (so a short sequence repeats frames, a long one skips some, and the order of time is
    kept). Testing: evenly spaced, :math:`\lfloor i\,(T-1)/(L-1) \rfloor` for
    :math:`i = 0 \ldots L-1` (``np.linspace(0, T - 1, L).astype(int)``; 0 when L = 1).

    Parameters
    ----------
    num_frames : int
        T >= 1.
    clip_len : int
        L >= 1.
    test_mode : bool
        Evenly spaced (testing) instead of random (training).
    rng : int, Generator or None
        The training draws (:func:`~skelgraph.data.as_generator`).

    Returns
    -------
    numpy.ndarray
        int64, shape (clip_len,), non-decreasing, each in [0, T).
    """
    for name, value in (("num_frames", num_frames), ("clip_len", clip_len)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if test_mode:
        return np.floor(np.linspace(0, num_frames - 1, clip_len)).astype(np.int64)
    return np.sort(as_generator(rng).integers(0, num_frames, size=clip_len)).astype(np.int64)


def random_prefix_length(
    num_frames: int,
    min_fraction: float,
    *,
    multiple: int = 1,
    whole_share: float = 0.0,
    rng: SeedLike = None,
) -> int:
    r"""A random prefix length for training on the beginnings of clips (early recognition).

    Uniform over the multiples of ``multiple`` in
    :math:`[\lceil f\,T \rceil, T]`; ``T`` itself when there is none (a clip shorter
    than ``multiple``, or ``f = 1``). With ``multiple`` the total temporal stride of a
    causal model, every drawn prefix ends where the model's stream emits a prediction, and
    the model on the prefix equals that prediction. With ``whole_share`` = s, the whole
    clip with probability s and the uniform draw otherwise: training that mixes whole
    clips with prefixes.

    Parameters
    ----------
    num_frames : int
        T >= 1, the clip's length.
    min_fraction : float
        f in (0, 1], the shortest prefix as a fraction of T.
    multiple : int
        >= 1; every length drawn is a multiple of it.
    whole_share : float
        s in [0, 1], the probability of the whole clip before the uniform draw.
    rng : int, Generator or None
        The draw (:func:`~skelgraph.data.as_generator`).

    Returns
    -------
    int
        The prefix length, in [1, T].
    """
    if num_frames < 1 or multiple < 1:
        raise ValueError(f"num_frames and multiple must be >= 1, got {num_frames}, {multiple}")
    if not 0.0 < min_fraction <= 1.0:
        raise ValueError(f"min_fraction must be in (0, 1], got {min_fraction}")
    if not 0.0 <= whole_share <= 1.0:
        raise ValueError(f"whole_share must be in [0, 1], got {whole_share}")
    rng = as_generator(rng)
    # s = 0 draws nothing here, so runs without it keep their sequence of lengths
    if whole_share > 0.0 and rng.random() < whole_share:
        return num_frames
    shortest = max(1, math.ceil(min_fraction * num_frames))
    first = -(-shortest // multiple) * multiple
    if first > num_frames:
        return num_frames
    choices = (num_frames - first) // multiple + 1
    return first + multiple * int(rng.integers(choices))


def average_clip_scores(
    scores: np.ndarray | torch.Tensor,
    *,
    num_clips: int | None = None,
    mode: Literal["prob", "score"] = "prob",
) -> np.ndarray | torch.Tensor:
    r"""Average class scores over the clips of each sample, as pyskl does at test time.

    ``"prob"`` (pyskl's default ``average_clips='prob'``) averages the softmax
    probabilities, :math:`\bar p_k = \frac1{n} \sum_i \operatorname{softmax}(s_i)_k`;
    ``"score"`` averages the raw scores (``pyskl/models/recognizers/base.py``,
    ``average_clip``).

    Parameters
    ----------
    scores : numpy.ndarray or torch.Tensor
        (..., num_clips, K) class scores (logits); or, with ``num_clips``, (N · num_clips,
        K) with each sample's clips consecutive, as a batch of stacked clips comes out of
        a model.
    num_clips : int, optional
        Clips per sample, to split a flat batch.
    mode : {"prob", "score"}

    Returns
    -------
    numpy.ndarray or torch.Tensor
        (..., K), the type of ``scores``.

    Examples
    --------
    >>> average_clip_scores(np.log([[[1.0, 3.0], [3.0, 1.0]]])).tolist()
    [[0.5, 0.5]]
    """
    if mode not in ("prob", "score"):
        raise ValueError(f"mode must be 'prob' or 'score', got {mode!r}")
    if not isinstance(scores, torch.Tensor):
        scores = np.asarray(scores)
    if num_clips is not None:
        if scores.ndim != 2 or num_clips < 1 or scores.shape[0] % num_clips:
            raise ValueError(
                f"with num_clips = {num_clips}, scores must be (N * {num_clips}, K), got "
                f"shape {tuple(scores.shape)}"
            )
        scores = scores.reshape(-1, num_clips, scores.shape[-1])
    if scores.ndim < 2:
        raise ValueError(f"scores must be (..., num_clips, K), got shape {tuple(scores.shape)}")
    if isinstance(scores, torch.Tensor):
        probs = torch.softmax(scores, dim=-1) if mode == "prob" else scores
        return probs.mean(dim=-2)
    if mode == "prob":
        shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores = shifted / shifted.sum(axis=-1, keepdims=True)
    return scores.mean(axis=-2)


def _interval(p_interval: Interval) -> tuple[float, float]:
    pair = (p_interval, p_interval) if np.isscalar(p_interval) else tuple(p_interval)
    if len(pair) != 2:
        raise ValueError(f"p_interval must be a float or (low, high), got {p_interval!r}")
    low, high = (float(p) for p in pair)
    if not 0 < low <= high <= 1:
        raise ValueError(f"p_interval must satisfy 0 < low <= high <= 1, got {p_interval!r}")
    return low, high
