"""Weights by name: the registry's entries, and predict.py / stream.py --weights end to end
against a file:// mirror of checkpoints made by pyskl's code (no mock of the download)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from examples.msg3d import predict, stream
from examples.msg3d.convert_checkpoint import convert_pyskl
from examples.msg3d.predict import Predictor
from examples.msg3d.weights import BASE_URL_VARIABLE, WEIGHTS, get_weights
from tests.conftest import fixture_path
from tests.examples import pyskl_oracle

SKELETON = ("ntu", "S001C001P001R001A001.skeleton")


def test_the_registry_holds_pyskls_32_and_mmaction2s_2_checkpoints():
    assert len(WEIGHTS) == 34
    pyskl = [w for w in WEIGHTS.values() if w.source == "pyskl"]
    assert len(pyskl) == 32
    settings = {(w.dataset, w.split, w.dims) for w in pyskl}
    assert len(settings) == 8 and all(
        sorted(w.stream for w in pyskl if (w.dataset, w.split, w.dims) == s)
        == ["bone", "bone-motion", "joint", "joint-motion"]
        for s in settings
    )
    for w in WEIGHTS.values():
        assert w.url.endswith(".pth") and w.url.split("//")[0] in ("http:", "https:")
        assert 80 < w.top1 < 98
        assert len(w.class_names) == w.num_classes == int(w.dataset[3:])
        assert w.pipeline.layout == w.layout and w.pipeline.stream == w.stream
    best = get_weights("pyskl-ntu60-xview-hrnet-j")
    assert (best.top1, best.dims, best.layout) == (97.1, 2, "coco-17")
    assert best.url.endswith("/msg3d_pyskl_ntu60_xview_hrnet/j.pth")
    assert get_weights("mmaction2-ntu60-xsub-hrnet-j").pipeline.threshold is None
    assert (
        get_weights("pyskl-ntu120-xset-3d-bm")
        .class_names[-1]
        .endswith("(playing rock-paper-scissors)")
    )


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="unknown weights 'msg3d'; known: pyskl-ntu60-xsub-3d-j"):
        get_weights("msg3d")


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A file:// mirror of three registry entries (narrow models in pyskl's format: the
    exactness of the conversion is test_pyskl.py's) and an empty torch hub cache."""
    files = tmp_path / "mirror"
    files.mkdir()
    pyskl_oracle.save_narrow(files / "pyskl-ntu60-xsub-3d-j.pth", "ntu-rgbd-pyskl", seed=1)
    pyskl_oracle.save_narrow(files / "pyskl-ntu60-xsub-hrnet-j.pth", "coco-17", seed=2)
    shutil.copy(files / "pyskl-ntu60-xsub-hrnet-j.pth", files / "pyskl-ntu60-xsub-hrnet-b.pth")
    monkeypatch.setenv(BASE_URL_VARIABLE, files.as_uri())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return files


def _json(capsys, main, argv) -> dict:
    capsys.readouterr()
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_predict_downloads_once_converts_and_runs(mirror, capsys):
    skeleton = str(fixture_path(*SKELETON))
    argv = ["--weights", "pyskl-ntu60-xsub-3d-j", skeleton, "--json"]
    first = _json(capsys, predict.main, argv)["predictions"][0]
    cached = get_weights("pyskl-ntu60-xsub-3d-j").cache_path()
    assert cached.exists() and cached.with_name(cached.name + ".sha256").exists()
    # The same probabilities as the converted file itself gives.
    expected = Predictor(convert_pyskl(mirror / "pyskl-ntu60-xsub-3d-j.pth"))
    top = expected.top_k(predict.read_input(skeleton, expected)[0][1], 5)
    assert first["top"][0]["name"] == top[0]["name"]
    assert first["top"][0]["probability"] == pytest.approx(top[0]["probability"], abs=1e-6)
    # Later runs use the cache (the mirror is gone) ...
    (mirror / "pyskl-ntu60-xsub-3d-j.pth").unlink()
    assert _json(capsys, predict.main, argv)["predictions"][0] == first
    # ... and refuse a cached file that changed since it was downloaded.
    with open(cached, "ab") as file:
        file.write(b"\0")
    with pytest.raises(SystemExit, match=r"--weights pyskl-ntu60-xsub-3d-j: .* sha256"):
        predict.main(argv)


def test_offline_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv(BASE_URL_VARIABLE, (tmp_path / "nowhere").as_uri())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    for main in (predict.main, stream.main):
        with pytest.raises(SystemExit) as exit_:
            main(["--weights", "pyskl-ntu60-xsub-3d-b", str(fixture_path(*SKELETON))])
        message = str(exit_.value.code)  # cli.run prints it as one line, status 2
        assert "cannot download pyskl-ntu60-xsub-3d-b from file://" in message
        assert "--checkpoint" in message


def test_two_streams_fuse_as_pyskl(mirror, tmp_path, capsys):
    rng = np.random.default_rng(0)
    keypoints = np.concatenate(
        [rng.uniform(200, 900, (40, 17, 2)), rng.uniform(0.3, 1, (40, 17, 1))], -1
    )
    np.save(tmp_path / "coco.npy", keypoints.astype(np.float32))
    names = ["pyskl-ntu60-xsub-hrnet-j", "pyskl-ntu60-xsub-hrnet-b"]
    argv = ["--weights", names[0], "--weights", names[1], "--fusion-weights", "2", "1"]
    out = _json(capsys, predict.main, [str(tmp_path / "coco.npy"), *argv, "--json"])
    fused = out["predictions"][0]["top"]
    predictors = [Predictor(get_weights(n).checkpoint()) for n in names]
    sample = predict.read_input(tmp_path / "coco.npy", predictors[0])[0][1]
    joint, bone = (p.probabilities(sample) for p in predictors)
    assert not torch.allclose(joint, bone)  # each its own stream's pipeline
    expected = (2 * joint + bone) / 3
    assert fused[0]["class"] == int(expected.argmax())
    assert fused[0]["probability"] == pytest.approx(float(expected.max()), abs=1e-6)
    with pytest.raises(SystemExit, match="2 weights for 1 --weights"):
        predict.main(["x.npy", "--weights", names[0], "--fusion-weights", "2", "1"])


def test_stream_runs_a_released_checkpoint(mirror, capsys):
    skeleton = str(fixture_path(*SKELETON))
    assert stream.main(["--weights", "pyskl-ntu60-xsub-3d-j", skeleton, "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    final = records[-1]
    assert final["final"] and final["frame"] == 100  # one of pyskl's 100-frame test clips
    offline = _json(
        capsys, predict.main, ["--weights", "pyskl-ntu60-xsub-3d-j", skeleton, "--json"]
    )
    assert final["name"] == offline["predictions"][0]["top"][0]["name"]
    assert final["probability"] == pytest.approx(
        offline["predictions"][0]["top"][0]["probability"], abs=1e-5
    )


def test_the_tutorial_table_is_the_registrys():
    from examples.msg3d.weights import markdown_table
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "tutorials" / "pretrained_models.rst").read_text(encoding="utf-8")
    assert "\n".join("   " + line for line in markdown_table().splitlines()) in page
