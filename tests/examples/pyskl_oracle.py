"""pyskl's own code, run from the shared fixture generator (``../shared/fixtures/pyskl/make``,
never part of the repository) in a subprocess: fresh checkpoints made by pyskl's model
code, and pyskl's logits for any state_dict.

Every helper skips the test when the shared folder is absent.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from examples.msg3d.checkpoint import scale_counts_fixed
from examples.msg3d.convert_checkpoint import to_pyskl
from examples.msg3d.model import MSG3DNet
from tests.conftest import fixture_path
from tests.layer_helpers import randomize

# pyskl's backbone and head on a saved state_dict and (N, M, T, V, C) input.
_LOGITS = """
import sys, torch, torch.nn as nn
sys.path.insert(0, "pyskl_min")
from pk.models.gcns.msg3d import MSG3D
state, x, layout, out = torch.load(sys.argv[1]), torch.load(sys.argv[2]), sys.argv[3], sys.argv[4]
backbone = MSG3D(graph_cfg=dict(layout=layout, mode="binary_adj"), in_channels=x.shape[-1])
head = state.get("cls_head.fc_cls.weight", state.get("cls_head.fc.weight"))
fc = nn.Linear(head.shape[1], head.shape[0])
backbone.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith("backbone.")})
fc.load_state_dict({k.rsplit(".", 1)[1]: v for k, v in state.items() if k.startswith("cls_head.")})
backbone.eval(); fc.eval()
with torch.no_grad():
    torch.save(fc(backbone(x).mean((3, 4)).mean(1)), out)
"""


def make_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the generator folder (its imports write bytecode)."""
    source = fixture_path("pyskl", "make")
    target = tmp_path_factory.mktemp("pyskl") / "make"
    shutil.copytree(source, target)
    return target


def _run(make: Path, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, *args], cwd=make, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]


def generate(
    make: Path, out: Path, layout: str, num_classes: int, seed: int, *, two_d: bool
) -> Path:
    """``make_fixture.py``: ``out.pth`` (a pyskl checkpoint) and ``out.io.pt`` (input and
    pyskl's logits); returns ``out``."""
    extra = ["2d"] if two_d else []
    _run(make, "make_fixture.py", layout, "3", str(num_classes), str(seed), str(out), *extra)
    return out


def sample_2d(make: Path, out: Path) -> dict:
    """``make_fixture.pipeline_2d`` on a COCO fixture ``out``: a 2-D sample (pixels,
    scores, frame size) and the probabilities of pyskl's joint test pipeline + model."""
    code = f"import make_fixture; make_fixture.pipeline_2d({str(out)!r})"
    _run(make, "-c", code)
    return torch.load(f"{out}.io.pt", weights_only=True)


def pyskl_logits(
    make: Path, state_dict: dict, x_nmtvc: torch.Tensor, layout: str, work: Path
) -> torch.Tensor:
    """pyskl's ``cls_head(backbone(x))`` with ``state_dict`` loaded (strictly)."""
    torch.save(state_dict, work / "state.pt")
    torch.save(x_nmtvc, work / "x.pt")
    _run(
        make, "-c", _LOGITS, str(work / "state.pt"), str(work / "x.pt"), layout, str(work / "y.pt")
    )
    return torch.load(work / "y.pt", weights_only=True)


def save_narrow(path: Path, graph: str, num_classes: int = 60, seed: int = 0) -> Path:
    """A narrow (12, 24, 48) MSG3DNet of ours with random statistics, saved as pyskl saves
    a checkpoint (:func:`to_pyskl`): a cheap stand-in where speed matters more than
    having been made by pyskl's code."""
    with scale_counts_fixed():
        model = MSG3DNet(num_classes, graph, channels=(12, 24, 48))
    randomize(model, seed).eval()
    torch.save({"meta": {}, "state_dict": to_pyskl(model)}, path)
    return path
