"""Sphinx configuration for the skelgraph documentation.

Build (from the repository root; warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python -m sphinx -W --keep-going -b doctest docs docs/_build/doctest
"""

from __future__ import annotations

import doctest as _doctest
import importlib.metadata
import importlib.util
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")

import skelgraph


def _local_extension(name: str) -> None:
    """Load docs/_ext/NAME.py as the module NAME (for ``extensions`` and the pages'
    plot code), from its file: nothing is added to ``sys.path``."""
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).parent / "_ext" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


# Local extensions: the benchmark page's tables and figures, a script's --help, links to
# PyTorch, NumPy, networkx and Python, and links by any name of a documented object.
for _name in ("benchmark_tables", "cli_help", "external_links", "public_names"):
    _local_extension(_name)

# sphinx-autodoc-typehints 3.x on Sphinx 9 emits an upstream deprecation notice per page.
warnings.filterwarnings("ignore", message=r".*_RstSnippetParser\.set_application")

# -- Project -------------------------------------------------------------------------
project = "skelgraph"
author = "skelgraph developers"
copyright = "skelgraph developers, BSD 3-Clause"
release = skelgraph.__version__
version = ".".join(release.split(".")[:2])

# -- Extensions ----------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",  # before sphinx_autodoc_typehints
    "sphinx_autodoc_typehints",
    "sphinx.ext.mathjax",
    # MathJax 3.2.2 (scripts and fonts) copied into _static/mathjax, and mathjax_path
    # pointed at it: equations render without the internet (docs extra).
    "sphinx-mathjax-offline",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
    "matplotlib.sphinxext.plot_directive",
    "myst_parser",  # only to include CHANGELOG.md
    "benchmark_tables",  # docs/_ext: compact tables of benchmarks/results/
    "cli_help",  # docs/_ext: a script's --help, produced at build time
    "external_links",  # docs/_ext: PyTorch / NumPy / networkx / Python names linked, offline
    "public_names",  # docs/_ext: a re-exported object's other names link to its entry
    "sphinx_copybutton",  # a copy button on code blocks (docs extra)
]

# A reference that links nowhere is a warning, so an error under -W: none renders as
# plain text unnoticed (docs/_ext/public_names.py resolves the names Sphinx cannot).
nitpicky = True

source_suffix = {".rst": "restructuredtext"}  # Markdown only through the include
exclude_patterns = ["_build", "README.md", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
html_static_path = ["_static"]
html_css_files = ["custom.css"]

# Nothing is fetched, at build time or by the reader's browser: MathJax ships with the
# site (above), and instead of intersphinx, whose inventories (PyTorch, NumPy, networkx)
# would have to be downloaded, external_links links those names by their pages' URLs.

# -- autodoc / napoleon / typehints --------------------------------------------------
autodoc_default_options = {
    "members": True,
    "member-order": "bysource",
    "show-inheritance": True,
    "special-members": "",
}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "mixed"
autoclass_content = "class"
autodoc_inherit_docstrings = False  # nn.Module's generic docstrings are noise here
autodoc_preserve_defaults = True

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True
napoleon_custom_sections = ["Shapes"]
# Docstring types ("sequence of int", {"sym", "rw"}) become links to the types they name
# and literal values, rather than cross-references to words.
napoleon_preprocess_types = True
napoleon_type_aliases = {
    "sequence": "collections.abc.Sequence",
    "iterable": "collections.abc.Iterable",
    "mapping": "collections.abc.Mapping",
    "callable": "collections.abc.Callable",
    "path": "pathlib.Path",
    "array": "numpy.ndarray",
    "array_like": "numpy.typing.ArrayLike",
    "tensor": "torch.Tensor",
    "collections": "collections.abc.Collection",
    "callables": "collections.abc.Callable",
    "hashable": "collections.abc.Hashable",
}

typehints_defaults = "comma"
typehints_use_signature = False
always_document_param_types = False
typehints_document_rtype = True
typehints_document_rtype_none = False  # (see also _drop_none_rtype in setup below)

# -- doctest -------------------------------------------------------------------------
doctest_global_setup = """
import warnings
import numpy as np
import torch
from skelgraph import *  # noqa: F403
from skelgraph.data import *  # noqa: F403  (the data docstrings' examples use these)
torch.manual_seed(0)
"""
doctest_default_flags = (
    _doctest.ELLIPSIS | _doctest.NORMALIZE_WHITESPACE | _doctest.DONT_ACCEPT_TRUE_FOR_1
)

# -- plot directive: figures are drawn at build time, none are committed ------------
plot_include_source = True
plot_html_show_source_link = False
plot_html_show_formats = False
plot_formats = [("png", 110)]
plot_rcparams = {"figure.dpi": 110, "savefig.bbox": "tight", "font.size": 9}
plot_apply_rcparams = True
plot_pre_code = "import numpy as np\nimport matplotlib.pyplot as plt\n"

# -- copy buttons: the commands of a console block and the code of a doctest, without
# their prompts and outputs ----------------------------------------------------------
copybutton_prompt_text = r"\$ |>>> |\.\.\. "
copybutton_prompt_is_regexp = True
copybutton_line_continuation_character = "\\"

# -- HTML ----------------------------------------------------------------------------
# The repository's address, from pyproject.toml's [project.urls] "Repository" (in the
# installed package's metadata), shown as an icon in the header; none while pyproject.toml
# names no repository.
repository = next(
    (
        entry.partition(",")[2].strip()
        for entry in importlib.metadata.metadata("skelgraph").get_all("Project-URL") or ()
        if entry.partition(",")[0].strip() == "Repository"
    ),
    None,
)

html_theme = "pydata_sphinx_theme"
html_title = f"skelgraph {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "icon_links": (
        [{"name": "Source repository", "url": repository, "icon": "fa-brands fa-git-alt"}]
        if repository
        else []
    ),
}
# No left sidebar on the top-level pages that have no sub-pages (it would be an empty
# "Section Navigation").
html_sidebars = {page: [] for page in ("index", "getting_started", "benchmarks", "changelog")}
html_show_sourcelink = False

# MyST, for the changelog include only.
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]


# -- Local hooks ---------------------------------------------------------------------
def _drop_none_rtype(app, domain, objtype, contentnode) -> None:
    """Drop the "Return type: None" field that Sphinx's ``autodoc_typehints =
    "description"`` adds to every procedure (``reset_parameters()`` ...): it says nothing."""
    from docutils import nodes

    for field_list in list(contentnode.findall(nodes.field_list)):
        for field in list(field_list.children):
            name, body = field.children[0].astext().strip(), field.children[1].astext().strip()
            # "rtype" from a docstring field (sphinx-autodoc-typehints writes one for an
            # exception's __init__), before the domain renames it "Return type".
            if name in ("rtype", "Return type") and body == "None":
                field_list.remove(field)
        if not field_list.children:
            field_list.parent.remove(field_list)


def setup(app):
    # After sphinx.ext.autodoc.typehints' merge (default priority 500).
    app.connect("object-description-transform", _drop_none_rtype, priority=900)
