"""The opcode walker itself: dispatch coverage, benign streams, limits, value tracking."""

from __future__ import annotations

import collections
import io
import mmap
import pickle
import pickletools

import pytest

from mlsec_gates.gates.scan.engine import scan_file
from mlsec_gates.gates.scan.pickle_analysis import (
    CallEvent,
    GlobalEvent,
    HookEvent,
    analyse_region,
    sniff_pickle,
)
from mlsec_gates.gates.scan.pickle_vm import Walker
from tests.fixtures import pickles as fx


def analyse(data: bytes, max_opcodes: int = 50_000_000):
    return analyse_region(data, 0, len(data), max_opcodes=max_opcodes)


def test_every_pickle_opcode_has_a_handler() -> None:
    walker = Walker(b"", 0, analyse(b"").__class__(), max_opcodes=1)
    invalid = walker.table[0x00]
    for info in pickletools.opcodes:
        assert walker.table[ord(info.code)] != invalid, info.name


BENIGN_OBJECTS = [
    {"a": [1, 2.5, "x", None, True, b"raw", bytearray(b"ba")], "b": (1, (2, 3)), "c": {1, 2}},
    collections.OrderedDict((str(i), i) for i in range(200)),
    [frozenset({1, 2}), complex(1, 2), 10**40, -(10**80), "é" * 5000, b"\x00" * 70000],
    list(range(3000)),
]


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("index", range(len(BENIGN_OBJECTS)))
def test_benign_streams_have_no_suspicious_events(protocol: int, index: int) -> None:
    data = pickle.dumps(BENIGN_OBJECTS[index], protocol=protocol)
    report = analyse(data)
    assert report.streams == 1
    assert all(isinstance(e, GlobalEvent) for e in report.events), report.events
    assert scan_file(io.BytesIO(data), uri="x.pkl").verdict == "pass"


def test_recursive_tuple_pop_mark_is_not_a_discarded_call() -> None:
    inner: list[object] = []
    outer = (inner, collections.OrderedDict(a=1))
    inner.append(outer)
    for protocol in range(6):
        data = pickle.dumps(outer, protocol=protocol)
        verdict = scan_file(io.BytesIO(data), uri="x.pkl")
        assert verdict.verdict == "pass", (protocol, verdict.findings)


def test_opcode_dense_list_has_no_cap() -> None:
    data = fx.large_range_pickle(1_200_000)
    report = analyse(data)
    assert report.opcodes > 1_200_000
    assert report.events == []


def test_walker_reads_an_mmap_in_place(tmp_path) -> None:
    path = tmp_path / "arrays.pkl"
    path.write_bytes(fx.numpy_arrays_pickle(50, 4096) + fx.os_system_p0())
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        report = analyse_region(mm, 0, len(mm), max_opcodes=1_000_000)
    calls = [e for e in report.events if isinstance(e, CallEvent)]
    assert [c.payload for c in calls] == ["os.system('echo pwned')"]
    assert calls[0].stream == 1


def test_hook_key_beyond_the_dict_cap_is_still_seen() -> None:
    state = b"}(" + b"".join(fx._uni(f"k{i}") + b"K\x01" for i in range(100)) + b"u"
    state += fx._uni("forward") + fx._global("mypkg", "hook") + b"s"
    data = b"\x80\x02" + fx._global("torch.nn.modules.linear", "Linear") + b")\x81" + state + b"b."
    hooks = [e for e in analyse(data).events if isinstance(e, HookEvent)]
    assert hooks and hooks[0].attributes == ("forward",)


def test_literal_config_values_are_not_hooks() -> None:
    """``eval`` / ``train`` keys holding literals are configuration, not replaced methods."""
    data = b"\x80\x02" + fx._global("torch.nn.modules.linear", "Linear") + b")\x81}"
    data += fx._uni("eval") + b"\x88s" + fx._uni("train") + fx._uni("yes") + b"sb."
    assert not [e for e in analyse(data).events if isinstance(e, HookEvent)]


def test_sniff_recognises_protocol_0_and_rejects_noise() -> None:
    data = fx.os_system_p0()
    assert sniff_pickle(data, 0, len(data))
    noise = fx.random_bytes(256)
    assert not sniff_pickle(noise, 0, len(noise))


def test_legacy_torch_streams_stop_before_raw_storage() -> None:
    data = fx.legacy_torch_checkpoint()
    report = analyse(data)
    assert report.legacy_torch and report.streams == 5
    assert report.end < len(data)


def test_opcode_limit_is_reported_not_hidden() -> None:
    report = analyse(fx.large_range_pickle(5_000), max_opcodes=1_000)
    assert [e.kind for e in report.events if hasattr(e, "kind")] == ["limit"]
