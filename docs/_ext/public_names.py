"""Every name of a documented object links to its one entry; private bases stay hidden.

The API pages document each object once, under its public name
(``skelgraph.data.bone_features``), but docstrings and annotations also name it by its
defining module (``skelgraph.data.features.bone_features``), and a class's own docstring
by its short name (``SkeletonGraph.from_json``). Sphinx leaves those unlinked; here a
reference Sphinx could not resolve is linked to the entry of the *same Python object*
(found by importing both names), or, for a short name, to the one entry whose full name
ends with it; a module without an entry of its own to its first documented object.
Anything still unresolved is left to Sphinx, which reports it (nitpicky
mode): a broken reference fails the build rather than rendering as plain text.

NumPy-style types are split by napoleon at their commas and "of"s, and each piece made a
reference; the pieces of a shape or a tuple (``Tensor, shape (K, V, V)``: "shape (K",
"V", "V)") name no object and are shown as the text they are.

Classes whose base is private (``class RandomRotate(_Random)``) show their public bases
only: a reader cannot look up ``_Random``.
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from typing import Any

from sphinx.util.nodes import make_refnode

_MISSING = object()


@cache
def _lookup(name: str) -> Any:
    """The object ``name`` (``package.module.Class.attribute``) names, or ``_MISSING``."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            # Class attributes as stored (a property object, a classmethod's function).
            holder = vars(obj) if isinstance(obj, type) else None
            obj = (
                holder[attr]
                if holder is not None and attr in holder
                else getattr(obj, attr, _MISSING)
            )
            if obj is _MISSING:
                return _MISSING
        return getattr(obj, "__func__", obj)
    return _MISSING


def _documented(env) -> dict[str, Any]:
    return env.get_domain("py").objects


# A piece of a shape or tuple in a type: parentheses, spaces, or a one-letter dimension.
_TYPE_PIECE = re.compile(r"[()\s]|^[A-Z]$")


def _resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    if node.get("reftype") == "class" and _TYPE_PIECE.search(target):
        return contnode
    objects = _documented(env)
    if node.get("reftype") == "mod":
        found = _module_section(objects, target)
    else:
        found = _same_object(objects, target) or _short_name(objects, target)
    if found is None:
        return None
    entry = objects[found]
    title = target if node.get("reftype") == "mod" else found
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode, title)


def _same_object(objects: dict[str, Any], target: str) -> str | None:
    """The entry of the object ``target`` names by another path (its defining module)."""
    if not target.startswith(("skelgraph.", "examples.")):
        return None
    obj = _lookup(target)
    if obj is _MISSING or isinstance(obj, (int, float, str, bool)):  # equal, not the same
        return None
    matches = [name for name in objects if _lookup(name) is obj]
    return min(matches, key=len) if matches else None  # an alias entry may repeat it


def _short_name(objects: dict[str, Any], target: str) -> str | None:
    """The one object all entries ending with ``.target`` stand for."""
    matches = [name for name in objects if name.endswith("." + target)]
    if matches and len({id(_lookup(name)) for name in matches}) == 1:
        return min(matches, key=len)
    return None


def _module_section(objects: dict[str, Any], module: str) -> str | None:
    """The first entry defined in ``module`` (or a module under it): a module that has no
    entry of its own, such as ``skelgraph.data.features`` whose functions are documented
    as ``skelgraph.data.*``, is linked to where its objects are."""
    for name in objects:
        defined_in = getattr(_lookup(name), "__module__", None) or ""
        if defined_in == module or defined_in.startswith(module + "."):
            return name
    return None


def _public_bases(app, name, obj, options, bases) -> None:
    bases[:] = [base for base in bases if not base.__name__.startswith("_")]


def setup(app):
    app.connect("missing-reference", _resolve, priority=600)  # after external_links
    app.connect("autodoc-process-bases", _public_bases)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
