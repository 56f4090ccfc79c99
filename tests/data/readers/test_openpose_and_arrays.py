"""A user's own pose estimates: OpenPose JSON folders and plain arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skelgraph.data import (
    BODY25_TO_OPENPOSE18,
    SkeletonFormatError,
    body25_to_openpose18,
    from_array,
    read_array_file,
    read_openpose_folder,
)
from skelgraph.graph import SkeletonGraph

# OpenPose's documented keypoint names (doc/02_output.md), in output order.
BODY_25 = (
    "Nose Neck RShoulder RElbow RWrist LShoulder LElbow LWrist MidHip RHip RKnee RAnkle "
    "LHip LKnee LAnkle REye LEye REar LEar LBigToe LSmallToe LHeel RBigToe RSmallToe RHeel"
).split()
COCO_18 = (
    "Nose Neck RShoulder RElbow RWrist LShoulder LElbow LWrist RHip RKnee RAnkle "
    "LHip LKnee LAnkle REye LEye REar LEar"
).split()


def _person(rng: np.random.Generator, joints: int, confidence: float) -> dict:
    xyc = np.column_stack(
        [rng.uniform(0, 640, joints), rng.uniform(0, 480, joints), np.full(joints, confidence)]
    )
    xyc[3] = 0  # one keypoint not found
    return {
        "person_id": [-1],
        "pose_keypoints_2d": xyc.ravel().round(3).tolist(),
        "face_keypoints_2d": [],
        "hand_left_keypoints_2d": [],
        "hand_right_keypoints_2d": [],
        "pose_keypoints_3d": [],
    }


def _write_folder(folder: Path, joints: int, people_per_frame: list[int]) -> list[list[dict]]:
    """Files as OpenPose --write_json names them: <video>_<frame:012d>_keypoints.json."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    frames = []
    for t, count in enumerate(people_per_frame):
        people = [_person(rng, joints, 0.9 - 0.2 * m) for m in range(count)]
        (folder / f"video_{t:012d}_keypoints.json").write_text(
            json.dumps({"version": 1.3, "people": people})
        )
        frames.append(people)
    return frames


def test_body25_mapping_by_name():
    assert [BODY_25[i] for i in BODY25_TO_OPENPOSE18] == COCO_18
    layout = SkeletonGraph.from_layout("openpose-18").joint_names
    assert layout[8] == "right_hip" and COCO_18[8] == "RHip"


@pytest.mark.parametrize("joints", [25, 18])
def test_openpose_folder(tmp_path, joints):
    frames = _write_folder(tmp_path / "clip", joints, [1, 3, 0, 2] + [1] * 8)
    sample = read_openpose_folder(tmp_path / "clip")
    assert sample.layout == "openpose-18" and sample.shape == (3, 12, 18, 2)
    assert sample.meta["model"] == ("BODY_25" if joints == 25 else "COCO")
    assert sample.meta["files"][10] == "video_000000000010_keypoints.json"  # numeric order
    assert not sample.data[:, 2].any()  # nobody in frame 2
    first = np.array(frames[1][0]["pose_keypoints_2d"]).reshape(joints, 3)
    if joints == 25:
        first = first[list(BODY25_TO_OPENPOSE18)]
    np.testing.assert_allclose(sample.data[:, 1, :, 0], first.T, rtol=1e-6)
    np.testing.assert_allclose(sample.data[2, 1, 0], [0.9, 0.7])  # best two of three


def test_openpose_image_size_matches_kinetics_convention(tmp_path):
    frames = _write_folder(tmp_path / "clip", 18, [1, 1])
    sample = read_openpose_folder(tmp_path / "clip", image_size=(640, 480), num_people=1)
    raw = np.array(frames[0][0]["pose_keypoints_2d"]).reshape(18, 3)
    np.testing.assert_allclose(sample.data[0, 0, 0, 0], raw[0, 0] / 640 - 0.5, rtol=1e-5)
    np.testing.assert_allclose(sample.data[1, 0, 0, 0], 0.5 - raw[0, 1] / 480, rtol=1e-5)
    assert (sample.data[:, 0, 3, 0] == 0).all()  # missing keypoint stays zero


