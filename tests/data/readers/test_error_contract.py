"""The readers' error contract: any input gives a sample or a SkeletonFormatError, nothing else.

Random bytes and random mutations of the real fixture files go to every reader; budgets are
small so that a mutation declaring a huge size is refused instead of allocated.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelgraph.data import (
    SkeletonFormatError,
    read_array_file,
    read_joint_rows,
    read_kinetics_json,
    read_ntu_skeleton,
    read_nucla_json,
    read_openpose_folder,
)
from tests.conftest import fixture_path

BUDGET = dict(max_bytes=1_000_000, max_elements=2_000_000)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# What hostile or careless files hold: huge and tiny numbers, digit separators, specials.
_NASTY = [
    b"1" * 400,
    b"9" * 5000,
    b"1e39",
    b"-3.5e38",
    b"1_000",
    b"nan",
    b"NaN",
    b"Infinity",
    b"-0",
    b"[]",
    b"{}",
    b"null",
    b'"x"',
    b"\xff\xfe",
    b"\x00",
    b"\r",
    b"100000",
    b"-1",
]


@st.composite
def _mutated(draw, raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "nasty"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[i] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[i : i + draw(st.integers(1, 64))]
        elif kind == "truncate":
            del data[i:]
        else:  # replace a run of digits (or anything) by a nasty token
            j = i
            while j < len(data) and data[j : j + 1].isdigit():
                j += 1
            data[i : max(j, i + 1)] = draw(st.sampled_from(_NASTY))
    return bytes(data)


def _inputs(raw: bytes):
    return st.one_of(st.binary(max_size=300), _mutated(raw))


def _check(read, raw: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(raw)
        try:
            sample = read(path)
        except SkeletonFormatError as error:
            assert str(path) in str(error)
        else:
            assert sample.data.dtype == np.float32 and sample.data.ndim == 4
            assert np.isfinite(sample.data).all()


@pytest.fixture(scope="module")
def ntu_raw() -> bytes:
    return fixture_path("ntu", "S001C001P001R002A050.first3frames.skeleton").read_bytes()


@pytest.fixture(scope="module")
def kinetics_raw() -> bytes:
    return sorted(fixture_path("kinetics", "val").glob("*.json"))[0].read_bytes()


@pytest.fixture(scope="module")
def nucla_raw() -> bytes:
    return fixture_path("nw-ucla", "all_sqe", "a01_s01_e00_v01.json").read_bytes()


@pytest.fixture(scope="module")
def npy_raw() -> bytes:
    return fixture_path("ntu", "S001C001P001R001A001.xyz.npy").read_bytes()


@SETTINGS
@given(data=st.data())
def test_ntu(data, ntu_raw):
    raw = data.draw(_inputs(ntu_raw))
    _check(lambda p: read_ntu_skeleton(p, **BUDGET), raw, "S001C001P001R001A001.skeleton")


@SETTINGS
@given(data=st.data())
def test_kinetics(data, kinetics_raw):
    raw = data.draw(_inputs(kinetics_raw))
    read = lambda p: read_kinetics_json(p, max_people_read=None, **BUDGET)  # noqa: E731
    _check(read, raw, "clip.json")


@SETTINGS
@given(data=st.data())
def test_nucla(data, nucla_raw):
    raw = data.draw(_inputs(nucla_raw))
    _check(lambda p: read_nucla_json(p, **BUDGET), raw, "a01_s01_e00_v01.json")


@SETTINGS
@given(data=st.data())
def test_openpose(data, kinetics_raw):
    # an OpenPose frame file, mutated, in a folder beside an intact one
    good = b'{"people": [{"pose_keypoints_2d": [' + b", ".join([b"1.5"] * 54) + b"]}]}"
    raw = data.draw(_inputs(good))

    def read(path: Path):
        (path.parent / "v_000000000001_keypoints.json").write_bytes(good)
        path.rename(path.parent / "v_000000000000_keypoints.json")
        try:
            return read_openpose_folder(path.parent, **BUDGET)
        except SkeletonFormatError as error:  # names the frame file (or the folder)
            assert str(path.parent) in str(error)
            raise SkeletonFormatError(error.reason, path) from None

    _check(read, raw, "frame.json")


@SETTINGS
@given(data=st.data())
def test_npy(data, npy_raw):
    raw = data.draw(_inputs(npy_raw))
    _check(lambda p: read_array_file(p, "ntu-rgbd", **BUDGET), raw, "poses.npy")


@SETTINGS
@given(data=st.data())
def test_csv(data):
    rows = "\n".join(",".join(["0.5"] * 75) for _ in range(3)).encode()
    raw = data.draw(_inputs(rows))
    _check(lambda p: read_array_file(p, "ntu-rgbd", **BUDGET), raw, "poses.csv")


@SETTINGS
@given(data=st.data())
def test_joint_rows(data):
    rows = b"".join(b"0.25 -1.5 3e-2 1\n" for _ in range(40))  # MSR Action3D: 2 frames
    raw = data.draw(_inputs(rows))
    _check(lambda p: read_joint_rows(p, "kinect-v1-20", **BUDGET), raw, "a01_s01_e01_skeleton.txt")
