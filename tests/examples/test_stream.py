"""examples/msg3d/stream.py: a replay's predictions come every 4 frames after the delay, and
its end-of-stream prediction is predict.py's."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from examples.msg3d import predict as predict_script
from examples.msg3d import stream as stream_script
from examples.msg3d import train as train_script
from tests.examples.test_predict import TINY, _arm_pickle

pytest.importorskip("matplotlib", reason="the plot extra is not installed")
pytest.importorskip("torchmetrics", reason="the train extra is not installed")

FRAMES = 100  # clips longer than the model's delay (72 frames)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("stream")
    pkl, layout = _arm_pickle(tmp_path)
    args = ["--dataset", "pose-pickle", "--annotations", str(pkl), "--layout", str(layout)]
    args += ["--train-split", "train", "--val-split", "val", "--persons", "1"]
    args += [*TINY, "--frames", str(FRAMES), "--num-classes", "3", "--out", str(tmp_path)]
    assert train_script.main(args) == 0
    return tmp_path / "best.pt", pkl


def test_replay_predicts_every_stride_frames_and_ends_with_the_offline_answer(checkpoint, capsys):
    best, pkl = checkpoint
    args = ["--checkpoint", str(best), str(pkl), "--split", "val", "--sample", "arm06"]
    assert stream_script.main([*args, "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    *steps, final = records
    assert [r["frame"] for r in steps] == list(range(73, FRAMES + 1, 4))  # delay 72, stride 4
    assert final["final"] and final["frame"] == FRAMES and not any(r["final"] for r in steps)
    assert all(r["latency_ms"] > 0 and 0 < r["probability"] <= 1 for r in steps)
    predict = ["--checkpoint", str(best), str(pkl), "--split", "val", "--json"]
    assert predict_script.main(predict) == 0
    offline = json.loads(capsys.readouterr().out)["predictions"]
    top = next(p for p in offline if p["input"].endswith(":arm06"))["top"][0]
    assert final["class"] == top["class"]
    assert final["probability"] == pytest.approx(top["probability"], rel=1e-4)


def test_a_causal_checkpoint_predicts_from_the_first_frame(checkpoint, capsys, tmp_path):
    """The symmetric weights as a causal model (same parameters): a label from frame 1,
    with --every-frame one per frame, each the causal model's offline answer on the
    frames so far; the end-of-stream line is predict.py's."""
    best, pkl = checkpoint
    ckpt = torch.load(best, weights_only=True)
    ckpt["model_config"]["overrides"]["causal"] = True
    causal = tmp_path / "causal.pt"
    torch.save(ckpt, causal)
    args = ["--checkpoint", str(causal), str(pkl), "--split", "val", "--sample", "arm06"]
    assert stream_script.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("causal model, a prediction every 4 frames from frame 1 on")
    assert lines[1].startswith("frame     1: class ")
    assert stream_script.main([*args, "--every-frame", "--json"]) == 0
    *steps, final = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["frame"] for r in steps] == list(range(1, FRAMES + 1))
    assert final["class"] == steps[-1]["class"]
    assert final["probability"] == pytest.approx(steps[-1]["probability"], rel=1e-4)
    predict = ["--checkpoint", str(causal), str(pkl), "--split", "val", "--json"]
    assert predict_script.main(predict) == 0
    offline = json.loads(capsys.readouterr().out)["predictions"]
    top = next(p for p in offline if p["input"].endswith(":arm06"))["top"][0]
    assert (final["class"], final["probability"]) == (top["class"], pytest.approx(
        top["probability"], rel=1e-4))  # fmt: skip


def test_text_output_and_paced_replay(checkpoint, capsys):
    best, pkl = checkpoint
    args = ["--checkpoint", str(best), str(pkl), "--split", "val", "--fps", "2000"]
    assert stream_script.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(f"{FRAMES} frames; a prediction every 4 frames from frame 73 on")
    assert lines[1].startswith("frame    73: class ") and lines[1].endswith(" ms)")
    assert lines[-1].startswith(f"end of stream (frame {FRAMES}): class ")


def test_an_unknown_sample_is_refused(checkpoint):
    """Bad numbers are refused while parsing (tests/examples/test_hostile_commands.py)."""
    best, pkl = checkpoint
    with pytest.raises(SystemExit, match="no sample 'nope'"):
        stream_script.main(["--checkpoint", str(best), str(pkl), "--sample", "nope"])


def _with_clip_length(best, frames: int, path):
    """The checkpoint with its pipeline drawing clips of ``frames`` frames."""
    ckpt = torch.load(best, weights_only=True)
    ckpt["pipeline"]["frames"] = frames
    torch.save(ckpt, path)
    return str(path)


def test_a_clip_within_the_delay_gives_a_warning_and_no_live_prediction(
    checkpoint, capsys, tmp_path
):
    best, pkl = checkpoint
    delay = predict_script.Predictor(predict_script.load_checkpoint(best)).model.delay
    for frames, live in ((delay, 0), (delay + 1, 1)):
        ckpt = _with_clip_length(best, frames, tmp_path / f"T{frames}.pt")
        args = ["--checkpoint", ckpt, str(pkl), "--split", "val", "--sample", "arm06", "--json"]
        assert stream_script.main(args) == 0
        captured = capsys.readouterr()
        records = [json.loads(line) for line in captured.out.splitlines()]
        assert sum(not r["final"] for r in records) == live and records[-1]["final"]
        warning = (
            f"warning: {pkl}:arm06: {frames} frames, not more than the model's delay of {delay}: "
            "no live prediction, only the end-of-stream one (train with --frames above it)\n"
        )
        assert captured.err == (warning if live == 0 else "")


def test_joint_rows_text_files_are_read_by_predict_and_stream(checkpoint, capsys, tmp_path):
    best, _ = checkpoint
    xyz = np.random.default_rng(3).normal(size=(30, 5, 3))  # (T, V, C) of the arm layout
    np.save(tmp_path / "clip.npy", xyz)
    text = "".join(" ".join(repr(float(x)) for x in joint) + "\n" for joint in xyz.reshape(-1, 3))
    (tmp_path / "clip.txt").write_text(text)  # one joint per row, 5 rows a frame
    tops = []
    for name in ("clip.npy", "clip.txt"):
        args = ["--checkpoint", str(best), str(tmp_path / name), "--json"]
        assert predict_script.main(args) == 0
        tops.append(json.loads(capsys.readouterr().out)["predictions"][0]["top"])
    assert tops[0] == tops[1]
    streamed = ["--checkpoint", str(best), str(tmp_path / "clip.txt"), "--json"]
    assert stream_script.main(streamed) == 0
    final = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert final["final"] and final["class"] == tops[1][0]["class"]
    assert final["probability"] == pytest.approx(tops[1][0]["probability"], rel=1e-4)
    (tmp_path / "bad.txt").write_text("1 2 3\n" * 7)
    with pytest.raises(SystemExit, match=r"bad.txt: 7 rows of one joint each is not a multiple"):
        predict_script.main(["--checkpoint", str(best), str(tmp_path / "bad.txt")])