def test_openpose_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SkeletonFormatError, match=r"no \*_keypoints\.json"):
        read_openpose_folder(tmp_path / "empty")
    _write_folder(tmp_path / "mixed", 25, [1, 1])
    record = {"people": [{"pose_keypoints_2d": [0.0] * 54}]}
    bad = tmp_path / "mixed" / "video_000000000001_keypoints.json"
    bad.write_text(json.dumps(record))
    with pytest.raises(SkeletonFormatError, match="must have 75 values") as info:
        read_openpose_folder(tmp_path / "mixed")
    assert info.value.frame == 1 and info.value.path == str(bad)
    (tmp_path / "odd").mkdir()
    odd = tmp_path / "odd" / "v_000000000000_keypoints.json"
    odd.write_text(json.dumps({"people": [{"pose_keypoints_2d": [0.0] * 30}]}))
    with pytest.raises(SkeletonFormatError, match="neither"):
        read_openpose_folder(tmp_path / "odd")
    odd.write_text(json.dumps({"people": [{"pose_keypoints": [0.0] * 54}]}))  # OpenPose < 1.2
    assert read_openpose_folder(tmp_path / "odd", model="COCO").shape == (3, 1, 18, 2)
    odd.write_text('{"people": [')
    with pytest.raises(SkeletonFormatError, match="invalid JSON") as info:
        read_openpose_folder(tmp_path / "odd")
    assert info.value.line == 1


@pytest.mark.parametrize(
    ("layout", "shape"),
    [
        ("mediapipe-hand-21", (10, 21, 3)),  # (T, V, C): x, y, z
        ("mediapipe-pose-33", (10, 33, 4)),  # x, y, z, visibility
        ("coco-17", (10, 2, 17, 3)),  # (T, M, V, C): x, y, score
        ("kinect-v1-20", (10, 1, 20, 3)),
    ],
)
def test_from_array_layouts(layout, shape):
    array = np.random.default_rng(0).random(shape)
    sample = from_array(array, layout, label=3)
    t, v, c = shape[0], shape[-2], shape[-1]
    m = shape[1] if len(shape) == 4 else 1
    assert sample.shape == (c, t, v, m) and sample.label == 3 and sample.layout == layout
    expected = array if len(shape) == 4 else array[:, None]
    np.testing.assert_allclose(sample.data, expected.transpose(3, 0, 2, 1), rtol=1e-6)


def test_from_array_errors_and_nan():
    with pytest.raises(
        SkeletonFormatError, match="'coco-17' has 17 joints but the array has V = 21"
    ):
        from_array(np.zeros((5, 21, 3)), "coco-17")
    with pytest.raises(SkeletonFormatError, match="body25_to_openpose18"):
        from_array(np.zeros((5, 25, 3)), "openpose-18")
    with pytest.raises(SkeletonFormatError, match="shape"):
        from_array(np.zeros((5, 3)), "coco-17")
    with pytest.raises(ValueError, match="unknown layout"):
        from_array(np.zeros((5, 17, 3)), "body-99")
    bad = np.zeros((4, 17, 3))
    bad[2, 5, 1] = np.inf
    with pytest.raises(SkeletonFormatError, match="infinite") as info:
        from_array(bad, "coco-17")
    assert info.value.frame == 2
    holes = np.ones((4, 21, 3))
    holes[1, 7, 0] = np.nan
    sample = from_array(holes, "mediapipe-hand-21")
    assert (sample.data[:, 1, 7, 0] == 0).all() and sample.data[:, 1, 6, 0].all()


def test_array_files(tmp_path):
    array = np.random.default_rng(0).random((6, 25, 3))
    np.save(tmp_path / "pose.npy", array)
    sample = read_array_file(tmp_path / "pose.npy", "ntu-rgbd", label=1)
    assert sample.shape == (3, 6, 25, 1) and sample.meta["path"] == str(tmp_path / "pose.npy")
    np.savetxt(tmp_path / "pose.csv", array.reshape(6, -1), delimiter=",")
    from_csv = read_array_file(tmp_path / "pose.csv", "ntu-rgbd")
    np.testing.assert_allclose(from_csv.data, sample.data, rtol=1e-6)
    (tmp_path / "bad.csv").write_text("1,2,x\n")
    with pytest.raises(SkeletonFormatError, match=r"bad\.csv"):
        read_array_file(tmp_path / "bad.csv", "ntu-rgbd")
    body25 = np.random.default_rng(1).random((3, 25, 3))
    mapped = from_array(body25_to_openpose18(body25, joint_axis=1), "openpose-18")
    assert mapped.shape == (3, 3, 18, 1)


