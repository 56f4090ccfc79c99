"""pyskl / mmaction2 pose pickles: round trips, layouts, malformed files, refused code."""

from __future__ import annotations

import os
import pickle
import re
import stat
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelgraph.data import (
    MAX_PICKLE_BYTES,
    SkeletonFormatError,
    SkeletonSample,
    from_array,
    ntu_split,
    nucla_cross_view_split,
    read_ntu_skeleton,
    read_nucla_json,
    read_pose_pickle,
    write_pose_pickle,
)
from tests.conftest import fixture_path


def _annotation(frame_dir="clip0", m=2, t=5, v=17, c=2, label=3, seed=0, score=None):
    rng = np.random.default_rng(seed)
    ann = {
        "frame_dir": frame_dir,
        "label": label,
        "total_frames": t,
        "keypoint": (rng.uniform(0, 640, (m, t, v, c))).astype(np.float16),
    }
    if score if score is not None else c == 2:
        ann["keypoint_score"] = rng.uniform(0, 1, (m, t, v)).astype(np.float16)
        ann["img_shape"] = ann["original_shape"] = (480, 640)
    return ann


def _dump(path: Path, content, protocol: int = 2) -> Path:
    # protocol 2 is what mmcv.dump (pyskl, mmaction2) writes by default
    path.write_bytes(pickle.dumps(content, protocol=protocol))
    return path


def _sample(c=3, t=6, v=25, m=2, layout="ntu-rgbd", label=1, seed=0, **meta) -> SkeletonSample:
    data = np.random.default_rng(seed).standard_normal((c, t, v, m)).astype(np.float32)
    return SkeletonSample(data, label, layout, dict(meta))


LABEL = r"'label' must be an int in 0\.\.65535 \(skelgraph\.limits\.MAX_CLASSES\)"


# ---------------------------------------------------------------------- round trips
def test_round_trip_3d_float32_is_exact(tmp_path):
    samples = [_sample(seed=i, frame_dir=f"S001C001P00{i}R001A001") for i in range(3)]
    path = tmp_path / "ntu.pkl"
    write_pose_pickle(samples, path)
    raw = pickle.loads(path.read_bytes())
    assert isinstance(raw, list) and len(raw) == 3  # no split: a plain list, as pyskl reads
    assert set(raw[0]) == {"frame_dir", "label", "total_frames", "keypoint"}
    assert raw[0]["keypoint"].shape == (2, 6, 25, 3) and raw[0]["keypoint"].dtype == np.float32
    back = read_pose_pickle(path)
    for original, read in zip(samples, back, strict=True):
        np.testing.assert_array_equal(read.data, original.data)
        assert read.data.dtype == np.float32 and read.data.flags.c_contiguous
        assert (read.label, read.layout) == (original.label, "ntu-rgbd")
        assert read.meta["frame_dir"] == original.meta["frame_dir"]
        assert read.meta["channels"] == ("x", "y", "z")
        assert read.meta["path"] == os.fspath(path)


def test_round_trip_2d_with_scores(tmp_path):
    sample = _sample(c=3, v=17, layout="coco-17", frame_dir="v1", img_shape=(720, 1280))
    sample.data[2] = np.abs(sample.data[2])
    path = tmp_path / "coco.pkl"
    write_pose_pickle([sample], path)
    (raw,) = pickle.loads(path.read_bytes())
    assert raw["keypoint"].shape == (2, 6, 17, 2)
    assert raw["keypoint_score"].shape == (2, 6, 17)
    assert raw["img_shape"] == (720, 1280)
    np.testing.assert_array_equal(raw["keypoint_score"], sample.data[2].transpose(2, 0, 1))
    (back,) = read_pose_pickle(path)
    np.testing.assert_array_equal(back.data, sample.data)
    assert back.meta["channels"] == ("x", "y", "score") and back.meta["img_shape"] == (720, 1280)
    assert back.layout == "coco-17"
    # and once more through the writer: meta["channels"] says what the channels are
    write_pose_pickle([back], tmp_path / "again.pkl")
    np.testing.assert_array_equal(read_pose_pickle(tmp_path / "again.pkl")[0].data, sample.data)


