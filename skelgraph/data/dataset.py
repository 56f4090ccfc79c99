"""A PyTorch dataset of skeleton sequences, with an on-disk ``.npy`` cache."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from skelgraph.data.cache_key import dataset_key
from skelgraph.data.readers._common import MAX_LABEL
from skelgraph.data.sample import SkeletonSample

try:
    import fcntl
except ImportError:  # Windows: builders are not serialised
    fcntl = None  # type: ignore[assignment]

__all__ = ["SkeletonDataset"]

_DATA, _LABELS, _INDEX = "data.npy", "labels.npy", "index.json"

Reader = Callable[[str], SkeletonSample]
ArrayTransform = Callable[[np.ndarray], np.ndarray]


class SkeletonDataset(Dataset):
    """Skeleton sequences as ``(tensor (C, T, V, M) float32, label int)`` pairs.

    Build it from files with :meth:`from_files` (a reader, optional deterministic
    preprocessing, optional cache folder) or from arrays already on disk with
    :meth:`from_arrays`; or pass arrays directly. Arrays on disk are memory-mapped
    (``np.load(mmap_mode="r")``), so a dataset larger than memory costs only what is read.
    Nothing is pickled: the cache is ``data.npy`` (N, C, T, V, M) float32,
    ``labels.npy`` (N,) int64 and ``index.json`` (what the cache was built from).

    Parameters
    ----------
    data : numpy.ndarray
        Shape (N, C, T, V, M); any float dtype (items come out as float32).
    labels : array_like, optional
        (N,) 0-based ints up to 2**31 - 1; -1 stands for "no label". Defaults to all -1.
        Other negative, fractional or larger values are a ``ValueError``.
    transform : callable, optional
        Applied to each item's (C, T, V, M) float32 array (a writable copy) before it
        becomes a tensor: augmentation, bone or motion features (see
        ``skelgraph.data.transforms``).
    names : sequence of str, optional
        One name per item (e.g. its file), for ``names``.

    Examples
    --------
    >>> import numpy as np
    >>> ds = SkeletonDataset(np.zeros((4, 3, 10, 25, 2)), [0, 1, 2, 3])
    >>> x, y = ds[1]
    >>> tuple(x.shape), x.dtype, y
    ((3, 10, 25, 2), torch.float32, 1)
    """

    def __init__(
        self,
        data: np.ndarray,
        labels: Sequence[int] | np.ndarray | None = None,
        *,
        transform: ArrayTransform | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        if data.ndim != 5:
            raise ValueError(f"data must have shape (N, C, T, V, M), got {data.shape}")
        labels = np.full(len(data), -1, np.int64) if labels is None else _check_labels(labels)
        if labels.shape != (len(data),):
            raise ValueError(f"expected {len(data)} labels, got shape {labels.shape}")
        if names is not None and len(names) != len(data):
            raise ValueError(f"expected {len(data)} names, got {len(names)}")
        self._data = data
        self.labels = labels
        self.transform = transform
        self.names = None if names is None else list(names)
        self._paths: tuple[str, str] | None = None

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        data_path: str | os.PathLike[str],
        label_path: str | os.PathLike[str] | None = None,
        *,
        transform: ArrayTransform | None = None,
        mmap: bool = True,
    ) -> SkeletonDataset:
        """A dataset over a preprocessed ``.npy`` array (N, C, T, V, M) and its labels.

        Parameters
        ----------
        data_path : str or path
            ``.npy`` file, e.g. the authors' ``train_data_joint.npy``.
        label_path : str or path, optional
            ``.npy`` file of N integer labels (pickles are refused).
        transform : callable, optional
            Applied to each sample's (C, T, V, M) array when it is read, as for the class.
        mmap : bool
            Memory-map the data instead of loading it.
        """
        data = np.load(data_path, mmap_mode="r" if mmap else None, allow_pickle=False)
        labels = None if label_path is None else np.load(label_path, allow_pickle=False)
        dataset = cls(data, labels, transform=transform)
        if mmap:
            dataset._paths = (os.fspath(data_path), os.fspath(label_path or ""))
        return dataset

    @classmethod
    def from_files(
        cls,
        files: Sequence[str | os.PathLike[str]],
        reader: Reader,
        *,
        preprocess: ArrayTransform | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        transform: ArrayTransform | None = None,
        labels: Sequence[int] | None = None,
        rebuild: bool = False,
        cache_key: str | None = None,
    ) -> SkeletonDataset:
        """Read files with ``reader``, preprocess them once, and cache the result.

        Parameters
        ----------
        files : sequence of str or path
            One file (or folder, for :func:`read_openpose_folder`) per sample, in order.
        reader : callable
            ``reader(path) -> SkeletonSample``, e.g. :func:`read_ntu_skeleton` or a
            :func:`functools.partial` of one.
        preprocess : callable, optional
            Deterministic (C, T, V, M) → (C, T', V, M) step run once per file before
            caching, e.g. ``PaperPreprocess("ntu-rgbd")``. All its outputs must share one
            shape; without it the files' own shapes must agree.
        cache_dir : str or path, optional
            Folder for ``data.npy``, ``labels.npy`` and ``index.json``. When it holds a
            cache built from the same content, that cache is memory-mapped and no file
            is read. The content is keyed by the files (paths, sizes, modification
            times), the labels, and a description of ``reader`` and ``preprocess``
            (:func:`~skelgraph.data.cache_key.describe`: for a function its qualified
            name, a hash of its code and the values it captures). A reader whose
            description would rest on an object's address (a lambda capturing an object
            without a ``repr``, for instance) is refused unless ``cache_key`` is given. Code
            called by the reader is not part of the key: after editing it, pass
            ``rebuild=True``. A cache that is truncated, corrupt or half-written (a
            build that was killed) is detected and rebuilt. Builders of one folder take
            turns (an ``flock`` on the folder, where the platform has it): a second one
            waits, then reuses what the first built.
        transform : callable, optional
            Per-item transform at access time (augmentation, features).
        labels : sequence of int, optional
            Labels overriding the readers' (whose ``None`` becomes -1); each in
            -1..2**31 - 1.
        rebuild : bool
            Ignore an existing cache.
        cache_key : str, optional
            Your name for the reader, used in the key instead of its description (the
            files, labels and preprocessing stay in it), and for the preprocessing too if
            that cannot be described: for readers that cannot be told apart otherwise.
            Change it whenever they change.

        Raises
        ------
        SkeletonFormatError
            From the reader, naming the bad file.
        ValueError
            No files, a labels list of the wrong length, labels out of range, samples of
            differing shapes, or (with ``cache_dir``) a reader or preprocessing that
            cannot be identified and no ``cache_key``.
        """
        paths = [os.fspath(f) for f in files]
        if not paths:
            raise ValueError("no files given")
        if labels is not None:
            if len(labels) != len(paths):
                raise ValueError(f"expected {len(paths)} labels, got {len(labels)}")
            labels = _check_labels(labels).tolist()
        if cache_dir is None:
            out, found = cls._read_all(paths, reader, preprocess)
            final = found if labels is None else np.asarray(labels, np.int64)
            return cls(out, final, transform=transform, names=paths)

        key = dataset_key(paths, labels, reader, preprocess, cache_key)
        cache = Path(cache_dir)
        cache.mkdir(parents=True, exist_ok=True)
        with _locked(cache):
            if rebuild or not _cache_matches(cache, key):
                cls._build(cache, key, paths, reader, preprocess, labels)
            dataset = cls.from_arrays(cache / _DATA, cache / _LABELS, transform=transform)
        dataset.names = paths
        return dataset

    @classmethod
    def _build(
        cls,
        cache: Path,
        key: dict[str, Any],
        paths: list[str],
        reader: Reader,
        preprocess: ArrayTransform | None,
        labels: list[int] | None,
    ) -> None:
        """Write data, labels and index in a temporary folder, then move them in.

        ``index.json`` moves last and records the size, modification time and inode of
        the two arrays it belongs to: until it is in place (a build killed halfway), the
        old index does not match the new arrays, and the cache is rebuilt.
        """
        for stale in cache.glob(".build-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        work = cache / f".build-{os.getpid()}-{secrets.token_hex(4)}"
        work.mkdir()
        try:
            out, found = cls._read_all(paths, reader, preprocess, work / _DATA)
            assert isinstance(out, np.memmap)
            out.flush()
            del out
            np.save(work / _LABELS, found if labels is None else np.asarray(labels, np.int64))
            index = dict(key, arrays=[_fingerprint(work / _DATA), _fingerprint(work / _LABELS)])
            (work / _INDEX).write_text(json.dumps(index))
            (cache / _INDEX).unlink(missing_ok=True)  # from here on no stale index matches
            os.replace(work / _DATA, cache / _DATA)
            os.replace(work / _LABELS, cache / _LABELS)
            os.replace(work / _INDEX, cache / _INDEX)  # the commit point
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _read_all(
        paths: list[str],
        reader: Reader,
        preprocess: ArrayTransform | None,
        out_path: Path | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        out: np.ndarray | None = None
        found = np.full(len(paths), -1, np.int64)
        for i, path in enumerate(paths):
            sample = reader(path)
            array = sample.data if preprocess is None else preprocess(sample.data)
            array = np.asarray(array, dtype=np.float32)
            if out is None:
                shape = (len(paths), *array.shape)
                if out_path is None:
                    out = np.empty(shape, np.float32)
                else:
                    out = np.lib.format.open_memmap(
                        out_path, mode="w+", dtype=np.float32, shape=shape
                    )
            if array.shape != out.shape[1:]:
                raise ValueError(
                    f"{path}: sample shape {array.shape} differs from the first sample's "
                    f"{out.shape[1:]}; pass preprocess= (e.g. PaperPreprocess, PadToLength "
                    "or ResampleFrames) to give every sample the same number of frames"
                )
            out[i] = array
            if sample.label is not None:
                found[i] = _check_labels([sample.label], f"{path}: the reader's label")[0]
        assert out is not None
        return out, found

    # ------------------------------------------------------------------ access
    @property
    def data(self) -> np.ndarray:
        """All sequences, (N, C, T, V, M), possibly memory-mapped and read-only."""
        return self._data

    def __len__(self) -> int:
        return len(self._data)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = np.array(self._data[index], dtype=np.float32)
        if self.transform is not None:
            x = self.transform(x)
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), int(self.labels[index])

    def __repr__(self) -> str:
        return (
            f"SkeletonDataset({len(self)} samples, item shape {tuple(self._data.shape[1:])}, "
            f"transform={self.transform!r})"
        )

    # Memory-mapped data is reopened, not copied, when a worker process unpickles us.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self._paths is not None:
            state["_data"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._data is None and self._paths is not None:
            self._data = np.load(self._paths[0], mmap_mode="r", allow_pickle=False)


def _fingerprint(path: Path) -> list[int]:
    info = os.stat(path)
    return [info.st_size, info.st_mtime_ns, info.st_ino]


def _check_labels(labels: Any, what: str = "labels") -> np.ndarray:
    """``labels`` as int64, each in -1..MAX_LABEL (-1: no label), or a ``ValueError``."""
    array = np.asarray(labels)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(f"{what} must be integers, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating) and not np.array_equal(array, np.round(array)):
        raise ValueError(f"{what} must be integers, got fractional values")
    if array.size and (array.min() < -1 or array.max() > MAX_LABEL):
        raise ValueError(
            f"{what} must be in -1..{MAX_LABEL} (-1: no label), got values from "
            f"{array.min()} to {array.max()}"
        )
    return array.astype(np.int64)


@contextlib.contextmanager
def _locked(folder: Path):
    """Hold an exclusive ``flock`` on ``folder`` (a no-op where there is no ``fcntl``)."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _cache_matches(cache: Path, key: dict[str, Any]) -> bool:
    """Whether ``cache`` holds a complete, intact build for ``key``."""
    try:
        stored = json.loads((cache / _INDEX).read_text())
        arrays = stored.pop("arrays")
        if stored != key:
            return False
        # the very arrays this index was written with (not those of a killed later build)
        if arrays != [_fingerprint(cache / _DATA), _fingerprint(cache / _LABELS)]:
            return False
        data = np.load(cache / _DATA, mmap_mode="r", allow_pickle=False)
        labels = np.load(cache / _LABELS, allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError):
        return False  # missing, truncated or corrupt: rebuild
    n = len(key["files"])
    return (
        data.dtype == np.float32
        and data.ndim == 5
        and data.shape[0] == n
        and labels.shape == (n,)
        and labels.dtype == np.int64
    )
