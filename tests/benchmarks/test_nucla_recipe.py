"""benchmarks/nucla_recipe.py: the recipe's results file from train.py run folders."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from benchmarks import nucla_recipe

pytest.importorskip("matplotlib", reason="the plot extra is not installed")


def _run(folder, stream, seed, top1s, logits, planned=None, model_args=None):
    """A train.py output folder: metrics.json and the final epoch's val_scores.npz; the
    run planned ``planned`` epochs (default: the ones it ran)."""
    folder.mkdir()
    epochs = [
        {"epoch": i + 1, "lr": 0.1, "train_loss": 1.0 / (i + 1), "train_top1": 0.5,
         "test_loss": 1.0, "test_top1": t, "test_top5": 1.0, "test_mean_class_accuracy": t,
         "seconds": 10.0 * (i + 1)}
        for i, t in enumerate(top1s)
    ]  # fmt: skip
    config = {"stream": stream, "seed": seed, "preset": "nw-ucla-small", "feeder": "ctrgcn",
              "amp": "bf16", "epochs": planned or len(top1s), "threads": 1,
              "model_args": model_args}  # fmt: skip
    record = {"config": config, "milestones": [50], "parameters": 1234, "torch": "2.x",
              "epochs": epochs}  # fmt: skip
    (folder / "metrics.json").write_text(json.dumps(record))
    ids = np.array(["a", "b", "c", "d"])
    np.savez(folder / "val_scores.npz", ids=ids, labels=np.array([0, 1, 0, 1]),
             logits=np.asarray(logits, np.float32), stream=np.array(stream))  # fmt: skip
    return folder


def test_results_from_run_folders(tmp_path):
    """Final epochs (0.8 and 0.6, not the best 0.9), mean ± std over seeds, and the fusion
    (2 : 2 weights of two streams' softmax) computed by hand: the bone stream is sure of
    the right class where the joint stream is wrong."""
    joint = [[2, 0], [2, 0], [2, 0], [0, 2]]  # right on a, d: top-1 0.5
    bone = [[0, 9], [0, 9], [9, 0], [0, 9]]  # right on b, c, d: 0.75; very sure
    runs = [
        _run(tmp_path / "j0", "joint", 0, [0.5, 0.9, 0.8], joint),
        _run(tmp_path / "b0", "bone", 0, [0.4, 0.6], bone),
        _run(tmp_path / "j1", "joint", 1, [0.7], joint),
    ]
    out = tmp_path / "results"
    argv = [*map(str, runs), "--command", "python -m examples.msg3d.train X", "--out", str(out)]
    assert nucla_recipe.main(argv) == 0
    text = (out / "nucla-recipe.md").read_text()
    assert "- command: `python -m examples.msg3d.train X`" in text
    assert "torch threads per run: [1]" in text
    assert "| j0 | joint | 0 | nw-ucla-small | 1,234 | bf16 | 3 / 3 | [50] | 20 | 80.00 % |" in text
    assert "| joint | 75.00 ± 7.07 % (n=2) |" in text and "| bone | 60.00 % (n=1) |" in text
    # fused: softmax sums; sample a: joint 0.88/0.12 + bone ~0/1 -> class 1 (wrong)
    assert "| fused, joint + bone (2 : 2) | 75.00 % (n=1) |" in text
    assert "| fused, four streams (2 : 2 : 1 : 1) | – (no seed ran all of them) |" in text
    record = json.loads((out / "nucla-recipe.json").read_text())
    assert [(f["name"], f["seed"], f["streams"], f["weights"]) for f in record["fused"]] == [
        ("joint + bone", 0, ["joint", "bone"], [2, 2])
    ]
    assert (out / "nucla-recipe.png").stat().st_size > 0
    (out / "nucla-recipe.md").unlink()
    assert nucla_recipe.main(["--report", "--out", str(out)]) == 0
    assert (out / "nucla-recipe.md").read_text() == text


def test_each_fusion_is_averaged_over_its_own_seeds(tmp_path):
    """Seed 0 ran four streams, seed 1 joint and bone: the joint + bone fusion has two
    seeds, the four-stream fusion one; a four-stream result never enters the two-stream
    mean."""
    right, wrong = [[3, 0], [0, 3], [3, 0], [0, 3]], [[0, 3], [3, 0], [0, 3], [3, 0]]
    runs = [_run(tmp_path / f"{s}0", s, 0, [0.5], right) for s in nucla_recipe.FUSION_WEIGHTS]
    runs += [_run(tmp_path / "joint1", "joint", 1, [0.0], wrong),
             _run(tmp_path / "bone1", "bone", 1, [0.0], wrong)]  # fmt: skip
    out = tmp_path / "results"
    assert nucla_recipe.main([*map(str, runs), "--out", str(out)]) == 0
    text = (out / "nucla-recipe.md").read_text()
    assert "| fused, joint + bone (2 : 2) | 50.00 ± 70.71 % (n=2) |" in text
    assert "| fused, four streams (2 : 2 : 1 : 1) | 100.00 % (n=1) |" in text
    record = json.loads((out / "nucla-recipe.json").read_text())
    assert sorted((f["name"], f["seed"]) for f in record["fused"]) == [
        ("four streams", 0), ("joint + bone", 0), ("joint + bone", 1)
    ]  # fmt: skip


def test_partial_and_other_model_runs_are_listed_not_averaged(tmp_path):
    """A run stopped before its planned epochs, and one of another model (``--model-args``)
    with the same stream and seed, appear in the runs table only: the stream's mean and the
    fusion are those of the complete preset runs."""
    right = [[3, 0], [0, 3], [3, 0], [0, 3]]
    runs = [
        _run(tmp_path / "j0", "joint", 0, [0.5], right),
        _run(tmp_path / "b0", "bone", 0, [0.25], right),
        _run(tmp_path / "j1", "joint", 1, [0.1, 0.2], right, planned=65),
        _run(tmp_path / "big", "joint", 0, [0.3], right, planned=65,
             model_args={"channels": [96, 192, 384]}),
    ]  # fmt: skip
    out = tmp_path / "results"
    assert nucla_recipe.main([*map(str, runs), "--out", str(out)]) == 0
    text = (out / "nucla-recipe.md").read_text()
    assert "| j1 | joint | 1 | nw-ucla-small | 1,234 | bf16 | 2 / 65 |" in text
    assert '| big | joint | 0 | nw-ucla-small + {"channels":[96,192,384]} |' in text
    assert "| joint | 50.00 % (n=1) |" in text
    record = json.loads((out / "nucla-recipe.json").read_text())
    assert [(f["name"], f["seed"]) for f in record["fused"]] == [("joint + bone", 0)]


def test_named_fusion_of_runs_of_different_models(tmp_path):
    """``--fuse big+b0``: a larger model's joint run with the preset's bone run, by folder
    name, reported in its own table (the per-seed fusions stay the preset's); the fused
    top-1 as in test_results_from_run_folders (0.75)."""
    joint = [[2, 0], [2, 0], [2, 0], [0, 2]]
    bone = [[0, 9], [0, 9], [9, 0], [0, 9]]
    runs = [
        _run(tmp_path / "b0", "bone", 0, [0.6], bone),
        _run(tmp_path / "big", "joint", 0, [0.5], joint, model_args={"channels": [8, 8, 8]}),
    ]
    out = tmp_path / "results"
    assert nucla_recipe.main([*map(str, runs), "--fuse", "big+b0", "--out", str(out)]) == 0
    text = (out / "nucla-recipe.md").read_text()
    assert "| big + b0 | joint + bone (2 : 2) | 75.00 % | 100.00 % | 75.00 % |" in text
    assert "| fused, joint + bone (2 : 2) | – (no seed ran all of them) |" in text
    record = json.loads((out / "nucla-recipe.json").read_text())
    assert [(f["runs"], f["weights"]) for f in record["named_fusions"]] == [(["big", "b0"], [2, 2])]
    (out / "nucla-recipe.md").unlink()
    assert nucla_recipe.main(["--report", "--out", str(out)]) == 0
    assert (out / "nucla-recipe.md").read_text() == text


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("j0", "expected two or more different run folders A+B, got 'j0'"),
        ("j0+j0", "expected two or more different run folders A+B, got 'j0+j0'"),
        ("j0+nope", "'nope' is not among the runs ['b0', 'j0', 'part']"),
        ("j0+part", "part stopped at epoch 1 of 65: only complete runs are fused"),
    ],
)
def test_bad_named_fusions_are_refused_by_name(tmp_path, spec, message):
    right = [[3, 0], [0, 3], [3, 0], [0, 3]]
    runs = [
        _run(tmp_path / "j0", "joint", 0, [0.5], right),
        _run(tmp_path / "b0", "bone", 0, [0.5], right),
        _run(tmp_path / "part", "bone", 1, [0.5], right, planned=65),
    ]
    out = tmp_path / "results"
    with pytest.raises(SystemExit, match=re.escape(message)):
        nucla_recipe.main([*map(str, runs), "--fuse", spec, "--out", str(out)])
    assert not out.exists()
