"""The documentation's code runs as written, and the site builds without warnings.

Two kinds of tests:

- fast ones, with no Sphinx needed: every ``.. testcode::`` (with its ``.. testoutput::``)
  and ``.. doctest::`` block of the narrative pages (``docs/**/*.rst`` outside ``api/``),
  run in page order with one namespace per page, as ``sphinx-build -b doctest`` runs them,
  plus the ``>>>`` examples of the library's docstrings;
- the full ``sphinx-build -W --keep-going -b html`` build, only where Sphinx and the
  ``docs`` extra are installed (skipped, saying which package is missing, otherwise); it
  also checks that every public name has an entry in the rendered API reference.
"""

from __future__ import annotations

import contextlib
import doctest
import html
import importlib
import importlib.util
import io
import os
import pkgutil
import re
import subprocess
import sys
import textwrap
import warnings
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

import skelgraph
from tests.conftest import ROOT

DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts and "api" not in p.parts)

DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. (?P<kind>testcode|testoutput|doctest)::")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.DONT_ACCEPT_TRUE_FOR_1


def _conf() -> dict:
    """docs/conf.py's settings, read the way Sphinx reads them."""
    namespace = {"__file__": str(DOCS / "conf.py"), "__name__": "conf"}
    exec(compile((DOCS / "conf.py").read_text(), str(DOCS / "conf.py"), "exec"), namespace)
    return namespace


def _blocks(path: Path) -> list[tuple[str, int, str]]:
    """(kind, line number, dedented body) of each test block of a page, in order."""
    lines = path.read_text().splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = DIRECTIVE.match(lines[i])
        if not match:
            i += 1
            continue
        indent = len(match["indent"])
        start = i + 1
        i += 1
        # Options (":hide:", ...), then the indented body up to the first line that is
        # indented no deeper than the directive.
        while i < len(lines) and lines[i].strip().startswith(":"):
            i += 1
        body = []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
        ):
            body.append(lines[i])
            i += 1
        blocks.append((match["kind"], start, textwrap.dedent("\n".join(body)).strip("\n")))
    return blocks


def test_docs_pages_found():
    assert {p.name for p in PAGES} >= {
        "index.rst",
        "getting_started.rst",
        "custom_layout.rst",
        "custom_model.rst",
    }
    assert all(_blocks(p) for p in PAGES if p.parent.name == "tutorials" and p.stem != "index")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_docs_page_code_runs(page, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    globs: dict = {"__name__": "__docs__"}
    exec(_conf()["doctest_global_setup"], globs)
    checker = doctest.OutputChecker()
    last_output: str | None = None
    name = str(page.relative_to(ROOT))
    with warnings.catch_warnings():
        # A page's code must run without warnings (e.g. too many scales for a layout).
        warnings.simplefilter("error", UserWarning)
        for kind, line, body in _blocks(page):
            where = f"{name}:{line}"
            if kind == "testcode":
                out = io.StringIO()
                with contextlib.redirect_stdout(out):
                    exec(compile(body + "\n", where, "exec"), globs)
                last_output = out.getvalue()
            elif kind == "testoutput":
                assert last_output is not None, f"{where}: testoutput without testcode"
                want = body + "\n"
                assert checker.check_output(want, last_output, FLAGS), (
                    f"{where}: expected\n{want}got\n{last_output}"
                )
                last_output = None
            else:
                test = doctest.DocTestParser().get_doctest(body, globs, where, name, line)
                runner = doctest.DocTestRunner(optionflags=FLAGS)
                report = io.StringIO()
                result = runner.run(test, out=report.write, clear_globs=False)
                assert result.failed == 0, report.getvalue()
                globs.update(test.globs)  # DocTest works on a copy of the namespace


# A measured quantity in prose: a ratio, a time, a memory size or a percentage. The docs
# quote measurements through the :result: role (docs/_ext/benchmark_tables.py), which reads
# them from benchmarks/results/, so prose and results cannot disagree.
FIGURE = re.compile(r"\d(?:[\d.]*\d)?(?:\s?(?:×(?!\s?\d)|%)|\s(?:s|ms|MiB|GiB)\b)")
# Numbers of that form that are not measurements, by page.
NOT_MEASURED = {
    ("concepts/multiscale.rst", "2 %"),  # a property of the NTU graph, computed on the page
    ("concepts/limits.rst", "256 MiB"),  # a bound the commands enforce
    ("tutorials/online_inference.rst", "2.4 s"),  # the 72-frame delay at 30 frames/s
    ("tutorials/online_inference.rst", "90 %"),  # a fraction of the clip
    ("tutorials/training.rst", "60 %"),  # the learning-rate schedule
    ("tutorials/training.rst", "80 %"),
    ("benchmarks.rst", "93 %"),  # issue #27's N-UCLA targets, not results
    ("benchmarks.rst", "95 %"),  # the fused target, and the confidence level
    ("benchmarks.rst", "98.3 %"),  # published ensembles (CTR-GCN, InfoGCN papers)
    ("benchmarks.rst", "80 %"),  # the accuracy a Table 1 setting aims at
}


def _prose(path: Path) -> list[tuple[int, str]]:
    """The lines of a page outside directives and literal blocks, without inline literals
    and roles."""
    out, block_indent = [], None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        indent = len(line) - len(line.lstrip())
        if block_indent is not None:
            if not line.strip() or indent > block_indent:
                continue
            block_indent = None
        if re.match(r"\s*\.\. [\w:-]+::", line) or line.rstrip().endswith("::"):
            block_indent = indent
        out.append((number, re.sub(r"``.*?``|:[\w-]+:`[^`]*`|`[^`]*`_*", "", line)))
    return out


def test_docs_quote_measurements_only_from_results():
    pages = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)
    found = [
        f"{page.relative_to(DOCS)}:{number}: {match}"
        for page in pages
        for number, line in _prose(page)
        for match in FIGURE.findall(line)
        if (str(page.relative_to(DOCS)), match) not in NOT_MEASURED
    ]
    assert not found, "measurements typed into prose (use :result:):\n" + "\n".join(found)


