"""benchmarks/threads.py: its table (the timing itself runs outside the suite)."""

from __future__ import annotations

import pytest

from benchmarks.threads import main, markdown, train_command
from tests.benchmarks.usage import assert_refused_integer


def cell(busy: int, threads: int, median: float) -> dict:
    return {"busy": busy, "threads": threads, "median_s": median, "min_s": median,
            "max_s": median, "runs": [median]}  # fmt: skip


def test_table_gives_the_ratio_of_all_threads_to_one_per_load():
    cells = [cell(0, 1, 6.0), cell(0, 2, 4.0), cell(1, 1, 8.0), cell(1, 2, 16.0)]
    text = markdown(cells, "python -m benchmarks.threads", {"machine": "m", "date": "2026-12-04"})
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert rows[0].endswith("| 0.67 |") and rows[1].endswith("| 2.00 |")
    assert "- machine: m" in text and "- date: 2026-12-04" in text


def test_each_run_trains_with_the_thread_count_asked(tmp_path):
    command = train_command(tmp_path, tmp_path / "out", tmp_path / "cache", 3, 10)
    assert command[command.index("--threads") + 1] == "3"
    assert "--overwrite" in command  # every round reuses one output folder


@pytest.mark.parametrize(
    "option, value",
    [("--rounds", "0"), ("--subset", "-3")],
)  # fmt: skip
def test_out_of_range_numbers_are_refused_by_name(option, value, capsys):
    assert_refused_integer(main, option, value, capsys)
