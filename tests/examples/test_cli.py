"""examples/msg3d/cli.py: the argument types every command shares, bounded reads, and the
error contract of the commands' entry points."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.figures import RESULTS
from examples.msg3d import cli


@given(st.integers(-(10**12), 10**12), st.integers(-50, 50), st.integers(0, 100))
def test_bounded_int_takes_exactly_its_range(value, lo, span):
    parse = cli.bounded_int(lo, lo + span)
    if lo <= value <= lo + span:
        assert parse(str(value)) == value
    else:
        with pytest.raises(argparse.ArgumentTypeError, match=rf"in {lo}\.\.{lo + span}, got"):
            parse(str(value))


@given(st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([1e-300, 1e300]))
def test_bounded_float_takes_finite_numbers_in_its_range(value):
    parse = cli.bounded_float(0.1, 1e4)
    if math.isfinite(value) and 0.1 <= value <= 1e4:
        assert parse(repr(value)) == value
    else:
        with pytest.raises(argparse.ArgumentTypeError, match=r"a number in 0\.1\.\.10000"):
            parse(repr(value))


@pytest.mark.parametrize("text", ["nan", "-inf", "inf", "NaN", "1e309", "x", ""])
def test_bounded_float_without_upper_bound_still_refuses_non_finite(text):
    with pytest.raises(argparse.ArgumentTypeError, match="a finite number >= 0"):
        cli.bounded_float(0)(text)


def test_a_parser_error_is_one_line(capsys):
    parser = cli.Parser(prog="tool.py")
    parser.add_argument("--n", type=cli.bounded_int(1, 3))
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["--n", "9"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == (
        "tool.py: error: argument --n: expected an integer in 1..3, got 9 (see --help)\n"
    )


def test_read_text_reads_small_files_and_refuses_the_rest(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("walk\nrun\n", encoding="utf-8")
    assert cli.read_text(names, "--class-names") == "walk\nrun\n"
    with pytest.raises(SystemExit, match=r"--class-names: .*names\.txt is over 4 bytes"):
        cli.read_text(names, "--class-names", max_bytes=4)
    with pytest.raises(SystemExit, match="--class-names: /dev/zero: not a regular file"):
        cli.read_text("/dev/zero", "--class-names")
    with pytest.raises(SystemExit, match=r"cannot read .*: Is a directory"):
        cli.read_text(tmp_path, "--class-names")
    with pytest.raises(SystemExit, match=r"cannot read .*: No such file"):
        cli.read_text(tmp_path / "nope", "--class-names")
    (tmp_path / "latin1").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(SystemExit, match="is not UTF-8 text"):
        cli.read_text(tmp_path / "latin1", "--class-names")


def test_read_text_does_not_block_on_a_fifo(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    outcome = []

    def read():
        try:
            cli.read_text(fifo, "--class-names")
        except SystemExit as error:
            outcome.append(str(error))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # unblock the thread before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("read_text blocked on a FIFO")
    assert outcome and outcome[0].endswith("fifo: not a regular file")


@pytest.mark.parametrize(
    ("raised", "status", "err"),
    [
        (SystemExit("bad\n  input"), 2, "prog.py: error: bad input\n"),
        (SystemExit(3), 3, ""),
        (SystemExit(None), 0, ""),
        (KeyboardInterrupt(), 130, ""),
    ],
)
def test_run_turns_refusals_into_one_line_and_status_2(raised, status, err, monkeypatch, capsys):
    def main(argv):
        raise raised

    monkeypatch.setattr(sys, "argv", ["/somewhere/prog.py"])
    assert cli.run(main) == status
    assert capsys.readouterr().err == err


def test_run_lets_programming_errors_through():
    with pytest.raises(ZeroDivisionError):
        cli.run(lambda argv: 1 / 0)


def machine(monkeypatch, cpus: int, load: float | None, local: str | None = None) -> None:
    """This process sees ``cpus`` CPUs and a 1-minute load average ``load`` (None: none)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    if load is None:
        monkeypatch.delattr(os, "getloadavg")
    else:
        monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    if local is None:
        monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    else:
        monkeypatch.setenv("LOCAL_WORLD_SIZE", local)


@pytest.mark.parametrize(
    ("cpus", "load", "threads"),
    [
        # benchmarks/results/threads.md's machine: quiet, 1 and 2 busy processes
        (2, 0.0, 2), (2, 1.0, 1), (2, 2.0, 1),
        (2, 0.4, 1),  # a partly busy CPU counts as busy: too few threads cost less
        (2, 7.5, 1), (16, 3.2, 12), (1, 0.0, 1),
        (4, None, 4),  # no load average (Windows): every CPU
    ],
)  # fmt: skip
def test_default_threads_are_the_idle_cpus(monkeypatch, cpus, load, threads):
    machine(monkeypatch, cpus, load)
    assert cli.default_threads() == threads


@pytest.mark.parametrize(("local", "threads"), [("4", 3), ("1", 12), ("", 12), ("x", 12)])
def test_default_threads_are_shared_by_torchruns_local_processes(monkeypatch, local, threads):
    machine(monkeypatch, 16, 3.2, local)
    assert cli.default_threads() == threads


@given(st.integers(1, 512), st.floats(0, 1e4), st.integers(1, 64))
def test_default_threads_never_exceed_the_idle_cpus(cpus, load, local):
    with pytest.MonkeyPatch.context() as monkeypatch:
        machine(monkeypatch, cpus, load, str(local))
        threads = cli.default_threads()
    assert 1 <= threads <= max(1, cpus - load)


def test_default_threads_pick_the_faster_setting_of_every_measured_row(monkeypatch):
    """benchmarks/results/threads.md, with its busy processes as the load average: the
    default is the thread count whose run was faster, in every row."""
    cells = json.loads((RESULTS / "threads.json").read_text())["cells"]
    cpus = max(c["threads"] for c in cells)
    for busy in {c["busy"] for c in cells}:
        times = {c["threads"]: c["median_s"] for c in cells if c["busy"] == busy}
        machine(monkeypatch, cpus, float(busy))
        assert cli.default_threads() == min(times, key=times.get), (busy, times)


@pytest.mark.parametrize("given", [None, 2])
def test_train_and_predict_run_on_the_default_threads_unless_told(monkeypatch, tmp_path, given):
    from examples.msg3d import predict, train

    calls: list[int] = []
    monkeypatch.setattr(cli, "default_threads", lambda: 3)
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    option = [] if given is None else ["--threads", str(given)]
    missing = str(tmp_path / "missing")
    with pytest.raises(SystemExit):  # after the threads are set: no such input
        predict.main(["--checkpoint", missing, missing, *option])
    with pytest.raises(SystemExit):
        train.main(["--dataset", "pose-pickle", "--annotations", missing, "--out",
                    str(tmp_path / "run"), "--quiet", *option])  # fmt: skip
    assert calls == [given or 3] * 2
