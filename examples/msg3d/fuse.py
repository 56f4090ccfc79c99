"""Fuse the validation scores of several streams (``val_scores.npz`` of ``train.py``).

Usage::

    python -m examples.msg3d.fuse runs/j/val_scores.npz runs/b/val_scores.npz \\
        runs/jm/val_scores.npz runs/bm/val_scores.npz --weights 2 2 1 1

Each file holds the ``ids``, ``labels`` and ``logits`` of one stream's validation set;
the samples are matched by id (every file must have the same ids and labels), the
streams are fused with :func:`skelgraph.fusion.fuse_streams` (the weighted sum of their
softmax scores; pyskl weighs joint, bone, joint motion, bone motion 2 : 2 : 1 : 1) and
the top-1, top-5 and mean class accuracy of each stream and of the fusion are printed
(:func:`skelgraph.metrics.classification_metrics`).
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from examples.msg3d import cli
from skelgraph.data.readers.arrays import _load_npy  # header checked before allocating
from skelgraph.fusion import fuse_streams

__all__ = ["MAX_BYTES", "fuse_files", "load_scores", "main"]

MAX_BYTES = 1 << 28
"""Bytes of arrays read from one score file (NTU-120's 50,919 × 120 logits are 24 MB)."""


def load_scores(path: str | Path) -> dict[str, Any]:
    """``ids``, ``labels``, ``logits`` (and ``stream``) of a ``val_scores.npz``, checked.

    The file is untrusted: only a regular file is read, each array's declared size is
    checked against :data:`MAX_BYTES` and against the bytes the archive holds before it is
    read, and the arrays must be what ``train.py`` writes: N >= 1 distinct ids, integer
    labels in 0..K-1, finite (N, K) float logits.

    Raises
    ------
    SystemExit
        Anything else (a corrupt, truncated or foreign file included), naming the file.
    """
    try:
        arrays = _read_npz(path, ("ids", "labels", "logits"), optional=("stream",))
        out = _check_scores(arrays)
    except FileNotFoundError:
        raise SystemExit(f"no score file {path}") from None
    except ValueError as error:
        raise SystemExit(f"{path}: not a val_scores.npz of train.py ({error})") from None
    stream = arrays.get("stream")
    named = stream is not None and stream.ndim == 0 and stream.dtype.kind == "U"
    out["stream"] = str(stream) if named else Path(path).parent.name
    return out


def _read_npz(path: str | Path, names: Sequence[str], optional: Sequence[str] = ()) -> dict:
    """The named arrays of an ``.npz``, reading no more than :data:`MAX_BYTES` and
    building nothing from Python objects; every failure is a ``ValueError`` (but a
    missing file)."""
    out: dict[str, np.ndarray] = {}
    budget = MAX_BYTES
    try:
        file = cli.open_regular(path)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise ValueError(error.strerror or str(error)) from None
    with file:
        try:
            with zipfile.ZipFile(file) as archive:
                members = {info.filename: info for info in archive.infolist()}
                for name in (*names, *optional):
                    info = members.get(f"{name}.npy")
                    if info is None:
                        if name in optional:
                            continue
                        raise ValueError(f"no {name!r} array")
                    if info.file_size > budget:
                        raise ValueError(f"over the budget of {MAX_BYTES} bytes of arrays")
                    budget -= info.file_size
                    with archive.open(info) as member:
                        raw = member.read(info.file_size)
                    out[name] = _load_npy(raw, Path(f"{name}.npy"), max_elements=None)
        except ValueError:
            raise
        except Exception as error:  # BadZipFile, EOFError, zlib.error, NotImplementedError, ...
            raise ValueError(f"{type(error).__name__}: {error}") from None
    return out


def _check_scores(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    ids, labels, logits = arrays["ids"], arrays["labels"], arrays["logits"]
    if ids.ndim != 1 or ids.dtype.kind not in "USiu" or len(ids) == 0:
        raise ValueError(f"expected ids, N >= 1 strings or integers, got {ids.dtype} {ids.shape}")
    n = len(ids)
    if labels.shape != (n,) or labels.dtype.kind not in "iu":
        raise ValueError(f"expected {n} integer labels, got {labels.dtype} {labels.shape}")
    if logits.ndim != 2 or logits.shape[0] != n or logits.shape[1] == 0:
        raise ValueError(f"expected logits of shape ({n}, K), got {logits.shape}")
    if logits.dtype.kind != "f" or not np.isfinite(logits).all():
        raise ValueError("logits must be finite floating-point numbers")
    k = logits.shape[1]
    if labels.min() < 0 or labels.max() >= k:
        raise ValueError(f"labels must lie in 0..{k - 1}, got {labels.min()}..{labels.max()}")
    if len(set(ids.tolist())) != n:
        raise ValueError("an id occurs twice")
    return {"ids": ids, "labels": labels.astype(np.int64), "logits": logits}


def fuse_files(
    paths: Sequence[str | Path], weights: Sequence[float] | None = None
) -> dict[str, Any]:
    """Per-stream and fused metrics of several score files (see the module docstring)."""
    from skelgraph.metrics import classification_metrics

    if weights is not None:
        if len(weights) != len(paths):
            raise SystemExit(f"{len(paths)} score files but {len(weights)} weights")
        if not all(math.isfinite(w) and w >= 0 for w in weights) or not any(weights):
            raise SystemExit(f"--weights: expected finite numbers >= 0, not all 0, got {weights}")
    files = [load_scores(p) for p in paths]
    first = files[0]
    first_ids = first["ids"].tolist()
    logits = []
    for path, f in zip(paths, files):
        position = {sid: i for i, sid in enumerate(f["ids"].tolist())}
        if set(position) != set(first_ids):
            raise SystemExit(
                f"{path} scores other samples than {paths[0]} "
                f"({len(position)} vs {len(first_ids)} ids)"
            )
        perm = np.array([position[sid] for sid in first_ids], dtype=np.int64)
        if not np.array_equal(f["labels"][perm], first["labels"]):
            raise SystemExit(f"{path} has other labels than {paths[0]} for the same samples")
        if f["logits"].shape[1] != first["logits"].shape[1]:
            raise SystemExit(f"{path} has another class count than {paths[0]}")
        logits.append(torch.from_numpy(f["logits"][perm]))
    labels = torch.from_numpy(first["labels"])
    k = first["logits"].shape[1]
    try:
        rows = [
            {
                "file": str(path),
                "stream": f["stream"],
                **_summary(classification_metrics(z, labels, k)),
            }
            for path, f, z in zip(paths, files, logits)
        ]
        fused = _summary(classification_metrics(fuse_streams(logits, weights), labels, k))
    except ValueError as error:  # what the library refuses (non-finite scores, say)
        raise SystemExit(f"cannot fuse {', '.join(map(str, paths))}: {error}") from None
    return {
        "streams": rows,
        "weights": list(weights) if weights is not None else [1.0] * len(paths),
        "fused": fused,
        "count": len(labels),
    }


def _summary(m: dict[str, Any]) -> dict[str, float]:
    return {key: m[key] for key in ("top1", "top5", "mean_class_accuracy")}


def build_parser() -> cli.Parser:
    p = cli.Parser(description="Fuse the val_scores.npz of several streams.")
    p.add_argument(
        "scores", nargs="+", metavar="SCORES.npz",
        help="the val_scores.npz of train.py runs, one per stream, of the same samples",
    )  # fmt: skip
    p.add_argument(
        "--weights", type=cli.bounded_float(0), nargs="+",
        help="one per file, finite, >= 0, not all 0 (default: all 1)",
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    args = build_parser().parse_args(argv)
    result = fuse_files(args.scores, args.weights)
    if args.json:
        print(json.dumps(result, allow_nan=False))  # strict JSON: NaN was ruled out above
        return 0
    print(f"{result['count']} validation samples")
    for row, w in zip(result["streams"], result["weights"]):
        print(
            f"  {row['stream']:<12} weight {w:g}: top-1 {100 * row['top1']:.2f} %  "
            f"top-5 {100 * row['top5']:.2f} %  ({row['file']})"
        )
    fused = result["fused"]
    print(f"fused: top-1 {100 * fused['top1']:.2f} %  top-5 {100 * fused['top5']:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
