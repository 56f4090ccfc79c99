"""Layer contracts a mutation run found unchecked: the residual mask's initial range, the
dropout range, a strided multi-scale TCN whose input and output widths agree, and the
fused inference epilogue with batch-norm statistics far from the identity, activation
names, and the delay of a stream window."""

from __future__ import annotations

import pytest
import torch

from skelgraph import DisentangledGraphConv, MSTemporalConv, TemporalConv
from skelgraph.nn import functional
from skelgraph.nn.activation import make_activation
from skelgraph.nn.streaming import TemporalWindow
from tests.layer_helpers import TINY, randomize


def test_residual_mask_starts_uniform_in_a_millionth():
    # the authors' initialisation: uniform in ±1e-6, so training starts from the graph
    torch.manual_seed(0)
    mask = DisentangledGraphConv(2, 3, TINY, num_scales=3).aggregate.mask.detach()
    assert mask.abs().max() <= 1e-6
    assert mask.abs().max() > 1e-7 and mask.min() < 0 < mask.max()  # drawn, not zero


@pytest.mark.parametrize("dropout", [1.0, 1.5, -0.1])
def test_dropout_outside_zero_to_one_is_refused(dropout):
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        DisentangledGraphConv(2, 3, TINY, num_scales=3, dropout=dropout)


def test_strided_ms_tcn_of_equal_widths_has_a_strided_residual():
    # in == out channels but stride 2: the identity cannot be added to T/2 frames
    torch.manual_seed(0)
    layer = MSTemporalConv(8, 8, stride=2, dilations=(1, 2)).eval()
    assert isinstance(layer.residual, TemporalConv) and layer.residual.stride == 2
    assert layer(torch.randn(1, 8, 8, 5)).shape == (1, 8, 4, 5)


@pytest.mark.parametrize("act", [torch.nn.ReLU(), torch.nn.Identity()])
def test_fused_epilogue_equals_the_modules_with_non_trivial_statistics(act):
    # bias, batch norm and activation folded into one scale and shift (no-grad inference)
    # against the modules, with running statistics and an affine part far from 1 and 0
    bn = randomize(torch.nn.BatchNorm2d(4)).eval()
    bias = torch.randn(4)
    y = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        fused = functional.bias_norm_act(y.clone(), bias, bn, act, fused=True)
        plain = functional.bias_norm_act(y.clone(), bias, bn, act, fused=False)
        expected = act(bn(y + bias[None, :, None, None]))
    torch.testing.assert_close(fused, expected)
    torch.testing.assert_close(plain, expected)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("relu", "ReLU"), ("leaky_relu", "LeakyReLU"), ("gelu", "GELU"), ("silu", "SiLU"),
     ("tanh", "Tanh"), ("identity", "Identity"), ("linear", "Identity"), (None, "Identity")],
)  # fmt: skip
def test_activation_names_give_their_modules(name, kind):
    assert type(make_activation(name)).__name__ == kind
    assert type(MSTemporalConv(6, 6, dilations=(1,), activation=name).act).__name__ == kind


@pytest.mark.parametrize(("span", "front"), [(2, 1), (4, 2), (4, 0), (6, 4), (3, 1)])
def test_temporal_window_delay_is_when_its_first_window_completes(span, front):
    # output frame 0 is ready once input frame `delay` has arrived (front padding counted)
    window = TemporalWindow(span, 1, front, span - front)
    first = next(t for t in range(span + 2) if window.push(torch.ones(1, 1, 1, 1)) is not None)
    assert window.delay == first == span - front
