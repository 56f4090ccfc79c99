"""read_joint_rows: whitespace-separated joint rows (MSR Action3D, UTKinect-Action3D)."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelgraph import SkeletonGraph
from skelgraph.data import (
    MSR_ACTION3D_JOINTS,
    MSR_ACTION3D_TO_KINECT_V1,
    SkeletonDataset,
    SkeletonFormatError,
    from_array,
    read_joint_rows,
)
from skelgraph.graph import LAYOUTS

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Built-in layouts of several joint counts (the count decides the one-frame-a-row forms).
LAYOUT_NAMES = ["kinect-v1-20", "coco-17", "mediapipe-hand-21", "ntu-rgbd"]
FINITE32 = st.floats(-3e38, 3e38, allow_nan=False, allow_infinity=False)


def _write(tmp_path, text: str | bytes, name: str = "clip.txt"):
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    return path


def _rows(array: np.ndarray) -> str:
    """One row per line of a 2-D array, each value as repr (exact in float64)."""
    return "".join(" ".join(repr(float(x)) for x in row) + "\n" for row in array)


# ---------------------------------------------------------------------- the three forms
@SETTINGS
@given(
    layout=st.sampled_from(LAYOUT_NAMES),
    frames=st.integers(1, 4),
    confidence=st.booleans(),
    data=st.data(),
)
def test_one_joint_per_row_round_trip(tmp_path_factory, layout, frames, confidence, data):
    v = len(LAYOUTS[layout].joint_names)
    columns = 4 if confidence else 3
    values = data.draw(st.lists(FINITE32, min_size=frames * v * columns, max_size=frames * v * 4))
    xyzc = np.array(values[: frames * v * columns]).reshape(frames, v, columns)
    path = _write(tmp_path_factory.mktemp("rows"), _rows(xyzc.reshape(-1, columns)))
    sample = read_joint_rows(path, layout, keep_confidence=confidence)
    assert sample.data.dtype == np.float32 and sample.shape == (columns, frames, v, 1)
    expected = xyzc.astype(np.float32).transpose(2, 0, 1)[..., None]
    np.testing.assert_array_equal(sample.data, expected)
    assert sample.layout == layout and sample.meta == {"path": str(path)}


@SETTINGS
@given(
    layout=st.sampled_from(LAYOUT_NAMES),
    frames=st.integers(1, 4),
    numbered=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_one_frame_per_row_round_trip(tmp_path_factory, layout, frames, numbered, seed):
    v = len(LAYOUTS[layout].joint_names)
    rng = np.random.default_rng(seed)
    xyz = rng.normal(0, 10, size=(frames, v, 3))
    numbers = rng.integers(0, 10_000, size=frames)
    table = xyz.reshape(frames, -1)
    if numbered:  # UTKinect: the frame number first
        table = np.column_stack([numbers, table])
    path = _write(tmp_path_factory.mktemp("rows"), _rows(table))
    sample = read_joint_rows(path, layout)
    np.testing.assert_array_equal(sample.data, xyz.astype(np.float32).transpose(2, 0, 1)[..., None])
    assert sample.meta.get("frame_numbers") == (numbers.tolist() if numbered else None)


def test_spacing_blank_lines_and_line_endings_do_not_matter(tmp_path):
    xyz = np.arange(2 * 17 * 3, dtype=np.float64).reshape(-1, 3) / 8
    lines = [" \t".join(f"{x:g}" for x in row) for row in xyz]
    text = "\r\n".join(lines[:5]) + "\r\n\r\n   \n" + "\n".join(lines[5:])  # no final newline
    sample = read_joint_rows(_write(tmp_path, text), "coco-17")
    np.testing.assert_array_equal(sample.data[:, :, :, 0].transpose(1, 2, 0).reshape(-1, 3), xyz)


def test_confidence_is_dropped_unless_kept(tmp_path):
    rows = np.tile([[1.0, 2.0, 3.0, 0.5]], (20, 1))
    path = _write(tmp_path, _rows(rows))
    assert read_joint_rows(path, "kinect-v1-20").shape == (3, 1, 20, 1)
    kept = read_joint_rows(path, "kinect-v1-20", keep_confidence=True)
    assert kept.shape == (4, 1, 20, 1) and (kept.data[3] == 0.5).all()
    three = _write(tmp_path, _rows(rows[:, :3]), "xyz.txt")
    with pytest.raises(SkeletonFormatError, match=r"keep_confidence=True needs a 4th column"):
        read_joint_rows(three, "kinect-v1-20", keep_confidence=True)


def test_label_and_custom_graph(tmp_path):
    graph = SkeletonGraph.from_edges([(0, 1), (1, 2)], num_nodes=3, name="stick")
    path = _write(tmp_path, _rows(np.ones((6, 3))))
    sample = read_joint_rows(path, graph, label=4)
    assert sample.label == 4 and sample.layout is graph and sample.shape == (3, 2, 3, 1)
    with pytest.raises(SkeletonFormatError, match=r"label must be in 0\.\."):
        read_joint_rows(path, graph, label=-1)
    with pytest.raises(ValueError, match="unknown layout 'ntu'"):
        read_joint_rows(path, "ntu")
    with pytest.raises(TypeError, match="layout must be a layout name or a SkeletonGraph"):
        read_joint_rows(path, 3)


# ---------------------------------------------------------------------- joint order
def test_msr_action3d_order_maps_to_kinect_v1(tmp_path):
    # MSR Action3D's rows, 1-based, as its users' loaders list them: 1 right shoulder,
    # 2 left shoulder, 3 shoulder centre, 4 spine, 5 right hip, 6 left hip, 7 hip centre,
    # 8/9 right/left elbow, 10/11 wrists, 12/13 hands, 14/15 knees, 16/17 ankles,
    # 18/19 feet, 20 head.
    one_based = {"hip_center": 7, "spine": 4, "shoulder_center": 3, "head": 20,
                 "shoulder_left": 2, "elbow_left": 9, "wrist_left": 11, "hand_left": 13,
                 "shoulder_right": 1, "elbow_right": 8, "wrist_right": 10, "hand_right": 12,
                 "hip_left": 6, "knee_left": 15, "ankle_left": 17, "foot_left": 19,
                 "hip_right": 5, "knee_right": 14, "ankle_right": 16, "foot_right": 18}  # fmt: skip
    kinect = LAYOUTS["kinect-v1-20"].joint_names
    assert MSR_ACTION3D_TO_KINECT_V1 == tuple(one_based[name] - 1 for name in kinect)
    assert sorted(MSR_ACTION3D_JOINTS) == sorted(kinect)
    # A frame whose x is the MSR row: read in the Kinect order, joint i has x = its MSR row.
    rows = np.column_stack([np.arange(20), np.zeros(20), np.full(20, 2.0), np.ones(20)])
    path = _write(tmp_path, _rows(np.vstack([rows, rows])), "a01_s01_e01_skeleton3D.txt")
    sample = read_joint_rows(path, "kinect-v1-20", joint_order=MSR_ACTION3D_TO_KINECT_V1)
    for t in range(2):
        assert sample.data[0, t, :, 0].tolist() == [one_based[n] - 1 for n in kinect]
    assert read_joint_rows(path, "kinect-v1-20").data[0, 0, :, 0].tolist() == list(range(20))


@pytest.mark.parametrize(
    "order", [[0, 1], [0, 1, 1], [2, 1, 0, 3], [0.0, 1.0, 2.0], [[0, 1, 2]], "012"]
)
def test_joint_order_must_be_a_permutation(tmp_path, order):
    path = _write(tmp_path, _rows(np.ones((3, 3))))
    graph = SkeletonGraph.from_edges([(0, 1), (1, 2)], num_nodes=3)
    with pytest.raises(ValueError, match=r"joint_order must be a permutation of 0..2"):
        read_joint_rows(path, graph, joint_order=order)


def test_layout_hints_say_a_count_does_not_tell_the_order():
    with pytest.raises(SkeletonFormatError) as info:
        from_array(np.zeros((2, 20, 3)), "coco-17")
    message = str(info.value)
    assert "built-in layouts with 20 joints: kinect-v1-20 (only if the data's joints are in " \
        "the order of its joint_names" in message  # fmt: skip
    assert "MSR Action3D's are in another order" in message
    with pytest.raises(SkeletonFormatError) as info:
        from_array(np.zeros((2, 33, 3)), "coco-17")
    assert "mediapipe-pose-33 (only if" in str(info.value) and "MSR" not in str(info.value)


# ---------------------------------------------------------------------- the dataset
def test_from_files_with_a_cache(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for i in range(3):
        rows = np.column_stack([rng.normal(size=(20 * 4, 3)), np.ones(20 * 4)])
        files.append(_write(tmp_path, _rows(rows), f"a0{i + 1}_s01_e01_skeleton3D.txt"))
    reader = functools.partial(
        read_joint_rows, layout="kinect-v1-20", joint_order=MSR_ACTION3D_TO_KINECT_V1
    )
    dataset = SkeletonDataset.from_files(
        files, reader, cache_dir=tmp_path / "cache", labels=[0, 1, 2]
    )
    again = SkeletonDataset.from_files(
        files, reader, cache_dir=tmp_path / "cache", labels=[0, 1, 2]
    )
    assert len(dataset) == 3 and tuple(dataset[1][0].shape) == (3, 4, 20, 1)
    np.testing.assert_array_equal(again.data, dataset.data)
    np.testing.assert_array_equal(dataset.data[2], reader(files[2]).data)


# ---------------------------------------------------------------------- hostile files
@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("1 2 3\n4 5 nan\n", 2, r"non-finite value.*nan in column 3"),
        ("1 2 3\n4 5 NaN\n", 2, r"non-finite value"),
        ("1 2 3\n\n4 inf 6\n", 3, r"non-finite value.*inf in column 2"),
        ("1 2 -Infinity\n", 1, r"non-finite value"),
        ("1 2 3\n1e39 2 3\n", 2, r"beyond float32's range.*1e\+39 in column 1"),
        ("1 2 3\n1_000 2 3\n", 2, r"not a number: '1_000'"),
        ("1 2 3\n1 2 x\n", 2, r"not a number: 'x'"),
        ("1 2 3\n0x1p3 2 3\n", 2, r"not a number: '0x1p3'"),
        ("1 2 3\n1,5 2 3\n", 2, r"not a number: '1,5'"),
        ("1 2 3\n4 5 6 7\n", 2, r"4 columns, expected 3 like line 1"),
        ("\n\n1 2 3 4\n4 5 6\n", 4, r"3 columns, expected 4 like line 3"),
        (
            "1 2\n",
            1,
            r"2 columns; expected 3 or 4 \(x y z \[c\], one joint per row\), 9 "
            r"\(x y z of the layout's 3 joints, one frame per row\) or 10",
        ),
        ("1 2 3 4 5 6 7 8\n", 1, r"8 columns; expected 3 or 4"),
        ("1.5 " + "0 " * 9 + "\n", 1, r"the frame number must be an integer, got 1.5"),
        ("1 2 3\n\x00\x01\xff 2 3\n", 2, r"not a number: '\\x00\\x01\\xff'"),
    ],
)
def test_malformed_rows_name_the_file_and_line(tmp_path, text, line, match):
    graph = SkeletonGraph.from_edges([(0, 1), (1, 2)], num_nodes=3)
    path = _write(tmp_path, text.encode("latin-1"))
    with pytest.raises(SkeletonFormatError, match=match) as info:
        read_joint_rows(path, graph)
    assert info.value.path == str(path) and info.value.line == line
    assert str(info.value).startswith(f"{path}, line {line}: ")


@pytest.mark.parametrize("text", ["", "\n", "  \n\t\n\r\n"])
def test_empty_file(tmp_path, text):
    with pytest.raises(SkeletonFormatError, match=r"clip.txt: empty file \(no rows of numbers\)"):
        read_joint_rows(_write(tmp_path, text), "kinect-v1-20")


def test_rows_not_a_multiple_of_the_joint_count(tmp_path):
    path = _write(tmp_path, _rows(np.ones((45, 4))))
    with pytest.raises(
        SkeletonFormatError,
        match=re.escape(
            "45 rows of one joint each is not a multiple of the layout's 20 joints "
            "(2 whole frames and 5 rows over)"
        ),
    ):
        read_joint_rows(path, "kinect-v1-20")


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as file:  # sparse: 16 GiB that take no disk and no time to make
        file.truncate(2**34)
    with pytest.raises(SkeletonFormatError, match=r"file of 17179869184 bytes exceeds max_bytes"):
        read_joint_rows(path, "kinect-v1-20")
    small = _write(tmp_path, _rows(np.ones((40, 3))))
    with pytest.raises(SkeletonFormatError, match=r"exceeds max_bytes=100 "):
        read_joint_rows(small, "kinect-v1-20", max_bytes=100)
    assert read_joint_rows(small, "kinect-v1-20", max_bytes=None).num_frames == 2


def test_max_elements_stops_the_parse_at_a_line(tmp_path):
    path = _write(tmp_path, _rows(np.ones((40, 4))))
    with pytest.raises(SkeletonFormatError, match=r"more than max_elements=100 values") as info:
        read_joint_rows(path, "kinect-v1-20", max_elements=100)
    assert info.value.line == 26  # 25 rows of 4 numbers are 100
    assert read_joint_rows(path, "kinect-v1-20", max_elements=160).num_frames == 2
    with pytest.raises(ValueError, match="max_elements must be a positive int or None"):
        read_joint_rows(path, "kinect-v1-20", max_elements=0)


def test_not_a_regular_file(tmp_path):
    with pytest.raises(SkeletonFormatError, match="not a regular file: a directory"):
        read_joint_rows(tmp_path, "kinect-v1-20")
    with pytest.raises(FileNotFoundError):
        read_joint_rows(tmp_path / "missing.txt", "kinect-v1-20")


@SETTINGS
@given(raw=st.binary(max_size=400))
def test_binary_garbage_gives_a_sample_or_a_format_error(tmp_path_factory, raw):
    path = _write(tmp_path_factory.mktemp("garbage"), raw)
    graph = SkeletonGraph.from_edges([(0, 1)], num_nodes=2)
    try:
        sample = read_joint_rows(path, graph, max_bytes=1000, max_elements=1000)
    except SkeletonFormatError as error:
        assert str(path) in str(error)
    else:
        assert sample.data.dtype == np.float32 and np.isfinite(sample.data).all()
