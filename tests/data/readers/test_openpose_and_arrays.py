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
