"""Mixed precision by name (skelgraph/amp.py): the context, and the warning where the CPU
would emulate the lower precision's products."""

from __future__ import annotations

import warnings

import pytest
import torch

from skelgraph import amp

CPU = torch.device("cpu")


@pytest.fixture
def processor(monkeypatch):
    """Set what oneDNN reports of this processor: ``processor(bf16=..., fp16=...)``."""

    def report(bf16: bool, fp16: bool) -> None:
        for name, answer in (("_is_mkldnn_bf16_supported", bf16),
                             ("_is_mkldnn_fp16_supported", fp16)):  # fmt: skip
            monkeypatch.setattr(torch.ops.mkldnn, name, lambda answer=answer: answer)

    return report


@pytest.mark.parametrize(("bf16", "fp16"), [(True, False), (False, True), (False, False)])
def test_native_follows_onednn_per_precision(processor, bf16, fp16):
    processor(bf16=bf16, fp16=fp16)
    assert amp.native(CPU, "bf16") is bf16 and amp.native(CPU, "fp16") is fp16
    assert amp.native(CPU, "off")
    assert amp.native(torch.device("meta"), "bf16")  # not a CPU: not checked here


def test_a_build_without_onednn_has_no_native_low_precision(processor, monkeypatch):
    processor(bf16=True, fp16=True)
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert not amp.native(CPU, "bf16") and not amp.native(CPU, "fp16")


def test_autocast_warns_where_the_products_would_be_emulated(processor):
    processor(bf16=False, fp16=True)
    with pytest.warns(amp.SlowPrecisionWarning, match=r"amp='bf16'.*bfloat16.*amp='off'"):
        context = amp.autocast(CPU, "bf16")
    with context:  # still the context asked for: correct, only slow
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


def test_autocast_is_silent_where_they_are_native(processor):
    processor(bf16=True, fp16=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        amp.autocast(CPU, "bf16")
        amp.autocast(CPU, "off")
    with pytest.warns(amp.SlowPrecisionWarning, match="float16"):
        amp.autocast(CPU, "fp16")


@pytest.mark.parametrize("function", [amp.autocast, amp.native])
def test_an_unknown_precision_is_refused_by_name(function):
    with pytest.raises(ValueError, match="amp must be one of off, bf16, fp16, got 'fp8'"):
        function(CPU, "fp8")
