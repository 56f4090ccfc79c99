"""NTU RGB+D .skeleton reader: the toolbox oracle, body selection, names, malformed files."""

from __future__ import annotations

import pickle
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelgraph.data import (
    SkeletonFormatError,
    body_energy,
    ntu_split,
    parse_ntu_name,
    read_ntu_skeleton,
)
from tests.conftest import fixture_path

FULL = "S001C001P001R001A001.skeleton"
TWO_BODIES = "S001C001P001R002A050.first3frames.skeleton"
E_NOTATION = "S001C002P001R001A001.first3frames.skeleton"


def _body_lines(rng: np.random.Generator, offset: float, spread: float) -> list[str]:
    lines = ["72057594037931101 0 1 1 1 1 0 0.02 0.05 2", "25"]
    for _ in range(25):
        x, y, z = offset + spread * rng.standard_normal(3)
        lines.append(f"{x:.6e} {y:.7f} {z:.7f} 1 2 3 4 0 0 0 0 2")
    return lines


def _write_ntu(path: Path, frames: list[list[tuple[float, float]]], newline: str = "\n") -> Path:
    """A synthetic file: each frame a list of bodies given as (offset, spread)."""
    rng = np.random.default_rng(0)
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for offset, spread in bodies:
            lines += _body_lines(rng, offset, spread)
    path.write_bytes((newline.join(lines) + newline).encode())
    return path


# ---------------------------------------------------------------------- real files
def test_matches_toolbox_oracle():
    sample = read_ntu_skeleton(fixture_path("ntu", FULL))
    oracle = np.load(fixture_path("ntu", "S001C001P001R001A001.xyz.npy"))  # (T, V, 3) float64
    assert sample.data.shape == (3, 103, 25, 2)
    assert sample.data.dtype == np.float32
    ours = sample.data[..., 0].transpose(1, 2, 0).astype(np.float64)
    # float32 rounding of values up to ~4 m: at most half an ulp, 2.4e-7.
    np.testing.assert_allclose(ours, oracle, rtol=0, atol=5e-7)
    assert not sample.data[..., 1].any()  # one body; the second slot stays empty


def test_full_file_metadata_and_crlf():
    path = fixture_path("ntu", FULL)
    assert b"\r\n" in path.read_bytes()[:10]
    sample = read_ntu_skeleton(path)
    assert sample.label == 0 and sample.layout == "ntu-rgbd"
    meta = sample.meta
    assert (meta["setup"], meta["camera"], meta["subject"], meta["replication"]) == (1, 1, 1, 1)
    assert meta["action"] == 1
    assert meta["bodies_per_frame"].tolist() == [1] * 103
    assert meta["body_order"][0] == 0


def test_e_notation_lf_file():
    path = fixture_path("ntu", E_NOTATION)
    raw = path.read_bytes()
    assert b"\r\n" not in raw and b"E-05" in raw
    sample = read_ntu_skeleton(path)
    assert sample.shape == (3, 3, 25, 2) and sample.label == 0
    # every value, E-notation ones included, is read: compare joint lines token by token
    lines = raw.decode().splitlines()
    e_lines = [i for i, line in enumerate(lines) if "E" in line]
    assert e_lines
    for i in e_lines:
        frame, joint = divmod(i - 1, 28)  # frame blocks: count, body info, 25, 25 joints
        v = joint - 3
        expected = [float(tok) for tok in lines[i].split()[:3]]
        np.testing.assert_array_equal(sample.data[:, frame, v, 0], np.float32(expected))


def test_two_bodies_kept_by_energy():
    sample = read_ntu_skeleton(fixture_path("ntu", TWO_BODIES))
    assert sample.label == 49 and sample.meta["action"] == 50
    assert sample.meta["bodies_per_frame"].tolist() == [2, 2, 2]
    energy = sample.meta["energy"]
    assert energy[0] > energy[1] > 0 and energy[2] == energy[3] == 0
    assert sample.meta["body_order"] == [0, 1]
    assert sample.data[..., 0].any() and sample.data[..., 1].any()
    # independent energy: std of x + std of y + std of z over present frames
    body = sample.data[..., 1].transpose(1, 2, 0).astype(np.float64)
    expected = sum(body[..., c].std() for c in range(3))
    assert body_energy(body) == pytest.approx(expected)
    assert energy[1] == pytest.approx(expected, rel=1e-6)


