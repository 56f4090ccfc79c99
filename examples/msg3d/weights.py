"""Pretrained MS-G3D weights by name: pyskl's 32 checkpoints and mmaction2's 2.

Each entry of :data:`WEIGHTS` (in the manner of torchvision's ``WeightsEnum`` and timm's
pretrained configs) knows its URL, dataset and split, layout, 2-D or 3-D input, stream,
class names, test pipeline and published top-1. :meth:`PretrainedWeights.checkpoint`
downloads the file once into torch's hub cache (``$TORCH_HOME/hub/checkpoints/skelgraph``,
:func:`torch.hub.get_dir`), records its sha256 beside it on that first download (no
hashes are published) and checks it on every later use, then converts it exactly
(:func:`~examples.msg3d.convert_checkpoint.convert_pyskl`) into the checkpoint that
``predict.py --weights NAME`` and ``stream.py --weights NAME`` run.

``SKELGRAPH_WEIGHTS_URL`` (a base URL, ``file://`` included) replaces every entry's URL by
``BASE/NAME.pth``: a mirror, or files made for tests.

The MS-G3D authors' own checkpoints (:data:`AUTHORS_CHECKPOINTS`) are on Google Drive,
Dropbox and WeiYun, which a script cannot fetch: download ``msg3d-pretrained-models.zip``
by hand and convert its files with ``convert_checkpoint.py --preset ntu60`` (or
``ntu120``, ``kinetics400``).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from examples.msg3d.convert_checkpoint import NTU120_CLASSES, convert_pyskl
from examples.msg3d.pyskl_pipeline import PysklPipeline
from skelgraph.data import STREAMS

__all__ = [
    "AUTHORS_CHECKPOINTS",
    "BASE_URL_VARIABLE",
    "WEIGHTS",
    "DownloadError",
    "PretrainedWeights",
    "get_weights",
    "markdown_table",
]

BASE_URL_VARIABLE = "SKELGRAPH_WEIGHTS_URL"

_PYSKL_URL = "http://download.openmmlab.com/mmaction/pyskl/ckpt/msg3d/msg3d_pyskl_{}/{}.pth"
_MMACTION2_URL = "https://download.openmmlab.com/mmaction/v1.0/projects/msg3d/{0}/{0}_{1}.pth"
_SHORT = dict(zip(STREAMS, ("j", "b", "jm", "bm")))
_DATASETS = {"ntu60": ("NTU RGB+D 60", 60), "ntu120": ("NTU RGB+D 120", 120)}


class DownloadError(RuntimeError):
    """A checkpoint could not be downloaded (offline, or the URL failed)."""


@dataclass(frozen=True)
class PretrainedWeights:
    """One released checkpoint; see the module docstring.

    Attributes
    ----------
    name : str
        ``{source}-{dataset}-{split}-{3d|hrnet}-{j|b|jm|bm}``.
    url : str
    source : str
        ``"pyskl"`` or ``"mmaction2"``.
    dataset : str
        ``"ntu60"`` or ``"ntu120"``.
    split : str
        ``"xsub"``, ``"xview"`` or ``"xset"``.
    dims : int
        3 (Kinect skeletons, NTU's 25 joints) or 2 (HRNet COCO-17 keypoints with scores).
    stream : str
        One of ``STREAMS`` (joint, bone, joint-motion, bone-motion).
    top1 : float
        The published top-1 accuracy (%) of this stream alone, 10 test clips.
    config : str
        The training configuration in the source repository.
    """

    name: str
    url: str
    source: str
    dataset: str
    split: str
    dims: int
    stream: str
    top1: float
    config: str

    @property
    def layout(self) -> str:
        """skelgraph's layout of the input."""
        return "ntu-rgbd-pyskl" if self.dims == 3 else "coco-17"

    @property
    def num_classes(self) -> int:
        return _DATASETS[self.dataset][1]

    @property
    def dataset_name(self) -> str:
        """``"NTU RGB+D 60"`` or ``"NTU RGB+D 120"``."""
        return _DATASETS[self.dataset][0]

    @property
    def class_names(self) -> list[str]:
        """The dataset's action names."""
        return NTU120_CLASSES.read_text(encoding="utf-8").splitlines()[: self.num_classes]

    @property
    def pipeline(self) -> PysklPipeline:
        """The test pipeline of its configuration (mmaction2's ``PreNormalize2D`` does
        not mask low scores)."""
        threshold = 0.01 if self.source == "pyskl" else None
        return PysklPipeline(self.layout, self.dims, self.stream, threshold=threshold)

    def resolved_url(self) -> str:
        """``url``, or ``$SKELGRAPH_WEIGHTS_URL/NAME.pth`` where that is set."""
        base = os.environ.get(BASE_URL_VARIABLE)
        return f"{base.rstrip('/')}/{self.name}.pth" if base else self.url

    def cache_path(self) -> Path:
        """Where the download is kept: ``<torch hub dir>/checkpoints/skelgraph/NAME.pth``."""
        return Path(torch.hub.get_dir()) / "checkpoints" / "skelgraph" / f"{self.name}.pth"

    def download(self, progress: bool = False) -> Path:
        """The cached file, downloaded first if absent, its sha256 checked.

        Raises
        ------
        DownloadError
            The download failed (offline, say): the message names the URL and how to
            proceed without it.
        ValueError
            The cached file's sha256 is not the one recorded on its first download.
        """
        path = self.cache_path()
        record = path.with_name(path.name + ".sha256")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            url = self.resolved_url()
            try:
                torch.hub.download_url_to_file(url, str(path), progress=progress)
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", error)
                raise DownloadError(
                    f"cannot download {self.name} from {url} ({reason}); when offline, "
                    f"fetch that file elsewhere and put it at {path}, or convert it with "
                    "convert_checkpoint.py --from pyskl and pass --checkpoint"
                ) from None
            record.write_text(_sha256(path) + "\n", encoding="ascii")
        expected = record.read_text(encoding="ascii").strip() if record.exists() else None
        actual = _sha256(path)
        if expected is None:
            record.write_text(actual + "\n", encoding="ascii")
        elif actual != expected:
            raise ValueError(
                f"{path}: sha256 {actual} is not {expected}, recorded when it was "
                "downloaded; delete the file (and its .sha256) to download it again"
            )
        return path

    def checkpoint(self, progress: bool = False) -> dict[str, Any]:
        """The converted checkpoint (``predict.py``'s format), downloaded if need be.

        Raises
        ------
        DownloadError, ValueError
            As :meth:`download`; or a file that is not this entry's model (other
            classes or layout).
        """
        path = self.download(progress)
        ckpt = convert_pyskl(
            path,
            stream=self.stream,
            class_names=self.class_names,
            threshold=self.pipeline.threshold,
        )
        overrides = ckpt["model_config"]["overrides"]
        if (overrides["num_classes"], overrides["graph"]) != (self.num_classes, self.layout):
            raise ValueError(
                f"{path} holds a model of {overrides['num_classes']} classes on "
                f"{overrides['graph']!r}, not {self.name}'s {self.num_classes} on {self.layout!r}"
            )
        return ckpt


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pyskl_entries() -> list[PretrainedWeights]:
    # pyskl's configs/msg3d/README.md: top-1 of j, b, jm, bm per dataset, split, input.
    table = {
        ("ntu60", "xsub", "3dkp"): (89.6, 89.3, 87.7, 86.7),
        ("ntu60", "xsub", "hrnet"): (92.7, 92.8, 89.8, 90.2),
        ("ntu60", "xview", "3dkp"): (95.9, 95.0, 94.0, 92.4),
        ("ntu60", "xview", "hrnet"): (97.1, 97.1, 95.9, 95.1),
        ("ntu120", "xsub", "3dkp"): (84.0, 85.3, 82.2, 81.5),
        ("ntu120", "xsub", "hrnet"): (85.5, 85.0, 82.6, 82.9),
        ("ntu120", "xset", "3dkp"): (86.0, 87.3, 82.9, 83.2),
        ("ntu120", "xset", "hrnet"): (88.2, 88.9, 86.6, 86.5),
    }
    entries = []
    for (dataset, split, kind), accuracies in table.items():
        setting = f"{dataset}_{split}_{kind}"
        for stream, top1 in zip(STREAMS, accuracies):
            short = _SHORT[stream]
            entries.append(
                PretrainedWeights(
                    name=f"pyskl-{dataset}-{split}-{'3d' if kind == '3dkp' else 'hrnet'}-{short}",
                    url=_PYSKL_URL.format(setting, short),
                    source="pyskl",
                    dataset=dataset,
                    split=split,
                    dims=3 if kind == "3dkp" else 2,
                    stream=stream,
                    top1=top1,
                    config=f"configs/msg3d/msg3d_pyskl_{setting}/{short}.py",
                )
            )
    return entries


def _mmaction2_entries() -> list[PretrainedWeights]:
    # mmaction2's projects/msg3d/README.md.
    runs = (
        ("keypoint-2d", 2, "20230309-73b97296", 92.3),
        ("keypoint-3d", 3, "20230308-c325d222", 89.6),
    )
    entries = []
    for suffix, dims, stamp, top1 in runs:
        config = f"msg3d_8xb16-joint-u100-80e_ntu60-xsub-{suffix}"
        entries.append(
            PretrainedWeights(
                name=f"mmaction2-ntu60-xsub-{'3d' if dims == 3 else 'hrnet'}-j",
                url=_MMACTION2_URL.format(config, stamp),
                source="mmaction2",
                dataset="ntu60",
                split="xsub",
                dims=dims,
                stream="joint",
                top1=top1,
                config=f"projects/msg3d/configs/{config}.py",
            )
        )
    return entries


WEIGHTS: dict[str, PretrainedWeights] = {w.name: w for w in _pyskl_entries() + _mmaction2_entries()}
"""Every released checkpoint, by name."""

AUTHORS_CHECKPOINTS = {
    "archive": "msg3d-pretrained-models.zip",
    "links": (
        "https://drive.google.com/open?id=1y3VbEnINtyriy82apiTZJtBV1a3cywa-",
        "https://www.dropbox.com/s/9n9897cu1ft1khg/msg3d-pretrained-models.zip",
        "https://share.weiyun.com/DlR4Jse1",
    ),
    "files": {
        "ntu60-xsub-joint-fusion.pt": "ntu60",
        "ntu60-xsub-bone.pt": "ntu60",
        "ntu60-xview-joint.pt": "ntu60",
        "ntu60-xview-bone.pt": "ntu60",
        "ntu120-xsub-joint.pt": "ntu120",
        "ntu120-xsub-bone.pt": "ntu120",
        "ntu120-xset-joint.pt": "ntu120",
        "ntu120-xset-bone.pt": "ntu120",
        "kinetics-joint.pt": "kinetics400",
        "kinetics-bone.pt": "kinetics400",
    },
}
"""The MS-G3D authors' released checkpoints (kenziyuliu/MS-G3D README, "Pretrained
Models"): the archive's files and the ``convert_checkpoint.py --preset`` of each. The
links are file-sharing pages a script cannot download from."""


def get_weights(name: str) -> PretrainedWeights:
    """The entry called ``name``.

    Raises
    ------
    ValueError
        An unknown name; the message lists the known ones.
    """
    if name not in WEIGHTS:
        raise ValueError(f"unknown weights {name!r}; known: {', '.join(WEIGHTS)}")
    return WEIGHTS[name]


def markdown_table() -> str:
    """The registry as a Markdown table: one row per dataset, split, input and source,
    the names' common stem and each stream's published top-1 (the pretrained-models tutorial)."""
    rows: dict[str, dict[str, float]] = {}
    for w in WEIGHTS.values():
        stem = w.name.rsplit("-", 1)[0]
        rows.setdefault(stem, {})[w.stream] = w.top1
    lines = [
        "| weights (`NAME-j`, `-b`, `-jm`, `-bm`) | dataset | input | joint | bone "
        "| joint motion | bone motion |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for stem, accuracies in rows.items():
        w = WEIGHTS[f"{stem}-j"]
        cells = [f"{accuracies[s]:.1f}" if s in accuracies else "" for s in STREAMS]
        what = "3-D Kinect, 25 joints" if w.dims == 3 else "2-D HRNet COCO-17"
        lines.append(
            f"| `{stem}` | {w.dataset_name} {w.split.replace('x', 'X-')} | {what} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines) + "\n"
