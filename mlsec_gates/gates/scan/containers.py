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
import io
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
    archive_end: int | None = None
    """Offset just past the end-of-central-directory record and its comment, if read."""


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
    _sig, _disk, _cd_disk, _n_disk, n_total, cd_size, cd_offset, clen = _EOCD.unpack(
        bytes(buf[eocd : eocd + _EOCD.size])
    )
    notes: list[str] = []
    cd_end_pos = eocd
    loc = eocd - _ZIP64_LOCATOR.size
    if loc >= start and bytes(buf[loc : loc + 4]) == b"PK\x06\x07":
        # A zip64 end record may be present even when the classic fields are not saturated
        # (torch.save always writes one): the central directory ends before it.
        locator = bytes(buf[loc : loc + _ZIP64_LOCATOR.size])
        _s, _d, z64_off, _nd = _ZIP64_LOCATOR.unpack(locator)
        z64 = start + z64_off
        if z64 + _ZIP64_EOCD.size <= end and bytes(buf[z64 : z64 + 4]) == b"PK\x06\x06":
            fields = _ZIP64_EOCD.unpack(bytes(buf[z64 : z64 + _ZIP64_EOCD.size]))
            n_total, cd_size, cd_offset = fields[7], fields[8], fields[9]
            cd_end_pos = z64
        else:
            # locator offset may be relative to prepended data
            alt = loc - _ZIP64_EOCD.size
            if alt >= start and bytes(buf[alt : alt + 4]) == b"PK\x06\x06":
                fields = _ZIP64_EOCD.unpack(bytes(buf[alt : alt + _ZIP64_EOCD.size]))
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
        fields = _CENTRAL.unpack(bytes(buf[pos : pos + _CENTRAL.size]))
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
    return ZipDirectory(entries, notes, archive_end=min(end, eocd + _EOCD.size + clen))


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
        fields = _LOCAL.unpack(bytes(buf[pos : pos + _LOCAL.size]))
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
    fields = _LOCAL.unpack(bytes(buf[pos : pos + _LOCAL.size]))
    name_len, extra_len = fields[9], fields[10]
    entry.local_name = _decode_name(bytes(buf[pos + 30 : pos + 30 + name_len]), fields[2])
    return pos + 30 + name_len + extra_len


class BombSuspected(LimitExceeded):
    """Decompression stopped at the ratio or total-expansion limit (likely a bomb)."""


class ExpansionBudget:
    """Decompressed bytes still allowed for one scanned file, shared by all its streams.

    Args:
        total: most bytes all decompression in one file may produce
            (``gates.scan.max_expanded_bytes``).
        max_ratio: most output bytes per compressed input byte of one stream
            (``gates.scan.max_ratio``), checked once a stream produced
            :data:`RATIO_FLOOR` bytes so that small, highly compressible members pass.
    """

    def __init__(self, total: int, max_ratio: int) -> None:
        self.total = total
        self.left = total
        self.max_ratio = max_ratio

    def take(self, n: int) -> None:
        """Account for ``n`` more decompressed bytes; BombSuspected past the total."""
        self.left -= n
        if self.left < 0:
            raise BombSuspected(f"more than {self.total} bytes decompressed in total")

    def check_ratio(self, produced: int, consumed: int) -> None:
        """BombSuspected when ``produced / consumed`` exceeds the ratio limit."""
        if produced > RATIO_FLOOR and produced > self.max_ratio * max(consumed, 1):
            raise BombSuspected(
                f"expansion ratio above {self.max_ratio}:1 ({produced} bytes from "
                f"{consumed} compressed)"
            )


#: Streams are not judged on their ratio before producing this many bytes.
RATIO_FLOOR = 16 << 20

#: Default budget when the caller gives none: effectively only the per-stream size limit.
UNLIMITED = ExpansionBudget(1 << 62, 1 << 62)


class Spill:
    """Collects output in memory, spilling to an anonymous temp file past a threshold."""

    def __init__(self, limit: int, budget: ExpansionBudget | None = None) -> None:
        self.limit = limit
        self.budget = budget
        self.size = 0
        self._mem = bytearray()
        self._file: Any = None

    def write(self, data: bytes) -> None:
        """Append ``data``; raises LimitExceeded beyond the limit (BombSuspected: budget)."""
        if not data:
            return
        self.size += len(data)
        if self.size > self.limit:
            raise LimitExceeded(f"decompressed data exceeds {self.limit} bytes")
        if self.budget is not None:
            self.budget.take(len(data))
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


#: Stream magic of the wrappers that may hold several concatenated streams.
_MULTI_STREAM_MAGIC = {
    "gzip": b"\x1f\x8b",
    "bz2": b"BZh",
    "xz": b"\xfd7zXZ\x00",
    "zstd": b"\x28\xb5\x2f\xfd",
    "lz4": b"\x04\x22\x4d\x18",
}


def optional_codec(kind: str) -> Any:
    """The module decoding ``zstd`` or ``lz4``, or None when it is not installed."""
    try:
        if kind == "zstd":
            try:
                from compression import zstd  # type: ignore[import-not-found]
            except ImportError:
                from backports import zstd  # type: ignore[import-not-found,no-redef]
            return zstd
        if kind == "lz4":
            import lz4.frame  # type: ignore[import-not-found]

            return lz4.frame
    except ImportError:
        return None
    return None


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
    if kind == "zstd" and optional_codec("zstd") is not None:
        return optional_codec("zstd").ZstdDecompressor()
    if kind == "lz4" and optional_codec("lz4") is not None:
        return optional_codec("lz4").LZ4FrameDecompressor()
    raise ContainerError(f"unsupported compression {kind}")


