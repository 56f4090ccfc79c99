"""Convert MS-G3D checkpoints between the authors' code and skelgraph's MSG3DNet.

The authors' ``Model`` (kenziyuliu/MS-G3D, ``model/msg3d.py``) names its parts
``gcn3d1``, ``sgcn1``, ``tcn1``, ... ; ours are ``blocks.0.g3d``, ``blocks.0.factorized``,
``blocks.0.tcn``, ... . Layer-level key rules live in :mod:`skelgraph.nn.authors`; this
module maps the model's structure onto them.

Usage::

    python -m examples.msg3d.convert_checkpoint their.pt ours.pt --preset ntu60
    python -m examples.msg3d.convert_checkpoint ours.pt their.pt --preset ntu60 --to-authors
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from examples.msg3d import cli
from examples.msg3d.checkpoint import read_checkpoint_file
from examples.msg3d.model import PRESETS, MSG3DNet
from skelgraph.nn import authors

__all__ = ["from_authors", "load_authors_checkpoint", "read_state_dict", "to_authors"]

IDENTITY = (("", ""),)


def _parts(model: MSG3DNet) -> list[tuple[str, str, nn.Module, authors.Rules]]:
    """(their prefix, our prefix, our module, key rules) for every mapped part."""
    parts: list[tuple[str, str, nn.Module, authors.Rules]] = [
        ("data_bn.", "data_bn.", model.data_bn, IDENTITY)
    ]
    for b, block in enumerate(model.blocks, start=1):
        ours = f"blocks.{b - 1}."
        for p, pathway in enumerate(block.g3d.pathways):
            parts.append(
                (f"gcn3d{b}.gcn3d.{p}.", f"{ours}g3d.pathways.{p}.", pathway, authors.G3D_KEYS)
            )
        gcn, tcn_a, tcn_b = block.factorized
        parts.append((f"sgcn{b}.0.", f"{ours}factorized.0.", gcn, authors.MSGCN_KEYS))
        parts.append((f"sgcn{b}.1.", f"{ours}factorized.1.", tcn_a, authors.MSTCN_KEYS))
        parts.append((f"sgcn{b}.2.", f"{ours}factorized.2.", tcn_b, authors.MSTCN_KEYS))
        parts.append((f"tcn{b}.", f"{ours}tcn.", block.tcn, authors.MSTCN_KEYS))
    parts.append(("fc.", "fc.", model.fc, IDENTITY))
    return parts


def _strip(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` prefix that DataParallel/DDP checkpoints carry."""
    if state_dict and all(k.startswith("module.") for k in state_dict):
        return {k[len("module.") :]: v for k, v in state_dict.items()}
    return dict(state_dict)


def from_authors(
    state_dict: Mapping[str, torch.Tensor], model: MSG3DNet
) -> dict[str, torch.Tensor]:
    """The authors' ``Model.state_dict()`` converted for ``model`` (an :class:`MSG3DNet`).

    Raises
    ------
    KeyError
        Keys of the checkpoint that no part of ``model`` takes, or parts left without
        weights (e.g. a checkpoint with other windows), all listed.
    ValueError
        A shape that does not fit ``model`` (another layout, width or scale count).
    """
    theirs = _strip(state_dict)
    out: dict[str, torch.Tensor] = {}
    unmapped: list[str] = []
    missing: list[str] = []
    for their_prefix, our_prefix, module, rules in _parts(model):
        sub = {
            k[len(their_prefix) :]: theirs.pop(k)
            for k in list(theirs)
            if k.startswith(their_prefix)
        }
        try:
            converted = authors.from_authors(sub, rules, module)
        except authors.KeyMismatch as error:
            unmapped += [their_prefix + k for k in error.unmapped]
            missing += [our_prefix + k for k in error.missing]
            continue
        except ValueError as error:
            raise ValueError(f"{their_prefix}*: {error}") from None
        out.update({our_prefix + k: v for k, v in converted.items()})
    unmapped += sorted(theirs)
    if unmapped or missing:
        raise KeyError(
            f"checkpoint does not fit the model: keys the model does not take: {unmapped}; "
            f"model keys the checkpoint lacks: {missing}"
        )
    return out


def to_authors(state_dict: Mapping[str, torch.Tensor], model: MSG3DNet) -> dict[str, torch.Tensor]:
    """``model``'s ``state_dict`` (an :class:`MSG3DNet`) in the authors' names and shapes."""
    ours = dict(state_dict)
    out: dict[str, torch.Tensor] = {}
    for their_prefix, our_prefix, _, rules in _parts(model):
        sub = {k[len(our_prefix) :]: ours.pop(k) for k in list(ours) if k.startswith(our_prefix)}
        out.update({their_prefix + k: v for k, v in authors.to_authors(sub, rules).items()})
    if ours:
        raise KeyError(f"keys no authors' part takes: {sorted(ours)}")
    return out


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` in a checkpoint file (or under its ``"state_dict"`` key).

    Read with :func:`~examples.msg3d.checkpoint.read_checkpoint_file`
    (``torch.load(..., weights_only=True)``), never arbitrary objects. An empty,
    truncated or foreign file, or one that holds something else than a mapping of names
    to tensors, is a ``ValueError`` naming the path.
    """
    checkpoint = read_checkpoint_file(path)
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
    model.load_state_dict(from_authors(read_state_dict(path), model))
    return model


def main(argv: list[str] | None = None) -> None:
    parser = cli.Parser(
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
        converted = to_authors(state, model) if args.to_authors else from_authors(state, model)
        # A complete checkpoint of the preset: every weight present and of its shape.
        model.load_state_dict(state if args.to_authors else converted)
    except OSError as error:
        raise SystemExit(f"cannot read {args.input}: {error.strerror or error}") from None
    except (KeyError, ValueError, RuntimeError) as error:
        raise SystemExit(error.args[0] if isinstance(error, KeyError) else str(error)) from None
    try:
        torch.save(converted, args.output)
    except (OSError, RuntimeError) as error:
        raise SystemExit(f"cannot write {args.output}: {error}") from None
    print(f"wrote {len(converted)} tensors to {args.output}")


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
