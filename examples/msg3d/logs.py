"""What a run reports: progress bars on a terminal or heartbeat lines elsewhere, the
per-epoch line, ``metrics.json``, ``curves.png``, the best epoch's ``val_scores.npz`` and
``confusion.png``, and TensorBoard scalars.

Every file goes through :meth:`RunFolder.write <examples.msg3d.run_folder.RunFolder.write>`:
written in full beside its name, then renamed over it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

import numpy as np

from examples.msg3d.run_folder import RunFolder

__all__ = [
    "HEARTBEAT_SECONDS",
    "PROGRESS",
    "Heartbeat",
    "NoBar",
    "duration",
    "epoch_line",
    "open_tensorboard",
    "plot_curves",
    "progress",
    "write_metrics",
    "write_scores",
]


HEARTBEAT_SECONDS = 30.0
"""Seconds between two :class:`Heartbeat` lines."""

PROGRESS = ("bars", "lines", "off")
"""How a run reports its progress within an epoch (:func:`progress`)."""


def progress(kind: str) -> Callable[..., Any]:
    """What wraps the loops of a run: ``"bars"``: ``tqdm.tqdm`` (imported lazily, for a
    terminal); ``"lines"``: :class:`Heartbeat` (for a log file); ``"off"``: :class:`NoBar`."""
    if kind not in PROGRESS:
        raise ValueError(f"progress: expected one of {PROGRESS}, got {kind!r}")
    if kind == "lines":
        return Heartbeat
    if kind == "off":
        return NoBar
    try:
        from tqdm.auto import tqdm
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise SystemExit(
            "progress bars need tqdm: pip install tqdm (or pass --no-progress to run without)"
        ) from error
    return tqdm


class NoBar:
    """tqdm's interface, doing nothing but iterating."""

    def __init__(self, iterable: Iterable[Any] | None = None, **_: Any) -> None:
        self.iterable = iterable

    def __iter__(self) -> Any:
        return iter(self.iterable or ())

    def set_postfix(self, *_: Any, **__: Any) -> None:
        """Ignored."""

    def update(self, *_: Any) -> None:
        """Ignored."""

    def close(self) -> None:
        """Ignored."""


class Heartbeat(NoBar):
    """tqdm's interface for output that is not a terminal: while a loop runs, at most one
    line every ``interval`` seconds on stderr, with the count done and the time left at
    the rate so far, e.g. ``epoch 3/50: batch 40/120 (33 %), 30 s, ETA 1 min 0 s;
    loss=2.104, acc=0.312``. No line after the last item (the caller reports it).

    Parameters
    ----------
    iterable : iterable, optional
        What the loop runs over.
    desc : str
        The loop's name, first on each line.
    total : int, optional
        Items in all (default ``len(iterable)``, if it has one).
    initial : int
        Items done before (a resumed run's epochs).
    unit : str
        What an item is (``batch``, ``epoch``).
    interval : float, optional
        Seconds between lines (default :data:`HEARTBEAT_SECONDS`).
    clock : callable
        Seconds now (tests pass their own).
    """

    def __init__(
        self,
        iterable: Iterable[Any] | None = None,
        desc: str = "",
        total: int | None = None,
        initial: int = 0,
        unit: str = "it",
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        **_: Any,
    ) -> None:
        super().__init__(iterable)
        if total is None and hasattr(iterable, "__len__"):
            total = initial + len(iterable)  # type: ignore[arg-type]
        self.desc, self.total, self.initial, self.unit = desc, total, initial, unit
        self.interval = HEARTBEAT_SECONDS if interval is None else interval
        self.clock = clock
        self.postfix = ""

    def __iter__(self) -> Any:
        start = last = self.clock()
        done = self.initial
        for item in self.iterable or ():
            yield item
            done += 1
            now = self.clock()
            if now - last >= self.interval and (self.total is None or done < self.total):
                print(self.line(done, now - start), file=sys.stderr, flush=True)
                last = now

    def line(self, done: int, seconds: float) -> str:
        """The report after ``done`` items in ``seconds`` (those of this loop only)."""
        text = f"{self.desc}: {self.unit} {done}"
        if self.total:
            rate = seconds / max(done - self.initial, 1)
            text += (
                f"/{self.total} ({100 * done // self.total} %), {duration(seconds)}, "
                f"ETA {duration(rate * (self.total - done))}"
            )
        else:
            text += f", {duration(seconds)}"
        return f"{text}; {self.postfix}" if self.postfix else text

    def set_postfix(self, *_: Any, **values: Any) -> None:
        """Shown at the end of the next line, ``name=value`` (tqdm's ``set_postfix``)."""
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())


