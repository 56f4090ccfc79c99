"""Convert MS-G3D checkpoints between the authors' code and skelgraph's MSG3DNet.

The authors' ``Model`` (kenziyuliu/MS-G3D, ``model/msg3d.py``) names its parts
``gcn3d1``, ``sgcn1``, ``tcn1``, ... ; ours are ``blocks.0.g3d``, ``blocks.0.factorized``,
``blocks.0.tcn``, ... . Every key map, the whole model's included, lives in
:mod:`skelgraph.nn.authors`: :func:`from_authors` and :func:`to_authors` here are
:func:`~skelgraph.nn.authors.model_from_authors` and
:func:`~skelgraph.nn.authors.model_to_authors`.

pyskl's and mmaction2's checkpoints (:mod:`examples.msg3d.pyskl`) load exactly with
:func:`load_pyskl_checkpoint`; ``--from pyskl`` writes a checkpoint that ``predict.py`` and
``stream.py`` take, with pyskl's test pipeline (:mod:`examples.msg3d.pyskl_pipeline`).

Usage::

    python -m examples.msg3d.convert_checkpoint their.pt ours.pt --preset ntu60
    python -m examples.msg3d.convert_checkpoint ours.pt their.pt --preset ntu60 --to-authors
    python -m examples.msg3d.convert_checkpoint --from pyskl j.pth ntu60-xsub-3d-j.pt
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from examples.msg3d import cli, pyskl
from examples.msg3d.checkpoint import read_checkpoint_file, scale_counts_fixed
from examples.msg3d.model import PRESETS, MSG3DNet
from examples.msg3d.pyskl_pipeline import PysklPipeline
from skelgraph import MultiScaleAggregation
from skelgraph.data import STREAMS
from skelgraph.nn import authors

__all__ = [
    "NTU120_CLASSES",
    "convert_pyskl",
    "from_authors",
    "from_pyskl",
    "load_authors_checkpoint",
    "load_pyskl_checkpoint",
    "pyskl_stream",
    "read_state_dict",
    "to_authors",
    "to_pyskl",
]

NTU120_CLASSES = Path(__file__).with_name("ntu120_classes.txt")
"""NTU RGB+D 120's action names, one a line; the first 60 are NTU RGB+D 60's."""

# The authors' key maps, model-level included, are skelgraph.nn.authors'; these names
# keep this module's interface.
from_authors = authors.model_from_authors
to_authors = authors.model_to_authors
_strip = authors.strip_module_prefix


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` in a checkpoint file (or under its ``"state_dict"`` key).

    Read with :func:`~examples.msg3d.checkpoint.read_checkpoint_file`
    (``torch.load(..., weights_only=True)``), never arbitrary objects. An empty,
    truncated or foreign file, or one that holds something else than a mapping of names
    to tensors, is a ``ValueError`` naming the path.
    """
    checkpoint = read_checkpoint_file(path)
    if isinstance(checkpoint, Mapping) and "state_dict" in checkpoint:
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in checkpoint.items()
    ):
        raise ValueError(
            f"{path}: expected a state_dict (names to tensors), got {type(checkpoint).__name__}"
        )
    return dict(checkpoint)


def load_authors_checkpoint(path: str | Path, model: MSG3DNet) -> MSG3DNet:
    """Load an authors' checkpoint file (:func:`read_state_dict`) into ``model`` and
    return it."""
    model.load_state_dict(from_authors(read_state_dict(path), model))
    return model


def _masks(model: MSG3DNet) -> dict[str, MultiScaleAggregation]:
    """``model``'s residual masks by ``state_dict`` key, with their aggregations."""
    return {
        f"{name}.mask": module
        for name, module in model.named_modules()
        if isinstance(module, MultiScaleAggregation) and module.mask is not None
    }


def from_pyskl(state_dict: Mapping[str, torch.Tensor], model: MSG3DNet) -> dict[str, torch.Tensor]:
    """A pyskl or mmaction2 ``state_dict`` converted for ``model``: names as the authors'
    (:func:`from_authors`), and each residual the whole effective matrix of theirs in our
    orientation less our fixed scales, ``mask = (A + PA)ᵀ - scales`` (in float64).

    Raises
    ------
    KeyError, ValueError
        As :func:`from_authors`, with the authors' names of pyskl's keys.
    """
    out = from_authors(pyskl.from_pyskl_keys(_strip(state_dict)), model)
    for key, aggregate in _masks(model).items():
        out[key] = (out[key].double() - aggregate.scales.double()).float()
    return out


