"""GGUF (llama.cpp) header, metadata and tensor-table checks, parsed by hand.

Only the header is read: magic, version (2 or 3), the metadata key/value table and the
tensor-info table. Every length and count is checked against the bytes that remain before
anything is allocated, so a hostile header cannot make the scanner allocate or loop beyond
the file size. Tensor extents are checked against the data section without reading it.
Chat templates (``tokenizer.chat_template`` and ``tokenizer.chat_template.<name>``) are
handed to :mod:`.chat_template`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

from . import rules
from .chat_template import check_template
from .observations import FormatError, Observation

MAGIC = b"GGUF"
_MAX_KEY = 1 << 16
_MAX_NAME = 1 << 12
_MAX_DIMS = 4
_MAX_DEPTH = 3
_WINDOW = 1 << 20

#: ggml tensor types: (elements per block, bytes per block), as in gguf-py's constants.
GGML_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 40), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1),
    25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2), 34: (256, 54),
    35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18),
}  # fmt: skip
#: Scalar metadata value types: struct format.
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}  # fmt: skip
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")


class _Cursor:
    """Bounds-checked little-endian reader over ``buf[start:end]`` with a read window."""

    def __init__(self, buf: Any, start: int, end: int) -> None:
        self.buf, self.start, self.end = buf, start, end
        self.pos = start
        self._win_start = start
        self._win = b""

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise FormatError(
                f"{what} needs {n} bytes but only {self.end - self.pos} remain",
                self.pos - self.start,
            )
        lo = self.pos - self._win_start
        if lo < 0 or lo + n > len(self._win):
            self._win_start = self.pos
            self._win = bytes(self.buf[self.pos : min(self.end, self.pos + max(n, _WINDOW))])
            lo = 0
        self.pos += n
        return self._win[lo : lo + n]

    def unpack(self, fmt: str, what: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def string(self, what: str, limit: int | None = None) -> bytes:
        n = self.unpack("<Q", f"{what} length")
        if limit is not None and n > limit:
            raise FormatError(f"{what} is {n} bytes long (limit {limit})", self.pos - self.start)
        return self.take(n, what)

    def remaining(self) -> int:
        return self.end - self.pos

    def strings(self, count: int, what: str) -> None:
        """Skip ``count`` length-prefixed strings, checking bounds and UTF-8 (fast path)."""
        unpack = _U64.unpack_from
        done = 0
        while done < count:
            self.take(0, what)  # refresh the window at the current position if needed
            win, base = self._win, self.pos - self._win_start
            limit = len(win)
            pos = base
            while done < count and pos + 8 <= limit:
                n = unpack(win, pos)[0]
                if pos + 8 + n > limit:
                    break
                try:
                    win[pos + 8 : pos + 8 + n].decode("utf-8")
                except UnicodeDecodeError:
                    raise FormatError(f"a string of {what} is not UTF-8") from None
                pos += 8 + n
                done += 1
            self.pos += pos - base
            if done < count:
                n = self.unpack("<Q", f"{what} length")
                raw = self.take(n, what)
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise FormatError(f"a string of {what} is not UTF-8") from None
                done += 1


@dataclass
class GgufHeader:
    """What the header walk found."""

    version: int
    metadata: dict[str, Any] = field(default_factory=dict)
    """Scalar and string values (arrays are summarised by their length)."""
    tensors: int = 0
    observations: list[Observation] = field(default_factory=list)


def check_gguf(buf: Any, start: int, end: int, *, max_entries: int = 1_000_000) -> GgufHeader:
    """Parse and check a GGUF header; chat templates are judged too.

    Raises:
        FormatError: bad magic or version, a length/count beyond the file, unknown value or
            tensor type, more than ``max_entries`` metadata or tensor entries.
    """
    cur = _Cursor(buf, start, end)
    if cur.take(4, "magic") != MAGIC:
        raise FormatError("missing GGUF magic", 0)
    version = cur.unpack("<I", "version")
    if version not in (2, 3):
        raise FormatError(f"unsupported GGUF version {version} (only 2 and 3)", 4)
    n_tensors = cur.unpack("<Q", "tensor count")
    n_kv = cur.unpack("<Q", "metadata count")
    for count, what, minimum in ((n_kv, "metadata", 13), (n_tensors, "tensor", 24)):
        if count > max_entries or count * minimum > cur.remaining():
            raise FormatError(f"{what} count {count} is impossible for the file size", 8)
    header = GgufHeader(version=version, tensors=n_tensors)
    for _ in range(n_kv):
        at = cur.pos - start
        raw_key = cur.string("metadata key", _MAX_KEY)
        try:
            key = raw_key.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"metadata key {raw_key[:40]!r} is not UTF-8", at) from None
        if key in header.metadata:
            raise FormatError(f"metadata key {key!r} appears twice", at)
        vtype = cur.unpack("<I", f"type of {key}")
        header.metadata[key] = _value(cur, vtype, key, 0)
        if key == "tokenizer.chat_template" or key.startswith("tokenizer.chat_template."):
            header.observations.extend(_template(header.metadata[key], key, at))
    alignment = header.metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise FormatError(f"general.alignment {alignment!r} is not a power of two")
    extents = [_tensor_info(cur, start, alignment) for _ in range(n_tensors)]
    header.observations.extend(_check_extents(extents, cur, start, end, alignment))
    return header


def _value(cur: _Cursor, vtype: int, key: str, depth: int) -> Any:
    if vtype in _SCALARS:
        return cur.unpack(_SCALARS[vtype], f"value of {key}")
    if vtype == _STRING:
        raw = cur.string(f"value of {key}")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"string value of {key} is not UTF-8") from None
        return raw
    if vtype == _ARRAY:
        if depth >= _MAX_DEPTH:
            raise FormatError(f"arrays nested deeper than {_MAX_DEPTH} in {key}")
        etype = cur.unpack("<I", f"array type of {key}")
        count = cur.unpack("<Q", f"array length of {key}")
        size = struct.calcsize(_SCALARS[etype]) if etype in _SCALARS else 8
        if etype not in _SCALARS and etype not in (_STRING, _ARRAY):
            raise FormatError(f"array {key} has unknown element type {etype}")
        if count * size > cur.remaining():
            raise FormatError(f"array {key} of {count} items runs past the end of the file")
        if etype in _SCALARS:
            cur.take(count * size, f"array {key}")
        elif etype == _STRING:
            cur.strings(count, f"array {key}")
        else:
            for _ in range(count):
                _value(cur, etype, key, depth + 1)
        return f"<array of {count}>"
    raise FormatError(f"metadata {key} has unknown value type {vtype}")


def _template(value: Any, key: str, at: int) -> list[Observation]:
    if not isinstance(value, bytes):
        return [Observation(rules.GgufMalformed, f"{key} is not a string", at, key, {"key": key})]
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [
            Observation(
                rules.ChatTemplateUnparseable,
                f"{key} is not UTF-8 text: {exc}",
                at,
                key,
                {"key": key},
            )
        ]
    return [
        Observation(o.rule, o.message, at, key, {**o.evidence, "key": key})
        for o in check_template(text, key, strict=True)
    ]


def _tensor_info(cur: _Cursor, start: int, alignment: int) -> tuple[int, int, str]:
    at = cur.pos - start
    raw = cur.string("tensor name", _MAX_NAME)
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"tensor name {raw[:40]!r} is not UTF-8", at) from None
    n_dims = cur.unpack("<I", f"dimensions of {name}")
    if n_dims > _MAX_DIMS:
        raise FormatError(f"tensor {name!r} has {n_dims} dimensions (max {_MAX_DIMS})", at)
    dims = [cur.unpack("<Q", f"shape of {name}") for _ in range(n_dims)]
    ttype = cur.unpack("<I", f"type of {name}")
    offset = cur.unpack("<Q", f"offset of {name}")
    if ttype not in GGML_BLOCKS:
        raise FormatError(f"tensor {name!r} has unknown ggml type {ttype}", at)
    block, block_bytes = GGML_BLOCKS[ttype]
    elements = math.prod(dims)
    if elements >= 1 << 62 or (dims and dims[0] % block):
        raise FormatError(f"tensor {name!r} shape {dims} does not fit ggml type {ttype}", at)
    if offset % alignment:
        raise FormatError(f"tensor {name!r} offset {offset} is not {alignment}-aligned", at)
    return offset, elements // block * block_bytes, name


def _check_extents(
    extents: list[tuple[int, int, str]], cur: _Cursor, start: int, end: int, alignment: int
) -> list[Observation]:
    data_start = start + -(-(cur.pos - start) // alignment) * alignment
    data_len = end - data_start
    found: list[Observation] = []
    names: set[str] = set()
    last_end = 0
    previous: tuple[int, int, str] | None = None
    for offset, size, name in sorted(extents):
        if name in names:
            raise FormatError(f"tensor name {name!r} appears twice")
        names.add(name)
        if offset + size > data_len:
            raise FormatError(
                f"tensor {name!r} [{offset}, {offset + size}) runs past the {data_len}-byte "
                "data section"
            )
        if previous is not None and offset < previous[0] + previous[1]:
            raise FormatError(f"tensor {name!r} overlaps tensor {previous[2]!r}")
        previous = (offset, size, name)
        last_end = max(last_end, offset + size)
    if extents and data_len - last_end >= alignment:
        found.append(
            Observation(
                rules.GgufMalformed,
                f"{data_len - last_end} bytes follow the last tensor (appended data)",
                data_start - start + last_end,
                None,
                {"appended_bytes": data_len - last_end},
            )
        )
    return found