def test_round_trip_float16_up_to_rounding(tmp_path):
    sample = _sample(frame_dir="a")
    sample.data *= 300  # pixel-like magnitudes, where float16 rounding shows
    write_pose_pickle([sample], tmp_path / "h.pkl", dtype=np.float16)
    (raw,) = pickle.loads((tmp_path / "h.pkl").read_bytes())
    assert raw["keypoint"].dtype == np.float16
    (back,) = read_pose_pickle(tmp_path / "h.pkl")
    np.testing.assert_array_equal(back.data, sample.data.astype(np.float16).astype(np.float32))
    assert not np.array_equal(back.data, sample.data)


def test_two_d_without_scores_reads_as_xy(tmp_path):
    ann = _annotation(c=2, score=False)
    (sample,) = read_pose_pickle(_dump(tmp_path / "a.pkl", [ann]))
    assert sample.shape == (2, 5, 17, 2) and sample.meta["channels"] == ("x", "y")
    np.testing.assert_array_equal(
        sample.data, ann["keypoint"].astype(np.float32).transpose(3, 1, 2, 0)
    )
    write_pose_pickle([sample], tmp_path / "b.pkl")
    np.testing.assert_array_equal(read_pose_pickle(tmp_path / "b.pkl")[0].data, sample.data)


def test_pyskl_2d_annotation_becomes_x_y_score(tmp_path):
    ann = _annotation(label=np.int64(7))  # numpy integers are fine as labels
    ann.update(
        raw_file="k400/part_3.pkl", frame_inds=np.arange(5, dtype=np.int16), box_score=np.ones(5)
    )
    (sample,) = read_pose_pickle(_dump(tmp_path / "hrnet.pkl", [ann]))
    assert sample.label == 7 and isinstance(sample.label, int)
    assert sample.shape == (3, 5, 17, 2) and sample.layout == "coco-17"
    np.testing.assert_array_equal(
        sample.data[:2], ann["keypoint"].astype(np.float32).transpose(3, 1, 2, 0)
    )
    np.testing.assert_array_equal(
        sample.data[2], ann["keypoint_score"].astype(np.float32).transpose(1, 2, 0)
    )
    assert sample.meta["raw_file"] == "k400/part_3.pkl"
    np.testing.assert_array_equal(sample.meta["frame_inds"], np.arange(5))
    assert sample.meta["img_shape"] == sample.meta["original_shape"] == (480, 640)
    for key in ("keypoint", "keypoint_score", "label", "total_frames"):
        assert key not in sample.meta


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_every_pickle_protocol(tmp_path, protocol):
    content = {"split": {"train": ["clip0"]}, "annotations": [_annotation()]}
    (sample,) = read_pose_pickle(_dump(tmp_path / "p.pkl", content, protocol), "train")
    assert sample.shape == (3, 5, 17, 2)


def test_numpy_1_names_are_read(tmp_path):
    # Files written under NumPy 1 (all of pyskl's) name numpy.core, not numpy._core.
    raw = pickle.dumps([_annotation(label=np.int64(2))], protocol=2)
    if b"numpy._core" in raw:
        raw = raw.replace(b"numpy._core.", b"numpy.core.")
    assert b"numpy.core.multiarray" in raw and b"numpy._core" not in raw
    (tmp_path / "old.pkl").write_bytes(raw)
    (sample,) = read_pose_pickle(tmp_path / "old.pkl")
    assert sample.label == 2


