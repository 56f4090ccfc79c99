"""Multi-scale graph aggregation: the part shared by MS-GCN and MS-G3D."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from skelgraph._validation import check_choice, check_input, check_int
from skelgraph.graph.adjacency import Aggregation, Normalization, normalize_adjacency_tensor
from skelgraph.graph.skeleton import SkeletonGraph
from skelgraph.nn import functional

__all__ = ["MaskPlacement", "MultiScaleAggregation"]

MaskPlacement = Literal["after-norm", "in-norm"]
MASK_INIT = 1e-6  # the authors' residual-mask initialisation, uniform in ±1e-6


class MultiScaleAggregation(nn.Module):
    r"""Aggregate node features over K graph scales at once, stacking the scales as channels.

    .. math::

        Y = \big[\, \hat A_0 X \;\|\; \hat A_1 X \;\|\; \cdots \;\|\; \hat A_{K-1} X \,\big],
        \qquad \hat A_k = \operatorname{norm}(\tilde A_{(k)}) + R_k

    with :math:`\|` concatenation over channels (scale-major: output channel ``k·C + c``),
    :math:`\tilde A_{(k)}` the k-adjacency (Eq. 3, ``aggregation="disentangled"``) or
    :math:`\hat A_k = \operatorname{norm}(\tilde A)^k` (Eq. 2, ``"powering"``), and
    :math:`R_k` the optional learnable residual mask (Eq. 8). This is the
    :math:`\sum_k \hat A_k X \Theta_k` of Eq. 4 and 7 before the projection
    :math:`\Theta`, which the layers apply as one 1×1 convolution over the K·C channels.

    Residual mask placement: ``"after-norm"`` (default) adds :math:`R_k` after
    normalising, as the authors' code does, so their checkpoints load;
    ``"in-norm"`` is the paper's Eq. 8, :math:`\operatorname{norm}(\tilde A_{(k)} + R_k)`,
    renormalised every forward pass (disentangled aggregation only).

    Buffers: ``scales`` (K, V, V), the fixed normalised stack, and for ``"in-norm"``
    ``base`` (K, V, V), the unnormalised k-adjacency. Both are derived from the graph and
    are not saved in the ``state_dict`` (``persistent=False``); they follow ``.to()``.
    Parameter: ``mask`` (K, V, V) or ``None``.

    Parameters
    ----------
    graph : SkeletonGraph
        The graph whose scales are aggregated over (a skeleton or a window graph).
    num_scales : int
        K, scales k = 0..K-1; at most the graph's node count V. Scales beyond the
        diameter are the identity (with their residual mask) and warn.
    aggregation : {"disentangled", "powering"}
        :math:`\tilde A_{(k)}` (Eq. 3) or :math:`\operatorname{norm}(\tilde A)^k` (Eq. 2).
    normalization : {"sym", "rw", "none"}
        :math:`D^{-1/2} M D^{-1/2}`, :math:`D^{-1} M`, or none.
    residual_mask : bool
        Learn :math:`R_k`, initialised uniform in ±1e-6 (the authors' ``A_res``).
    mask_placement : {"after-norm", "in-norm"}
        Where :math:`R_k` is added (see above).

    Shapes
    ------
    Input (N, C, T, V), output (N, K·C, T, V).

    Examples
    --------
    >>> import torch
    >>> from skelgraph import SkeletonGraph
    >>> aggregate = MultiScaleAggregation(SkeletonGraph.from_layout("ntu-rgbd"), 13)
    >>> aggregate(torch.randn(2, 3, 10, 25)).shape
    torch.Size([2, 39, 10, 25])
    """

    def __init__(
        self,
        graph: SkeletonGraph,
        num_scales: int,
        *,
        aggregation: Aggregation = "disentangled",
        normalization: Normalization = "sym",
        residual_mask: bool = True,
        mask_placement: MaskPlacement = "after-norm",
    ) -> None:
        super().__init__()
        self.num_scales = check_int("num_scales", num_scales, 1)
        self.aggregation = check_choice("aggregation", aggregation, Aggregation)
        self.normalization = check_choice("normalization", normalization, Normalization)
        self.mask_placement = check_choice("mask_placement", mask_placement, MaskPlacement)
        self.in_norm = residual_mask and mask_placement == "in-norm"
        if self.in_norm and aggregation != "disentangled":
            raise ValueError(
                "mask_placement='in-norm' (the paper's Eq. 8) is defined for "
                "aggregation='disentangled' only"
            )
        self.num_nodes = graph.num_nodes
        # Scales beyond the diameter are I (plus their residual mask): allowed, with the
        # graph's warning, as pyskl's 13 scales on COCO-17 (diameter 8) need; more than
        # V, one per possible hop count, is refused before allocating K·V² values.
        if self.num_scales > graph.num_nodes:
            raise ValueError(
                f"num_scales={num_scales} is more than {graph.name!r} can use: its "
                f"{graph.num_nodes} nodes have hop distances 0..{graph.num_nodes - 1} at most "
                f"(its diameter is {graph.diameter}); use num_scales <= {graph.num_nodes}"
            )
        stack = graph.multiscale_adjacency(num_scales, aggregation, normalization)
        self.register_buffer("scales", torch.tensor(stack, dtype=torch.float32), persistent=False)
        base = None
        if self.in_norm:
            unnormalized = graph.multiscale_adjacency(num_scales, aggregation, "none")
            base = torch.tensor(unnormalized, dtype=torch.float32)
        self.register_buffer("base", base, persistent=False)
        if residual_mask:
            self.mask = nn.Parameter(torch.empty(num_scales, graph.num_nodes, graph.num_nodes))
        else:
            self.register_parameter("mask", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the residual mask uniformly in ±1e-6, as the authors initialise it."""
        if self.mask is not None:
            nn.init.uniform_(self.mask, -MASK_INIT, MASK_INIT)

    def adjacency(self) -> torch.Tensor:
        """The effective (K, V, V) scales, residual mask included."""
        mask = self.mask
        if mask is None:
            return self.scales
        if self.in_norm:
            base = self.base
            assert base is not None
            return normalize_adjacency_tensor(base + mask, self.normalization)
        return self.scales + mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, V) to (N, K·C, T, V) (:func:`skelgraph.nn.functional.multiscale_aggregate`).

        Parameters
        ----------
        x : Tensor
            (N, C, T, V).
        """
        check_input(x, -1, self.num_nodes, self)
        return functional.multiscale_aggregate(x, self.adjacency())

    def extra_repr(self) -> str:
        mask = f"mask={self.mask_placement}" if self.mask is not None else "mask=None"
        return (
            f"num_nodes={self.num_nodes}, num_scales={self.num_scales}, "
            f"aggregation={self.aggregation!r}, normalization={self.normalization!r}, {mask}"
        )
