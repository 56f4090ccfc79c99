"""The output folder of one training run: claimed by a lock, written file by file atomically.

Nothing a run wrote is lost: a folder that holds a run is refused unless the run resumes
it or ``--overwrite`` says to replace it; a lock (``train.lock`` while the run lasts, an
``flock`` the kernel drops when its process dies, holding that process's id) keeps a
second run out; every file is written beside its final name and renamed over it, so a
full disk or a kill leaves the previous good file, never a partial one.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

__all__ = ["LOCK_NAME", "RUN_FILES", "RunFolder"]

LOCK_NAME = "train.lock"
RUN_FILES = ("last.pt", "best.pt", "metrics.json", "val_scores.npz")
"""Files whose presence means the folder holds a run."""

Writer = Callable[[BinaryIO], None]


class RunFolder:
    """The folder ``path`` claimed for one run (a context manager).

    Parameters
    ----------
    path : str or path
        The output folder; created if missing.
    resume : bool
        The run continues the one in the folder.
    overwrite : bool
        Replace a run found in the folder.
    """

    def __init__(self, path: str | os.PathLike[str], *, resume: bool, overwrite: bool) -> None:
        self.path = Path(path)
        self.resume, self.overwrite = resume, overwrite
        self._lock: BinaryIO | None = None

    def __enter__(self) -> RunFolder:
        return self.open()

    def open(self) -> RunFolder:
        """Create the folder, take its lock, refuse a run in it (unless resuming or
        overwriting) and remove temporaries a killed run left; ``self``."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise SystemExit(f"--out {self.path}: cannot create it ({error.strerror})") from None
        self._acquire()
        try:
            found = [name for name in RUN_FILES if (self.path / name).exists()]
            if found and not (self.resume or self.overwrite):
                raise SystemExit(
                    f"--out {self.path} holds a run ({', '.join(found)}); pass --resume to "
                    "continue it, --overwrite to replace it, or another --out"
                )
            for stale in self.path.glob("*.tmp"):  # left by a run killed while saving
                stale.unlink()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _acquire(self) -> None:
        lock_path = self.path / LOCK_NAME
        while True:
            lock = self._try_lock(lock_path)
            try:  # the file we locked may have been removed by its last holder meanwhile
                if os.fstat(lock.fileno()).st_ino == os.stat(lock_path).st_ino:
                    break
            except FileNotFoundError:
                pass
            lock.close()
        # A file left by a dead process holds no state: it is simply locked again.
        lock.seek(0)
        lock.truncate()
        lock.write(f"process {os.getpid()} on {socket.gethostname()}\n".encode())
        lock.flush()
        self._lock = lock

    def _try_lock(self, lock_path: Path) -> BinaryIO:
        try:
            lock = open(lock_path, "a+b")  # held open for the whole run
        except OSError as error:
            raise SystemExit(f"{lock_path}: cannot open the run lock ({error.strerror})") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read(200).decode("utf-8", "replace").strip() or "another process"
            lock.close()
            raise SystemExit(
                f"--out {self.path} is in use by {holder} (lock {lock_path}); wait for that "
                "run to end or choose another --out"
            ) from None
        return lock

    def close(self) -> None:
        """Remove the lock file and release the lock; idempotent. (A run that opened the
        file just before its removal notices, after locking it, that it is no longer the
        folder's lock, and tries again.)"""
        if self._lock is None:
            return
        (self.path / LOCK_NAME).unlink(missing_ok=True)
        self._lock.close()
        self._lock = None

    def write(self, name: str, writer: Writer) -> None:
        """Write ``name`` with ``writer(file)`` atomically; see :meth:`write_all`."""
        self.write_all([(name, writer)])

    def write_all(self, files: Sequence[tuple[str, Writer]]) -> None:
        """Write every file in full to ``NAME.tmp``, then rename them in the order given.

        A run killed between the renames keeps a consistent earlier set for the files
        not yet renamed. A failed write (a full disk) removes the temporaries, keeps the
        previous files, and raises ``SystemExit`` naming the file.
        """
        written: list[Path] = []
        try:
            for name, writer in files:
                tmp = self.path / f"{name}.tmp"
                written.append(tmp)
                with open(tmp, "wb") as file:
                    writer(file)
                    file.flush()
                    os.fsync(file.fileno())
        except OSError as error:
            for tmp in written:
                tmp.unlink(missing_ok=True)
            reason = error.strerror or str(error)
            raise SystemExit(
                f"cannot write {self.path / name}: {reason}; the previous {name} is kept"
            ) from None
        for tmp in written:
            os.replace(tmp, tmp.with_suffix(""))
