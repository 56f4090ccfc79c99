"""Convert MS-G3D checkpoints between the authors' code and skelgraph's MSG3DNet.

The authors' ``Model`` (kenziyuliu/MS-G3D, ``model/msg3d.py``) names its parts
``gcn3d1``, ``sgcn1``, ``tcn1``, ... ; ours are ``blocks.0.g3d``, ``blocks.0.factorized``,
``blocks.0.tcn``, ... . The key maps live in :mod:`skelgraph.nn.authors`
(:func:`~skelgraph.nn.authors.model_from_authors`, :func:`~skelgraph.nn.authors.model_to_authors`);
this module reads and writes the files.

Usage::

    python -m examples.msg3d.convert_checkpoint their.pt ours.pt --preset ntu60
    python -m examples.msg3d.convert_checkpoint ours.pt their.pt --preset ntu60 --to-authors
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

import torch

from examples.msg3d.model import PRESETS, MSG3DNet
from skelgraph.nn.authors import model_from_authors, model_to_authors

__all__ = ["load_authors_checkpoint", "main", "read_state_dict"]


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` in a checkpoint file (or under its ``"state_dict"`` key).

    Read with ``torch.load(..., weights_only=True)``, never arbitrary objects. An empty,
    truncated or foreign file, or one that holds something else than a mapping of names
    to tensors, is a ``ValueError`` naming the path.
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as error:  # EOFError, UnpicklingError, "Unsupported operand", ...
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise ValueError(f"{path}: not a readable PyTorch checkpoint ({reason})") from None
    if isinstance(checkpoint, Mapping) and "state_dict" in checkpoint:
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in checkpoint.items()
    ):
        raise ValueError(
            f"{path}: expected a state_dict (names to tensors), got {type(checkpoint).__name__}"
        )
    return dict(checkpoint)


def load_authors_checkpoint(path: str | Path, model: MSG3DNet) -> MSG3DNet:
    """Load an authors' checkpoint file (:func:`read_state_dict`) into ``model`` and
    return it."""
    model.load_state_dict(model_from_authors(read_state_dict(path), model))
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Convert an MS-G3D checkpoint between the authors' code "
        "(kenziyuliu/MS-G3D, model/msg3d.py) and skelgraph's MSG3DNet. The input is read "
        "with torch.load(weights_only=True); the output is a plain state_dict.",
        epilog="example: convert_checkpoint.py ntu60_xsub_joint.pt ours.pt --preset ntu60",
    )
    parser.add_argument("input", type=Path, help="checkpoint to convert (.pt)")
    parser.add_argument("output", type=Path, help="where to write the converted state_dict")
    parser.add_argument(
        "--preset",
        required=True,
        choices=sorted(PRESETS),
        help="model configuration of the checkpoint",
    )
    parser.add_argument(
        "--to-authors",
        action="store_true",
        help="convert skelgraph -> authors (default: authors -> skelgraph)",
    )
    args = parser.parse_args(argv)
    model = MSG3DNet.from_preset(args.preset)
    try:
        state = read_state_dict(args.input)
        convert = model_to_authors if args.to_authors else model_from_authors
        converted = convert(state, model)
    except (OSError, KeyError, ValueError) as error:
        parser.exit(2, f"error: {error.args[0] if isinstance(error, KeyError) else error}\n")
    if args.to_authors:
        model.load_state_dict(state)  # check it is a complete skelgraph checkpoint
    else:
        model.load_state_dict(converted)
    torch.save(converted, args.output)
    print(f"wrote {len(converted)} tensors to {args.output}")


if __name__ == "__main__":
    main()
