"""MS-G3D Net (examples/msg3d): architecture, the authors' checkpoint, presets, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from examples.msg3d.convert_checkpoint import load_authors_checkpoint, main
from examples.msg3d.model import PRESETS, MSG3DNet
from skelgraph.nn import backend
from skelgraph.nn.authors import model_from_authors as from_authors
from skelgraph.nn.authors import model_to_authors as to_authors
from tests.conftest import fixture_path


def num_trainable(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.fixture(scope="module")
def reference():
    return torch.load(fixture_path("msg3d-reference", "msg3d-ntu60-joint.pt"), weights_only=True)


def test_parameter_counts_equal_the_authors():
    assert num_trainable(MSG3DNet.from_preset("ntu60")) == 3_194_595
    # Counted on the authors' Model with the Kinetics config (num_gcn_scales = num_g3d_scales = 8).
    assert num_trainable(MSG3DNet.from_preset("kinetics400")) == 3_144_328


def test_parameter_count_matches_the_fixture(reference):
    assert num_trainable(MSG3DNet.from_preset("ntu60")) == int(reference["num_trainable_params"])


def test_logits_equal_the_authors_and_round_trip_is_lossless(reference, tmp_path, implementation):
    path = tmp_path / "theirs.pt"
    torch.save({"state_dict": reference["state_dict"]}, path)
    model = MSG3DNet.from_preset("ntu60")
    model = load_authors_checkpoint(path, model).eval()
    with torch.no_grad():
        logits = model(reference["input"])
    assert (logits - reference["logits"]).abs().max().item() <= 1e-4
    back = to_authors(model.state_dict(), model)
    assert list(back) == list(reference["state_dict"])
    for key, value in reference["state_dict"].items():
        assert torch.equal(back[key], value), key
    again = from_authors(back, model)
    assert all(torch.equal(again[k], v) for k, v in model.state_dict().items())


def test_data_parallel_prefix_is_accepted(reference):
    model = MSG3DNet.from_preset("ntu60")
    prefixed = {"module." + k: v for k, v in reference["state_dict"].items()}
    model.load_state_dict(from_authors(prefixed, model))


def test_fast_and_reference_paths_give_the_same_logits_and_gradients():
    # float64 so that no ReLU flips between the two orders of summation; train mode, so
    # batch statistics and every parameter (residual masks included) take part.
    torch.manual_seed(0)
    kwargs = dict(channels=(6, 12, 18), num_gcn_scales=4, num_g3d_scales=3)
    model = MSG3DNet.from_preset("ntu60", **kwargs).double()
    with torch.no_grad():  # non-trivial residual masks
        for name, p in model.named_parameters():
            if name.endswith("mask"):
                p.uniform_(-0.1, 0.1)
    x = torch.randn(2, 3, 20, 25, 2, dtype=torch.float64)
    target = torch.randn(2, 60, dtype=torch.float64)
    results = {}
    for setting in ("fast", "reference"):
        model.zero_grad()
        inp = x.clone().requires_grad_()
        with backend.implementation(setting):
            logits = model(inp)
            (logits * target).sum().backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters()}
        results[setting] = logits.detach(), inp.grad, grads
    (fast, fast_x, fast_grads), (slow, slow_x, slow_grads) = results.values()
    torch.testing.assert_close(fast, slow, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(fast_x, slow_x, rtol=1e-9, atol=1e-10)
    for name, grad in fast_grads.items():
        torch.testing.assert_close(grad, slow_grads[name], rtol=1e-9, atol=1e-10, msg=name)


def test_checkpointed_model_takes_the_same_training_step():
    kwargs = dict(channels=(6, 12, 18), num_gcn_scales=4, num_g3d_scales=3)
    x = torch.randn(2, 3, 12, 20, 1)
    results = []
    for checkpoint in (False, True):
        torch.manual_seed(0)
        model = MSG3DNet.from_preset("nw-ucla-small", checkpoint=checkpoint, **kwargs)
        model(x).logsumexp(-1).sum().backward()
        results.append([p.grad for p in model.parameters()] + list(model.buffers()))
    assert all(block.checkpoint for block in model.blocks)
    for got, expected in zip(*results[::-1]):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.parametrize("amp", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_under_autocast_every_layer_hands_on_the_autocast_dtype(amp):
    """No float32 round trip between layers: after the input's batch norm (float32, like
    its input), every module returns autocast's dtype, in training and inference."""
    kwargs = dict(channels=(6, 12, 18), num_gcn_scales=4, num_g3d_scales=3)
    model = MSG3DNet.from_preset("nw-ucla-small", **kwargs)
    outputs: dict[str, torch.dtype] = {}

    def record(name):
        def hook(module, args, out):
            outputs[name] = out.dtype

        return hook

    for name, module in model.named_modules():
        module.register_forward_hook(record(name))
    for train in (True, False):
        model.train(train)
        outputs.clear()
        with torch.autocast("cpu", dtype=amp):
            model(torch.randn(2, 3, 12, 20, 1))
        wider = {name for name, dtype in outputs.items() if dtype != amp}
        assert wider == {"data_bn"}, wider


