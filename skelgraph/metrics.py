r"""Classification metrics of action recognition: top-k accuracy, mean class accuracy and the
confusion matrix, correct under ``torch.distributed`` (needs the ``train`` extra:
torchmetrics).

:class:`ClassificationMetrics` is a :class:`torchmetrics.Metric`: each process calls
:meth:`~ClassificationMetrics.update` on its own batches and
:meth:`~ClassificationMetrics.compute` sums the counts of every process (torchmetrics'
own synchronisation), so the numbers are those of the whole data set, whatever the
split over processes. Its state is a confusion matrix and the top-k hit counts, integer
counts summed exactly.

Definitions, for N samples with true classes :math:`y_n` and scores :math:`s_{n,k}`:

- the **rank** of the true class is the number of classes scored above it, plus those
  scored equal to it with a lower index: ties go to the lowest index, as
  :func:`torch.argmax` breaks them, on every device;
- **top-k accuracy** is the fraction of samples whose true class has rank < k
  (top-1 is the accuracy of the argmax prediction);
- the **confusion matrix** :math:`C_{ij}` counts samples of true class i predicted j
  (argmax, ties as above);
- **mean class accuracy** is the mean over the classes that occur among the labels of
  :math:`C_{ii} / \sum_j C_{ij}`; classes with no sample are left out (a class that is
  only predicted, never true, does not count as 0).

Scores must be finite: a NaN or infinite score is a ``ValueError`` naming its sample and
class (a NaN compares false with everything, so nothing would rank above it and a wrong
prediction would count as right), and so is computing the metrics of zero samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from skelgraph._validation import check_finite_scores

try:
    from torchmetrics import Metric
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "skelgraph.metrics needs torchmetrics: pip install 'skelgraph[train]'"
    ) from error

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ClassificationMetrics", "classification_metrics", "plot_confusion_matrix", "true_rank"]


def true_rank(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The rank of each sample's true class among its scores, 0 for the best.

    The number of classes scored higher than the true one, plus those scored equally with
    a lower index (ties go to the lowest index, like :func:`torch.argmax`).

    Parameters
    ----------
    scores : Tensor
        (N, K) logits or probabilities.
    labels : Tensor
        (N,) integer classes in 0..K-1.

    Returns
    -------
    Tensor
        (N,) int64.

    Examples
    --------
    >>> true_rank(torch.tensor([[0.1, 0.5, 0.5], [2.0, 1.0, 0.0]]), torch.tensor([2, 0]))
    tensor([1, 0])
    """
    scores, labels = _check(scores, labels)
    true = scores.gather(1, labels[:, None])
    index = torch.arange(scores.shape[1], device=scores.device)
    ahead = (scores > true) | ((scores == true) & (index[None, :] < labels[:, None]))
    return ahead.sum(1)


