"""A PyTorch dataset of skeleton sequences, with an on-disk ``.npy`` cache."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from skelgraph.data.sample import SkeletonSample

__all__ = ["SkeletonDataset"]

_DATA, _LABELS, _INDEX = "data.npy", "labels.npy", "index.json"
_CACHE_VERSION = 1

Reader = Callable[[str], SkeletonSample]
ArrayTransform = Callable[[np.ndarray], np.ndarray]


def _describe(obj: Any) -> str | None:
    """A stable description of a reader or transform, for the cache key."""
    if obj is None:
        return None
    if isinstance(obj, functools.partial):
        return f"partial({_describe(obj.func)}, {obj.args!r}, {sorted(obj.keywords.items())!r})"
    if hasattr(obj, "__qualname__"):
        return f"{getattr(obj, '__module__', '?')}.{obj.__qualname__}"
    return repr(obj)


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
        (N,) 0-based ints; -1 stands for "no label". Defaults to all -1.
    transform : callable, optional
        Applied to each item's (C, T, V, M) float32 array (a writable copy) before it
        becomes a tensor: augmentation, bone or motion features (see
        :mod:`skelgraph.data.transforms`).
    names : sequence of str, optional
        One name per item (e.g. its file), for :attr:`names`.

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
        labels = np.full(len(data), -1, np.int64) if labels is None else np.asarray(labels)
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
            cache built from the same files (names, sizes, modification times), reader
            and preprocessing, that cache is memory-mapped and no file is read. Readers
            and plain functions are recognised by qualified name, transform objects by
            ``repr``: after editing a function's code, pass ``rebuild=True``.
        transform : callable, optional
            Per-item transform at access time (augmentation, features).
        labels : sequence of int, optional
            Labels overriding the readers' (whose ``None`` becomes -1).
        rebuild : bool
            Ignore an existing cache.

        Raises
        ------
        SkeletonFormatError
            From the reader, naming the bad file.
        ValueError
            No files, a labels list of the wrong length, or samples of differing shapes.
        """
        paths = [os.fspath(f) for f in files]
        if not paths:
            raise ValueError("no files given")
        if labels is not None and len(labels) != len(paths):
            raise ValueError(f"expected {len(paths)} labels, got {len(labels)}")
        key = {
            "version": _CACHE_VERSION,
            "reader": _describe(reader),
            "preprocess": _describe(preprocess),
            "files": [_stat(p) for p in paths],
            "labels": None if labels is None else [int(x) for x in labels],
        }
        if cache_dir is not None:
            cache = Path(cache_dir)
            if not rebuild and _cache_matches(cache, key):
                dataset = cls.from_arrays(cache / _DATA, cache / _LABELS, transform=transform)
                dataset.names = paths
                return dataset
            cache.mkdir(parents=True, exist_ok=True)
        try:
            out, found = cls._read_all(paths, reader, preprocess, cache_dir)
        except BaseException:
            if cache_dir is not None:
                Path(cache_dir, _DATA + ".tmp").unlink(missing_ok=True)
            raise
        final_labels = found if labels is None else np.asarray(labels, np.int64)
        if cache_dir is None:
            return cls(out, final_labels, transform=transform, names=paths)
        cache = Path(cache_dir)
        assert isinstance(out, np.memmap)
        out.flush()
        del out
        os.replace(cache / (_DATA + ".tmp"), cache / _DATA)
        np.save(cache / _LABELS, final_labels)
        (cache / _INDEX).write_text(json.dumps(key))
        dataset = cls.from_arrays(cache / _DATA, cache / _LABELS, transform=transform)
        dataset.names = paths
        return dataset

    @staticmethod
    def _read_all(
        paths: list[str],
        reader: Reader,
        preprocess: ArrayTransform | None,
        cache_dir: str | os.PathLike[str] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        out: np.ndarray | None = None
        found = np.full(len(paths), -1, np.int64)
        for i, path in enumerate(paths):
            sample = reader(path)
            array = sample.data if preprocess is None else preprocess(sample.data)
            array = np.asarray(array, dtype=np.float32)
            if out is None:
                shape = (len(paths), *array.shape)
                if cache_dir is None:
                    out = np.empty(shape, np.float32)
                else:
                    out = np.lib.format.open_memmap(
                        Path(cache_dir, _DATA + ".tmp"), mode="w+", dtype=np.float32, shape=shape
                    )
            if array.shape != out.shape[1:]:
                raise ValueError(
                    f"{path}: sample shape {array.shape} differs from the first sample's "
                    f"{out.shape[1:]}; pass preprocess= (e.g. PaperPreprocess, PadToLength "
                    "or ResampleFrames) to give every sample the same number of frames"
                )
            out[i] = array
            if sample.label is not None:
                found[i] = sample.label
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


def _stat(path: str) -> list[Any]:
    info = os.stat(path)
    return [os.path.abspath(path), info.st_size, info.st_mtime_ns]


def _cache_matches(cache: Path, key: dict[str, Any]) -> bool:
    try:
        stored = json.loads((cache / _INDEX).read_text())
    except (OSError, ValueError):
        return False
    return stored == key and (cache / _DATA).is_file() and (cache / _LABELS).is_file()