def test_forward_backward_at_the_papers_input_layout():
    torch.manual_seed(0)
    model = MSG3DNet.from_preset("ntu60")
    x = torch.randn(2, 3, 64, 25, 2)
    logits = model(x)
    assert logits.shape == (2, 60)
    logits.logsumexp(-1).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(
    ("preset", "joints", "persons"), [("kinetics400", 18, 2), ("nw-ucla-small", 20, 1)]
)
def test_other_layouts_by_changing_only_the_preset(preset, joints, persons):
    model = MSG3DNet.from_preset(preset)
    logits = model(torch.randn(2, 3, 12, joints, persons))
    assert logits.shape == (2, PRESETS[preset]["num_classes"])
    logits.sum().backward()


def test_under_torch_compile():
    """The whole model is one graph for dynamo (no break); inductor's code generation is
    tested per layer (tests/test_runtime_matrix.py), where it costs a fraction of this."""
    torch.manual_seed(0)
    model = MSG3DNet.from_preset("nw-ucla-small").eval()
    x = torch.randn(2, 3, 10, 20, 1)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((2, 3, 16, 18, 2), r"V=25.*got \[2, 3, 16, 18, 2\]"),
        ((2, 3, 16, 25, 1), r"M=2.*got \[2, 3, 16, 25, 1\]"),
        ((2, 3, 16, 25), r"\(N, C=3, T, V=25, M=2\)"),
        ((2, 2, 16, 25, 2), "C=3"),
    ],
)
def test_bad_inputs_raise_clear_errors(shape, match):
    with pytest.raises(ValueError, match=match):
        MSG3DNet.from_preset("ntu60")(torch.randn(*shape))


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.ones(1, 3, 8, 20, 1, dtype=torch.int64), r"float32, got torch\.int64$"),
        (torch.ones(1, 3, 8, 20, 1, dtype=torch.float64), r"float32, got torch\.float64; convert"),
        (np.ones((1, 3, 8, 20, 1), np.float32), "a torch.Tensor, got ndarray"),
    ],
    ids=["int", "float64", "numpy"],
)
def test_inputs_of_another_dtype_are_one_type_error(x, match):
    model = MSG3DNet.from_preset("nw-ucla-small").eval()
    for path in (model, model.forward_steps):
        with pytest.raises(TypeError, match=rf"^MSG3DNet expects .*{match}"):
            path(x)


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"num_classes": 0}, ValueError, "num_classes must be >= 1, got 0"),
        ({"num_classes": 2**40}, ValueError, r"num_classes must be at most 65536 .*MAX_CLASSES"),
        ({"num_classes": 10.0}, TypeError, "num_classes must be an integer"),
        ({"stream_window": True}, TypeError, "stream_window must be an integer, got True"),
        ({"stream_window": 0}, ValueError, "stream_window must be >= 1"),
        ({"num_persons": 0}, ValueError, "num_persons must be >= 1"),
        ({"in_channels": "3"}, TypeError, "in_channels must be an integer"),
        ({"channels": ()}, ValueError, "channels must be a non-empty sequence of ints"),
        ({"channels": (8, -1)}, ValueError, r"channels\[1\] must be >= 1"),
        ({"checkpoint": "yes"}, TypeError, "checkpoint must be a bool"),
    ],
)
def test_constructor_arguments_are_checked(overrides, error, match):
    with pytest.raises(error, match=match):
        MSG3DNet.from_preset("nw-ucla-small", **overrides)


def test_checkpoint_for_another_layout_is_refused():
    kinetics = MSG3DNet.from_preset("kinetics400")
    theirs = to_authors(kinetics.state_dict(), kinetics)
    with pytest.raises(ValueError, match=r"data_bn\.\*.*\(108,\).*\(150,\)"):
        from_authors(theirs, MSG3DNet.from_preset("ntu60"))


def test_missing_and_unknown_keys_are_listed(reference):
    theirs = dict(reference["state_dict"])
    del theirs["fc.bias"]
    theirs["gcn3d1.gcn3d.2.out_bn.weight"] = torch.ones(96)
    with pytest.raises(KeyError) as info:
        from_authors(theirs, MSG3DNet.from_preset("ntu60"))
    message = info.value.args[0]
    assert "lacks: ['fc.bias']" in message
    assert "does not take: ['gcn3d1.gcn3d.2.out_bn.weight']" in message


def test_unknown_preset():
    with pytest.raises(ValueError, match=r"unknown preset 'ntu'.*ntu60"):
        MSG3DNet.from_preset("ntu")


def test_command_line_round_trip(reference, tmp_path, capsys):
    theirs, ours, back = tmp_path / "theirs.pt", tmp_path / "ours.pt", tmp_path / "back.pt"
    torch.save(reference["state_dict"], theirs)
    main([str(theirs), str(ours), "--preset", "ntu60"])
    main([str(ours), str(back), "--preset", "ntu60", "--to-authors"])
    assert "wrote 810 tensors" in capsys.readouterr().out
    restored = torch.load(back, weights_only=True)
    assert all(torch.equal(restored[k], v) for k, v in reference["state_dict"].items())
    # main() raises the one-line message; cli.run prints it with status 2 (test_cli.py)
    with pytest.raises(SystemExit, match=r"'weight' has shape \(150,\) but .* expects \(108,\)"):
        main([str(theirs), str(ours), "--preset", "kinetics400"])


def test_help_explains_itself(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "weights_only" in out and "--preset" in out and "--to-authors" in out