def test_docs_use_no_tracker_language():
    pages = sorted(p for p in DOCS.rglob("*.rst") if "_build" not in p.parts)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\bissue\b|(?<![\w&])#\d+\b(?! \()", text), page


# The packages the API reference covers (docs/api/*.rst); a new public package gets a
# page there and its name here.
DOCUMENTED = (
    "skelgraph",
    "skelgraph.graph",
    "skelgraph.nn",
    "skelgraph.data",
    "skelgraph.plot",
    "skelgraph.metrics",
    "skelgraph.limits",
    "skelgraph.amp",
)


def _public_modules() -> list[str]:
    names = ["skelgraph"]
    for info in pkgutil.walk_packages(skelgraph.__path__, "skelgraph."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts):
            continue
        if ".".join(parts[:2]) in DOCUMENTED:
            names.append(info.name)
    return names


@pytest.mark.parametrize("module", _public_modules())
def test_docstring_examples_run(module):
    if module == "skelgraph.plot" and importlib.util.find_spec("matplotlib") is None:
        pytest.skip("skelgraph.plot needs matplotlib")
    if module == "skelgraph.metrics" and importlib.util.find_spec("torchmetrics") is None:
        pytest.skip("skelgraph.metrics needs torchmetrics (the train extra)")
    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = io.StringIO()
    for test in finder.find(mod):
        if test.name.split(".")[-1].startswith("_"):
            continue
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()


DOCS_PACKAGES = (
    "sphinx",
    "pydata_sphinx_theme",
    "sphinx_autodoc_typehints",
    "myst_parser",
    "sphinx_copybutton",
    "sphinx-mathjax-offline",  # its import name has hyphens
)


def _missing_docs_packages() -> list[str]:
    wanted = (*DOCS_PACKAGES, "matplotlib")
    return [name for name in wanted if importlib.util.find_spec(name) is None]


@pytest.fixture(scope="module")
def html_build(tmp_path_factory):
    missing = _missing_docs_packages()
    if missing:
        pytest.skip(f"the docs extra is not installed (missing: {', '.join(missing)})")
    out = tmp_path_factory.mktemp("html")
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [*command, str(DOCS), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout}\n{result.stderr}"
    return out


def test_external_types_link_to_their_references(html_build):
    """PyTorch, NumPy and networkx names in the API pages link to those projects' pages
    (docs/_ext/external_links.py; no inventory download)."""
    layers = (html_build / "api" / "layers.html").read_text()
    assert 'href="https://docs.pytorch.org/docs/stable/tensors.html#torch.Tensor"' in layers
    assert "docs.pytorch.org/docs/stable/generated/torch.nn.Module.html" in layers
    graph = (html_build / "api" / "graph.html").read_text()
    assert "networkx.org/documentation/stable/reference/classes/graph.html" in graph
    data = (html_build / "api" / "data.html").read_text()
    assert "numpy.org/doc/stable/reference/generated/numpy.ndarray.html" in data


