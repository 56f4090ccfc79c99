"""skelgraph.metrics: hand-counted cases, ties, absent classes, DDP, the plot."""

from __future__ import annotations

import os
import socket

import numpy as np
import pytest
import torch

pytest.importorskip("torchmetrics", reason="the train extra is not installed")

from skelgraph.metrics import (
    ClassificationMetrics,
    classification_metrics,
    plot_confusion_matrix,
    true_rank,
)

# 6 samples, 4 classes; class 3 never occurs among the labels but is predicted once.
SCORES = torch.tensor(
    [
        [5.0, 1.0, 0.0, 0.0],  # true 0, predicted 0
        [0.0, 1.0, 3.0, 2.0],  # true 0, predicted 2; rank of 0 is 3
        [0.0, 4.0, 1.0, 0.0],  # true 1, predicted 1
        [1.0, 0.0, 0.0, 2.0],  # true 1, predicted 3 (a class absent from the labels)
        [0.0, 0.0, 9.0, 0.0],  # true 2, predicted 2
        [1.0, 2.0, 3.0, 0.0],  # true 2, predicted 2
    ]
)
LABELS = torch.tensor([0, 0, 1, 1, 2, 2])


def test_hand_counted():
    out = classification_metrics(SCORES, LABELS, top_k=(1, 2, 3, 5))
    assert out["count"] == 6
    assert out["top1"] == pytest.approx(4 / 6)
    # Ranks of the true class: 0, 3, 0, 2 (classes 3 and 0 above 1), 0, 0.
    assert true_rank(SCORES, LABELS).tolist() == [0, 3, 0, 2, 0, 0]
    assert out["top2"] == pytest.approx(4 / 6)
    assert out["top3"] == pytest.approx(5 / 6)
    assert out["top5"] == 1.0  # k above the class count: every sample
    # Per class: 1/2, 1/2, 2/2; class 3 has no sample and is left out (not a 0).
    assert out["mean_class_accuracy"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    expected = np.zeros((4, 4), np.int64)
    for t, p in [(0, 0), (0, 2), (1, 1), (1, 3), (2, 2), (2, 2)]:
        expected[t, p] += 1
    np.testing.assert_array_equal(out["confusion_matrix"], expected)


def test_ties_go_to_the_lowest_index():
    scores = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 2.0, 2.0], [3.0, 3.0, 3.0]])
    labels = torch.tensor([0, 1, 2, 2])
    assert true_rank(scores, labels).tolist() == [0, 1, 1, 2]
    out = classification_metrics(scores, labels, top_k=(1, 2))
    assert out["top1"] == pytest.approx(1 / 4)
    assert out["top2"] == pytest.approx(3 / 4)
    # The argmax of a tie is the first index, as torch.argmax, in the confusion matrix too.
    assert out["confusion_matrix"].tolist() == [[1, 0, 0], [1, 0, 0], [1, 1, 0]]


def test_batches_accumulate_and_reset():
    metric = ClassificationMetrics(4, top_k=(1, 3))
    for part in (slice(0, 1), slice(1, 4), slice(4, 4), slice(4, 6)):  # an empty batch too
        metric.update(SCORES[part], LABELS[part])
    out = metric.compute()
    assert float(out["top1"]) == pytest.approx(4 / 6)
    assert float(out["top3"]) == pytest.approx(5 / 6)
    assert int(out["count"]) == 6
    metric.reset()
    with (
        pytest.warns(UserWarning, match="before the ``update``"),
        pytest.raises(ValueError, match="no sample was counted"),
    ):
        metric.compute()


def test_zero_samples_are_an_error_not_nan():
    metric = ClassificationMetrics(3)
    metric.update(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))  # an empty shard
    with pytest.raises(ValueError, match="no sample was counted"):
        metric.compute()
    with pytest.raises(ValueError, match="no sample was counted"):
        classification_metrics(np.zeros((0, 5)), np.zeros(0, np.int64))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_scores_are_an_error(bad):
    # A NaN row ranks its true class first (nothing compares greater): 100 % top-1.
    scores = torch.tensor([[0.1, 0.9], [bad, bad], [0.8, 0.2]])
    labels = torch.tensor([0, 1, 0])
    match = rf"scores hold 2 NaN or infinite value\(s\), first {bad} at sample 1, class 0"
    with pytest.raises(ValueError, match=match):
        classification_metrics(scores, labels)
    with pytest.raises(ValueError, match=match):
        ClassificationMetrics(2).update(scores, labels)
    with pytest.raises(ValueError, match=match):
        true_rank(scores, labels)


def test_a_batch_without_some_classes():
    # Only class 1 present in the batch: the mean is over class 1 alone.
    out = classification_metrics(torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), [1, 1])
    assert out["top1"] == 0.5 and out["mean_class_accuracy"] == 0.5


def test_invalid_input():
    with pytest.raises(ValueError, match="out of range for 4 classes"):
        classification_metrics(SCORES, torch.tensor([0, 0, 1, 1, 2, 4]))
    with pytest.raises(ValueError, match="labels must be"):
        classification_metrics(SCORES, LABELS[:3])
    with pytest.raises(ValueError, match="integers"):
        classification_metrics(SCORES, LABELS.float())
    with pytest.raises(ValueError, match="classes"):
        ClassificationMetrics(3).update(SCORES, LABELS)
    with pytest.raises(ValueError, match="num_classes"):
        ClassificationMetrics(0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, results) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    try:
        metric = ClassificationMetrics(4, top_k=(1, 3))
        # Uneven slices: rank 0 gets samples 0, 2, 4; rank 1 gets 1, 3, 5 and one more batch.
        mine = list(range(rank, 6, world))
        metric.update(SCORES[mine[:1]], LABELS[mine[:1]])
        metric.update(SCORES[mine[1:]], LABELS[mine[1:]])
        out = metric.compute()
        results[rank] = {k: v.tolist() for k, v in out.items()}
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")
def test_ddp_counts_every_process():
    import torch.multiprocessing as mp

    manager = mp.Manager()
    results = manager.dict()
    mp.spawn(_ddp_worker, args=(2, _free_port(), results), nprocs=2, join=True)
    whole = ClassificationMetrics(4, top_k=(1, 3))
    whole.update(SCORES, LABELS)
    expected = {k: v.tolist() for k, v in whole.compute().items()}
    assert results[0] == results[1] == expected


def test_plot_confusion_matrix():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cm = classification_metrics(SCORES, LABELS)["confusion_matrix"]
    ax = plot_confusion_matrix(cm, ["a", "b", "c", "d"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c", "d"]
    image = ax.get_images()[0].get_array()
    assert image[0].tolist() == [0.5, 0.0, 0.5, 0.0] and image[3].tolist() == [0, 0, 0, 0]
    assert len(ax.texts) == 16
    raw = plot_confusion_matrix(torch.as_tensor(cm), normalize=False, annotate=False)
    assert raw.get_images()[0].get_array()[2, 2] == 2 and not raw.texts
    with pytest.raises(ValueError, match="class names"):
        plot_confusion_matrix(cm, ["a"])
    plt.close("all")
