"""The uniform sampler at every sequence length from 1 to 3 clip_len, both sides of every
boundary of its three cases (n < clip_len, clip_len <= n < 2 clip_len, n >= 2 clip_len).

Training clips: the set of clips drawn equals the brute-force enumeration of the clips the
rule allows. Test clips: equal, index for index, an independent re-implementation of
pyskl's ``UniformSampleFrames._get_test_clips`` (``np.random.seed(seed)`` then its draws
in its order), so a boundary moved by one frame changes the draws and is caught even where
both cases could give the same clip.
"""

from __future__ import annotations

import numpy as np
import pytest

from skelgraph.data import uniform_sample_indices
from tests.data.test_sampling import _allowed_clips

CLIP_LENS = (1, 2, 3, 4)


def _pyskl_test_clips(
    total: int, clip_len: int, num_clips: int, p_interval: tuple[float, float], seed: int
) -> np.ndarray:
    """pyskl's test-time rule, written from its description, on a RandomState."""
    rs = np.random.RandomState(seed)
    out = []
    for i in range(num_clips):
        ratio = rs.rand() * (p_interval[1] - p_interval[0]) + p_interval[0]
        n = max(1, int(ratio * total))  # pyskl fails on 0 frames; skelgraph takes 1
        off = rs.randint(total - n + 1)
        if n < clip_len:
            start = i if n < num_clips else i * n // num_clips
            inds = [start + j for j in range(clip_len)]
        elif n < 2 * clip_len:
            chosen = rs.choice(clip_len + 1, n - clip_len, replace=False)
            skipped = [int(g in chosen) for g in range(clip_len + 1)]
            inds = [j + sum(skipped[: j + 1]) for j in range(clip_len)]
        else:
            bounds = [j * n // clip_len for j in range(clip_len + 1)]
            sizes = np.diff(bounds)
            inds = list(np.array(bounds[:-1]) + rs.randint(sizes))
        out.append([(x + off) % total for x in inds])
    return np.array(out, dtype=np.int64)


@pytest.mark.parametrize("clip_len", CLIP_LENS)
def test_training_clips_at_every_length_are_the_enumerated_ones(clip_len):
    rng = np.random.default_rng(0)
    for n in range(1, 3 * clip_len + 1):
        allowed = _allowed_clips(n, clip_len)
        draws = max(200, 40 * len(allowed))
        seen = {
            tuple(uniform_sample_indices(n, clip_len, rng=rng)[0].tolist()) for _ in range(draws)
        }
        assert seen == allowed, f"n = {n}, clip_len = {clip_len}"


@pytest.mark.parametrize("clip_len", CLIP_LENS)
@pytest.mark.parametrize("num_clips", [1, 3])
@pytest.mark.parametrize("p_interval", [(1.0, 1.0), (0.5, 1.0)])
@pytest.mark.parametrize("seed", [255, 0])
def test_test_clips_at_every_length_equal_pyskl_rule(clip_len, num_clips, p_interval, seed):
    for n in range(1, 3 * clip_len + 1):
        got = uniform_sample_indices(
            n, clip_len, num_clips=num_clips, p_interval=p_interval, test_mode=True, seed=seed
        )
        expected = _pyskl_test_clips(n, clip_len, num_clips, p_interval, seed)
        np.testing.assert_array_equal(got, expected, err_msg=f"n = {n}")
