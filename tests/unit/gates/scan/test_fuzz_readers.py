"""Fuzz the scanner's readers: mutated valid seeds and random bytes never break the scan.

Seeds are valid files of each reader (pickle, torch zip, npy, safetensors, GGUF, tar, 7z,
Keras zip, ONNX); mutations flip, truncate, insert and rewrite length fields. Properties:
:func:`scan_file` never raises, the verdict is pass/block/quarantine, no ``InternalError``
finding appears (a reader crashed), and content that an independent reference parser
rejects (``pickletools.genops``, the npy header parser, the safetensors spec, the gguf
reader) never passes. ``MLSEC_FUZZ_EXAMPLES`` raises the per-reader budget for a long
local campaign; crashes found are kept in ``tests/corpus/fuzz_regressions/`` and replayed.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import pickletools
import struct
import tarfile
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlsec_gates.gates.scan.engine import FileVerdict, scan_file
from tests.corpus.benign import safetensors_bytes
from tests.corpus.malicious import gguf_bytes, npy_header, onnx_external
from tests.fixtures.pickles import torch_zip_checkpoint

EXAMPLES = int(os.environ.get("MLSEC_FUZZ_EXAMPLES", "40"))
REGRESSIONS = Path(__file__).resolve().parents[3] / "corpus" / "fuzz_regressions"
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=EXAMPLES <= 100,  # CI: reproducible; campaigns: explore
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


# --------------------------------------------------------------------------- seeds


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _7z(members: dict[str, bytes]) -> bytes:
    import py7zr

    buf = io.BytesIO()
    with py7zr.SevenZipFile(buf, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return buf.getvalue()


def _keras() -> bytes:
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "config": {
            "layers": [{"module": "keras.layers", "class_name": "Dense", "config": {"units": 2}}]
        },
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", '{"keras_version": "3.6.0"}')
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(56))
    return buf.getvalue()


def _npy() -> bytes:
    return npy_header("<f4", (3, 2)) + struct.pack("<6f", *range(6))


def _pickle() -> bytes:
    obj = {"lr": 0.1, "layers": [4, 8], "name": "m", "t": (1, 2.5, None, True), "b": b"xy"}
    return pickle.dumps(obj, protocol=4)


SEEDS: dict[str, Callable[[], bytes]] = {
    "pickle": _pickle,
    "pickle-p0": lambda: pickle.dumps({"a": [1, "x"], "b": 2.5}, protocol=0),
    "torch-zip": lambda: torch_zip_checkpoint(2),
    "npy": _npy,
    "safetensors": lambda: safetensors_bytes(0, 2, "F32", {"format": "pt"}),
    "gguf": lambda: gguf_bytes("{{ messages[0]['content'] }}", n_tensors=1),
    "tar": lambda: _tar({"model/data.pkl": _pickle(), "model/weights.npy": _npy()}),
    "7z": lambda: _7z({"data.pkl": _pickle()}),
    "keras": _keras,
    "onnx": lambda: onnx_external("weights.bin")(""),
}


@cache
def seed(name: str) -> bytes:
    return SEEDS[name]()


# --------------------------------------------------------------------------- mutations

#: Offsets of length fields worth rewriting, per seed kind.
LENGTH_FIELDS: dict[str, tuple[tuple[int, int], ...]] = {
    "pickle": ((3, 8),),  # FRAME length
    "torch-zip": ((18, 4), (22, 4), (26, 2), (28, 2)),  # local header sizes / name / extra
    "npy": ((8, 2),),
    "safetensors": ((0, 8),),
    "gguf": ((8, 8), (16, 8)),  # tensor count, KV count
    "tar": ((124, 12),),
    "7z": ((12, 8), (20, 8)),
    "keras": ((18, 4), (22, 4)),
}


@st.composite
def mutated(draw: st.DrawFn, name: str) -> bytes:
    data = bytearray(seed(name))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "length", "splice"]))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if op == "flip":
            data[pos] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif op == "splice":
            end = draw(st.integers(pos, min(len(data), pos + 64)))
            del data[pos:end]
        else:
            fields = LENGTH_FIELDS.get(name, ((0, 4),))
            off, width = draw(st.sampled_from(fields))
            if off + width <= len(data):
                value = draw(
                    st.sampled_from([0, 1, 2**8 * width - 1, 2 ** (8 * width) - 1])
                    | st.integers(0, 2 ** (8 * width) - 1)
                )
                if name == "tar":  # octal text field
                    text = f"{value % 8**11:011o}".encode() + b"\0"
                    data[off : off + width] = text
                else:
                    data[off : off + width] = value.to_bytes(width, "little")
    return bytes(data)


# --------------------------------------------------------------------------- reference parsers


def _pickle_ok(data: bytes) -> bool:
    try:
        ops = list(pickletools.genops(data))
    except Exception:
        return False
    return bool(ops) and ops[-1][0].name == "STOP"


def _npy_ok(data: bytes) -> bool:
    import numpy as np

    fh = io.BytesIO(data)
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        read = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}[version]
        shape, _fortran, dtype = read(fh)
    except Exception:
        return False
    if dtype.hasobject:
        return True
    count = 1
    for n in shape:
        count *= n
    return len(data) - fh.tell() == count * dtype.itemsize


def _safetensors_ok(data: bytes) -> bool:
    widths = {
        **dict.fromkeys(("F64", "I64", "U64"), 8),
        **dict.fromkeys(("F32", "I32", "U32"), 4),
        **dict.fromkeys(("F16", "BF16", "I16", "U16"), 2),
        **dict.fromkeys(("I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2"), 1),
    }
    try:
        (n,) = struct.unpack_from("<Q", data)
        header = json.loads(data[8 : 8 + n])
        body = len(data) - 8 - n
        spans = []
        for key, value in header.items():
            if key == "__metadata__":
                continue
            start, end = value["data_offsets"]
            count = 1
            for dim in value["shape"]:
                count *= dim
            if end - start != count * widths[value["dtype"]]:
                return False
            spans.append((start, end))
        spans.sort()
        pos = 0
        for start, end in spans:
            if start != pos:
                return False
            pos = end
        return n <= len(data) - 8 and pos == body
    except Exception:
        return False


def _gguf_ok(data: bytes) -> bool:
    import tempfile

    from gguf import GGUFReader

    with tempfile.NamedTemporaryFile(suffix=".gguf") as fh:
        fh.write(data)
        fh.flush()
        try:
            GGUFReader(fh.name)
        except Exception:
            return False
    return True


#: Seed -> (kinds the scanner reports for that format, independent reference parser).
REFERENCE: dict[str, tuple[tuple[str, ...], Callable[[bytes], bool]]] = {
    "pickle": (("pickle",), _pickle_ok),
    "pickle-p0": (("pickle",), _pickle_ok),
    "npy": (("numpy-npy", "npy"), _npy_ok),
    "safetensors": (("safetensors",), _safetensors_ok),
    "gguf": (("gguf",), _gguf_ok),
}


# --------------------------------------------------------------------------- properties


def _scan(data: bytes, uri: str) -> FileVerdict:
    return scan_file(io.BytesIO(data), uri=uri)


def check(data: bytes, name: str) -> FileVerdict:
    """The fuzz property; returns the verdict for callers that check more."""
    verdict = _scan(data, f"fuzz.{name}")
    assert verdict.verdict in {"pass", "block", "quarantine"}
    crashes = [f.message for f in verdict.findings if f.rule_id == "scan.internal-error"]
    assert not crashes, crashes
    kinds, reference = REFERENCE.get(name, ((), None))
    if reference is not None and verdict.verdict == "pass" and verdict.kind in kinds:
        assert reference(data), f"{name}: {verdict.kind} its reference parser rejects was passed"
    return verdict


def test_seeds_are_valid_and_pass_or_are_recognised() -> None:
    for name in SEEDS:
        data = seed(name)
        _kinds, reference = REFERENCE.get(name, ((), None))
        if reference is not None:
            assert reference(data), name
        check(data, name)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_fuzz_mutated_seed(name: str) -> None:
    @FUZZ
    @given(data=mutated(name))
    def run(data: bytes) -> None:
        check(data, name)

    run()


@FUZZ
@given(data=st.binary(max_size=4096))
def test_fuzz_random_bytes(data: bytes) -> None:
    check(data, "random")


@FUZZ
@given(
    data=st.binary(max_size=512),
    magic=st.sampled_from(
        [
            b"\x80\x04",
            b"\x80\x02",
            b"PK\x03\x04",
            b"\x93NUMPY\x01\x00",
            b"GGUF\x03\x00\x00\x00",
            b"7z\xbc\xaf\x27\x1c",
            b"\x1f\x8b\x08",
            b"BZh9",
            b"\xfd7zXZ\x00",
            b"(dp0\n",
        ]
    ),
)
def test_fuzz_random_bytes_behind_magic(data: bytes, magic: bytes) -> None:
    check(magic + data, "magic")


def _regressions() -> list[Path]:
    return sorted(p for p in REGRESSIONS.glob("*.bin")) if REGRESSIONS.is_dir() else []


# Regression seeds found by the 20k-per-reader campaign; each once broke a property.
@pytest.mark.parametrize("path", [pytest.param(p, id=p.name) for p in _regressions()])
def test_fuzz_regression_seed(path: Path) -> None:
    name = path.name.split("__", 1)[0]
    check(path.read_bytes(), name if name in SEEDS else "random")
