"""train.py on hostile and careless input: one line on stderr, exit status 2, no traceback,
and nothing a previous run wrote is lost (issue #22 items 3, 4 and 8)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from examples.msg3d import train as train_script
from examples.msg3d.run_folder import LOCK_NAME
from skelgraph import SkeletonGraph
from skelgraph.data import from_array, write_pose_pickle
from tests.conftest import ROOT
from tests.examples.test_train import TINY, _arrays

pytest.importorskip("matplotlib", reason="the plot extra is not installed")
pytest.importorskip("torchmetrics", reason="the train extra is not installed")


def _refused(capsys, args: list[str]) -> str:
    """Run train.py's main in-process; the one-line refusal it ends with.

    argparse's refusals exit 2 with their line on stderr; the command's own are
    ``SystemExit("message")``, which ``cli.run`` prints as one line with status 2 (checked
    through a real process below).
    """
    with pytest.raises(SystemExit) as refused:
        train_script.main(args)
    code = refused.value.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if code == 2:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("train.py: error: "), err
        return lines[0]
    assert isinstance(code, str) and "\n" not in code, code
    return code


# ------------------------------------------------------------------ item 4: numbers
@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("--persons", "0", "integer in 1..64"),
        ("--persons", "1000000000", "integer in 1..64"),
        ("--persons", "nan", "integer in 1..64"),
        ("--num-classes", "0", "integer in 1..100000"),
        ("--num-classes", "10000000000", "integer in 1..100000"),
        ("--subset", "-3", "integer in 1..1000000000"),
        ("--scale", "nan", "number in 0..1"),
        ("--scale", "2", "number in 0..1"),
        ("--rotate-degrees", "nan", "number in 0..180"),
        ("--rotate-degrees", "inf", "number in 0..180"),
        ("--milestones", "-5", "integer in 1..100000"),
        ("--frames", "0", "integer in 1..10000"),
        ("--frames", "4000000000", "integer in 1..10000"),
        ("--batch-size", "1e9", "integer in 1..65536"),
        ("--seed", "-1", "integer in 0..2147483647"),
        ("--workers", "-1", "integer in 0..1024"),
        ("--momentum", "-0.5", "number in 0..1"),
        ("--weight-decay", "inf", "finite number >= 0"),
        ("--repeat", "0", "integer in 1..1000"),
        ("--repeat", "1e12", "integer in 1..1000"),
        ("--warmup-epochs", "-1", "integer in 0..100000"),
        ("--warmup-epochs", "nan", "integer in 0..100000"),
        ("--min-prefix", "-0.5", "number in 0..1"),
        ("--min-prefix", "1.5", "number in 0..1"),
        ("--min-prefix", "nan", "number in 0..1"),
        ("--whole-clips", "-0.5", "number in 0..1"),
        ("--whole-clips", "1.5", "number in 0..1"),
        ("--whole-clips", "inf", "number in 0..1"),
    ],
)
def test_numbers_out_of_range_are_refused_with_the_range(capsys, tmp_path, option, value, allowed):
    line = _refused(capsys, [option, value, "--out", str(tmp_path / "run")])
    assert f"argument {option}:" in line and allowed in line
    assert not (tmp_path / "run").exists()  # refused before anything was made


def test_a_config_file_is_held_to_the_same_ranges_and_types(capsys, tmp_path):
    config = tmp_path / "c.json"
    for values, expected in [
        ({"persons": 100000}, "--persons must be in [1, 64], got 100000"),
        ({"milestones": [-5]}, "--milestones must be epochs in [1, 100000]"),
        ({"scale": "big"}, "'scale' must be float, got str"),
        ({"epochs": True}, "'epochs' must be int, got bool"),
        ({"model_args": [1]}, "'model_args' must be dict[str, Any] | None, got list"),
        ({"epoch": 3}, "unknown keys ['epoch']"),
        ([1, 2], "expected a JSON object, got list"),
    ]:
        config.write_text(json.dumps(values))
        assert expected in _refused(capsys, ["--config", str(config)])
    config.write_text("{not json")
    assert "not a JSON object of options" in _refused(capsys, ["--config", str(config)])
    line = _refused(capsys, ["--config", str(tmp_path / "missing.json")])
    assert "No such file" in line and "missing.json" in line


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_unbounded_files_are_read_only_up_to_a_bound(capsys, tmp_path):
    assert "/dev/zero: not a regular file" in _refused(capsys, ["--config", "/dev/zero"])
    args = [*_arrays(tmp_path), *TINY, "--class-names", "/dev/zero"]
    line = _refused(capsys, [*args, "--out", str(tmp_path / "run")])
    assert "--class-names" in line and "not a regular file" in line
    big = tmp_path / "big.txt"
    big.write_bytes(b"a\n" * (1 << 20))  # 2 MiB of names: refused after reading 1 MiB
    line = _refused(capsys, [*args[:-1], str(big), "--out", str(tmp_path / "run")])
    assert "--class-names" in line and "over 1048576 bytes" in line


# ------------------------------------------------------------------ item 8: no tracebacks
def test_model_args_must_be_an_object_the_model_takes(capsys, tmp_path):
    line = _refused(capsys, ["--model-args", "[1]"])
    assert "--model-args: expected a JSON object" in line
    args = [*_arrays(tmp_path), *TINY, "--model-args", '{"no_such_argument": 1}']
    line = _refused(capsys, [*args, "--out", str(tmp_path / "run")])
    assert "cannot build MSG3DNet" in line and "no_such_argument" in line


def test_a_symlink_loop_in_the_data_root_is_one_message(capsys, tmp_path):
    folder = tmp_path / "nucla" / "all_sqe"
    folder.mkdir(parents=True)
    for view in (1, 3):  # loops with N-UCLA names: listed by glob, then opened
        loop = folder / f"a01_s01_e01_v0{view}.json"
        loop.symlink_to(loop)
    args = ["--dataset", "nw-ucla", "--data-root", str(tmp_path / "nucla"), "--quiet"]
    line = _refused(capsys, [*args, "--out", str(tmp_path / "run")])
    assert "a01_s01_e01_v0" in line and "symbolic links" in line


def test_3d_data_on_a_layout_without_alignment_joints_names_no_align(capsys, tmp_path):
    layout = {
        "name": "stick",
        "edges": [[0, 1], [1, 2]],
        "center": 0,
        "preprocess": {"center": 0},  # no z_axis / x_axis joints to rotate with
    }
    layout_file = tmp_path / "stick.json"
    layout_file.write_text(json.dumps(layout))
    graph = SkeletonGraph.from_json(layout_file)
    rng = np.random.default_rng(0)
    samples = {
        f"s{i}": from_array(rng.normal(size=(10, 3, 3)), graph, label=i % 2) for i in range(4)
    }
    pkl = tmp_path / "stick.pkl"
    write_pose_pickle(samples, pkl, {"train": ["s0", "s1"], "val": ["s2", "s3"]})
    args = ["--dataset", "pose-pickle", "--annotations", str(pkl), "--layout", str(layout_file)]
    args += ["--train-split", "train", "--val-split", "val", *TINY, "--persons", "1"]
    line = _refused(capsys, [*args, "--out", str(tmp_path / "run")])
    assert "--no-align" in line and "'stick'" in line


def test_the_command_line_prints_no_traceback(tmp_path):
    """The same through a real process: status 2, one line, no traceback."""
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    looped = tmp_path / "nucla" / "all_sqe"  # refused inside the run, printed by cli.run
    looped.mkdir(parents=True)
    for view in (1, 3):
        (looped / f"a01_s01_e01_v0{view}.json").symlink_to(looped / f"a01_s01_e01_v0{view}.json")
    nucla = ["--dataset", "nw-ucla", "--data-root", str(looped.parent), "--quiet"]
    for args in (["--persons", "nan"], ["--model-args", "[1]"], ["--config", str(loop)], nucla):
        done = subprocess.run(
            [sys.executable, "-m", "examples.msg3d.train", *args, "--out", str(tmp_path / "o")],
            capture_output=True, text=True, timeout=120, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr


# ------------------------------------------------------------------ item 3: runs kept
def test_a_folder_holding_a_run_needs_resume_or_overwrite(capsys, tmp_path):
    run = tmp_path / "run"
    args = [*_arrays(tmp_path), *TINY, "--epochs", "1", "--out", str(run)]
    assert train_script.main(args) == 0
    before = (run / "last.pt").read_bytes()
    capsys.readouterr()
    line = _refused(capsys, args)
    assert "holds a run" in line and "--resume" in line and "--overwrite" in line
    assert (run / "last.pt").read_bytes() == before
    assert train_script.main([*args, "--overwrite"]) == 0
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 1
    assert not (run / LOCK_NAME).exists()  # released with the run


def test_a_second_run_on_a_locked_folder_names_the_holder(capsys, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with open(run / LOCK_NAME, "a+b") as lock:  # another run holding the folder
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write(b"process 4242 on elsewhere\n")
        lock.flush()
        line = _refused(capsys, [*_arrays(tmp_path), *TINY, "--out", str(run)])
    assert "in use by process 4242 on elsewhere" in line and LOCK_NAME in line


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (run / LOCK_NAME).write_text(f"process {dead} on this host\n")  # no flock held
    args = [*_arrays(tmp_path), *TINY, "--epochs", "1", "--out", str(run)]
    assert train_script.main(args) == 0
    assert (run / "best.pt").is_file()


def _disk_full(*_, **__):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize(
    ("module", "name", "victim"),
    [
        (torch, "save", "best.pt"),  # the first file written: nothing of the rerun lands
        (np, "savez", "val_scores.npz"),  # after the checkpoints, before the plots
    ],
)
def test_a_full_disk_names_the_file_and_keeps_the_previous_one(
    capsys, monkeypatch, tmp_path, module, name, victim
):
    """A rerun (--overwrite: its first epoch is a new best, so every file is rewritten)
    on a full disk: the message names the file, the first run's files are untouched."""
    run = tmp_path / "run"
    args = [*_arrays(tmp_path), *TINY, "--epochs", "1", "--out", str(run)]
    assert train_script.main(args) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    monkeypatch.setattr(module, name, _disk_full)
    line = _refused(capsys, [*args, "--overwrite"])
    assert f"cannot write {run / victim}" in line and "No space left on device" in line
    kept = ["best.pt", "last.pt", "val_scores.npz"] if victim == "best.pt" else [victim]
    for file in [*kept, "confusion.png", "metrics.json"]:
        assert (run / file).read_bytes() == before[file], file
    assert not list(run.glob("*.tmp"))
