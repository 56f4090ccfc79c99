"""The README's Python examples and shell commands run as written (from a clone: see
tests/shell_blocks.py)."""

from __future__ import annotations

import re

import pytest
import torch

from tests.conftest import ROOT
from tests.shell_blocks import Clone, markdown_blocks, same_output

README = ROOT / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert BLOCKS


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, capsys, tmp_path, monkeypatch):
    code = BLOCKS[index]
    if "ntu60_xsub_joint.pt" in code:
        # Stand-in for the authors' checkpoint: the reference model in their key names.
        from examples.msg3d.model import MSG3DNet
        from skelgraph.nn.authors import model_to_authors

        model = MSG3DNet.from_preset("ntu60")
        torch.save(model_to_authors(model.state_dict(), model), tmp_path / "ntu60_xsub_joint.pt")
        monkeypatch.chdir(tmp_path)
        code = code.replace("torch.randn(1, 3, 300, 25, 2)", "torch.randn(1, 3, 20, 25, 2)")
    exec(compile(code, f"README.md[python block {index}]", "exec"), {})
    assert capsys.readouterr().out


COMMAND_BLOCKS = markdown_blocks(README)


def test_readme_has_command_blocks():
    assert len(COMMAND_BLOCKS) >= 5 and all(COMMAND_BLOCKS)


@pytest.mark.parametrize("index", range(len(COMMAND_BLOCKS)))
def test_readme_commands_run(index, tmp_path, monkeypatch):
    clone = Clone(tmp_path, monkeypatch)
    for command in COMMAND_BLOCKS[index]:
        printed = clone.run(command)
        if command.output:
            assert same_output(command.output, printed), (
                f"{command.where}: {command} printed\n{printed}shown\n{command.output}"
            )