# ---------------------------------------------------------------------- synthetic files
def test_body_selection_picks_most_active(tmp_path):
    # slot 0 still, slot 1 very active, slot 2 moderately: keep slots 1 then 2
    frames = [[(0.0, 0.01), (1.0, 1.0), (2.0, 0.3)] for _ in range(4)]
    sample = read_ntu_skeleton(_write_ntu(tmp_path / "S002C003P004R001A012.skeleton", frames))
    assert sample.meta["body_order"] == [1, 2]
    assert sample.label == 11 and sample.meta["camera"] == 3 and sample.meta["subject"] == 4
    assert np.abs(sample.data[..., 0].mean() - 1.0) < 0.5  # the active body, offset 1


def test_frames_without_bodies_and_more_than_four(tmp_path):
    frames = [[], [(0.0, 3.0)], [], [(0.0, 1.0)] * 6]
    sample = read_ntu_skeleton(_write_ntu(tmp_path / "clip.skeleton", frames))
    assert sample.label is None and "action" not in sample.meta
    assert sample.meta["bodies_per_frame"].tolist() == [0, 1, 0, 6]
    assert not sample.data[:, 0].any() and not sample.data[:, 2].any()
    assert sample.data[:, 1, :, 0].any()


def test_crlf_and_lf_read_alike(tmp_path):
    frames = [[(0.0, 1.0)], [(0.5, 1.0), (1.0, 0.1)]]
    a = read_ntu_skeleton(_write_ntu(tmp_path / "a.skeleton", frames, "\n"))
    b = read_ntu_skeleton(_write_ntu(tmp_path / "b.skeleton", frames, "\r\n"))
    np.testing.assert_array_equal(a.data, b.data)


def test_name_parsing_and_splits():
    name = parse_ntu_name("/x/S017C003P020R002A120.skeleton")
    assert name is not None and name.label == 119 and name.setup == 17
    assert parse_ntu_name("clip.skeleton") is None
    names = ["S001C001P001R001A001", "S001C002P003R001A001", "S002C003P045R001A001"]
    assert ntu_split(names, "xsub") == ([names[0]], names[1:])
    assert ntu_split(names, "xview") == (names[1:], [names[0]])
    assert ntu_split(names, "xsub120") == ([names[0], names[2]], [names[1]])
    assert ntu_split(names, "xset120") == ([names[2]], names[:2])
    with pytest.raises(ValueError, match="unknown NTU benchmark"):
        ntu_split(names, "xfoo")


# ---------------------------------------------------------------------- malformed files
def _lines(name: str) -> list[str]:
    return fixture_path("ntu", name).read_text().splitlines()


@pytest.mark.parametrize(
    ("mutate", "line", "message"),
    [
        (lambda ls: ls[:40], 41, "unexpected end of file"),
        (lambda ls: ls[:3] + ["24"] + ls[4:], 4, "expected 25 joints"),
        (lambda ls: ls[:5] + [ls[5].replace("0.", "abc", 1)] + ls[6:], 6, "non-numeric"),
        (lambda ls: ls[:5] + [" ".join(ls[5].split()[:11])] + ls[6:], 6, "expected 12 values"),
        (lambda ls: ["three"] + ls[1:], 1, "the number of frames"),
        (lambda ls: ls[:1] + ["-1"] + ls[2:], 2, "must be >= 0"),
        (lambda ls: ls[:5] + ["nan 0 0 1 2 3 4 0 0 0 0 2"] + ls[6:], 6, "non-finite"),
        (lambda ls: [*ls, "1"], 86, "unexpected text"),
        (lambda ls: ["999"] + ls[1:], 1, "declares 999 frames"),
    ],
)
def test_malformed_names_file_and_line(tmp_path, mutate, line, message):
    path = tmp_path / "S001C002P001R001A001.skeleton"
    path.write_text("\n".join(mutate(_lines(E_NOTATION))) + "\n")
    with pytest.raises(SkeletonFormatError, match=message) as info:
        read_ntu_skeleton(path)
    assert info.value.path == str(path) and info.value.line == line
    assert f"{path}, line {line}" in str(info.value)


def test_error_carries_location_and_pickles():
    error = SkeletonFormatError("expected 25 joints, got 24", "a.skeleton", line=7)
    assert (error.path, error.line, error.frame) == ("a.skeleton", 7, None)
    assert isinstance(error, ValueError)
    clone = pickle.loads(pickle.dumps(error))
    assert str(clone) == str(error) == "a.skeleton, line 7: expected 25 joints, got 24"
    assert str(SkeletonFormatError("bad", "b.json", frame=3)) == "b.json, frame 3: bad"


