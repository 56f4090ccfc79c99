"""benchmarks/online_accuracy.py on a tiny N-UCLA run: the stream has no prediction before
its delay and ends on the whole-clip answer."""

from __future__ import annotations

import json

import pytest

from benchmarks import figures
from benchmarks import online_accuracy as script
from examples.msg3d import train
from tests.benchmarks.usage import assert_refused_integer
from tests.conftest import fixture_path

pytest.importorskip("matplotlib", reason="the plot extra is not installed")
pytest.importorskip("torchmetrics", reason="the train extra is not installed")

SMALL = json.dumps(
    {"channels": [12, 12, 24], "num_gcn_scales": 3, "num_g3d_scales": 2, "windows": [[3, 1]]}
)


def test_tiny_run_writes_results(tmp_path):
    root = fixture_path("nw-ucla")
    run, causal = tmp_path / "run", tmp_path / "causal"
    args = ["--dataset", "nw-ucla", "--data-root", str(root), "--subset", "10", "--frames", "80"]
    args += ["--batch-size", "5", "--epochs", "1", "--model-args", SMALL, "--quiet"]
    assert train.main([*args, "--out", str(run)]) == 0
    tune = ["--causal", "--init-from", str(run / "best.pt"), "--cache-dir", str(run / "cache")]
    tune += ["--min-prefix", "0.5", "--whole-clips", "0.5"]
    assert train.main([*args, *tune, "--out", str(causal)]) == 0
    out = tmp_path / "results"
    argv = ["--checkpoint", str(run / "best.pt"), "--data-root", str(root), "--limit", "4"]
    argv += ["--causal-checkpoint", str(causal / "best.pt"), "--repeats", "1"]
    argv += ["--finetuned-checkpoint", str(causal / "best.pt")]
    argv += ["--prefix-causal-checkpoint", str(causal / "best.pt")]
    argv += ["--prefix-symmetric-checkpoint", str(run / "best.pt")]
    assert script.main([*argv, "--threads", "1", "--out", str(out), "--name", "o-1"]) == 0
    result = json.loads((out / "o-1.json").read_text())
    assert result["samples"] == 4 and result["frames"] == 80 and result["delay"] == 72
    # 80 frames: the first prediction at frame 73, so none at 10 % ... 90 % (72 frames).
    assert result["curves"]["stream"][:9] == [0.0] * 9
    curves = result["curves"]
    assert curves["stream"][-1] == curves["prefix"][-1] == result["whole_clip_top1"]
    assert result["flush_vs_forward_max_abs"] < 1e-4
    # The causal streams: the model rerun on the frames so far, at every fraction.
    assert result["causal_stream_vs_prefix_max_abs"] < 1e-4
    assert result["curves"]["causal"] == result["curves"]["finetuned"]
    assert result["curves"]["prefix_causal"] == result["curves"]["causal"]
    # A symmetric model trained on prefixes is measured by its rerun on the prefix.
    assert result["curves"]["prefix_symmetric"] == result["curves"]["prefix"]
    assert result["area"]["causal"] == pytest.approx(sum(result["curves"]["causal"]) / 10)
    # Same windows, moved: a causal prediction costs the multiply-adds of a symmetric one.
    cost = result["cost"]
    assert cost["causal"]["prediction_macs"] == cost["symmetric"]["prediction_macs"] > 0
    assert cost["causal"]["rerun_macs"] == cost["symmetric"]["rerun_macs"]
    assert (out / "o-1.png").stat().st_size > 0
    text = (out / "o-1.md").read_text()
    assert "| causal: stream |" in text and "--init-from" in text and "--min-prefix 0.5" in text
    assert "--whole-clips 0.5" in text and "![](o-1.png)" in text
    assert "| causal, trained on prefixes and whole clips (0.5): stream |" in text
    assert "| symmetric, trained on prefixes: rerun on the frames so far |" in text
    with pytest.raises(SystemExit, match="not a symmetric model"):
        script.main(["--checkpoint", str(causal / "best.pt"), *argv[2:6], "--out", str(out)])
    with pytest.raises(SystemExit, match="not a causal model"):
        script.main([*argv[:4], "--causal-checkpoint", str(run / "best.pt"), "--out", str(out)])
    # Any one model alone: here the causal one, without the symmetric curves.
    alone = ["--data-root", str(root), "--limit", "4", "--repeats", "1", "--threads", "1"]
    alone += ["--prefix-causal-checkpoint", str(causal / "best.pt")]
    assert script.main([*alone, "--out", str(out), "--name", "o-2"]) == 0
    only = json.loads((out / "o-2.json").read_text())
    assert list(only["curves"]) == ["prefix_causal"] and "whole_clip_top1" not in only
    assert only["curves"]["prefix_causal"] == result["curves"]["prefix_causal"]
    assert only["prefix_causal_whole_clip_top1"] == result["prefix_causal_whole_clip_top1"]
    text = (out / "o-2.md").read_text()
    assert "symmetric" not in text and "first predictions: the causal streams' at frame 1" in text
    assert "Cost of a prediction" not in text and only["cost"] == {}
    named = figures._online_run(out, "o-2", "online-o-2")  # the docs' figures of such a run
    assert {"online-o-2.frames", "online-o-2.prefix-trained-causal-whole"} <= set(named)
    with pytest.raises(SystemExit, match="not a symmetric model"):
        wrong = ["--prefix-symmetric-checkpoint", str(causal / "best.pt")]
        script.main([*argv[:4], *wrong, "--out", str(out)])


def test_no_checkpoint_is_refused(capsys):
    with pytest.raises(SystemExit):
        script.main(["--data-root", "d"])
    assert "expected a checkpoint to measure" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["../x", "/tmp/x", ".hidden", "", "a" * 101, "a/b"])
def test_a_name_that_is_not_a_file_stem_is_refused(name, capsys, tmp_path):
    with pytest.raises(SystemExit):
        script.main(["--checkpoint", "c", "--data-root", "d", "--name", name])
    assert "argument --name: expected a file name stem" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option, value",
    [("--limit", "0"), ("--threads", "0"), ("--repeats", "1e9")],
)  # fmt: skip
def test_out_of_range_numbers_are_refused_by_name(option, value, capsys):
    assert_refused_integer(script.main, option, value, capsys)
