"""Nested payloads by dataflow: rebuild the bytes that reach a loader call.

A pickle can carry a second pickle as a bytes or str constant and deserialise it at load
time (``pickle.loads(b64decode('...'))``, ``torch.load(io.BytesIO(...))``,
``torch.storage._load_from_bytes``, ``dill.loads``...), hiding the inner imports from a scanner
that only lists the outer ones. The walker keeps constants as references into the buffer;
when one flows into a loader, this module replays the (pure, data-only) decoding chain
written in the pickle to recover the inner bytes, which the engine then scans like a file.
Only decoders from :data:`.allowlist_data.BYTES_DECODERS` are replayed; anything else (a
computed value, an unknown transform) makes the nested payload unresolvable, which blocks.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import codecs
import lzma
import zlib
from typing import Any

from .allowlist_data import BYTES_DECODERS
from .pickle_ops import BytesRef, Called, GlobalRef, StrRef, decode_text, render

#: Nested payloads larger than this are not rebuilt (decoded data is held in memory).
MAX_NESTED_BYTES = 64 * 1024 * 1024


class Unresolvable(Exception):
    """The loader's argument cannot be rebuilt statically."""


def _decompress(kind: str, data: bytes) -> bytes:
    if kind == "zlib":
        out = zlib.decompressobj().decompress(data, MAX_NESTED_BYTES + 1)
    elif kind == "gzip":
        out = zlib.decompressobj(31).decompress(data, MAX_NESTED_BYTES + 1)
    elif kind == "bz2":
        out = bz2.BZ2Decompressor().decompress(data, MAX_NESTED_BYTES + 1)
    else:
        out = lzma.LZMADecompressor().decompress(data, MAX_NESTED_BYTES + 1)
    if len(out) > MAX_NESTED_BYTES:
        raise Unresolvable(f"{kind} data inflates beyond {MAX_NESTED_BYTES} bytes")
    return out


_CODEC_ALIASES = {
    "base64": "base64",
    "base_64": "base64",
    "base64_codec": "base64",
    "hex": "hex",
    "hex_codec": "hex",
    "zlib": "zlib",
    "zip": "zlib",
    "zlib_codec": "zlib",
    "bz2": "bz2",
    "bz2_codec": "bz2",
    "rot13": "rot13",
    "rot_13": "rot13",
}


def _apply(kind: str, value: bytes | str, args: tuple[Any, ...], resolve: Any) -> bytes | str:
    """Apply one decoder of :data:`BYTES_DECODERS` to an already resolved value."""
    if kind == "identity":
        if isinstance(value, str):
            encoding = resolve(args[1]) if len(args) > 1 else "utf-8"
            return value.encode(str(encoding))
        return value
    if kind == "codec":
        codec = resolve(args[1]) if len(args) > 1 else "utf-8"
        if not isinstance(codec, str):
            raise Unresolvable("codec name is not a literal")
        name = _CODEC_ALIASES.get(codec.lower().replace("-", "_"))
        if name == "rot13":
            text = value if isinstance(value, str) else value.decode("latin-1")
            return codecs.decode(text, "rot13")
        if name is None:  # a text encoding: str <-> bytes
            if isinstance(value, str):
                return value.encode(codec)
            return value.decode(codec)
        kind = name
    data = value.encode("ascii") if isinstance(value, str) else bytes(value)
    if kind == "base64":
        return base64.b64decode(data)
    if kind == "base64url":
        return base64.urlsafe_b64decode(data)
    if kind == "base32":
        return base64.b32decode(data)
    if kind == "hex":
        return binascii.unhexlify(b"".join(data.split()))
    if kind == "a85":
        return base64.a85decode(data)
    if kind == "b85":
        return base64.b85decode(data)
    if kind in ("zlib", "gzip", "bz2", "lzma"):
        return _decompress(kind, data)
    raise Unresolvable(f"unknown decoder {kind}")


def rebuild(buf: Any, value: Any, depth: int = 0) -> tuple[Any, int, int]:
    """The bytes a loader receives, as ``(buffer, start, end)``.

    Bytes constants that are not transformed stay views of the scanned buffer (no copy).

    Raises:
        Unresolvable: the value is computed or transformed by something not replayable.
    """
    if isinstance(value, BytesRef):
        return buf, value.start, value.start + value.length
    data = _resolve(buf, value, depth)
    if isinstance(data, str):
        data = data.encode("latin-1", "replace")
    return data, 0, len(data)


def _resolve(buf: Any, value: Any, depth: int) -> bytes | str:
    if depth > 16:
        raise Unresolvable("decoding chain deeper than 16 calls")
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, BytesRef):
        if value.length > MAX_NESTED_BYTES:
            raise Unresolvable(f"constant larger than {MAX_NESTED_BYTES} bytes")
        return bytes(buf[value.start : value.start + value.length])
    if isinstance(value, StrRef):
        if value.length > MAX_NESTED_BYTES:
            raise Unresolvable(f"constant larger than {MAX_NESTED_BYTES} bytes")
        raw = bytes(buf[value.start : value.start + value.length])
        return decode_text(raw, value.encoding)
    if isinstance(value, Called) and isinstance(value.func, GlobalRef):
        kind = BYTES_DECODERS.get(value.func.full)
        args = value.args if isinstance(value.args, tuple) else ()
        if kind is not None and args:

            def resolve(v: Any) -> Any:
                return _resolve(buf, v, depth + 1)

            try:
                out = _apply(kind, resolve(args[0]), args, resolve)
            except Unresolvable:
                raise
            except Exception as exc:  # the loader would fail the same way
                raise Unresolvable(f"{value.func.raw} fails on its argument: {exc}") from None
            if len(out) > MAX_NESTED_BYTES:
                raise Unresolvable(f"decoded data larger than {MAX_NESTED_BYTES} bytes")
            return out
    raise Unresolvable(f"argument {render(value)} is not a constant or a known decoding")
