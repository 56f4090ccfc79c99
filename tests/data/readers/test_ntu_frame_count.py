"""The declared frame count is checked against the lines that follow, before anything is
allocated: a file that declares one frame more than it has lines is refused up front."""

from __future__ import annotations

import pytest

from skelgraph.data import SkeletonFormatError, read_ntu_skeleton


@pytest.mark.parametrize(("declared", "frames"), [(2, 1), (3, 1), (5, 2)])
def test_more_frames_than_lines_is_refused_up_front(tmp_path, declared, frames):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(f"{declared}\n" + "0\n" * frames)  # frames with no body: one line each
    with pytest.raises(
        SkeletonFormatError, match=rf"declares {declared} frames but only {frames} lines follow"
    ):
        read_ntu_skeleton(path)
