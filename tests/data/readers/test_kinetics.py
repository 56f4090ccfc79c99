"""Kinetics-Skeleton (ST-GCN JSON) reader: real clips, labels, person selection, fuzzing."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelgraph.data import (
    SkeletonFormatError,
    load_kinetics_labels,
    load_label_names,
    read_kinetics_json,
    select_people_by_score,
)
from tests.conftest import fixture_path

VAL_LABELS = {
    "--33Lscn6sk": 129,
    "__NrybzYzUg": 0,
    "__PYrzYbzKE": 173,
    "__U_scuxNlQ": 58,
    "__lt03EF4ao": 208,
    "__u6odV5hrI": 207,
    "__vOysOPoCY": 207,
    "__vzEs2wzdQ": 335,
}


def _reference(clip: dict, num_in: int = 5, num_out: int = 2) -> np.ndarray:
    """ST-GCN's semantics, written independently, loops and all (frame i at time i - 1)."""
    t_max = max(f["frame_index"] for f in clip["data"])
    data = np.zeros((3, t_max, 18, num_in))
    for frame in clip["data"]:
        for m, person in enumerate(frame["skeleton"][:num_in]):
            for v in range(18):
                data[0, frame["frame_index"] - 1, v, m] = person["pose"][2 * v] - 0.5
                data[1, frame["frame_index"] - 1, v, m] = 0.5 - person["pose"][2 * v + 1]
                data[2, frame["frame_index"] - 1, v, m] = person["score"][v]
    out = np.zeros((3, t_max, 18, num_out))
    for t in range(t_max):
        for v in range(18):
            for m in range(num_in):
                if data[2, t, v, m] == 0:
                    data[:2, t, v, m] = 0
        totals = [data[2, t, :, m].sum() for m in range(num_in)]
        ranked = sorted(range(num_in), key=lambda m: -totals[m])[:num_out]
        for k, m in enumerate(ranked):
            out[:, t, :, k] = data[:, t, :, m]
    return out


@pytest.mark.parametrize("clip_id", sorted(VAL_LABELS))
def test_validation_clips(clip_id):
    path = fixture_path("kinetics", "val", f"{clip_id}.json")
    sample = read_kinetics_json(path)
    clip = json.loads(path.read_text())
    assert sample.label == VAL_LABELS[clip_id] and sample.layout == "openpose-18"
    assert sample.data.dtype == np.float32
    assert sample.shape == (3, len(clip["data"]), 18, 2)
    np.testing.assert_allclose(sample.data, _reference(clip), atol=1e-6)
    assert sample.meta["people_per_frame"].max() == max(len(f["skeleton"]) for f in clip["data"])


def test_empty_frames_and_crowds():
    # one clip with 269 empty frames, one with 11 people in a frame
    empty = read_kinetics_json(fixture_path("kinetics", "val", "__u6odV5hrI.json"))
    assert (empty.meta["people_per_frame"] == 0).sum() == 269
    assert (~empty.data.any(axis=(0, 2, 3))).sum() == 269
    crowd = read_kinetics_json(fixture_path("kinetics", "val", "__PYrzYbzKE.json"))
    assert crowd.meta["people_per_frame"].max() == 11
    everyone = read_kinetics_json(
        fixture_path("kinetics", "val", "__PYrzYbzKE.json"), max_people_read=None, num_people=11
    )
    # sorted by score: per frame the totals are non-increasing over the person slots
    totals = everyone.data[2].sum(axis=1)
    assert (np.diff(totals, axis=1) <= 1e-5).all()


def test_label_file_and_names():
    table = load_kinetics_labels(fixture_path("kinetics", "kinetics_val_label_full.json"))
    assert len(table) == 19906
    assert sum(not e["has_skeleton"] for e in table.values()) == 110
    for clip_id, label in VAL_LABELS.items():
        path = fixture_path("kinetics", "val", f"{clip_id}.json")
        sample = read_kinetics_json(path, labels=table)
        assert sample.label == label and sample.meta["has_skeleton"] is True
    names = load_label_names(fixture_path("kinetics", "label_name.txt"))
    assert len(names) == 400 and names[0] == "abseiling"
    # training clips carry renumbered label_index 0..4; their label strings give the true one
    for path in sorted(fixture_path("kinetics", "train").glob("*.json")):
        own = read_kinetics_json(path)
        true = read_kinetics_json(path, label_names=names)
        assert own.label in range(5)
        assert names[true.label] == own.meta["label_name"]
    with pytest.raises(SkeletonFormatError, match="not in the label table"):
        read_kinetics_json(fixture_path("kinetics", "train", "__0muxHV-Uw.json"), labels=table)