def to_pyskl(model: MSG3DNet, head: str = "pyskl") -> dict[str, torch.Tensor]:
    """``model``'s weights as pyskl's (``head="pyskl"``) or mmaction2 1.x's
    (``"mmaction2"``) ``MSG3D`` + ``GCNHead`` ``state_dict``, the inverse of
    :func:`from_pyskl`: pyskl's own ``A`` buffers, and ``PA = effectiveᵀ - A``.

    Parameters
    ----------
    model : MSG3DNet
        With the layout of one of pyskl's graphs (``examples.msg3d.pyskl.LAYOUTS``).
    head : {"pyskl", "mmaction2"}
        The classifier's names.
    """
    ours = {k: v.detach() for k, v in model.state_dict().items()}
    for key, aggregate in _masks(model).items():
        ours[key] = aggregate.adjacency().detach().double()
    return pyskl.to_pyskl_keys(to_authors(ours, model), head)


def load_pyskl_checkpoint(path: str | Path) -> MSG3DNet:
    """A pyskl or mmaction2 1.x MS-G3D checkpoint (mmcv's ``{"meta", "state_dict"}`` or a
    bare ``state_dict``, read with ``weights_only=True``) as an :class:`MSG3DNet` in eval
    mode: the layout from the joint count, channels, scales and classes from the weights
    (``examples.msg3d.pyskl.model_config``).

    Raises
    ------
    ValueError
        Not a readable checkpoint, or weights of no MS-G3D this converter knows.
    """
    return _load_pyskl(path)[0]


def _load_pyskl(path: str | Path) -> tuple[MSG3DNet, dict[str, Any]]:
    """:func:`load_pyskl_checkpoint`'s model and its ``MSG3DNet`` keyword arguments."""
    state = read_state_dict(path)
    try:
        config = pyskl.model_config(state)
        with scale_counts_fixed():
            model = MSG3DNet(**config)
        model.load_state_dict(from_pyskl(state, model))
    except KeyError as error:
        reason = error.args[0] if error.args else error
        raise ValueError(f"{path}: not a pyskl/mmaction2 MS-G3D checkpoint: {reason}") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    return model.eval(), config


def pyskl_stream(path: str | Path) -> str:
    """The stream of a checkpoint from its file name: pyskl's ``j``, ``b``, ``jm``, ``bm``
    (``.pth``, or ending a name after ``-``), or mmaction2's ``-joint-``, ``-bone-``,
    ``-joint-motion-``, ... .

    Raises
    ------
    ValueError
        A name that says none.
    """
    short = dict(zip(("j", "b", "jm", "bm"), STREAMS))
    tokens = Path(path).stem.lower().replace("_", "-").split("-")
    if tokens[-1] in short:  # j.pth, or our registry's ...-3d-j.pth
        return short[tokens[-1]]
    for stream in sorted(STREAMS, key=len, reverse=True):  # "joint-motion" before "joint"
        words = stream.split("-")
        if any(tokens[i : i + len(words)] == words for i in range(len(tokens))):
            return stream
    raise ValueError(
        f"cannot tell the stream from the name {Path(path).name!r} (pyskl's j/b/jm/bm.pth): "
        f"give --stream ({', '.join(STREAMS)})"
    )


def convert_pyskl(
    path: str | Path,
    *,
    stream: str | None = None,
    class_names: Sequence[str] | None = None,
    threshold: float | None = 0.01,
) -> dict[str, Any]:
    """A pyskl/mmaction2 checkpoint as one ``predict.py`` and ``stream.py`` take:
    ``{"model", "model_config", "pipeline", "class_names"}``, the pipeline pyskl's test
    pipeline for its layout (:class:`~examples.msg3d.pyskl_pipeline.PysklPipeline`: NTU's
    25 joints are 3-D, COCO-17 and OpenPose-18 2-D).

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.pth`` file.
    stream : str, optional
        One of ``STREAMS`` (joint, bone, joint-motion, bone-motion); default from the file name
        (:func:`pyskl_stream`).
    class_names : sequence of str, optional
        Default: NTU RGB+D's action names for 60 or 120 classes, else ``class i``.
    threshold : float or None
        ``PreNormalize2D``'s score threshold (pyskl 0.01; mmaction2 ``None``).

    Raises
    ------
    ValueError
        As :func:`load_pyskl_checkpoint` and :func:`pyskl_stream`; a stream not in
        ``STREAMS`` (joint, bone, joint-motion, bone-motion); a class-name count that is not the
        model's class count.
    """
    stream = pyskl_stream(path) if stream is None else stream
    if stream not in STREAMS:
        raise ValueError(f"stream must be one of {', '.join(STREAMS)}, got {stream!r}")
    model, config = _load_pyskl(path)
    num_classes = model.fc.out_features
    if class_names is None:
        names = NTU120_CLASSES.read_text(encoding="utf-8").splitlines()
        class_names = names[:num_classes] if num_classes in (60, 120) else None
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(f"{len(class_names)} class names for a model of {num_classes} classes")
    layout = config["graph"]
    dims = 3 if layout == "ntu-rgbd-pyskl" else 2
    pipeline = PysklPipeline(layout, dims, stream, threshold=threshold)
    return {
        "model": model.state_dict(),
        "model_config": {"preset": "ntu60", "overrides": config},
        "pipeline": pipeline.to_dict(),
        "class_names": list(class_names) if class_names is not None else None,
    }


