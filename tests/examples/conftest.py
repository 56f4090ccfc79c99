"""Small, valid inputs of the commands (a checkpoint, a pose pickle, score files), made in
a second rather than trained, for the tests that spoil them one field at a time; and
fixtures of pyskl's code (:mod:`tests.examples.pyskl_oracle`), made once per session."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from examples.msg3d.model import MSG3DNet
from skelgraph import SkeletonGraph
from skelgraph.data import Pipeline, from_array, write_pose_pickle
from tests.examples import pyskl_oracle

ARM = {
    "name": "arm",
    "joint_names": ["chest", "shoulder", "elbow", "wrist", "hand"],
    "edges": [[0, 1], [1, 2], [2, 3], [3, 4]],
    "center": 0,
    "preprocess": {"center": 0, "z_axis": [0, 1], "x_axis": [1, 2]},
}
"""A custom 5-joint layout, as ``train.py`` stores one (its dict, not a path)."""


def arm_checkpoint() -> dict:
    """What ``train.py`` saves for a tiny 3-class model of :data:`ARM`, one person: the
    keys ``predict.py`` reads, holding plain data."""
    overrides = {"aggregation": "disentangled", "graph": ARM, "num_persons": 1,
                 "num_classes": 3, "in_channels": 3, "channels": [12, 12, 24],
                 "num_gcn_scales": 3, "num_g3d_scales": 2, "windows": [[3, 1]]}  # fmt: skip
    kwargs = {**overrides, "graph": SkeletonGraph.from_dict(ARM), "windows": ((3, 1),)}
    torch.manual_seed(0)
    model = MSG3DNet.from_preset("nw-ucla-small", **kwargs)
    pipeline = Pipeline(layout=ARM, channels=3, frames=8, num_persons=1)
    return {
        "model": model.state_dict(),
        "model_config": {"preset": "nw-ucla-small", "overrides": overrides},
        "pipeline": pipeline.to_dict(),
        "class_names": ["reach", "wave", "point"],
    }


@pytest.fixture(scope="session")
def arm_files(tmp_path_factory):
    """``checkpoint``: :func:`arm_checkpoint` saved; ``pickle``: a pose pickle of
    :data:`ARM` whose samples are named ``a:b`` (first, 9 frames) and ``b`` (13 frames);
    ``scores``: two ``val_scores.npz`` of 4 samples and 3 classes, as ``train.py``
    writes them."""
    root = tmp_path_factory.mktemp("arm")
    files = {"checkpoint": root / "arm.pt", "pickle": root / "arm.pkl"}
    torch.save(arm_checkpoint(), files["checkpoint"])
    graph = SkeletonGraph.from_dict(ARM)
    rng = np.random.default_rng(0)
    samples = {name: from_array(rng.normal(size=(t, 5, 3)), graph, label=i)
               for i, (name, t) in enumerate([("a:b", 9), ("b", 13)])}  # fmt: skip
    write_pose_pickle(samples, files["pickle"])
    for stream in ("joint", "bone"):
        path = files[stream] = root / stream / "val_scores.npz"
        path.parent.mkdir()
        logits = rng.normal(size=(4, 3)).astype(np.float32)
        ids, labels = np.array(["s0", "s1", "s2", "s3"]), np.array([0, 1, 2, 0])
        np.savez(path, ids=ids, labels=labels, logits=logits, stream=np.array(stream))
    (root / "arm.json").write_text(json.dumps(ARM))
    return files


@pytest.fixture(scope="session")
def pyskl_make(tmp_path_factory):
    """A private copy of the shared generator folder; skips without ../shared."""
    return pyskl_oracle.make_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def pyskl_coco60(pyskl_make, tmp_path_factory):
    """A COCO-17 (x, y, score) checkpoint of 60 classes made by pyskl's code, with a 2-D
    sample and pyskl's joint test-pipeline probabilities (``sample_*`` in its io)."""
    out = tmp_path_factory.mktemp("coco60") / "coco60"
    pyskl_oracle.generate(pyskl_make, out, "coco", 60, 1, two_d=True)
    pyskl_oracle.sample_2d(pyskl_make, out)
    return out