def test_no_centralize_keeps_raw_coordinates(tmp_path):
    pose = [0.25, 0.75] * 18
    clip = {"data": [{"frame_index": 2, "skeleton": [{"pose": pose, "score": [0.5] * 18}]}]}
    path = tmp_path / "c.json"
    path.write_text(json.dumps(clip))
    raw = read_kinetics_json(path, centralize=False)
    assert raw.shape == (3, 2, 18, 2) and raw.label is None
    assert not raw.data[:, 0].any()  # frame_index 1 missing: an empty frame
    np.testing.assert_allclose(raw.data[:2, 1, 0, 0], [0.25, 0.75])
    centred = read_kinetics_json(path)
    np.testing.assert_allclose(centred.data[:2, 1, 0, 0], [-0.25, -0.25])


def test_select_people_matches_loop():
    rng = np.random.default_rng(1)
    data = rng.random((3, 6, 4, 5))
    out = select_people_by_score(data, 3)
    for t in range(6):
        order = sorted(range(5), key=lambda m: -data[2, t, :, m].sum())[:3]
        np.testing.assert_array_equal(out[:, t], data[:, t][..., order])
    assert select_people_by_score(data[..., :1], 2).shape == (3, 6, 4, 2)


# ---------------------------------------------------------------------- malformed
def _small_clip() -> dict:
    clip = json.loads(fixture_path("kinetics", "val", "__vzEs2wzdQ.json").read_text())
    clip["data"] = clip["data"][:3]
    return clip


@pytest.mark.parametrize(
    ("mutate", "message", "frame"),
    [
        (lambda c: c["data"][1]["skeleton"][0]["pose"].pop(), "'pose' of person 0", 1),
        (lambda c: c["data"][2]["skeleton"][0]["score"].__setitem__(3, "x"), "non-numeric", 2),
        (lambda c: c["data"][0].__setitem__("frame_index", 0), "frame_index", 0),
        (lambda c: c["data"][2].__setitem__("frame_index", 2), "appears twice", 1),
        (lambda c: c["data"][1].__setitem__("skeleton", None), "'skeleton' must be a list", 1),
        (lambda c: c.pop("data"), "'data' list", None),
        (lambda c: c["data"][1]["skeleton"][0].__setitem__("pose", 3), "must be a list", 1),
    ],
)
def test_malformed_clip(tmp_path, mutate, message, frame):
    clip = _small_clip()
    mutate(clip)
    path = tmp_path / "clip.json"
    path.write_text(json.dumps(clip))
    with pytest.raises(SkeletonFormatError, match=message) as info:
        read_kinetics_json(path)
    assert info.value.path == str(path) and info.value.frame == frame


@pytest.mark.parametrize("text", ["", "{", '{"data": [1, 2,]}', "[]"])
def test_broken_json(tmp_path, text):
    path = tmp_path / "clip.json"
    path.write_text(text + "\n")
    with pytest.raises(SkeletonFormatError, match=re.escape(str(path))):
        read_kinetics_json(path)


def _leaves(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:8]):
            yield from _leaves(v, (*prefix, i))


