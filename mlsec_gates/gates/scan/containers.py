"""Container readers: lenient zip, ``.npy`` headers, bounded decompression.

The zip reader follows the central directory the way PyTorch's miniz reader does: it
ignores CRC values, general-purpose flag bits other than encryption, and local-header name
mismatches, tolerates data prepended to the archive, and falls back to walking local headers
when there is no central directory. Stored members are returned as regions of the
original buffer (no copy); compressed ones are inflated with a size limit.
"""

from __future__ import annotations

import ast
import bz2
import lzma
import math
import mmap
import struct
import tempfile
import zlib
from dataclasses import dataclass
from typing import Any

_EOCD = struct.Struct("<4sHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<4sHHHHHIIIHH")

_CHUNK = 1 << 20
_SPILL = 64 << 20  # keep decompressed data in memory up to this size, then spill to disk


class LimitExceeded(Exception):
    """A resource limit was reached while reading a container."""


class ContainerError(Exception):
    """A container could not be read."""


@dataclass
class ZipEntry:
    """One member of a zip archive, as listed by its central directory."""

    name: str
    method: int
    flags: int
    comp_size: int
    size: int
    header_offset: int
    local_name: str | None = None

    @property
    def encrypted(self) -> bool:
        """True when the member is encrypted (flag bit 0)."""
        return bool(self.flags & 0x1)

    @property
    def is_dir(self) -> bool:
        """True for directory entries."""
        return self.name.endswith("/") and self.size == 0


@dataclass
class ZipDirectory:
    """Result of reading a zip directory."""

    entries: list[ZipEntry]
    notes: list[str]
    from_local_headers: bool = False


