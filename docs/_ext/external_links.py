"""Links from PyTorch, NumPy, networkx, matplotlib, torchmetrics, PyG and Python names in
the API pages to their references, without the network.

``sphinx.ext.intersphinx`` would download each project's inventory at build time, and no
installed package ships one, so an offline build could not link a single type. These
projects name their reference pages after the object (PyTorch and NumPy:
``generated/<full name>.html``; Python: ``library/<module>.html#<full name>``); the few
names these docs cite whose page is elsewhere are listed. ``tests/test_docs.py`` checks
every address the site links to against the page each project really has. Annotations
that Sphinx resolves to a defining module (``torch.nn.modules.module.Module``) are mapped
to the public name first.
"""

from __future__ import annotations

import re

from docutils import nodes

# project prefix: (base URL, page of an object by its full public name)
PROJECTS = {
    "torch": ("https://docs.pytorch.org/docs/stable/", "generated/{name}.html#{name}"),
    "numpy": ("https://numpy.org/doc/stable/", "reference/generated/{name}.html#{name}"),
    "networkx": (
        "https://networkx.org/documentation/stable/",
        "reference/generated/{name}.html#{name}",
    ),
    "matplotlib": ("https://matplotlib.org/stable/", "api/_as_gen/{name}.html#{name}"),
    "torch_geometric": (
        "https://pytorch-geometric.readthedocs.io/en/stable/",
        "generated/{name}.html#{name}",
    ),
    "torchmetrics": (
        "https://lightning.ai/docs/torchmetrics/stable/",
        "references/metric.html#{name}",
    ),
}
# Python's standard library documents each module on one page.
PYTHON = "https://docs.python.org/3/library/"
PYTHON_MODULES = ("collections.abc", "functools", "os", "pathlib", "typing")
# Built-in constants (``tuple[int, ...]`` is annotated with Ellipsis).
PYTHON_BUILTINS = {"Ellipsis": "constants.html#Ellipsis"}
# Objects documented on a shared page rather than one of their own.
PAGES = {
    "torch.Tensor": "tensors.html#torch.Tensor",
    "torch.dtype": "tensor_attributes.html#torch.dtype",
    "torch.device": "tensor_attributes.html#torch.device",
    "torch.Generator": "generated/torch.Generator.html#torch.Generator",
    "torch.utils.data.Dataset": "data.html#torch.utils.data.Dataset",
    "torch.utils.data.DataLoader": "data.html#torch.utils.data.DataLoader",
    "torch.nn.Module": "generated/torch.nn.Module.html#torch.nn.Module",
    "torch.export.export": "export.html",
    "torch.nn.Parameter": (
        "generated/torch.nn.parameter.Parameter.html#torch.nn.parameter.Parameter"
    ),
    "torch.autocast": "amp.html#torch.autocast",
    "torch.onnx.export": "onnx.html",
    "torch.utils.checkpoint.checkpoint": "checkpoint.html#torch.utils.checkpoint.checkpoint",
    "numpy.random.Generator": "reference/random/generator.html#numpy.random.Generator",
    "numpy.random.default_rng": "reference/random/generator.html#numpy.random.default_rng",
    "numpy.typing.ArrayLike": "reference/typing.html#numpy.typing.ArrayLike",
    "numpy.float16": "reference/arrays.scalars.html",
    "numpy.float32": "reference/arrays.scalars.html",
    "numpy.float64": "reference/arrays.scalars.html",
    "networkx.Graph": "reference/classes/graph.html#networkx.Graph",
    "networkx.DiGraph": "reference/classes/digraph.html#networkx.DiGraph",
}
# Short spellings in annotations and docstrings, and defining modules, to public names.
ALIASES = [
    (re.compile(r"^nn\."), "torch.nn."),
    (re.compile(r"^np\."), "numpy."),
    (re.compile(r"^nx\."), "networkx."),
    (re.compile(r"^Tensor$"), "torch.Tensor"),
    (re.compile(r"^torch\._tensor\.Tensor$"), "torch.Tensor"),
    (re.compile(r"^torch\.nn\.modules\.[a-z_.]+\.(?P<name>[A-Za-z]\w*)$"), r"torch.nn.\g<name>"),
    (re.compile(r"^torch\.nn\.parameter\.Parameter$"), "torch.nn.Parameter"),
    (re.compile(r"^torch\.utils\.data\.[a-z_]+\.(?P<name>\w+)$"), r"torch.utils.data.\g<name>"),
    (re.compile(r"^networkx\.classes\.[a-z_]+\.(?P<name>\w+)$"), r"networkx.\g<name>"),
    (re.compile(r"^numpy\.random\._generator\.Generator$"), "numpy.random.Generator"),
    (re.compile(r"^matplotlib\.axes\._axes\.Axes$"), "matplotlib.axes.Axes"),
    (re.compile(r"^torchmetrics\.metric\.Metric$"), "torchmetrics.Metric"),
    (re.compile(r"^torch_geometric\.data\.data\.Data$"), "torch_geometric.data.Data"),
]


def public_name(target: str) -> str:
    for pattern, replacement in ALIASES:
        target = pattern.sub(replacement, target)
    return target


def url(target: str) -> str | None:
    """The reference page of an object of one of these projects, or ``None``."""
    name = public_name(target)
    if name in PYTHON_BUILTINS:
        return PYTHON + PYTHON_BUILTINS[name]
    for module in PYTHON_MODULES:
        if name.startswith(module + "."):
            return f"{PYTHON}{module}.html#{name}"
    if name.startswith("networkx.") and name not in PAGES:
        function = _networkx_function(name)
        if function is not None:
            return PROJECTS["networkx"][0] + function
    for prefix, (base, page) in PROJECTS.items():
        if name == prefix or name.startswith(prefix + "."):
            return base + PAGES.get(name, page.format(name=name))
    return None


def _networkx_function(name: str) -> str | None:
    """networkx documents a function under its defining module's name, the algorithms in
    a folder of their own (``networkx.diameter``: ``reference/algorithms/generated/
    networkx.algorithms.distance_measures.diameter.html``)."""
    try:
        import networkx
    except ImportError:
        return None
    obj = getattr(networkx, name.removeprefix("networkx."), None)
    if obj is None or isinstance(obj, type) or not callable(obj):
        return None
    full = f"{obj.__module__}.{obj.__name__}"
    folder = "algorithms/generated" if full.startswith("networkx.algorithms.") else "generated"
    return f"reference/{folder}/{full}.html#{full}"


def _resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    address = url(node["reftarget"])
    if address is None:
        return None
    reference = nodes.reference("", "", internal=False, refuri=address)
    reference["reftitle"] = public_name(node["reftarget"])
    reference += contnode
    return reference


def setup(app):
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
