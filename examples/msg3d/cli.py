"""What every command of ``examples/msg3d`` shares about its command line: numbers checked
against a stated range while the arguments are parsed (before anything is allocated or
slept), small text files read within a budget, and one error contract.

The contract: a refused argument or input ends the command with one line on stderr,
``prog: error: ...``, and exit status 2, never a traceback. Inside a command, refusing is
``raise SystemExit("message")`` (callers from Python catch it; tests match its text);
:func:`run`, the ``__main__`` entry of each command, turns it into that line and status.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import re
import stat
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO, NoReturn

import torch

from examples.msg3d.allocator import keep_freed_memory

__all__ = [
    "HelpFormatter",
    "Parser",
    "bounded_float",
    "bounded_int",
    "default_threads",
    "device",
    "json_object",
    "open_regular",
    "read_text",
    "run",
]


class HelpFormatter(argparse.HelpFormatter):
    """``--help`` with each option's default said once, one way, for every command.

    The rule: an option whose help says what happens when it is not given, as
    ``(default: ...)`` (``--layout``: ``(default: the data's)``), keeps those words; any
    other option with a default value gets ``(default: VALUE)`` (``--no-align`` style for
    an ``--x/--no-x`` switch); a flag (off unless given), a required option and one whose
    unset value is ``None`` get nothing more.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = (action.help or "").replace(" (default: %(default)s)", "")  # Python < 3.13
        default = action.default
        if "(default" in text or default is None or default is argparse.SUPPRESS or action.required:
            return text
        if isinstance(action, argparse.BooleanOptionalAction):
            shown = action.option_strings[0 if default else 1]
        elif action.nargs == 0:  # store_true / store_const: the flag itself says it
            return text
        else:
            shown = " ".join(map(str, default)) if isinstance(default, list) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})".lstrip()

    def _format_usage(self, usage, actions, groups, prefix) -> str:  # type: ignore[no-untyped-def]
        text = super()._format_usage(usage, actions, groups, prefix)
        head = f"{'usage: ' if prefix is None else prefix}{self._prog}"
        if max(map(len, text.splitlines())) <= self._width or not text.startswith(head):
            return text
        # An option too long for argparse's column under the program name: the options
        # flow from a 4-space indent instead, so no line runs past the width.
        parts = re.findall(
            r"\(.*?\)+(?=\s|$)|\[.*?\]+(?=\s|$)|\S+", " ".join(text[len(head) :].split())
        )
        lines = [head]
        for part in parts:
            if len(lines[-1]) + 1 + len(part) > self._width and lines[-1].strip():
                lines.append("   ")
            lines[-1] += f" {part}"
        return "\n".join(lines) + "\n\n"

    def _split_lines(self, text: str, width: int) -> list[str]:
        # Whole words only: never "nw-ucla-" / "small" or "--no-" / "align" across lines.
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class Parser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors are one line (no usage block) and
    whose ``--help`` shows defaults by :class:`HelpFormatter`'s rule."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def bounded_int(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``lo..hi`` (both included)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer in {lo}..{hi}, got {text!r}"
            ) from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"expected an integer in {lo}..{hi}, got {value}")
        return value

    parse.__name__ = f"integer in {lo}..{hi}"  # argparse names the type by it
    return parse


def bounded_float(lo: float, hi: float = math.inf) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in ``[lo, hi]`` (NaN and infinities refused)."""
    allowed = f"a finite number >= {lo:g}" if hi == math.inf else f"a number in {lo:g}..{hi:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text!r}") from None
        if not (math.isfinite(value) and lo <= value <= hi):
            raise argparse.ArgumentTypeError(f"expected {allowed}, got {text}")
        return value

    parse.__name__ = allowed
    return parse


def json_object(text: str) -> dict[str, object]:
    """An argparse ``type``: a JSON object (``{"name": value, ...}``)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise argparse.ArgumentTypeError(f"not JSON ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f'expected a JSON object {{"name": value, ...}}, got {type(value).__name__} {text}'
        )
    return value


