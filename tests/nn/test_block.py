"""STGCBlock: the composition of Fig. 3b."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from skelgraph import STGCBlock
from tests.layer_helpers import TINY, randomize


def test_block_is_the_papers_composition():
    torch.manual_seed(0)
    block = randomize(STGCBlock(3, 12, TINY, stride=2, num_gcn_scales=3, num_g3d_scales=2)).eval()
    x = torch.randn(2, 3, 9, 5)
    gcn, tcn_a, tcn_b = block.factorized
    g3d = sum(pathway(x) for pathway in block.g3d.pathways)
    expected = block.tcn(F.relu(tcn_b(tcn_a(gcn(x))) + g3d))
    torch.testing.assert_close(block(x), expected)
    assert block(x).shape == (2, 12, 5, 5)
    assert [p.window_size for p in block.g3d.pathways] == [3, 5]
    assert isinstance(tcn_b.act, torch.nn.Identity)  # no activation before the sum


def test_block_embed_channels_and_reset():
    block = STGCBlock(3, 12, TINY, num_gcn_scales=2, num_g3d_scales=2, embed_channels=12)
    assert block.factorized[0].out_channels == 12
    assert block.g3d.pathways[0].embed_channels == 12
    block.reset_parameters()
    assert "3, 12, stride=1" in repr(block)
