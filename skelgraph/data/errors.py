"""The one error the readers raise for input they cannot parse."""

from __future__ import annotations

import os

__all__ = ["SkeletonFormatError"]


class SkeletonFormatError(ValueError):
    """A skeleton file (or array) does not follow its format.

    Every reader raises this, never ``IndexError``, ``KeyError`` or a bare ``ValueError``,
    for a truncated or empty file, a wrong joint count, a non-numeric or non-finite field,
    or a structure it does not expect. The message names the file and, where known, the
    1-based line number (text and JSON files) or the 0-based frame index.

    Parameters
    ----------
    reason : str
        What is wrong, e.g. ``"expected 25 joints, got 24"``.
    path : str or os.PathLike, optional
        The file; ``None`` for an in-memory array.
    line : int, optional
        1-based line number in the file.
    frame : int, optional
        0-based frame index in the sequence.

    Attributes
    ----------
    path : str or None
    line : int or None
    frame : int or None
    reason : str

    Examples
    --------
    >>> str(SkeletonFormatError("expected 25 joints, got 24", "a.skeleton", line=7))
    'a.skeleton, line 7: expected 25 joints, got 24'
    """

    def __init__(
        self,
        reason: str,
        path: str | os.PathLike[str] | None = None,
        *,
        line: int | None = None,
        frame: int | None = None,
    ) -> None:
        self.reason = reason
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.frame = frame
        where = [self.path if self.path is not None else "<array>"]
        if line is not None:
            where.append(f"line {line}")
        if frame is not None:
            where.append(f"frame {frame}")
        super().__init__(f"{', '.join(where)}: {reason}")

    def __reduce__(self):  # keep pickling (multiprocessing data loaders) working
        return (
            _rebuild,
            (self.reason, self.path, self.line, self.frame),
        )


def _rebuild(reason: str, path: str | None, line: int | None, frame: int | None):
    return SkeletonFormatError(reason, path, line=line, frame=frame)