THREADS_HELP = (
    "torch.set_num_threads (default: the CPUs that other work leaves idle: the CPUs this "
    "process may use less the 1-minute load average, split among torchrun's local "
    "processes, at least 1). Every CPU's thread beside busy processes made training several "
    "times slower (benchmarks/results/threads.md)"
)
"""The help of every command's ``--threads`` (whose default is :func:`default_threads`)."""


def default_threads() -> int:
    """The thread count a command runs with when ``--threads`` is not given: the CPUs that
    other work leaves idle.

    That is the CPUs this process may run on (its affinity) less the 1-minute load
    average, rounded down, split among torchrun's local processes (``LOCAL_WORLD_SIZE``),
    and at least 1. PyTorch's own default takes every CPU; beside busy processes, its
    threads wait for each other and a run slows down several times, while on a quiet
    machine the extra threads gain little (``benchmarks/results/threads.md``). Rounding
    the load down errs towards fewer threads, the cheaper mistake.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows)
        load = 0.0
    local = os.environ.get("LOCAL_WORLD_SIZE", "")
    processes = int(local) if local.isdigit() and int(local) > 0 else 1
    return max(1, int(cpus - load) // processes)


def device(text: str) -> torch.device:
    """An argparse ``type``: a torch device this machine has (``cpu``, ``cuda``, ``cuda:1``,
    ``mps``), so that a missing GPU is an argument error, not a failure while loading."""
    try:
        value = torch.device(text)
    except (RuntimeError, ValueError):
        value = None
    if value is None or value.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"expected cpu, cuda, cuda:N or mps, got {text!r}")
    if value.type == "cuda" and (value.index or 0) >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(
            f"{text}: this machine has {torch.cuda.device_count()} CUDA devices"
        )
    if value.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError("mps: not available on this machine")
    return value


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """A regular file opened for binary reading; a FIFO, a device (``/dev/zero``) or a
    socket is refused after opening without blocking, judged by what a symlink points to.

    Raises
    ------
    FileNotFoundError, PermissionError, IsADirectoryError
        From opening.
    ValueError
        ``"not a regular file"``.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
        if not stat.S_ISREG(mode):
            raise ValueError("not a regular file")
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_text(path: str | os.PathLike[str], what: str, max_bytes: int = 1 << 20) -> str:
    """The UTF-8 text of a small regular file, read without reading more than
    ``max_bytes`` (a class-name list, say: ``/dev/zero`` or a FIFO is refused, not read).

    Raises
    ------
    SystemExit
        Unreadable, not a regular file, over ``max_bytes`` or not UTF-8; the message starts
        with ``what`` (the option, e.g. ``"--class-names"``) and names the file.
    """
    try:
        with open_regular(path) as file:
            data = file.read(max_bytes + 1)
    except OSError as error:
        raise SystemExit(f"{what}: cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise SystemExit(f"{what}: {path}: {error}") from None
    if len(data) > max_bytes:
        raise SystemExit(f"{what}: {path} is over {max_bytes} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SystemExit(f"{what}: {path} is not UTF-8 text ({error.reason})") from None


def run(main: Callable[[Sequence[str] | None], int | None]) -> int:
    """Run a command's ``main`` under the error contract of this module; its exit status.

    First the process set-up every command shares: freed memory kept in the process
    (:func:`~examples.msg3d.allocator.keep_freed_memory`, unless the environment chose an
    allocator). ``SystemExit("message")`` becomes ``prog: error: message`` (one line) and status 2;
    Ctrl-C ends quietly with 130, a closed stdout (``| head``) with 141, as shells expect.
    """
    prog = Path(sys.argv[0]).name
    keep_freed_memory()
    try:
        return main(None) or 0
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        message = " ".join(str(stop.code).split())  # one line, whatever the message holds
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 141
