"""skelgraph.fusion: weighted sums of the streams' softmax scores."""

from __future__ import annotations

import pytest
import torch

from skelgraph import fuse_streams


def test_two_streams_sum_their_softmax_scores():
    joint, bone = torch.randn(4, 7), torch.randn(4, 7)
    fused = fuse_streams([joint, bone])
    torch.testing.assert_close(fused.sum(-1), torch.full((4,), 2.0))
    torch.testing.assert_close(fused, joint.softmax(-1) + bone.softmax(-1))


def test_weights_scale_each_stream():
    streams = [torch.randn(3, 5) for _ in range(4)]
    fused = fuse_streams(streams, [2, 2, 1, 1])  # pyskl's joint/bone/motion weights
    expected = sum(w * z.softmax(-1) for w, z in zip([2, 2, 1, 1], streams, strict=True))
    torch.testing.assert_close(fused, expected)
    torch.testing.assert_close(fused.sum(-1), torch.full((3,), 6.0))


@pytest.mark.parametrize(
    ("logits", "weights", "match"),
    [
        ([], None, "at least one"),
        ([torch.randn(2, 3), torch.randn(2, 4)], None, "one shape"),
        ([torch.randn(2, 3)], [1.0, 2.0], "1 streams but 2 weights"),
        ([torch.randn(3)], None, r"\(N, num_classes\)"),
        ([torch.randn(2, 3)] * 2, [float("nan"), 1.0], r"finite real numbers, not all zero"),
        ([torch.randn(2, 3)] * 2, [float("inf"), 1.0], r"finite real numbers, not all zero"),
        ([torch.randn(2, 3)] * 2, [0, 0.0], r"finite real numbers, not all zero, got \[0, 0.0\]"),
        ([torch.randn(2, 3)] * 2, ["1", 1.0], r"finite real numbers"),
        (
            [torch.randn(2, 3), torch.tensor([[0.0, 1.0, 2.0], [0.0, float("nan"), 0.0]])],
            None,
            r"the logits of stream 1 hold 1 NaN or infinite value\(s\), first nan at sample 1, "
            r"class 1",
        ),
        (
            [torch.full((2, 3), float("inf"))],
            None,
            r"the logits of stream 0 hold 6 NaN or infinite",
        ),
    ],
)
def test_errors_name_the_problem(logits, weights, match):
    with pytest.raises(ValueError, match=match):
        fuse_streams(logits, weights)