# ---------------------------------------------------------------------- hostile input (#16)
def test_openpose_crowd_and_empty_files_cost_only_the_output(tmp_path):
    import tracemalloc

    folder = tmp_path / "clip"
    folder.mkdir()
    person = {"pose_keypoints_2d": [10.0, 20.0, 0.9] * 25}
    (folder / "v_000000000000_keypoints.json").write_text(json.dumps({"people": [person] * 100}))
    for t in range(1, 500):
        (folder / f"v_{t:012d}_keypoints.json").write_text('{"people": []}')
    tracemalloc.start()
    try:
        sample = read_openpose_folder(folder)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sample.shape == (3, 500, 18, 2) and not sample.data[:, 1:].any()
    assert peak < 8_000_000  # before: a float64 (3, 500, 25, 100) array and copies (> 30 MB)
    with pytest.raises(SkeletonFormatError, match="max_files=100"):
        read_openpose_folder(folder, max_files=100)
    with pytest.raises(SkeletonFormatError, match="max_bytes=1000"):
        read_openpose_folder(folder, max_bytes=1000)
    with pytest.raises(SkeletonFormatError, match="max_elements"):
        read_openpose_folder(folder, max_elements=1000)


def test_openpose_arguments_and_overflow(tmp_path):
    _write_folder(tmp_path / "clip", 25, [1, 1])
    for size in [(float("nan"), 1080), (1920, float("inf")), (0, 1080)]:
        with pytest.raises(ValueError, match="image_size"):
            read_openpose_folder(tmp_path / "clip", image_size=size)
    for label in (-1, 2**31, 1.5):
        with pytest.raises(ValueError, match="label"):
            read_openpose_folder(tmp_path / "clip", label=label)
    # dividing by a tiny frame size leaves float32's range: a format error, not inf
    with pytest.raises(SkeletonFormatError, match="float32") as info:
        read_openpose_folder(tmp_path / "clip", image_size=(1e-300, 1e-300))
    assert info.value.frame == 0 and "_keypoints.json" in info.value.path


def test_openpose_huge_value_names_file(tmp_path):
    folder = tmp_path / "clip"
    _write_folder(folder, 18, [1, 1])
    file = folder / "video_000000000001_keypoints.json"
    record = json.loads(file.read_text())
    record["people"][0]["pose_keypoints_2d"][0] = 3.5e38
    file.write_text(json.dumps(record))
    with pytest.raises(SkeletonFormatError, match="float32") as info:
        read_openpose_folder(folder)
    assert info.value.path == str(file) and info.value.frame == 1


def test_from_array_float32_range_budget_and_label():
    poses = np.zeros((4, 25, 3))
    poses[2, 3, 1] = 3.5e38
    with pytest.raises(SkeletonFormatError, match="float32") as info:
        from_array(poses, "ntu-rgbd")
    assert info.value.frame == 2
    poses[2, 3, 1] = 3.4e38
    assert np.isfinite(from_array(poses, "ntu-rgbd").data).all()
    with pytest.raises(SkeletonFormatError, match="max_elements"):
        from_array(poses, "ntu-rgbd", max_elements=100)
    with pytest.raises(SkeletonFormatError, match="label"):
        from_array(poses, "ntu-rgbd", label=-2)


def test_npy_files_that_lie(tmp_path):
    import io

    empty = tmp_path / "empty.npy"
    empty.write_bytes(b"")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 25, 3)}
    )
    huge = tmp_path / "huge.npy"
    huge.write_bytes(header.getvalue())
    truncated = tmp_path / "truncated.npy"
    np.save(truncated, np.zeros((10, 25, 3), np.float32))
    truncated.write_bytes(truncated.read_bytes()[:-4])
    for path, message in [
        (empty, "empty file"),  # was EOFError
        (huge, "max_elements"),  # was numpy's _ArrayMemoryError
        (truncated, "truncated"),
    ]:
        with pytest.raises(SkeletonFormatError, match=message) as info:
            read_array_file(path, "ntu-rgbd")
        assert info.value.path == str(path)
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((10, 25, 3), np.float32))
    assert read_array_file(small, "ntu-rgbd").shape == (3, 10, 25, 1)
    with pytest.raises(SkeletonFormatError, match="max_bytes"):
        read_array_file(small, "ntu-rgbd", max_bytes=100)
