"""CTR-GCN's N-UCLA recipe in train.py (``configs/nw-ucla-ctrgcn.json``): its settings, the
warm-up, ``--repeat``, final-epoch reporting, and a CI-sized run of the whole recipe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from examples.msg3d import train as train_script
from examples.msg3d.config import TrainConfig
from examples.msg3d.engine import Trainer
from skelgraph.data import Pipeline
from tests.conftest import fixture_path

pytest.importorskip("matplotlib", reason="the plot extra is not installed")

CONFIG = Path(train_script.__file__).parent / "configs" / "nw-ucla-ctrgcn.json"
SMALL = json.dumps({"channels": [6, 12], "num_gcn_scales": 2, "num_g3d_scales": 2})


def test_the_shipped_recipe_is_ctrgcns():
    cfg = train_script.parse_args(["--config", str(CONFIG)])
    assert (cfg.feeder, cfg.frames, cfg.rotate_degrees, cfg.rotate_axes) == ("ctrgcn", 52, 60, "xy")
    assert (cfg.scale, cfg.repeat, cfg.batch_size, cfg.epochs) == (0.5, 5, 16, 65)
    assert (cfg.effective_lr(), cfg.momentum, cfg.nesterov, cfg.weight_decay) == (
        0.1,
        0.9,
        True,
        1e-4,
    )
    assert (cfg.warmup_epochs, cfg.effective_milestones(), cfg.gamma) == (5, [50], 0.1)


def test_warmup_rates_by_hand():
    cfg = TrainConfig(lr=0.1, scale_lr=False, warmup_epochs=5, milestones=[50], epochs=65)
    assert [cfg.lr_at(e) for e in range(6)] == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1, None])
    assert TrainConfig().lr_at(0) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--warmup-epochs", "5", "--milestones", "5"], "must end before the first milestone 5"),
        (["--feeder", "ctrgcn", "--dataset", "arrays"], "--feeder ctrgcn is N-UCLA's"),
        (["--rotate-axes", "zx"], "argument --rotate-axes: invalid choice"),
        (["--repeat", "0"], "--repeat"),
    ],
)
def test_recipe_options_refuse_bad_values(capsys, args, message):
    with pytest.raises(SystemExit) as raised:
        train_script.parse_args(args)
    assert raised.value.code == 2 and message in capsys.readouterr().err


def test_recipe_run_in_miniature(tmp_path, capsys):
    """The whole recipe on 10 sequences per split, 2 tiny epochs: warm-up rates, 3 passes
    per epoch, CTR-GCN's pipeline in the checkpoint, final-epoch scores and report."""
    root = fixture_path("nw-ucla")
    out = tmp_path / "run"
    args = ["--config", str(CONFIG), "--data-root", str(root), "--subset", "10"]
    args += ["--frames", "6", "--epochs", "2", "--warmup-epochs", "2", "--milestones", "3"]
    args += ["--repeat", "3", "--batch-size", "4", "--model-args", SMALL, "--out", str(out)]
    assert train_script.main(args) == 0
    assert "final epoch 2: test top-1" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["lr"] for e in metrics["epochs"]] == pytest.approx([0.05, 0.1])
    assert metrics["final"] == metrics["epochs"][-1]
    assert (metrics["train_size"], metrics["test_size"]) == (10, 10)
    scores = np.load(out / "val_scores.npz")
    assert int(scores["epoch"]) == 2  # the final epoch's, whichever was best
    import torch

    ckpt = torch.load(out / "last.pt", weights_only=True)
    pipeline = Pipeline.from_dict(ckpt["pipeline"])
    assert (pipeline.sampling, pipeline.frames) == ("ctrgcn", 6)


def test_repeat_makes_one_epoch_several_passes(tmp_path):
    root = fixture_path("nw-ucla")
    cfg = train_script.parse_args(
        ["--config", str(CONFIG), "--data-root", str(root), "--subset", "5", "--repeat", "3",
         "--model-args", SMALL, "--out", str(tmp_path / "run")]
    )  # fmt: skip
    trainer = Trainer(cfg, write_outputs=False)
    loader = trainer._loader(trainer.train_set, train=True, epoch=0)
    order = list(loader.sampler)
    assert len(order) == 15 and sorted(np.array(order) % 5) == sorted(list(range(5)) * 3)
    x, _ = trainer.train_set[0]
    assert tuple(x.shape) == (3, 52, 20, 1) and float(x.abs().max()) <= 1 + 1e-6
