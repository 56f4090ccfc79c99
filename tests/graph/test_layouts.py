"""Built-in layouts: sizes, connectivity, diameters, centres and bone trees."""

from __future__ import annotations

import re

import networkx as nx
import pytest

from skelgraph import SkeletonGraph

# name: (joints, bones, diameter, centre joint name)
EXPECTED = {
    "ntu-rgbd": (25, 24, 12, "spine_shoulder"),
    "ntu-rgbd-pyskl": (25, 24, 11, "spine_shoulder"),
    "openpose-18": (18, 17, 8, "neck"),
    "coco-17": (17, 16, 8, "nose"),
    "kinect-v1-20": (20, 19, 10, "shoulder_center"),
    "mediapipe-hand-21": (21, 21, 9, "wrist"),
    "mediapipe-pose-33": (33, 39, 9, "nose"),
}


def test_layouts_lists_every_builtin():
    assert sorted(SkeletonGraph.layouts()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_layout_facts(name):
    joints, bones, diameter, centre = EXPECTED[name]
    g = SkeletonGraph.from_layout(name)
    assert (g.num_nodes, g.num_edges) == (joints, bones)
    assert g.is_connected
    assert g.diameter == diameter == nx.diameter(g.to_networkx())
    assert g.joint_names[g.center] == centre
    assert len(set(g.joint_names)) == joints


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bone_pairs_form_a_tree_rooted_at_the_centre(name):
    g = SkeletonGraph.from_layout(name)
    pairs = g.bone_pairs
    assert [child for child, _ in pairs] == list(range(g.num_nodes))
    tree = nx.DiGraph((parent, child) for child, parent in pairs if child != parent)
    tree.add_nodes_from(range(g.num_nodes))
    assert nx.is_arborescence(tree)
    assert [n for n, d in tree.in_degree() if d == 0] == [g.center]
    assert pairs[g.center] == (g.center, g.center)
    for child, parent in pairs:  # every bone of the tree is a bone of the skeleton
        assert child == parent or g.adjacency[child, parent] == 1
        if child != parent:  # directed away from the centre
            hops = g.hop_distances
            assert hops[g.center, child] == hops[g.center, parent] + 1


def test_ntu_bones_match_the_authors_bone_stream():
    # (child, parent), 1-based, as the MS-G3D / 2s-AGCN bone data for NTU RGB+D.
    authors = {
        (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
        (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17),
        (19, 18), (20, 19), (22, 23), (21, 21), (23, 8), (24, 25), (25, 12),
    }  # fmt: skip
    g = SkeletonGraph.from_layout("ntu-rgbd")
    assert {(c + 1, p + 1) for c, p in g.bone_pairs} == authors


def test_ntu_variants_differ_only_in_the_hands():
    a = set(SkeletonGraph.from_layout("ntu-rgbd").edges)
    b = set(SkeletonGraph.from_layout("ntu-rgbd-pyskl").edges)
    assert a - b == {(21, 22), (23, 24)}  # tip-thumb, chained in the authors' code
    assert b - a == {(7, 21), (11, 23)}  # tip-hand in pyskl


def test_kinect_v1_matches_the_nw_ucla_readme():
    from tests.conftest import fixture_path

    readme = fixture_path("nw-ucla", "README.md").read_text()
    paragraph = readme.split("Bones (1-based):", 1)[1].split("\n\n", 1)[0]
    bones = {
        tuple(sorted((int(a) - 1, int(b) - 1)))
        for a, b in re.findall(r"\((\d+),(\d+)\)", paragraph)
    }
    assert len(bones) == 19
    assert set(SkeletonGraph.from_layout("kinect-v1-20").edges) == bones


def test_pyskl_aliases_resolve_everywhere_a_layout_name_is_accepted():
    import numpy as np

    from skelgraph.data import from_array, paper_preprocess
    from skelgraph.graph import LAYOUT_ALIASES, resolve_layout

    assert LAYOUT_ALIASES == {
        "nturgb+d": "ntu-rgbd-pyskl",
        "coco": "coco-17",
        "openpose": "openpose-18",
        "handmp": "mediapipe-hand-21",
    }
    for alias, name in LAYOUT_ALIASES.items():
        assert resolve_layout(alias) == resolve_layout(name) == name
        g = SkeletonGraph.from_layout(alias)
        assert g.name == name and g.edges == SkeletonGraph.from_layout(name).edges
        assert SkeletonGraph.coerce(alias).name == name
        v = g.num_nodes
        assert from_array(np.ones((2, v, 3)), alias).layout == name
        data = np.random.default_rng(0).standard_normal((3, 4, v, 1))
        np.testing.assert_array_equal(
            paper_preprocess(data, alias, length=None), paper_preprocess(data, name, length=None)
        )
    with pytest.raises(ValueError, match="pyskl aliases: nturgb"):
        SkeletonGraph.from_layout("ntu")


def test_pyskl_ntu_alias_has_pyskl_bones():
    # pyskl/utils/graph.py, 'nturgb+d': its inward pairs, 1-based.
    pyskl_inward = [
        (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
        (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17),
        (19, 18), (20, 19), (22, 8), (23, 8), (24, 12), (25, 12),
    ]  # fmt: skip
    g = SkeletonGraph.from_layout("nturgb+d")
    assert set(g.edges) == {tuple(sorted((a - 1, b - 1))) for a, b in pyskl_inward}
