"""``.. argparse-help:: module:function``: a script's ``--help``, produced at build time.

The function returns the script's :class:`argparse.ArgumentParser`; the page shows its
help text as a literal block, so the listed options are always the script's own::

    .. argparse-help:: examples.msg3d.train:build_parser
       :prog: python -m examples.msg3d.train
"""

from __future__ import annotations

import importlib
import sys
from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import Directive, directives

WIDTH = 76  # characters: fits the text column (1280-pixel window) without a scroll bar


class ArgparseHelp(Directive):
    required_arguments = 1
    option_spec: ClassVar = {"prog": directives.unchanged}

    def run(self):
        module_name, _, function = self.arguments[0].partition(":")
        module = importlib.import_module(module_name)
        parser = getattr(module, function)()
        parser.prog = self.options.get("prog", parser.prog)
        formatter = parser.formatter_class
        parser.formatter_class = lambda prog: formatter(prog, width=WIDTH)
        env = self.state.document.settings.env
        # Rebuilt when the script or the module of its help formatter changes.
        for source in (module, sys.modules.get(formatter.__module__)):
            if getattr(source, "__file__", None):
                env.note_dependency(source.__file__)
        text = parser.format_help().rstrip()
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        block["classes"].append("argparse-help")  # kept unwrapped (docs/_static/custom.css)
        return [block]


def setup(app):
    app.add_directive("argparse-help", ArgparseHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
