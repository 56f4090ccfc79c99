"""skelgraph._validation.check_tensor: every layer, on every path, refuses an input of
another dtype than its weights with one TypeError naming both, except what autocast
hands it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelgraph import MultiScaleAggregation, TemporalConv
from tests.layer_helpers import LAYERS, TINY, instance

NAMES = sorted(LAYERS)


def _paths(layer):
    return {"forward": layer, "forward_steps": layer.forward_steps}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("path", ["forward", "forward_steps"])
@pytest.mark.parametrize(
    ("dtype", "match"),
    [
        (torch.float64, r"weights' dtype, torch\.float32, got torch\.float64; convert the input"),
        (torch.int64, r"weights' dtype, torch\.float32, got torch\.int64$"),
        (torch.float16, r"weights' dtype, torch\.float32, got torch\.float16"),
    ],
)
def test_another_dtype_than_the_weights_is_one_clear_type_error(
    name, path, dtype, match, implementation
):
    layer, x = instance(name)
    with pytest.raises(TypeError, match=rf"^{type(layer).__name__} expects .*{match}"):
        _paths(layer)[path](x.to(dtype))


@pytest.mark.parametrize("name", NAMES)
def test_a_float64_layer_refuses_float32_and_numpy(name):
    layer, x = instance(name)
    layer = layer.double()
    with pytest.raises(TypeError, match=r"torch\.float64, got torch\.float32"):
        layer(x)
    with pytest.raises(
        TypeError, match=rf"{type(layer).__name__} expects a torch.Tensor, got ndarray"
    ):
        layer(x.double().numpy())
    layer(x.double())


@pytest.mark.parametrize("name", NAMES)
def test_autocast_may_hand_a_float32_layer_its_dtype(name):
    layer, x = instance(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert layer(x.bfloat16()).shape == layer(x).shape
        with pytest.raises(
            TypeError, match=r"float32 \(or torch\.bfloat16 under autocast\), got torch\.float64"
        ):
            layer(x.double())
    with pytest.raises(TypeError, match=r"got torch\.bfloat16"):
        layer(x.bfloat16())  # without autocast, a bf16 input is a mistake


@pytest.mark.parametrize(
    "layer",
    [TemporalConv(3, 4, kernel_size=3), MultiScaleAggregation(TINY, 3)],
    ids=["TemporalConv", "MultiScaleAggregation"],
)
def test_the_small_layers_check_too(layer):
    with pytest.raises(TypeError, match=r"float32, got torch\.float64"):
        layer(torch.randn(2, 3, 4, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="got ndarray"):
        layer(np.zeros((2, 3, 4, 5), np.float32))
