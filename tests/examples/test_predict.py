"""Pose pickles through train.py, predict.py and fuse.py; custom layouts from the command line."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

from examples.msg3d import fuse as fuse_script
from examples.msg3d import predict as predict_script
from examples.msg3d import train as train_script
from examples.msg3d.datasets import build_datasets
from examples.msg3d.engine import Trainer, train
from examples.msg3d.model import MSG3DNet
from skelgraph import SkeletonGraph
from skelgraph.data import (
    from_array,
    read_ntu_skeleton,
    read_nucla_json,
    write_pose_pickle,
)
from tests.conftest import fixture_path
from tests.examples.conftest import ARM

pytest.importorskip("matplotlib", reason="the plot extra is not installed")
pytest.importorskip("torchmetrics", reason="the train extra is not installed")

# A very small MS-G3D Net: a few seconds per epoch on a handful of samples.
SMALL = json.dumps(
    {"channels": [12, 12, 24], "num_gcn_scales": 3, "num_g3d_scales": 2, "windows": [[3, 1]]}
)
TINY = ["--frames", "8", "--batch-size", "4", "--test-batch-size", "8", "--quiet"]
TINY += ["--model-args", SMALL, "--epochs", "1"]


def _arm_pickle(tmp_path, labels=(0, 1, 2, 0, 1, 2, 0, 1)):
    """A pose pickle of a custom 5-joint layout, 3-D, float16; and its layout file."""
    layout = tmp_path / "arm.json"
    layout.write_text(json.dumps(ARM))
    graph = SkeletonGraph.from_json(layout)
    rng = np.random.default_rng(0)
    samples = {
        f"arm{i:02d}": from_array(rng.normal(size=(12 + i, 5, 3)) + label, graph, label=label)
        for i, label in enumerate(labels)
    }
    ids = list(samples)
    path = tmp_path / "arm.pkl"
    write_pose_pickle(samples, path, {"train": ids[:5], "val": ids[5:]}, dtype=np.float16)
    return path, layout


def _run(main, args, capsys):
    assert main(args) == 0
    return capsys.readouterr().out


def test_ntu_pickle_train_predict_and_fuse(tmp_path, capsys):
    ntu_dir = fixture_path("ntu")
    ntu = {p.name.split(".")[0]: read_ntu_skeleton(p) for p in sorted(ntu_dir.glob("*.skeleton"))}
    ids = sorted(ntu)
    pkl = tmp_path / "ntu.pkl"
    write_pose_pickle(ntu, pkl, {"xsub_train": ids, "xsub_val": ids[:2]}, dtype=np.float16)
    base = ["--dataset", "pose-pickle", "--annotations", str(pkl)]
    base += ["--train-split", "xsub_train", "--val-split", "xsub_val", "--num-classes", "60"]
    base += ["--persons", "2", *TINY]
    runs = {}
    for stream in ("joint", "bone"):
        runs[stream] = tmp_path / stream
        _run(train_script.main, [*base, "--stream", stream, "--out", str(runs[stream])], capsys)
    ckpt = torch.load(runs["joint"] / "best.pt", weights_only=True)
    assert ckpt["model_config"]["preset"] == "nw-ucla-small"
    overrides = ckpt["model_config"]["overrides"]
    assert overrides["graph"] == "ntu-rgbd" and overrides["num_classes"] == 60
    assert overrides["num_persons"] == 2 and ckpt["layout"] == "ntu-rgbd"
    assert ckpt["pipeline"]["sampling"] == "uniform" and ckpt["clip_len"] == 8
    assert ckpt["stream"] == "joint" and ckpt["class_names"] is None
    scores = np.load(runs["joint"] / "val_scores.npz")
    assert scores["ids"].tolist() == ids[:2] and scores["logits"].shape == (2, 60)
    assert scores["labels"].tolist() == [ntu[i].label for i in ids[:2]]

    # predict: the pickle's validation samples give the saved validation scores.
    best = str(runs["joint"] / "best.pt")
    out = _run(predict_script.main, ["--checkpoint", best, str(pkl), "--split", "xsub_val",
                                     "--json"], capsys)  # fmt: skip
    got = json.loads(out)["predictions"]
    assert [g["input"].split(":")[-1] for g in got] == ids[:2]
    probs = torch.from_numpy(scores["logits"]).softmax(-1)
    for g, p in zip(got, probs):
        assert len(g["top"]) == 5 and g["top"][0]["class"] == int(p.argmax())
        assert g["top"][0]["probability"] == pytest.approx(float(p.max()), rel=1e-4)
    # A raw NTU file, text output, several clips averaged.
    raw = str(ntu_dir / "S001C001P001R001A001.skeleton")
    text = _run(predict_script.main, ["--checkpoint", best, raw, "--num-clips", "3"], capsys)
    lines = text.splitlines()
    assert lines[0].endswith("(label 0: class 0)") and len(lines) == 6
    assert lines[1].lstrip().startswith("1. class ")

    # fuse
    files = [str(runs[s] / "val_scores.npz") for s in ("joint", "bone")]
    text = _run(fuse_script.main, [*files, "--weights", "2", "1"], capsys)
    assert text.startswith("2 validation samples") and "fused: top-1" in text
    fused = fuse_script.fuse_files(files, [2, 1])
    assert [r["stream"] for r in fused["streams"]] == ["joint", "bone"]
    assert 0 <= fused["fused"]["top1"] <= fused["fused"]["top5"] <= 1


def test_nucla_pickle_with_class_names(tmp_path, capsys):
    """N-UCLA: class names, a held-out JSON file the checkpoint's pipeline preprocesses."""
    nucla_dir = fixture_path("nw-ucla")
    files = sorted((nucla_dir / "all_sqe").glob("a0[1-4]_s01_e00_v0*.json"))
    samples = {p.stem: read_nucla_json(p) for p in files}
    train_ids = [k for k in samples if not k.endswith("v03")]
    val_ids = [k for k in samples if k.endswith("v03")]
    pkl = tmp_path / "nucla.pkl"
    write_pose_pickle(samples, pkl, {"train": train_ids, "val": val_ids}, dtype=np.float16)
    names = tmp_path / "names.txt"
    names.write_text("\n".join(["pick up one", "pick up two", "drop trash", "walk", *"abcdef"]))
    out = tmp_path / "nucla"
    args = ["--dataset", "pose-pickle", "--annotations", str(pkl), "--layout", "kinect-v1-20"]
    args += ["--train-split", "train", "--val-split", "val", "--class-names", str(names)]
    _run(train_script.main, [*args, *TINY, "--out", str(out)], capsys)
    ckpt = torch.load(out / "best.pt", weights_only=True)
    assert ckpt["num_classes"] == 10 and ckpt["class_names"][3] == "walk"
    held_out = str(nucla_dir / "all_sqe" / "a04_s01_e00_v03.json")
    text = _run(predict_script.main, ["--checkpoint", str(out / "best.pt"), held_out], capsys)
    assert "(label 3: walk)" in text.splitlines()[0]
    assert len(text.splitlines()) == 6


