"""SkeletonGraph.to_json / from_json / to_dict / from_dict and the preprocess joints."""

from __future__ import annotations

import json
import pickle

import pytest

from skelgraph import SkeletonGraph

ARM = {
    "name": "arm",
    "joint_names": ["chest", "shoulder", "elbow", "wrist", "hand"],
    "edges": [[0, 1], [1, 2], [2, 3], [3, 4]],
    "center": 0,
    "preprocess": {"center": 0, "z_axis": [0, 1], "x_axis": [[1, 2], 3]},
}


def test_round_trip_through_a_file(tmp_path):
    path = tmp_path / "arm.json"
    path.write_text(json.dumps(ARM))
    graph = SkeletonGraph.from_json(path)
    assert graph.name == "arm" and graph.num_nodes == 5 and graph.center == 0
    assert graph.joint_names[2] == "elbow" and graph.edges == ((0, 1), (1, 2), (2, 3), (3, 4))
    assert dict(graph.preprocess) == {"center": 0, "z_axis": (0, 1), "x_axis": ((1, 2), 3)}
    out = tmp_path / "again.json"
    text = graph.to_json(out)
    assert out.read_text() == text
    again = SkeletonGraph.from_json(out)
    assert again == graph and again.preprocess == graph.preprocess
    assert '"edges": [[0, 1], [1, 2], [2, 3], [3, 4]]' in text  # one line per key
    # Pickling (DataLoader workers) keeps it.
    assert pickle.loads(pickle.dumps(graph)).preprocess == graph.preprocess


def test_minimal_description_and_builtin_export():
    graph = SkeletonGraph.from_dict({"edges": [[0, 1], [1, 2]]})
    assert graph.num_nodes == 3 and graph.preprocess is None and graph.name == "custom"
    assert "preprocess" not in graph.to_dict()
    # A built-in layout with its preprocessing joints, through a PreprocessSpec.
    from skelgraph.data import PREPROCESS_SPECS

    ntu = SkeletonGraph.from_layout("ntu-rgbd")
    spec = json.loads(ntu.to_json(preprocess=PREPROCESS_SPECS["ntu-rgbd"]))
    assert spec["preprocess"] == {"center": 1, "z_axis": [0, 1], "x_axis": [4, 8]}
    assert SkeletonGraph.from_dict(spec) == ntu


def test_preprocess_is_read_only_and_not_part_of_equality():
    plain = SkeletonGraph.from_edges([(0, 1)])
    with_spec = SkeletonGraph.from_edges([(0, 1)], preprocess={"center": 1})
    assert plain == with_spec and hash(plain) == hash(with_spec)
    with pytest.raises(TypeError):
        with_spec.preprocess["center"] = 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"edges": [[0, 5]]}, "out of range"),
        ({"edges": "0-1"}, "list of"),
        ({"colour": "red"}, "unknown keys"),
        ({"preprocess": {"center": 7}}, "joint 7 is out of range"),
        ({"preprocess": {"centre": 0}}, "unknown keys"),
        ({"preprocess": {"z_axis": [0, 1]}}, "needs 'center'"),
        ({"preprocess": {"center": 0, "x_axis": [0]}}, "pair of joints"),
        ({"preprocess": {"center": True}}, "joint index"),
    ],
)
def test_invalid_descriptions_name_the_file(tmp_path, change, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**ARM, **change}))
    with pytest.raises(ValueError, match=message) as info:
        SkeletonGraph.from_json(path)
    assert "bad.json" in str(info.value)


def test_unreadable_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"broken\.json: cannot read a graph"):
        SkeletonGraph.from_json(path)
    with pytest.raises(ValueError, match="cannot read"):
        SkeletonGraph.from_json(tmp_path / "missing.json")
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must be a mapping"):
        SkeletonGraph.from_json(path)