def _check(scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scores, labels = torch.as_tensor(scores), torch.as_tensor(labels)
    if scores.ndim != 2:
        raise ValueError(f"scores must be (N, num_classes), got shape {tuple(scores.shape)}")
    if labels.shape != scores.shape[:1]:
        raise ValueError(
            f"labels must be (N,) = ({scores.shape[0]},) like the scores, got {tuple(labels.shape)}"
        )
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    check_finite_scores(scores, "scores")
    labels = labels.long()
    if labels.numel() and (labels.min() < 0 or labels.max() >= scores.shape[1]):
        bad = labels[(labels < 0) | (labels >= scores.shape[1])][0]
        raise ValueError(
            f"label {int(bad)} is out of range for {scores.shape[1]} classes (0.."
            f"{scores.shape[1] - 1})"
        )
    return scores, labels


class ClassificationMetrics(Metric):
    """Top-k accuracy, mean class accuracy and the confusion matrix over many batches.

    Parameters
    ----------
    num_classes : int
        K, the classes (logit columns; labels in 0..K-1).
    top_k : sequence of int
        The k of the top-k accuracies reported (default 1 and 5; a k above
        ``num_classes`` counts every sample as a hit).
    **kwargs
        Passed to :class:`torchmetrics.Metric` (e.g. ``sync_on_compute``,
        ``process_group``).

    Examples
    --------
    >>> m = ClassificationMetrics(3)
    >>> m.update(torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 2.0]]), torch.tensor([0, 1]))
    >>> out = m.compute()
    >>> float(out["top1"]), float(out["top5"]), float(out["mean_class_accuracy"])
    (0.5, 1.0, 0.5)
    >>> out["confusion_matrix"].tolist()
    [[1, 0, 0], [0, 0, 1], [0, 0, 0]]
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, num_classes: int, top_k: Sequence[int] = (1, 5), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be an int >= 1, got {num_classes!r}")
        top_k = tuple(int(k) for k in top_k)
        if any(k < 1 for k in top_k):
            raise ValueError(f"top_k must be ints >= 1, got {top_k}")
        self.num_classes = num_classes
        self.top_k = top_k
        zeros = torch.zeros(num_classes, num_classes, dtype=torch.long)
        self.add_state("confmat", default=zeros, dist_reduce_fx="sum")
        hits = torch.zeros(len(top_k), dtype=torch.long)
        self.add_state("hits", default=hits, dist_reduce_fx="sum")

    def update(self, scores: torch.Tensor, labels: torch.Tensor) -> None:
        """Count a batch: ``scores`` (N, num_classes), finite, ``labels`` (N,)."""
        scores, labels = _check(scores, labels)
        if scores.shape[1] != self.num_classes:
            raise ValueError(
                f"scores have {scores.shape[1]} classes, the metric {self.num_classes}"
            )
        scores, labels = scores.to(self.confmat.device), labels.to(self.confmat.device)
        rank = true_rank(scores, labels)
        k = torch.tensor(self.top_k, device=rank.device)
        self.hits += (rank[:, None] < k[None, :]).sum(0)
        pred = scores.argmax(1)
        flat = labels * self.num_classes + pred
        self.confmat += torch.bincount(flat, minlength=self.num_classes**2).view_as(self.confmat)

    def compute(self) -> dict[str, torch.Tensor]:
        """``top{k}`` for each k, ``mean_class_accuracy`` (float64 tensors),
        ``confusion_matrix`` (int64, rows the true classes) and ``count``.

        Raises ``ValueError`` when no sample was counted (over every process): there is
        no accuracy of nothing."""
        confmat = self.confmat
        count = confmat.sum()
        if int(count) == 0:
            raise ValueError(
                "no sample was counted: accuracies of zero samples are undefined (an empty "
                "validation set or score file?)"
            )
        out: dict[str, torch.Tensor] = {}
        for k, hits in zip(self.top_k, self.hits):
            out[f"top{k}"] = hits.double() / count.double()
        support = confmat.sum(1)
        present = support > 0
        out["mean_class_accuracy"] = (
            confmat.diagonal()[present].double() / support[present].double()
        ).mean()
        out["confusion_matrix"] = confmat.clone()
        out["count"] = count.clone()
        return out


def classification_metrics(
    scores: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | Sequence[int],
    num_classes: int | None = None,
    *,
    top_k: Sequence[int] = (1, 5),
) -> dict[str, Any]:
    """:class:`ClassificationMetrics` of one set of scores, as plain Python values.

    Parameters
    ----------
    scores : Tensor or array
        (N, K) logits or probabilities.
    labels : Tensor or array or sequence of int
        (N,) true classes.
    num_classes : int, optional
        Default K.
    top_k : sequence of int
        The k of the top-k accuracies (default 1 and 5).

    Returns
    -------
    dict
        ``top1``, ``top5`` (or the k asked for), ``mean_class_accuracy`` (floats),
        ``confusion_matrix`` (numpy int64 (K, K)) and ``count`` (int). Computed on this
        process's data only (no synchronisation).

    Raises
    ------
    ValueError
        Zero samples, a NaN or infinite score, labels out of range or of the wrong shape.

    Examples
    --------
    >>> out = classification_metrics([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]], [0, 0, 1])
    >>> round(out["top1"], 3), out["mean_class_accuracy"], out["count"]
    (0.333, 0.25, 3)
    """
    scores = torch.as_tensor(np.asarray(scores) if not isinstance(scores, torch.Tensor) else scores)
    labels = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    metric = ClassificationMetrics(
        scores.shape[-1] if num_classes is None else num_classes, top_k, sync_on_compute=False
    )
    metric.update(scores.detach().cpu(), labels.cpu())
    result = metric.compute()
    out: dict[str, Any] = {k: float(v) for k, v in result.items() if k != "confusion_matrix"}
    out["count"] = int(result["count"])
    out["confusion_matrix"] = result["confusion_matrix"].numpy()
    return out


def plot_confusion_matrix(
    matrix: torch.Tensor | np.ndarray,
    class_names: Sequence[str] | None = None,
    *,
    normalize: bool = True,
    ax: Axes | None = None,
    annotate: bool | None = None,
    cmap: str = "Blues",
) -> Axes:
    """Draw a confusion matrix (rows: true class, columns: predicted), needs matplotlib.

    Parameters
    ----------
    matrix : Tensor or array
        (K, K) counts, e.g. ``ClassificationMetrics.compute()["confusion_matrix"]``.
    class_names : sequence of str, optional
        K tick labels; default the class indices.
    normalize : bool
        Show each row as fractions of its class's samples (a row with no sample stays 0).
    ax : matplotlib.axes.Axes, optional
        The axes to draw into; default a new figure's.
    annotate : bool, optional
        Write each cell's value; by default when K <= 20.
    cmap : str
        Matplotlib colour map of the cells.

    Returns
    -------
    matplotlib.axes.Axes
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plot_confusion_matrix needs matplotlib: pip install 'skelgraph[plot]'"
        ) from error
    m = np.asarray(matrix.cpu() if isinstance(matrix, torch.Tensor) else matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"expected a (K, K) confusion matrix, got shape {m.shape}")
    k = m.shape[0]
    if class_names is not None and len(class_names) != k:
        raise ValueError(f"expected {k} class names, got {len(class_names)}")
    if normalize:
        rows = m.sum(1, keepdims=True)
        m = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    if ax is None:
        size = min(12.0, 2.0 + 0.35 * k)
        _, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(m, cmap=cmap, vmin=0, vmax=1 if normalize else None)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    names = [str(i) for i in range(k)] if class_names is None else list(class_names)
    ax.set_xticks(range(k), names, rotation=90)
    ax.set_yticks(range(k), names)
    ax.set(xlabel="predicted class", ylabel="true class")
    if annotate if annotate is not None else k <= 20:
        high = m.max() if m.size else 0
        for i in range(k):
            for j in range(k):
                text = f"{m[i, j]:.2f}" if normalize else f"{int(m[i, j])}"
                color = "white" if high and m[i, j] > high / 2 else "black"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    return ax
