"""pyskl / mmaction2 skeleton annotation pickles, read safely and written atomically.

The format (pyskl's ``tools/data/README.md``, mmaction2's skeleton datasets): the file holds
either a list of annotations or ``dict(split={name: [frame_dir, ...]}, annotations=[...])``;
each annotation is a dict with ``frame_dir`` (str, the sample id), ``label`` (int, 0-based),
``total_frames`` (int) and ``keypoint``, a float array (M, T, V, C), C = 2 (2-D, with
``keypoint_score`` (M, T, V) and ``img_shape`` / ``original_shape`` (h, w)) or 3 (3-D);
pyskl stores the arrays as float16.

A pickle runs code when it is loaded, so these files are read with an unpickler that
admits only what they contain, NumPy arrays, dtypes and scalars and a few builtin
containers, and refuses any other global before anything of it runs. What the admitted
globals build is checked too, before it is built: plain dtypes only, arrays within
:data:`skelgraph.limits.MAX_PICKLE_ARRAY_ELEMENTS` holding exactly their data, containers
at most :data:`skelgraph.limits.MAX_PICKLE_DEPTH` deep.
"""

from __future__ import annotations

import _compat_pickle
import builtins
import codecs
import math
import os
import pickle
import secrets
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Literal

import numpy as np

from skelgraph import limits
from skelgraph.data.errors import SkeletonFormatError
from skelgraph.data.readers._common import layouts_hint
from skelgraph.data.sample import SkeletonSample
from skelgraph.graph import LAYOUTS, SkeletonGraph, resolve_layout

__all__ = ["MAX_PICKLE_BYTES", "read_pose_pickle", "write_pose_pickle"]

MAX_PICKLE_BYTES = 4 * 1024**3
"""Default size budget of :func:`read_pose_pickle` (4 GiB); larger files are refused
unread. Pass ``max_bytes=`` for a larger file, ``None`` for no limit."""

# Joint count (and C, for 25) -> layout, where the count alone is not ambiguous enough.
_INFERRED = {17: "coco-17", 18: "openpose-18", 21: "mediapipe-hand-21"}
_CHANNELS = {2: ("x", "y"), 3: ("x", "y", "z")}
_TWO_D_SCORE = ("x", "y", "score")
_ANNOTATION_KEYS = ("frame_dir", "label", "total_frames", "keypoint", "keypoint_score")
_SHAPE_KEYS = ("img_shape", "original_shape")

_Fail = Callable[[str], SkeletonFormatError]


# ---------------------------------------------------------------------- safe loading
# The unpickler admits a few globals, and checks what each of them builds before it is
# built: an array's shape against the element budget, its dtype for a plain one, its data
# for the exact size of that shape. Then the loaded tree is walked once, bounded in depth.
_PLAIN_KINDS = "biufcSU"


class _Refused(Exception):
    """What a builder refuses to build; becomes a :class:`SkeletonFormatError`."""


def _plain_dtype(dtype: np.dtype) -> bool:
    """Whether ``dtype`` is a plain number or string type (no fields, sub-arrays, objects,
    void or empty items), the only kind a pose pickle holds."""
    return (
        dtype.kind in _PLAIN_KINDS
        and dtype.fields is None
        and dtype.subdtype is None
        and not dtype.hasobject
        and dtype.itemsize > 0
    )


class _Dtype:
    """A dtype as the pickle asks for it (``numpy.dtype(spec, align, copy)``, then its
    state): the real dtype is made from a plain spec only, and its state may set the byte
    order alone, never fields, sub-arrays or another item size."""

    def __init__(self, spec: Any, align: Any = False, copy: Any = True) -> None:
        if not isinstance(spec, str):
            raise _Refused(f"numpy.dtype of a {type(spec).__name__}, not a str")
        self.dtype = _checked_dtype(np.dtype(spec))

    def __setstate__(self, state: Any) -> None:
        plain = (
            isinstance(state, tuple)
            and len(state) == 8
            and state[1] in ("<", ">", "|", "=")
            and state[2:5] == (None, None, None)
            and state[5] in (-1, self.dtype.itemsize)
        )
        if not plain:
            raise _Refused(
                f"dtype state {state!r:.80} asks for fields, a sub-array or another item size"
            )
        if state[1] in ("<", ">"):
            self.dtype = self.dtype.newbyteorder(state[1])