_VALUES = st.sampled_from([None, "x", -1, 0, 1, 2.5, [], {}, True, float("nan"), [0.1] * 5])


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_parses_or_raises_format_error(data):
    clip = _small_clip()
    if data.draw(st.booleans()):  # structural: replace a node
        paths = list(_leaves(clip))
        for _ in range(data.draw(st.integers(1, 2))):
            where = data.draw(st.sampled_from(paths[1:]))
            node = clip
            try:
                for key in where[:-1]:
                    node = node[key]
                node[where[-1]] = data.draw(_VALUES)
            except (KeyError, IndexError, TypeError):
                pass
        raw = json.dumps(clip).encode()
    else:  # textual: cut, delete a slice, or change one byte
        raw = json.dumps(clip, indent=1).encode()
        i = data.draw(st.integers(0, len(raw) - 1))
        j = data.draw(st.integers(i, min(len(raw), i + 40)))
        kind = data.draw(st.sampled_from(["truncate", "delete", "byte"]))
        if kind == "truncate":
            raw = raw[:i]
        elif kind == "delete":
            raw = raw[:i] + raw[j:]
        else:
            raw = raw[:i] + bytes([data.draw(st.sampled_from(b'0189.,-:"[]{}eEx '))]) + raw[i + 1 :]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.json"
        path.write_bytes(raw)
        try:
            sample = read_kinetics_json(path)
        except SkeletonFormatError as error:
            assert str(path) in str(error)
        else:
            assert sample.data.shape[0] == 3 and sample.data.shape[2:] == (18, 2)
            assert np.isfinite(sample.data).all()


# ---------------------------------------------------------------------- hostile files (#16)
def _write_raw(tmp_path: Path, clip: dict, replace: tuple[str, str] | None = None) -> Path:
    text = json.dumps(clip)
    if replace is not None:
        text = text.replace(*replace, 1)
    path = tmp_path / "clip.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("1" * 309, "float32"),  # was OverflowError (math.isfinite of a huge int)
        ("9" * 5000, "invalid JSON"),  # was a bare ValueError (Python's 4300-digit limit)
        ("3.5e38", "float32"),  # was silently inf in the float32 output
        ("-1e300", "float32"),
    ],
)
def test_huge_numbers_are_format_errors(tmp_path, number, message):
    clip = _small_clip()
    clip["data"][1]["skeleton"][0]["pose"][4] = 12345.25
    path = _write_raw(tmp_path, clip, ("12345.25", number))
    with pytest.raises(SkeletonFormatError, match=message) as info:
        read_kinetics_json(path)
    assert info.value.path == str(path)


def test_crowd_far_in_time_costs_only_the_output(tmp_path):
    import tracemalloc

    person = {"pose": [0.5] * 36, "score": [0.9] * 18}
    clip = {"data": [{"frame_index": 5000, "skeleton": [person] * 50}], "label_index": 3}
    path = _write_raw(tmp_path, clip)
    tracemalloc.start()
    try:
        sample = read_kinetics_json(path, max_people_read=None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sample.shape == (3, 5000, 18, 2) and sample.label == 3
    np.testing.assert_allclose(sample.data[2, 4999], 0.9)
    # before: a float64 (3, 5000, 18, 50) array and its copies (> 100 MB)
    assert peak < 12 * sample.data.nbytes  # the float64 output and its float32 copy
    with pytest.raises(SkeletonFormatError, match="max_elements"):
        read_kinetics_json(path, max_elements=10_000)
    with pytest.raises(SkeletonFormatError, match="max_bytes"):
        read_kinetics_json(path, max_bytes=100)


def test_selection_matches_dense_selection_with_negative_scores(tmp_path):
    rng = np.random.default_rng(3)
    frames = []
    for index in (1, 2, 4):
        people = [
            {"pose": rng.random(36).tolist(), "score": (rng.random(18) - 0.7).tolist()}
            for _ in range(int(rng.integers(1, 5)))
        ]
        frames.append({"frame_index": index, "skeleton": people})
    path = _write_raw(tmp_path, {"data": frames})
    ours = read_kinetics_json(path, max_people_read=None, num_people=3).data
    dense = np.zeros((3, 4, 18, 4))
    for frame in frames:
        for m, p in enumerate(frame["skeleton"]):
            pose = np.array(p["pose"])
            dense[:, frame["frame_index"] - 1, :, m] = [pose[0::2], pose[1::2], p["score"]]
    dense[0:2] -= 0.5
    dense[1] = -dense[1]
    dense[0][dense[2] == 0] = 0
    dense[1][dense[2] == 0] = 0
    np.testing.assert_array_equal(ours, select_people_by_score(dense, 3).astype(np.float32))


@pytest.mark.parametrize("index", [-1, 2**31, 10**30])
def test_label_out_of_range(tmp_path, index):
    clip = _small_clip()
    clip["label_index"] = index
    with pytest.raises(SkeletonFormatError, match="label_index"):
        read_kinetics_json(_write_raw(tmp_path, clip))
