"""benchmarks/streaming.py runs end to end in its quick mode and writes its tables."""

from __future__ import annotations

import json

from benchmarks import streaming as script


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
