"""A ``train.py`` checkpoint read as untrusted data: loaded without running code, and every
value that sizes something checked before anything is built.

``predict.py`` and ``stream.py`` build the model and the pipeline a checkpoint describes
(``model_config``: a preset and its overrides; ``pipeline``: a
:class:`~skelgraph.data.Pipeline` as a dict). A hand-made file can describe
anything: a billion persons, a G3D window of 5,000 frames, a layout that is a path to some
other file. :func:`check_checkpoint` refuses those with a message naming the field, the
allowed values and the value received:

* every override and pipeline field has a type and a range (:data:`LIMITS`; unknown fields
  are refused), and what they build together is bounded (the G3D window graph of
  window size × joints nodes);
* a layout is a built-in name or an inline graph, never a path (no file named inside a
  checkpoint is read);
* the pipeline and the model agree (joints, channels, persons), and ``class_names`` holds
  one name per class;
* the weights are those of the model described: the model is first built on the ``meta``
  device (no memory) and its parameter names and shapes compared with the file's, so the
  real model is no larger than what the file already holds.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any, get_args

import torch

from examples.msg3d import cli
from examples.msg3d.model import PRESETS, MSG3DNet
from examples.msg3d.pyskl_pipeline import BONE_PAIRS, PysklPipeline
from skelgraph import SkeletonGraph, limits
from skelgraph.data import SAMPLINGS, STREAMS, Pipeline
from skelgraph.graph import LAYOUT_ALIASES, LAYOUTS
from skelgraph.graph.adjacency import Aggregation

__all__ = [
    "LIMITS",
    "build_model",
    "check_checkpoint",
    "check_weights_fit",
    "load_checkpoint",
    "model_arguments",
    "read_checkpoint_file",
    "scale_counts_fixed",
]

LIMITS: dict[str, tuple[int, int]] = {
    "num_classes": (1, limits.MAX_CLASSES),
    "num_persons": (1, 64),
    "channels": (1, 64),  # input channels C (in_channels, the pipeline's channels)
    "joints": (1, limits.MAX_GRAPH_NODES),  # V of a layout
    "window_nodes": (1, limits.MAX_GRAPH_NODES),  # window size × V: a G3D window graph's nodes
    "window_dilation": (1, 64),
    "num_scales": (1, 64),  # num_gcn_scales, num_g3d_scales
    "windows": (1, 8),  # G3D pathways per block
    "blocks": (1, 8),  # entries of ``channels``
    "width": (1, 4096),  # channels of a block
    "frames": (1, 10_000),  # the pipeline's clip length
    "stream_window": (1, 100_000),  # input frames pooled by the step-wise predictions
    "name_length": (0, 1_000),  # characters of a class name
    "pixels": (1, 100_000),  # a frame's height or width (pyskl's img_shape)
}
"""The inclusive range of each number a checkpoint (or ``stream.py --window``) may hold."""


def read_checkpoint_file(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Any:
    """The object in a PyTorch checkpoint file, loaded with ``weights_only=True``.

    Only a regular file is read (a FIFO or ``/dev/zero`` is refused, not read); a zip
    checkpoint (what ``torch.save`` writes) must store its records uncompressed, as
    ``torch.save`` does, so loading it takes no more memory than the file's size.

    Raises
    ------
    FileNotFoundError, PermissionError, IsADirectoryError
        From opening the file.
    ValueError
        Anything else: not a regular file, empty, truncated, foreign, compressed records;
        the message names the path.
    """
    try:
        file = cli.open_regular(path)
    except ValueError as error:
        raise ValueError(f"{os.fspath(path)}: {error}") from None
    with file:
        try:
            if zipfile.is_zipfile(file):
                with zipfile.ZipFile(file) as archive:
                    if any(i.compress_type != zipfile.ZIP_STORED for i in archive.infolist()):
                        raise ValueError("compressed records, which torch.save never writes")
            file.seek(0)
            return torch.load(file, map_location=device, weights_only=True)
        except Exception as error:  # EOFError, UnpicklingError, BadZipFile, RuntimeError, ...
            reason = (
                str(error).split(". ")[0].splitlines()[0][:200]
                if str(error)
                else type(error).__name__
            )
            raise ValueError(
                f"{os.fspath(path)}: not a readable PyTorch checkpoint ({reason})"
            ) from None


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> dict:
    """A ``train.py`` checkpoint (:func:`read_checkpoint_file`), checked with
    :func:`check_checkpoint`.

    Raises
    ------
    SystemExit
        A missing, unreadable or invalid checkpoint; the message names the path and, for
        an invalid one, the field.
    """
    try:
        ckpt = read_checkpoint_file(path, device)
    except FileNotFoundError:
        raise SystemExit(f"no checkpoint {path}") from None
    except OSError as error:
        raise SystemExit(f"cannot read checkpoint {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise SystemExit(str(error)) from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise SystemExit(f"{path} is not a train.py checkpoint (no 'model' entry)")
    for key in ("model_config", "pipeline"):
        if not ckpt.get(key):
            raise SystemExit(
                f"{path} has no {key!r}: it was written by an older train.py or for a model "
                "or datasets passed from Python; rebuild the model yourself and load "
                "ckpt['model']"
            )
    try:
        check_checkpoint(ckpt)
    except ValueError as error:
        raise SystemExit(f"{path}: {error}") from None
    return ckpt


def check_checkpoint(ckpt: Mapping[str, Any]) -> None:
    """Check what a checkpoint describes (see the module docstring) without building it.

    Raises
    ------
    ValueError
        The first field that is wrong: ``"<field>: expected <allowed>, got <value>"``.
    """
    arguments = model_arguments(ckpt["model_config"])
    pipeline = check_pipeline(ckpt["pipeline"])
    for field, ours, model_field in (
        ("layout", pipeline.graph, "graph"),
        ("channels", pipeline.channels, "in_channels"),
        ("num_persons", pipeline.num_persons, "num_persons"),
    ):
        if ours != arguments[model_field]:
            raise ValueError(
                f"pipeline.{field}: expected the model's {model_field} "
                f"({_show(arguments[model_field])}), got {_show(ours)}"
            )
    names = ckpt.get("class_names")
    if names is not None:
        k = arguments["num_classes"]
        if not isinstance(names, list) or len(names) != k:
            raise ValueError(f"class_names: expected a list of {k} names, got {_show(names)}")
        for i, name in enumerate(names):
            if not isinstance(name, str) or len(name) > LIMITS["name_length"][1]:
                raise ValueError(
                    f"class_names[{i}]: expected a string of at most "
                    f"{LIMITS['name_length'][1]} characters, got {_show(name)}"
                )
    _check_weights(ckpt["model"], arguments)


def model_arguments(model_config: Any) -> dict[str, Any]:
    """The :class:`MSG3DNet` arguments of a checkpoint's ``model_config`` (``preset`` and
    ``overrides``), each checked: the graph as a :class:`~skelgraph.SkeletonGraph`,
    ``windows`` and ``channels`` as tuples.

    Raises
    ------
    ValueError
        Naming the field (``model_config.overrides.windows[0][0]``, say).
    """
    if not isinstance(model_config, Mapping) or set(model_config) != {"preset", "overrides"}:
        raise ValueError(
            "model_config: expected a mapping with the keys 'overrides' and 'preset', got "
            f"{_show(model_config)}"
        )
    preset = model_config["preset"]
    if not isinstance(preset, str) or preset not in PRESETS:
        raise ValueError(
            f"model_config.preset: expected one of {sorted(PRESETS)}, got {_show(preset)}"
        )
    overrides = model_config["overrides"]
    if not isinstance(overrides, Mapping):
        raise ValueError(f"model_config.overrides: expected a mapping, got {_show(overrides)}")
    values = {**_MODEL_DEFAULTS, **PRESETS[preset], **overrides}
    out = _check_fields("model_config.overrides", values, _MODEL_FIELDS)
    v = out["graph"].num_nodes
    hi = LIMITS["window_nodes"][1]
    for i, (size, _) in enumerate(out["windows"]):
        if size * v > hi:
            raise ValueError(
                f"model_config.overrides.windows[{i}]: expected window size × {v} joints <= "
                f"{hi} (the nodes of its window graph), got {size} × {v}"
            )
    return out


def check_pipeline(values: Any) -> Pipeline | PysklPipeline:
    """The checkpoint's ``pipeline`` as a :class:`Pipeline` (or, marked ``"kind": "pyskl"``,
    a :class:`~examples.msg3d.pyskl_pipeline.PysklPipeline`), every field checked.

    Raises
    ------
    ValueError
        Naming the field (``pipeline.frames``, say).
    """
    if not isinstance(values, Mapping):
        raise ValueError(f"pipeline: expected a mapping, got {_show(values)}")
    if values.get("kind") == "pyskl":
        required = ("kind", "layout", "dims")
        return PysklPipeline.from_dict(
            _check_fields("pipeline", values, _PYSKL_PIPELINE_FIELDS, required=required)
        )
    checked = _check_fields("pipeline", values, _PIPELINE_FIELDS, required=("layout", "channels"))
    layout = values["layout"]  # as stored: a name or the graph's dict, which Pipeline keeps
    return Pipeline(**{**checked, "layout": layout})


def build_model(model_config: Mapping[str, Any]) -> MSG3DNet:
    """The :class:`MSG3DNet` a checked ``model_config`` describes (:func:`model_arguments`)."""
    with scale_counts_fixed():
        return MSG3DNet(**model_arguments(model_config))


@contextlib.contextmanager
def scale_counts_fixed() -> Iterator[None]:
    """Build models of a checkpoint without the warning about scales beyond the graph's
    diameter: a checkpoint fixes its scale count (pyskl's: 13 on COCO-17, diameter 8)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "num_scales=.*diameter", UserWarning)
        yield


# --------------------------------------------------------------------------- the checks
def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _integer(key: str) -> Callable[[str, Any], int]:
    lo, hi = LIMITS[key]

    def check(field: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"{field}: expected an integer in {lo}..{hi}, got {_show(value)}")
        return value

    return check


def _choice(allowed: tuple[Any, ...]) -> Callable[[str, Any], Any]:
    def check(field: str, value: Any) -> Any:
        if not any(type(value) is type(a) and value == a for a in allowed):  # 2.0, True: no
            raise ValueError(f"{field}: expected one of {list(allowed)}, got {_show(value)}")
        return value

    return check


def _sequence(key: str, item: Callable[[str, Any], Any]) -> Callable[[str, Any], tuple]:
    lo, hi = LIMITS[key]

    def check(field: str, value: Any) -> tuple:
        if not isinstance(value, (list, tuple)) or not lo <= len(value) <= hi:
            raise ValueError(f"{field}: expected a list of {lo} to {hi} items, got {_show(value)}")
        return tuple(item(f"{field}[{i}]", v) for i, v in enumerate(value))

    return check


def _window(field: str, value: Any) -> tuple[int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(
            f"{field}: expected a pair [window_size, window_dilation], got {_show(value)}"
        )
    size = _integer("window_nodes")(f"{field}[0]", value[0])
    return size, _integer("window_dilation")(f"{field}[1]", value[1])


def _layout(field: str, value: Any) -> SkeletonGraph:
    """A built-in layout by name, or an inline graph whose size is checked before it is
    built; a string is never taken as a path."""
    if isinstance(value, str):
        if value not in LAYOUTS and value not in LAYOUT_ALIASES:
            raise ValueError(
                f"{field}: expected a built-in layout ({', '.join(LAYOUTS)}) or a graph "
                f"written as a dict (a path inside a checkpoint is not read), got {_show(value)}"
            )
        return SkeletonGraph.from_layout(value)
    if not isinstance(value, Mapping):
        raise ValueError(f"{field}: expected a layout name or a graph dict, got {_show(value)}")
    hi = LIMITS["joints"][1]
    edges, names = value.get("edges"), value.get("joint_names")
    declared = [value.get("num_nodes")]
    if isinstance(names, (list, tuple)):
        declared.append(len(names))
    if isinstance(edges, (list, tuple)):
        if len(edges) > hi * (hi - 1) // 2:
            raise ValueError(
                f"{field}.edges: expected at most {hi * (hi - 1) // 2} edges, got {len(edges)}"
            )
        declared += [
            i + 1 for e in edges if isinstance(e, (list, tuple)) for i in e if type(i) is int
        ]
    joints = max((n for n in declared if type(n) is int), default=0)
    if joints > hi:
        raise ValueError(f"{field}: expected a graph of at most {hi} joints, got {joints}")
    try:
        return SkeletonGraph.from_dict(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{field}: {error}") from None


def _boolean(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{field}: expected true or false, got {_show(value)}")
    return value


_MODEL_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "num_classes": _integer("num_classes"),
    "graph": _layout,
    "num_persons": _integer("num_persons"),
    "in_channels": _integer("channels"),
    "num_gcn_scales": _integer("num_scales"),
    "num_g3d_scales": _integer("num_scales"),
    "windows": _sequence("windows", _window),
    "channels": _sequence("blocks", _integer("width")),
    "aggregation": _choice(get_args(Aggregation)),
    "stream_window": _integer("stream_window"),
    "checkpoint": _boolean,
    "causal": _boolean,
    "stream_every_frame": _boolean,
}
"""One check per argument of :class:`MSG3DNet` (a test keeps them in step)."""

_MODEL_DEFAULTS = {
    name: p.default
    for name, p in inspect.signature(MSG3DNet).parameters.items()
    if p.default is not p.empty
}

_PIPELINE_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "layout": _layout,
    "channels": _integer("channels"),
    "dims": _choice((2, 3)),
    "stream": _choice(STREAMS),
    "frames": _integer("frames"),
    "sampling": _choice(SAMPLINGS),
    "num_persons": _integer("num_persons"),
    "rotate": _boolean,
    "normalize_2d": _boolean,
    "preprocess": _boolean,
}
"""One check per field of :class:`Pipeline` (a test keeps them in step)."""


def _image_shape(field: str, value: Any) -> tuple[int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"{field}: expected a pair [height, width], got {_show(value)}")
    return (
        _integer("pixels")(f"{field}[0]", value[0]),
        _integer("pixels")(f"{field}[1]", value[1]),
    )


def _threshold(field: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{field}: expected null or a score in 0..1, got {_show(value)}")
    return float(value)


_PYSKL_PIPELINE_FIELDS: dict[str, Callable[[str, Any], Any]] = {
    "kind": _choice(("pyskl",)),
    "layout": _choice(tuple(BONE_PAIRS)),
    "dims": _choice((2, 3)),
    "stream": _choice(STREAMS),
    "clip_len": _integer("frames"),
    "num_persons": _integer("num_persons"),
    "img_shape": _image_shape,
    "threshold": _threshold,
}
"""One check per field of :class:`~examples.msg3d.pyskl_pipeline.PysklPipeline`."""


def _check_fields(
    where: str,
    values: Mapping[str, Any],
    checks: Mapping[str, Callable[[str, Any], Any]],
    required: tuple[str, ...] = (),
) -> dict[str, Any]:
    unknown = sorted(str(k) for k in values if k not in checks)
    if unknown:
        raise ValueError(f"{where}: unknown fields {unknown}; expected some of {sorted(checks)}")
    missing = [k for k in required if k not in values]
    if missing:
        raise ValueError(f"{where}: missing fields {missing}")
    return {key: checks[key](f"{where}.{key}", value) for key, value in values.items()}


def _check_weights(state: Any, arguments: Mapping[str, Any]) -> None:
    """The file's weights have exactly the names and shapes of the model described (built
    on the meta device: nothing is allocated)."""
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(
            f"model: expected a state_dict (names to tensors), got {_show(type(state))}"
        )
    try:
        with torch.device("meta"), scale_counts_fixed():
            expected = MSG3DNet(**arguments).state_dict()
    except (TypeError, ValueError) as error:
        raise ValueError(f"model_config: {error}") from None
    check_weights_fit(state, expected, "model_config")


def check_weights_fit(
    state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], source: str
) -> None:
    """``state`` has exactly the names and shapes of ``expected``, the state dict of the
    model that ``source`` describes; else a ``ValueError`` naming the first difference.

    Parameters
    ----------
    state : Mapping of str to Tensor
        A checkpoint's weights.
    expected : Mapping of str to Tensor
        The state dict they must fit (on any device, ``meta`` included).
    source : str
        What describes the expected model, for the message (``"model_config"``).
    """
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"model: the weights are not those of the model {source} describes: "
            f"missing {missing[:3]}{' ...' if len(missing) > 3 else ''}, "
            f"unexpected {unexpected[:3]}{' ...' if len(unexpected) > 3 else ''}"
        )
    for key, tensor in expected.items():
        if state[key].shape != tensor.shape:
            raise ValueError(
                f"model.{key}: expected shape {tuple(tensor.shape)} (from {source}), "
                f"got {tuple(state[key].shape)}"
            )
