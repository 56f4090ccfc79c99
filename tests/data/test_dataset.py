"""SkeletonDataset: reading folders, the .npy cache, memory mapping, DataLoader use."""

from __future__ import annotations

import functools
import json
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from skelgraph.data import (
    BoneFeatures,
    PaperPreprocess,
    ResampleFrames,
    SkeletonDataset,
    SkeletonFormatError,
    nucla_cross_view_split,
    read_kinetics_json,
    read_ntu_skeleton,
    read_nucla_json,
)
from tests.conftest import fixture_path


def _nucla_files(count: int = 12) -> list[str]:
    train, _ = nucla_cross_view_split(fixture_path("nw-ucla", "all_sqe").glob("a0[1-4]*.json"))
    return train[::7][:count]


def test_in_memory_dataset():
    data = np.random.default_rng(0).random((5, 3, 4, 25, 2))
    ds = SkeletonDataset(data, [4, 3, 2, 1, 0], transform=lambda x: x * 2)
    x, y = ds[1]
    assert x.dtype == torch.float32 and tuple(x.shape) == (3, 4, 25, 2) and y == 3
    torch.testing.assert_close(x, torch.from_numpy(2 * data[1]).float())
    assert len(ds) == 5 and "5 samples" in repr(ds)
    assert SkeletonDataset(data)[0][1] == -1
    with pytest.raises(ValueError, match="labels"):
        SkeletonDataset(data, [1, 2])
    with pytest.raises(ValueError, match=r"\(N, C, T, V, M\)"):
        SkeletonDataset(data[0])


