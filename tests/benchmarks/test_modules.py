"""benchmarks/modules.py: the interleaved module timings run on tiny shapes, and bad
arguments exit 2."""

from __future__ import annotations

import json

import pytest

from benchmarks import modules as script
from tests.benchmarks.usage import assert_refused_integer


def test_ms_tcn_rows_for_every_cell_and_implementation(capsys):
    args = ["--widths", "6,6,1", "3,6,2", "--batch", "1", "--frames", "5", "--repeats", "1"]
    args += ["--gemm-size", "32"]  # the tiny cells' peak: a bf16 one emulated on AVX2
    script.main([*args, "--amp", "off", "bf16"])
    lines = capsys.readouterr().out.splitlines()
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    cells = [row for row in rows if row[0] in ("6,6,1", "3,6,2")]
    # 2 widths x 2 phases x 2 autocast settings x (fast, reference)
    assert len(cells) == 16
    assert {row[4] for row in cells} == {"fast", "reference"}
    # Without the authors' clone, the baseline is skelgraph's reference path.
    assert all(row[7] == "1.00" for row in cells if row[4] == "reference")


@pytest.mark.parametrize("width", ["6,6", "6,x,1", "0,6,1"])
def test_bad_widths_exit_2_with_one_line(width, capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--widths", width])
    assert exit_info.value.code == 2
    assert f"expected IN,OUT,STRIDE positive integers, got {width!r}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "option, value",
    [("--batch", "0"), ("--frames", "-5"), ("--repeats", "0"), ("--threads", "99999"),
     ("--gemm-size", "-1"), ("--gemm-size", "99999")],
)  # fmt: skip
def test_out_of_range_numbers_are_refused_by_name(option, value, capsys):
    assert_refused_integer(script.main, option, value, capsys)


def test_out_writes_the_table_and_the_cells(tmp_path, capsys):
    out = tmp_path / "modules-ms-tcn"
    args = ["--widths", "6,6,1", "--batch", "1", "--frames", "5", "--repeats", "2"]
    args += ["--gemm-size", "32"]
    script.main([*args, "--amp", "off", "--phase", "train", "--out", str(out)])
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 6,6,1")]
    text = out.with_suffix(".md").read_text()
    assert "- command: `python -m benchmarks.modules --widths 6,6,1" in text
    assert all(line in text for line in table) and len(table) == 2
    cells = json.loads(out.with_suffix(".json").read_text())
    assert [(c["impl"], len(c["times_s"])) for c in cells] == [("fast", 2), ("reference", 2)]
    assert cells[1]["vs_baseline"] == 1.0


def test_cells_are_held_to_the_gemm_peak_timed_beside_them(tmp_path, capsys):
    """Each cell's GFLOP/s is its counted multiply-adds over its min time, and its fraction
    of the peak is that over the GEMM product timed in its rotation; ``--gemm-size 0``
    measures no peak and says so."""
    out = tmp_path / "limit"
    args = ["--widths", "12,12,1", "--batch", "1", "--frames", "5", "--repeats", "2"]
    args += ["--amp", "off"]
    script.main([*args, "--phase", "infer", "--gemm-size", "64", "--out", str(out)])
    cells = json.loads(out.with_suffix(".json").read_text())
    # 12→12 channels, six branches of 2: per pixel (2 samples × 5 frames × 25 joints) five
    # 12→2 bottlenecks, the 12→2 1×1 branch and four 2→2 convolutions over 3 frames.
    per_pixel = 5 * 12 * 2 + 12 * 2 + 4 * (2 * 2 * 3)
    assert [c["macs"] for c in cells] == [per_pixel * 2 * 5 * 25] * 2  # fast, reference
    for c in cells:
        assert c["gflops"] == pytest.approx(2 * c["macs"] / c["min_s"] / 1e9)
        assert c["of_peak"] == pytest.approx(c["gflops"] / c["peak_gflops"])
        assert c["peak_gflops"] > 0
    assert "against a 64² matrix product" in out.with_suffix(".md").read_text()
    script.main([*args, "--phase", "infer", "--gemm-size", "0", "--out", str(out)])
    assert not any("of_peak" in c for c in json.loads(out.with_suffix(".json").read_text()))
    assert "no GEMM peak measured (--gemm-size 0)" in out.with_suffix(".md").read_text()
    assert capsys.readouterr().out.count("| – |") == 2


def test_malloc_setting_reaches_the_measuring_process(tmp_path):
    """``--malloc tuned`` reruns the script in a process started under glibc's settings,
    and the results say which."""
    out = tmp_path / "tuned"
    args = ["--widths", "3,6,2", "--batch", "1", "--frames", "5", "--repeats", "1"]
    args += ["--gemm-size", "32"]
    with pytest.raises(SystemExit) as exit_info:
        script.main([*args, "--amp", "off", "--phase", "infer", "--malloc", "tuned",
                     "--out", str(out)])  # fmt: skip
    assert exit_info.value.code == 0
    text = out.with_suffix(".md").read_text()
    assert "- glibc malloc: tuned MALLOC_MMAP_MAX_=0" in text
    assert "--child" not in text
    cells = json.loads(out.with_suffix(".json").read_text())
    assert {c["malloc"] for c in cells} == {"tuned"}


def test_bad_malloc_setting_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--malloc", "huge"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err
