# ruff: noqa: E501  (a table of source snippets: long lines are the snippets)
"""The hand-written mutants of ``benchmarks/mutation.py``: one plausible one-line bug each.

Each :class:`Mutant` names a file, a snippet that occurs exactly once in it, what to put
in its place, the test files that should catch it (the module's own tests), and the bug
it stands for. A mutant that cannot change behaviour carries ``equivalent``, the reason;
the results file prints it, so survivors are explained here, not by hand there.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    """One planted bug.

    Attributes
    ----------
    file : str
        Path from the repository root.
    original : str
        A snippet found exactly once in ``file``.
    mutated : str
        Its replacement.
    tests : tuple of str
        Test files or test ids (``file::test``), from the repository root, run against
        the mutant.
    bug : str
        The mistake a developer could plausibly make that the mutant stands for.
    equivalent : str or None
        Why the mutant cannot change behaviour, where it cannot.
    """

    file: str
    original: str
    mutated: str
    tests: tuple[str, ...]
    bug: str
    equivalent: str | None = None

    @property
    def module(self) -> str:
        """The group its kill rate is reported under."""
        parts = self.file.split("/")
        if parts[0] == "examples":
            return "examples/msg3d"
        if parts[1] in ("graph", "nn"):
            return f"skelgraph/{parts[1]}"
        if parts[1] == "data":
            return "skelgraph/data/readers" if parts[2] == "readers" else "skelgraph/data"
        return self.file


GRAPH = ("tests/graph/test_graph_properties.py", "tests/graph/test_skeleton.py")
LAYOUTS = ("tests/graph/test_layouts.py",)
CONTRACTS = ("tests/nn/test_layer_contracts.py",)
AGG = ("tests/nn/test_aggregation.py", "tests/nn/test_graph_conv.py", *CONTRACTS)
GCN = ("tests/nn/test_graph_conv.py", *CONTRACTS)
TCN = ("tests/nn/test_temporal.py", "tests/nn/test_ms_tcn_fast.py", *CONTRACTS)
G3D = ("tests/nn/test_g3d.py",)
BLOCK = ("tests/nn/test_block.py",)
FUNC = ("tests/nn/test_functional.py", *CONTRACTS)
STREAM = ("tests/nn/test_streaming.py", *CONTRACTS)
CKPT = ("tests/nn/test_checkpoint.py",)
FEAT = ("tests/data/test_features.py", "tests/data/test_augment_properties.py")
PREP = ("tests/data/test_preprocess.py",)
AUGMENT = ("tests/data/test_augment.py", "tests/data/test_augment_properties.py")
TRANSFORMS = ("tests/data/test_transforms.py",)
SAMPLING = ("tests/data/test_sampling.py", "tests/data/test_sampling_bruteforce.py")
KP2D = ("tests/data/test_keypoints2d.py",)
PICKLE = (
    "tests/data/readers/test_pose_pickle.py",
    "tests/data/readers/test_pose_pickle_allowlist.py",
    "tests/data/readers/test_pose_pickle_splits.py",
)
NTU = ("tests/data/readers/test_ntu.py", "tests/data/readers/test_ntu_frame_count.py")
METRICS = ("tests/test_metrics_properties.py", "tests/test_metrics.py")
FUSION = ("tests/test_fusion.py",)
_MODEL = "tests/examples/test_msg3d_model.py::test_"
MODEL = (
    f"{_MODEL}parameter_counts_equal_the_authors",
    f"{_MODEL}logits_equal_the_authors_and_round_trip_is_lossless",
)
_STREAMING = "tests/examples/test_msg3d_streaming.py::test_"
MODEL_STREAM = (
    f"{_STREAMING}each_prediction_pools_the_last_window_of_ready_frames",
    f"{_STREAMING}setting_the_window_cleans_the_stream",
)
PIPELINE = ("tests/examples/test_pipeline_multiclip.py",)
PREDICT = ("tests/examples/test_predict_clips.py",)
FUSE = ("tests/examples/test_fuse_order.py",)
TRAIN = ("tests/examples/test_train.py::test_recipe_defaults",)
TRAIN_CHECKS = ("tests/examples/test_train_checks.py",)
ALLOCATOR = ("tests/examples/test_allocator.py",)
AMP = ("tests/test_amp.py",)

ADJ = "skelgraph/graph/adjacency.py"
SKEL = "skelgraph/graph/skeleton.py"

MUTANTS: tuple[Mutant, ...] = (
    # ------------------------------------------------------------------ graph
    Mutant(
        ADJ,
        "    positive = degree > 0\n",
        "    positive = degree != 0\n",
        GRAPH,
        "a negative degree is inverted (NaN / sign flip) instead of zeroed",
    ),
    Mutant(
        ADJ,
        "    degree = m.sum(-1)",
        "    degree = m.sum(-2)",
        GRAPH,
        "degrees from column sums: wrong for a non-symmetric (masked) matrix",
    ),
    Mutant(
        ADJ,
        "        return scale.unsqueeze(-1) * m * scale.unsqueeze(-2)",
        "        return scale.unsqueeze(-1) * m * scale.unsqueeze(-1)",
        GRAPH,
        "sym normalisation scales rows twice instead of rows and columns",
    ),
    Mutant(
        ADJ,
        "    return torch.where(positive, safe.reciprocal(), zero).unsqueeze(-1) * m",
        "    return torch.where(positive, safe.reciprocal(), zero).unsqueeze(-2) * m",
        GRAPH,
        "rw normalisation divides columns instead of rows",
    ),
    Mutant(
        ADJ,
        "    return ((hops == k) | np.eye(len(hops), dtype=bool)).astype(np.float64)",
        "    return (hops == k).astype(np.float64)",
        GRAPH,
        "k-adjacency without the self-loops of Eq. 3",
    ),
    Mutant(
        ADJ,
        "    return ((hops == k) | np.eye(len(hops), dtype=bool)).astype(np.float64)",
        "    return ((hops <= k) & (hops >= 0)).astype(np.float64)",
        GRAPH,
        "k-adjacency keeps every hop up to k (powering-like bias) instead of exactly k",
    ),
    Mutant(
        ADJ,
        "    base = normalize_adjacency(adjacency + np.eye(len(adjacency)), normalization)",
        "    base = normalize_adjacency(adjacency, normalization)",
        GRAPH,
        "powering without the self-loops of Ã = A + I",
    ),
    Mutant(
        ADJ,
        "np.linalg.matrix_power(base, k) for k in range(num_scales)",
        "np.linalg.matrix_power(base, k + 1) for k in range(num_scales)",
        GRAPH,
        "powers 1..K instead of 0..K-1",
    ),
    Mutant(
        SKEL,
        "            a[rows, cols] = a[cols, rows] = 1.0",
        "            a[rows, cols] = 1.0",
        GRAPH,
        "adjacency filled one way only",
    ),
    Mutant(
        SKEL,
        "        return self.num_components == 1",
        "        return self.num_components >= 1",
        GRAPH,
        "a disconnected graph reported as connected",
    ),
    Mutant(
        SKEL,
        "                roots.add(min(component))",
        "                roots.add(max(component))",
        GRAPH,
        "other components rooted at their highest joint",
    ),
    Mutant(
        SKEL,
        "                for j in np.flatnonzero(self.adjacency[child])\n",
        "                for j in np.flatnonzero(self.adjacency[child])[::-1]\n",
        GRAPH,
        "bone parent tie-break on cycles picks the highest index",
    ),
    Mutant(
        SKEL,
        "                if hops[root, j] == hops[root, child] - 1",
        "                if hops[root, j] <= hops[root, child]",
        GRAPH,
        "bone parent may be a neighbour at the same distance (not closer)",
    ),
    Mutant(
        SKEL,
        "            if num_scales - 1 > self.diameter:",
        "            if num_scales > self.diameter:",
        GRAPH,
        "off-by-one in the too-many-scales warning",
    ),
    Mutant(
        SKEL,
        "                big = np.kron(np.ones((tau, tau)), a_tilde)",
        "                big = np.kron(np.eye(tau), a_tilde)",
        GRAPH,
        "G3D window without cross-spacetime edges (a block diagonal)",
    ),
    Mutant(
        SKEL,
        "else (np.eye(tau, k=1) + np.eye(tau, k=-1))",
        "else np.eye(tau, k=1)",
        GRAPH,
        "grid window links each frame forward only",
        equivalent="the window's edges are read from np.triu(big) only, so the links "
        "below the diagonal (frame t to t - 1) are dropped either way; the graph is "
        "undirected and each link is in the upper triangle once",
    ),
    Mutant(
        SKEL,
        "                center=(tau // 2) * v + self._center,",
        "                center=self._center,",
        GRAPH,
        "window centre in the first frame, not the middle",
    ),
    Mutant(
        SKEL,
        "        if center >= num_nodes:",
        "        if center > num_nodes:",
        GRAPH,
        "centre == num_nodes accepted (off-by-one range check)",
    ),
    Mutant(
        SKEL,
        "            if key in canonical:",
        "            if key in canonical and a < b:",
        GRAPH,
        "a duplicate edge listed reversed is accepted",
    ),
    Mutant(
        SKEL,
        "        missing = [(a, b) for a, b in directed if (b, a) not in present]",
        "        missing = []",
        GRAPH,
        "a non-symmetric edge_index is accepted",
    ),
    Mutant(
        "skelgraph/graph/layouts.py",
        "    return tuple((a - 1, b - 1) for a, b in pairs)",
        "    return tuple((a, b - 1) for a, b in pairs)",
        LAYOUTS,
        "one-based bones shifted on one end only",
    ),
    Mutant(
        "skelgraph/graph/layouts.py",
        '        center=20,\n        description="NTU RGB+D 60/120, Kinect v2, 25 joints; the bones of the MS-G3D',
        '        center=1,\n        description="NTU RGB+D 60/120, Kinect v2, 25 joints; the bones of the MS-G3D',
        LAYOUTS,
        "NTU centre at the spine (the preprocessing centre) instead of spine shoulder",
    ),
    Mutant(
        "skelgraph/graph/analysis.py",
        "    total = w.sum(-1, keepdims=True)",
        "    total = w.sum(-2, keepdims=True).transpose(0, 2, 1)",
        GRAPH,
        "hop mass normalised by column sums",
    ),
    Mutant(
        "skelgraph/graph/analysis.py",
        "    return share.sum(1) / np.maximum(counted, 1)",
        "    return share.mean(1)",
        GRAPH,
        "all-zero rows counted in the mean",
    ),
    Mutant(
        "skelgraph/graph/analysis.py",
        "    w = np.abs(np.asarray(stack, dtype=np.float64))",
        "    w = np.asarray(stack, dtype=np.float64)",
        GRAPH,
        "negative weights cancel positive ones in the mass",
    ),
    # ------------------------------------------------------------------ nn
    Mutant(
        "skelgraph/nn/aggregation.py",
        "        if self.num_scales > graph.num_nodes:",
        "        if self.num_scales > graph.num_nodes + 1:",
        AGG,
        "one scale more than the V possible hop counts accepted",
    ),
    Mutant(
        "skelgraph/nn/aggregation.py",
        "        return self.scales + mask",
        "        return self.scales * mask",
        AGG,
        "residual mask multiplied instead of added",
    ),
    Mutant(
        "skelgraph/nn/aggregation.py",
        "            nn.init.uniform_(self.mask, -MASK_INIT, MASK_INIT)",
        "            nn.init.uniform_(self.mask, -1.0, 1.0)",
        AGG,
        "mask initialised large, swamping the graph at the start of training",
    ),
    Mutant(
        "skelgraph/nn/aggregation.py",
        "            return normalize_adjacency_tensor(base + mask, self.normalization)",
        "            return normalize_adjacency_tensor(base, self.normalization) + mask",
        AGG,
        "in-norm mask placed after the normalisation (Eq. 8 misread)",
    ),
    Mutant(
        "skelgraph/nn/graph_conv.py",
        "        if not 0.0 <= dropout < 1.0:",
        "        if not 0.0 <= dropout <= 1.0:",
        GCN,
        "dropout 1 accepted",
    ),
    Mutant(
        "skelgraph/nn/graph_conv.py",
        "            self.proj.bias,\n            self.bn,",
        "            None,\n            self.bn,",
        GCN,
        "projection bias dropped",
    ),
    Mutant(
        "skelgraph/nn/functional.py",
        "    return y.view(n, c, t, k, v).permute(0, 3, 1, 2, 4).reshape(n, k * c, t, v)",
        "    return y.view(n, c, t, k, v).permute(0, 1, 3, 2, 4).reshape(n, k * c, t, v)",
        FUNC + GCN,
        "channels stacked channel-major instead of scale-major (mismatches the weight)",
    ),
    Mutant(
        "skelgraph/padding.py",
        "    return (span, 0) if causal else (span // 2, span - span // 2)",
        "    return (span, 0) if causal else (span - span // 2, span // 2)",
        FUNC + G3D,
        "window padding front/back swapped (shift by one frame for even spans)",
    ),
    Mutant(
        "skelgraph/nn/functional.py",
        "    frames = [x.narrow(2, i * dilation, t)[:, :, ::stride] for i in range(window_size)]",
        "    frames = [x.narrow(2, i, t)[:, :, ::stride] for i in range(window_size)]",
        FUNC + G3D,
        "window dilation ignored",
    ),
    Mutant(
        "skelgraph/nn/functional.py",
        "    scale = bn.running_var.add(bn.eps).rsqrt()",
        "    scale = bn.running_var.rsqrt()",
        FUNC,
        "batch-norm fold without eps",
    ),
    Mutant(
        "skelgraph/nn/functional.py",
        "    shift = -bn.running_mean * scale",
        "    shift = -bn.running_mean",
        FUNC,
        "batch-norm fold shift not scaled",
    ),
    Mutant(
        "skelgraph/nn/functional.py",
        "    bias = shift if conv.bias is None else conv.bias * scale + shift",
        "    bias = shift if conv.bias is None else conv.bias + shift",
        FUNC,
        "conv bias not scaled by the folded batch norm",
    ),
    Mutant(
        "skelgraph/nn/functional.py",
        "    taps = x.unfold(2, dilation * (k - 1) + 1, stride)[..., ::dilation]",
        "    taps = x.unfold(2, dilation * (k - 1) + 1, stride)",
        FUNC,
        "conv_frames takes every frame of the dilated span",
    ),
    Mutant(
        "skelgraph/nn/functional.py",
        "        shift = shift + bias.detach() * scale",
        "        shift = shift + bias.detach()",
        FUNC,
        "fused bias-norm: bias not scaled",
    ),
    Mutant(
        "skelgraph/nn/functional.py",
        "    return y.clamp_(min=0) if isinstance(act, nn.ReLU) else y",
        "    return y.clamp_(min=0)",
        FUNC,
        "fused path applies ReLU for the identity too",
    ),
    Mutant(
        "skelgraph/nn/temporal.py",
        "        span = dilation * (kernel_size - 1)",
        "        span = kernel_size - 1",
        TCN,
        "temporal padding ignores dilation (frames lost)",
    ),
    Mutant(
        "skelgraph/nn/temporal.py",
        "            else nn.MaxPool2d(kernel_size=(3, 1), stride=(stride, 1), padding=(1, 0))",
        "            else nn.MaxPool2d(kernel_size=(3, 1), stride=(1, 1), padding=(1, 0))",
        TCN,
        "max-pool branch not strided",
    ),
    Mutant(
        "skelgraph/nn/temporal.py",
        "        if residual and (in_channels != out_channels or stride != 1):",
        "        if residual and in_channels != out_channels:",
        TCN,
        "identity residual used with stride 2",
    ),
    Mutant(
        "skelgraph/nn/temporal.py",
        "            out = out + self.residual(x)",
        "            out = out - self.residual(x)",
        TCN,
        "residual subtracted",
    ),
    Mutant(
        "skelgraph/nn/temporal.py",
        "        return self.act(out)\n",
        "        return out\n",
        TCN,
        "activation of the multi-scale TCN dropped",
    ),
    Mutant(
        "skelgraph/nn/temporal.py",
        "        groups[1].append(taps(range(pool, pool + width), reach(temporal_padding(2, self.causal))))",
        "        groups[1].append(taps(range(pool, pool + width), [1 + j for j in reach(temporal_padding(2, self.causal))]))",
        TCN + STREAM,
        "stream max-pool window off by one frame",
    ),
    Mutant(
        "skelgraph/nn/temporal.py",
        "        pooled = pooled.view(-1, 3, columns).amax(1)",
        "        pooled = pooled.view(-1, 3, columns).mean(1)",
        TCN + STREAM,
        "stream pool averages",
    ),
    Mutant(
        "skelgraph/nn/g3d.py",
        "            self.embed_channels, out_channels, kernel_size=(1, window_size, 1)",
        "            self.embed_channels, out_channels, kernel_size=(1, 1, 1)",
        G3D,
        "window collapse keeps one frame of the window",
    ),
    Mutant(
        "skelgraph/nn/g3d.py",
        "        return norm(self.out_bn, z.squeeze(3), fast=fast)",
        "        return z.squeeze(3)",
        G3D,
        "output batch norm skipped",
    ),
    Mutant(
        "skelgraph/nn/g3d.py",
        "        windows = (y.shape[0], self.embed_channels, y.shape[2], tau, self.num_joints)",
        "        windows = (y.shape[0], self.embed_channels, y.shape[2], self.num_joints, tau)",
        G3D,
        "window nodes unpacked joint-major instead of frame-major",
    ),
    Mutant(
        "skelgraph/nn/norm_relu_conv.py",
        "        r = affine_(centre(x, mean), invstd, gamma, beta).relu_()  # the forward's R, rebuilt",
        "        r = affine_(centre(x, mean), invstd, gamma, beta)  # the forward's R, rebuilt",
        ("tests/nn/test_norm_relu_conv.py",),
        "the rebuilt ReLU output without its ReLU",
    ),
    Mutant(
        "skelgraph/nn/ms_tcn_fast.py",
        "        starts = _FrameMaxPool._starts(out.shape[2], stride, front)",
        "        starts = _FrameMaxPool._starts(out.shape[2], stride, 0)",
        TCN,
        "max-pool offsets counted from an unpadded window start",
    ),
    Mutant(
        "skelgraph/nn/ms_tcn_fast.py",
        "    weight[-width:] += branch_weight",
        "    weight[:width] += branch_weight",
        TCN,
        "the 1×1 branch folded into the residual's first rows, not its last",
    ),
    Mutant(
        "skelgraph/nn/ms_tcn_fast.py",
        "            torch.add(part, x.narrow(1, start, width), out=target)",
        "            torch.add(part, x.narrow(1, 0, width), out=target)",
        TCN,
        "every branch given the input's first channels as its residual",
    ),
    Mutant(
        "skelgraph/nn/temporal.py",
        "                target.baddbmm_(weight, dilated.view(batch)).add_(bias)",
        "                target.baddbmm_(weight, dilated.view(batch))",
        STREAM,
        "a stream's dilated branches without their bias where the projection writes first",
    ),
    Mutant(
        "skelgraph/nn/products.py",
        "            x, weight, bias, list(padding), list(stride), list(dilation), 1",
        "            x, weight, bias, list(stride), list(padding), list(dilation), 1",
        ("tests/nn/test_products.py",),
        "oneDNN's convolution given stride and padding in the wrong order",
    ),
    Mutant(
        "skelgraph/nn/products.py",
        '    return capability.startswith("AVX512")',
        '    return capability.startswith("AVX")',
        ("tests/nn/test_products.py",),
        "the oneDNN route taken on AVX2 CPUs, where it slowed training",
    ),
    Mutant(
        "skelgraph/nn/products.py",
        "        ONEDNN_FLOAT32\n        and all(",
        "        all(",
        ("tests/nn/test_products.py",),
        "the rule deciding the CPU but no product reading it",
    ),
    Mutant(
        "skelgraph/nn/g3d.py",
        "                out = out + pathway(x)",
        "                out = out + pathway(x) / 2",
        G3D,
        "pathways averaged in part",
    ),
    Mutant(
        "skelgraph/nn/g3d.py",
        "        return max(pathway.delay for pathway in self.pathways)",
        "        return min(pathway.delay for pathway in self.pathways)",
        G3D + STREAM,
        "delay of the fastest pathway",
    ),
    Mutant(
        "skelgraph/nn/block.py",
        "        return self.tcn(F.relu(self.factorized(x) + self.g3d(x)))",
        "        return self.tcn(self.factorized(x) + self.g3d(x))",
        BLOCK,
        "ReLU after the sum dropped",
    ),
    Mutant(
        "skelgraph/nn/block.py",
        "            MSTemporalConv(out_channels, out_channels, activation=None, causal=causal),",
        "            MSTemporalConv(out_channels, out_channels, causal=causal),",
        BLOCK,
        "the second factorised TCN keeps its activation",
    ),
    Mutant(
        "skelgraph/nn/block.py",
        "        return pathways + self.stride * self.tcn.delay",
        "        return pathways + self.tcn.delay",
        BLOCK + STREAM,
        "delay of the last TCN not scaled by the stride",
    ),
    Mutant(
        "skelgraph/nn/block.py",
        "        if self.checkpoint and self.training and torch.is_grad_enabled():",
        "        if self.checkpoint and torch.is_grad_enabled():",
        BLOCK + CKPT,
        "checkpointing in eval mode too",
        equivalent="checkpointing is transparent: the forward values and gradients are "
        "identical with and without it (only the memory differs), so in eval mode "
        "under grad nothing observable changes",
    ),
    Mutant(
        "skelgraph/nn/checkpoint.py",
        "            for buffer, value in zip(buffers, saved):\n                buffer.copy_(value)",
        "            for buffer, value in zip(buffers, saved):\n                pass",
        CKPT,
        "batch-norm statistics updated twice under checkpointing",
    ),
    Mutant(
        "skelgraph/nn/checkpoint.py",
        "        use_reentrant=False,",
        "        use_reentrant=True,",
        CKPT,
        "reentrant checkpoint (no gradient to inputs that need none)",
    ),
    Mutant(
        "skelgraph/nn/activation.py",
        '    "linear": nn.Identity,',
        '    "linear": nn.ReLU,',
        TCN,
        "the 'linear' alias maps to ReLU",
    ),
    Mutant(
        "skelgraph/nn/activation.py",
        "    if activation is None:\n        return nn.Identity()",
        "    if activation is None:\n        return nn.ReLU()",
        TCN,
        "None means the default activation, not none",
    ),
    Mutant(
        "skelgraph/nn/backend.py",
        "        return fast_cost <= reference_cost",
        "        return fast_cost < reference_cost",
        ("tests/nn/test_backend.py",),
        "auto picks the reference kernel on ties",
    ),
    Mutant(
        "skelgraph/nn/backend.py",
        '    if not applicable or recording_tool() == "trace":',
        "    if not applicable:",
        ("tests/nn/test_backend.py",),
        "the fast kernel (shape-dependent Python) used under jit.trace",
    ),
    Mutant(
        "skelgraph/nn/streaming.py",
        "        self.back = self.span - self.front if self.back is None else self.back",
        "        self.back = self.span if self.back is None else self.back",
        STREAM,
        "stream end padding too long",
    ),
    Mutant(
        "skelgraph/nn/streaming.py",
        "        return self.span - self.front\n",
        "        return self.span\n",
        STREAM,
        "delay counts the front padding",
    ),
    Mutant(
        "skelgraph/nn/streaming.py",
        "        dropped = min(self.stride * ready, self._held)",
        "        dropped = min(self.stride * ready + 1, self._held)",
        STREAM,
        "one frame too many dropped from the stream buffer",
    ),
    Mutant(
        "skelgraph/nn/streaming.py",
        "        ready = min(self._counts)",
        "        ready = max(self._counts)",
        STREAM,
        "aligner emits frames one pathway has not produced",
    ),
    Mutant(
        "skelgraph/nn/streaming.py",
        "        mean = self._sum / min(self._count, self.window)",
        "        mean = self._sum / self.window",
        STREAM,
        "running mean divides by the full window before it fills",
    ),
    Mutant(
        "skelgraph/nn/streaming.py",
        "            if self._count >= self.window:\n                finite, bad = self._split(self._ring[slot])",
        "            if self._count > self.window:\n                finite, bad = self._split(self._ring[slot])",
        STREAM,
        "running mean forgets the oldest frame one step late",
    ),
    # ------------------------------------------------------------------ data
    Mutant(
        "skelgraph/data/features.py",
        "    out[:, :, children] = data[:, :, children] - data[:, :, parents]",
        "    out[:, :, children] = data[:, :, parents] - data[:, :, children]",
        FEAT,
        "bones point towards the centre",
    ),
    Mutant(
        "skelgraph/data/features.py",
        "        out[score_channel][:, children] = (score[:, children] + score[:, parents]) / 2",
        "        out[score_channel][:, children] = score[:, children]",
        FEAT,
        "bone score is the child's, not the mean of both joints",
    ),
    Mutant(
        "skelgraph/data/features.py",
        "    out[:, :-1] = data[:, 1:] - data[:, :-1]",
        "    out[:, 1:] = data[:, 1:] - data[:, :-1]",
        FEAT,
        "motion stored one frame late",
    ),
    Mutant(
        "skelgraph/data/features.py",
        "        out[score_channel, :-1] = (score[1:] + score[:-1]) / 2",
        "        out[score_channel, :-1] = score[1:]",
        FEAT,
        "motion score not averaged",
    ),
    Mutant(
        "skelgraph/data/features.py",
        "    positions = np.linspace(0.0, t - 1, length) if length > 1 else np.zeros(1)",
        "    positions = np.linspace(0.0, t, length) if length > 1 else np.zeros(1)",
        FEAT,
        "resampling reads one frame past the end",
    ),
    Mutant(
        "skelgraph/data/features.py",
        "    return (1 - weight) * data[:, low] + weight * data[:, high]",
        "    return weight * data[:, low] + (1 - weight) * data[:, high]",
        FEAT,
        "linear interpolation weights swapped",
    ),
    Mutant(
        "skelgraph/data/features.py",
        "        return data[:, np.rint(positions).astype(np.int64)].copy()",
        "        return data[:, np.floor(positions).astype(np.int64)].copy()",
        FEAT,
        "nearest resampling floors",
    ),
    Mutant(
        "skelgraph/data/keypoints2d.py",
        "    out[0] = (data[0] - w / 2) / (w / 2)",
        "    out[0] = (data[0] - w / 2) / (h / 2)",
        KP2D,
        "x normalised by the height",
    ),
    Mutant(
        "skelgraph/data/keypoints2d.py",
        "    out[:, absent] = 0",
        "    out[:2, absent] = 0",
        KP2D,
        "absent joints keep their score channel",
        equivalent="a joint is absent when every channel is 0, so its score is 0 "
        "already; zeroing channels 2.. again changes nothing",
    ),
    Mutant(
        "skelgraph/data/keypoints2d.py",
        "    low = data[score_channel] < threshold",
        "    low = data[score_channel] <= threshold",
        KP2D,
        "a score equal to the threshold is dropped",
    ),
    Mutant(
        "skelgraph/data/augment.py",
        "    return rz @ ry @ rx",
        "    return rx @ ry @ rz",
        AUGMENT,
        "rotation composed in the other order",
    ),
    Mutant(
        "skelgraph/data/augment.py",
        "    out[:dims] = (coords + shift[:, None, None, None]) * present",
        "    out[:dims] = coords + shift[:, None, None, None]",
        AUGMENT,
        "shift moves absent joints",
    ),
    Mutant(
        "skelgraph/data/augment.py",
        "    factor = rng.uniform(low, high, size=dims if per_axis else 1)",
        "    factor = rng.uniform(low, high, size=dims)",
        AUGMENT,
        "per_axis ignored: always per axis",
    ),
    Mutant(
        "skelgraph/data/preprocess.py",
        "            person[:, : kept.shape[1]] = kept",
        "            person[:, -kept.shape[1] :] = kept",
        PREP,
        "leading empty frames moved to the end instead of the start",
    ),
    Mutant(
        "skelgraph/data/preprocess.py",
        "            reps = -(-(num_frames - last) // last)",
        "            reps = (num_frames - last) // last",
        PREP,
        "replay repetitions rounded down (too short)",
    ),
    Mutant(
        "skelgraph/data/preprocess.py",
        "    out[:dims] = (coords - center) * present",
        "    out[:dims] = coords - center",
        PREP,
        "centring moves absent joints off zero",
    ),
    Mutant(
        "skelgraph/data/preprocess.py",
        "        r_x = _turn_onto(r_z @ shoulders, np.array([1.0, 0.0, 0.0]))",
        "        r_x = _turn_onto(shoulders, np.array([1.0, 0.0, 0.0]))",
        PREP,
        "shoulders aligned before the spine rotation is applied",
    ),
    Mutant(
        "skelgraph/data/preprocess.py",
        "        return data[:, np.arange(length) % t].copy()",
        "        return data[:, np.minimum(np.arange(length), t - 1)].copy()",
        PREP,
        "replay padding repeats the last frame",
    ),
    Mutant(
        "skelgraph/data/preprocess.py",
        "    if not data.any():\n        return data.copy()",
        "    if not data.any():\n        pass",
        PREP,
        "an all-zero sample goes through the rotation",
        equivalent="an all-zero sample stays all zero through replay (nothing present), "
        "centring (multiplied by presence) and the rotation (a zero spine gives the "
        "identity)",
    ),
    Mutant(
        "skelgraph/data/sampling.py",
        "        elif n < 2 * clip_len:",
        "        elif n <= 2 * clip_len:",
        SAMPLING,
        "boundary n == 2 clip_len in the skip-one case",
    ),
    Mutant(
        "skelgraph/data/sampling.py",
        "                start = i if n < num_clips else i * n // num_clips",
        "                start = i * n // num_clips",
        SAMPLING,
        "short sequences with more clips than frames all start at 0..",
    ),
    Mutant(
        "skelgraph/data/sampling.py",
        "            inds = np.arange(clip_len) + np.cumsum(skips)[:-1]",
        "            inds = np.arange(clip_len) + np.cumsum(skips)[1:]",
        SAMPLING,
        "skips counted one gap late",
    ),
    Mutant(
        "skelgraph/data/sampling.py",
        "        offset = int(draws.below(num_frames - n + 1))",
        "        offset = int(draws.below(num_frames - n))",
        SAMPLING,
        "sub-interval offset never reaches the end (and fails at n = T)",
    ),
    Mutant(
        "skelgraph/data/sampling.py",
        "    return np.mod(np.stack(clips), num_frames).astype(np.int64)",
        "    return np.minimum(np.stack(clips), num_frames - 1).astype(np.int64)",
        SAMPLING,
        "short sequences clamp instead of wrapping round",
    ),
    Mutant(
        "skelgraph/data/sampling.py",
        "        n = max(1, int(ratio * num_frames))",
        "        n = max(1, round(ratio * num_frames))",
        SAMPLING,
        "sub-interval length rounded instead of truncated (pyskl's int)",
    ),
    Mutant(
        "skelgraph/data/sampling.py",
        '        probs = torch.softmax(scores, dim=-1) if mode == "prob" else scores\n        return probs.mean(dim=-2)',
        '        probs = torch.softmax(scores, dim=-1) if mode == "prob" else scores\n        return probs.mean(dim=-1)',
        SAMPLING,
        "clip average over classes instead of clips",
    ),
    Mutant(
        "skelgraph/data/sampling.py",
        "        scores = scores.reshape(-1, num_clips, scores.shape[-1])",
        "        scores = scores.reshape(num_clips, -1, scores.shape[-1]).swapaxes(0, 1)",
        SAMPLING,
        "flat clip batch split clip-major",
    ),
    Mutant(
        "skelgraph/data/transforms.py",
        "        for t in self.transforms:\n            data = t(data)\n        return data",
        "        for t in reversed(self.transforms):\n            data = t(data)\n        return data",
        TRANSFORMS,
        "Compose applies its steps in reverse",
    ),
    # ------------------------------------------------------------------ readers
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        '    for name in ("set", "frozenset", "complex", "slice"):',
        '    for name in ("set", "frozenset", "complex", "slice", "getattr"):',
        PICKLE,
        "a dangerous builtin added to the unpickler's allow-list",
    ),
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        "        module = _compat_pickle.IMPORT_MAPPING.get(module, module)",
        "        pass",
        PICKLE,
        "protocol-2 (__builtin__) names not mapped: mmcv pickles refused",
    ),
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        '    if encoding not in ("latin1", "latin-1"):',
        '    if encoding not in ("latin1", "latin-1", "rot13"):',
        PICKLE,
        "the bytes helper accepts any codec",
    ),
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        "        if file.read(1):\n",
        "        if False:\n",
        PICKLE,
        "trailing data after the pickle ignored",
    ),
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        "        if max_bytes is not None and info.st_size > max_bytes:",
        "        if max_bytes is not None and info.st_size > 2 * max_bytes:",
        PICKLE,
        "size budget not enforced",
    ),
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        "        chosen = [i for i, frame_dir in enumerate(ids) if frame_dir in members]",
        "        chosen = [ids.index(m) for m in sorted(members)]",
        PICKLE,
        "split samples in sorted order instead of annotation order",
    ),
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        "    if total != t:",
        "    if total < t:",
        PICKLE,
        "total_frames larger than T accepted",
    ),
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        "    if not _is_int(label) or not 0 <= label < limits.MAX_CLASSES:",
        "    if not _is_int(label) or not label < limits.MAX_CLASSES:",
        PICKLE,
        "negative labels accepted",
    ),
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        "    data = np.ascontiguousarray(merged.transpose(3, 1, 2, 0))",
        "    data = np.ascontiguousarray(merged.transpose(3, 2, 1, 0)).reshape(merged.shape[3], merged.shape[1], merged.shape[2], merged.shape[0])",
        PICKLE,
        "(M, T, V, C) read as (C, V, T, M) and reshaped",
    ),
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        '        return "ntu-rgbd" if c == 3 else None',
        '        return "ntu-rgbd"',
        PICKLE,
        "2-D BODY_25 inferred as NTU",
    ),
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        '        annotation["keypoint_score"] = np.ascontiguousarray(stored[..., 2])',
        '        annotation["keypoint_score"] = np.ascontiguousarray(stored[..., 1])',
        PICKLE,
        "writer stores y as the score",
    ),
    Mutant(
        "skelgraph/data/readers/pose_pickle.py",
        "        if frame_dir in ids:\n",
        "        if False:\n",
        PICKLE,
        "duplicate sample ids written",
    ),
    Mutant(
        "skelgraph/data/readers/ntu.py",
        '        order = np.argsort(-energy, kind="stable")[:num_bodies]',
        '        order = np.argsort(energy, kind="stable")[:num_bodies]',
        NTU,
        "the least active bodies kept",
    ),
    Mutant(
        "skelgraph/data/readers/ntu.py",
        "        return self.action - 1",
        "        return self.action",
        NTU,
        "labels 1-based",
    ),
    Mutant(
        "skelgraph/data/readers/ntu.py",
        "    return float(sum(valid[..., c].std() for c in range(valid.shape[-1])))",
        "    return float(valid.std())",
        NTU,
        "energy over all coordinates pooled",
    ),
    Mutant(
        "skelgraph/data/readers/ntu.py",
        "            body = np.empty((num_joints, 3)) if m < max_bodies_read else None",
        "            body = np.empty((num_joints, 3)) if m <= max_bodies_read else None",
        NTU,
        "one body too many read (index error on the slot list)",
    ),
    Mutant(
        "skelgraph/data/readers/ntu.py",
        "                data[:, t, :, k] = joints.T",
        "                data[:, t, :, k] = joints.reshape(3, -1)",
        NTU,
        "joints (V, 3) reshaped instead of transposed",
    ),
    Mutant(
        "skelgraph/data/readers/ntu.py",
        "    if num_frames > lines.count - 1:",
        "    if num_frames > lines.count:",
        NTU,
        "frame count check off by one",
    ),
    # ------------------------------------------------------------------ metrics, fusion
    Mutant(
        "skelgraph/metrics.py",
        "        support = confmat.sum(1)",
        "        support = confmat.sum(0)",
        METRICS,
        "mean class accuracy per predicted class (precision)",
    ),
    Mutant(
        "skelgraph/metrics.py",
        "    ahead = (scores > true) | ((scores == true) & (index[None, :] < labels[:, None]))",
        "    ahead = scores > true",
        METRICS,
        "ties counted in the sample's favour",
    ),
    Mutant(
        "skelgraph/metrics.py",
        "        flat = labels * self.num_classes + pred",
        "        flat = pred * self.num_classes + labels",
        METRICS,
        "confusion matrix transposed",
    ),
    Mutant(
        "skelgraph/metrics.py",
        "        self.hits += (rank[:, None] < k[None, :]).sum(0)",
        "        self.hits += (rank[:, None] <= k[None, :]).sum(0)",
        METRICS,
        "top-k counts rank k",
    ),
    Mutant(
        "skelgraph/metrics.py",
        '        ).mean()\n        out["confusion_matrix"]',
        '        ).sum() / self.num_classes\n        out["confusion_matrix"]',
        METRICS,
        "classes with no sample count as 0",
    ),
    Mutant(
        "skelgraph/metrics.py",
        "    if labels.numel() and (labels.min() < 0 or labels.max() >= scores.shape[1]):",
        "    if labels.numel() and (labels.min() < 0 or labels.max() > scores.shape[1]):",
        METRICS,
        "label K accepted for K classes",
    ),
    Mutant(
        "skelgraph/metrics.py",
        "        rows = m.sum(1, keepdims=True)",
        "        rows = m.sum(0, keepdims=True)",
        METRICS,
        "plot normalises columns",
    ),
    Mutant(
        "skelgraph/fusion.py",
        "    return sum(w * z.softmax(-1) for w, z in zip(weights, logits, strict=True))",
        "    return sum(w * z for w, z in zip(weights, logits, strict=True))",
        FUSION,
        "logits summed instead of softmax scores",
    ),
    Mutant(
        "skelgraph/fusion.py",
        "    return sum(w * z.softmax(-1) for w, z in zip(weights, logits, strict=True))",
        "    return sum(w * z.softmax(0) for w, z in zip(weights, logits, strict=True))",
        FUSION,
        "softmax over the batch",
    ),
    Mutant(
        "skelgraph/fusion.py",
        "    weights = [1.0] * len(logits) if weights is None else list(weights)",
        "    weights = [1.0 / len(logits)] * len(logits) if weights is None else list(weights)",
        FUSION,
        "default weights averaged instead of summed (docstring says all 1)",
    ),
    Mutant(
        "skelgraph/fusion.py",
        "    if len(shapes) != 1 or len(next(iter(shapes))) != 2:",
        "    if len(next(iter(shapes))) != 2:",
        FUSION,
        "streams of different shapes broadcast together",
    ),
    # ------------------------------------------------------------------ examples/msg3d
    Mutant(
        "skelgraph/data/pipeline.py",
        "            batch = clips.reshape(c, num_clips, t // num_clips, v, m).transpose(1, 0, 2, 3, 4)",
        "            batch = clips.reshape(num_clips, c, t // num_clips, v, m)",
        PIPELINE,
        "multi-clip batch reshaped without the transpose (channels mixed across clips)",
    ),
    Mutant(
        "skelgraph/data/pipeline.py",
        "            return np.ascontiguousarray(data[..., : self.num_persons])",
        "            return np.ascontiguousarray(data[..., -self.num_persons :])",
        PIPELINE,
        "extra persons cut from the front",
    ),
    Mutant(
        "skelgraph/data/pipeline.py",
        "            batch = np.repeat(clips[None], num_clips, axis=0)",
        "            batch = np.repeat(clips[None], 1, axis=0)",
        PIPELINE,
        "non-uniform sampling gives one clip whatever num_clips",
    ),
    Mutant(
        "skelgraph/data/pipeline.py",
        '        if self.stream.endswith("motion"):',
        '        if self.stream == "joint-motion":',
        PIPELINE,
        "bone-motion stream computes bones only",
    ),
    Mutant(
        "skelgraph/data/pipeline.py",
        "        return 2 if self.dims == 2 and channels == 3 else None",
        "        return None",
        PIPELINE,
        "2-D score channel differenced like a coordinate",
    ),
    Mutant(
        "skelgraph/data/pipeline.py",
        "                    self.frames, num_clips=num_clips, test_mode=not train, seed=seed",
        "                    self.frames, num_clips=num_clips, test_mode=train, seed=seed",
        PIPELINE,
        "random clips at test time, fixed clips in training",
    ),
    Mutant(
        "examples/msg3d/model.py",
        "        x = self.data_bn(x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t))",
        "        x = self.data_bn(x.permute(0, 4, 1, 3, 2).reshape(n, m * v * c, t))",
        MODEL,
        "data batch norm over (M, C, V) instead of the authors' (M, V, C)",
    ),
    Mutant(
        "examples/msg3d/model.py",
        "        x = x.reshape(n, self.num_persons, x.shape[1], -1).mean(3).mean(1)",
        "        x = x.reshape(n, self.num_persons, x.shape[1], -1).mean(3).amax(1)",
        MODEL,
        "persons max-pooled instead of averaged",
    ),
    Mutant(
        "examples/msg3d/model.py",
        "                embed_channels=c_out if i == 0 else c_in,  # the authors' choice",
        "                embed_channels=c_out,  # the authors' choice",
        MODEL,
        "G3D embedding width of the later blocks",
    ),
    Mutant(
        "examples/msg3d/model.py",
        "        pooled = state.pool.push(frames) / (m * v)",
        "        pooled = state.pool.push(frames) / v",
        MODEL_STREAM,
        "stream pooling does not average over persons",
    ),
    Mutant(
        "examples/msg3d/model.py",
        "RunningMean(-(-self._stream_window // self.stride))",
        "RunningMean(self._stream_window // self.stride)",
        MODEL_STREAM,
        "stream window rounded down",
    ),
    Mutant(
        "examples/msg3d/predict.py",
        '        return average_clip_scores(self.model(batch), mode="prob").cpu()',
        '        return average_clip_scores(self.model(batch), mode="score").cpu()',
        PREDICT,
        "probabilities are averaged logits",
    ),
    Mutant(
        "examples/msg3d/predict.py",
        "NUM_CLIPS = (1, 100)",
        "NUM_CLIPS = (0, 100)",
        PREDICT,
        "--num-clips 0 accepted",
    ),
    Mutant(
        "examples/msg3d/fuse.py",
        "        perm = np.array([position[sid] for sid in first_ids], dtype=np.int64)",
        "        perm = np.arange(len(first_ids))",
        FUSE,
        "streams fused by position instead of by sample id",
    ),
    Mutant(
        "examples/msg3d/fuse.py",
        '        if not np.array_equal(f["labels"][perm], first["labels"]):',
        "        if False:",
        FUSE,
        "files with different labels fused silently",
    ),
    Mutant(
        "examples/msg3d/config.py",
        "    return base_lr * batch_size / base_batch",
        "    return base_lr * base_batch / batch_size",
        TRAIN,
        "learning rate scaled inversely",
    ),
    Mutant(
        "examples/msg3d/config.py",
        "        return sorted({max(1, round(0.6 * self.epochs)), max(1, round(0.8 * self.epochs))})",
        "        return sorted({max(1, round(0.6 * self.epochs))})",
        TRAIN,
        "one learning-rate drop instead of two",
    ),
    Mutant(
        "examples/msg3d/datasets.py",
        "    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))",
        "    bad = np.flatnonzero((labels < 0) | (labels > num_classes))",
        TRAIN_CHECKS,
        "label == num_classes accepted",
    ),
    Mutant(
        "examples/msg3d/datasets.py",
        "        steps.append(RandomScale(1 - cfg.scale, 1 + cfg.scale, dims=dims, seed=cfg.seed + 1))",
        "        steps.append(RandomScale(1 - cfg.scale, 1 + cfg.scale, dims=dims, seed=cfg.seed))",
        TRAIN_CHECKS,
        "scale and rotation draw from the same stream (correlated)",
    ),
    Mutant(
        "examples/msg3d/allocator.py",
        "M_MMAP_MAX = -4",
        "M_MMAP_MAX = -2",
        ALLOCATOR,
        "the mmap limit set through another mallopt parameter (M_TOP_PAD)",
    ),
    Mutant(
        "examples/msg3d/allocator.py",
        '    return any(name.startswith("MALLOC_") for name in environ) or any(',
        '    return any(name.startswith("MALLOC_ ") for name in environ) or any(',
        ALLOCATOR,
        "a user's glibc malloc variables overridden",
    ),
    Mutant(
        "examples/msg3d/allocator.py",
        'ENVIRONMENT = {"MALLOC_MMAP_MAX_": "0", ',
        'ENVIRONMENT = {"MALLOC_MMAP_MAX_": "65536", ',
        ALLOCATOR,
        "the benchmarks' tuned allocator is glibc's own (large blocks still unmapped)",
    ),
    Mutant(
        "skelgraph/amp.py",
        "    return bool(torch.backends.mkldnn.is_available() and check is not None and check())",
        "    return bool(check is not None and check())",
        AMP,
        "a build without oneDNN taken for native bf16",
    ),
    Mutant(
        "skelgraph/amp.py",
        "    if not native(device, amp):",
        "    if not native(device, amp) and dtype == torch.float16:",
        AMP,
        "emulated bf16 autocast without a warning",
    ),
)
