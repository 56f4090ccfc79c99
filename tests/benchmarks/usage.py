"""A benchmark script's command line refusing a value: the shared assertion."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def assert_refused_integer(
    main: Callable[[list[str]], object],
    option: str,
    value: str,
    capsys,
    expected: str = "expected an integer in",
):
    """``main([option, value, "--quick"])`` exits with argparse's usage error, naming the
    option, the allowed range (``expected``: how it begins) and the value received."""
    with pytest.raises(SystemExit) as exit_:
        main([option, value, "--quick"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert option in err and expected in err and value in err
