"""pyskl's test pipeline: PysklPipeline against a NumPy transcription of pyskl's
``pyskl/datasets/pipelines`` semantics (in pyskl's (M, T, V, C) layout, with its quaternion
rotation), and Predictor.probabilities against pyskl's pipeline + model end to end."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from examples.msg3d.convert_checkpoint import convert_pyskl
from examples.msg3d.predict import Predictor
from examples.msg3d.pyskl_pipeline import (
    BONE_PAIRS,
    PysklPipeline,
    bone_graph,
    pipeline_from_dict,
    prenormalize_3d,
)
from skelgraph import SkeletonGraph
from skelgraph.data import SkeletonSample, read_pose_pickle
from tests.examples import pyskl_oracle

# --------------------------------------------------------------------- the transcription


def _rotation(axis, theta):
    """pyskl's ``rotation_matrix`` (Euler-Rodrigues, as a quaternion)."""
    if np.abs(axis).sum() < 1e-6 or np.abs(theta) < 1e-6:
        return np.eye(3)
    axis = np.asarray(axis) / np.sqrt(np.dot(axis, axis))
    a = np.cos(theta / 2.0)
    b, c, d = -axis * np.sin(theta / 2.0)
    return np.array(
        [
            [a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
            [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
            [2 * (b * d + a * c), 2 * (c * d - a * b), a * a + d * d - b * b - c * c],
        ]
    )


def _angle(v1, v2):
    if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
        return 0
    u1, u2 = v1 / np.linalg.norm(v1), v2 / np.linalg.norm(v2)
    return np.arccos(np.clip(np.dot(u1, u2), -1.0, 1.0))


def _prenormalize_3d(kp):
    m, t = kp.shape[:2]
    if kp.sum() == 0:
        return kp
    frames = [[i for i in range(t) if not np.all(np.isclose(kp[p, i], 0))] for p in range(m)]
    if m == 2 and len(frames[0]) < len(frames[1]):
        kp = kp[:, np.array(frames[1])][[1, 0]]
    else:
        kp = kp[:, np.array(frames[0])]
    center = kp[0, 0, 1 if kp.shape[2] == 25 else -1].copy()
    kp = (kp - center) * ((kp != 0).sum(-1) > 0)[..., None]
    spine = kp[0, 0, 1] - kp[0, 0, 0]
    z = _rotation(np.cross(spine, [0, 0, 1]), _angle(spine, [0, 0, 1]))
    kp = np.einsum("abcd,kd->abck", kp, z)
    shoulders = kp[0, 0, 8] - kp[0, 0, 4]
    x = _rotation(np.cross(shoulders, [1, 0, 0]), _angle(shoulders, [1, 0, 0]))
    return np.einsum("abcd,kd->abck", kp, x)


def _prenormalize_2d(kp, score, img_shape):
    kp = np.concatenate([kp, score[..., None]], -1).astype(np.float32)
    h, w = img_shape
    low = kp[..., 2] <= 0.01
    kp[..., 0] = (kp[..., 0] - w / 2) / (w / 2)
    kp[..., 1] = (kp[..., 1] - h / 2) / (h / 2)
    kp[..., 0][low] = 0
    kp[..., 1][low] = 0
    return kp


def _bones(kp, pairs, with_score):
    bone = np.zeros_like(kp)
    for v1, v2 in pairs:
        bone[..., v1, :] = kp[..., v1, :] - kp[..., v2, :]
        if with_score:
            bone[..., v1, 2] = (kp[..., v1, 2] + kp[..., v2, 2]) / 2
    return bone


def _motion(x, with_score):
    out = np.zeros_like(x)
    out[:, :-1] = np.diff(x, axis=1)
    if with_score:
        out[:, :-1, :, 2] = (x[:, :-1, :, 2] + x[:, 1:, :, 2]) / 2
    return out


def _test_clips(num_frames, clip_len, num_clips):
    rng = np.random.RandomState(255)  # the stream of pyskl's np.random.seed(255)
    inds = []
    for i in range(num_clips):
        rng.rand()  # p_interval 1: ratio 1
        rng.randint(1)  # offset 0
        if num_frames < clip_len:
            start = i if num_frames < num_clips else i * num_frames // num_clips
            clip = np.arange(start, start + clip_len)
        elif num_frames < 2 * clip_len:
            chosen = rng.choice(clip_len + 1, num_frames - clip_len, replace=False)
            offset = np.zeros(clip_len + 1, np.int64)
            offset[chosen] = 1
            clip = np.arange(clip_len) + np.cumsum(offset)[:-1]
        else:
            bids = np.array([j * num_frames // clip_len for j in range(clip_len + 1)])
            clip = bids[:clip_len] + rng.randint(np.diff(bids))
        inds.append(clip)
    return np.mod(np.concatenate(inds), num_frames)


def pyskl_input(anno, layout, stream, num_clips=10, clip_len=100):
    """(num_clips, M=2, clip_len, V, C): pyskl's test pipeline on a pose-pickle annotation."""
    if "keypoint_score" in anno:
        shape = anno.get("img_shape", (1080, 1920))
        kp = _prenormalize_2d(anno["keypoint"], anno["keypoint_score"], shape)
    else:
        kp = _prenormalize_3d(anno["keypoint"].astype(np.float32))
    with_score = "keypoint_score" in anno
    feature = {"j": kp}
    if stream.startswith("b"):
        feature["b"] = _bones(kp, BONE_PAIRS[layout], with_score)
    for base in ("j", "b"):
        if stream == base + "m":
            feature[stream] = _motion(feature[base], with_score)
    x = feature[stream]
    x = x[:, _test_clips(x.shape[1], clip_len, num_clips)].astype(np.float32)
    if x.shape[0] < 2:
        x = np.concatenate([x, np.zeros((2 - x.shape[0], *x.shape[1:]), x.dtype)])
    x = x[:2]
    m, t, v, c = x.shape
    return x.reshape(m, num_clips, t // num_clips, v, c).transpose(1, 0, 2, 3, 4)


# --------------------------------------------------------------------- samples


def _walk(rng, shape, scale):
    return (rng.normal(0, scale, shape[:1] + (1,) * (len(shape) - 1)) +
            np.cumsum(rng.normal(0, scale / 20, shape), axis=1))  # fmt: skip


def annotation_3d(seed, persons, frames):
    rng = np.random.default_rng(seed)
    kp = (_walk(rng, (persons, frames, 25, 3), 0.5) + [0.1, 0.3, 3.0]).astype(np.float32)
    if persons == 2:  # person 0 missing in 30 frames, person 1 in 10: they swap
        kp[0, 5:35] = 0
        kp[1, 100:110] = 0
    kp[0, 40, 3] = 0  # an absent joint stays at zero
    return {"frame_dir": f"3d{seed}", "label": 4, "total_frames": frames, "keypoint": kp}


def annotation_2d(seed, persons, frames, img_shape=(720, 1280)):
    rng = np.random.default_rng(seed)
    h, w = img_shape or (1080, 1920)
    kp = (_walk(rng, (persons, frames, 17, 2), 40.0) + [w / 2, h / 2]).astype(np.float16)
    score = rng.uniform(0.2, 1.0, (persons, frames, 17)).astype(np.float32)
    score[rng.random(score.shape) < 0.1] = 0.005  # at most pyskl's 0.01: x, y zeroed
    score[0, 3, 4] = 0.01  # the threshold itself is masked too
    anno = {"frame_dir": f"2d{seed}", "label": 1, "total_frames": frames, "keypoint": kp,
            "keypoint_score": score}  # fmt: skip
    if img_shape is not None:
        anno["img_shape"] = img_shape
    return anno


def read_back(anno, layout, tmp_path):
    """The annotation through a pose pickle and skelgraph's reader."""
    path = tmp_path / f"{anno['frame_dir']}.pkl"
    with open(path, "wb") as file:
        pickle.dump({"split": {"val": [anno["frame_dir"]]}, "annotations": [anno]}, file)
    (sample,) = read_pose_pickle(path, "val", layout=layout)
    return sample


# --------------------------------------------------------------------- tests


@pytest.mark.parametrize("layout", sorted(BONE_PAIRS))
def test_the_bone_graphs_have_pyskls_pairs(layout):
    assert sorted(bone_graph(layout).bone_pairs) == sorted(BONE_PAIRS[layout])


def test_pyskls_ntu_bones_are_the_authors():
    # pyskl's JointToBone pairs for NTU are 2s-AGCN's, the authors' layout's tree; its
    # graph's hand edges are not (tip and thumb both on the hand).
    authors = SkeletonGraph.from_layout("ntu-rgbd").bone_pairs
    assert sorted(authors) == sorted(BONE_PAIRS["ntu-rgbd-pyskl"])


@pytest.mark.parametrize("stream", ["j", "b", "jm", "bm"])
@pytest.mark.parametrize(("seed", "persons", "frames"), [(0, 2, 130), (1, 1, 60), (2, 2, 230)])
def test_3d_inputs_are_pyskls(tmp_path, stream, seed, persons, frames):
    anno = annotation_3d(seed, persons, frames)
    names = dict(zip(["j", "b", "jm", "bm"], ["joint", "bone", "joint-motion", "bone-motion"]))
    pipeline = PysklPipeline("ntu-rgbd-pyskl", 3, names[stream])
    ours = pipeline.model_input(read_back(anno, "nturgb+d", tmp_path), 10).numpy()
    expected = pyskl_input(anno, "ntu-rgbd-pyskl", stream)
    np.testing.assert_allclose(ours.transpose(0, 4, 2, 3, 1), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("stream", ["j", "b", "jm", "bm"])
@pytest.mark.parametrize(
    ("seed", "persons", "frames", "img_shape"),
    [(3, 3, 250, (720, 1280)), (4, 1, 80, None), (5, 2, 100, (480, 640))],
)
def test_2d_inputs_are_pyskls(tmp_path, stream, seed, persons, frames, img_shape):
    anno = annotation_2d(seed, persons, frames, img_shape)
    names = dict(zip(["j", "b", "jm", "bm"], ["joint", "bone", "joint-motion", "bone-motion"]))
    pipeline = PysklPipeline("coco-17", 2, names[stream])
    ours = pipeline.model_input(read_back(anno, "coco", tmp_path), 10).numpy()
    expected = pyskl_input(anno, "coco-17", stream)
    np.testing.assert_allclose(ours.transpose(0, 4, 2, 3, 1), expected, rtol=1e-5, atol=1e-5)


def test_3d_probabilities_are_pyskls_pipeline_and_model(tmp_path):
    # A narrow model in pyskl's format (the converter reads the widths off the weights).
    path = pyskl_oracle.save_narrow(tmp_path / "narrow-b.pth", "ntu-rgbd-pyskl", seed=2)
    predictor = Predictor(convert_pyskl(path))
    anno = annotation_3d(0, 2, 130)
    ours = predictor.probabilities(read_back(anno, "nturgb+d", tmp_path), num_clips=10)
    x = torch.from_numpy(pyskl_input(anno, "ntu-rgbd-pyskl", "b")).permute(0, 4, 2, 3, 1)
    with torch.no_grad():
        expected = predictor.model(x).softmax(-1).mean(0)
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-4)


def test_2d_probabilities_are_those_of_pyskls_code(pyskl_coco60):
    # The shared generator's pipeline_2d ran pyskl's PreNormalize2D and model on a
    # 100-frame sample (pyskl's 10 test clips of 100 frames are then all the identity).
    io = torch.load(f"{pyskl_coco60}.io.pt", weights_only=True)
    kp, score = io["sample_keypoint"].numpy(), io["sample_score"].numpy()
    data = np.concatenate([kp, score[..., None]], -1).transpose(3, 1, 2, 0)
    sample = SkeletonSample(data, None, "coco-17", {"img_shape": io["sample_img_shape"]})
    predictor = Predictor(convert_pyskl(f"{pyskl_coco60}.pth", stream="joint"))
    ours = predictor.probabilities(sample, num_clips=10)
    torch.testing.assert_close(ours, io["sample_prob"], rtol=0, atol=1e-4)


def test_the_pipeline_round_trips_through_a_checkpoint_dict():
    pipeline = PysklPipeline("coco-17", 2, "bone", threshold=None, img_shape=(480, 640))
    assert pipeline_from_dict(pipeline.to_dict()) == pipeline
    assert pipeline_from_dict(pipeline.to_dict()).to_dict()["kind"] == "pyskl"


def test_bad_samples_are_named():
    pipeline = PysklPipeline("ntu-rgbd-pyskl", 3, "joint")
    sample = SkeletonSample(np.ones((3, 5, 17, 1), np.float32), None, "coco-17")
    with pytest.raises(ValueError, match=r"\(x, y, z\) of the 25 joints.*C = 3, V = 17"):
        pipeline.model_input(sample)
    with pytest.raises(ValueError, match="1 or 2 persons, got M = 3"):
        prenormalize_3d(np.ones((3, 4, 25, 3), np.float32))
    with pytest.raises(ValueError, match="pyskl layouts"):
        PysklPipeline("ntu-rgbd", 3)


def test_checkpoints_check_the_pyskl_pipeline_field_by_field():
    from examples.msg3d import checkpoint

    pipeline = PysklPipeline("coco-17", 2, "bone")
    assert set(checkpoint._PYSKL_PIPELINE_FIELDS) == set(pipeline.to_dict())
    assert checkpoint.check_pipeline(pipeline.to_dict()) == pipeline
    for field, value, match in [
        ("layout", "../x.json", r"pipeline.layout: expected one of"),
        ("img_shape", [10**9, 5], r"pipeline.img_shape\[0\]: expected an integer"),
        ("threshold", float("nan"), r"pipeline.threshold: expected null or a score"),
        ("clip_len", 0, r"pipeline.clip_len: expected an integer in 1"),
    ]:
        with pytest.raises(ValueError, match=match):
            checkpoint.check_pipeline({**pipeline.to_dict(), field: value})
