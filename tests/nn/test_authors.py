"""The layers load the authors' modules' weights (skelgraph.nn.authors) and reproduce their
outputs (fixture), on both kernels; the key maps round-trip and report what is wrong."""

from __future__ import annotations

import pytest
import torch

from skelgraph import DisentangledGraphConv, G3DConv, MSTemporalConv
from skelgraph.nn import authors
from tests.conftest import fixture_path


# ---------------------------------------------------------------- the authors' outputs
@pytest.fixture(scope="module")
def reference():
    path = fixture_path("msg3d-reference", "msg3d-ntu60-joint.pt")
    return torch.load(path, weights_only=True)


PARITY = {
    "sgcn1.0": (lambda: DisentangledGraphConv(3, 96, "ntu-rgbd", 13),
                authors.MSGCN_KEYS),
    "gcn3d1.gcn3d.0": (
        lambda: G3DConv(3, 96, "ntu-rgbd", window_size=3, embed_channels=96),
        authors.G3D_KEYS,
    ),
    "tcn1": (lambda: MSTemporalConv(96, 96), authors.MSTCN_KEYS),
    "gcn3d2.gcn3d.1": (
        lambda: G3DConv(96, 192, "ntu-rgbd", window_size=5, stride=2),
        authors.G3D_KEYS,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PARITY))
def test_layers_reproduce_the_authors_modules(reference, name, implementation):
    build, rules = PARITY[name]
    prefix = name + "."
    theirs = {
        k[len(prefix) :]: v for k, v in reference["state_dict"].items() if k.startswith(prefix)
    }
    layer = build()
    layer.load_state_dict(authors.from_authors(theirs, rules, layer))
    layer.eval()
    io = reference["modules"][name]
    with torch.no_grad():
        out = layer(io["input"])
    assert out.shape == io["output"].shape
    assert (out - io["output"]).abs().max().item() <= 1e-4
    # ... and back to the authors' names and shapes without loss.
    back = authors.to_authors(layer.state_dict(), rules)
    assert back.keys() == theirs.keys()
    for key, value in theirs.items():
        torch.testing.assert_close(back[key], value, rtol=0, atol=0)


def test_mapping_errors_list_the_problem(reference):
    prefix = "sgcn1.0."
    theirs = {
        k[len(prefix) :]: v for k, v in reference["state_dict"].items() if k.startswith(prefix)
    }
    layer = DisentangledGraphConv(3, 96, "openpose-18", 9)
    with pytest.raises(ValueError, match=r"'A_res' has shape \(325, 25\).*expects \(162, 18\)"):
        authors.from_authors(theirs, authors.MSGCN_KEYS, layer)
    layer = DisentangledGraphConv(3, 96, "ntu-rgbd", 13)
    with pytest.raises(KeyError, match="unmapped authors' keys: \\['extra'\\]"):
        authors.from_authors({**theirs, "extra": torch.zeros(1)}, authors.MSGCN_KEYS, layer)
    del theirs["A_res"]
    with pytest.raises(
        KeyError, match=r"missing DisentangledGraphConv keys: \['aggregate\.mask'\]"
    ):
        authors.from_authors(theirs, authors.MSGCN_KEYS, layer)
