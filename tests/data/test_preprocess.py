"""The paper's preprocessing, checked against brute-force and independent computations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelgraph.data import (
    PREPROCESS_SPECS,
    PreprocessSpec,
    align_to_axes,
    alignment_rotation,
    center_joints,
    fill_empty_frames,
    pad_to_length,
    paper_preprocess,
    read_ntu_skeleton,
    rotation_about_axis,
)
from skelgraph.graph import SkeletonGraph
from tests.conftest import fixture_path

NTU = PREPROCESS_SPECS["ntu-rgbd"]


def _fill_reference(data: np.ndarray) -> np.ndarray:
    """Frame-by-frame loops over a list of frames, written from the description."""
    out = data.copy()
    _, t, _, m = data.shape
    for p in range(m):
        frames = [data[:, i, :, p] for i in range(t)]
        present = [bool(f.any()) for f in frames]
        if not any(present):
            continue
        if not present[0]:
            kept = [f for f, ok in zip(frames, present) if ok]
            frames = kept + [np.zeros_like(frames[0])] * (t - len(kept))
            present = [True] * len(kept) + [False] * (t - len(kept))
        last = max(i for i in range(t) if present[i])
        for i in range(last + 1, t):
            frames[i] = frames[(i - last - 1) % (last + 1)]
        for i in range(t):
            out[:, i, :, p] = frames[i]
    return out


def _sequence(rng: np.random.Generator, t: int = 12, v: int = 25, m: int = 2) -> np.ndarray:
    return rng.standard_normal((3, t, v, m)).astype(np.float32)


def test_fill_empty_frames_cases():
    rng = np.random.default_rng(0)
    data = _sequence(rng)
    data[:, 5:, :, 0] = 0  # trailing run: replay 0..4
    data[:, :3, :, 1] = 0  # leading run: compact, then replay
    data[:, 7, :, 1] = 0  # a gap after the leading run: removed by the compaction
    out = fill_empty_frames(data)
    np.testing.assert_array_equal(out, _fill_reference(data))
    np.testing.assert_array_equal(out[:, 5:10, :, 0], data[:, 0:5, :, 0])
    np.testing.assert_array_equal(out[:, 10:, :, 0], data[:, 0:2, :, 0])
    kept = [3, 4, 5, 6, 8, 9, 10, 11]
    np.testing.assert_array_equal(out[:, :8, :, 1], data[..., 1][:, kept])
    np.testing.assert_array_equal(out[:, 8:, :, 1], data[..., 1][:, kept[:4]])
    assert data[:, 5:, :, 0].sum() == 0  # input untouched


def test_fill_keeps_interior_gaps_and_absent_people():
    rng = np.random.default_rng(1)
    data = _sequence(rng, t=8)
    data[:, 3, :, 0] = 0
    data[..., 1] = 0
    out = fill_empty_frames(data)
    np.testing.assert_array_equal(out, data)
    np.testing.assert_array_equal(out, _fill_reference(data))


@pytest.mark.parametrize("seed", range(5))
def test_fill_random_patterns(seed):
    rng = np.random.default_rng(seed)
    data = _sequence(rng, t=15, m=3)
    data[:, rng.random(15) < 0.4, :, 0] = 0
    data[:, rng.random(15) < 0.6, :, 1] = 0
    np.testing.assert_array_equal(fill_empty_frames(data), _fill_reference(data))


def test_center_joints():
    rng = np.random.default_rng(2)
    data = _sequence(rng, t=4)
    data[:, :, 7, 1] = 0  # an absent joint
    out = center_joints(data, 1)
    for t in range(4):
        for m in range(2):
            for v in range(25):
                expected = 0 if v == 7 and m == 1 else data[:, t, v, m] - data[:, t, 1, 0]
                np.testing.assert_allclose(out[:, t, v, m], expected, atol=1e-6)
    both = center_joints(data, (0, 1))
    np.testing.assert_allclose(both[:, :, 0, 0], -both[:, :, 1, 0], atol=1e-6)
    scores = center_joints(data, 1, dims=2)
    np.testing.assert_array_equal(scores[2], data[2])


def _rotation_by_matrix_exp(axis: np.ndarray, angle: float) -> np.ndarray:
    k = torch.tensor(axis / np.linalg.norm(axis), dtype=torch.float64)
    skew = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return torch.linalg.matrix_exp(angle * skew).numpy()


@pytest.mark.parametrize("seed", range(4))
def test_rotation_about_axis_is_the_exponential_map(seed):
    rng = np.random.default_rng(seed)
    axis, angle = rng.standard_normal(3), rng.uniform(-np.pi, np.pi)
    np.testing.assert_allclose(
        rotation_about_axis(axis, angle), _rotation_by_matrix_exp(axis, angle), atol=1e-12
    )
    np.testing.assert_array_equal(rotation_about_axis(np.zeros(3), 1.0), np.eye(3))


def _bone_lengths(data: np.ndarray, layout: str = "ntu-rgbd") -> np.ndarray:
    edges = np.array(SkeletonGraph.from_layout(layout).edges)
    return np.linalg.norm(data[:3, :, edges[:, 0]] - data[:3, :, edges[:, 1]], axis=0)


def _rotated_skeleton(rng: np.random.Generator, perpendicular: bool) -> np.ndarray:
    data = _sequence(rng, t=5)
    if perpendicular:  # make frame 0's shoulders perpendicular to its spine
        spine = data[:, 0, 1, 0] - data[:, 0, 0, 0]
        shoulders = data[:, 0, 8, 0] - data[:, 0, 4, 0]
        shoulders -= (shoulders @ spine) / (spine @ spine) * spine
        data[:, 0, 8, 0] = data[:, 0, 4, 0] + shoulders
    return data


@pytest.mark.parametrize("seed", range(4))
def test_orthonormal_alignment(seed):
    rng = np.random.default_rng(seed)
    data = _rotated_skeleton(rng, perpendicular=False).astype(np.float64)
    out = align_to_axes(data, NTU.z_axis, NTU.x_axis, method="orthonormal")
    spine = out[:, 0, 1, 0] - out[:, 0, 0, 0]
    shoulders = out[:, 0, 8, 0] - out[:, 0, 4, 0]
    np.testing.assert_allclose(spine / np.linalg.norm(spine), [0, 0, 1], atol=1e-5)
    assert abs(shoulders[1]) < 1e-5 and shoulders[0] > 0  # in the x-z plane, towards +x
    np.testing.assert_allclose(_bone_lengths(out), _bone_lengths(data), rtol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_authors_alignment(seed):
    rng = np.random.default_rng(seed)
    data = _rotated_skeleton(rng, perpendicular=True)
    out = align_to_axes(data, NTU.z_axis, NTU.x_axis)
    spine = out[:, 0, 1, 0] - out[:, 0, 0, 0]
    shoulders = out[:, 0, 8, 0] - out[:, 0, 4, 0]
    np.testing.assert_allclose(shoulders / np.linalg.norm(shoulders), [1, 0, 0], atol=1e-5)
    np.testing.assert_allclose(spine / np.linalg.norm(spine), [0, 0, 1], atol=1e-5)
    np.testing.assert_allclose(_bone_lengths(out), _bone_lengths(data), rtol=1e-5)
    # in general the second turn moves the spine off z, while the shoulders end on +x
    general = _rotated_skeleton(rng, perpendicular=False)
    moved = align_to_axes(general, NTU.z_axis, NTU.x_axis)
    shoulders = moved[:, 0, 8, 0] - moved[:, 0, 4, 0]
    np.testing.assert_allclose(shoulders / np.linalg.norm(shoulders), [1, 0, 0], atol=1e-5)


def test_authors_rotation_is_two_axis_angle_turns():
    rng = np.random.default_rng(7)
    spine, shoulders = rng.standard_normal(3), rng.standard_normal(3)
    z, x = np.array([0.0, 0, 1]), np.array([1.0, 0, 0])
    angle = np.arccos(spine @ z / np.linalg.norm(spine))
    r_z = _rotation_by_matrix_exp(np.cross(spine, z), angle)
    turned = r_z @ shoulders
    angle = np.arccos(turned @ x / np.linalg.norm(turned))
    r_x = _rotation_by_matrix_exp(np.cross(turned, x), angle)
    np.testing.assert_allclose(alignment_rotation(spine, shoulders), r_x @ r_z, atol=1e-10)
    r = alignment_rotation(spine, shoulders, "orthonormal")
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_align_needs_3d():
    with pytest.raises(ValueError, match="3-D"):
        align_to_axes(np.zeros((2, 3, 25, 1)), (0, 1), (4, 8))


def test_pad_to_length():
    data = np.arange(3 * 4 * 2 * 1, dtype=np.float32).reshape(3, 4, 2, 1)
    replay = pad_to_length(data, 10)
    np.testing.assert_array_equal(replay[:, [0, 4, 8]], np.stack([data[:, 0]] * 3, axis=1))
    zero = pad_to_length(data, 6, mode="zero")
    assert not zero[:, 4:].any() and (zero[:, :4] == data).all()
    np.testing.assert_array_equal(pad_to_length(data, 3), data[:, :3])
    with pytest.raises(ValueError, match="length"):
        pad_to_length(data, 0)


@pytest.mark.parametrize("method", ["authors", "orthonormal"])
def test_paper_preprocess_on_real_ntu(method):
    sample = read_ntu_skeleton(fixture_path("ntu", "S001C001P001R001A001.skeleton"))
    out = paper_preprocess(sample.data, "ntu-rgbd", method=method)
    assert out.shape == (3, 300, 25, 2) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, 103:206], out[:, :103])  # replayed
    np.testing.assert_array_equal(out[:, 206:300], out[:, :94])
    assert np.abs(out[:, :, 1, 0]).max() < 1e-6  # centred on spine mid, every frame
    assert not out[..., 1].any()  # the absent second body stays absent
    np.testing.assert_allclose(
        _bone_lengths(out[:, :103]), _bone_lengths(sample.data), rtol=1e-4, atol=1e-6
    )
    shoulders = out[:, 0, 8, 0] - out[:, 0, 4, 0]
    spine = out[:, 0, 1, 0] - out[:, 0, 0, 0]
    if method == "authors":
        np.testing.assert_allclose(shoulders / np.linalg.norm(shoulders), [1, 0, 0], atol=1e-5)
    else:
        np.testing.assert_allclose(spine / np.linalg.norm(spine), [0, 0, 1], atol=1e-5)


def test_paper_preprocess_two_bodies_keeps_relative_positions():
    sample = read_ntu_skeleton(fixture_path("ntu", "S001C001P001R002A050.first3frames.skeleton"))
    out = paper_preprocess(sample.data, length=None)
    assert out.shape == sample.data.shape
    gap_before = np.linalg.norm(sample.data[:, :, 3, 1] - sample.data[:, :, 3, 0], axis=0)
    gap_after = np.linalg.norm(out[:, :, 3, 1] - out[:, :, 3, 0], axis=0)
    np.testing.assert_allclose(gap_after, gap_before, rtol=1e-5)


def test_paper_preprocess_2d_and_custom_spec():
    rng = np.random.default_rng(3)
    data = rng.random((3, 20, 18, 2)).astype(np.float32)
    out = paper_preprocess(data, "openpose-18", length=32, dims=2)
    assert out.shape == (3, 32, 18, 2)
    np.testing.assert_array_equal(out[2, :20], data[2])  # the score channel is untouched
    assert np.abs(out[:2, :, 1, 0]).max() < 1e-6
    spec = PreprocessSpec(center=0, z_axis=(0, 1), x_axis=(1, 2))
    custom = paper_preprocess(rng.random((3, 4, 3, 1)), spec, length=None)
    assert np.abs(custom[:, :, 0]).max() < 1e-12
    with pytest.raises(ValueError, match="PreprocessSpec"):
        paper_preprocess(data, "body-99")
    assert not paper_preprocess(np.zeros((3, 5, 25, 2)), length=8).any()


@pytest.mark.parametrize("layout", sorted(PREPROCESS_SPECS))
def test_every_spec_fits_its_layout(layout):
    v = SkeletonGraph.from_layout(layout).num_nodes
    rng = np.random.default_rng(4)
    out = paper_preprocess(rng.standard_normal((3, 6, v, 1)), layout, length=None)
    spec = PREPROCESS_SPECS[layout]
    centre = np.atleast_1d(spec.center)
    assert np.abs(out[:, :, list(centre)].mean(axis=2)).max() < 1e-9


# ---------------------------------------------------------------------- careless input (#16)
def test_paper_preprocess_refuses_another_layouts_joint_count():
    from skelgraph.data import paper_preprocess

    openpose = np.random.default_rng(0).random((3, 10, 18, 2)).astype(np.float32)
    with pytest.raises(ValueError, match="'ntu-rgbd' has 25 joints but the data has V = 18"):
        paper_preprocess(openpose, "ntu-rgbd")  # NTU's joint indices all exist in 18 joints
    assert paper_preprocess(openpose, "openpose-18", dims=2).shape == (3, 300, 18, 2)


def test_nan_in_the_centre_joint_is_an_error_not_a_nan_sequence():
    from skelgraph.data import align_to_axes, center_joints, paper_preprocess

    data = np.random.default_rng(0).random((3, 10, 25, 2)).astype(np.float32)
    data[1, 0, 1, 0] = np.nan  # frame 0, the centre joint (1) of person 0
    for call in (
        lambda: paper_preprocess(data, "ntu-rgbd"),
        lambda: center_joints(data, 1),
        lambda: align_to_axes(data, (0, 1), (4, 8)),
    ):
        with pytest.raises(ValueError, match="channel 1, frame 0, joint 1, person 0"):
            call()