# ---------------------------------------------------------------------- splits
def test_splits_select_in_annotation_order(tmp_path):
    samples = {f"id{i}": _sample(seed=i, label=i) for i in range(5)}
    split = {"xsub_train": ["id3", "id0", "id4"], "xsub_val": ["id1", "id2"]}
    path = tmp_path / "s.pkl"
    write_pose_pickle(samples, path, split)
    raw = pickle.loads(path.read_bytes())
    assert raw["split"] == split and len(raw["annotations"]) == 5
    train = read_pose_pickle(path, "xsub_train")
    assert [s.meta["frame_dir"] for s in train] == ["id0", "id3", "id4"]  # as pyskl's filter
    assert [s.label for s in read_pose_pickle(path, "xsub_val")] == [1, 2]
    assert len(read_pose_pickle(path)) == 5  # no split: everything
    np.testing.assert_array_equal(train[1].data, samples["id3"].data)


def test_unknown_split_lists_the_names(tmp_path):
    path = tmp_path / "s.pkl"
    write_pose_pickle({"a": _sample()}, path, {"xsub_train": ["a"], "xsub_val": []})
    with pytest.raises(
        SkeletonFormatError, match="no split 'train'; the splits are 'xsub_train', 'xsub_val'"
    ) as info:
        read_pose_pickle(path, "train")
    assert isinstance(info.value, ValueError) and info.value.path == os.fspath(path)
    write_pose_pickle({"a": _sample()}, tmp_path / "plain.pkl")
    with pytest.raises(SkeletonFormatError, match="has no 'split' table"):
        read_pose_pickle(tmp_path / "plain.pkl", "train")


def test_split_naming_a_missing_annotation(tmp_path):
    content = {"split": {"train": ["clip0", "ghost"]}, "annotations": [_annotation()]}
    with pytest.raises(
        SkeletonFormatError, match=r"names 1 frame_dir\(s\) with no annotation: 'ghost'"
    ):
        read_pose_pickle(_dump(tmp_path / "s.pkl", content), "train")
    content = {"split": {"train": "clip0"}, "annotations": [_annotation()]}
    with pytest.raises(SkeletonFormatError, match="must list frame_dir names"):
        read_pose_pickle(_dump(tmp_path / "s.pkl", content), "train")


# ---------------------------------------------------------------------- layouts
@pytest.mark.parametrize(
    "v, c, layout",
    [
        (17, 2, "coco-17"),
        (18, 2, "openpose-18"),
        (21, 3, "mediapipe-hand-21"),
        (25, 3, "ntu-rgbd"),
        (17, 3, "coco-17"),
    ],
)
def test_layout_is_inferred(tmp_path, v, c, layout):
    (sample,) = read_pose_pickle(_dump(tmp_path / "a.pkl", [_annotation(v=v, c=c)]))
    assert sample.layout == layout and sample.graph.num_nodes == v


def test_layout_override_and_pyskl_alias(tmp_path):
    path = _dump(tmp_path / "a.pkl", [_annotation(v=25, c=3)])
    assert read_pose_pickle(path, layout="nturgb+d")[0].layout == "ntu-rgbd-pyskl"
    assert read_pose_pickle(path, layout="ntu-rgbd-pyskl")[0].layout == "ntu-rgbd-pyskl"
    with pytest.raises(
        SkeletonFormatError, match="layout 'coco-17' has 17 joints but 'keypoint' has V = 25"
    ):
        read_pose_pickle(path, layout="coco")
    with pytest.raises(ValueError, match="unknown layout 'ntu'"):
        read_pose_pickle(path, layout="ntu")


def test_uninferable_layouts_need_layout(tmp_path):
    path = _dump(tmp_path / "a.pkl", [_annotation(v=20, c=3)])
    with pytest.raises(
        SkeletonFormatError,
        match=r"no layout is inferred for V = 20 joints with C = 3; pass layout= "
        r"\(built-in layouts with 20 joints: kinect-v1-20 \(only if the data's joints are in "
        r"the order of its joint_names; MSR Action3D's are in another order",
    ):
        read_pose_pickle(path)
    assert read_pose_pickle(path, layout="kinect-v1-20")[0].layout == "kinect-v1-20"
    with pytest.raises(
        SkeletonFormatError, match=r"V = 25 joints with C = 2.*body25_to_openpose18"
    ):
        read_pose_pickle(_dump(tmp_path / "b.pkl", [_annotation(v=25, c=2)]))
    with pytest.raises(SkeletonFormatError, match="V = 7 joints"):
        read_pose_pickle(_dump(tmp_path / "c.pkl", [_annotation(v=7, c=3)]))


