"""Pose pickles that the restricted unpickler's globals admit but that build something
harmful: every one a SkeletonFormatError naming the file, before anything large is made."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from skelgraph import limits
from skelgraph.data import SkeletonFormatError, read_pose_pickle
from skelgraph.data.readers import pose_pickle
from tests.data.readers.hostile_pickles import (
    MULTIARRAY,
    Call,
    Global,
    Raw,
    array,
    dtype,
    encode,
)


def _annotation(frame_dir="a", **extra):
    keypoint = np.arange(1 * 5 * 25 * 3, dtype=np.float32).reshape(1, 5, 25, 3)
    return {"frame_dir": frame_dir, "label": 0, "total_frames": 5, "keypoint": keypoint, **extra}


def _write(tmp_path: Path, raw: bytes) -> Path:
    path = tmp_path / "hostile.pkl"
    path.write_bytes(raw)
    return path


def _refused(tmp_path: Path, raw: bytes, match: str) -> SkeletonFormatError:
    path = _write(tmp_path, raw)
    with pytest.raises(SkeletonFormatError, match=match) as info:
        read_pose_pickle(path)
    assert info.value.path == str(path)
    return info.value


def _encodable(**changes) -> dict:
    """:func:`_annotation` with its keypoints as opcode nodes, and ``changes``."""
    ann = _annotation()
    keypoint = array(ann["keypoint"].shape, dtype("f4"), ann["keypoint"].tobytes())
    return {**ann, "keypoint": keypoint, **changes}


def _with_extra(node) -> bytes:
    """A valid annotation whose extra key ``raw_file`` holds ``node``."""
    return encode([_encodable(raw_file=node)])


def test_the_opcode_writer_writes_what_the_reader_reads(tmp_path):
    path = _write(tmp_path, _with_extra([1, (2.5, "x"), {b"k": None}]))
    (sample,) = read_pose_pickle(path)
    assert sample.meta["raw_file"] == [1, (2.5, "x"), {b"k": None}]
    np.testing.assert_array_equal(
        sample.data[..., 0].transpose(1, 2, 0), _annotation()["keypoint"][0]
    )


# A dtype whose field lies past its item size: printing an array of it read freed memory.
FIELD_PAST_ITEM = dtype("V8", (3, "|", None, ("a",), {"a": (dtype("f8"), 100)}, 8, 1, 16))
SUB_ARRAY = dtype("V8", (3, "|", (dtype("f4"), (2,)), None, None, 8, 1, 0))
# The same states on a plain spec.
FIELD_STATE = dtype("f8", (3, "|", None, ("a",), {"a": (dtype("f8"), 100)}, 8, 1, 16))
SUB_ARRAY_STATE = dtype("f8", (3, "|", (dtype("f4"), (2,)), None, None, 8, 1, 0))
WIDER_STATE = dtype("f8", (3, "<", None, None, None, 4096, 8, 0))


@pytest.mark.parametrize(
    ("node", "match"),
    [
        (array((1,), FIELD_PAST_ITEM, b"\0" * 8), "numbers and strings only"),
        (array((1,), SUB_ARRAY, b"\0" * 8), "numbers and strings only"),
        (array((1,), FIELD_STATE, b"\0" * 8), "fields, a sub-array or another item size"),
        (array((1,), SUB_ARRAY_STATE, b"\0" * 8), "fields, a sub-array or another item size"),
        (array((1,), WIDER_STATE, b"\0" * 8), "fields, a sub-array or another item size"),
        (array((1,), dtype("f4,f4"), b"\0" * 8), r"dtype.*numbers and strings only"),
        (array((1,), dtype("V4"), b"\0" * 4), r"dtype.*numbers and strings only"),
        (array((2,), dtype("O8"), [None, None]), r"dtype.*numbers and strings only"),
        (array((10**12,), dtype("S0"), b""), r"dtype.*numbers and strings only"),
        (Call(MULTIARRAY, "scalar", (dtype("O8"), 1)), "dtype"),
    ],
    ids=[
        "field past item",
        "sub-array",
        "field state",
        "sub-array state",
        "wider",
        "fields",
        "void",
        "object",
        "empty items",
        "scalar",
    ],
)
def test_arrays_and_dtypes_of_fields_objects_void_are_refused(tmp_path, node, match):
    _refused(tmp_path, _with_extra(node), match)


def test_pickled_object_and_void_arrays_are_refused(tmp_path):
    for value in (np.array([None, 1], dtype=object), np.zeros(2, "V4"), np.zeros(2, "f4,i4")):
        raw = pickle.dumps([_annotation(raw_file=value)], protocol=4)
        _refused(tmp_path, raw, "numbers and strings only")


@pytest.mark.parametrize("frames", [40_000, 30_000_000])
def test_strides_that_do_not_cover_the_shape_are_refused_before_copying(tmp_path, frames):
    # numpy.ndarray(shape, dtype, buffer, offset, strides): 4 bytes claiming every frame
    keypoint = Call(
        "numpy", "ndarray", ((1, frames, 25, 3), dtype("f4"), b"\0\0\x80?", 0, (0, 0, 0, 0))
    )
    raw = encode([_encodable(total_frames=frames, keypoint=keypoint)])
    assert len(raw) < 400
    _refused(tmp_path, raw, r"numpy\.ndarray\(shape, dtype, buffer, offset, strides\)")


def test_the_element_budget_covers_every_array(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_PICKLE_ARRAY_ELEMENTS", 1000)
    path = _write(tmp_path, pickle.dumps([_annotation(raw_file=np.zeros(1000))]))
    assert read_pose_pickle(path)[0].meta["raw_file"].shape == (1000,)
    raw = pickle.dumps([_annotation(raw_file=np.zeros(1001))], protocol=2)
    _refused(tmp_path, raw, r"1001 elements, above the budget of 1000 \(skelgraph\.limits")
    raw = pickle.dumps([_annotation(frame_inds=np.zeros(501, np.complex128))], protocol=5)
    _refused(tmp_path, raw, r"counts 1002 elements")  # 16 bytes count as 2
    # declared by _reconstruct alone, never filled in: refused, not allocated
    node = Call(MULTIARRAY, "_reconstruct", (Global("numpy", "ndarray"), (10**9,), b"b"))
    _refused(tmp_path, _with_extra(node), "1000000000 elements, above the budget")


def test_labels_are_bounded_by_the_class_budget(tmp_path, monkeypatch):
    raw = pickle.dumps([_annotation(label=2**40)])
    _refused(tmp_path, raw, r"'label' must be an int in 0\.\.65535 .*got 1099511627776")
    monkeypatch.setattr(limits, "MAX_CLASSES", 2**41)
    path = _write(tmp_path, raw)
    assert read_pose_pickle(path)[0].label == 2**40


def test_nesting_depth_is_bounded(tmp_path):
    depth = 200_000
    deep = Raw(b"(" * depth + b"]" + b"l" * depth)  # [[[...]]], 200,001 lists
    _refused(tmp_path, encode([_encodable(frame_dir=deep)]), "nested more than 100 deep")
    _refused(tmp_path, _with_extra(Raw(b"(" * 99 + b"]" + b"l" * 99)), "nested more than 100")
    path = _write(tmp_path, _with_extra(Raw(b"(" * 97 + b"]" + b"l" * 97)))
    assert len(read_pose_pickle(path)) == 1  # top list, annotation, 98 lists: 100 deep


def test_shared_containers_are_walked_once_and_counted_where_deepest(tmp_path):
    shared: list = []
    for _ in range(60):  # 2**60 paths, 60 lists
        shared = [shared, shared]
    path = _write(tmp_path, pickle.dumps([_annotation(raw_file=shared)]))
    top = read_pose_pickle(path)[0].meta["raw_file"]
    assert top[0] is top[1] and top[0][0] is top[1][1]  # still shared, not copied
    chain: list = []
    for _ in range(50):
        chain = [chain]
    # `chain` sits at depth 3 and, through `longer`, at depth 53: 50 + 53 > 100
    longer: list = chain
    for _ in range(50):
        longer = [longer]
    raw = pickle.dumps([_annotation(raw_file=chain, frame_inds=longer)])
    _refused(tmp_path, raw, "nested more than 100 deep")


def test_a_container_holding_itself_is_refused(tmp_path):
    loop: list = []
    loop.append(loop)
    _refused(tmp_path, pickle.dumps([_annotation(raw_file=loop)]), "holds itself")


def test_duplicate_frame_dirs_are_refused(tmp_path):
    raw = pickle.dumps([_annotation("a"), _annotation("b"), _annotation("a")])
    _refused(tmp_path, raw, "annotations 0 and 2 have the same frame_dir 'a'")


def test_admitted_globals_cannot_be_changed_or_made_to_allocate(tmp_path):
    encode_global = pose_pickle._ADMITTED[("_codecs", "encode")]
    # BUILD on a global: slot state sets its attributes (a function's __defaults__)
    build = Raw(
        _encode_global("_codecs", "encode") + encode_state((None, {"__defaults__": ("latin1",)}))
    )
    _refused(tmp_path, _with_extra(build), "corrupt")
    assert pose_pickle._ADMITTED[("_codecs", "encode")] is encode_global
    with pytest.raises(AttributeError):
        encode_global._make = print
    million = Call(MULTIARRAY, "scalar", (dtype("<i8"), (10**6).to_bytes(8, "little")))
    bytes_of_million = _with_extra(Call("builtins", "bytes", (million,)))
    _refused(tmp_path, bytes_of_million, r"bytes\(np\.int64\(1000000\)\)")
    for name in ("bytes", "bytearray"):
        _refused(tmp_path, _with_extra(Call("builtins", name, (10**6,))), f"{name}\\(1000000\\)")
    path = _write(tmp_path, _with_extra(Call("builtins", "bytearray", (b"ab",))))
    assert read_pose_pickle(path)[0].meta["raw_file"] == bytearray(b"ab")


def test_a_global_that_is_not_data_is_refused(tmp_path):
    _refused(tmp_path, _with_extra(Global("builtins", "set")), "holds a _Global")


def _encode_global(module: str, name: str) -> bytes:
    return f"c{module}\n{name}\n".encode()


def encode_state(state) -> bytes:
    return encode(state)[2:-1] + b"b"


@pytest.mark.parametrize("error", [MemoryError, RecursionError])
def test_memory_and_recursion_errors_never_escape(tmp_path, monkeypatch, error):
    def exhausted(*args, **kwargs):
        raise error()

    monkeypatch.setattr(pose_pickle, "_sample", exhausted)  # whatever a budget missed
    _refused(
        tmp_path, pickle.dumps([_annotation()]), f"asks for more than there is \\({error.__name__}"
    )
