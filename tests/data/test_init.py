"""The ``skelgraph.data`` namespace: every public name of its modules, once, and no other."""

from __future__ import annotations

import importlib
import pkgutil

import skelgraph.data

# Modules whose public names are not re-exported: a namespace of their own.
OWN_NAMESPACE = {"skelgraph.data.cache_key"}


def _data_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(skelgraph.data.__path__, "skelgraph.data."):
        if info.name.rsplit(".", 1)[-1].startswith("_") or info.name in OWN_NAMESPACE:
            continue
        if info.name.startswith("skelgraph.data.readers."):  # gathered by readers/__init__
            continue
        names.append(info.name)
    return names


def test_namespace_holds_each_modules_public_names_once():
    public = set()
    for module in _data_modules():
        public |= set(importlib.import_module(module).__all__)
    listed = skelgraph.data.__all__
    assert len(listed) == len(set(listed)), "a name is listed twice"
    assert set(listed) == public
    for name in listed:
        assert getattr(skelgraph.data, name) is not None
