"""skelgraph.nn.functional: the stream helpers conv_frames and fold_batch_norm against
torch's own convolution and batch norm. (The graph convolutions' functional forms are
tested through both kernels in tests/nn/test_backend.py and the layer tests.)"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from skelgraph.nn.functional import affine_act_, conv_frames, epilogue_affine, fold_batch_norm
from tests.layer_helpers import randomize


@settings(max_examples=40, deadline=None)
@given(
    k=st.integers(1, 4),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 3),
    extra=st.integers(0, 5),
    bias=st.booleans(),
)
def test_conv_frames_equals_conv2d_without_padding(k, stride, dilation, extra, bias):
    gen = torch.Generator().manual_seed(k * 100 + stride * 10 + dilation)
    x = torch.randn(2, 3, dilation * (k - 1) + 1 + extra, 4, generator=gen, dtype=torch.float64)
    weight = torch.randn(5, 3, k, 1, generator=gen, dtype=torch.float64)
    b = torch.randn(5, generator=gen, dtype=torch.float64) if bias else None
    expected = F.conv2d(x, weight, b, (stride, 1), 0, (dilation, 1))
    torch.testing.assert_close(conv_frames(x, weight, b, stride, dilation), expected)


def test_conv_frames_names_expected_and_received_shapes():
    x = torch.randn(1, 3, 4, 2)
    with pytest.raises(ValueError, match=r"expected weight \(C', C=3, k, 1\)"):
        conv_frames(x, torch.randn(5, 2, 3, 1))
    with pytest.raises(ValueError, match="at least dilation·\\(k - 1\\) \\+ 1 frames"):
        conv_frames(x, torch.randn(5, 3, 3, 1), dilation=2)


@pytest.mark.parametrize("conv", [nn.Conv2d(3, 4, (3, 1)), nn.Conv2d(3, 4, 1, bias=False),
                                  nn.Conv3d(3, 4, (1, 2, 1))])  # fmt: skip
def test_folded_convolution_equals_conv_then_eval_batch_norm(conv):
    bn = randomize(nn.BatchNorm2d(4) if conv.weight.dim() == 4 else nn.BatchNorm3d(4)).eval()
    conv, bn = conv.double(), bn.double()
    shape = (2, 3, 5, 2) if conv.weight.dim() == 4 else (2, 3, 5, 2, 3)
    x = torch.randn(shape, dtype=torch.float64)
    weight, bias = fold_batch_norm(conv, bn)
    folded = conv._conv_forward(x, weight, bias)
    torch.testing.assert_close(folded, bn(conv(x)), rtol=1e-12, atol=1e-12)
    assert not weight.requires_grad and not bias.requires_grad


def test_batch_norm_alone_as_scale_and_shift():
    bn = randomize(nn.BatchNorm2d(4)).double().eval()
    x = torch.randn(2, 4, 3, 5, dtype=torch.float64)
    scale, shift = fold_batch_norm(None, bn)
    torch.testing.assert_close(x * scale.view(-1, 1, 1) + shift.view(-1, 1, 1), bn(x))


@pytest.mark.parametrize("act", [nn.ReLU(), nn.Identity()])
@pytest.mark.parametrize("bias", [False, True])
def test_folded_epilogue_equals_bias_norm_and_activation(act, bias):
    """epilogue_affine then affine_act_ (what a stream folds once and applies per step)
    equal the modules one after another, on a channels-last view too, in place."""
    bn = randomize(nn.BatchNorm2d(4)).double().eval()
    b = torch.randn(4, dtype=torch.float64) if bias else None
    y = torch.randn(2, 3, 5, 4, dtype=torch.float64).permute(0, 3, 1, 2)  # channels last
    expected = act(bn(y if b is None else y + b.view(1, -1, 1, 1)))
    out = affine_act_(y, *epilogue_affine(b, bn), act)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    assert out.data_ptr() == y.data_ptr()
