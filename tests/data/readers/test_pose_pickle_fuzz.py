"""Fuzz: pose pickles built from random reduce trees of the globals the reader admits.

Whatever the tree, :func:`read_pose_pickle` returns valid samples or raises
:class:`SkeletonFormatError` from one of its checks (not from the memory backstop). The
property runs in a child process whose address space is capped a little above what it
holds after its imports, so a missed allocation fails the child, never the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelgraph import limits
from skelgraph.data import SkeletonFormatError, SkeletonSample, read_pose_pickle
from skelgraph.data.readers import pose_pickle
from tests.data.readers.hostile_pickles import Call, Global, array, dtype, encode

ROOT = Path(__file__).resolve().parents[3]
HEADROOM = 512 * 2**20  # bytes of address space the child may add after its imports
BUDGET = 2**16  # elements per array in the child: real allocations stay small

SPECS = ["f4", "f2", "f8", "<i8", ">f4", "u1", "b1", "c16", "S5", "U3", "S0", "O8", "V8"]
SPECS += ["f4,f4", "(2,)f4", "M8", "i", "", "zz"]
INTS = st.one_of(
    st.integers(-3, 40),
    st.sampled_from([2**31, 2**40, 10**12, -(2**63), 2**64, 30_000_000]),
)
SHAPES = st.lists(INTS, max_size=5).map(tuple)


def _dtype_nodes() -> st.SearchStrategy:
    plain = st.builds(dtype, st.sampled_from(SPECS))
    state = st.tuples(
        st.sampled_from([3, 4, "x"]),
        st.sampled_from(["<", ">", "|", "=", "?"]),
        st.one_of(st.none(), st.tuples(plain, SHAPES)),
        st.one_of(st.none(), st.just(("a",))),
        st.one_of(st.none(), st.fixed_dictionaries({"a": st.tuples(plain, INTS)})),
        INTS,
        INTS,
        INTS,
    )
    return st.one_of(plain, st.builds(dtype, st.sampled_from(SPECS), state))


def _trees() -> st.SearchStrategy:
    admitted = st.sampled_from(sorted(pose_pickle._ADMITTED))
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        INTS,
        st.floats(),
        st.text(max_size=6),
        st.binary(max_size=40),
        SHAPES,
        _dtype_nodes(),
        admitted.map(lambda key: Global(*key)),
    )

    def extend(children: st.SearchStrategy) -> st.SearchStrategy:
        args = st.lists(children, max_size=5).map(tuple)
        return st.one_of(
            st.lists(children, max_size=4),
            st.lists(children, max_size=3).map(tuple),
            st.dictionaries(st.text(max_size=4), children, max_size=3),
            st.builds(lambda key, a, s: Call(*key, a, s), admitted, args, children | st.none()),
            st.builds(array, SHAPES, children, st.binary(max_size=64)),
        )

    return st.recursive(leaves, extend, max_leaves=12)


def _keypoints() -> st.SearchStrategy:
    """Mostly valid keypoint arrays (so that some files are read), as NumPy pickles them."""

    def build(t: int, v: int, c: int, spec: str, seed: int) -> Call:
        values = np.random.default_rng(seed).uniform(-5, 5, (1, t, v, c)).astype(spec)
        return array(values.shape, dtype(spec), values.tobytes())

    return st.builds(
        build,
        st.integers(1, 4),
        st.sampled_from([17, 25]),
        st.sampled_from([2, 3]),
        st.sampled_from(["f4", "f2", "<f8"]),
        st.integers(0, 2**32 - 1),
    )


def _annotations() -> st.SearchStrategy:
    trees = _trees()
    value = {
        "frame_dir": st.one_of(st.text(max_size=4), trees),
        "label": st.one_of(st.integers(0, 5), INTS, trees),
        "total_frames": st.one_of(st.integers(1, 4), trees),
        "keypoint": st.one_of(_keypoints(), trees),
        "keypoint_score": trees,
        "img_shape": st.one_of(st.just((480, 640)), trees),
        "raw_file": trees,
    }
    optional = {key: value.pop(key) for key in ("keypoint_score", "img_shape", "raw_file")}
    return st.fixed_dictionaries(value, optional=optional)


CONTENT = st.one_of(
    st.lists(_annotations(), max_size=3),
    st.builds(
        lambda annotations, split: {"annotations": annotations, "split": split},
        st.lists(_annotations(), max_size=2),
        _trees(),
    ),
    _trees(),
)


def _check_read(path: Path) -> None:
    try:
        samples = read_pose_pickle(path)
    except SkeletonFormatError as error:
        assert "asks for more" not in str(error), str(error)
        return
    assert isinstance(samples, list)
    for sample in samples:
        assert isinstance(sample, SkeletonSample)
        data = sample.data
        assert data.dtype == np.float32 and data.ndim == 4 and data.shape[0] in (2, 3)
        assert np.isfinite(data).all()
        assert 0 <= sample.label < limits.MAX_CLASSES
        repr(sample.meta)  # printable: no dtype or array that reads past its memory


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(content=CONTENT)
def _property(content) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.pkl"
        path.write_bytes(encode(content))
        _check_read(path)


def fuzz_under_memory_limit() -> None:
    """The property, in this process, with the address space capped (run in a child)."""
    import resource

    with open("/proc/self/status") as status:
        size = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmSize"))
    resource.setrlimit(resource.RLIMIT_AS, (size + HEADROOM, resource.RLIM_INFINITY))
    limits.MAX_PICKLE_ARRAY_ELEMENTS = BUDGET
    _property()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux")
def test_random_reduce_trees_are_read_or_refused():
    code = f"import {__name__} as fuzz; fuzz.fuzz_under_memory_limit()"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
