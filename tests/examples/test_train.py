"""examples/msg3d/train.py: recipe, config file, end-to-end runs, checkpoints and resume."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from examples.msg3d import train as train_script
from examples.msg3d.config import resumed_changes
from examples.msg3d.datasets import build_datasets
from examples.msg3d.model_setup import build_model
from tests.conftest import ROOT, fixture_path

pytest.importorskip("matplotlib", reason="the plot extra is not installed")

SCRIPT = Path(train_script.__file__)
# A tiny MS-G3D Net run: 1 epoch, 8 frames, few sequences, the nw-ucla-small preset.
TINY = ["--frames", "8", "--batch-size", "8", "--test-batch-size", "16", "--quiet"]


def _arrays(folder: Path, n: int = 16, seed: int = 0, frames: int = 8) -> list[str]:
    """Synthetic (N, 3, frames, 20, 1) train and test arrays; class c is a bias of c / 10."""
    rng = np.random.default_rng(seed)
    args = []
    for part in ("train", "test"):
        labels = np.arange(n) % 10
        data = rng.normal(size=(n, 3, frames, 20, 1)).astype(np.float32)
        data += labels[:, None, None, None, None] / 10
        np.save(folder / f"{part}_x.npy", data)
        np.save(folder / f"{part}_y.npy", labels)
        args += [f"--{part}-data", str(folder / f"{part}_x.npy")]
        args += [f"--{part}-labels", str(folder / f"{part}_y.npy")]
    return ["--dataset", "arrays", *args]


def test_recipe_defaults():
    cfg = train_script.parse_args([])
    assert (cfg.momentum, cfg.nesterov, cfg.weight_decay, cfg.gamma) == (0.9, True, 5e-4, 0.1)
    assert cfg.effective_lr() == pytest.approx(0.05)
    assert cfg.effective_milestones() == [30, 40]  # 60 % and 80 % of 50 epochs
    assert train_script.parse_args(["--batch-size", "64"]).effective_lr() == pytest.approx(0.1)
    assert train_script.parse_args(["--batch-size", "64", "--no-scale-lr"]).effective_lr() == 0.05
    assert train_script.parse_args(["--milestones", "7", "3"]).effective_milestones() == [3, 7]


def test_config_file_and_override(tmp_path):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"epochs": 7, "lr": 0.1, "milestones": [5]}))
    cfg = train_script.parse_args(["--config", str(config), "--epochs", "9"])
    assert (cfg.epochs, cfg.lr, cfg.milestones) == (9, 0.1, [5])
    config.write_text(json.dumps({"epoch": 7}))
    with pytest.raises(SystemExit):
        train_script.parse_args(["--config", str(config)])


def test_shipped_config_parses():
    config = SCRIPT.parent / "configs" / "nw-ucla-small.json"
    cfg = train_script.parse_args(["--config", str(config)])
    assert cfg.preset == "nw-ucla-small" and cfg.dataset == "nw-ucla"


def test_arrays_end_to_end_and_resume(tmp_path):
    data = _arrays(tmp_path)
    once = tmp_path / "once"
    assert train_script.main([*data, *TINY, "--epochs", "2", "--out", str(once)]) == 0
    part = tmp_path / "part"
    assert train_script.main([*data, *TINY, "--epochs", "1", "--out", str(part)]) == 0
    for name in ("metrics.json", "last.pt", "best.pt", "curves.png"):
        assert (part / name).is_file(), name
    ckpt = torch.load(part / "last.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "epoch"} <= set(ckpt) and ckpt["epoch"] == 1
    metrics = json.loads((part / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1]
    assert 0 <= metrics["epochs"][0]["test_top1"] <= metrics["epochs"][0]["test_top5"] <= 1
    # Resume with the same 2-epoch schedule as the uninterrupted run: same result.
    resume = [*data, *TINY, "--epochs", "2", "--milestones", "1", "2", "--out", str(part)]
    with pytest.raises(SystemExit, match=r"differ.*epochs 1 -> 2.*milestones None -> \[1, 2\]"):
        train_script.main([*resume, "--resume"])  # changed settings: refused by default
    assert train_script.main([*resume, "--resume", "--override-resumed"]) == 0
    resumed = json.loads((part / "metrics.json").read_text())["epochs"]
    straight = json.loads((once / "metrics.json").read_text())["epochs"]
    assert [e["epoch"] for e in resumed] == [1, 2]
    for key in ("train_loss", "test_loss", "test_top1", "lr"):
        assert resumed[1][key] == pytest.approx(straight[1][key], rel=1e-4), key


def test_resume_with_overrides_runs_the_new_schedule(tmp_path):
    """The schedule of the settings that run, not the checkpoint's: 4 epochs at lr 0.025
    after 2, resumed as 4 epochs with a drop after epoch 3."""
    data = _arrays(tmp_path)
    first = [*data, *TINY, "--epochs", "2", "--lr", "0.1", "--out", str(tmp_path / "run")]
    assert train_script.main(first) == 0  # milestones 1, 2 (60 % / 80 % of 2)
    more = [*data, *TINY, "--epochs", "4", "--lr", "0.1", "--milestones", "3"]
    more += ["--out", str(tmp_path / "run"), "--resume", "--override-resumed"]
    assert train_script.main(more) == 0
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    rates = [e["lr"] for e in record["epochs"]]
    assert rates[2:] == pytest.approx([0.025, 0.0025])  # 0.1 · 8/32, then × 0.1 after 3
    assert record["config"]["epochs"] == 4 and record["milestones"] == [3]


def test_a_checkpoint_older_than_a_setting_resumes_with_its_default(tmp_path):
    """A checkpoint written before ``--whole-clips`` existed trained with its default: it
    resumes without --override-resumed; a checkpoint that set it differently does not."""
    data = _arrays(tmp_path)
    current = vars(train_script.parse_args(data))
    older = {k: v for k, v in current.items() if k != "whole_clips"}
    assert resumed_changes(older, current) == []
    changed = vars(train_script.parse_args([*data, "--min-prefix", "0.5", "--whole-clips", "1"]))
    assert ("whole_clips", 1.0, 0.0) in resumed_changes(changed, current)


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("--lr", "nan", "--lr: expected a finite number >= 0, got nan"),
        ("--lr", "0", r"--lr must be finite and > 0, got 0\.0"),
        ("--min-prefix", "0", r"--min-prefix must be finite and in \(0, 1\], got 0\.0"),
        ("--whole-clips", "0.5", r"--whole-clips 0\.5 mixes .* it needs --min-prefix below 1"),
        ("--epochs", "-1", r"--epochs: expected an integer in 1\.\.100000, got -1"),
        ("--forward-batch-size", "0", r"--forward-batch-size: expected an integer in 1\.\.65536"),
        ("--gamma", "2", r"--gamma: expected a number in 0\.\.1, got 2"),
    ],
)
def test_out_of_range_options_are_refused(tmp_path, capsys, option, value, match):
    args = [*_arrays(tmp_path), *TINY, option, value, "--out", str(tmp_path / "run")]
    with pytest.raises(SystemExit) as refused:
        train_script.main(args)
    assert refused.value.code == 2
    assert re.search(match, capsys.readouterr().err)


def test_a_diverging_loss_stops_with_a_clear_error(tmp_path):
    args = [*_arrays(tmp_path), *TINY, "--epochs", "2", "--lr", "1e30", "--no-scale-lr"]
    with pytest.raises(SystemExit, match=r"epoch 1: the training loss is (nan|inf).*lower --lr"):
        train_script.main([*args, "--out", str(tmp_path / "run")])


def test_stale_temporaries_are_cleaned_and_saves_are_complete(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt.tmp").write_bytes(b"half a checkpoint")  # a run killed while saving
    args = [*_arrays(tmp_path), *TINY, "--epochs", "1", "--out", str(run)]
    assert train_script.main(args) == 0
    assert not list(run.glob("*.tmp"))
    best = torch.load(run / "best.pt", weights_only=True)
    last = torch.load(run / "last.pt", weights_only=True)
    assert best["epoch"] == last["epoch"] == 1


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains_and_resumes(tmp_path, amp):
    """--amp: the forward under autocast, float32 parameters; fp16 with a GradScaler whose
    state is saved and restored."""
    args = [*_arrays(tmp_path), *TINY, "--amp", amp, "--out", str(tmp_path / "run")]
    assert train_script.main([*args, "--epochs", "1"]) == 0
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert all(v.dtype == torch.float32 for v in ckpt["model"].values() if v.is_floating_point())
    assert (ckpt["scaler"] is not None) == (amp == "fp16")
    assert train_script.main([*args, "--epochs", "2", "--milestones", "1", "--resume",
                              "--override-resumed"]) == 0  # fmt: skip
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["config"]["amp"] == amp
    assert all(
        np.isfinite(e["train_loss"]) and np.isfinite(e["test_loss"]) for e in record["epochs"]
    )


def test_activation_checkpointing_trains_the_same_and_is_free_on_resume(tmp_path):
    """--checkpoint recomputes activations: the same losses, and only a setting of how the
    run executes (a resumed run may switch it without --override-resumed)."""
    data = _arrays(tmp_path)
    losses = {}
    for flag in ("--no-checkpoint", "--checkpoint"):
        out = tmp_path / flag.strip("-")
        assert train_script.main([*data, *TINY, "--epochs", "1", flag, "--out", str(out)]) == 0
        record = json.loads((out / "metrics.json").read_text())
        losses[flag] = [e[k] for e in record["epochs"] for k in ("train_loss", "test_loss")]
    assert losses["--checkpoint"] == pytest.approx(losses["--no-checkpoint"], rel=1e-6)
    saved = vars(train_script.parse_args([*data, "--checkpoint"]))
    assert resumed_changes(saved, vars(train_script.parse_args(data))) == []
    model = build_model(train_script.parse_args(["--checkpoint"]))
    assert all(block.checkpoint for block in model.blocks)


def test_nucla_fixture_end_to_end(tmp_path):
    root = fixture_path("nw-ucla")
    out = tmp_path / "run"
    args = ["--dataset", "nw-ucla", "--data-root", str(root), "--subset", "20", *TINY]
    assert train_script.main([*args, "--epochs", "1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_size"] == metrics["test_size"] == 20
    assert (out / "cache" / "nw-ucla-T8-subset20" / "train" / "data.npy").is_file()
    assert (out / "curves.png").is_file() and (out / "best.pt").is_file()
    x, y = build_datasets(train_script.parse_args([*args, "--out", str(out)])).test[0]
    assert tuple(x.shape) == (3, 8, 20, 1) and 0 <= y < 10


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_ddp_two_processes_gloo(tmp_path):
    """The same script under torchrun: 2 CPU processes, gloo, rank 0 writes the outputs."""
    if shutil.which("torchrun") is None and not hasattr(torch.distributed, "run"):
        pytest.skip("torchrun not available")
    data = _arrays(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # Seen in about 1 of 20 runs, on a loaded machine twice in a row: a gloo rank aborting
    # at the end of the run ("terminate called without an active exception", as at a
    # process group's teardown); not yet understood. Only that abort earns another run
    # (three in all): any other failure fails at once.
    for attempt in range(3):
        out = tmp_path / f"ddp{attempt}"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        command += ["--nproc-per-node", "2", "-m", "examples.msg3d.train"]
        command += [*data, *TINY, "--epochs", "1"]
        command += ["--threads", "1", "--out", str(out)]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, env=env, cwd=ROOT
        )
        if "terminate called without an active exception" not in done.stderr:
            break
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["test_size"] == 16
    assert (out / "last.pt").is_file()
