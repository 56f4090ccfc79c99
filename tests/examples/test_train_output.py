"""What train.py prints: heartbeat lines with the time left when the output is not a
terminal, bars on a terminal, ``--no-progress`` (per-epoch lines and the summary only)
and ``--quiet`` (nothing)."""

from __future__ import annotations

import re
import sys

import pytest

from examples.msg3d import logs
from examples.msg3d import train as train_script
from tests.examples.test_train import _arrays

pytest.importorskip("matplotlib", reason="the plot extra is not installed")

# 16 items, batches of 8: two training batches and one test batch an epoch.
TINY = ["--frames", "8", "--batch-size", "8", "--test-batch-size", "16", "--epochs", "2"]
EPOCH_LINE = re.compile(r"^epoch \d/2 lr .* top-5 .*\(\d+ s\)$", re.M)
HEARTBEAT = re.compile(
    r"^epoch 1/2: batch 1/2 \(50 %\), \d+ s, ETA \d+ s; loss=\S+, acc=\S+$",
    re.M,
)
SUMMARY = re.compile(r"^final epoch \d+: test top-1 .*; outputs in ", re.M)


def _run(tmp_path, capsys, monkeypatch, *options: str, tty: bool = False) -> tuple[str, str]:
    capsys.readouterr()
    args = [*_arrays(tmp_path), *TINY, "--threads", "1", "--out", str(tmp_path / "run")]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)  # capsys's stream
    assert train_script.main([*args, "--overwrite", *options]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_off_a_terminal_training_prints_heartbeats_epoch_lines_and_a_summary(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(logs, "HEARTBEAT_SECONDS", 0.0)  # a line after every batch
    out, err = _run(tmp_path, capsys, monkeypatch)
    assert len(EPOCH_LINE.findall(out)) == 2 and SUMMARY.search(out), out
    assert HEARTBEAT.search(err), err
    assert re.search(r"^training: epoch 1/2 \(50 %\), \d+ s, ETA \d+ s; top1=", err, re.M), err
    # None after a loop's last item: the epoch line reports it.
    assert "batch 2/2" not in err and "epoch 2/2 (100 %)" not in err, err


def test_no_progress_keeps_the_epoch_lines_and_the_summary(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(logs, "HEARTBEAT_SECONDS", 0.0)
    out, err = _run(tmp_path, capsys, monkeypatch, "--no-progress")
    assert len(EPOCH_LINE.findall(out)) == 2 and SUMMARY.search(out), out
    assert "ETA" not in err, err
    out, err = _run(tmp_path, capsys, monkeypatch, "--no-progress", tty=True)
    assert len(EPOCH_LINE.findall(out)) == 2 and SUMMARY.search(out), out
    assert "%|" not in err, err  # no tqdm bar


def test_bars_on_a_terminal_replace_the_epoch_lines(tmp_path, capsys, monkeypatch):
    pytest.importorskip("tqdm")
    out, err = _run(tmp_path, capsys, monkeypatch, tty=True)
    assert not EPOCH_LINE.search(out) and SUMMARY.search(out), out
    assert "%|" in err, err


def test_quiet_prints_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(logs, "HEARTBEAT_SECONDS", 0.0)
    assert _run(tmp_path, capsys, monkeypatch, "--quiet") == ("", "")
    assert (tmp_path / "run" / "metrics.json").is_file()


def test_heartbeat_lines_are_spaced_and_give_the_time_left(capsys):
    ticks = iter(range(0, 1000, 10))  # each call of the clock: 10 s later
    beat = logs.Heartbeat(range(3, 10), desc="training", initial=3, total=10, unit="epoch",
                          interval=25, clock=lambda: next(ticks))  # fmt: skip
    beat.set_postfix(top1="0.500")
    assert list(beat) == list(range(3, 10))
    # Start at 0 s; items end at 10, 20, ... s; lines once 25 s have passed since the last.
    assert capsys.readouterr().err.splitlines() == [
        "training: epoch 6/10 (60 %), 30 s, ETA 40 s; top1=0.500",
        "training: epoch 9/10 (90 %), 60 s, ETA 10 s; top1=0.500",
    ]


def test_durations_read_as_a_person_would_say_them():
    assert [logs.duration(s) for s in (0.4, 60, 61, 3599, 3600, 7380)] == [
        "0 s", "60 s", "1 min 1 s", "59 min 59 s", "1 h 0 min", "2 h 3 min"
    ]  # fmt: skip