def _decode_name(raw: bytes, flags: int) -> str:
    if flags & 0x800:
        return raw.decode("utf-8", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def read_zip_directory(buf: Any, start: int, end: int, max_members: int) -> ZipDirectory:
    """List the members of the zip in ``buf[start:end]``.

    Raises:
        ContainerError: the archive has neither a readable central directory nor local headers.
        LimitExceeded: more than ``max_members`` entries.
    """
    tail_start = max(start, end - (1 << 16) - _EOCD.size)
    eocd = buf.rfind(b"PK\x05\x06", tail_start, end)
    if eocd < 0 or eocd + _EOCD.size > end:
        return _read_local_headers(
            buf, start, end, max_members, "no end-of-central-directory record"
        )
    _sig, _disk, _cd_disk, _n_disk, n_total, cd_size, cd_offset, _clen = _EOCD.unpack_from(
        buf, eocd
    )
    notes: list[str] = []
    cd_end_pos = eocd
    if n_total == 0xFFFF or cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:
        loc = eocd - _ZIP64_LOCATOR.size
        if loc >= start and bytes(buf[loc : loc + 4]) == b"PK\x06\x07":
            _s, _d, z64_off, _nd = _ZIP64_LOCATOR.unpack_from(buf, loc)
            z64 = start + z64_off
            if z64 + _ZIP64_EOCD.size <= end and bytes(buf[z64 : z64 + 4]) == b"PK\x06\x06":
                fields = _ZIP64_EOCD.unpack_from(buf, z64)
                n_total, cd_size, cd_offset = fields[7], fields[8], fields[9]
                cd_end_pos = z64
            else:
                # locator offset may be relative to prepended data
                alt = loc - _ZIP64_EOCD.size
                if alt >= start and bytes(buf[alt : alt + 4]) == b"PK\x06\x06":
                    fields = _ZIP64_EOCD.unpack_from(buf, alt)
                    n_total, cd_size, cd_offset = fields[7], fields[8], fields[9]
                    cd_end_pos = alt
    # data prepended to the archive shifts every offset by ``concat``
    concat = cd_end_pos - cd_size - cd_offset - start
    if concat < 0:
        concat = 0
    cd_pos = start + cd_offset + concat
    if cd_pos + 4 > end or bytes(buf[cd_pos : cd_pos + 4]) != b"PK\x01\x02":
        cd_pos = start + cd_offset
        concat = 0
        if n_total and (cd_pos + 4 > end or bytes(buf[cd_pos : cd_pos + 4]) != b"PK\x01\x02"):
            return _read_local_headers(buf, start, end, max_members, "central directory not found")
    if concat:
        notes.append(f"{concat} bytes of data precede the archive")
    entries: list[ZipEntry] = []
    pos = cd_pos
    while pos + _CENTRAL.size <= end and bytes(buf[pos : pos + 4]) == b"PK\x01\x02":
        if len(entries) >= max_members:
            raise LimitExceeded(f"more than {max_members} zip members")
        fields = _CENTRAL.unpack_from(buf, pos)
        flags, method = fields[3], fields[4]
        comp_size, size = fields[8], fields[9]
        name_len, extra_len, comment_len = fields[10], fields[11], fields[12]
        local_offset = fields[16]
        name_raw = bytes(buf[pos + 46 : pos + 46 + name_len])
        extra = bytes(buf[pos + 46 + name_len : pos + 46 + name_len + extra_len])
        size, comp_size, local_offset = _zip64_extra(extra, size, comp_size, local_offset)
        entries.append(
            ZipEntry(
                name=_decode_name(name_raw, flags),
                method=method,
                flags=flags,
                comp_size=comp_size,
                size=size,
                header_offset=start + local_offset + concat,
            )
        )
        pos += 46 + name_len + extra_len + comment_len
    if n_total and len(entries) < min(n_total, max_members):
        notes.append(f"central directory lists {n_total} members but only {len(entries)} were read")
    return ZipDirectory(entries, notes)


def _zip64_extra(extra: bytes, size: int, comp_size: int, offset: int) -> tuple[int, int, int]:
    i = 0
    while i + 4 <= len(extra):
        tag, ln = struct.unpack_from("<HH", extra, i)
        if tag == 0x0001:
            data = extra[i + 4 : i + 4 + ln]
            j = 0
            if size == 0xFFFFFFFF and j + 8 <= len(data):
                size = struct.unpack_from("<Q", data, j)[0]
                j += 8
            if comp_size == 0xFFFFFFFF and j + 8 <= len(data):
                comp_size = struct.unpack_from("<Q", data, j)[0]
                j += 8
            if offset == 0xFFFFFFFF and j + 8 <= len(data):
                offset = struct.unpack_from("<Q", data, j)[0]
            break
        i += 4 + ln
    return size, comp_size, offset


def _read_local_headers(buf: Any, start: int, end: int, max_members: int, why: str) -> ZipDirectory:
    """Walk local file headers from the start when the central directory is unusable."""
    entries: list[ZipEntry] = []
    pos = start
    while pos + _LOCAL.size <= end and bytes(buf[pos : pos + 4]) == b"PK\x03\x04":
        if len(entries) >= max_members:
            raise LimitExceeded(f"more than {max_members} zip members")
        fields = _LOCAL.unpack_from(buf, pos)
        flags, method, comp_size, size = fields[2], fields[3], fields[7], fields[8]
        name_len, extra_len = fields[9], fields[10]
        name = _decode_name(bytes(buf[pos + 30 : pos + 30 + name_len]), flags)
        extra = bytes(buf[pos + 30 + name_len : pos + 30 + name_len + extra_len])
        size, comp_size, _ = _zip64_extra(extra, size, comp_size, 0)
        entries.append(ZipEntry(name, method, flags, comp_size, size, pos))
        if flags & 0x8 and comp_size == 0:
            break  # size only in a trailing data descriptor: cannot find the next header
        pos += 30 + name_len + extra_len + comp_size
    if not entries:
        raise ContainerError(f"not a readable zip archive ({why})")
    return ZipDirectory(
        entries, [why + "; members read from local headers"], from_local_headers=True
    )


def member_data_offset(buf: Any, entry: ZipEntry, end: int) -> int:
    """Offset where the member's (compressed) data starts; the local name is ignored."""
    pos = entry.header_offset
    if pos < 0 or pos + _LOCAL.size > end or bytes(buf[pos : pos + 4]) != b"PK\x03\x04":
        raise ContainerError(f"local header of {entry.name!r} not found at offset {pos}")
    fields = _LOCAL.unpack_from(buf, pos)
    name_len, extra_len = fields[9], fields[10]
    entry.local_name = _decode_name(bytes(buf[pos + 30 : pos + 30 + name_len]), fields[2])
    return pos + 30 + name_len + extra_len


class Spill:
    """Collects output in memory, spilling to an anonymous temp file past a threshold."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._mem = bytearray()
        self._file: Any = None

    def write(self, data: bytes) -> None:
        """Append ``data``; raises LimitExceeded beyond the limit."""
        if not data:
            return
        self.size += len(data)
        if self.size > self.limit:
            raise LimitExceeded(f"decompressed data exceeds {self.limit} bytes")
        if self._file is None and len(self._mem) + len(data) > _SPILL:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller's keep list
            self._file.write(self._mem)
            self._mem = bytearray()
        if self._file is not None:
            self._file.write(data)
        else:
            self._mem += data

    def finish(self, keep: list[Any]) -> Any:
        """Return a buffer (bytes or mmap) holding everything written."""
        if self._file is None:
            return bytes(self._mem)
        self._file.flush()
        mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        keep.append(mm)
        keep.append(self._file)
        return mm


def _make_decompressor(kind: str) -> Any:
    if kind == "deflate":
        return zlib.decompressobj(-15)
    if kind == "zlib":
        return zlib.decompressobj()
    if kind == "gzip":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    if kind in ("xz", "lzma"):
        return lzma.LZMADecompressor()
    raise ContainerError(f"unsupported compression {kind}")


def inflate(
    buf: Any, start: int, end: int, kind: str, limit: int, keep: list[Any]
) -> tuple[Any, int, str | None]:
    """Decompress ``buf[start:end]`` with ``kind`` (deflate, zlib, gzip, bz2, xz, lzma).

    Returns ``(buffer, size, problem)``; ``problem`` is set when the stream was truncated or
    corrupt (the buffer then holds what could be decoded).

    Raises:
        LimitExceeded: output would exceed ``limit`` bytes.
        ContainerError: nothing could be decoded.
    """
    dec = _make_decompressor(kind)
    out = Spill(limit)
    pos = start
    problem: str | None = None
    is_zlib = kind in ("deflate", "zlib", "gzip")
    pending = b""
    try:
        while True:
            if not pending and pos < end:
                pending = bytes(buf[pos : min(pos + _CHUNK, end)])
                pos += len(pending)
            if is_zlib:
                data = dec.decompress(pending, _CHUNK)
                pending = dec.unconsumed_tail
                out.write(data)
                if dec.eof:
                    break
                if not pending and pos >= end and not data:
                    problem = f"{kind} stream is truncated"
                    break
            else:
                if dec.needs_input:
                    data = dec.decompress(pending, _CHUNK)
                    pending = b""
                else:
                    data = dec.decompress(b"", _CHUNK)
                out.write(data)
                if dec.eof:
                    break
                if dec.needs_input and not pending and pos >= end:
                    problem = f"{kind} stream is truncated"
                    break
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        if out.size == 0:
            raise ContainerError(f"{kind} data could not be decompressed: {exc}") from None
        problem = f"{kind} data is corrupt after {out.size} bytes: {exc}"
    return out.finish(keep), out.size, problem


def open_member(
    buf: Any, entry: ZipEntry, end: int, limit: int, keep: list[Any]
) -> tuple[Any, int, int, str | None]:
    """Return ``(buffer, start, end, problem)`` holding the member's uncompressed bytes."""
    data_start = member_data_offset(buf, entry, end)
    comp_size = entry.comp_size
    if data_start + comp_size > end:
        comp_size = max(0, end - data_start)
        truncated: str | None = "member data is truncated"
    else:
        truncated = None
    if entry.method == 0:
        if comp_size > limit:
            raise LimitExceeded(f"member is larger than {limit} bytes")
        return buf, data_start, data_start + comp_size, truncated
    kinds = {8: "deflate", 12: "bz2"}
    if entry.method not in kinds:
        raise ContainerError(f"unsupported zip compression method {entry.method}")
    out, size, problem = inflate(
        buf, data_start, data_start + comp_size, kinds[entry.method], limit, keep
    )
    return out, 0, size, problem or truncated


@dataclass
class NpyHeader:
    """A parsed ``.npy`` header."""

    version: tuple[int, int]
    descr: Any
    fortran_order: bool
    shape: tuple[int, ...]
    data_offset: int
    hasobject: bool
    itemsize: int

    @property
    def data_size(self) -> int:
        """Bytes of raw array data the header announces (0 for object arrays)."""
        return math.prod(self.shape) * self.itemsize


def parse_npy_header(buf: Any, start: int, end: int) -> NpyHeader:
    """Parse a ``.npy`` header like ``numpy.lib.format`` does, without reading the array.

    Raises:
        ContainerError: the header is malformed.
    """
    if bytes(buf[start : start + 6]) != b"\x93NUMPY" or end - start < 10:
        raise ContainerError("missing .npy magic string")
    major, minor = buf[start + 6], buf[start + 7]
    if major == 1:
        hlen = struct.unpack_from("<H", buf, start + 8)[0]
        hstart = start + 10
    elif major in (2, 3):
        if end - start < 12:
            raise ContainerError("truncated .npy header")
        hlen = struct.unpack_from("<I", buf, start + 8)[0]
        hstart = start + 12
    else:
        raise ContainerError(f"unsupported .npy format version {major}.{minor}")
    if hlen > 1 << 20 or hstart + hlen > end:
        raise ContainerError(f".npy header length {hlen} is out of bounds")
    raw = bytes(buf[hstart : hstart + hlen])
    try:
        text = raw.decode("utf-8" if major >= 3 else "latin-1")
        header = ast.literal_eval(text)
    except (SyntaxError, ValueError, UnicodeDecodeError, MemoryError, RecursionError) as exc:
        raise ContainerError(f".npy header is not a Python literal: {exc}") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ContainerError(".npy header must be a dict with descr, fortran_order and shape")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in shape
    ):
        raise ContainerError(f".npy shape {shape!r} is invalid")
    if not isinstance(header["fortran_order"], bool):
        raise ContainerError(".npy fortran_order is not a bool")
    try:
        from numpy.lib.format import descr_to_dtype

        dtype = descr_to_dtype(header["descr"])
    except Exception as exc:
        raise ContainerError(f".npy descr {header['descr']!r} is invalid: {exc}") from None
    return NpyHeader(
        version=(major, minor),
        descr=header["descr"],
        fortran_order=header["fortran_order"],
        shape=shape,
        data_offset=hstart + hlen - start,
        hasobject=bool(dtype.hasobject),
        itemsize=int(dtype.itemsize),
    )
