"""Fixtures of pyskl's code (:mod:`tests.examples.pyskl_oracle`), made once per session."""

from __future__ import annotations

import pytest

from tests.examples import pyskl_oracle


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