def test_custom_layout_from_the_command_line(tmp_path, capsys):
    pkl, layout = _arm_pickle(tmp_path)
    out = tmp_path / "arm"
    args = ["--dataset", "pose-pickle", "--annotations", str(pkl), "--layout", str(layout)]
    args += ["--train-split", "train", "--val-split", "val", "--persons", "1"]
    _run(train_script.main, [*args, *TINY, "--num-classes", "3", "--out", str(out)], capsys)
    ckpt = torch.load(out / "best.pt", weights_only=True)
    graph = SkeletonGraph.from_dict(ckpt["layout"])
    assert graph == SkeletonGraph.from_json(layout) and graph.preprocess["x_axis"] == (1, 2)
    assert ckpt["model_config"]["overrides"]["num_classes"] == 3
    # A .npy array in that layout, (T, V, C).
    array = tmp_path / "one.npy"
    np.save(array, np.random.default_rng(1).normal(size=(9, 5, 3)))
    got = json.loads(
        _run(
            predict_script.main,
            ["--checkpoint", str(out / "best.pt"), str(array), "--json"],
            capsys,
        )  # fmt: skip
    )
    top = got["predictions"][0]["top"]
    assert len(top) == 3 and sum(t["probability"] for t in top) == pytest.approx(1, abs=1e-5)
    # The same layout file with preprocessed arrays (N, C, T, V, M).
    rng = np.random.default_rng(2)
    for part in ("train", "test"):
        np.save(tmp_path / f"{part}_x.npy", rng.normal(size=(6, 3, 8, 5, 1)).astype(np.float32))
        np.save(tmp_path / f"{part}_y.npy", np.arange(6) % 3)
    arrays = ["--dataset", "arrays", "--layout", str(layout), "--num-classes", "3"]
    for part in ("train", "test"):
        arrays += [f"--{part}-data", str(tmp_path / f"{part}_x.npy")]
        arrays += [f"--{part}-labels", str(tmp_path / f"{part}_y.npy")]
    _run(train_script.main, [*arrays, *TINY, "--out", str(tmp_path / "arr")], capsys)
    ckpt = torch.load(tmp_path / "arr" / "best.pt", weights_only=True)
    assert ckpt["pipeline"]["sampling"] == "none" and ckpt["layout"]["name"] == "arm"


