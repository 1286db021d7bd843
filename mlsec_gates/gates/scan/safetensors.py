"""Strict safetensors validation: the header is parsed, the tensor bytes are never read.

A safetensors file is ``u64 little-endian N`` + ``N`` bytes of JSON + raw tensor data. The
reference loader (Rust ``safetensors``) rejects files whose tensors are not laid out
back to back from offset 0 to the end of the file; anything it would reject, or that
leaves room for a second format (a pickle or zip appended to or hidden between tensors), is
reported here. Only ``N + 8`` bytes are read, so a 10 GB file is checked in milliseconds.
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any

from . import rules
from .observations import FormatError, Observation

#: Largest header accepted, as in the reference implementation (100 MB).
MAX_HEADER = 100_000_000

#: Bits per element of each safetensors dtype (sub-byte float types are packed).
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "C64": 64,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}
_TENSOR_KEYS = {"dtype", "shape", "data_offsets"}


def looks_like_safetensors(head: bytes) -> bool:
    """Cheap sniff: a plausible header length followed by ``{``.

    The length is not compared with ``size`` or the header limit (only its top byte must be
    zero, which no text file has): a header that overruns the file is still a (broken)
    safetensors file and is reported as such by :func:`check_safetensors`.
    """
    if len(head) < 9:
        return False
    n = struct.unpack("<Q", head[:8])[0]
    return 2 <= n < 1 << 56 and head[8:9] == b"{"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise FormatError(f"header repeats the key {key!r}")
        seen[key] = value
    return seen


def _reject_constant(name: str) -> Any:
    raise FormatError(f"header uses the non-JSON constant {name}")


def read_header(buf: Any, start: int, end: int) -> tuple[dict[str, Any], int]:
    """Return the parsed header and the offset (relative) where tensor data starts.

    Raises:
        FormatError: length out of bounds, not UTF-8, not a JSON object, duplicate keys.
    """
    size = end - start
    if size < 8:
        raise FormatError("file shorter than the 8-byte header length", 0)
    n = struct.unpack("<Q", bytes(buf[start : start + 8]))[0]
    if n > MAX_HEADER:
        raise FormatError(f"header length {n} exceeds the {MAX_HEADER}-byte limit", 0)
    if 8 + n > size:
        raise FormatError(f"header length {n} runs past the end of the file ({size} bytes)", 0)
    raw = bytes(buf[start + 8 : start + 8 + n])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"header is not UTF-8: {exc}", 8) from None
    if not text.startswith("{"):
        raise FormatError("header does not start with '{'", 8)
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(f"header is not valid JSON: {exc}", 8) from None
    if not isinstance(header, dict):
        raise FormatError("header is not a JSON object", 8)
    return header, 8 + n


def check_safetensors(buf: Any, start: int, end: int) -> list[Observation]:
    """Validate a safetensors file strictly; every deviation is one observation.

    Raises:
        FormatError: the header itself cannot be read (see :func:`read_header`).
    """
    header, data_start = read_header(buf, start, end)
    data_len = end - start - data_start
    found: list[Observation] = []
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        found.append(
            Observation(
                rules.SafetensorsBadHeader,
                "__metadata__ must map strings to strings",
                8,
                "__metadata__",
                {"error": "__metadata__ is not string -> string"},
            )
        )
    spans: list[tuple[int, int, str]] = []
    for name, info in header.items():
        problem = _tensor_problem(info)
        if problem is not None:
            found.append(
                Observation(
                    rules.SafetensorsBadHeader,
                    f"tensor {name!r}: {problem}",
                    8,
                    name,
                    {"tensor": name, "error": problem},
                )
            )
            continue
        begin, stop = info["data_offsets"]
        bits = DTYPE_BITS[info["dtype"]] * math.prod(info["shape"])
        if bits % 8 or bits // 8 != stop - begin:
            need = bits // 8 if bits % 8 == 0 else bits / 8
            found.append(
                Observation(
                    rules.SafetensorsBadLayout,
                    f"tensor {name!r}: {info['dtype']} x {info['shape']} needs {need} "
                    f"bytes but data_offsets span {stop - begin}",
                    data_start + begin,
                    name,
                    {"tensor": name, "expected": need, "span": stop - begin},
                )
            )
        spans.append((begin, stop, name))
    found.extend(_layout(spans, data_start, data_len))
    return found


def _tensor_problem(info: Any) -> str | None:
    if not isinstance(info, dict):
        return "entry is not an object"
    if set(info) != _TENSOR_KEYS:
        extra = sorted(set(info) - _TENSOR_KEYS)
        missing = sorted(_TENSOR_KEYS - set(info))
        return f"keys must be dtype, shape, data_offsets (extra {extra}, missing {missing})"
    if info["dtype"] not in DTYPE_BITS:
        return f"unknown dtype {info['dtype']!r}"
    shape = info["shape"]
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        return f"shape {shape!r} is not a list of non-negative integers"
    offsets = info["data_offsets"]
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(x, int) and not isinstance(x, bool) for x in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        return f"data_offsets {offsets!r} are not [begin, end] with 0 <= begin <= end"
    return None


def _layout(spans: list[tuple[int, int, str]], data_start: int, data_len: int) -> list[Observation]:
    """Tensors must tile ``[0, data_len)`` exactly: no overlap, gap or byte past the end."""
    found: list[Observation] = []
    cursor = 0
    for begin, stop, name in sorted(spans):
        if begin != cursor:
            what = (
                "overlaps the previous tensor"
                if begin < cursor
                else f"leaves a gap of {begin - cursor} bytes"
            )
            found.append(
                Observation(
                    rules.SafetensorsBadLayout,
                    f"tensor {name!r} starts at {begin}, expected {cursor}: {what}",
                    data_start + begin,
                    name,
                    {"tensor": name, "begin": begin, "expected": cursor},
                )
            )
        if stop > data_len:
            found.append(
                Observation(
                    rules.SafetensorsBadLayout,
                    f"tensor {name!r} ends at {stop}, past the {data_len} bytes of data",
                    data_start + begin,
                    name,
                    {"tensor": name, "end": stop, "data_bytes": data_len},
                )
            )
        cursor = max(cursor, stop)
    if cursor < data_len:
        found.append(
            Observation(
                rules.SafetensorsAppendedData,
                f"{data_len - cursor} bytes follow the last tensor (appended data or a "
                "second format hidden in the file)",
                data_start + cursor,
                None,
                {"appended_bytes": data_len - cursor, "offset": data_start + cursor},
            )
        )
    return found
