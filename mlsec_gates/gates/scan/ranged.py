r"""Scan an object-store object by ranged reads instead of downloading it.

A PyTorch checkpoint is a zip whose pickle (``data.pkl``) is a few kilobytes next to
gigabytes of raw tensor bytes, and a safetensors file is a JSON header in front of raw
tensors (GGUF: metadata and a tensor table): the scanner only needs the zip's central
directory, the local headers, the pickle members and the first bytes of each tensor, or the
header. :class:`RangedBuffer` gives the engine those bytes on demand: ``buf[a:b]``,
``buf[i]``, ``len(buf)``, ``find`` and ``rfind`` are served from a small page cache filled
by ranged GETs (``Storage.read_range``).

Every byte it returns is a byte of the object: nothing is guessed or zero-filled. Code that
needs a real buffer (``struct.unpack_from``, the pickle walker) gets one from
:meth:`RangedBuffer.materialise`, which copies a whole region into a sparse temporary file
at its own offsets; any other use of the protocol fails with ``TypeError``, which the engine
reports as an internal error and the gate answers by scanning the fully downloaded object.

Example:
    >>> data = bytes(range(256)) * 64
    >>> buf = RangedBuffer(lambda start, n: data[start : start + n], len(data))
    >>> buf[4096:4100], buf.rfind(b"\x00\x01", 0, len(buf))
    (b'\x00\x01\x02\x03', 16128)
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

__all__ = ["RANGED_FORMATS", "RangedBuffer", "materialise"]

#: Formats whose analysis reads only parts of the file; everything else is materialised.
RANGED_FORMATS = frozenset({"zip", "safetensors", "gguf", "empty"})

_PAGE = 4096
"""Cache granularity: one isolated read (a tensor's first bytes) costs one 4 KiB GET."""
_MAX_PAGES = 4096
"""Pages kept (16 MiB); reads larger than half of that bypass the cache."""
_CHUNK = 8 * 1024 * 1024
"""Bytes per GET when a region is materialised."""


class RangedBuffer:
    """Read-only bytes of an object, fetched on demand.

    Args:
        fetch: ``fetch(start, length)`` returns the object's bytes in that range (fewer
            only at the end), e.g. ``functools.partial(storage.read_range, uri)``.
        size: the object's length in bytes.
    """

    def __init__(self, fetch: Callable[[int, int], bytes], size: int) -> None:
        self._fetch_range = fetch
        self._size = size
        self._pages: OrderedDict[int, bytes] = OrderedDict()
        self._sparse: Any = None
        self._map: mmap.mmap | None = None
        self._materialised: list[tuple[int, int]] = []
        self.requests = 0
        """Ranged reads issued so far."""
        self.bytes_fetched = 0
        """Bytes received so far."""

    # -- the bytes-like interface the engine uses --------------------------------------

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            start, stop, step = key.indices(self._size)
            if step != 1:
                raise TypeError("RangedBuffer supports contiguous slices only")
            return self._read(start, stop)
        index = key + self._size if key < 0 else key
        if not 0 <= index < self._size:
            raise IndexError("RangedBuffer index out of range")
        return self._read(index, index + 1)[0]

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """Lowest offset of ``sub`` in ``[start, end)``, or -1 (reads the whole range)."""
        start, end, _ = slice(start, end).indices(self._size)
        found = self._read(start, end).find(sub)
        return found + start if found >= 0 else -1

    def rfind(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        """Highest offset of ``sub`` in ``[start, end)``, or -1 (reads the whole range)."""
        start, end, _ = slice(start, end).indices(self._size)
        found = self._read(start, end).rfind(sub)
        return found + start if found >= 0 else -1

    # -- real buffers for code that needs the buffer protocol --------------------------

    def materialise(self, start: int, end: int) -> mmap.mmap:
        """A real read-only buffer, at the object's own offsets, holding ``[start, end)``.

        Bytes outside the materialised regions read as zeros: callers
        must stay inside the region they asked for (the engine's analyses are bounded by it).
        """
        start, end = max(0, start), min(end, self._size)
        if self._sparse is None:
            self._sparse = tempfile.TemporaryFile(prefix="mlsec-gates-ranged-")  # noqa: SIM115 - closed by close()
            self._sparse.truncate(self._size)  # sparse: no disk blocks until written
            self._map = mmap.mmap(self._sparse.fileno(), self._size, access=mmap.ACCESS_READ)
        fd = self._sparse.fileno()
        for gap_start, gap_end in self._missing(start, end):
            pos = gap_start
            while pos < gap_end:
                data = self._get(pos, min(_CHUNK, gap_end - pos))
                if not data:
                    raise OSError(f"object ended at {pos} bytes, expected {self._size}")
                os.pwrite(fd, data, pos)
                pos += len(data)
            self._materialised.append((gap_start, gap_end))
        assert self._map is not None
        return self._map

    def close(self) -> None:
        """Drop the page cache and the sparse temporary file."""
        self._pages.clear()
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._sparse is not None:
            self._sparse.close()
            self._sparse = None

    # -- internals ----------------------------------------------------------------------

    def _missing(self, start: int, end: int) -> list[tuple[int, int]]:
        """Parts of ``[start, end)`` not materialised yet."""
        gaps = [(start, end)]
        for done_start, done_end in self._materialised:
            next_gaps = []
            for gap_start, gap_end in gaps:
                if done_end <= gap_start or done_start >= gap_end:
                    next_gaps.append((gap_start, gap_end))
                    continue
                if gap_start < done_start:
                    next_gaps.append((gap_start, done_start))
                if done_end < gap_end:
                    next_gaps.append((done_end, gap_end))
            gaps = next_gaps
        return [(a, b) for a, b in gaps if b > a]

    def _get(self, start: int, length: int) -> bytes:
        data = self._fetch_range(start, length)
        self.requests += 1
        self.bytes_fetched += len(data)
        return data

    def _read(self, start: int, stop: int) -> bytes:
        if stop <= start:
            return b""
        if self._map is not None and not self._missing(start, stop):
            return self._map[start:stop]
        if stop - start > _MAX_PAGES * _PAGE // 2:
            data = self._get(start, stop - start)
            if len(data) != stop - start:
                raise OSError(f"short read at {start}: {len(data)} of {stop - start} bytes")
            return data
        first, last = start // _PAGE, (stop - 1) // _PAGE
        run_start: int | None = None
        for page in range(first, last + 2):
            missing = page <= last and page not in self._pages
            if missing and run_start is None:
                run_start = page
            elif not missing and run_start is not None:
                self._load_pages(run_start, page)
                run_start = None
        pages = []
        for page in range(first, last + 1):
            self._pages.move_to_end(page)
            pages.append(self._pages[page])
        while len(self._pages) > _MAX_PAGES:
            self._pages.popitem(last=False)
        blob = b"".join(pages)
        offset = first * _PAGE
        return blob[start - offset : stop - offset]

    def _load_pages(self, first: int, stop_page: int) -> None:
        """Fetch pages ``[first, stop_page)`` with one ranged read."""
        begin = first * _PAGE
        length = min(stop_page * _PAGE, self._size) - begin
        data = self._get(begin, length)
        if len(data) != length:
            raise OSError(f"short read at {begin}: {len(data)} of {length} bytes")
        for i, page in enumerate(range(first, stop_page)):
            self._pages[page] = data[i * _PAGE : (i + 1) * _PAGE]


def materialise(buf: Any, start: int, end: int) -> Any:
    """``buf`` itself, or for a :class:`RangedBuffer` a real buffer holding ``[start, end)``."""
    if isinstance(buf, RangedBuffer):
        return buf.materialise(start, end)
    return buf
