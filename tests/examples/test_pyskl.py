"""pyskl's and mmaction2's MS-G3D checkpoints: exact loading, the way back, the CLI."""

from __future__ import annotations

import pytest
import torch

from examples.msg3d import convert_checkpoint
from examples.msg3d.checkpoint import load_checkpoint, scale_counts_fixed
from examples.msg3d.convert_checkpoint import (
    convert_pyskl,
    load_pyskl_checkpoint,
    pyskl_stream,
    to_pyskl,
)
from examples.msg3d.model import MSG3DNet
from examples.msg3d.predict import Predictor
from tests.conftest import fixture_path
from tests.examples import pyskl_oracle
from tests.layer_helpers import randomize


@pytest.fixture(scope="module")
def coco_120(pyskl_make, tmp_path_factory):
    """COCO-17, (x, y, score) input, 120 classes, seed 3: made by pyskl's code now."""
    out = tmp_path_factory.mktemp("coco") / "coco-2d"
    return pyskl_oracle.generate(pyskl_make, out, "coco", 120, 3, two_d=True)


@pytest.fixture(scope="module")
def ntu60():
    """The shared fixture: its path, input and logits, and the model loaded from it."""
    path = fixture_path("pyskl", "ntu60-xsub-3d-j.pth")
    io = torch.load(path.with_name("ntu60-xsub-3d-j.io.pt"), weights_only=True)
    return path, io, load_pyskl_checkpoint(path)


def _same_weights(a: MSG3DNet, b: MSG3DNet) -> None:
    torch.testing.assert_close(a.state_dict(), b.state_dict(), rtol=0, atol=0)


def _ours(model: MSG3DNet, x_nmtvc: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x_nmtvc.permute(0, 4, 2, 3, 1))  # (N, M, T, V, C) -> (N, C, T, V, M)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def test_the_shared_fixture_gives_pyskls_logits(ntu60):
    _, io, model = ntu60
    assert not model.training
    assert (model.graph.name, model.fc.out_features) == ("ntu-rgbd-pyskl", 60)
    assert _relative(_ours(model, io["input_nmtvc"]), io["logits"]) < 1e-5


def test_a_coco_2d_fixture_of_120_classes_gives_pyskls_logits(coco_120):
    io = torch.load(f"{coco_120}.io.pt", weights_only=True)
    model = load_pyskl_checkpoint(f"{coco_120}.pth")
    assert (model.graph.name, model.fc.out_features) == ("coco-17", 120)
    assert model.blocks[0].factorized[0].aggregate.num_scales == 13  # beyond the diameter
    assert _relative(_ours(model, io["input_nmtvc"]), io["logits"]) < 1e-5


def test_bare_state_dicts_and_mmaction2s_names_load_the_same(ntu60, tmp_path):
    path, _, reference = ntu60
    state = torch.load(path, weights_only=True)["state_dict"]
    mmaction2 = {k.replace("cls_head.fc_cls.", "cls_head.fc."): v for k, v in state.items()}
    torch.save(mmaction2, tmp_path / "bare.pth")
    torch.save({"meta": {}, "state_dict": mmaction2}, tmp_path / "mmaction2.pth")
    for name in ("bare.pth", "mmaction2.pth"):
        _same_weights(load_pyskl_checkpoint(tmp_path / name), reference)


def test_to_pyskl_gives_back_the_checkpoint(ntu60):
    path, _, model = ntu60
    state = torch.load(path, weights_only=True)["state_dict"]
    back = to_pyskl(model)
    assert set(back) == set(state)
    for key, value in state.items():
        # pyskl's own A buffers are rebuilt exactly; the rest within float32 rounding
        assert back[key].dtype == value.dtype, key
        torch.testing.assert_close(back[key], value, rtol=0, atol=1e-6, msg=key)
    mmaction2 = to_pyskl(model, head="mmaction2")
    assert "cls_head.fc.weight" in mmaction2 and "cls_head.fc_cls.weight" not in mmaction2


