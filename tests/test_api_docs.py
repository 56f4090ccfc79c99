"""Every parameter of the public API is described in its NumPy-style docstring.

The public API is what ``tests/test_docs.py`` documents: each name in the ``__all__`` of its
public modules (``_public_modules``). For each class, numpydoc checks the class docstring
against ``__init__``'s signature, plus the class's own ``forward`` and ``forward_steps`` and
its alternative constructors (its public class methods, ``SkeletonGraph.from_edges`` ...);
for each function, its docstring against its signature. The reference model
(``examples.msg3d.model.MSG3DNet``, documented in the API pages too) is checked the same
way. Three of numpydoc's error codes are asserted: PR01 (a parameter not documented),
PR02 (a documented parameter that does not exist) and PR07 (a parameter listed without a
description).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import warnings

import pytest
import torch

from tests.test_docs import _public_modules

# Modules that need an optional extra, skipped (as in tests/test_docs.py) where it is missing.
EXTRAS = {
    "skelgraph.plot": ("matplotlib", "skelgraph.plot needs matplotlib"),
    "skelgraph.metrics": ("torchmetrics", "skelgraph.metrics needs torchmetrics (the train extra)"),
}
METHODS = ("forward", "forward_steps")
# Documented beyond the library's __all__ (docs/api/model.rst).
REFERENCE_MODEL = ("examples.msg3d.model.MSG3DNet",)


def _missing_extra(module: str) -> str | None:
    for package, (extra, reason) in EXTRAS.items():
        if (module == package or module.startswith(package + ".")) and (
            importlib.util.find_spec(extra) is None
        ):
            return reason
    return None


def _targets() -> list:
    """One ``pytest.param`` per public class, method or function, named by its qualified name."""
    params, seen, skipped = [], set(), set()
    for module in _public_modules():
        reason = _missing_extra(module)
        if reason is not None:
            if reason not in skipped:
                skipped.add(reason)
                params.append(pytest.param(None, marks=pytest.mark.skip(reason=reason), id=module))
            continue
        mod = importlib.import_module(module)
        for name in getattr(mod, "__all__", ()):
            obj = getattr(mod, name)
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if inspect.isclass(obj):
                names = _class_targets(obj)
            elif callable(obj) and getattr(obj, "__module__", "").startswith("skelgraph"):
                names = [f"{obj.__module__}.{obj.__qualname__}"]
            else:
                continue
            params.extend(pytest.param(n, id=n) for n in names)
    for name in REFERENCE_MODEL:
        module, _, attr = name.rpartition(".")
        params.extend(
            pytest.param(n, id=n)
            for n in _class_targets(getattr(importlib.import_module(module), attr))
        )
    return params


def _class_targets(cls: type) -> list[str]:
    """The class (its constructor), its forward methods and its public class methods."""
    qualified = f"{cls.__module__}.{cls.__qualname__}"
    methods = [m for m in METHODS if m in vars(cls)]
    methods += [
        name
        for name, member in vars(cls).items()
        if isinstance(member, classmethod) and not name.startswith("_")
    ]
    return [qualified] + [f"{qualified}.{m}" for m in methods]


def _inherits_module_init(name: str) -> bool:
    """Whether ``name`` is a class whose constructor is ``torch.nn.Module.__init__``."""
    module, _, attr = name.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):  # a method: "module.Class.forward"
        return False
    return inspect.isclass(obj) and obj.__init__ is torch.nn.Module.__init__


@pytest.mark.parametrize("name", _targets())
def test_parameters_documented(name):
    numpydoc_validate = pytest.importorskip("numpydoc.validate")
    with warnings.catch_warnings():
        # The project's docstrings use a custom "Shapes" section, unknown to numpydoc.
        warnings.filterwarnings("ignore", message="Unknown section", category=UserWarning)
        result = numpydoc_validate.validate(name)
    asserted = ("PR01", "PR02", "PR07")
    errors = [(code, message) for code, message in result["errors"] if code in asserted]
    if _inherits_module_init(name):
        # A class that keeps torch.nn.Module's constructor has the signature (*args, **kwargs)
        # of that base: those parameters are torch's, not the class's, so PR01 (not
        # documented) is not asserted for it; PR02 (a documented parameter that does not
        # exist) still is.
        errors = [(code, message) for code, message in errors if code != "PR01"]
    assert not errors, f"{name}: " + "; ".join(f"{code} {message}" for code, message in errors)
