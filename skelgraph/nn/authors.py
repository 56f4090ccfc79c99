"""Weight mapping between the MS-G3D authors' modules and skelgraph's layers.

The authors' reference implementation (``kenziyuliu/ms-g3d``) names its parameters
differently and stores the residual masks flattened as (K·V, V). Each mapping below is a
list of ``(their prefix, our prefix)`` rules; :func:`from_authors` and :func:`to_authors`
apply them to one layer's ``state_dict``. The MS-G3D checkpoint converter in
``examples/msg3d`` composes these per layer.

Only the layouts of the released configurations are covered (no dropout inside the
authors' ``MLP``, which would shift its layer indices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

__all__ = ["G3D_KEYS", "MSGCN_KEYS", "MSTCN_KEYS", "KeyMismatch", "from_authors", "to_authors"]

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
