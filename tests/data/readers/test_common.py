"""The readers' shared helpers: bounded reads, the error wrapper, float32 checks, selection."""

from __future__ import annotations

import numpy as np
import pytest

from skelgraph.data import SkeletonFormatError, select_people_by_score
from skelgraph.data.readers._common import (
    FLOAT32_LIMIT,
    check_finite32,
    place_people,
    read_file_bytes,
    reading,
)


@pytest.mark.parametrize(
    "error",
    [
        OverflowError("int too large to convert to float"),
        EOFError("No data left in file"),
        MemoryError("Unable to allocate 11.2 GiB"),
        ValueError("Exceeds the limit (4300 digits) for integer string conversion"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        RecursionError("maximum recursion depth exceeded"),
    ],
)
def test_reading_turns_content_failures_into_format_errors(error):
    with pytest.raises(SkeletonFormatError, match=type(error).__name__) as info:
        with reading("clip.json"):
            raise error
    assert info.value.path == "clip.json" and info.value.__cause__ is error


def test_reading_passes_format_and_missing_file_errors():
    original = SkeletonFormatError("bad", "a.json", frame=3)
    with pytest.raises(SkeletonFormatError) as info:
        with reading("a.json"):
            raise original
    assert info.value is original
    with pytest.raises(FileNotFoundError):
        with reading("missing.json"):
            read_file_bytes("missing.json", 10)


def test_float32_limit_is_where_float32_overflows():
    assert np.isfinite(np.float32(np.nextafter(FLOAT32_LIMIT, 0)))
    with np.errstate(over="ignore"):
        assert np.isinf(np.float32(FLOAT32_LIMIT))
    with pytest.raises(SkeletonFormatError, match="float32") as info:
        check_finite32(np.array([[[0.0]], [[1e39]]]).reshape(1, 2, 1, 1), "x.npy")
    assert info.value.frame == 1


def test_place_people_equals_the_dense_selection():
    rng = np.random.default_rng(0)
    for _ in range(20):
        t, people = 6, int(rng.integers(1, 6))
        counts = rng.integers(0, people + 1, size=t)
        # as the readers built it: as many slots as the most crowded frame
        dense = np.zeros((3, t, 4, max(int(counts.max()), 1)))
        frames = {}
        for i, count in enumerate(counts):
            listed = [rng.normal(size=(3, 4)) for _ in range(count)]
            for m, person in enumerate(listed):
                dense[:, i, :, m] = person
            frames[i] = listed
        for keep in (1, 2, 3):
            np.testing.assert_array_equal(
                place_people(frames, t, 4, keep), select_people_by_score(dense, keep)
            )