def duration(seconds: float) -> str:
    """``45 s``, ``12 min 5 s``, ``2 h 3 min``: a time span for a reader.

    >>> duration(59.6), duration(725), duration(7380)
    ('60 s', '12 min 5 s', '2 h 3 min')
    """
    s = round(seconds)
    if s <= 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def epoch_line(row: dict[str, Any], epochs: int) -> str:
    """The line printed after each epoch when there are no progress bars."""
    return (
        f"epoch {row['epoch']}/{epochs} lr {row['lr']:.4g} "
        f"train loss {row['train_loss']:.3f} top-1 {row['train_top1']:.3f} | "
        f"test loss {row['test_loss']:.3f} top-1 {row['test_top1']:.3f} "
        f"top-5 {row['test_top5']:.3f} ({row['seconds']:.0f} s)"
    )


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any, **kwargs: Any) -> Callable[[BinaryIO], None]:
    return lambda file: fig.savefig(file, format="png", dpi=100, **kwargs)


def plot_curves(history: list[dict[str, Any]], path: str | os.PathLike[str] | BinaryIO) -> None:
    """Loss and accuracy per epoch (train and test) as a PNG (matplotlib, Agg)."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["test_loss"] for h in history], "s-", label="test")
    ax1.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax2.plot(epochs, [100 * h["train_top1"] for h in history], "o-", label="train top-1")
    ax2.plot(epochs, [100 * h["test_top1"] for h in history], "s-", label="test top-1")
    ax2.plot(epochs, [100 * h["test_top5"] for h in history], "^--", label="test top-5")
    ax2.set(xlabel="epoch", ylabel="%", title="accuracy", ylim=(0, 100))
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    try:
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)


def write_metrics(folder: RunFolder, record: dict[str, Any]) -> None:
    """``metrics.json`` (the run's settings and per-epoch rows) and ``curves.png``."""
    text = json.dumps(record, indent=2) + "\n"
    folder.write("metrics.json", lambda file: file.write(text.encode()))
    if record["epochs"]:
        folder.write("curves.png", lambda file: plot_curves(record["epochs"], file))


def write_scores(
    folder: RunFolder,
    scores: dict[str, np.ndarray],
    confusion: np.ndarray,
    class_names: list[str] | None,
    epoch: int,
) -> None:
    """``val_scores.npz`` (``ids``, ``labels``, ``logits`` of every validation sample, and
    ``stream``, ``epoch``, ``class_names``; what ``fuse.py`` reads) and ``confusion.png``."""
    folder.write("val_scores.npz", lambda file: np.savez(file, **scores))
    from skelgraph.metrics import plot_confusion_matrix

    plt = _pyplot()
    ax = plot_confusion_matrix(confusion, class_names)
    ax.set_title(f"validation, epoch {epoch}")
    try:
        folder.write("confusion.png", _png(ax.figure, bbox_inches="tight"))
    finally:
        plt.close(ax.figure)


def open_tensorboard(folder: str) -> Any:
    """A ``SummaryWriter`` logging to ``folder``, or a ``SystemExit`` if tensorboard is
    missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise SystemExit(
            "--tensorboard needs the tensorboard package (pip install tensorboard); "
            "metrics.json and curves.png are written without it"
        ) from None
    return SummaryWriter(folder)
