"""Weight mapping between the MS-G3D authors' modules and skelgraph's layers.

The authors' reference implementation (``kenziyuliu/ms-g3d``) names its parameters
differently and stores the residual masks flattened as (K·V, V). Each mapping below is a
list of ``(their prefix, our prefix)`` rules; :func:`from_authors` and :func:`to_authors`
apply them to one layer's ``state_dict``; :func:`msg3d_parts` maps the authors' whole
``Model`` part by part, and :func:`model_from_authors` and :func:`model_to_authors` apply
that map (the checkpoint converter in ``examples/msg3d`` is their command line).

Only the layouts of the released configurations are covered (no dropout inside the
authors' ``MLP``, which would shift its layer indices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
from torch import nn

__all__ = [
    "G3D_KEYS",
    "IDENTITY_KEYS",
    "MSGCN_KEYS",
    "MSTCN_KEYS",
    "KeyMismatch",
    "Part",
    "from_authors",
    "model_from_authors",
    "model_to_authors",
    "msg3d_parts",
    "strip_module_prefix",
    "to_authors",
]

Rules = Sequence[tuple[str, str]]

MSGCN_KEYS: Rules = (
    ("A_res", "aggregate.mask"),
    ("mlp.layers.0.", "proj."),
    ("mlp.layers.1.", "bn."),
)
"""Authors' ``MS_GCN`` to :class:`~skelgraph.DisentangledGraphConv`."""

G3D_KEYS: Rules = (
    ("gcn3d.1.A_res", "aggregate.mask"),
    ("gcn3d.1.mlp.layers.0.", "proj."),
    ("gcn3d.1.mlp.layers.1.", "bn."),
    ("out_conv.", "collapse."),
    ("out_bn.", "out_bn."),
)
"""Authors' ``MS_G3D`` (one window pathway) to :class:`~skelgraph.G3DConv`."""

MSTCN_KEYS: Rules = (("", ""),)
"""Authors' ``MultiScale_TemporalConv`` to :class:`~skelgraph.MSTemporalConv` (same keys)."""


class KeyMismatch(KeyError):
    """A checkpoint's keys do not fit the layer: ``unmapped`` (theirs, no rule or no
    matching parameter) and ``missing`` (ours, no value) list them.

    Parameters
    ----------
    layer : str
        The name of the layer's class, for the message.
    unmapped : list of str
        The authors' keys that no rule maps to a key of the layer; kept as ``unmapped``.
    missing : list of str
        The layer's keys that received no value; kept as ``missing``.
    """

    def __init__(self, layer: str, unmapped: list[str], missing: list[str]) -> None:
        self.unmapped, self.missing = unmapped, missing
        super().__init__(f"unmapped authors' keys: {unmapped}; missing {layer} keys: {missing}")


def _rename(key: str, rules: Rules, source: int) -> str | None:
    for rule in rules:
        if key.startswith(rule[source]):
            return rule[1 - source] + key[len(rule[source]) :]
    return None


def from_authors(
    state_dict: Mapping[str, torch.Tensor], rules: Rules, module: nn.Module
) -> dict[str, torch.Tensor]:
    """Convert one authors' layer ``state_dict`` into ``module``'s key names and shapes.

    Parameters
    ----------
    state_dict : Mapping of str to Tensor
        The authors' layer, its keys relative to that layer.
    rules : sequence of (str, str)
        ``(their prefix, our prefix)`` pairs, e.g. :data:`G3D_KEYS`; the first rule whose
        prefix starts a key renames it.
    module : nn.Module
        The skelgraph layer whose ``state_dict`` keys and shapes the result takes.

    Raises
    ------
    KeyMismatch
        Keys that no rule maps, or keys of ``module`` left without a value, all listed.
    ValueError
        A value that is not a tensor, or whose shape is not the authors' shape of
        ``module``'s parameter (e.g. another layout, or a transposed weight).
    """
    target = module.state_dict()
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state_dict.items():
        ours = _rename(key, rules, 0)
        if ours is None or ours not in target:
            unknown.append(key)
            continue
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{key!r} holds a {type(value).__name__}, not a tensor")
        expected = target[ours].shape
        theirs = _authors_shape(ours, expected)
        if tuple(value.shape) != theirs:  # every dimension, not only the element count
            raise ValueError(
                f"{key!r} has shape {tuple(value.shape)} but {type(module).__name__}.{ours} "
                f"expects {theirs} (another layout, width or number of scales?)"
            )
        out[ours] = value.reshape(expected)
    missing = sorted(set(target) - set(out))
    if unknown or missing:
        raise KeyMismatch(type(module).__name__, unknown, missing)
    return out


def _authors_shape(key: str, shape: torch.Size) -> tuple[int, ...]:
    """The authors' shape of our parameter ``key``: each (K, V, V) residual mask is kept
    flattened as (K·V, V); everything else has the same shape."""
    if key.endswith("aggregate.mask"):
        return (shape[0] * shape[1], *shape[2:])
    return tuple(shape)


