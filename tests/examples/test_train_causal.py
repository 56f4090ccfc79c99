"""train.py --causal and --init-from: a causal run, a symmetric run fine-tuned into a causal
one, and the refusals of a checkpoint that cannot start the run."""

from __future__ import annotations

import re

import pytest
import torch

from examples.msg3d import train as train_script
from examples.msg3d.model import MSG3DNet
from examples.msg3d.predict import Predictor, load_checkpoint
from tests.examples.test_train import TINY, _arrays
from tests.examples.test_train_hostile import _refused

pytest.importorskip("matplotlib", reason="the plot extra is not installed")


@pytest.fixture(scope="module")
def symmetric_run(tmp_path_factory):
    """A 1-epoch symmetric run on synthetic arrays: (its folder, the data arguments)."""
    root = tmp_path_factory.mktemp("symmetric")
    data = _arrays(root)
    assert train_script.main([*data, *TINY, "--epochs", "1", "--out", str(root / "run")]) == 0
    return root / "run", data


def test_causal_run_saves_a_causal_model_that_streams_without_delay(symmetric_run, tmp_path):
    _, data = symmetric_run
    out = tmp_path / "causal"
    assert train_script.main([*data, *TINY, "--epochs", "1", "--causal", "--out", str(out)]) == 0
    ckpt = load_checkpoint(out / "best.pt")
    assert ckpt["model_config"]["overrides"]["causal"] is True
    model = Predictor(ckpt).model
    assert model.causal and model.delay == 0
    x = torch.randn(1, 3, 5, 20, 1)
    assert model.forward_steps(x[:, :, :1]).shape == (1, 10, 1)  # a label from frame 1


def test_init_from_starts_a_new_causal_run_from_the_symmetric_weights(symmetric_run, tmp_path):
    """At a vanishing learning rate the fine-tuned parameters are the symmetric run's
    exactly (every update is lr-scaled), in a causal model and a new run of 1 epoch."""
    run, data = symmetric_run
    out = tmp_path / "tuned"
    args = [*data, *TINY, "--epochs", "1", "--causal", "--lr", "1e-30", "--out", str(out)]
    assert train_script.main([*args, "--init-from", str(run / "best.pt")]) == 0
    tuned, source = load_checkpoint(out / "last.pt"), load_checkpoint(run / "best.pt")
    assert tuned["epoch"] == 1 and len(tuned["history"]) == 1
    assert tuned["model_config"]["overrides"]["causal"] is True
    names = dict(Predictor(tuned).model.named_parameters())
    for name in names:
        torch.testing.assert_close(tuned["model"][name], source["model"][name], rtol=0, atol=0)
    fresh = tmp_path / "fresh"
    assert train_script.main([*args[:-1], str(fresh)]) == 0  # no --init-from: other weights
    other = load_checkpoint(fresh / "last.pt")["model"]
    assert any(not torch.equal(other[n], source["model"][n]) for n in names)


def test_a_checkpoint_that_cannot_start_the_run_is_one_line(symmetric_run, capsys, tmp_path):
    run, data = symmetric_run
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x80\x04not a checkpoint")
    other = tmp_path / "other"
    wide = [*data, *TINY, "--epochs", "1", "--model-args", '{"channels": [6, 12, 18]}']
    assert train_script.main([*wide, "--out", str(other)]) == 0
    base = [*data, *TINY, "--causal", "--out", str(tmp_path / "run")]
    for path, match in (
        (tmp_path / "missing.pt", "--init-from: no checkpoint"),
        (garbage, "--init-from: .*garbage.pt: not a readable PyTorch checkpoint"),
        (other / "best.pt", r"--init-from .*best.pt: model\.\S+: expected shape"),
    ):
        line = _refused(capsys, [*base, "--init-from", str(path)])
        assert re.search(match, line), line
    line = _refused(capsys, [*base, "--init-from", str(run / "best.pt"), "--resume"])
    assert "--init-from starts a new run" in line


def _clip_lengths(monkeypatch, tmp_path, *options: str) -> tuple[list[int], set[int]]:
    """The clip lengths MSG3DNet sees in a 1-epoch causal run of 16 batches of 32-frame
    clips: (each training batch's, the set of the test batches')."""
    seen: list[tuple[bool, int]] = []
    forward = MSG3DNet.forward

    def spy(self, x):
        seen.append((self.training, x.shape[2]))
        return forward(self, x)

    monkeypatch.setattr(MSG3DNet, "forward", spy)
    data = _arrays(tmp_path, n=64, frames=32)
    args = [*data, *TINY, "--batch-size", "4", "--causal", "--epochs", "1", *options]
    assert train_script.main([*args, "--out", str(tmp_path / "r")]) == 0
    return [t for training, t in seen if training], {t for training, t in seen if not training}


def test_min_prefix_trains_on_prefixes_in_steps_of_the_stride(monkeypatch, tmp_path):
    """Each training batch is cut to a drawn prefix: lengths that are multiples of the
    model's stride, at least the fraction, not all equal; testing sees whole clips."""
    train, test = _clip_lengths(monkeypatch, tmp_path, "--min-prefix", "0.25")
    assert len(train) == 16 and len(set(train)) > 3
    assert all(t % 4 == 0 and 8 <= t <= 32 for t in train)
    assert test == {32}


def test_whole_clips_mixes_whole_clips_with_prefixes(monkeypatch, tmp_path):
    """--whole-clips 0.75: most training batches see the whole 32 frames, the others a
    prefix; the same seed without it draws whole clips far less often."""
    train, test = _clip_lengths(
        monkeypatch, tmp_path, "--min-prefix", "0.25", "--whole-clips", "0.75"
    )
    assert len(train) == 16 and sum(t == 32 for t in train) >= 9
    assert any(t < 32 for t in train) and all(t % 4 == 0 and t >= 8 for t in train)
    assert test == {32}
