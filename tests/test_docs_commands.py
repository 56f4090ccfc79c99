"""The shell commands of the tutorials run as written from a clone (tests/shell_blocks.py),
and the outputs they show are what they print."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.shell_blocks import Clone, rst_blocks, same_output

BLOCKS = [
    block
    for page in sorted((ROOT / "docs" / "tutorials").glob("*.rst"))
    for block in rst_blocks(page)
]


def test_tutorials_have_command_blocks():
    assert len(BLOCKS) >= 5 and all(BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda block: block[0].where)
def test_tutorial_commands_run(block, tmp_path, monkeypatch):
    clone = Clone(tmp_path, monkeypatch)
    for command in block:
        printed = clone.run(command)
        if command.output:
            assert same_output(command.output, printed), (
                f"{command.where}: {command} printed\n{printed}shown\n{command.output}"
            )


def test_real_data_commands_skip_without_the_fixtures(tmp_path, monkeypatch):
    clone = Clone(tmp_path, monkeypatch)
    clone.shared = tmp_path / "absent"
    command = next(c for b in BLOCKS for c in b if any("../shared/" in w for w in c.words))
    with pytest.raises(pytest.skip.Exception, match=r"\.\./shared/fixtures is absent"):
        clone.run(command)