def to_authors(state_dict: Mapping[str, torch.Tensor], rules: Rules) -> dict[str, torch.Tensor]:
    """Convert one skelgraph layer ``state_dict`` into the authors' names and shapes.

    Parameters
    ----------
    state_dict : Mapping of str to Tensor
        A skelgraph layer's ``state_dict``.
    rules : sequence of (str, str)
        ``(their prefix, our prefix)`` pairs, e.g. :data:`G3D_KEYS`; the first rule whose
        prefix starts a key renames it.

    Raises
    ------
    KeyError
        A key that no rule maps.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        theirs = _rename(key, rules, 1)
        if theirs is None:
            raise KeyError(f"no rule maps {key!r} to the authors' names")
        out[theirs] = value.reshape(_authors_shape(key, value.shape))
    return out


IDENTITY_KEYS: Rules = (("", ""),)
"""The same names and shapes (the input batch norm, the classifier)."""


class Part(NamedTuple):
    """One mapped part of a model.

    Parameters
    ----------
    theirs : str
        The prefix of the part's keys in the authors' checkpoint, e.g. ``"sgcn1.0."``.
    ours : str
        The prefix of its keys in our model, e.g. ``"blocks.0.factorized.0."``.
    module : nn.Module
        Our layer of that part (its keys and shapes are the target).
    rules : sequence of (str, str)
        The layer's key rules, e.g. :data:`MSGCN_KEYS`.
    """

    theirs: str
    ours: str
    module: nn.Module
    rules: Rules


def msg3d_parts(model: nn.Module) -> list[Part]:
    """The authors' ``Model`` (``model/msg3d.py``) mapped onto a model laid out like it.

    ``model`` has ``data_bn``, ``blocks`` (each with ``g3d.pathways``, a
    ``factorized`` (graph conv, temporal conv, temporal conv) and ``tcn``) and ``fc``, as
    the reference ``MSG3DNet`` of ``examples/msg3d`` has. The authors name the parts
    ``gcn3d{b}.gcn3d.{p}``, ``sgcn{b}.{0,1,2}`` and ``tcn{b}``, counting blocks from 1.

    Parameters
    ----------
    model : nn.Module
        The model laid out as above.
    """
    parts = [Part("data_bn.", "data_bn.", model.data_bn, IDENTITY_KEYS)]
    for b, block in enumerate(model.blocks, start=1):
        ours = f"blocks.{b - 1}."
        for p, pathway in enumerate(block.g3d.pathways):
            parts.append(
                Part(f"gcn3d{b}.gcn3d.{p}.", f"{ours}g3d.pathways.{p}.", pathway, G3D_KEYS)
            )
        gcn, tcn_a, tcn_b = block.factorized
        parts.append(Part(f"sgcn{b}.0.", f"{ours}factorized.0.", gcn, MSGCN_KEYS))
        parts.append(Part(f"sgcn{b}.1.", f"{ours}factorized.1.", tcn_a, MSTCN_KEYS))
        parts.append(Part(f"sgcn{b}.2.", f"{ours}factorized.2.", tcn_b, MSTCN_KEYS))
        parts.append(Part(f"tcn{b}.", f"{ours}tcn.", block.tcn, MSTCN_KEYS))
    parts.append(Part("fc.", "fc.", model.fc, IDENTITY_KEYS))
    return parts


def strip_module_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state_dict`` without the ``module.`` prefix that DataParallel/DDP checkpoints carry.

    Parameters
    ----------
    state_dict : Mapping of str to Tensor
        A checkpoint's weights; returned as a new dict, unchanged if not every key has
        the prefix.
    """
    if state_dict and all(k.startswith("module.") for k in state_dict):
        return {k[len("module.") :]: v for k, v in state_dict.items()}
    return dict(state_dict)


def _pop_prefixed(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of ``state`` under ``prefix``, removed from it, with the prefix cut."""
    return {k[len(prefix) :]: state.pop(k) for k in list(state) if k.startswith(prefix)}


def model_from_authors(
    state_dict: Mapping[str, torch.Tensor], model: nn.Module
) -> dict[str, torch.Tensor]:
    """The authors' ``Model.state_dict()`` converted for ``model`` (:func:`msg3d_parts`).

    Parameters
    ----------
    state_dict : Mapping of str to Tensor
        The authors' whole model (a ``module.`` prefix of DataParallel is dropped).
    model : nn.Module
        The model laid out as :func:`msg3d_parts` describes, e.g. ``MSG3DNet``.

    Raises
    ------
    KeyError
        Keys of the checkpoint that no part of ``model`` takes, or parts left without
        weights (e.g. a checkpoint with other windows), all listed.
    ValueError
        A shape that does not fit ``model`` (another layout, width or scale count).
    """
    theirs = strip_module_prefix(state_dict)
    out: dict[str, torch.Tensor] = {}
    unmapped: list[str] = []
    missing: list[str] = []
    for part in msg3d_parts(model):
        sub = _pop_prefixed(theirs, part.theirs)
        try:
            converted = from_authors(sub, part.rules, part.module)
        except KeyMismatch as error:
            unmapped += [part.theirs + k for k in error.unmapped]
            missing += [part.ours + k for k in error.missing]
            continue
        except ValueError as error:
            raise ValueError(f"{part.theirs}*: {error}") from None
        out.update({part.ours + k: v for k, v in converted.items()})
    unmapped += sorted(theirs)
    if unmapped or missing:
        raise KeyError(
            f"checkpoint does not fit the model: keys the model does not take: {unmapped}; "
            f"model keys the checkpoint lacks: {missing}"
        )
    return out


def model_to_authors(
    state_dict: Mapping[str, torch.Tensor], model: nn.Module
) -> dict[str, torch.Tensor]:
    """``model``'s ``state_dict`` in the authors' names and shapes (:func:`msg3d_parts`).

    Parameters
    ----------
    state_dict : Mapping of str to Tensor
        ``model``'s ``state_dict``.
    model : nn.Module
        The model laid out as :func:`msg3d_parts` describes, e.g. ``MSG3DNet``.

    Raises
    ------
    KeyError
        Keys that no part of the authors' model takes.
    """
    ours = dict(state_dict)
    out: dict[str, torch.Tensor] = {}
    for part in msg3d_parts(model):
        sub = _pop_prefixed(ours, part.ours)
        out.update({part.theirs + k: v for k, v in to_authors(sub, part.rules).items()})
    if ours:
        raise KeyError(f"keys no authors' part takes: {sorted(ours)}")
    return out
