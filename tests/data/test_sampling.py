"""Clip sampling (pyskl's UniformSampleFrames) against a brute-force segment rule."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skelgraph.data import (
    average_clip_scores,
    random_prefix_length,
    uniform_sample_indices,
)


def _allowed_clips(n: int, clip_len: int) -> set[tuple[int, ...]]:
    """Every clip the rule can give for n frames (whole sequence, p_interval = 1)."""
    if n < clip_len:  # consecutive frames from any start, wrapping round
        return {tuple((s + j) % n for j in range(clip_len)) for s in range(n)}
    if n < 2 * clip_len:  # increasing, at most one frame skipped in each gap
        out = set()
        for clip in itertools.combinations(range(n), clip_len):
            gaps = np.diff((-1, *clip, n)) - 1
            if gaps.max() <= 1:
                out.add(clip)
        return out
    bounds = [i * n // clip_len for i in range(clip_len + 1)]  # one frame per segment
    return set(itertools.product(*(range(a, b) for a, b in itertools.pairwise(bounds))))


@pytest.mark.parametrize("n, clip_len", [(2, 3), (4, 4), (5, 3), (6, 4), (7, 3), (9, 2), (10, 4)])
def test_training_clips_are_exactly_the_segment_rule(n, clip_len):
    allowed = _allowed_clips(n, clip_len)
    rng = np.random.default_rng(0)
    seen = {tuple(uniform_sample_indices(n, clip_len, rng=rng)[0].tolist()) for _ in range(3000)}
    assert seen == allowed  # nothing outside the rule, and every allowed clip drawn


def test_training_segments_are_uniform():
    # n = 12, clip_len = 3: segments [0, 4), [4, 8), [8, 12), one frame each, uniformly
    inds = np.stack([uniform_sample_indices(12, 3, rng=s)[0] for s in range(4000)])
    for j in range(3):
        counts = np.bincount(inds[:, j] - 4 * j, minlength=4)
        assert counts.min() > 850 and counts.max() < 1150


# Indices of pyskl's UniformSampleFrames(clip_len, num_clips, p_interval)._get_test_clips
# (seed 255), modulo T, computed once by running pyskl's class.
PYSKL_TEST_CLIPS = [
    ((10, 4, 2, 1.0), [1, 3, 5, 8, 1, 3, 5, 7]),
    ((20, 4, 1, (0.5, 1)), [3, 5, 8, 12]),
    (
        (5, 8, 3, 1.0),
        [0, 1, 2, 3, 4, 0, 1, 2, 1, 2, 3, 4, 0, 1, 2, 3, 3, 4, 0, 1, 2, 3, 4, 0],
    ),
]


@pytest.mark.parametrize("args, expected", PYSKL_TEST_CLIPS)
def test_test_mode_equals_pyskl(args, expected):
    n, clip_len, num_clips, p_interval = args
    out = uniform_sample_indices(
        n, clip_len, num_clips=num_clips, p_interval=p_interval, test_mode=True, rng=123
    )
    assert out.shape == (num_clips, clip_len) and out.dtype == np.int64
    assert out.ravel().tolist() == expected


def test_test_mode_is_fixed_and_training_is_seeded():
    a = uniform_sample_indices(300, 64, num_clips=10, test_mode=True)
    b = uniform_sample_indices(300, 64, num_clips=10, test_mode=True, rng=np.random.default_rng())
    np.testing.assert_array_equal(a, b)
    c = uniform_sample_indices(300, 64, num_clips=10, rng=7)
    np.testing.assert_array_equal(c, uniform_sample_indices(300, 64, num_clips=10, rng=7))
    assert not np.array_equal(c, uniform_sample_indices(300, 64, num_clips=10, rng=8))
    other = uniform_sample_indices(300, 64, num_clips=10, test_mode=True, seed=1)
    assert not np.array_equal(a, other)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 200),
    clip_len=st.integers(1, 40),
    num_clips=st.integers(1, 4),
    low=st.floats(0.05, 1.0),
    test_mode=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_p_interval_clips_stay_inside_one_window(n, clip_len, num_clips, low, test_mode, seed):
    out = uniform_sample_indices(
        n, clip_len, num_clips=num_clips, p_interval=(low, 1.0), test_mode=test_mode, rng=seed
    )
    assert out.shape == (num_clips, clip_len)
    assert out.min() >= 0 and out.max() < n
    for clip in out:
        if clip_len <= max(1, int(low * n)):  # long enough: increasing, no wrap
            assert (np.diff(clip) > 0).all()


def test_argument_checks():
    for kwargs, message in [
        (dict(num_frames=0, clip_len=3), "num_frames must be >= 1"),
        (dict(num_frames=5, clip_len=0), "clip_len must be >= 1"),
        (dict(num_frames=5, clip_len=2, num_clips=0), "num_clips must be >= 1"),
        (dict(num_frames=5, clip_len=2, p_interval=(0.8, 0.5)), "0 < low <= high <= 1"),
        (dict(num_frames=5, clip_len=2, p_interval=0.0), "0 < low <= high <= 1"),
        (dict(num_frames=5, clip_len=2, p_interval=(0.1, 0.2, 0.3)), "float or"),
    ]:
        with pytest.raises(ValueError, match=message):
            uniform_sample_indices(**kwargs)


def test_average_clip_scores_prob_and_score():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 5, 7))
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(average_clip_scores(logits), probs.mean(1), rtol=1e-12)
    np.testing.assert_allclose(average_clip_scores(logits, mode="score"), logits.mean(1))
    flat = logits.reshape(20, 7)  # each sample's five clips consecutive
    np.testing.assert_allclose(average_clip_scores(flat, num_clips=5), probs.mean(1))
    tensor = average_clip_scores(torch.from_numpy(flat), num_clips=5)
    assert isinstance(tensor, torch.Tensor)
    np.testing.assert_allclose(tensor.numpy(), probs.mean(1), rtol=1e-12)
    np.testing.assert_allclose(average_clip_scores(1000 * logits).sum(-1), 1.0)  # stable
    with pytest.raises(ValueError, match=r"must be \(N \* 3, K\)"):
        average_clip_scores(flat, num_clips=3)
    with pytest.raises(ValueError, match="mode must be"):
        average_clip_scores(logits, mode="max")


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 40),
    fraction=st.floats(0.01, 1.0),
    multiple=st.integers(1, 6),
)
def test_prefix_lengths_are_the_multiples_at_least_the_fraction(n, fraction, multiple):
    """Over many draws, the lengths seen are exactly the brute-force candidates: the
    multiples of ``multiple`` in [ceil(f n), n], or n alone when there is none."""
    low = max(1, int(np.ceil(fraction * n)))
    allowed = {m for m in range(1, n + 1) if m % multiple == 0 and m >= low} or {n}
    rng = np.random.default_rng(0)
    seen = {random_prefix_length(n, fraction, multiple=multiple, rng=rng) for _ in range(400)}
    assert seen == allowed


def test_prefix_lengths_are_uniform_and_seeded():
    draws = [random_prefix_length(128, 0.5, multiple=4, rng=s) for s in range(3000)]
    counts = np.bincount(draws, minlength=129)[64::4]  # the 17 lengths 64, 68, ..., 128
    assert counts.sum() == 3000 and counts.min() > 3000 / 17 * 0.6
    assert draws == [random_prefix_length(128, 0.5, multiple=4, rng=s) for s in range(3000)]
    assert random_prefix_length(128, 1.0, multiple=4) == 128


def test_whole_share_mixes_whole_clips_with_the_uniform_draw():
    """s = 0.5: the whole clip in about half the draws plus its uniform share (1/17);
    s = 0 leaves the seeded sequence of lengths as it was; s = 1 always the whole clip."""
    mixed = [
        random_prefix_length(128, 0.5, multiple=4, whole_share=0.5, rng=s) for s in range(3000)
    ]
    whole = sum(t == 128 for t in mixed) / 3000
    assert abs(whole - (0.5 + 0.5 / 17)) < 0.04
    assert set(mixed) == set(range(64, 129, 4))
    plain = [random_prefix_length(128, 0.5, multiple=4, rng=s) for s in range(200)]
    assert plain == [
        random_prefix_length(128, 0.5, multiple=4, whole_share=0.0, rng=s) for s in range(200)
    ]
    assert {random_prefix_length(128, 0.1, whole_share=1.0, rng=s) for s in range(50)} == {128}


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_whole_share_out_of_range_is_refused(share):
    with pytest.raises(ValueError, match=re.escape(f"whole_share must be in [0, 1], got {share}")):
        random_prefix_length(8, 0.5, whole_share=share)


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 0.5), "num_frames and multiple must be >= 1"),
        ((8, 0.5, 0), "num_frames and multiple must be >= 1"),
        ((8, 0.0, 1), "min_fraction must be in (0, 1]"),
        ((8, 1.5, 1), "min_fraction must be in (0, 1]"),
        ((8, float("nan"), 1), "min_fraction must be in (0, 1]"),
    ],
)
def test_prefix_length_argument_checks(args, message):
    n, fraction, *multiple = args
    with pytest.raises(ValueError, match=re.escape(message)):
        random_prefix_length(n, fraction, multiple=multiple[0] if multiple else 1)