def inflate(
    buf: Any,
    start: int,
    end: int,
    kind: str,
    limit: int,
    keep: list[Any],
    *,
    budget: ExpansionBudget | None = None,
) -> tuple[Any, int, str | None]:
    """Decompress ``buf[start:end]`` with ``kind`` (deflate, zlib, gzip, bz2, xz, lzma, zstd, lz4).

    Concatenated gzip/bz2/xz/zstd/lz4 streams are all decoded, as ``gzip.open`` and friends
    do; bytes after the last stream that are not another stream are reported as a problem.

    Returns ``(buffer, size, problem)``; ``problem`` is set when the stream was truncated,
    corrupt or followed by other data (the buffer then holds what could be decoded).

    Raises:
        LimitExceeded: output would exceed ``limit`` bytes.
        BombSuspected: the budget's ratio or total limit was reached.
        ContainerError: nothing could be decoded.
    """
    budget = budget or UNLIMITED
    out = Spill(limit, budget)
    problem: str | None = None
    pos = start
    try:
        while True:
            pos, problem = _inflate_stream(buf, pos, end, kind, out, budget)
            if problem or pos >= end or kind not in _MULTI_STREAM_MAGIC:
                break
            magic = _MULTI_STREAM_MAGIC[kind]
            if bytes(buf[pos : pos + len(magic)]) != magic:
                tail = bytes(buf[pos : min(end, pos + 4096)])
                if tail.strip(b"\x00") or end - pos > 4096:
                    problem = f"{end - pos} bytes after the end of the {kind} stream are not {kind}"
                break
    except LimitExceeded:
        raise
    except Exception as exc:  # zlib/lzma/bz2/zstd/lz4 codec errors of every kind
        if out.size == 0:
            raise ContainerError(f"{kind} data could not be decompressed: {exc}") from None
        problem = f"{kind} data is corrupt after {out.size} bytes: {exc}"
    return out.finish(keep), out.size, problem


def _inflate_stream(
    buf: Any, pos: int, end: int, kind: str, out: Spill, budget: ExpansionBudget
) -> tuple[int, str | None]:
    """Decode one stream from ``pos``; return where its compressed data ended and a problem."""
    dec = _make_decompressor(kind)
    start = pos
    is_zlib = kind in ("deflate", "zlib", "gzip")
    pending = b""
    produced = 0
    while True:
        if not pending and pos < end:
            pending = bytes(buf[pos : min(pos + _CHUNK, end)])
            pos += len(pending)
        if is_zlib:
            data = dec.decompress(pending, _CHUNK)
            pending = dec.unconsumed_tail
        elif dec.needs_input:
            data = dec.decompress(pending, _CHUNK)
            pending = b""
        else:
            data = dec.decompress(b"", _CHUNK)
        out.write(data)
        produced += len(data)
        budget.check_ratio(produced, pos - start - len(pending))
        if dec.eof:
            unused = len(dec.unused_data) + len(pending)
            return pos - unused, None
        if pos >= end and not pending:
            if is_zlib and not data:
                return pos, f"{kind} stream is truncated"
            if not is_zlib and dec.needs_input:
                return pos, f"{kind} stream is truncated"


def open_member(
    buf: Any,
    entry: ZipEntry,
    end: int,
    limit: int,
    keep: list[Any],
    *,
    budget: ExpansionBudget | None = None,
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
    kinds = {8: "deflate", 12: "bz2", 93: "zstd"}
    if entry.method not in kinds:
        raise ContainerError(f"unsupported zip compression method {entry.method}")
    out, size, problem = inflate(
        buf, data_start, data_start + comp_size, kinds[entry.method], limit, keep, budget=budget
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
    if minor != 0:
        raise ContainerError(f"unsupported .npy format version {major}.{minor}")
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


class RegionFile(io.RawIOBase):
    """Read-only, seekable file object over ``buf[start:end]`` (no copy of the region).

    Lets libraries that want a file (tarfile, py7zr, pickletools) read a member or a
    memory-mapped file in place. Use it unbuffered: its ``read`` is bounded by the region.
    """

    def __init__(self, buf: Any, start: int, end: int) -> None:
        super().__init__()
        self._buf, self._start, self._end = buf, start, end
        self._pos = start

    def readable(self) -> bool:
        """Always True."""
        return True

    def seekable(self) -> bool:
        """Always True."""
        return True

    def tell(self) -> int:
        """Current position relative to the region start."""
        return self._pos - self._start

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move within the region (positions past the end read as EOF)."""
        base = {io.SEEK_SET: self._start, io.SEEK_CUR: self._pos, io.SEEK_END: self._end}[whence]
        self._pos = max(self._start, base + offset)
        return self._pos - self._start

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes; never allocates more than what is left in the region.

        ``io.BufferedReader.read(n)`` and ``RawIOBase.read(n)`` allocate ``n`` bytes before
        reading, so a length field of 2**40 in hostile data would be a memory bomb; this
        read is capped by the region instead.
        """
        left = max(0, self._end - self._pos)
        n = left if size is None or size < 0 else min(size, left)
        data = bytes(self._buf[self._pos : self._pos + n])
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        """The rest of the region."""
        return self.read(-1)

    def readinto(self, b: Any) -> int:
        """Fill ``b`` from the current position."""
        n = max(0, min(len(b), self._end - self._pos))
        if n:
            b[:n] = self._buf[self._pos : self._pos + n]
            self._pos += n
        return n
