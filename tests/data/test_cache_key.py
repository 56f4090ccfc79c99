"""cache_key: descriptions depend on content (code, bound and captured values), never on
addresses, and are the same in every process."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skelgraph.data import PaperPreprocess, read_kinetics_json
from skelgraph.data.cache_key import Unidentifiable, dataset_key, describe
from tests.conftest import ROOT


def _scaled_by(factor):
    return lambda x: x * factor


def _function(body: str):
    """A function named ``f`` with the given body, compiled afresh."""
    namespace: dict = {}
    exec(f"def f(x):\n    return {body}\n", namespace)
    return namespace["f"]


def test_closures_and_partials_are_described_by_what_they_capture():
    assert describe(_scaled_by(2)) == describe(_scaled_by(2))
    assert describe(_scaled_by(2)) != describe(_scaled_by(3))
    reader = functools.partial(read_kinetics_json, num_people=1)
    assert describe(reader) == describe(functools.partial(read_kinetics_json, num_people=1))
    assert describe(reader) != describe(functools.partial(read_kinetics_json, num_people=2))
    assert describe(None) is None


def test_same_name_other_code_is_another_description():
    assert describe(_function("x + 1")) == describe(_function("x + 1"))
    assert describe(_function("x + 1")) != describe(_function("x - 1"))
    assert describe(_function("x + 1")) != describe(_function("x + 2"))  # a constant


def test_objects_by_repr_and_arrays_by_content():
    assert describe(PaperPreprocess("ntu-rgbd")) == describe(PaperPreprocess("ntu-rgbd"))
    assert describe(PaperPreprocess("ntu-rgbd")) != describe(PaperPreprocess("ntu-rgbd", length=64))
    big = np.zeros(10_000)
    other = big.copy()
    other[5_000] = 1  # numpy's repr elides the middle of a large array
    assert describe(_scaled_by(big)) == describe(_scaled_by(big.copy()))
    assert describe(_scaled_by(big)) != describe(_scaled_by(other))


class _Opaque:  # the default repr: only an address
    pass


class _Addressed:
    def __repr__(self) -> str:
        return f"<_Addressed at {hex(id(self))}>"


@pytest.mark.parametrize("captured", [_Opaque(), _Addressed()], ids=["no repr", "address"])
def test_what_rests_on_an_address_is_refused(captured, tmp_path):
    with pytest.raises(Unidentifiable, match="no repr that identifies"):
        describe(_scaled_by(captured))
    path = tmp_path / "a.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match="cache_key"):
        dataset_key([str(path)], None, _scaled_by(captured), None)
    named = dataset_key([str(path)], None, _scaled_by(captured), None, "mine")
    assert named == dataset_key([str(path)], None, read_kinetics_json, None, "mine")
    # with a key, a preprocessing that cannot be described is named by it too
    both = dataset_key([str(path)], None, read_kinetics_json, _scaled_by(captured), "mine")
    assert both["config"] != named["config"]
    with pytest.raises(ValueError, match="cache_key"):
        dataset_key([str(path)], None, read_kinetics_json, _scaled_by(captured))


def test_dataset_key_follows_files_labels_and_configuration(tmp_path):
    path = tmp_path / "a.json"
    path.write_text("{}")
    key = dataset_key([str(path)], None, read_kinetics_json, PaperPreprocess())
    assert key == dataset_key([str(path)], None, read_kinetics_json, PaperPreprocess())
    assert key != dataset_key([str(path)], [3], read_kinetics_json, PaperPreprocess())
    assert key != dataset_key([str(path)], None, read_kinetics_json, PaperPreprocess(length=9))
    assert key != dataset_key([str(path)], None, read_kinetics_json, None)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert key != dataset_key([str(path)], None, read_kinetics_json, PaperPreprocess())


def test_containers_by_type_and_content_not_order():
    def bound(value):
        return describe(functools.partial(read_kinetics_json, value))

    assert bound({"a": 1, "b": [2]}) == bound({"b": [2], "a": 1})
    assert bound({"alpha", "beta", "gamma"}) == bound({"gamma", "beta", "alpha"})
    assert bound([1, 2]) != bound((1, 2))
    assert bound([1, 2]) != bound([2, 1])


# No floats or bools: 1 == 1.0 == True, yet their reprs (rightly) differ.
_json_like = st.recursive(
    st.none() | st.integers(-3, 3) | st.text("ab", max_size=2),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text("ab", max_size=2), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(a=_json_like, b=_json_like)
def test_bound_values_are_described_exactly_when_equal(a, b):
    described = [describe(functools.partial(read_kinetics_json, v)) for v in (a, b)]
    assert (described[0] == described[1]) == (a == b)


def test_descriptions_do_not_depend_on_the_hash_seed():
    # A set constant's repr lists its items in hash order, which strings randomise.
    script = textwrap.dedent(
        """
        from skelgraph.data.cache_key import describe
        def reader(path):
            return path in {"alpha", "beta", "gamma", "delta", "epsilon"}
        print(describe(reader))
        """
    )
    out = [
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    ]
    assert out[0] == out[1] and "function(__main__.reader" in out[0]
