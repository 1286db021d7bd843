"""Readers for the data-only native model formats of the gradient-boosting libraries.

XGBoost's ``save_model('m.ubj')`` / ``save_raw('ubj')`` (UBJSON, the binary twin of its JSON
model), CatBoost's ``.cbm`` (``CBM1``, a length-prefixed FlatBuffers model core plus
counters) hold trees, splits and parameters: nothing in them is code, and the libraries'
loaders parse them natively. XGBoost JSON, LightGBM text and CatBoost JSON are text/JSON and
need no reader. The readers here check the structure (so a file that only *claims* the
format is not passed) and raise :class:`.FormatError` when it does not hold.
"""

from __future__ import annotations

import struct
from typing import Any

from .observations import FormatError

CBM_MAGIC = b"CBM1"
_UBJ_INTS = {b"i": ">b", b"U": ">B", b"I": ">h", b"l": ">i", b"L": ">q"}
_UBJ_FLOATS = {b"d": ">f", b"D": ">d"}
_MAX_DEPTH = 64


def looks_like_xgboost_ubj(head: bytes) -> bool:
    """A UBJSON object whose first key is XGBoost's ``learner`` (or ``version``)."""
    if head[:1] != b"{" or len(head) < 3:
        return False
    fmt = _UBJ_INTS.get(head[1:2])
    if fmt is None:
        return False
    size = struct.calcsize(fmt)
    try:
        (length,) = struct.unpack_from(fmt, head, 2)
    except struct.error:
        return False
    return head[2 + size : 2 + size + length] in (b"learner", b"version")


class _Ubj:
    """A bounded UBJSON walker (XGBoost writes containers with and without counts)."""

    def __init__(self, buf: Any, start: int, end: int) -> None:
        self.buf, self.pos, self.end = buf, start, end

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise FormatError("UBJSON value runs past the end of the file", self.pos)
        data = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return data

    def _int(self, marker: bytes) -> int:
        fmt = _UBJ_INTS.get(marker)
        if fmt is None:
            raise FormatError(f"UBJSON length has marker {marker!r}, not an integer", self.pos)
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def value(self, marker: bytes, depth: int) -> None:
        if depth > _MAX_DEPTH:
            raise FormatError("UBJSON nested too deeply", self.pos)
        if marker in _UBJ_INTS:
            self._int(marker)
        elif marker in _UBJ_FLOATS:
            self._take(struct.calcsize(_UBJ_FLOATS[marker]))
        elif marker in (b"Z", b"N", b"T", b"F"):
            pass
        elif marker == b"C":
            self._take(1)
        elif marker in (b"S", b"H"):
            self._take(self._int(self._take(1)))
        elif marker in (b"[", b"{"):
            self.container(marker, depth + 1)
        else:
            raise FormatError(f"unknown UBJSON marker {marker!r}", self.pos)

    def container(self, open_marker: bytes, depth: int) -> None:
        kind, count = None, None
        nxt = self._take(1)
        if nxt == b"$":
            kind = self._take(1)
            nxt = self._take(1)
        if nxt == b"#":
            count = self._int(self._take(1))
            if count < 0 or count > self.end - self.pos + 1:
                raise FormatError("UBJSON container count exceeds the data", self.pos)
        else:
            self.pos -= 1
        is_object = open_marker == b"{"
        close = b"}" if is_object else b"]"
        done = 0
        while count is None or done < count:
            if count is None and self.buf[self.pos : self.pos + 1] == close:
                self.pos += 1
                return
            if is_object:
                self._take(self._int(self._take(1)))
            if kind is not None and kind in _UBJ_INTS:  # typed numeric array: fixed width
                if count is None:
                    raise FormatError("typed UBJSON container without a count", self.pos)
                self._take(struct.calcsize(_UBJ_INTS[kind]) * count)
                return
            if kind is not None and kind in _UBJ_FLOATS:
                if count is None:
                    raise FormatError("typed UBJSON container without a count", self.pos)
                self._take(struct.calcsize(_UBJ_FLOATS[kind]) * count)
                return
            self.value(kind or self._take(1), depth)
            done += 1


def check_xgboost_ubj(buf: Any, start: int, end: int) -> None:
    """Walk an XGBoost UBJSON model to its end; raise :class:`FormatError` if malformed."""
    reader = _Ubj(buf, start, end)
    if reader._take(1) != b"{":
        raise FormatError("XGBoost UBJSON model does not start with an object", 0)
    reader.container(b"{", 1)
    if reader.pos != end:
        raise FormatError(f"{end - reader.pos} bytes after the UBJSON model", reader.pos - start)


def check_catboost_cbm(buf: Any, start: int, end: int) -> None:
    """``CBM1`` + uint32 core size + FlatBuffers core (+ counters): sizes must fit."""
    if end - start < 8 or bytes(buf[start : start + 4]) != CBM_MAGIC:
        raise FormatError("not a CatBoost model (CBM1 magic missing)", 0)
    (core,) = struct.unpack("<I", bytes(buf[start + 4 : start + 8]))
    if core < 8 or 8 + core > end - start:
        raise FormatError(f"CatBoost model core of {core} bytes does not fit the file", 4)
    (root,) = struct.unpack("<I", bytes(buf[start + 8 : start + 12]))
    if root >= core:
        raise FormatError("CatBoost FlatBuffers root offset points outside the model core", 8)