def _external_links():
    path = DOCS / "_ext" / "external_links.py"
    spec = importlib.util.spec_from_file_location("external_links", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Each project's real page for a name, as its site lays them out (checked by hand against
# the sites): shared pages, pages named after the defining module, anchors.
_TORCH = "https://docs.pytorch.org/docs/stable/"
_NUMPY = "https://numpy.org/doc/stable/reference/"
_NX = "https://networkx.org/documentation/stable/reference/"
_PY = "https://docs.python.org/3/library/"
LINK_PAGES = {
    "numpy.random.default_rng": _NUMPY + "random/generator.html#numpy.random.default_rng",
    "numpy.typing.ArrayLike": _NUMPY + "typing.html#numpy.typing.ArrayLike",
    "numpy.ndarray": _NUMPY + "generated/numpy.ndarray.html#numpy.ndarray",
    "numpy.float32": _NUMPY + "arrays.scalars.html",
    "torch.nn.Parameter": (
        _TORCH + "generated/torch.nn.parameter.Parameter.html#torch.nn.parameter.Parameter"
    ),
    "torch.autocast": _TORCH + "amp.html#torch.autocast",
    "torch.onnx.export": _TORCH + "onnx.html",
    "torch.export.export": _TORCH + "export.html",
    "torch.Tensor": _TORCH + "tensors.html#torch.Tensor",
    "torch.nn.Conv2d": _TORCH + "generated/torch.nn.Conv2d.html#torch.nn.Conv2d",
    "networkx.Graph": _NX + "classes/graph.html#networkx.Graph",
    "networkx.diameter": (
        _NX + "algorithms/generated/networkx.algorithms.distance_measures.diameter.html"
        "#networkx.algorithms.distance_measures.diameter"
    ),
    "networkx.from_numpy_array": (
        _NX + "generated/networkx.convert_matrix.from_numpy_array.html"
        "#networkx.convert_matrix.from_numpy_array"
    ),
    "collections.abc.Sequence": _PY + "collections.abc.html#collections.abc.Sequence",
    "os.PathLike": _PY + "os.html#os.PathLike",
    "Ellipsis": _PY + "constants.html#Ellipsis",
    "matplotlib.axes._axes.Axes": (
        "https://matplotlib.org/stable/api/_as_gen/matplotlib.axes.Axes.html#matplotlib.axes.Axes"
    ),
    "torch_geometric.data.data.Data": (
        "https://pytorch-geometric.readthedocs.io/en/stable/generated/"
        "torch_geometric.data.Data.html#torch_geometric.data.Data"
    ),
    "torchmetrics.metric.Metric": (
        "https://lightning.ai/docs/torchmetrics/stable/references/metric.html#torchmetrics.Metric"
    ),
}


@pytest.mark.parametrize("name", sorted(LINK_PAGES))
def test_external_link_patterns_match_the_projects_pages(name):
    assert _external_links().url(name) == LINK_PAGES[name]


def test_external_links_used_are_checked_pages(html_build):
    """Every address the site links to in these projects is a page pinned above, or the
    page the extension's checked pattern gives for the name in its anchor: none is typed
    by hand past the patterns."""
    hosts = (
        "docs.pytorch.org|numpy.org|networkx.org|docs.python.org|matplotlib.org|lightning.ai"
        "|pytorch-geometric"
    )
    used = set()
    for page in html_build.rglob("*.html"):
        if "_modules" not in page.parts:
            used |= set(re.findall(rf'href="(https://(?:{hosts})[^"]*)"', page.read_text()))
    links = _external_links()
    unknown = [
        address for address in used
        if address not in LINK_PAGES.values()
        and links.url(address.rpartition("#")[2] or "-") != address
    ]  # fmt: skip
    assert not unknown, unknown


def test_docs_build_without_warnings(html_build):
    for page in ("index", "getting_started", "concepts/multiscale", "api/layers", "changelog"):
        assert (html_build / f"{page}.html").is_file()
    # Figures are drawn at build time by the plot directive.
    assert list((html_build / "_images").glob("*.png")) or list(html_build.rglob("*.png"))


def _inventory_names(path: Path) -> set[str]:
    """Names of the Python objects in a Sphinx ``objects.inv`` (format version 2)."""
    data = path.read_bytes()
    header_end = 0
    for _ in range(4):  # four text lines, then the zlib-compressed entries
        header_end = data.index(b"\n", header_end) + 1
    assert data.startswith(b"# Sphinx inventory version 2"), data[:40]
    names = set()
    for line in zlib.decompress(data[header_end:]).decode().splitlines():
        match = re.match(r"(.+?)\s+(py:\w+)\s+-?\d+\s", line)
        if match:
            names.add(match[1])
    return names


def test_every_public_name_has_an_api_entry(html_build):
    documented = _inventory_names(html_build / "objects.inv")
    assert "skelgraph.SkeletonGraph" in documented
    missing = []
    for module in _public_modules():
        for name in getattr(importlib.import_module(module), "__all__", ()):
            if f"{module}.{name}" in documented:
                continue
            if not any(entry.endswith(f".{name}") for entry in documented):
                missing.append(f"{module}.{name}")
    assert not missing, f"public names without an API entry: {missing}"


class _Resources(HTMLParser):
    """What a page makes the browser load: scripts, stylesheets, fonts, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video") and attrs.get("src"):
            self.loaded.append(attrs["src"])
        elif tag == "link" and attrs.get("href"):
            # rel="stylesheet", "preload" (fonts), "icon", ...; not plain hyperlinks.
            self.loaded.append(attrs["href"])


def _remote(url: str) -> bool:
    return bool(re.match(r"^([a-z][a-z0-9+.-]*:)?//", url.strip(), re.IGNORECASE))


def test_docs_load_nothing_from_another_host(html_build):
    """The site works offline: no page loads a script, stylesheet or font from elsewhere."""
    remote = []
    for page in html_build.rglob("*.html"):
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        where = page.relative_to(html_build)
        remote += [f"{where}: {url}" for url in parser.loaded if _remote(url)]
    for sheet in html_build.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        for url in re.findall(r"""url\(\s*['"]?([^'")]+)|@import\s+['"]([^'"]+)""", text):
            url = "".join(url)
            if _remote(url):
                remote.append(f"{sheet.relative_to(html_build)}: {url}")
    assert not remote, "resources from another host:\n" + "\n".join(remote)


def test_docs_mathjax_ships_with_the_site(html_build):
    """Every page with equations loads a MathJax that is in the build, fonts included."""
    pages = [p for p in html_build.rglob("*.html") if 'class="math' in p.read_text("utf-8")]
    assert len(pages) >= 5, pages  # concepts, benchmarks, API pages
    for page in pages:
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        scripts = [url for url in parser.loaded if "mathjax" in url.lower()]
        assert scripts, f"{page.relative_to(html_build)} has equations but loads no MathJax"
        for url in scripts:
            assert not _remote(url), url
            assert (page.parent / url.split("?")[0]).resolve().is_file(), url
    fonts = list((html_build / "_static" / "mathjax").rglob("*.woff"))
    assert any("MathJax_Main-Regular" in f.name for f in fonts), "MathJax's fonts are missing"


def test_docs_api_signatures_are_short(html_build):
    """Constants do not print their values in the signature line, and procedures have
    no "Return type: None" field."""
    for page in (html_build / "api").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r'<dl class="py data">\s*<dt[^>]*>(.*?)</dt>', text, re.S):
            signature = " ".join(html.unescape(re.sub(r"<[^>]+>", "", match[1])).split())
            assert len(signature) < 100, f"{page.name}: {signature}"
        assert not re.search(r"Return type<span[^>]*>:</span></dt>\s*<dd[^>]*><p>None</p>", text), (
            f"{page.name} has a 'Return type: None' field"
        )


def test_docs_benchmark_tables_fit(html_build):
    """The benchmark page's tables have at most ten columns and link the full files."""
    text = (html_build / "benchmarks.html").read_text(encoding="utf-8")
    tables = re.findall(r"<table.*?</table>", text, re.S)
    assert len(tables) >= 4, len(tables)  # bias, speed (two allocators), accuracy
    for table in tables:
        body = re.search(r"<tbody>.*?</tbody>", table, re.S)[0]
        widest = max(len(re.findall(r"<td", row)) for row in re.findall(r"<tr.*?</tr>", body, re.S))
        assert widest <= 10, widest
    for name in ("speed.md", "speed.json", "bias.csv", "accuracy.csv"):
        assert re.search(rf'href="_downloads/[^"]*/{re.escape(name)}"', text), name
    # Paths of the machine that ran them are not quoted.
    assert "../shared" not in text and "/tmp/" not in text