def test_from_files_with_cache(tmp_path):
    files = _nucla_files()
    reader_calls = []

    def reader(path: str):
        reader_calls.append(path)
        return read_nucla_json(path)

    preprocess = PaperPreprocess("kinect-v1-20", length=64)
    # the reader captures a list that its calls change: the key cannot come from it
    kwargs = dict(preprocess=preprocess, cache_dir=tmp_path, cache_key="nucla-counting")
    ds = SkeletonDataset.from_files(files, reader, **kwargs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy", "index.json", "labels.npy"]
    assert isinstance(ds.data, np.memmap) and ds.data.shape == (len(files), 3, 64, 20, 1)
    expected = [read_nucla_json(f).label for f in files]
    assert ds.labels.tolist() == expected and ds.names == files
    x, y = ds[3]
    np.testing.assert_allclose(x.numpy(), preprocess(read_nucla_json(files[3]).data), atol=1e-6)
    assert y == expected[3]
    assert len(reader_calls) == len(files)

    # the cache is reused: no file is read again
    again = SkeletonDataset.from_files(files, reader, **kwargs)
    assert len(reader_calls) == len(files)
    torch.testing.assert_close(again[3][0], x)
    # labels are a plain int64 .npy, data a float32 .npy: no pickles
    assert np.load(tmp_path / "labels.npy", allow_pickle=False).dtype == np.int64
    assert np.load(tmp_path / "data.npy", mmap_mode="r", allow_pickle=False).dtype == np.float32
    assert json.loads((tmp_path / "index.json").read_text())["version"] == 2

    # another preprocessing or file list invalidates it
    SkeletonDataset.from_files(
        files, reader, **dict(kwargs, preprocess=PaperPreprocess("kinect-v1-20", length=32))
    )
    assert len(reader_calls) == 2 * len(files)
    SkeletonDataset.from_files(files[:5], reader, **kwargs)
    assert len(reader_calls) == 2 * len(files) + 5


def test_transform_and_dataloader(tmp_path):
    files = _nucla_files(6)
    ds = SkeletonDataset.from_files(
        files,
        read_nucla_json,
        preprocess=ResampleFrames(20),
        cache_dir=tmp_path,
        transform=BoneFeatures("kinect-v1-20"),
    )
    x, _ = ds[0]
    assert not x[:, :, 2].any()  # bone of the centre joint
    clone = pickle.loads(pickle.dumps(ds))  # what a spawned worker receives
    assert clone._paths == ds._paths and isinstance(clone.data, np.memmap)
    torch.testing.assert_close(clone[2][0], ds[2][0])
    batches = list(DataLoader(ds, batch_size=4))
    assert batches[0][0].shape == (4, 3, 20, 20, 1) and batches[0][1].dtype == torch.int64


def test_from_files_without_cache_and_errors(tmp_path):
    ntu = [
        fixture_path("ntu", n)
        for n in (
            "S001C001P001R002A050.first3frames.skeleton",
            "S001C002P001R001A001.first3frames.skeleton",
        )
    ]
    ds = SkeletonDataset.from_files(ntu, read_ntu_skeleton)
    assert ds.data.shape == (2, 3, 3, 25, 2) and ds.labels.tolist() == [49, 0]
    assert ds[0][1] == 49
    overridden = SkeletonDataset.from_files(ntu, read_ntu_skeleton, labels=[7, 8])
    assert overridden.labels.tolist() == [7, 8]
    mixed = [*ntu, fixture_path("ntu", "S001C001P001R001A001.skeleton")]
    with pytest.raises(ValueError, match="differs from the first sample"):
        SkeletonDataset.from_files(mixed, read_ntu_skeleton, cache_dir=tmp_path / "c")
    assert not (tmp_path / "c" / "data.npy.tmp").exists()
    bad = tmp_path / "S001C001P001R001A002.skeleton"
    bad.write_text("1\n1\n")
    with pytest.raises(SkeletonFormatError, match="S001C001P001R001A002"):
        SkeletonDataset.from_files([*ntu, bad], read_ntu_skeleton)
    with pytest.raises(ValueError, match="no files"):
        SkeletonDataset.from_files([], read_ntu_skeleton)


def test_from_arrays_and_partial_readers(tmp_path):
    clips = sorted(fixture_path("kinetics", "val").glob("*.json"))[:3]
    reader = functools.partial(read_kinetics_json, num_people=1)
    ds = SkeletonDataset.from_files(
        clips, reader, preprocess=ResampleFrames(50, mode="nearest"), cache_dir=tmp_path / "k"
    )
    assert ds.data.shape == (3, 3, 50, 18, 1)
    loaded = SkeletonDataset.from_arrays(tmp_path / "k" / "data.npy", tmp_path / "k" / "labels.npy")
    assert loaded.labels.tolist() == ds.labels.tolist() == [129, 0, 173]
    in_memory = SkeletonDataset.from_arrays(tmp_path / "k" / "data.npy", mmap=False)
    assert not isinstance(in_memory.data, np.memmap) and in_memory[0][1] == -1


# ---------------------------------------------------------------------- stale caches (#16)
def _kinetics_clips(count: int = 3) -> list:
    return sorted(fixture_path("kinetics", "val").glob("*.json"))[:count]


def _reader_with(num_people: int):
    return lambda path: read_kinetics_json(path, num_people=num_people)


def test_closures_with_other_captured_values_do_not_share_a_cache(tmp_path):
    clips = _kinetics_clips()
    pre = ResampleFrames(20)
    one = SkeletonDataset.from_files(clips, _reader_with(1), preprocess=pre, cache_dir=tmp_path)
    two = SkeletonDataset.from_files(clips, _reader_with(2), preprocess=pre, cache_dir=tmp_path)
    assert one.data.shape[-1] == 1 and two.data.shape[-1] == 2  # was 1: the old data
    again = SkeletonDataset.from_files(clips, _reader_with(2), preprocess=pre, cache_dir=tmp_path)
    assert again.data.shape[-1] == 2


class _Opaque:  # no repr of its own: nothing to tell two of them apart by
    def __init__(self, people: int) -> None:
        self.people = people


def test_unidentifiable_reader_needs_cache_key(tmp_path):
    clips = _kinetics_clips(2)
    setting = _Opaque(1)
    reader = lambda path: read_kinetics_json(path, num_people=setting.people)  # noqa: E731
    pre = ResampleFrames(20)
    with pytest.raises(ValueError, match="cache_key"):
        SkeletonDataset.from_files(clips, reader, preprocess=pre, cache_dir=tmp_path)
    ds = SkeletonDataset.from_files(
        clips, reader, preprocess=pre, cache_dir=tmp_path, cache_key="kinetics-1"
    )
    assert ds.data.shape[-1] == 1
    # without a cache nothing needs a key
    assert SkeletonDataset.from_files(clips, reader, preprocess=pre).data.shape[-1] == 1


_SCALE = {"value": 1.0}


def _scaled_reader(path):
    """A reader whose output changes without its code or arguments changing."""
    sample = read_kinetics_json(path)
    sample.data = sample.data * _SCALE["value"]
    sample.label = int(_SCALE["value"])
    return sample


def test_killed_rebuild_never_pairs_new_data_with_old_labels(tmp_path, monkeypatch):
    clips = _kinetics_clips(2)
    pre = ResampleFrames(20)
    kwargs = dict(preprocess=pre, cache_dir=tmp_path)
    monkeypatch.setitem(_SCALE, "value", 1.0)
    SkeletonDataset.from_files(clips, _scaled_reader, **kwargs)
    monkeypatch.setitem(_SCALE, "value", 2.0)
    real_save = np.save

    def killed(file, array, *args, **kw):  # the process dies while writing the labels
        if "labels" in str(file):
            raise KeyboardInterrupt
        return real_save(file, array, *args, **kw)

    monkeypatch.setattr(np, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        SkeletonDataset.from_files(clips, _scaled_reader, rebuild=True, **kwargs)
    monkeypatch.setattr(np, "save", real_save)
    ds = SkeletonDataset.from_files(clips, _scaled_reader, **kwargs)
    scale = float(ds.labels[0])  # 1 or 2: the data must be of the same build
    expected = pre(read_kinetics_json(clips[0]).data) * scale
    np.testing.assert_allclose(ds.data[0], expected, rtol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npy", "index.json", "labels.npy"]


def test_truncated_cache_is_rebuilt(tmp_path):
    clips = _kinetics_clips(2)
    kwargs = dict(preprocess=ResampleFrames(20), cache_dir=tmp_path)
    first = SkeletonDataset.from_files(clips, read_kinetics_json, **kwargs)
    expected = np.array(first.data)
    data_file = first._paths[0]
    del first
    with open(data_file, "r+b") as file:
        file.truncate(200)  # was: "mmap length is greater than file size"
    again = SkeletonDataset.from_files(clips, read_kinetics_json, **kwargs)
    np.testing.assert_array_equal(again.data, expected)
    (tmp_path / "labels.npy").write_bytes(b"garbage")
    assert SkeletonDataset.from_files(clips, read_kinetics_json, **kwargs).labels.shape == (2,)


def test_concurrent_builders_share_one_build(tmp_path):
    import threading
    import time

    clips = _kinetics_clips(3)
    calls = []

    def slow_reader(path):
        calls.append(path)
        time.sleep(0.05)
        return read_kinetics_json(path)

    start = threading.Barrier(2)
    results, errors = [], []

    def build():
        start.wait()
        try:
            results.append(
                SkeletonDataset.from_files(
                    clips,
                    slow_reader,
                    preprocess=ResampleFrames(20),
                    cache_dir=tmp_path,
                    cache_key="slow",
                )
            )
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors  # was FileNotFoundError on the .tmp rename
    assert len(results) == 2 and len(calls) == len(clips)  # the second reused the first's
    np.testing.assert_array_equal(results[0].data, results[1].data)


@pytest.mark.parametrize("labels", [[-2, 0], [0, 2**31], [0, 1.5], [0, 10**20]])
def test_labels_out_of_range(labels):
    with pytest.raises(ValueError, match="labels"):
        SkeletonDataset(np.zeros((2, 3, 4, 25, 1)), labels)
    with pytest.raises(ValueError, match="labels"):
        SkeletonDataset.from_files(_kinetics_clips(2), read_kinetics_json, labels=labels)
