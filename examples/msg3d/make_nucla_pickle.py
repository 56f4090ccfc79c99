"""Write Northwestern-UCLA as one pose pickle with its cross-view splits, for ``train.py``.

Usage::

    python -m examples.msg3d.make_nucla_pickle ../shared/fixtures/nw-ucla nucla.pkl

Every sequence of ``DATA_ROOT/all_sqe/*.json`` (CTR-GCN's JSON form,
:func:`skelgraph.data.read_nucla_json`) becomes one annotation of a pyskl / mmaction2
pickle (:func:`skelgraph.data.write_pose_pickle`, float16 as pyskl writes them unless
``--float32``), under the splits ``xview_train`` (views 1 and 2) and ``xview_val``
(view 3) of :func:`skelgraph.data.nucla_cross_view_split`. Its labels are 0..9; their
names, one a line, are ``examples/msg3d/nucla_classes.txt``. Train on it with::

    python -m examples.msg3d.train --dataset pose-pickle --annotations nucla.pkl \\
        --train-split xview_train --val-split xview_val --layout kinect-v1-20 \\
        --class-names examples/msg3d/nucla_classes.txt
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from examples.msg3d import cli
from skelgraph.data import (
    SkeletonFormatError,
    nucla_cross_view_split,
    read_nucla_json,
    write_pose_pickle,
)

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    p = cli.Parser(
        description="Write N-UCLA (DATA_ROOT/all_sqe/*.json) as a pose pickle with the "
        "cross-view splits xview_train (views 1, 2) and xview_val (view 3)."
    )
    p.add_argument("data_root", metavar="DATA_ROOT", help="the folder holding all_sqe/")
    p.add_argument("out", metavar="OUT", help="the .pkl file to write")
    p.add_argument("--float32", action="store_true", help="keypoints in float32, not float16")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = build_parser()
    args = parser.parse_args(argv)
    files = sorted((Path(args.data_root) / "all_sqe").glob("*.json"))
    if not files:
        parser.error(f"no N-UCLA *.json files in {Path(args.data_root) / 'all_sqe'}")
    try:
        train, val = nucla_cross_view_split(files)
        split = {
            "xview_train": [Path(f).stem for f in train],
            "xview_val": [Path(f).stem for f in val],
        }
        samples = {Path(f).stem: read_nucla_json(f) for f in train + val}
    except (SkeletonFormatError, ValueError) as error:
        raise SystemExit(f"cannot read N-UCLA: {error}") from None
    dtype = np.float32 if args.float32 else np.float16
    try:
        write_pose_pickle(samples, args.out, split, dtype=dtype)
    except OSError as error:
        raise SystemExit(f"cannot write {args.out}: {error}") from None
    print(f"{args.out}: {len(train)} xview_train and {len(val)} xview_val sequences")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
