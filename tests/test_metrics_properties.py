"""Properties of the metrics against independent computations on random, imbalanced data.

The hand-counted cases of ``test_metrics.py`` are balanced (every class has as many samples
as predictions), where recall and precision agree; here the confusion matrices are random,
so a mean class accuracy that divides by the wrong margin is caught.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

pytest.importorskip("torchmetrics", reason="the train extra is not installed")

from skelgraph.metrics import classification_metrics


def _samples_of(confmat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores (one-hot on the prediction) and labels whose confusion matrix is ``confmat``."""
    k = len(confmat)
    true, pred = np.nonzero(confmat)
    counts = confmat[true, pred]
    labels, predicted = np.repeat(true, counts), np.repeat(pred, counts)
    return np.eye(k)[predicted], labels


def _mean_recall(confmat: np.ndarray) -> float:
    """Mean over the true classes with samples of (correct / samples of the class)."""
    recalls = [confmat[i, i] / confmat[i].sum() for i in range(len(confmat)) if confmat[i].sum()]
    return sum(recalls) / len(recalls)


confmats = st.integers(1, 6).flatmap(lambda k: arrays(np.int64, (k, k), elements=st.integers(0, 7)))


@given(confmats)
@settings(max_examples=150, deadline=None)
def test_mean_class_accuracy_is_the_mean_recall(confmat):
    assume(confmat.sum() > 0)
    scores, labels = _samples_of(confmat)
    out = classification_metrics(scores, labels, len(confmat))
    np.testing.assert_array_equal(out["confusion_matrix"], confmat)
    assert out["mean_class_accuracy"] == pytest.approx(_mean_recall(confmat), abs=1e-12)
    assert out["top1"] == pytest.approx(np.trace(confmat) / confmat.sum(), abs=1e-12)
    assert out["count"] == confmat.sum()


def test_imbalanced_case_by_hand():
    # class 0: 3 samples, 3 right; class 1: 1 sample, predicted 0. Recall (1 + 0) / 2;
    # precision would give (3/4 + 0) / 1 over predicted classes.
    out = classification_metrics(np.eye(2)[[0, 0, 0, 0]], [0, 0, 0, 1])
    assert out["mean_class_accuracy"] == 0.5