def _checked_dtype(dtype: Any) -> np.dtype:
    if isinstance(dtype, _Dtype):
        dtype = dtype.dtype
    elif isinstance(dtype, (str, bytes)):  # _reconstruct's placeholder, b"b"
        dtype = np.dtype(dtype.decode("ascii") if isinstance(dtype, bytes) else dtype)
    if not isinstance(dtype, np.dtype) or not _plain_dtype(dtype):
        raise _Refused(
            f"dtype {dtype!r:.60}: a pose pickle holds arrays of numbers and strings only "
            "(no fields, sub-arrays, objects or void)"
        )
    return dtype


def _checked_array(shape: Any, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype of an array about to be built, within the element budget (an
    item wider than 8 bytes, a complex128 or a string, counts as itemsize / 8 elements)."""
    dtype = _checked_dtype(dtype)
    if not isinstance(shape, tuple) or not all(_is_int(n) and n >= 0 for n in shape):
        raise _Refused(f"array shape {shape!r:.60} is not a tuple of ints >= 0")
    shape = tuple(int(n) for n in shape)
    count = math.prod(shape) * -(-dtype.itemsize // 8)
    if count > limits.MAX_PICKLE_ARRAY_ELEMENTS:
        raise _Refused(
            f"an array of shape {shape} and dtype {dtype} counts {count} elements, above the "
            f"budget of {limits.MAX_PICKLE_ARRAY_ELEMENTS} (skelgraph.limits."
            "MAX_PICKLE_ARRAY_ELEMENTS)"
        )
    return shape, dtype


class _Array(np.ndarray):
    """An array while it is unpickled: its state is checked before NumPy builds from it
    (NumPy allocates the declared shape first: 3e8 object entries from a 1.5 KB file)."""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise _Refused(f"array state {state!r:.60} is not NumPy's")
        *version, shape, dtype, fortran, data = state
        shape, dtype = _checked_array(shape, dtype)
        size = math.prod(shape) * dtype.itemsize
        if not isinstance(data, (bytes, bytearray)) or len(data) != size:
            got = len(data) if isinstance(data, (bytes, bytearray)) else type(data).__name__
            raise _Refused(
                f"an array of shape {shape} and dtype {dtype} needs {size} bytes of data, got {got}"
            )
        super().__setstate__((*version, shape, dtype, bool(fortran), data))


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> _Array:
    if subtype is not _ADMITTED[("numpy", "ndarray")]:
        raise _Refused(f"_reconstruct of {subtype!r:.40}, not numpy.ndarray")
    return np.zeros(*_checked_array(shape, dtype)).view(_Array)


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> _Array:
    shape, dtype = _checked_array(shape, dtype)
    return np.frombuffer(buffer, dtype).reshape(shape, order=order).view(_Array)


def _scalar(dtype: Any, data: Any) -> np.generic:
    return _NUMPY_SCALAR(_checked_dtype(dtype), data)


def _ndarray(*args: Any) -> None:
    # NumPy pickles an array with _reconstruct or _frombuffer; numpy.ndarray is only their
    # class argument. Called itself it takes a buffer and strides: zero strides let 183
    # bytes claim 30 million frames.
    raise _Refused(
        "numpy.ndarray(shape, dtype, buffer, offset, strides) called directly: NumPy "
        "pickles arrays with their data, and strides may claim more than the file holds"
    )


def _sized(make: type) -> Callable[..., Any]:
    def build(*args: Any) -> Any:
        if args and hasattr(args[0], "__index__"):  # bytes(10**12) allocates a terabyte
            raise _Refused(f"{make.__name__}({args[0]!r:.20}) of a count")
        return make(*args)

    return build


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    # Protocol-2 pickles (mmcv's default) spell bytes as _codecs.encode(str, "latin1").
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}")
    return codecs.encode(text, "latin1")


class _Global:
    """An admitted global: calls ``make``; has no attribute a pickle's BUILD could set."""

    __slots__ = ("_make", "_name")

    def __init__(self, name: str, make: Callable[..., Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_make", make)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{self._name} is read-only")

    def __call__(self, *args: Any) -> Any:
        return self._make(*args)

    def __repr__(self) -> str:
        return self._name


_NUMPY_SCALAR = np.float32(0).__reduce__()[0]


def _admitted() -> dict[tuple[str, str], _Global]:
    # The names NumPy pickles arrays, dtypes and scalars with, under NumPy 1 (numpy.core)
    # and NumPy 2 (numpy._core), each to its checked builder.
    table = {
        ("numpy", "ndarray"): _ndarray,
        ("numpy", "dtype"): _Dtype,
        ("_codecs", "encode"): _latin1_encode,
        ("builtins", "bytes"): _sized(bytes),
        ("builtins", "bytearray"): _sized(bytearray),
    }
    for core in ("numpy.core", "numpy._core"):
        table[(f"{core}.multiarray", "_reconstruct")] = _reconstruct
        table[(f"{core}.multiarray", "scalar")] = _scalar
        table[(f"{core}.numeric", "_frombuffer")] = _frombuffer
    for name in ("set", "frozenset", "complex", "slice"):
        table[("builtins", name)] = getattr(builtins, name)
    return {key: _Global(".".join(key), make) for key, make in table.items()}


_ADMITTED = _admitted()


class _PoseUnpickler(pickle.Unpickler):
    """Resolves only the globals of :data:`_ADMITTED`; anything else is refused."""

    def __init__(self, file: BinaryIO, path: str) -> None:
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        # Python 2 names (protocol < 3) as the default find_class maps them.
        module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        try:
            return _ADMITTED[(module, name)]
        except KeyError:
            raise SkeletonFormatError(
                f"refused to load the global {module}.{name}: a pose pickle holds only NumPy "
                "arrays and builtin containers, and loading this one could run code",
                self._path,
            ) from None


_ATOMS = (type(None), bool, int, float, complex, str, bytes, bytearray, slice, np.generic)


class _Settle:
    """The loaded tree as plain data: arrays as plain ndarrays, dtypes as dtypes, anything
    else refused; containers at most ``limits.MAX_PICKLE_DEPTH`` deep (on the longest
    path, shared ones counted where they sit deepest) and none holding itself. Each
    container is visited once, however often it is referred to."""

    def __init__(self, path: str) -> None:
        self._path, self._done, self._open = path, {}, set()
        self._limit = limits.MAX_PICKLE_DEPTH

    def __call__(self, value: Any, depth: int = 0) -> tuple[Any, int]:
        """``value`` settled, and the height of the containers in it."""
        if isinstance(value, _ATOMS):
            return value, 0
        if isinstance(value, np.ndarray):
            return value.view(np.ndarray), 0
        if isinstance(value, _Dtype):
            return value.dtype, 0
        if not isinstance(value, (list, tuple, dict, set, frozenset)):
            raise SkeletonFormatError(
                f"the pickle holds a {type(value).__name__} ({value!r:.40}); a pose pickle "
                "holds numbers, strings, NumPy arrays and builtin containers",
                self._path,
            )
        key = id(value)
        if key in self._open:
            raise SkeletonFormatError("a container of the pickle holds itself", self._path)
        if key not in self._done:
            if depth >= self._limit:
                raise self._too_deep()
            self._open.add(key)
            # The original is kept: its id must not be reused while the walk runs.
            self._done[key] = (value, *self._container(value, depth))
            self._open.discard(key)
        _, settled, height = self._done[key]
        if depth + height > self._limit:
            raise self._too_deep()
        return settled, height

    def _container(self, value: Any, depth: int) -> tuple[Any, int]:
        height = 0

        def settle(item: Any) -> Any:
            nonlocal height
            settled, below = self(item, depth + 1)
            height = max(height, below + 1)
            return settled

        if isinstance(value, dict):
            pairs = [(settle(k), settle(v)) for k, v in value.items()]
            value.clear()
            value.update(pairs)
        elif isinstance(value, list):
            value[:] = [settle(item) for item in value]
        else:
            value = type(value)(settle(item) for item in value)
        return value, max(height, 1)

    def _too_deep(self) -> SkeletonFormatError:
        return SkeletonFormatError(
            f"containers nested more than {self._limit} deep (skelgraph.limits.MAX_PICKLE_DEPTH)",
            self._path,
        )


def _open_regular(path: str, max_bytes: int | None) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file within the size budget."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise SkeletonFormatError(f"not a regular file ({_kind(info.st_mode)})", path)
    # O_NONBLOCK: should the path be swapped for a FIFO now, opening it does not hang.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)  # what was opened, not what the name pointed to before
        if not stat.S_ISREG(info.st_mode):
            raise SkeletonFormatError(f"not a regular file ({_kind(info.st_mode)})", path)
        if max_bytes is not None and info.st_size > max_bytes:
            raise SkeletonFormatError(
                f"the file is {info.st_size} bytes, above the budget of {max_bytes} bytes; "
                "pass max_bytes= to read it",
                path,
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a plain file"


def _load(path: str, max_bytes: int | None) -> Any:
    with _open_regular(path, max_bytes) as file:
        if os.fstat(file.fileno()).st_size == 0:
            raise SkeletonFormatError("empty file", path)
        try:
            content, _ = _Settle(path)(_PoseUnpickler(file, path).load())
        except SkeletonFormatError:
            raise
        except _Refused as error:
            raise SkeletonFormatError(str(error), path) from None
        except (EOFError, pickle.UnpicklingError) as error:
            raise SkeletonFormatError(f"truncated or corrupt pickle ({error})", path) from None
        except (
            ValueError,
            TypeError,
            AttributeError,
            LookupError,  # IndexError, KeyError, and an unknown encoding: bytes("", "x")
            OverflowError,
        ) as error:  # ValueError includes UnicodeDecodeError
            raise SkeletonFormatError(
                f"corrupt pickle ({type(error).__name__}: {error})", path
            ) from None
        if file.read(1):
            raise SkeletonFormatError("data after the end of the pickle", path)
    return content


# ---------------------------------------------------------------------- reading
def read_pose_pickle(
    path: str | os.PathLike[str],
    split: str | None = None,
    *,
    layout: str | SkeletonGraph | None = None,
    max_bytes: int | None = MAX_PICKLE_BYTES,
) -> list[SkeletonSample]:
    """Read a pyskl / mmaction2 skeleton annotation pickle (``ntu60_3danno.pkl``, ...).

    The file is loaded with a restricted unpickler: the only globals it resolves are
    NumPy's array, dtype and scalar helpers (under their NumPy 1 and NumPy 2 names),
    ``set``, ``frozenset``, ``bytes``, ``bytearray``, ``complex``, ``slice`` and latin-1
    ``_codecs.encode`` (how protocol 2 spells bytes). Any other global, which is how a
    pickle runs code, stops the load with a :class:`SkeletonFormatError` before it runs.
    Only regular files are read, and only up to ``max_bytes``. What those globals build is
    checked before it is built: dtypes of plain numbers or strings (no fields, sub-arrays,
    objects or void), arrays of at most :data:`skelgraph.limits.MAX_PICKLE_ARRAY_ELEMENTS`
    elements built from exactly their data (never from a buffer and strides), no
    container holding itself or nested deeper than
    :data:`skelgraph.limits.MAX_PICKLE_DEPTH`.

    Each annotation must have a unique ``frame_dir`` (str), ``label`` (int in
    0..``skelgraph.limits.MAX_CLASSES`` - 1; a NumPy integer will do, a bool will not),
    ``total_frames`` (int, equal to ``keypoint.shape[1]``, as
    pyskl writes it) and ``keypoint`` (M, T, V, C), C = 2 or 3, M, T, V >= 1, finite in
    float32. ``keypoint_score`` (M, T, V) may come with 2-D keypoints only.

    Parameters
    ----------
    path : str or path
        The ``.pkl`` file.
    split : str, optional
        A name of the file's ``split`` table (``"xsub_train"``, ``"xsub_val"``,
        ``"xview_train"``, ``"xset_val"``, ``"train"``, ...): only its samples are
        returned, in the order of the annotations (as pyskl's ``PoseDataset``). ``None``
        returns every annotation.
    layout : str or SkeletonGraph, optional
        The layout of the joints, a built-in name or pyskl alias (``"nturgb+d"``, ...),
        or a graph of your own (e.g. :meth:`SkeletonGraph.from_json`).
        By default it is inferred from V: 17 ``"coco-17"``, 18 ``"openpose-18"``, 21
        ``"mediapipe-hand-21"``, 25 with C = 3 ``"ntu-rgbd"`` (the MS-G3D bones; pyskl's
        own bones are ``"ntu-rgbd-pyskl"``, alias ``"nturgb+d"``). Other joint counts need
        ``layout``.
    max_bytes : int or None
        Size budget; a larger file is refused unread. ``None``: no limit.

    Returns
    -------
    list of SkeletonSample
        ``data`` float32 (C, T, V, M): (x, y, z) for 3-D keypoints, (x, y, score) for 2-D
        ones with ``keypoint_score``, (x, y) for 2-D ones without. ``label`` the
        annotation's. ``meta``: ``path``, ``frame_dir``, ``channels`` (the channel names
        above), ``img_shape`` and ``original_shape`` as tuples of ints where present, and
        every other key of the annotation as it is (``raw_file``, ``frame_inds``,
        ``box_score``, ...).

    Raises
    ------
    SkeletonFormatError
        Not a regular file, above ``max_bytes``, a refused global, a refused dtype, array,
        nesting or cycle (above), a truncated or corrupt pickle, an unexpected structure,
        a duplicate ``frame_dir``, anything that would run out of memory or recursion,
        an unknown ``split`` name (the message lists the names present), a split naming
        a ``frame_dir`` with no annotation, or an annotation with a missing key, a wrong
        type or shape, a ``keypoint_score`` that does not match ``keypoint``,
        ``total_frames`` different from T, a non-finite value, or a joint count no layout
        is inferred for. The message names the file and, for an
        annotation, its index and ``frame_dir``.
    ValueError
        An unknown ``layout`` name.
    """
    path = os.fspath(path)
    if layout is not None and not isinstance(layout, SkeletonGraph):
        layout = resolve_layout(layout)
    try:
        return _read(path, split, layout, max_bytes)
    except (MemoryError, RecursionError) as error:
        # Budgets and the depth check stop what they foresee; this is the backstop.
        raise SkeletonFormatError(
            f"the pickle asks for more than there is ({type(error).__name__})", path
        ) from None


def _read(
    path: str, split: str | None, layout: str | SkeletonGraph | None, max_bytes: int | None
) -> list[SkeletonSample]:
    content = _load(path, max_bytes)
    annotations, table = _split_structure(content, path)
    ids = [_frame_dir(a, i, path) for i, a in enumerate(annotations)]
    _check_unique(ids, path)
    chosen = range(len(annotations))
    if split is not None:
        members = _split_members(table, split, ids, path)
        chosen = [i for i, frame_dir in enumerate(ids) if frame_dir in members]
    return [_sample(annotations[i], i, ids[i], path, layout) for i in chosen]


def _split_structure(content: Any, path: str) -> tuple[list[Any], Any]:
    if isinstance(content, list):
        return content, None
    if isinstance(content, dict) and isinstance(content.get("annotations"), list):
        return content["annotations"], content.get("split")
    got = (
        f"a dict with keys {sorted(map(str, content))[:8]}"
        if isinstance(content, dict)
        else f"a {type(content).__name__}"
    )
    raise SkeletonFormatError(
        f"expected a list of annotations or dict(split=..., annotations=[...]), got {got}", path
    )


def _split_members(table: Any, split: str, ids: list[str], path: str) -> set[str]:
    if table is None:
        raise SkeletonFormatError(
            f"split {split!r} requested, but the file has no 'split' table", path
        )
    if not isinstance(table, dict):
        raise SkeletonFormatError(
            f"'split' must be a dict of name -> list, got {type(table).__name__}", path
        )
    if split not in table:
        names = ", ".join(sorted(map(repr, table))) or "none"
        raise SkeletonFormatError(f"no split {split!r}; the splits are {names}", path)
    members = table[split]
    if isinstance(members, (str, bytes)) or not isinstance(members, (list, tuple, set)):
        raise SkeletonFormatError(
            f"split {split!r} must list frame_dir names, got {type(members).__name__}", path
        )
    members = set(members)
    missing = members - set(ids)
    if missing:
        shown = ", ".join(sorted(map(repr, missing))[:5])
        raise SkeletonFormatError(
            f"split {split!r} names {len(missing)} frame_dir(s) with no annotation: {shown}",
            path,
        )
    return members


def _frame_dir(annotation: Any, index: int, path: str) -> str:
    if not isinstance(annotation, dict):
        raise SkeletonFormatError(
            f"annotation {index} is a {type(annotation).__name__}, not a dict", path
        )
    frame_dir = annotation.get("frame_dir")
    if not isinstance(frame_dir, str):
        keys = sorted(map(str, annotation))[:10]
        raise SkeletonFormatError(
            f"annotation {index} has no str 'frame_dir' (got {frame_dir!r:.40}; keys {keys})",
            path,
        )
    return frame_dir


def _check_unique(ids: list[str], path: str) -> None:
    first: dict[str, int] = {}
    for index, frame_dir in enumerate(ids):
        if frame_dir in first:
            raise SkeletonFormatError(
                f"annotations {first[frame_dir]} and {index} have the same frame_dir "
                f"{frame_dir!r:.60}; a split could not tell them apart",
                path,
            )
        first[frame_dir] = index


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _sample(
    annotation: dict[str, Any],
    index: int,
    frame_dir: str,
    path: str,
    layout: str | SkeletonGraph | None,
) -> SkeletonSample:
    def fail(reason: str) -> SkeletonFormatError:
        return SkeletonFormatError(f"annotation {index} ({frame_dir!r}): {reason}", path)

    for key in ("label", "total_frames", "keypoint"):
        if key not in annotation:
            hint = ""
            if key == "keypoint" and "raw_file" in annotation:
                hint = " (its keypoints are in 'raw_file', pyskl's Kinetics-400 form)"
            raise fail(f"missing key {key!r}{hint}")
    label, total = annotation["label"], annotation["total_frames"]
    if not _is_int(label) or not 0 <= label < limits.MAX_CLASSES:
        raise fail(
            f"'label' must be an int in 0..{limits.MAX_CLASSES - 1} (skelgraph.limits."
            f"MAX_CLASSES), got {label!r:.40} ({type(label).__name__})"
        )
    if not _is_int(total):
        raise fail(f"'total_frames' must be an int, got {total!r:.40}")

    keypoint = _float_array(annotation["keypoint"], "keypoint", fail)
    if keypoint.ndim != 4:
        raise fail(f"'keypoint' must be (M, T, V, C), got shape {keypoint.shape}")
    m, t, v, c = keypoint.shape
    if c not in (2, 3):
        raise fail(f"'keypoint' must have C = 2 or 3 coordinates, got shape {keypoint.shape}")
    if min(m, t, v) < 1:
        raise fail(f"'keypoint' has no persons, frames or joints: shape {keypoint.shape}")
    if total != t:
        raise fail(f"'total_frames' is {total} but 'keypoint' has T = {t} frames")
    channels = [keypoint]
    names = _CHANNELS[c]
    if "keypoint_score" in annotation:
        score = _float_array(annotation["keypoint_score"], "keypoint_score", fail)
        if c != 2:
            raise fail("'keypoint_score' comes with 2-D keypoints only, these are 3-D")
        if score.shape != keypoint.shape[:3]:
            raise fail(
                f"'keypoint_score' must be (M, T, V) = {keypoint.shape[:3]} like 'keypoint', "
                f"got {score.shape}"
            )
        channels.append(score[..., None])
        names = _TWO_D_SCORE
    merged = np.concatenate(channels, axis=-1) if len(channels) > 1 else keypoint
    bad = ~np.isfinite(merged)
    if bad.any():
        person, frame, joint, channel = np.argwhere(bad)[0]
        raise fail(
            f"non-finite value in float32 ({names[channel]} of person {person}, joint {joint})"
            f" at frame {frame}"
        )

    if layout is None:
        name = _infer_layout(v, c)
        if name is None:
            hint = f" ({layouts_hint(v)})" if layouts_hint(v) else ""
            if v == 25 and c == 2:
                hint = " (BODY_25 2-D keypoints: map them with body25_to_openpose18)"
            raise fail(f"no layout is inferred for V = {v} joints with C = {c}; pass layout={hint}")
    else:
        name = layout
        if isinstance(layout, SkeletonGraph):
            expected, shown = layout.num_nodes, layout.name
        else:
            expected, shown = len(LAYOUTS[layout].joint_names), layout
        if expected != v:
            raise fail(f"layout {shown!r} has {expected} joints but 'keypoint' has V = {v}")

    meta: dict[str, Any] = {"path": path, "frame_dir": frame_dir, "channels": names}
    for key, value in annotation.items():
        if key in _ANNOTATION_KEYS:
            continue
        meta[key] = _image_shape(value, key, fail) if key in _SHAPE_KEYS else value
    data = np.ascontiguousarray(merged.transpose(3, 1, 2, 0))
    return SkeletonSample(data, int(label), name, meta)


def _float_array(value: Any, key: str, fail: _Fail) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise fail(f"{key!r} must be a NumPy array, got {type(value).__name__}")
    if value.dtype.kind not in "fiu":
        raise fail(f"{key!r} must hold real numbers, got dtype {value.dtype}")
    # float32 is the output dtype: a float64 value beyond its range is not finite there.
    with np.errstate(over="ignore", invalid="ignore"):
        return value.astype(np.float32)


def _image_shape(value: Any, key: str, fail: _Fail) -> tuple[int, ...]:
    items = list(value) if isinstance(value, (tuple, list, np.ndarray)) else None
    if items is None or len(items) != 2 or not all(_is_int(x) and x > 0 for x in items):
        raise fail(f"{key!r} must be (height, width), two ints > 0, got {value!r:.60}")
    return tuple(int(x) for x in items)


def _infer_layout(v: int, c: int) -> str | None:
    if v == 25:
        return "ntu-rgbd" if c == 3 else None
    return _INFERRED.get(v)


# ---------------------------------------------------------------------- writing
def write_pose_pickle(
    samples: Iterable[SkeletonSample] | Mapping[str, SkeletonSample],
    path: str | os.PathLike[str],
    split: Mapping[str, Sequence[str]] | None = None,
    *,
    dtype: type[np.floating] | np.dtype = np.float32,
    keypoints: Literal["auto", "2d", "3d"] = "auto",
    meta_keys: Sequence[str] = (),
) -> None:
    """Write samples as a pyskl / mmaction2 skeleton annotation pickle.

    Anything skelgraph reads (NTU ``.skeleton``, OpenPose folders, Kinetics JSON,
    N-UCLA, arrays) can so become a file pyskl's ``PoseDataset`` and
    :func:`read_pose_pickle` read. Each sample becomes one annotation: ``frame_dir``,
    ``label``, ``total_frames`` (= T), ``keypoint`` (M, T, V, C) and, for 2-D samples
    with a score channel, ``keypoint_score`` (M, T, V), plus ``img_shape`` and
    ``original_shape`` where the sample's meta has them. Every sample needs an int label:
    one without (``label is None``) is a ``ValueError`` and nothing is written.

    Reading the file back gives the same arrays, exactly with ``dtype=np.float32`` (the
    default) and up to float16 rounding with ``dtype=np.float16``, pyskl's own choice,
    half the size; float16 keeps 11 significant bits (pixel coordinates above 2048 are
    rounded to even pixels) and stops at 65504. The file is written to a temporary file
    beside ``path`` and moved over it (``os.replace``), so a reader never sees half a file.
    The arrays are pickled by this NumPy; NumPy 2 names its pickle helpers
    ``numpy._core``, which older NumPy 1 releases cannot import.

    Parameters
    ----------
    samples : iterable of SkeletonSample, or mapping of str to SkeletonSample
        The id (``frame_dir``) of a sample is its mapping key, else its
        ``meta["frame_dir"]``, ``meta["clip_id"]``, ``meta["file_name"]`` or the stem of
        ``meta["path"]``, the first present (``S001C001P001R001A001`` for an NTU file).
        Ids must be unique.
    path : str or path
        The ``.pkl`` file to write.
    split : mapping of str to sequence of str, optional
        Split name -> sample ids (e.g. ``{"xsub_train": [...], "xsub_val": [...]}``);
        with it the file is ``dict(split=..., annotations=[...])``, without it a plain
        list of annotations (what pyskl reads without a split).
    dtype : numpy.float32 or numpy.float16
        The dtype of ``keypoint`` and ``keypoint_score``.
    keypoints : {"auto", "2d", "3d"}
        What the channels are. ``"2d"``: (x, y, score) for C = 3, (x, y) for C = 2.
        ``"3d"``: (x, y, z), C = 3. ``"auto"``, per sample: ``meta["channels"]`` where
        :func:`read_pose_pickle` set it, else (x, y, score) for the 2-D layouts
        ``"openpose-18"`` and ``"coco-17"`` (how the OpenPose and Kinetics readers give
        them) and C = 2, (x, y, z) otherwise.
    meta_keys : sequence of str
        Further ``meta`` entries to store in each annotation where present (e.g.
        ``"frame_inds"``); their values must be plain data (numbers, str, bytes, None,
        NumPy arrays and scalars, tuples, lists and dicts of them), so the file stays
        readable by :func:`read_pose_pickle`.

    Raises
    ------
    ValueError
        A sample without a label or an id, a duplicate id, channels that do not fit
        ``keypoints``, a non-finite value or one beyond float16, a split naming an
        unknown id, a ``meta_keys`` value that is not plain data, or an unsupported
        ``dtype``.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float16, np.float32):
        raise ValueError(f"dtype must be float16 or float32, got {dtype}")
    if keypoints not in ("auto", "2d", "3d"):
        raise ValueError(f"keypoints must be 'auto', '2d' or '3d', got {keypoints!r}")
    reserved = set(_ANNOTATION_KEYS) | set(_SHAPE_KEYS)
    if reserved & set(meta_keys):
        raise ValueError(f"meta_keys may not name {sorted(reserved & set(meta_keys))}")
    pairs = list(samples.items()) if isinstance(samples, Mapping) else [(None, s) for s in samples]
    annotations, ids = [], set()
    for position, (key, sample) in enumerate(pairs):
        frame_dir = _sample_id(key, sample, position)
        if frame_dir in ids:
            raise ValueError(f"two samples have the id {frame_dir!r}; ids must be unique")
        ids.add(frame_dir)
        annotations.append(_annotation(sample, frame_dir, dtype, keypoints, meta_keys))
    content: Any = annotations
    if split is not None:
        content = {"split": _split_table(split, ids), "annotations": annotations}
    _write_atomically(Path(path), content)


def _sample_id(key: str | None, sample: SkeletonSample, position: int) -> str:
    if not isinstance(sample, SkeletonSample):
        raise TypeError(f"item {position} is a {type(sample).__name__}, not a SkeletonSample")
    if key is not None:
        if not isinstance(key, str):
            raise ValueError(f"sample ids must be str, got {key!r}")
        return key
    meta = sample.meta
    for name in ("frame_dir", "clip_id", "file_name"):
        if isinstance(meta.get(name), str):
            return meta[name]
    if meta.get("path") is not None:
        return Path(meta["path"]).stem
    raise ValueError(
        f"sample {position} has no id (no meta 'frame_dir', 'clip_id', 'file_name' or "
        "'path'); pass a mapping of id to sample"
    )


def _channels(sample: SkeletonSample, keypoints: str, frame_dir: str) -> tuple[str, ...]:
    c = sample.data.shape[0]
    if keypoints == "auto":
        names = tuple(sample.meta.get("channels") or ())
        if names in (_CHANNELS[2], _CHANNELS[3], _TWO_D_SCORE) and len(names) == c:
            return names
        two_d = sample.layout in ("openpose-18", "coco-17") or c == 2
        keypoints = "2d" if two_d else "3d"
    names = {("2d", 2): ("x", "y"), ("2d", 3): _TWO_D_SCORE, ("3d", 3): _CHANNELS[3]}.get(
        (keypoints, c)
    )
    if names is None:
        want = "2 or 3 (x, y[, score])" if keypoints == "2d" else "3 (x, y, z)"
        raise ValueError(
            f"sample {frame_dir!r}: {keypoints.upper()} keypoints need C = {want}, got C = {c}"
        )
    return names


def _annotation(
    sample: SkeletonSample,
    frame_dir: str,
    dtype: np.dtype,
    keypoints: str,
    meta_keys: Sequence[str],
) -> dict[str, Any]:
    if sample.label is None:
        raise ValueError(
            f"sample {frame_dir!r} has no label; a pose pickle needs an int label per sample"
        )
    if not _is_int(sample.label) or sample.label < 0:
        raise ValueError(f"sample {frame_dir!r}: label must be an int >= 0, got {sample.label!r}")
    data = np.asarray(sample.data)
    if data.ndim != 4 or min(data.shape) < 1:
        raise ValueError(f"sample {frame_dir!r}: data must be a non-empty (C, T, V, M) array")
    names = _channels(sample, keypoints, frame_dir)
    if not np.isfinite(data).all():
        raise ValueError(f"sample {frame_dir!r}: the data has non-finite values")
    with np.errstate(over="ignore"):
        stored = data.transpose(3, 1, 2, 0).astype(dtype)  # (M, T, V, C)
    if not np.isfinite(stored).all():
        largest = float(np.abs(data).max())
        raise ValueError(
            f"sample {frame_dir!r}: values up to {largest:g} do not fit {dtype} "
            f"(largest {float(np.finfo(dtype).max):g}); write float32"
        )
    annotation: dict[str, Any] = {
        "frame_dir": frame_dir,
        "label": int(sample.label),
        "total_frames": int(data.shape[1]),
    }
    if names == _TWO_D_SCORE:
        annotation["keypoint"] = np.ascontiguousarray(stored[..., :2])
        annotation["keypoint_score"] = np.ascontiguousarray(stored[..., 2])
    else:
        annotation["keypoint"] = np.ascontiguousarray(stored)
    for key in (*_SHAPE_KEYS, *meta_keys):
        if key in sample.meta:
            value = sample.meta[key]
            if key in _SHAPE_KEYS:
                value = tuple(int(x) for x in value)
            elif not _plain(value):
                raise ValueError(
                    f"sample {frame_dir!r}: meta[{key!r}] is not plain data "
                    f"({type(value).__name__}); read_pose_pickle could not load it"
                )
            annotation[key] = value
    return annotation


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether the restricted unpickler of :func:`read_pose_pickle` can load ``value``."""
    if depth > 20:
        return False
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return True
    if isinstance(value, (np.ndarray, np.generic)):
        return _plain_dtype(value.dtype)
    if isinstance(value, (tuple, list, set, frozenset)):
        return all(_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(_plain(k, depth + 1) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _split_table(split: Mapping[str, Sequence[str]], ids: set[str]) -> dict[str, list[str]]:
    if not isinstance(split, Mapping):
        raise ValueError(f"split must map names to lists of ids, got {type(split).__name__}")
    table = {}
    for name, members in split.items():
        if not isinstance(name, str):
            raise ValueError(f"split names must be str, got {name!r}")
        if isinstance(members, (str, bytes)):
            raise ValueError(f"split {name!r} must be a list of ids, got a single string")
        members = list(members)
        unknown = [m for m in members if m not in ids]
        if unknown:
            shown = ", ".join(map(repr, unknown[:5]))
            raise ValueError(f"split {name!r} names {len(unknown)} id(s) with no sample: {shown}")
        table[name] = members
    return table


def _write_atomically(path: Path, content: Any) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open with mode 0o666 lets the umask set the permissions, as open() would.
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            pickle.dump(content, file, protocol=4)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
