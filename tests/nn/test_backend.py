"""skelgraph.nn.backend: the global setting, its one rule, and which kernel each layer runs."""

from __future__ import annotations

import ast
import inspect
import warnings

import pytest
import torch

from skelgraph import DisentangledGraphConv, G3DConv
from skelgraph.nn import (
    backend,
    batch_norm,
    functional,
    g3d,
    graph_conv,
    ms_tcn_fast,
    node_major,
    norm_relu_conv,
    products,
    project_first,
)
from skelgraph.nn.g3d import G3DPlan
from skelgraph.nn.graph_conv import GraphConvPlan
from tests.layer_helpers import TINY


@pytest.fixture
def kernel_calls(monkeypatch):
    """Count the calls of the two fast kernels made by the layers."""
    calls = {"node-major": 0, "project-first": 0}

    def spy(module, attribute, name):
        kernel = getattr(module, attribute)

        def counted(*args, **kwargs):
            calls[name] += 1
            return kernel(*args, **kwargs)

        monkeypatch.setattr(module, attribute, counted)

    spy(graph_conv, "node_major_graph_conv", "node-major")
    spy(g3d, "project_then_aggregate", "project-first")
    return calls


def test_the_setting_is_global_and_the_context_manager_restores_it():
    assert backend.get_implementation() == "auto"
    with backend.implementation("reference"):
        assert backend.get_implementation() == "reference"
        with pytest.raises(RuntimeError), backend.implementation("fast"):
            raise RuntimeError  # restored on the way out of an error too
        assert backend.get_implementation() == "reference"
    assert backend.get_implementation() == "auto"


def test_unknown_setting_lists_the_choices():
    with pytest.raises(
        ValueError, match="implementation must be one of 'auto', 'reference', 'fast', got 'quick'"
    ):
        backend.set_implementation("quick")
    assert backend.get_implementation() == "auto"


@pytest.mark.parametrize(
    ("setting", "reference_cost", "fast_cost", "applicable", "expected"),
    [
        ("auto", 10, 5, True, True),
        ("auto", 10, 10, True, True),  # equal work, cheaper memory order: fast
        ("auto", 5, 10, True, False),
        ("fast", 5, 10, True, True),
        ("reference", 10, 5, True, False),
        ("fast", 10, 5, False, False),  # not applicable: the reference, whatever the setting
    ],
)
def test_the_rule(setting, reference_cost, fast_cost, applicable, expected):
    with backend.implementation(setting):
        assert backend.use_fast(reference_cost, fast_cost, applicable=applicable) is expected


def test_auto_keeps_aggregate_first_for_the_authors_first_block(kernel_calls):
    G3DConv(3, 96, "ntu-rgbd", window_size=3, embed_channels=96)(torch.randn(1, 3, 4, 25))
    assert kernel_calls["project-first"] == 0


def test_auto_projects_first_for_a_wide_strided_block(kernel_calls):
    G3DConv(96, 192, "ntu-rgbd", window_size=5, stride=2)(torch.randn(1, 96, 4, 25))
    assert kernel_calls["project-first"] == 1


def test_auto_runs_node_major_unless_dropout_is_active(kernel_calls):
    layer = DisentangledGraphConv(3, 4, TINY, 3, dropout=0.5)
    x = torch.randn(2, 3, 5, 5)
    layer.train()(x)
    assert kernel_calls["node-major"] == 0
    layer.eval()(x)
    assert kernel_calls["node-major"] == 1


@pytest.mark.parametrize(("setting", "expected"), [("reference", 0), ("fast", 1)])
def test_an_explicit_setting_overrides_auto(kernel_calls, setting, expected):
    x = torch.randn(1, 3, 4, 25)
    with backend.implementation(setting):
        G3DConv(3, 96, "ntu-rgbd", window_size=3, embed_channels=96)(x)
        DisentangledGraphConv(3, 8, "ntu-rgbd", 4)(x)
    assert kernel_calls == {"node-major": expected, "project-first": expected}


def test_tracing_records_the_reference(kernel_calls):
    layer = torch.nn.Sequential(
        DisentangledGraphConv(3, 4, TINY, 3), G3DConv(4, 4, TINY, num_scales=2)
    ).eval()
    with backend.implementation("fast"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.trace(layer, (torch.randn(2, 3, 6, 5),), check_trace=False)  # no eager rerun
    assert kernel_calls == {"node-major": 0, "project-first": 0}
    assert backend.recording_tool() is None


def test_no_grad_epilogue_is_fused_only_outside_the_reference_setting():
    layer = DisentangledGraphConv(3, 4, TINY, 3).eval()
    y = torch.randn(2, 4, 5, 5)
    assert not layer.plan().fused_epilogue  # gradients enabled
    with torch.no_grad():
        assert layer.plan().fused_epilogue
        fused = functional.bias_norm_act(
            y.clone(), layer.proj.bias, layer.bn, layer.act, fused=True
        )
        with backend.implementation("reference"):
            assert not layer.plan().fused_epilogue
            fresh = y.clone()
            plain = functional.bias_norm_act(fresh, layer.proj.bias, layer.bn, layer.act)
    assert plain.data_ptr() != fresh.data_ptr()  # modules, not in place
    torch.testing.assert_close(fused, plain)


KERNELS = [batch_norm, functional, ms_tcn_fast, node_major, norm_relu_conv, products, project_first]


@pytest.mark.parametrize("module", KERNELS)
def test_kernels_read_no_setting(module):
    """Only the layers' plans choose: the kernel modules import neither the settings nor
    the layers (other kernels only)."""
    kernels = {kernel.__name__ for kernel in KERNELS}
    tree = ast.parse(inspect.getsource(module))
    imported = {
        alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    layers = [name for name in imported if "skelgraph.nn." in name]
    assert not [name for name in imported if "backend" in name]
    assert not [name for name in layers if name.rsplit(".", 1)[0] not in kernels]


def test_plans_name_the_kernels_of_each_condition():
    wide = G3DConv(96, 192, "ntu-rgbd", window_size=5, stride=2).eval()
    first = G3DConv(3, 96, "ntu-rgbd", window_size=3, embed_channels=96).eval()
    assert wide.plan() == G3DPlan("project-first", False, False, "project-first", False)
    assert first.plan() == G3DPlan("reference", False, False, "node-major", False)
    assert wide.train().plan().fast_batch_norm  # batch statistics
    wide.eval()
    with torch.no_grad():
        assert wide.plan().fused_epilogue and first.plan().fused_epilogue
    with backend.implementation("reference"):
        assert wide.plan() == G3DPlan("reference", False, False, "reference", False)
        assert not wide.train().plan().fast_batch_norm
    wide.eval()
    with backend.implementation("fast"):
        assert first.plan().window_conv == "project-first"
    gcn = DisentangledGraphConv(3, 4, TINY, 3, dropout=0.5)
    assert gcn.plan() == GraphConvPlan("reference", False, False, True)  # dropout active
    assert gcn.eval().plan() == GraphConvPlan("node-major", False, False, False)
    assert gcn.plan(stream=True).whole_tensor
