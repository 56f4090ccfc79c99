"""Pickles written opcode by opcode: what no honest pickler writes, for the reader's tests.

``encode(tree)`` turns plain values and :class:`Call`, :class:`Global`, :class:`Raw` nodes into a
protocol-3 pickle: a ``Call`` is a global applied to arguments (REDUCE), optionally with a
state (BUILD), exactly as a hostile file may spell it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

MULTIARRAY = "numpy._core.multiarray"


@dataclass(frozen=True)
class Global:
    """A reference to ``module.name`` (GLOBAL), not called."""

    module: str
    name: str


@dataclass(frozen=True)
class Raw:
    """Opcodes written as they are."""

    opcodes: bytes


@dataclass(frozen=True)
class Call:
    """``module.name(*args)`` (REDUCE), then ``__setstate__(state)`` (BUILD) if given."""

    module: str
    name: str
    args: tuple = ()
    state: Any = None


def dtype(spec: str, state: Any = None) -> Call:
    """``numpy.dtype(spec, False, True)`` with NumPy's state for a plain dtype, or ``state``."""
    plain = (3, "<", None, None, None, -1, -1, 0)
    return Call("numpy", "dtype", (spec, False, True), plain if state is None else state)


def array(shape: tuple, dtype_node: Any, data: bytes) -> Call:
    """An array as NumPy pickles one: ``_reconstruct(ndarray, (0,), b"b")`` and its state."""
    return Call(
        MULTIARRAY,
        "_reconstruct",
        (Global("numpy", "ndarray"), (0,), b"b"),
        (1, shape, dtype_node, False, data),
    )


def encode(tree: Any) -> bytes:
    """The pickle (protocol 3) of ``tree``."""
    return b"\x80\x03" + _encode(tree) + b"."


def _encode(node: Any) -> bytes:
    if node is None:
        return b"N"
    if node is True or node is False:
        return b"\x88" if node else b"\x89"
    if isinstance(node, int):
        if -(2**31) <= node < 2**31:
            return b"J" + struct.pack("<i", node)
        raw = node.to_bytes((node.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(raw)]) + raw if len(raw) < 256 else _long4(raw)
    if isinstance(node, float):
        return b"G" + struct.pack(">d", node)
    if isinstance(node, str):
        raw = node.encode("utf-8", "surrogatepass")
        return b"X" + struct.pack("<I", len(raw)) + raw
    if isinstance(node, bytes):
        return b"B" + struct.pack("<I", len(node)) + node
    if isinstance(node, tuple):
        return b"(" + b"".join(map(_encode, node)) + b"t"
    if isinstance(node, list):
        return b"](" + b"".join(map(_encode, node)) + b"e"
    if isinstance(node, dict):
        items = b"".join(_encode(k) + _encode(v) for k, v in node.items())
        return b"}(" + items + b"u"
    if isinstance(node, Raw):
        return node.opcodes
    if isinstance(node, Global):
        return f"c{node.module}\n{node.name}\n".encode()
    if isinstance(node, Call):
        out = _encode(Global(node.module, node.name)) + _encode(tuple(node.args)) + b"R"
        return out if node.state is None else out + _encode(node.state) + b"b"
    raise TypeError(f"cannot encode {type(node).__name__}")


def _long4(raw: bytes) -> bytes:
    return b"\x8b" + struct.pack("<i", len(raw)) + raw
