"""examples/msg3d/make_nucla_pickle.py and the N-UCLA class names shipped beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import examples.msg3d
from examples.msg3d import make_nucla_pickle
from skelgraph.data import parse_nucla_name, read_nucla_json, read_pose_pickle
from tests.conftest import fixture_path

CLASS_NAMES = Path(examples.msg3d.__file__).parent / "nucla_classes.txt"
# N-UCLA's ten actions by their a-number (Wang et al., CVPR 2014; the dataset's page).
ACTIONS = {1: "pick up with one hand", 2: "pick up with two hands", 3: "drop trash",
           4: "walk around", 5: "sit down", 6: "stand up", 8: "donning", 9: "doffing",
           11: "throw", 12: "carry"}  # fmt: skip


def test_class_names_follow_the_labels_of_the_files():
    names = CLASS_NAMES.read_text(encoding="utf-8").splitlines()
    assert names == [ACTIONS[a] for a in sorted(ACTIONS)]
    folder = fixture_path("nw-ucla", "all_sqe")
    for action in ACTIONS:  # one file per action: its 1-based label names its action
        sample = read_nucla_json(folder / f"a{action:02d}_s01_e00_v01.json")
        assert names[sample.label] == ACTIONS[action]


def test_pickle_of_a_few_sequences(tmp_path, capsys):
    source = fixture_path("nw-ucla", "all_sqe")
    files = sorted(source.glob("a0[12]_s0[12]_e00_v0*.json"))
    assert len(files) == 12
    (tmp_path / "all_sqe").mkdir()
    for f in files:
        shutil.copy(f, tmp_path / "all_sqe")
    out = tmp_path / "nucla.pkl"
    assert make_nucla_pickle.main([str(tmp_path), str(out)]) == 0
    assert capsys.readouterr().out == f"{out}: 8 xview_train and 4 xview_val sequences\n"
    for split, views in (("xview_train", {1, 2}), ("xview_val", {3})):
        samples = read_pose_pickle(out, split, layout="kinect-v1-20")
        ids = [s.meta["frame_dir"] for s in samples]
        assert ids == sorted(f.stem for f in files if parse_nucla_name(f).view in views)
        for sample in samples:
            original = read_nucla_json(source / f"{sample.meta['frame_dir']}.json")
            assert sample.label == original.label
            expected = original.data.astype(np.float16).astype(np.float32)  # pyskl's float16
            np.testing.assert_array_equal(sample.data, expected)
    assert make_nucla_pickle.main([str(tmp_path), str(out), "--float32"]) == 0
    exact = read_pose_pickle(out, "xview_val", layout="kinect-v1-20")[0]
    np.testing.assert_array_equal(exact.data, read_nucla_json(files[2]).data)
    with pytest.raises(SystemExit, match=r"cannot write .*missing/x.pkl"):
        make_nucla_pickle.main([str(tmp_path), str(tmp_path / "missing" / "x.pkl")])


def test_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        make_nucla_pickle.main([str(tmp_path), str(tmp_path / "x.pkl")])
    assert info.value.code == 2
    assert f"no N-UCLA *.json files in {tmp_path / 'all_sqe'}" in capsys.readouterr().err
    (tmp_path / "all_sqe").mkdir()
    (tmp_path / "all_sqe" / "clip.json").write_text("{}")
    with pytest.raises(SystemExit, match=r"cannot read N-UCLA: .*clip.json' is not an N-UCLA name"):
        make_nucla_pickle.main([str(tmp_path), str(tmp_path / "x.pkl")])
    (tmp_path / "all_sqe" / "clip.json").rename(tmp_path / "all_sqe" / "a01_s01_e00_v01.json")
    with pytest.raises(SystemExit, match=r"cannot read N-UCLA: .*a01_s01_e00_v01.json"):
        make_nucla_pickle.main([str(tmp_path), str(tmp_path / "x.pkl")])
