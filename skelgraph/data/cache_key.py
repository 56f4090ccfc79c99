"""What a :class:`~skelgraph.data.SkeletonDataset` cache is keyed by.

A cache built by :meth:`~skelgraph.data.SkeletonDataset.from_files` is reused only for the
same key: the files (paths, sizes, modification times), the labels, and a description of
the reader and the preprocessing that depends on their content, never on an object's
address (:func:`describe`). A function is described by its qualified name, a hash of its
bytecode and the values it captures, so two closures over different values never share a
cache; what cannot be described that way is refused (:class:`Unidentifiable`) unless the
user names it with ``cache_key``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import types
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Unidentifiable", "dataset_key", "describe"]

_VERSION = 2  # of the cache's layout and key: a cache of another version is rebuilt

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class Unidentifiable(ValueError):
    """A reader or preprocessing step whose configuration cannot be told apart reliably."""


def dataset_key(
    paths: Sequence[str],
    labels: list[int] | None,
    reader: Any,
    preprocess: Any,
    cache_key: str | None = None,
) -> dict[str, Any]:
    """The key of a cache built from ``paths`` with ``reader`` and ``preprocess``.

    Parameters
    ----------
    paths : sequence of str
        The files read, in order; their absolute paths, sizes and modification times
        enter the key.
    labels : list of int or None
        Labels overriding the reader's, or ``None``.
    reader : callable
        ``reader(path) -> SkeletonSample``, described by :func:`describe`.
    preprocess : callable or None
        The preprocessing, described by :func:`describe` (or named by ``cache_key``
        where it cannot be).
    cache_key : str, optional
        The user's name for the reader (used instead of its description) and for a
        preprocessing that cannot be described.

    Returns
    -------
    dict
        JSON-ready: ``version``, ``config`` (a hash of the two descriptions), ``files``,
        ``labels``.

    Raises
    ------
    ValueError
        A reader or preprocessing that cannot be described and no ``cache_key``.
    """
    try:
        described = {
            "reader": describe(reader) if cache_key is None else f"key:{cache_key}",
            "preprocess": _describe_or_key(preprocess, cache_key),
        }
    except Unidentifiable as error:
        raise ValueError(
            f"cannot key the cache by this reader or preprocessing ({error}); give it a "
            "repr, use a module-level function or functools.partial, or pass cache_key= "
            "(and change it whenever they change)"
        ) from None
    return {
        "version": _VERSION,
        "config": hashlib.sha256(json.dumps(described).encode()).hexdigest(),
        "files": [_stat(p) for p in paths],
        "labels": labels,
    }


def describe(obj: Any) -> str | None:
    """A stable description of a reader or transform: what determines its output.

    A function is described by its qualified name, a fingerprint of its code, and the
    values it captures (defaults, closure cells); a :func:`functools.partial` by its
    function and bound arguments; a bound method by its object and name; any other object
    by its ``repr``. Values are described recursively (containers by their items, arrays
    by a hash of their bytes). Code the function calls is not part of the description.

    Parameters
    ----------
    obj : callable or None
        What to describe; ``None`` gives ``None``.

    Returns
    -------
    str or None
        The same string for equal configurations, in any process.

    Raises
    ------
    Unidentifiable
        Where the description would rest on an object's address (the default ``repr``),
        so that two readers with different captured state cannot share a cache.
    """
    return _describe(obj, 0)


def _describe(obj: Any, depth: int) -> str | None:
    if obj is None:
        return None
    if depth > 20:
        raise Unidentifiable("too deeply nested to describe")
    if isinstance(obj, functools.partial):
        return (
            f"partial({_describe(obj.func, depth + 1)}, {_stable(obj.args, depth)}, "
            f"{_stable(obj.keywords, depth)})"
        )
    if isinstance(obj, types.MethodType):
        return f"method({_stable(obj.__self__, depth)}, {obj.__func__.__qualname__})"
    if isinstance(obj, types.FunctionType):
        closure = [c.cell_contents for c in obj.__closure__ or () if _has_contents(c)]
        return (
            f"function({obj.__module__}.{obj.__qualname__}, code={_code_digest(obj.__code__)}, "
            f"defaults={_stable(obj.__defaults__, depth)}, "
            f"kwdefaults={_stable(obj.__kwdefaults__, depth)}, "
            f"closure={_stable(closure, depth)})"
        )
    if isinstance(obj, (types.BuiltinFunctionType, type)):
        return f"{getattr(obj, '__module__', '?')}.{obj.__qualname__}"
    return _stable(obj, depth)


def _describe_or_key(obj: Any, cache_key: str | None) -> str | None:
    """:func:`describe`, or the user's ``cache_key`` standing for what it cannot describe."""
    try:
        return _describe(obj, 0)
    except Unidentifiable:
        if cache_key is None:
            raise
        return f"key:{cache_key}"


def _stat(path: str) -> list[Any]:
    info = os.stat(path)
    return [os.path.abspath(path), info.st_size, info.st_mtime_ns]


def _has_contents(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # an empty cell (a name not yet assigned)
        return False
    return True


def _code_digest(code: types.CodeType) -> str:
    """A hash of a function's code: its bytecode, constants (nested code too) and names."""
    digest = hashlib.sha256()
    stack = [code]
    while stack:
        current = stack.pop()
        digest.update(current.co_code)
        digest.update(repr(current.co_names).encode())
        for const in current.co_consts:
            if isinstance(const, types.CodeType):
                stack.append(const)
            elif isinstance(const, frozenset):  # its repr's order varies with the hash seed
                digest.update(repr(sorted(map(repr, const))).encode())
            else:
                digest.update(repr(const).encode())
    return digest.hexdigest()[:16]


def _stable(value: Any, depth: int) -> str:
    """A repr of ``value`` that depends on its content only, never on its address."""
    depth += 1
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = ", ".join(_stable(v, depth) for v in value)
        return f"{type(value).__name__}[{items}]"
    if isinstance(value, dict):
        items = sorted((_stable(k, depth), _stable(v, depth)) for k, v in value.items())
        return "dict{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if isinstance(value, (set, frozenset)):
        return "set{" + ", ".join(sorted(_stable(v, depth) for v in value)) + "}"
    if isinstance(value, np.ndarray):  # its repr elides large arrays: hash the bytes
        data = np.ascontiguousarray(value)
        digest = hashlib.sha256(data.view(np.uint8).reshape(-1)).hexdigest()[:16]
        return f"ndarray({data.dtype}, {data.shape}, {digest})"
    if isinstance(value, os.PathLike):
        return f"path({os.fspath(value)!r})"
    if callable(value) and not _has_own_repr(value):
        return _describe(value, depth)  # type: ignore[return-value]
    text = repr(value)
    if not _has_own_repr(value) or _ADDRESS.search(text):
        raise Unidentifiable(f"{text[:80]} has no repr that identifies its content")
    return text


def _has_own_repr(value: Any) -> bool:
    return type(value).__repr__ is not object.__repr__
