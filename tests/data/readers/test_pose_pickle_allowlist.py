"""The restricted unpickler admits an explicit set of globals and refuses every other one.

A pickle sandbox fails when its allow-list grows silently (one more "harmless" builtin such
as ``getattr`` is enough to reach ``os.system``), so the admitted builtins are pinned to
an explicit set, and every other builtin, under every protocol that can name a global
(2-5, with the Python 2 spelling ``__builtin__`` too), is refused before anything runs.
"""

from __future__ import annotations

import _compat_pickle
import builtins
import os
import pickle
import re

import pytest

from skelgraph.data import SkeletonFormatError, read_pose_pickle

# The builtins a pose pickle may need: containers and values NumPy's and pickle's own
# reductions name. Growing this set is a security decision, made here in review.
EXPECTED_BUILTINS = {"set", "frozenset", "bytes", "bytearray", "complex", "slice"}

DANGEROUS_BUILTINS = (
    "getattr", "setattr", "delattr", "eval", "exec", "__import__", "open", "compile",
    "globals", "locals", "vars", "input", "breakpoint", "print", "type", "object",
    "super", "memoryview", "classmethod", "staticmethod", "property", "exit", "quit",
)  # fmt: skip

# Globals outside builtins that known pickle exploits (or plain code execution) use.
DANGEROUS_GLOBALS = (
    ("os", "system"), ("posix", "system"), ("nt", "system"), ("subprocess", "Popen"),
    ("subprocess", "check_output"), ("sys", "modules"), ("importlib", "import_module"),
    ("pickle", "loads"), ("copyreg", "_reconstructor"), ("functools", "partial"),
    ("operator", "attrgetter"), ("operator", "methodcaller"), ("numpy", "load"),
    ("numpy", "fromfile"), ("numpy.testing._private.utils", "runstring"),
    ("numpy.core.multiarray", "frombuffer"), ("_codecs", "decode"), ("torch", "load"),
    ("codecs", "encode"), ("builtins", "no_such_name"),
)  # fmt: skip


def _short_unicode(text: str) -> bytes:
    raw = text.encode("utf-8")
    return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw


def _global_pickle(module: str, name: str, protocol: int, arg: str | None = None) -> bytes:
    """A pickle that loads the global ``module.name`` (and calls it with ``arg``)."""
    head = pickle.PROTO + bytes([protocol])
    if protocol < 4:  # GLOBAL opcode, text-line arguments
        ref = pickle.GLOBAL + f"{module}\n{name}\n".encode()
    else:  # STACK_GLOBAL, as protocols 4 and 5 write
        ref = _short_unicode(module) + _short_unicode(name) + pickle.STACK_GLOBAL
    call = b"" if arg is None else _short_unicode(arg) + pickle.TUPLE1 + pickle.REDUCE
    return head + ref + call + pickle.STOP


def _spellings(protocol: int) -> list[str]:
    # Protocol 2 pickles (Python 2, mmcv) say __builtin__; any protocol may say builtins.
    return ["__builtin__", "builtins"] if protocol < 3 else ["builtins"]


def _refused(tmp_path, module: str, name: str, protocol: int, arg: str | None = None) -> bool:
    path = tmp_path / "global.pkl"
    path.write_bytes(_global_pickle(module, name, protocol, arg))
    try:
        read_pose_pickle(path)
    except SkeletonFormatError as error:
        return bool(re.search(r"refused to load the global", str(error)))
    return False


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_admitted_builtins_are_exactly_the_expected_set(tmp_path, protocol):
    names = sorted(set(dir(builtins)) | set(vars(builtins)))
    admitted = set()
    for name in names:
        verdicts = {_refused(tmp_path, module, name, protocol) for module in _spellings(protocol)}
        assert len(verdicts) == 1, f"builtins.{name}: the two spellings disagree"
        if not verdicts.pop():
            admitted.add(name)
    assert admitted == EXPECTED_BUILTINS


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("name", DANGEROUS_BUILTINS)
def test_dangerous_builtins_are_refused_by_name(tmp_path, protocol, name):
    for module in _spellings(protocol):
        path = tmp_path / "global.pkl"
        path.write_bytes(_global_pickle(module, name, protocol))
        with pytest.raises(SkeletonFormatError, match=rf"global builtins\.{re.escape(name)}\b"):
            read_pose_pickle(path)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_python2_builtin_names_map_to_refused_globals(tmp_path, protocol):
    # ('__builtin__', 'reduce') -> functools.reduce, 'intern' -> sys.intern, ...: the
    # Python 2 mapping must not open a way round the allow-list.
    for (module, name), target in _compat_pickle.NAME_MAPPING.items():
        if module == "__builtin__" and target not in {("builtins", n) for n in EXPECTED_BUILTINS}:
            assert _refused(tmp_path, module, name, protocol), f"{module}.{name} -> {target}"


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize(("module", "name"), DANGEROUS_GLOBALS)
def test_other_dangerous_globals_are_refused(tmp_path, protocol, module, name):
    assert _refused(tmp_path, module, name, protocol)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("name", ["exec", "eval", "open", "__import__", "compile"])
def test_a_refused_call_runs_nothing(tmp_path, protocol, name):
    marker = tmp_path / "pwned"
    arg = {
        "exec": f"open({str(marker)!r}, 'w')",
        "eval": f"open({str(marker)!r}, 'w')",
        "open": str(marker),
        "__import__": "os",
        "compile": "x",
    }[name]
    for module in _spellings(protocol):
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(_global_pickle(module, name, protocol, arg))
        with pytest.raises(
            SkeletonFormatError, match=rf"refused to load the global builtins\.{re.escape(name)}"
        ):
            read_pose_pickle(path)
        assert not marker.exists()
    # the payload is real: plain pickle would run it
    if name == "exec":
        pickle.loads(_global_pickle("builtins", name, protocol, arg))
        assert marker.exists()
        os.remove(marker)


@pytest.mark.parametrize("encoding", ["utf-8", "rot13", "rot_13", "base64", "hex", "latin-2"])
def test_the_bytes_helper_refuses_every_encoding_but_latin1(tmp_path, encoding):
    # [_codecs.encode("ab", encoding)] as a protocol-2 pickle spells bytes, with another codec
    def text(s: str) -> bytes:
        return pickle.BINUNICODE + len(s).to_bytes(4, "little") + s.encode()

    call = text("ab") + text(encoding) + pickle.TUPLE2 + pickle.REDUCE
    raw = pickle.PROTO + b"\x02" + pickle.GLOBAL + b"_codecs\nencode\n" + call
    path = tmp_path / "codec.pkl"
    path.write_bytes(raw + pickle.STOP)
    with pytest.raises(SkeletonFormatError, match="corrupt"):
        read_pose_pickle(path)
    path.write_bytes(raw.replace(text(encoding), text("latin1")) + pickle.STOP)
    with pytest.raises(SkeletonFormatError, match="got a bytes"):
        read_pose_pickle(path)  # latin-1 loads (b"ab"), then fails as no annotation list
