"""Every command of examples/msg3d given hostile arguments and files: exit status 2, one
line on stderr that names the problem, never a traceback (issue 22, items 2, 4, 5, 6, 8)."""

from __future__ import annotations

import json
import os
import re
import runpy
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest
import torch

from examples.msg3d import cli, convert_checkpoint, fuse, predict, stream
from tests.conftest import ROOT
from tests.examples.conftest import arm_checkpoint

COMMANDS = {
    "predict": predict.main,
    "stream": stream.main,
    "fuse": fuse.main,
    "convert_checkpoint": convert_checkpoint.main,
}


def _fill(arg: str, files: dict[str, str]) -> str:
    """``arg`` with each ``{name}`` replaced by the path of that file."""
    return re.sub(r"\{([^}]+)\}", lambda m: files[m[1]], arg)


def refuse(command, args, monkeypatch, capsys) -> str:
    """Run ``command`` as its ``__main__`` does; check the error contract; the line."""
    monkeypatch.setattr(sys, "argv", [f"{command}.py", *map(str, args)])
    status = cli.run(COMMANDS[command])  # an exception escaping here fails the test
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{command}.py: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def files(arm_files, tmp_path_factory):
    """The valid files of ``arm_files`` and spoilt ones."""
    root = tmp_path_factory.mktemp("hostile")
    out = {key: str(path) for key, path in arm_files.items()}
    good = arm_files["checkpoint"].read_bytes()
    (root / "truncated.pt").write_bytes(good[: len(good) // 2])
    (root / "garbage.pt").write_bytes(b"not a checkpoint " * 50)
    (root / "empty").write_bytes(b"")
    torch.save([1, 2, 3], root / "list.pt")
    with zipfile.ZipFile(arm_files["checkpoint"]) as src:  # the same records, deflated
        with zipfile.ZipFile(root / "deflated.pt", "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info))
    scores = dict(np.load(arm_files["joint"]))
    spoilt = {
        "nan": {"logits": np.where(np.eye(4, 3) > 0, np.nan, scores["logits"])},
        "inf": {"logits": np.full((4, 3), np.inf, np.float32)},
        "none": {
            "ids": scores["ids"][:0],
            "labels": scores["labels"][:0],
            "logits": scores["logits"][:0],
        },  # fmt: skip
        "label": {"labels": np.array([0, 1, 7, 0])},
        "twice": {"ids": np.array(["s0", "s0", "s2", "s3"])},
        "shape": {"logits": scores["logits"][:, :, None]},
        "int": {"logits": np.zeros((4, 3), np.int64)},
    }
    for name, change in spoilt.items():
        np.savez(root / f"{name}.npz", **{**scores, **change})
    np.savez(root / "nologits.npz", ids=scores["ids"], labels=scores["labels"])
    valid = (root / "nan.npz").read_bytes()
    (root / "cut.npz").write_bytes(valid[: len(valid) // 2])
    (root / "notzip.npz").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    # A header that claims 2**40 logits in a file of a few hundred bytes.
    header = np.lib.format.header_data_from_array_1_0(scores["logits"])
    header["shape"] = (2**20, 2**20)
    with zipfile.ZipFile(root / "claims.npz", "w") as archive:
        for key in ("ids", "labels"):
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, scores[key])
        with archive.open("logits.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
            member.write(scores["logits"].tobytes())
    os.mkfifo(root / "fifo")
    os.mkfifo(root / "fifo.json")
    (root / "deep.json").write_text("[" * 100_000)
    out.update({p.name: str(p) for p in root.iterdir()})
    out["missing"] = str(root / "missing")
    out["dir"] = str(root)
    return out


ARGUMENTS = [
    # item 4: every number bounded, with the range in the message
    ("predict", "--num-clips 1000000000 {nucla}", "--num-clips: expected an integer in 1..100"),
    ("predict", "--num-clips 200000 {nucla}", "1..100, got 200000"),
    ("predict", "--num-clips 0 {nucla}", "1..100, got 0"),
    ("predict", "--num-clips 1e9 {nucla}", "1..100, got '1e9'"),
    ("predict", "--top-k -1 {nucla}", "--top-k: expected an integer in 1..1000"),
    ("predict", "--device nonsense {nucla}", "--device: expected cpu, cuda, cuda:N or mps"),
    ("predict", "--device cuda:99 {nucla}", "--device: cuda:99: this machine has"),
    ("stream", "--window 4000000000 {pickle}", "--window: expected an integer in 1..100000"),
    ("stream", "--window 0 {pickle}", "1..100000, got 0"),
    ("stream", "--fps 1e-9 {pickle}", "--fps: expected a number in 0.1..10000, got 1e-9"),
    ("stream", "--fps 1e-300 {pickle}", "0.1..10000, got 1e-300"),
    ("stream", "--fps nan {pickle}", "0.1..10000, got nan"),
    ("stream", "--fps inf {pickle}", "0.1..10000, got inf"),
    ("stream", "--fps 0 {pickle}", "0.1..10000, got 0"),
    ("stream", "--sample nope {pickle}", "no sample 'nope'"),
    ("stream", "--sample a {pickle}", "no sample 'a'"),
    # item 2: fusion weights and scores finite, not all zero, at least one sample
    ("fuse", "{joint} {bone} --weights nan 1", "--weights: expected a finite number >= 0"),
    ("fuse", "{joint} {bone} --weights inf 1", "got inf"),
    ("fuse", "{joint} {bone} --weights -1 1", "got -1"),
    ("fuse", "{joint} {bone} --weights 0 0", "--weights: expected finite numbers >= 0, not all 0"),
    ("fuse", "{joint} {bone} --weights 1", "2 score files but 1 weights"),
    ("fuse", "{joint} {nan.npz} --json", "nan.npz: not a val_scores.npz of train.py (logits"),
    ("fuse", "{inf.npz}", "logits must be finite"),
    ("fuse", "{none.npz}", "ids, N >= 1"),
    ("fuse", "{label.npz}", "labels must lie in 0..2, got 0..7"),
    ("fuse", "{twice.npz}", "an id occurs twice"),
    ("fuse", "{shape.npz}", "expected logits of shape (4, K)"),
    ("fuse", "{int.npz}", "logits must be finite floating-point"),
    # item 8: corrupt, truncated, foreign score files
    ("fuse", "{cut.npz}", "cut.npz: not a val_scores.npz"),
    ("fuse", "{notzip.npz}", "BadZipFile"),
    ("fuse", "{empty}", "empty: not a val_scores.npz"),
    ("fuse", "{nologits.npz}", "no 'logits' array"),
    ("fuse", "{claims.npz}", "logits.npy: truncated: the header declares shape (1048576, 1048576)"),
    ("fuse", "{fifo}", "not a regular file"),
    ("fuse", "{dir}", "Is a directory"),
    ("fuse", "{missing}", "no score file"),
    ("fuse", "{checkpoint}", "no 'ids' array"),
    # item 5: unreadable checkpoints
    ("predict", "--checkpoint {truncated.pt} {nucla}", "truncated.pt: not a readable PyTorch"),
    ("predict", "--checkpoint {garbage.pt} {nucla}", "garbage.pt: not a readable PyTorch"),
    ("predict", "--checkpoint {deflated.pt} {nucla}", "compressed records"),
    ("predict", "--checkpoint {list.pt} {nucla}", "not a train.py checkpoint"),
    ("predict", "--checkpoint {fifo} {nucla}", "fifo: not a regular file"),
    ("predict", "--checkpoint {dir} {nucla}", "Is a directory"),
    ("predict", "--checkpoint {missing} {nucla}", "no checkpoint"),
    ("stream", "--checkpoint {empty} {pickle}", "empty: not a readable PyTorch"),
    ("predict", "{missing}", "missing: no such file or folder"),
    ("predict", "{fifo}", "not a file skelgraph reads"),
    ("predict", "{fifo.json}", "fifo.json: not a regular file"),
    ("predict", "{deep.json}", "deep.json, line 1: invalid JSON: RecursionError"),
    ("convert_checkpoint", "{missing} {dir}/x.pt --preset ntu60", "cannot read"),
    ("convert_checkpoint", "{truncated.pt} {dir}/x.pt --preset ntu60", "not a readable"),
    ("convert_checkpoint", "{checkpoint} {dir}/x.pt --preset ntu60", "expected a state_dict"),
    ("convert_checkpoint", "{checkpoint} {dir}/x.pt --preset nope", "invalid choice: 'nope'"),
    (
        "convert_checkpoint",
        "{weights} {missing}/x.pt --preset nw-ucla-small --to-authors",
        "cannot write",
    ),  # fmt: skip
    ("convert_checkpoint", "{weights} {dir}/x.pt --preset ntu60 --to-authors", "size mismatch"),
]


@pytest.mark.parametrize(("command", "args", "match"), ARGUMENTS)
def test_hostile_arguments_end_in_one_line_and_status_2(
    command, args, match, files, tmp_path_factory, monkeypatch, capsys
):
    if "{weights}" in args:  # a complete skelgraph state_dict of the small preset
        files = {**files, "weights": str(tmp_path_factory.mktemp("w") / "w.pt")}
        torch.save(
            convert_checkpoint.MSG3DNet.from_preset("nw-ucla-small").state_dict(),
            files["weights"],
        )
    nucla = ROOT.parent / "shared" / "fixtures" / "nw-ucla" / "all_sqe" / "a04_s01_e00_v03.json"
    values = {**files, "nucla": str(nucla)}
    argv = [_fill(a, values) for a in args.split()]
    if command in ("predict", "stream") and "--checkpoint" not in argv:
        argv = ["--checkpoint", files["checkpoint"], *argv]
    assert match in refuse(command, argv, monkeypatch, capsys)


def _spoil(path, change):
    ckpt = arm_checkpoint()
    change(ckpt)
    torch.save(ckpt, path)
    return path


def _overrides(ckpt):
    return ckpt["model_config"]["overrides"]


CHECKPOINTS = [
    (lambda c: _overrides(c).update(num_persons=10**9),
     "model_config.overrides.num_persons: expected an integer in 1..64, got 1000000000"),
    (lambda c: _overrides(c).update(num_persons=1e9), "got 1000000000.0"),
    (lambda c: _overrides(c).update(windows=[[5000, 1]]),
     "model_config.overrides.windows[0][0]: expected an integer in 1..1024, got 5000"),
    (lambda c: _overrides(c).update(windows=[[500, 1]]),
     "windows[0]: expected window size × 5 joints <= 1024"),
    (lambda c: _overrides(c).update(windows=[[3, 1, 1]]), "windows[0]: expected a pair"),
    (lambda c: _overrides(c).update(channels=[10**6]), "channels[0]: expected an integer in"),
    (lambda c: _overrides(c).update(num_classes=4) or c.update(class_names=None),
     "model.fc.weight: expected shape (4, 24) (from model_config), got (3, 24)"),
    (lambda c: _overrides(c).update(graph="/etc/passwd.json"), "a path inside a checkpoint"),
    (lambda c: _overrides(c).update(graph={"edges": [[0, 10**8]]}), "at most 1024 joints"),
    (lambda c: _overrides(c).update(graph={"edges": [[0, 1]], "num_nodes": 10**8}),
     "at most 1024 joints, got 100000000"),
    (lambda c: _overrides(c).update(aggregation="mean"), "aggregation: expected one of"),
    (lambda c: _overrides(c).update(evil=1), "unknown fields ['evil']"),
    (lambda c: c["model_config"].update(preset="huge"), "model_config.preset: expected one of"),
    (lambda c: c.update(model_config=[1]), "model_config: expected a mapping"),
    (lambda c: c["pipeline"].update(layout="../../layout.json"), "pipeline.layout: expected a"),
    (lambda c: c["pipeline"].update(frames=10**9), "pipeline.frames: expected an integer in"),
    (lambda c: c["pipeline"].update(dims=2.0), "pipeline.dims: expected one of [2, 3], got 2.0"),
    (lambda c: c["pipeline"].update(num_persons=2), "pipeline.num_persons: expected the model's"),
    (lambda c: c["pipeline"].update(layout="kinect-v1-20"), "pipeline.layout: expected the"),
    (lambda c: c["pipeline"].update(hook="os.system"), "pipeline: unknown fields ['hook']"),
    (lambda c: c["pipeline"].update(sampling=None), "pipeline.sampling: expected one of"),
    (lambda c: c.update(class_names=["one"]), "class_names: expected a list of 3 names"),
    (lambda c: c.update(class_names=["a", "b", 3]), "class_names[2]: expected a string"),
    (lambda c: c.update(class_names=["a", "b", "c" * 5000]), "at most 1000 characters"),
    (lambda c: c["model"].pop("fc.bias"), "missing ['fc.bias']"),
    (lambda c: c["model"].update(extra=torch.zeros(1)), "unexpected ['extra']"),
    (lambda c: c.update(model={"fc.weight": [1.0]}), "model: expected a state_dict"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("command", "change", "match"),
    [("predict", *case) for case in CHECKPOINTS] + [("stream", *CHECKPOINTS[i]) for i in (0, 2, 7)],
)
def test_a_checkpoint_is_checked_before_anything_is_built(
    command, change, match, files, tmp_path, monkeypatch, capsys
):
    path = _spoil(tmp_path / "hand-made.pt", change)
    line = refuse(command, ["--checkpoint", path, files["pickle"]], monkeypatch, capsys)
    assert f"{path}: " in line and match in line


def test_stream_sample_matches_the_frame_dir_exactly(files, capsys):
    """Samples ``a:b`` (first) and ``b``: ``--sample b`` streams ``b``, not ``a:b``."""
    base = ["--checkpoint", files["checkpoint"], files["pickle"]]
    for name in ("b", "a:b"):
        assert stream.main([*base, "--sample", name]) == 0
        assert capsys.readouterr().out.startswith(f"{files['pickle']}:{name}: ")


def test_fuse_json_is_strict_json(files, capsys):
    assert fuse.main([files["joint"], files["bone"], "--weights", "2", "1", "--json"]) == 0

    def refuse_constant(name):
        raise AssertionError(f"{name} is not JSON")

    result = json.loads(capsys.readouterr().out, parse_constant=refuse_constant)
    assert result["count"] == 4 and result["weights"] == [2.0, 1.0]


def test_a_score_file_over_the_budget_is_refused_before_it_is_read(files, monkeypatch, capsys):
    monkeypatch.setattr(fuse, "MAX_BYTES", 100)  # the logits array alone is 164 bytes
    assert "over the budget of 100 bytes" in refuse("fuse", [files["joint"]], monkeypatch, capsys)


AS_PROGRAMS = [
    ("predict", ["--checkpoint", "{checkpoint}", "--num-clips", "0", "{pickle}"]),
    ("stream", ["--checkpoint", "{truncated.pt}", "{pickle}"]),
    ("fuse", ["{notzip.npz}"]),
    ("convert_checkpoint", ["{empty}", "{dir}/x.pt", "--preset", "ntu60"]),
]


@pytest.mark.parametrize(("command", "args"), AS_PROGRAMS)
def test_the_main_block_keeps_the_contract(command, args, files, monkeypatch, capsys):
    """Each module run as ``__main__`` (what ``python -m`` does) exits with status 2."""
    monkeypatch.setattr(sys, "argv", [f"{command}.py", *(_fill(a, files) for a in args)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "found in sys.modules": it is
        with pytest.raises(SystemExit) as stop:
            runpy.run_module(f"examples.msg3d.{command}", run_name="__main__")
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith(f"{command}.py: error: ")


def test_as_a_program(files):
    """``python -m``: no traceback reaches the terminal (one process: torch loads slowly)."""
    command, args = AS_PROGRAMS[0]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", f"examples.msg3d.{command}", *(_fill(a, files) for a in args)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "predict.py: error: argument --num-clips: expected an integer in 1..100, got 0 (see --help)"
    ]
