"""examples/msg3d/checkpoint.py: what a checkpoint describes is checked field by field, and
a valid one gives the model it was saved from."""

from __future__ import annotations

import copy
import dataclasses
import inspect

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from examples.msg3d import checkpoint
from examples.msg3d.model import MSG3DNet
from examples.msg3d.predict import Predictor
from skelgraph.data import Pipeline
from tests.examples.conftest import arm_checkpoint

VALID = arm_checkpoint()


def test_every_model_argument_and_pipeline_field_has_a_check():
    assert set(checkpoint._MODEL_FIELDS) == set(inspect.signature(MSG3DNet).parameters)
    assert set(checkpoint._PIPELINE_FIELDS) == {f.name for f in dataclasses.fields(Pipeline)}


def test_a_valid_checkpoint_gives_its_model_back(arm_files):
    ckpt = checkpoint.load_checkpoint(arm_files["checkpoint"])
    predictor = Predictor(ckpt)
    for key, value in VALID["model"].items():
        torch.testing.assert_close(predictor.model.state_dict()[key], value, rtol=0, atol=0)
    assert predictor.class_names == ["reach", "wave", "point"]
    assert predictor.pipeline == Pipeline.from_dict(VALID["pipeline"])


def test_the_weights_are_compared_on_the_meta_device(monkeypatch):
    """The model described is built once, without memory, to compare its weights' shapes."""
    devices = []
    init = MSG3DNet.__init__

    def spy(self, *args, **kwargs):
        devices.append(torch.empty(0).device.type)
        init(self, *args, **kwargs)

    monkeypatch.setattr(MSG3DNet, "__init__", spy)
    checkpoint.check_checkpoint(VALID)
    assert devices == ["meta"]


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=20),
    st.lists(st.integers(-5, 10**6), max_size=4),
    st.lists(st.lists(st.integers(-5, 10**4), max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
FIELDS = [("model_config", "overrides", k) for k in checkpoint._MODEL_FIELDS] + [
    ("pipeline", k) for k in checkpoint._PIPELINE_FIELDS
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=ANY_VALUE)
def test_any_value_of_any_field_is_accepted_or_refused_by_name(field, value):
    ckpt = copy.deepcopy({k: v for k, v in VALID.items() if k != "model"})
    ckpt["model"] = VALID["model"]
    *parents, key = field
    target = ckpt
    for part in parents:
        target = target[part]
    target[key] = value
    try:
        checkpoint.check_checkpoint(ckpt)
    except ValueError as error:
        message = str(error)
        assert key in message or message.startswith(("model", "class_names")), message
        return
    # Accepted: it describes the saved model, which builds and loads the weights.
    Predictor(ckpt)


@pytest.mark.parametrize(
    ("layout", "match"),
    [
        ("arm.json", "a path inside a checkpoint is not read"),
        ("/dev/zero", "a path inside a checkpoint is not read"),
        ({"edges": [[0, 1]], "num_nodes": 2**40}, "at most 1024 joints"),
        ({"edges": [[0, 1]] * 600_000}, "at most 523776 edges"),
        ({"edges": "01"}, "'edges' must be a list"),
        (["ntu-rgbd"], "expected a layout name or a graph dict"),
    ],
)
def test_a_layout_is_a_name_or_a_bounded_graph_never_a_path(layout, match):
    ckpt = {**VALID, "pipeline": {**VALID["pipeline"], "layout": layout}}
    with pytest.raises(ValueError, match=match):
        checkpoint.check_checkpoint(ckpt)


def test_builtin_layouts_and_their_aliases_are_names():
    ckpt = copy.deepcopy({k: v for k, v in VALID.items() if k != "model"})
    ckpt["model_config"]["overrides"]["graph"] = "coco"  # pyskl's alias of coco-17
    ckpt["pipeline"]["layout"] = "coco-17"
    with pytest.raises(ValueError, match=r"model\.\S+: expected shape"):  # 17 joints, not 5
        checkpoint.check_checkpoint({**ckpt, "model": VALID["model"]})