def _convert_pyskl_file(
    source: Path, target: Path, stream: str | None, class_names: Path | None
) -> None:
    """``--from pyskl``: :func:`convert_pyskl` from ``source`` to ``target``."""
    names = None
    if class_names is not None:
        lines = cli.read_text(class_names, "--class-names").splitlines()
        names = [line.strip() for line in lines if line.strip()]
    try:
        converted = convert_pyskl(source, stream=stream, class_names=names)
    except OSError as error:
        raise SystemExit(f"cannot read {source}: {error.strerror or error}") from None
    except ValueError as error:
        raise SystemExit(str(error)) from None
    try:
        torch.save(converted, target)
    except (OSError, RuntimeError) as error:
        raise SystemExit(f"cannot write {target}: {error}") from None
    pipeline = converted["pipeline"]
    print(
        f"wrote {target}: {converted['model_config']['overrides']['num_classes']} classes, "
        f"{pipeline['layout']} {pipeline['dims']}-D, {pipeline['stream']} stream"
    )


def build_parser() -> cli.Parser:
    """The command line (the docs show its ``--help``)."""
    parser = cli.Parser(
        description="Convert an MS-G3D checkpoint between the authors' code "
        "(kenziyuliu/MS-G3D, model/msg3d.py) and skelgraph's MSG3DNet, or from pyskl / "
        "mmaction2 1.x (--from pyskl) into a checkpoint predict.py and stream.py take, "
        "with pyskl's test pipeline. The input is read with torch.load(weights_only=True).",
        epilog="examples: convert_checkpoint.py ntu60_xsub_joint.pt ours.pt --preset ntu60; "
        "convert_checkpoint.py --from pyskl j.pth ntu60-xsub-3d-j.pt",
    )
    parser.add_argument("input", type=Path, help="checkpoint to convert (.pt, .pth)")
    parser.add_argument("output", type=Path, help="where to write the converted checkpoint")
    parser.add_argument(
        "--from",
        dest="source",
        choices=("authors", "pyskl"),
        default="authors",
        help="the input's code base (pyskl: pyskl's or mmaction2 1.x's MSG3D)",
    )
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), help="--from authors: the checkpoint's configuration"
    )
    parser.add_argument(
        "--to-authors",
        action="store_true",
        help="convert skelgraph -> authors (default: authors -> skelgraph)",
    )
    parser.add_argument(
        "--stream",
        choices=STREAMS,
        help="--from pyskl: the checkpoint's input stream (default: from its name, j/b/jm/bm)",
    )
    parser.add_argument(
        "--class-names",
        type=Path,
        help="--from pyskl: one class name a line (default: NTU RGB+D's for 60/120 classes)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.source == "pyskl":
        if args.preset or args.to_authors:
            parser.error("--preset and --to-authors are for --from authors")
        return _convert_pyskl_file(args.input, args.output, args.stream, args.class_names)
    if args.preset is None:
        parser.error("--preset is required with --from authors")
    model = MSG3DNet.from_preset(args.preset)
    try:
        state = read_state_dict(args.input)
        converted = to_authors(state, model) if args.to_authors else from_authors(state, model)
        # A complete checkpoint of the preset: every weight present and of its shape.
        model.load_state_dict(state if args.to_authors else converted)
    except OSError as error:
        raise SystemExit(f"cannot read {args.input}: {error.strerror or error}") from None
    except (KeyError, ValueError, RuntimeError) as error:
        raise SystemExit(error.args[0] if isinstance(error, KeyError) else str(error)) from None
    try:
        torch.save(converted, args.output)
    except (OSError, RuntimeError) as error:
        raise SystemExit(f"cannot write {args.output}: {error}") from None
    print(f"wrote {len(converted)} tensors to {args.output}")


if __name__ == "__main__":
    raise SystemExit(cli.run(main))