@pytest.mark.parametrize("content", [b"", b"\r\n  \n", b"\xff\xfe1\n"])
def test_empty_or_binary_file(tmp_path, content):
    path = tmp_path / "x.skeleton"
    path.write_bytes(content)
    with pytest.raises(SkeletonFormatError, match=re.escape(str(path))):
        read_ntu_skeleton(path)


_TOKENS = st.sampled_from(["", "x", "nan", "1e999", "-1", "0", "25", "3.5", "1E-05", "2 2"])


@st.composite
def _mutations(draw, lines: list[str]) -> bytes:
    lines = list(lines)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["delete", "token", "duplicate", "swap"]))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            tokens = lines[i].split() or [""]
            tokens[draw(st.integers(0, len(tokens) - 1))] = draw(_TOKENS)
            lines[i] = " ".join(tokens)
    raw = ("\r\n".join(lines) + "\r\n").encode()
    return raw[: draw(st.integers(0, len(raw)))] if draw(st.booleans()) else raw


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_parses_or_raises_format_error(data):
    lines = _lines(TWO_BODIES if data.draw(st.booleans()) else E_NOTATION)
    raw = data.draw(_mutations(lines))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "S001C001P001R001A001.skeleton"
        path.write_bytes(raw)
        try:
            sample = read_ntu_skeleton(path)
        except SkeletonFormatError as error:
            assert str(path) in str(error)
            assert error.line is not None
        else:
            assert sample.data.shape[0] == 3 and sample.data.shape[2:] == (25, 2)
            assert np.isfinite(sample.data).all()


# ---------------------------------------------------------------------- hostile files (#16)
def test_budget_refuses_declared_frames_before_allocating(tmp_path):
    path = tmp_path / "empty.skeleton"
    path.write_text("20000\n" + "0\n" * 20000)  # 120 KB of frames that list no body
    with pytest.raises(SkeletonFormatError, match="max_elements=100000") as info:
        read_ntu_skeleton(path, max_elements=100_000)
    assert info.value.path == str(path)
    with pytest.raises(SkeletonFormatError, match="exceeds max_bytes=1000"):
        read_ntu_skeleton(path, max_bytes=1000)


def test_empty_frames_cost_only_the_output(tmp_path):
    import tracemalloc

    path = tmp_path / "empty.skeleton"
    path.write_text("20000\n" + "0\n" * 20000)
    tracemalloc.start()
    try:
        sample = read_ntu_skeleton(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    output = sample.data.nbytes  # 3 * 20000 * 25 * 2 float32 = 12 MB
    assert sample.shape == (3, 20000, 25, 2) and not sample.data.any()
    # before: a float64 (4, T, 25, 3) array, its selection and one str per line (> 80 MB)
    assert peak < 1.5 * output


def test_refuses_devices_fifos_and_folders(tmp_path):
    import os
    import threading

    zero = tmp_path / "zero.skeleton"
    zero.symlink_to("/dev/zero")
    with pytest.raises(SkeletonFormatError, match="character device"):
        read_ntu_skeleton(zero)
    with pytest.raises(SkeletonFormatError, match="directory"):
        read_ntu_skeleton(tmp_path)
    fifo = tmp_path / "fifo.skeleton"
    os.mkfifo(fifo)
    result: list[BaseException] = []

    def read() -> None:
        try:
            read_ntu_skeleton(fifo)
        except BaseException as error:
            result.append(error)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # it blocked in open(): let it go, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
        pytest.fail("reading a FIFO blocked")
    assert isinstance(result[0], SkeletonFormatError) and "FIFO" in str(result[0])


@pytest.mark.parametrize(
    ("token", "message"),
    [("1_000", "'_' in a number"), ("3.5e38", "float32"), ("-1e300", "float32")],
)
def test_coordinates_python_accepts_but_the_format_does_not(tmp_path, token, message):
    lines = _lines(E_NOTATION)
    lines[5] = " ".join([token, *lines[5].split()[1:]])
    path = tmp_path / "S001C002P001R001A001.skeleton"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SkeletonFormatError, match=message) as info:
        read_ntu_skeleton(path)
    assert info.value.line == 6 and info.value.path == str(path)


def test_largest_float32_coordinate_is_kept(tmp_path):
    lines = _lines(E_NOTATION)
    lines[5] = " ".join(["3.4e38", *lines[5].split()[1:]])
    path = tmp_path / "S001C002P001R001A001.skeleton"
    path.write_text("\n".join(lines) + "\n")
    sample = read_ntu_skeleton(path)
    assert np.isfinite(sample.data).all() and sample.data.max() == np.float32(3.4e38)