# ---------------------------------------------------------------------- malformed files
def _bad(**changes):
    ann = _annotation(frame_dir="S001C001P001R001A001")
    for key, value in changes.items():
        if value is _DELETE:
            del ann[key]
        else:
            ann[key] = value
    return ann


_DELETE = object()
_F = np.zeros((1, 5, 17, 2), np.float16)

MALFORMED = {
    "keypoint not 4-D": (
        _bad(keypoint=np.zeros((5, 17, 2), np.float16)),
        r"'keypoint' must be \(M, T, V, C\), got shape \(5, 17, 2\)",
    ),
    "C = 4": (
        _bad(keypoint=np.zeros((1, 5, 17, 4)), keypoint_score=_DELETE),
        "C = 2 or 3 coordinates",
    ),
    "C = 1": (
        _bad(keypoint=np.zeros((1, 5, 17, 1)), keypoint_score=_DELETE),
        "C = 2 or 3 coordinates",
    ),
    "no persons": (
        _bad(keypoint=np.zeros((0, 5, 17, 2)), keypoint_score=np.zeros((0, 5, 17))),
        "no persons, frames or joints",
    ),
    "T != total_frames": (_bad(total_frames=6), "'total_frames' is 6 but 'keypoint' has T = 5"),
    "score shape": (
        _bad(keypoint_score=np.zeros((2, 5, 16))),
        r"'keypoint_score' must be \(M, T, V\) = \(2, 5, 17\)",
    ),
    "score with 3-D": (_bad(keypoint=np.zeros((2, 5, 17, 3))), "comes with 2-D keypoints only"),
    "label bool": (_bad(label=True), LABEL + r", got True \(bool\)"),
    "label str": (_bad(label="3"), LABEL + r", got '3' \(str\)"),
    "label float": (_bad(label=3.0), LABEL + r", got 3.0 \(float\)"),
    "label negative": (_bad(label=-1), LABEL + ", got -1"),
    "label numpy bool": (_bad(label=np.bool_(True)), LABEL),
    "label beyond the classes": (_bad(label=2**40), LABEL + ", got 1099511627776"),
    "total_frames float": (_bad(total_frames=5.0), "'total_frames' must be an int, got 5.0"),
    "keypoint a list": (_bad(keypoint=[[0.0]]), "'keypoint' must be a NumPy array, got list"),
    "keypoint strings": (
        _bad(keypoint=np.full((2, 5, 17, 2), "a")),
        "must hold real numbers, got dtype <U1",
    ),
    "keypoint nan": (
        _bad(
            keypoint=np.where(
                np.arange(2)[:, None, None, None] == 1, np.nan, np.zeros((2, 5, 17, 2))
            ).astype(np.float16)
        ),
        r"non-finite value in float32 \(x of person 1, joint 0\) at frame 0",
    ),
    "score inf": (
        _bad(keypoint_score=np.full((2, 5, 17), np.inf, np.float16)),
        r"non-finite value in float32 \(score of person 0",
    ),
    "beyond float32": (_bad(keypoint=np.full((2, 5, 17, 2), 1e39)), "non-finite value in float32"),
    "img_shape": (_bad(img_shape=(480,)), r"'img_shape' must be \(height, width\)"),
    "no label": (_bad(label=_DELETE), "missing key 'label'"),
    "no total_frames": (_bad(total_frames=_DELETE), "missing key 'total_frames'"),
    "no keypoint": (_bad(keypoint=_DELETE), "missing key 'keypoint'"),
    "kinetics raw_file": (
        _bad(keypoint=_DELETE, raw_file="part_0.pkl"),
        "missing key 'keypoint' .its keypoints are in 'raw_file'",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_annotations_name_file_and_frame_dir(tmp_path, case):
    ann, message = MALFORMED[case]
    good = _annotation(frame_dir="fine")
    path = _dump(
        tmp_path / "bad.pkl",
        {"split": {"s": ["fine", "S001C001P001R001A001"]}, "annotations": [good, ann]},
    )
    with pytest.raises(SkeletonFormatError, match=message) as info:
        read_pose_pickle(path)
    assert str(info.value).startswith(f"{path}: annotation 1 ('S001C001P001R001A001'): ")
    with pytest.raises(SkeletonFormatError, match=message):
        read_pose_pickle(path, "s")


@pytest.mark.parametrize(
    "content, message",
    [
        (
            {"annotations": "x"},
            r"expected a list of annotations or dict\(split=\.\.\., annotations=\[\.\.\.\]\), "
            r"got a dict with keys \['annotations'\]",
        ),
        (np.zeros(3), "got a ndarray"),
        ([_annotation(), 5], "annotation 1 is a int, not a dict"),
        ([{"label": 1}], r"annotation 0 has no str 'frame_dir' \(got None; keys \['label'\]\)"),
        ({"split": ["a"], "annotations": []}, "'split' must be a dict of name -> list, got list"),
    ],
)
def test_unexpected_structure(tmp_path, content, message):
    with pytest.raises(SkeletonFormatError, match=message):
        read_pose_pickle(
            _dump(tmp_path / "x.pkl", content), "a" if "split" in str(content) else None
        )


@pytest.mark.parametrize("keep", [1, 10, 100, 0.5, 0.99])
def test_truncated_files(tmp_path, keep):
    raw = pickle.dumps([_annotation(), _annotation("b")], protocol=4)
    cut = int(keep * len(raw)) if isinstance(keep, float) else keep
    (tmp_path / "t.pkl").write_bytes(raw[:cut])
    with pytest.raises(SkeletonFormatError, match=r"(truncated or )?corrupt pickle") as info:
        read_pose_pickle(tmp_path / "t.pkl")
    assert info.value.path == os.fspath(tmp_path / "t.pkl")


def test_trailing_data_and_garbage(tmp_path):
    (tmp_path / "empty.pkl").write_bytes(b"")
    with pytest.raises(SkeletonFormatError, match="empty file"):
        read_pose_pickle(tmp_path / "empty.pkl")
    (tmp_path / "two.pkl").write_bytes(pickle.dumps([]) + pickle.dumps([]))
    with pytest.raises(SkeletonFormatError, match="data after the end of the pickle"):
        read_pose_pickle(tmp_path / "two.pkl")
    (tmp_path / "json.pkl").write_bytes(b'{"annotations": []}')
    with pytest.raises(SkeletonFormatError, match="corrupt pickle"):
        read_pose_pickle(tmp_path / "json.pkl")


class _Built:
    """Pickles as ``make(*args)``."""

    def __init__(self, make, *args) -> None:
        self.make, self.args = make, args

    def __reduce__(self):
        return (self.make, self.args)


@pytest.mark.parametrize("make", [bytes, bytearray])
@pytest.mark.parametrize("encoding", ["", "no-such-codec"])
def test_an_unknown_encoding_is_a_corrupt_pickle(tmp_path, make, encoding):
    """``bytearray("", "")`` raises LookupError (found by the fuzz test): one refusal."""
    content = [{**_annotation(), "keypoint": _Built(make, "", encoding)}]
    with pytest.raises(
        SkeletonFormatError, match=r"corrupt pickle \(LookupError: unknown encoding"
    ):
        read_pose_pickle(_dump(tmp_path / "x.pkl", content))


# ---------------------------------------------------------------------- refused code
class _System:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _Eval:
    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        import builtins

        return (builtins.eval, (self.code,))


def test_payload_is_real_when_unpickled_naively(tmp_path):
    marker = tmp_path / "naive"
    pickle.loads(pickle.dumps(_System(f"touch {marker}")))  # what plain pickle.load would do
    assert marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_code_in_a_pickle_is_refused_before_it_runs(tmp_path, protocol):
    marker = tmp_path / "pwned"
    payload = _System(f"touch {marker}")
    ann = _annotation()
    ann["raw_file"] = payload  # hidden in an extra key, after an innocent array
    path = _dump(
        tmp_path / "evil.pkl", {"split": {"train": ["clip0"]}, "annotations": [ann]}, protocol
    )
    with pytest.raises(
        SkeletonFormatError, match=r"refused to load the global (posix|nt)\.system"
    ) as info:
        read_pose_pickle(path, "train")
    assert info.value.path == os.fspath(path)
    assert not marker.exists()


def test_refused_builtins_and_other_modules(tmp_path):
    marker = tmp_path / "pwned"
    code = f"open({str(marker)!r}, 'w').write('x')"
    with pytest.raises(SkeletonFormatError, match=r"refused to load the global builtins\.eval"):
        read_pose_pickle(_dump(tmp_path / "e.pkl", [_Eval(code)], 2))
    with pytest.raises(
        SkeletonFormatError, match=r"refused to load the global collections\.OrderedDict"
    ):
        from collections import OrderedDict

        read_pose_pickle(_dump(tmp_path / "o.pkl", OrderedDict(annotations=[])))
    # the protocol-2 bytes helper only encodes latin-1
    raw = pickle.dumps([b"ab"], protocol=2).replace(b"latin1", b"rot13\x00")
    (tmp_path / "c.pkl").write_bytes(raw)
    with pytest.raises(SkeletonFormatError, match="corrupt"):
        read_pose_pickle(tmp_path / "c.pkl")
    assert not marker.exists()


# ---------------------------------------------------------------------- what is read
def test_only_regular_files(tmp_path):
    with pytest.raises(SkeletonFormatError, match=r"not a regular file \(a directory\)"):
        read_pose_pickle(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "fifo.pkl"
        os.mkfifo(fifo)
        with pytest.raises(SkeletonFormatError, match=r"not a regular file \(a FIFO\)"):
            read_pose_pickle(fifo)  # refused without blocking on the open
    if Path("/dev/null").exists() and stat.S_ISCHR(os.stat("/dev/null").st_mode):
        with pytest.raises(SkeletonFormatError, match=r"a character device"):
            read_pose_pickle("/dev/null")
    with pytest.raises(FileNotFoundError):
        read_pose_pickle(tmp_path / "missing.pkl")


def test_size_budget(tmp_path):
    path = _dump(tmp_path / "a.pkl", [_annotation()])
    size = path.stat().st_size
    assert MAX_PICKLE_BYTES == 4 * 1024**3
    with pytest.raises(
        SkeletonFormatError,
        match=f"the file is {size} bytes, above the budget of {size - 1} bytes; pass max_bytes=",
    ):
        read_pose_pickle(path, max_bytes=size - 1)
    assert len(read_pose_pickle(path, max_bytes=size)) == 1
    assert len(read_pose_pickle(path, max_bytes=None)) == 1


# ---------------------------------------------------------------------- the writer
def test_writer_needs_labels_and_ids(tmp_path):
    path = tmp_path / "w.pkl"
    with pytest.raises(
        ValueError, match="sample 'b' has no label; a pose pickle needs an int label"
    ):
        write_pose_pickle({"a": _sample(), "b": _sample(label=None)}, path)
    assert not path.exists()  # nothing written
    with pytest.raises(ValueError, match="sample 0 has no id"):
        write_pose_pickle([_sample()], path)
    with pytest.raises(ValueError, match="two samples have the id 'x'"):
        write_pose_pickle([_sample(frame_dir="x"), _sample(path="/data/x.skeleton")], path)
    with pytest.raises(ValueError, match="label must be an int >= 0, got True"):
        write_pose_pickle({"a": _sample(label=True)}, path)
    with pytest.raises(TypeError, match="not a SkeletonSample"):
        write_pose_pickle([np.zeros((3, 2, 25, 1))], path)
    assert not list(tmp_path.iterdir())


def test_writer_checks(tmp_path):
    path = tmp_path / "w.pkl"
    good = {"a": _sample()}
    cases = [
        (
            dict(samples=good, split={"t": ["a", "zz"]}),
            r"split 't' names 1 id\(s\) with no sample: 'zz'",
        ),
        (dict(samples=good, split={"t": "a"}), "must be a list of ids, got a single string"),
        (dict(samples=good, dtype=np.float64), "dtype must be float16 or float32"),
        (dict(samples={"a": _sample(c=4)}), r"3D keypoints need C = 3 \(x, y, z\), got C = 4"),
        (dict(samples={"a": _sample(c=4)}, keypoints="2d"), "2D keypoints need C = 2 or 3"),
        (dict(samples={"a": _sample(c=3)}, keypoints="4d"), "keypoints must be"),
        (
            dict(samples={"a": _big()}, dtype=np.float16),
            "values up to 1e\\+06 do not fit float16 .largest 65504.; write float32",
        ),
        (dict(samples={"a": _nan()}), "non-finite values"),
        (
            dict(samples={"a": _sample(obj=object())}, meta_keys=["obj"]),
            r"meta\['obj'\] is not plain data \(object\)",
        ),
        (dict(samples=good, meta_keys=["label"]), "meta_keys may not name"),
    ]
    for kwargs, message in cases:
        samples = kwargs.pop("samples")
        with pytest.raises(ValueError, match=message):
            write_pose_pickle(samples, path, **kwargs)
    assert not list(tmp_path.iterdir())


def _big() -> SkeletonSample:
    s = _sample()
    s.data[0, 0, 0, 0] = 1e6
    return s


def _nan() -> SkeletonSample:
    s = _sample()
    s.data[1, 2, 3, 0] = np.nan
    return s


def test_writer_meta_keys_and_ids_from_meta(tmp_path):
    samples = [
        _sample(frame_dir="fd", frame_inds=np.arange(6), note="x"),
        _sample(clip_id="clip"),
        _sample(file_name="a01_s01_e00_v01", path="/x/a01_s01_e00_v01.json"),
        _sample(path="/data/S001C001P001R001A001.skeleton"),
    ]
    write_pose_pickle(samples, tmp_path / "m.pkl", meta_keys=["frame_inds", "note"])
    back = read_pose_pickle(tmp_path / "m.pkl")
    assert [s.meta["frame_dir"] for s in back] == [
        "fd",
        "clip",
        "a01_s01_e00_v01",
        "S001C001P001R001A001",
    ]
    np.testing.assert_array_equal(back[0].meta["frame_inds"], np.arange(6))
    assert back[0].meta["note"] == "x" and "note" not in back[1].meta


def test_writer_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "a.pkl"
    write_pose_pickle({"old": _sample()}, path)
    before = path.read_bytes()
    mode = stat.S_IMODE(path.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask  # the umask decides, as for open()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pickle, "dump", fail)
    with pytest.raises(OSError, match="disk full"):
        write_pose_pickle({"new": _sample()}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pkl"]  # no temp file left
    write_pose_pickle({"new": _sample()}, path)
    assert read_pose_pickle(path)[0].meta["frame_dir"] == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pkl"]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    m=st.integers(1, 3),
    t=st.integers(1, 9),
    layout=st.sampled_from(["ntu-rgbd", "coco-17", "openpose-18", "mediapipe-hand-21"]),
    half=st.booleans(),
    two_d=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_round_trip_property(tmp_path, m, t, layout, half, two_d, seed):
    v = {"ntu-rgbd": 25, "coco-17": 17, "openpose-18": 18, "mediapipe-hand-21": 21}[layout]
    if layout == "ntu-rgbd":
        two_d = False
    array = np.random.default_rng(seed).uniform(-2000, 2000, (t, m, v, 3))
    array[..., 0, :] = 0  # an absent joint
    sample = from_array(array, layout, label=seed % 60)
    dtype = np.float16 if half else np.float32
    path = tmp_path / "p.pkl"
    write_pose_pickle(
        {"s": sample}, path, {"all": ["s"]}, dtype=dtype, keypoints="2d" if two_d else "3d"
    )
    (back,) = read_pose_pickle(path, "all", layout=layout)
    np.testing.assert_array_equal(back.data, sample.data.astype(dtype).astype(np.float32))
    assert back.label == sample.label and back.layout == layout
    assert back.meta["channels"] == (("x", "y", "score") if two_d else ("x", "y", "z"))


# ---------------------------------------------------------------------- real data
def test_pickle_built_from_the_ntu_fixture(tmp_path):
    files = [
        fixture_path("ntu", name)
        for name in (
            "S001C001P001R001A001.skeleton",
            "S001C002P001R001A001.first3frames.skeleton",
            "S001C001P001R002A050.first3frames.skeleton",
        )
    ]
    samples = {f.name[:20]: read_ntu_skeleton(f) for f in files}
    train, val = ntu_split(list(samples), "xview")  # camera 1 is the test view
    assert (train, val) == (
        ["S001C002P001R001A001"],
        ["S001C001P001R001A001", "S001C001P001R002A050"],
    )
    path = tmp_path / "ntu60_3danno.pkl"
    write_pose_pickle(samples, path, {"xview_train": train, "xview_val": val}, dtype=np.float16)
    val_samples = read_pose_pickle(path, "xview_val")
    assert [s.meta["frame_dir"] for s in val_samples] == val
    full = val_samples[0]
    assert full.shape == (3, 103, 25, 2) and full.label == 0 and full.layout == "ntu-rgbd"
    expected = samples["S001C001P001R001A001"].data.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(full.data, expected)
    # against the toolbox oracle: float16 keeps 11 bits, about 1e-3 relative
    oracle = np.load(fixture_path("ntu", "S001C001P001R001A001.xyz.npy"))
    np.testing.assert_allclose(full.data[..., 0].transpose(1, 2, 0), oracle, rtol=1e-3, atol=1e-4)
    assert val_samples[1].label == 49  # A050, punch/slap
    raw = pickle.loads(path.read_bytes())
    assert raw["annotations"][0]["keypoint"].shape == (2, 103, 25, 3)  # pyskl's (M, T, V, C)
    assert raw["annotations"][0]["total_frames"] == 103


def test_pickle_built_from_nucla(tmp_path):
    folder = fixture_path("nw-ucla", "all_sqe")
    files = sorted(folder.glob("a0[1-3]_s0[12]_e00_v0*.json"))
    assert len(files) >= 6
    samples = [read_nucla_json(f) for f in files]
    train, test = nucla_cross_view_split(files)
    split = {"train": [Path(p).stem for p in train], "val": [Path(p).stem for p in test]}
    path = tmp_path / "nucla.pkl"
    write_pose_pickle(samples, path, split)
    with pytest.raises(SkeletonFormatError, match=r"V = 20 joints.*kinect-v1-20"):
        read_pose_pickle(path, "val")
    back = read_pose_pickle(path, "val", layout="kinect-v1-20")
    assert [s.meta["frame_dir"] for s in back] == split["val"] and back
    by_name = {f.stem: s for f, s in zip(files, samples, strict=True)}
    for s in back:
        np.testing.assert_array_equal(s.data, by_name[s.meta["frame_dir"]].data)
        assert s.label == by_name[s.meta["frame_dir"]].label
        assert re.fullmatch(r"a\d\d_s\d\d_e\d\d_v03", s.meta["frame_dir"])
