"""examples/msg3d/convert_checkpoint.py on careless and hostile checkpoints: every shape
checked (not only its size), unreadable files named."""

from __future__ import annotations

import pickle

import pytest
import torch

from examples.msg3d.convert_checkpoint import main, read_state_dict
from examples.msg3d.model import MSG3DNet
from skelgraph import DisentangledGraphConv
from skelgraph.nn import authors
from skelgraph.nn.authors import model_from_authors as from_authors
from skelgraph.nn.authors import model_to_authors as to_authors


@pytest.fixture(scope="module")
def small():
    torch.manual_seed(0)
    model = MSG3DNet.from_preset("nw-ucla-small")
    return model, to_authors(model.state_dict(), model)


def test_a_transposed_weight_of_the_right_size_is_refused(small):
    model, theirs = small
    theirs = dict(theirs)
    theirs["fc.weight"] = theirs["fc.weight"].t().contiguous()  # (96, 10) for (10, 96)
    with pytest.raises(ValueError, match=r"'weight' has shape \(96, 10\).*expects \(10, 96\)"):
        from_authors(theirs, model)


def test_a_transposed_layer_weight_is_refused():
    layer = DisentangledGraphConv(3, 8, "kinect-v1-20", 4)
    theirs = authors.to_authors(layer.state_dict(), authors.MSGCN_KEYS)
    weight = theirs["mlp.layers.0.weight"]  # (8, 12, 1, 1)
    theirs["mlp.layers.0.weight"] = weight.reshape(12, 8, 1, 1)
    with pytest.raises(ValueError, match=r"\(12, 8, 1, 1\).*expects \(8, 12, 1, 1\)"):
        authors.from_authors(theirs, authors.MSGCN_KEYS, layer)
    theirs["mlp.layers.0.weight"] = [1.0]
    with pytest.raises(ValueError, match="holds a list, not a tensor"):
        authors.from_authors(theirs, authors.MSGCN_KEYS, layer)


def test_the_residual_mask_still_round_trips_through_its_flat_shape(small):
    model, theirs = small
    converted = from_authors(theirs, model)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(converted[key], value, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not a readable PyTorch checkpoint"),
        (b"garbage, not a checkpoint" * 10, "not a readable PyTorch checkpoint"),
        (pickle.dumps([1, 2, 3]), "not a readable PyTorch checkpoint"),
    ],
)
def test_unreadable_files_name_the_path(tmp_path, content, match):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as error:
        read_state_dict(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("value", [[1, 2], {"a": [1]}, torch.zeros(3)])
def test_a_checkpoint_that_holds_no_state_dict_is_named(tmp_path, value):
    path = tmp_path / "odd.pt"
    torch.save(value, path)
    with pytest.raises(ValueError, match=r"odd\.pt: expected a state_dict"):
        read_state_dict(path)


def test_the_command_line_reports_bad_files_without_a_traceback(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    with pytest.raises(SystemExit, match=r"empty\.pt: not a readable PyTorch checkpoint"):
        main([str(path), str(tmp_path / "out.pt"), "--preset", "nw-ucla-small"])
    assert not (tmp_path / "out.pt").exists()
