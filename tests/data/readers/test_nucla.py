"""N-UCLA JSON reader and the cross-view split, on the real folder."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelgraph.data import (
    SkeletonFormatError,
    nucla_cross_view_split,
    parse_nucla_name,
    read_nucla_json,
)
from tests.conftest import fixture_path


def test_cross_view_split_counts():
    files = sorted(fixture_path("nw-ucla", "all_sqe").glob("*.json"))
    assert len(files) == 1484
    train, test = nucla_cross_view_split(files)
    assert (len(train), len(test)) == (1020, 464)
    assert all("_v03" in Path(p).name for p in test)
    assert all(parse_nucla_name(p).view in (1, 2) for p in train)
    assert not set(train) & set(test)


def test_split_rejects_bad_names():
    with pytest.raises(ValueError, match="not an N-UCLA name"):
        nucla_cross_view_split(["clip.json"])
    with pytest.raises(ValueError, match="in both parts"):
        nucla_cross_view_split([], train_views=(1, 3))


def test_read_sample():
    path = fixture_path("nw-ucla", "all_sqe", "a08_s03_e01_v02.json")
    record = json.loads(path.read_text())
    sample = read_nucla_json(path)
    assert sample.layout == "kinect-v1-20" and sample.data.dtype == np.float32
    assert sample.shape == (3, len(record["skeletons"]), 20, 1)
    assert sample.label == record["label"] - 1 == 6  # a08 donning is class 7 of 10
    np.testing.assert_allclose(
        sample.data[..., 0].transpose(1, 2, 0), np.array(record["skeletons"]), atol=1e-6
    )
    assert (sample.meta["action"], sample.meta["subject"], sample.meta["view"]) == (8, 3, 2)
    assert sample.meta["repetition"] == 1


def test_labels_cover_ten_classes():
    files = sorted(fixture_path("nw-ucla", "all_sqe").glob("a*_s01_e00_v01.json"))
    labels = {read_nucla_json(f).label for f in files}
    assert labels == set(range(10))


@pytest.mark.parametrize(
    ("mutate", "message", "frame"),
    [
        (lambda r: r["skeletons"][1].pop(), "expected a list of 20 joints", 1),
        (lambda r: r["skeletons"][2][4].append(0.0), "must have 3 values", 2),
        (lambda r: r["skeletons"][0][0].__setitem__(1, "1.0"), "non-numeric", 0),
        (lambda r: r.__setitem__("skeletons", []), "no frames", None),
        (lambda r: r.__setitem__("label", 0), "'label'", None),
    ],
)
def test_malformed(tmp_path, mutate, message, frame):
    record = json.loads(fixture_path("nw-ucla", "all_sqe", "a01_s01_e00_v01.json").read_text())
    mutate(record)
    path = tmp_path / "a01_s01_e00_v01.json"
    path.write_text(json.dumps(record))
    with pytest.raises(SkeletonFormatError, match=message) as info:
        read_nucla_json(path)
    assert info.value.frame == frame and str(path) in str(info.value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzz_parses_or_raises_format_error(data):
    raw = fixture_path("nw-ucla", "all_sqe", "a01_s01_e00_v01.json").read_bytes()[:6000]
    raw = raw[: raw.rfind(b"]]") + 2] + b'], "label": 1}'  # a short, still valid start
    raw = b'{"file_name": "a01_s01_e00_v01", ' + raw[raw.find(b'"skeletons"') :]
    i = data.draw(st.integers(0, len(raw) - 1))
    j = data.draw(st.integers(i, min(len(raw), i + 30)))
    kind = data.draw(st.sampled_from(["keep", "truncate", "delete", "byte"]))
    if kind == "truncate":
        raw = raw[:i]
    elif kind == "delete":
        raw = raw[:i] + raw[j:]
    elif kind == "byte":
        raw = raw[:i] + bytes([data.draw(st.sampled_from(b'0-.,[]{}"eN '))]) + raw[i + 1 :]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a01_s01_e00_v01.json"
        path.write_bytes(raw)
        try:
            sample = read_nucla_json(path)
        except SkeletonFormatError as error:
            assert str(path) in str(error)
        else:
            assert sample.data.shape[0] == 3 and sample.data.shape[2:] == (20, 1)
            if kind == "keep":
                assert sample.label == 0


# ---------------------------------------------------------------------- hostile files (#16)
def _write_number(tmp_path: Path, number: str, label: str = "1") -> Path:
    record = json.loads(fixture_path("nw-ucla", "all_sqe", "a01_s01_e00_v01.json").read_text())
    record["skeletons"][2][5][1] = 12345.25
    record["label"] = "LABEL"
    text = json.dumps(record).replace("12345.25", number, 1).replace('"LABEL"', label, 1)
    path = tmp_path / "a01_s01_e00_v01.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize("number", ["1" * 309, "3.5e38", "-1e300"])
def test_huge_coordinates_are_format_errors(tmp_path, number):
    path = _write_number(tmp_path, number)
    with pytest.raises(SkeletonFormatError, match="float32") as info:
        read_nucla_json(path)
    assert info.value.path == str(path) and info.value.frame == 2


def test_digit_limit_is_a_format_error(tmp_path):
    path = _write_number(tmp_path, "9" * 5000)
    with pytest.raises(SkeletonFormatError, match="invalid JSON") as info:
        read_nucla_json(path)
    assert info.value.path == str(path)


@pytest.mark.parametrize("label", ["0", str(2**31), "1" * 30])
def test_label_out_of_range(tmp_path, label):
    with pytest.raises(SkeletonFormatError, match="'label' must be"):
        read_nucla_json(_write_number(tmp_path, "0.5", label))


def test_budgets(tmp_path):
    path = _write_number(tmp_path, "0.5")
    assert read_nucla_json(path).label == 0
    with pytest.raises(SkeletonFormatError, match="max_elements"):
        read_nucla_json(path, max_elements=100)
    with pytest.raises(SkeletonFormatError, match="max_bytes"):
        read_nucla_json(path, max_bytes=100)
    with pytest.raises(SkeletonFormatError, match="directory"):
        read_nucla_json(tmp_path)
