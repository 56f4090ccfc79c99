"""Argument types for the commands: each bounds its value and names the range it allows.

Used as ``argparse`` ``type=``: a refused value becomes argparse's one-line usage error and
exit status 2, before anything is read, allocated or slept.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from examples.msg3d.config import describe_range

__all__ = [
    "MAX_TEXT_BYTES",
    "CommandError",
    "Parser",
    "fail",
    "float_range",
    "int_range",
    "json_object",
    "read_text_bounded",
]

MAX_TEXT_BYTES = 1 << 20
"""The most a text option file (class names, a config) may hold: 1 MiB."""


def int_range(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in [{low}, {high}], got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(low: float, high: float, open_low: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in ``[low, high]`` (``(low, high]`` if ``open_low``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        above_low = low < value if open_low else low <= value
        if not (math.isfinite(value) and above_low and value <= high):
            raise argparse.ArgumentTypeError(
                f"must be {describe_range(low, high, open_low)}, got {text}"
            )
        return value

    parse.__name__ = "number"
    return parse


def json_object(text: str) -> dict[str, Any]:
    """An argparse type: a JSON object (``{"name": value, ...}``)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f'expected a JSON object {{"name": value, ...}}, got {type(value).__name__} {text}'
        )
    return value


def read_text_bounded(path: str | os.PathLike[str], limit: int = MAX_TEXT_BYTES) -> str:
    """A UTF-8 text file of at most ``limit`` bytes (``/dev/zero`` is refused, not read).

    Raises
    ------
    ValueError
        A file larger than ``limit``, or not UTF-8, naming the path; ``OSError`` as
        ``open`` raises it.
    """
    with open(path, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{os.fspath(path)}: more than {limit} bytes; expected a small text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{os.fspath(path)}: not UTF-8 text ({error.reason})") from None


class CommandError(SystemExit):
    """A command's refusal: ``str()`` is the message, the exit status is 2 (as argparse's)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = 2


def fail(prog: str, message: str) -> CommandError:
    """Print ``PROG: error: MESSAGE`` as one line on stderr; the exception to raise."""
    line = " ".join(str(message).split())
    print(f"{prog}: error: {line}", file=sys.stderr)
    return CommandError(line)


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (``PROG: error: ...``), exit 2,
    without the usage block that a long option list would print."""

    def error(self, message: str) -> NoReturn:
        """Print ``message`` as one line and exit with status 2."""
        raise fail(self.prog, f"{message} (see --help)")
