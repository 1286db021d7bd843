"""Content sniffing: what a byte region is, decided by its bytes, never by its name.

File names are never trusted (CVE-2025-1889, CVE-2025-10155): a protocol-0 pickle named
``model.safetensors`` or ``payload.txt`` is a pickle. Only regions that decode as UTF-8 text
without control characters are ``text``/``json``; the engine passes those (after the
chat-template checks) because no model loader executes plain text or JSON, and quarantines
everything else it cannot recognise.
"""

from __future__ import annotations

import json
from typing import Any

from .archives import looks_like_tar
from .gguf import MAGIC as GGUF_MAGIC
from .native_models import CBM_MAGIC, looks_like_xgboost_ubj
from .onnx_model import looks_like_onnx
from .pickle_analysis import sniff_pickle
from .safetensors import looks_like_safetensors

#: Compression wrappers recognised by magic bytes (decoded by ``containers.inflate``).
COMPRESSED = ("gzip", "zlib", "bz2", "xz", "lzma", "zstd", "lz4")
#: Archives the scanner unpacks (``archives.py``).
ARCHIVES = ("tar", "7z")
#: Archive formats recognised but not unpacked.
UNSUPPORTED_ARCHIVES = ("rar",)

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: Offsets where an HDF5 superblock may start (after a user block).
_HDF5_OFFSETS = (0, 512, 1024, 2048, 4096, 8192)
_MAX_JSON = 64 << 20


def _head(buf: Any, start: int, end: int, n: int) -> bytes:
    return bytes(buf[start : min(end, start + n)])


def sniff(buf: Any, start: int, end: int, *, skip_compressed: bool = False) -> str:
    """Return the format of ``buf[start:end]``.

    One of ``empty``, ``zip``, ``npy``, ``safetensors``, ``gguf``, ``hdf5``, ``onnx``,
    ``xgboost-ubj``, ``catboost-cbm``, a
    compression name (:data:`COMPRESSED`), an archive name (:data:`ARCHIVES`,
    :data:`UNSUPPORTED_ARCHIVES`), ``pickle`` (binary pickle with PROTO), ``pickle-text``
    (protocol 0/1 pickle without PROTO), ``json``, ``text`` or ``unknown``.
    """
    size = end - start
    if size <= 0:
        return "empty"
    head = _head(buf, start, end, 512)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08"):
        return "zip"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    if looks_like_safetensors(head):
        return "safetensors"
    if head[:4] == GGUF_MAGIC:
        return "gguf"
    if head[:8] == HDF5_MAGIC:
        return "hdf5"
    if head[:6] == b"7z\xbc\xaf\x27\x1c":
        return "7z"
    if head[:4] == b"Rar!":
        return "rar"
    if looks_like_tar(head):
        return "tar"
    if head[:4] == CBM_MAGIC:
        return "catboost-cbm"
    if looks_like_xgboost_ubj(head):
        return "xgboost-ubj"
    if not skip_compressed:
        kind = _compression(head)
        if kind:
            return kind
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return "pickle"
    if looks_like_onnx(head[:256]):
        return "onnx"
    if sniff_pickle(buf, start, end):
        return "pickle-text"
    kind = _text_kind(buf, start, end)
    if kind == "unknown" and buf.rfind(b"PK\x05\x06", max(start, end - (1 << 16) - 22), end) >= 0:
        return "zip"  # data prepended to a zip (self-extracting style); the reader copes
    if kind == "unknown" and any(
        _head(buf, start + off, end, 8) == HDF5_MAGIC for off in _HDF5_OFFSETS[1:] if off < size
    ):
        return "hdf5"
    return kind


def _compression(head: bytes) -> str | None:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:3] == b"BZh" and head[3:4] in b"123456789" and head[3:4]:
        return "bz2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    if head[:3] == b"\x5d\x00\x00":
        return "lzma"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:4] == b"\x04\x22\x4d\x18":
        return "lz4"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    return None


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