@pytest.mark.parametrize(("graph", "layout"), [("ntu-rgbd", "nturgb+d"), ("coco-17", "coco")])
def test_a_model_of_ours_runs_the_same_in_pyskls_code(pyskl_make, tmp_path, graph, layout):
    # Our own graph (for NTU the authors' hands, not pyskl's), trained masks and statistics:
    # pyskl's code on to_pyskl's weights computes our logits.
    with scale_counts_fixed():
        model = randomize(MSG3DNet(7, graph), seed=5).eval()
    x = torch.randn(1, 2, 6, model.graph.num_nodes, 3)
    theirs = pyskl_oracle.pyskl_logits(pyskl_make, to_pyskl(model), x, layout, tmp_path)
    assert _relative(_ours(model, x), theirs) < 1e-5


def test_the_pipeline_follows_the_layout_and_the_stream_the_file_name(ntu60):
    ckpt = convert_pyskl(ntu60[0], stream="bone-motion")
    assert ckpt["pipeline"]["dims"] == 3 and ckpt["pipeline"]["stream"] == "bone-motion"
    assert ckpt["class_names"][0] == "drink water" and len(ckpt["class_names"]) == 60
    predictor = Predictor(ckpt)
    assert predictor.class_names[59] == "walking apart from each other"


@pytest.mark.parametrize(
    ("name", "stream"),
    [
        ("j.pth", "joint"),
        ("b.pth", "bone"),
        ("jm.pth", "joint-motion"),
        ("bm.pth", "bone-motion"),
        ("msg3d_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d_20230309-73b97296.pth", "joint"),
        ("ntu60-bone-motion.pth", "bone-motion"),
        ("pyskl-ntu120-xset-hrnet-jm.pth", "joint-motion"),
    ],
)
def test_the_stream_is_read_off_the_file_name(name, stream):
    assert pyskl_stream(name) == stream


def test_a_name_without_a_stream_asks_for_one():
    with pytest.raises(ValueError, match=r"cannot tell the stream.*--stream"):
        pyskl_stream("epoch_16.pth")


def test_foreign_checkpoints_are_named(ntu60, tmp_path):
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}}, tmp_path / "x.pth")
    with pytest.raises(ValueError, match=r"x.pth: not a pyskl/mmaction2 MS-G3D checkpoint"):
        load_pyskl_checkpoint(tmp_path / "x.pth")
    state = torch.load(ntu60[0], weights_only=True)
    state = dict(state["state_dict"])
    state["backbone.A"] = torch.zeros(20, 20)
    torch.save(state, tmp_path / "v20.pth")
    with pytest.raises(ValueError, match=r"20 joints: known layouts 25 \(nturgb\+d\)"):
        load_pyskl_checkpoint(tmp_path / "v20.pth")


def test_the_command_line_writes_what_predict_takes(ntu60, tmp_path, capsys):
    source, _, reference = ntu60
    names = tmp_path / "names.txt"
    names.write_text("".join(f"action {i}\n" for i in range(60)), encoding="utf-8")
    out = tmp_path / "ours.pt"
    convert_checkpoint.main(["--from", "pyskl", str(source), str(out), "--class-names", str(names)])
    assert "60 classes, ntu-rgbd-pyskl 3-D, joint stream" in capsys.readouterr().out
    ckpt = load_checkpoint(out)  # checked field by field, as predict.py reads it
    assert ckpt["class_names"][7] == "action 7"
    _same_weights(Predictor(ckpt).model, reference)


def test_the_command_line_names_bad_input(ntu60, tmp_path):
    (tmp_path / "j.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit, match=r"j.pth: not a readable PyTorch checkpoint"):
        convert_checkpoint.main(["--from", "pyskl", str(tmp_path / "j.pth"), str(tmp_path / "o")])
    source = tmp_path / "epoch_16.pth"
    source.write_bytes(ntu60[0].read_bytes())
    with pytest.raises(SystemExit, match="cannot tell the stream"):
        convert_checkpoint.main(["--from", "pyskl", str(source), str(tmp_path / "o")])
