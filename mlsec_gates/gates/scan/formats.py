"""Content sniffing: what a byte region is, decided by its bytes, never by its name."""

from __future__ import annotations

import json
import struct
from typing import Any

from .pickle_analysis import sniff_pickle

#: Compression wrappers recognised by magic bytes, mapped to the decompressor kind.
COMPRESSED = ("gzip", "zlib", "bz2", "xz", "lzma")
#: Archive formats recognised but not unpacked in this version.
UNSUPPORTED_ARCHIVES = ("7z", "rar", "tar")

_MAX_JSON = 64 << 20
_SAFETENSORS_MAX_HEADER = 100 << 20


def _head(buf: Any, start: int, end: int, n: int) -> bytes:
    return bytes(buf[start : min(end, start + n)])


def sniff(buf: Any, start: int, end: int, *, skip_compressed: bool = False) -> str:
    """Return the format of ``buf[start:end]``.

    One of ``empty``, ``zip``, ``npy``, ``safetensors``, a compression name
    (:data:`COMPRESSED`), an archive name (:data:`UNSUPPORTED_ARCHIVES`), ``pickle``
    (binary pickle with PROTO), ``pickle-text`` (protocol 0/1 pickle without PROTO), ``json``,
    ``text`` or ``unknown``.
    """
    size = end - start
    if size <= 0:
        return "empty"
    head = _head(buf, start, end, 16)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if _is_safetensors(buf, start, end, head):
        return "safetensors"
    if head[:6] == b"7z\xbc\xaf\x27\x1c":
        return "7z"
    if head[:4] == b"Rar!":
        return "rar"
    if size > 262 and _head(buf, start + 257, end, 5) == b"ustar":
        return "tar"
    if not skip_compressed:
        if head[:2] == b"\x1f\x8b":
            return "gzip"
        if head[:3] == b"BZh":
            return "bz2"
        if head[:6] == b"\xfd7zXZ\x00":
            return "xz"
        if head[:3] == b"\x5d\x00\x00":
            return "lzma"
        if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
            return "zlib"
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return "pickle"
    if sniff_pickle(buf, start, end):
        return "pickle-text"
    return _text_kind(buf, start, end)


def _is_safetensors(buf: Any, start: int, end: int, head: bytes) -> bool:
    if len(head) < 10:
        return False
    n = struct.unpack_from("<Q", head, 0)[0]
    return 2 <= n <= min(end - start - 8, _SAFETENSORS_MAX_HEADER) and head[8:9] == b"{"


def _text_kind(buf: Any, start: int, end: int) -> str:
    sample = _head(buf, start, end, 64 << 10)
    if b"\x00" in sample:
        return "unknown"
    text = None
    for cut in range(4):
        try:
            text = sample[: len(sample) - cut].decode("utf-8")
            break
        except UnicodeDecodeError:
            if len(sample) < 64 << 10:
                break
    if text is None:
        return "unknown"
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if text and controls > len(text) // 100:
        return "unknown"
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped[:1] in ("{", "[") and end - start <= _MAX_JSON:
        try:
            json.loads(bytes(buf[start:end]).decode("utf-8-sig"))
            return "json"
        except (ValueError, UnicodeDecodeError, RecursionError):
            pass
    return "text"


def parse_safetensors_header(buf: Any, start: int, end: int) -> dict[str, Any]:
    """Parse and check a safetensors header; raise ValueError with the reason if invalid."""
    if end - start < 8:
        raise ValueError("file shorter than the 8-byte header length")
    n = struct.unpack_from("<Q", buf, start)[0]
    if n > _SAFETENSORS_MAX_HEADER or 8 + n > end - start:
        raise ValueError(f"header length {n} is out of bounds")
    try:
        header = json.loads(bytes(buf[start + 8 : start + 8 + n]).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"header is not valid JSON: {exc}") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    data_len = end - start - 8 - n
    for name, info in header.items():
        if name == "__metadata__":
            if not isinstance(info, dict):
                raise ValueError("__metadata__ is not an object")
            continue
        if not isinstance(info, dict) or "data_offsets" not in info:
            raise ValueError(f"tensor {name!r} has no data_offsets")
        offsets = info["data_offsets"]
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(x, int) for x in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_len
        ):
            raise ValueError(f"tensor {name!r} data_offsets {offsets!r} are out of bounds")
    return header