def test_labels_are_checked_against_the_class_count(tmp_path):
    pkl, layout = _arm_pickle(tmp_path, labels=(0, 1, 2, 4, 1, 2, 0, 1))
    args = ["--dataset", "pose-pickle", "--annotations", str(pkl), "--layout", str(layout)]
    args += ["--train-split", "train", "--val-split", "val", *TINY, "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit, match=r"training sample 'arm03' has label 4, outside the 3"):
        train_script.main([*args, "--num-classes", "3"])
    # Without --num-classes the count is the data's: labels 0..4 give 5 classes.
    cfg = train_script.parse_args(args)
    trainer = Trainer(cfg, write_outputs=False)
    assert trainer.num_classes == 5
    names = tmp_path / "names.txt"
    names.write_text("a\nb\n")
    with pytest.raises(SystemExit, match="2 names for 5 classes"):
        train_script.main([*args, "--class-names", str(names), "--num-classes", "5"])
    with pytest.raises(SystemExit, match="needs --train-split"):
        train_script.main(["--dataset", "pose-pickle", "--annotations", str(pkl)])
    with pytest.raises(SystemExit, match="give the layout with --layout"):
        train_script.main([*args[:4], *args[6:]])  # no --layout: V = 5 is not inferred


def test_tensorboard_flag(tmp_path, monkeypatch):
    pkl, layout = _arm_pickle(tmp_path)
    args = ["--dataset", "pose-pickle", "--annotations", str(pkl), "--layout", str(layout)]
    args += ["--train-split", "train", "--val-split", "val", *TINY, "--num-classes", "3"]
    args += ["--out", str(tmp_path / "o"), "--tensorboard", str(tmp_path / "tb")]
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        with pytest.raises(SystemExit, match="--tensorboard needs the tensorboard package"):
            train_script.main(args)
    else:
        assert train_script.main(args) == 0
        assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(SystemExit, match="pip install tensorboard"):
        train_script.main([*args, "--overwrite"])


def test_programmatic_train_and_errors(tmp_path):
    pkl, layout = _arm_pickle(tmp_path)
    args = ["--dataset", "pose-pickle", "--annotations", str(pkl), "--layout", str(layout)]
    args += ["--train-split", "train", "--val-split", "val", *TINY, "--num-classes", "3"]
    cfg = train_script.parse_args([*args, "--out", str(tmp_path / "py")])
    datasets = build_datasets(cfg)
    model = MSG3DNet(3, SkeletonGraph.from_json(layout), num_persons=1, channels=(12, 12, 12),
                     num_gcn_scales=2, num_g3d_scales=2, windows=((3, 1),))  # fmt: skip
    history = train(cfg, model=model, datasets=datasets)
    assert len(history) == 1 and 0 <= history[0]["test_mean_class_accuracy"] <= 1
    ckpt_path = tmp_path / "py" / "best.pt"
    assert torch.load(ckpt_path, weights_only=True)["model_config"] is None
    with pytest.raises(SystemExit, match="has no 'model_config'"):
        predict_script.main(["--checkpoint", str(ckpt_path), str(pkl)])
    scores = tmp_path / "py" / "val_scores.npz"
    other = tmp_path / "other.npz"
    data = dict(np.load(scores))
    np.savez(other, **{**data, "ids": np.array(["x", "y", "z"])})
    with pytest.raises(SystemExit, match="other samples"):
        fuse_script.main([str(scores), str(other)])
    with pytest.raises(SystemExit, match="2 score files but 1 weights"):
        fuse_script.main([str(scores), str(scores), "--weights", "1"])
