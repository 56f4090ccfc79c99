"""benchmarks/streaming.py runs end to end in its quick mode and writes its tables."""

from __future__ import annotations

import json

import pytest

from benchmarks import streaming as script
from tests.benchmarks.usage import assert_refused_integer


def test_streaming_quick_writes_ratios(tmp_path):
    script.main(["--quick", "--threads", "1", "--out", str(tmp_path)])
    (result,) = json.loads((tmp_path / "streaming-quick.json").read_text())
    assert result["preset"] == "nw-ucla-small" and result["delay"] == 72
    assert result["rerun_s"] > 0 and result["frame_s"] > 0 and result["predictions_per_s"] > 0
    # a frame costs less than the clip (T = 16 frames here: about T times less, plus pooling)
    assert 0 < result["frame_macs"] < result["rerun_macs"] / 4
    assert result["emit_frame_macs"] >= result["frame_macs"] > 0
    assert result["state_bytes"] > 0
    assert (
        result["chunk_s"] > 0
        and len(result["times"]["chunk_s"]) == result["repeats"] * result["cycles"]
    )
    assert result["chunk_predictions_per_s"] == 1 / result["chunk_s"]
    table = (tmp_path / "streaming-quick.md").read_text()
    assert "stream, frame by frame" in table and "rerun clip, skelgraph" in table
    assert "stream, 4-frame chunks" in table
    assert "× fewer" in table and "threads" in table


@pytest.mark.parametrize(
    "option, value",
    [("--frames", "3"), ("--frames", "1000000"), ("--repeats", "0"), ("--cycles", "-1"),
     ("--threads", "0"), ("--cycles", "nan")],
)  # fmt: skip
def test_out_of_range_numbers_are_refused_by_name(option, value, capsys):
    assert_refused_integer(script.main, option, value, capsys)


def test_threads_take_train_pys_range(capsys):
    assert_refused_integer(
        script.main, "--threads", "5000", capsys, "expected an integer in 1..4096"
    )


def test_the_shortest_window_runs(tmp_path):
    script.main(["--presets", "nw-ucla-small", "--frames", "4", "--repeats", "1", "--cycles", "1",
                 "--threads", "1", "--out", str(tmp_path)])  # fmt: skip
    (result,) = json.loads((tmp_path / "streaming.json").read_text())
    assert result["frames"] == 4 and result["chunk_predictions_per_s"] > 0


def test_causal_is_measured_beside_the_symmetric_model(tmp_path):
    """--causal: each preset twice, the causal model without delay and with the same
    multiply-adds per 4-frame cycle (the windows moved, not changed; the strided layers'
    phases differ, so the emitting frame's share may), and the ratio table."""
    script.main(["--quick", "--causal", "--threads", "1", "--out", str(tmp_path)])
    symmetric, causal = json.loads((tmp_path / "streaming-causal-quick.json").read_text())
    assert (symmetric["causal"], symmetric["delay"]) == (False, 72)
    assert (causal["causal"], causal["delay"]) == (True, 0)
    assert causal["frame_macs"] == symmetric["frame_macs"]
    table = (tmp_path / "streaming-causal-quick.md").read_text()
    assert "| nw-ucla-small, causal (T = 16) | stream, frame by frame |" in table
    assert "| nw-ucla-small | ratio | 1.00× |" in table
