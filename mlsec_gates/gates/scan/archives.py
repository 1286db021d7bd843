"""Tar and 7z readers for the scanner, plus the legacy PyTorch tar layout.

Members come back as regions to scan (tar: regions of the original buffer, no copy; 7z:
decoded into :class:`~.containers.Spill` buffers counted against the file's
:class:`~.containers.ExpansionBudget`). Member names are checked for traversal, links and
special files. A 7z whose stream breaks part-way (ReversingLabs "nullifAI": payload first,
then a corrupt stream) still yields the bytes decoded before the break, flagged as partial,
so the payload is scanned and the file is never passed.

Functions raise :class:`~.observations.FormatError` when the archive cannot be opened at
all and :class:`~.containers.LimitExceeded` past the member limit; everything else is an
:class:`~.observations.Observation`.
"""

from __future__ import annotations

import io
import pickletools
import re
import struct
import tarfile
from dataclasses import dataclass, field
from typing import Any

from . import rules
from .containers import BombSuspected, ExpansionBudget, LimitExceeded, RegionFile, Spill
from .observations import FormatError, Observation

_DRIVE = re.compile(r"^[A-Za-z]:")
#: Member names of the legacy (PyTorch 0.1.x) ``torch.save`` tar layout.
LEGACY_TORCH_MEMBERS = frozenset({"sys_info", "pickle", "storages", "tensors"})
#: Bytes per element of the legacy torch storage classes.
_STORAGE_BYTES = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2,
    "LongStorage": 8, "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1,
    "BoolStorage": 1, "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16,
}  # fmt: skip


@dataclass
class Member:
    """One archive member to scan: ``buf[start:end]``."""

    name: str
    buf: Any
    start: int
    end: int
    problem: str | None = None
    """Set when only part of the member could be decoded."""


@dataclass
class Listing:
    """Members to scan and what was observed while listing them."""

    members: list[Member] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)


def unsafe_name(name: str) -> str | None:
    """Why extracting a member called ``name`` escapes the target directory, or None."""
    if "\x00" in name:
        return "NUL byte in the name"
    if name.startswith(("/", "\\")):
        return "absolute path"
    if _DRIVE.match(name):
        return "Windows drive path"
    if ".." in re.split(r"[\\/]", name):
        return "'..' component"
    return None


def _name_observation(name: str, why: str) -> Observation:
    return Observation(
        rules.ArchiveUnsafeMember,
        f"member {name!r} escapes the extraction directory ({why})",
        None,
        name,
        {"name": name, "problem": why},
    )


# --------------------------------------------------------------------------- tar
def looks_like_tar(head: bytes) -> bool:
    """ustar/GNU magic, or a pre-POSIX header whose checksum is right."""
    if len(head) < 512:
        return False
    if head[257:262] == b"ustar":
        return True
    if not head[0] or head[0] in b"/\\":
        return False
    try:
        stored = int(head[148:156].replace(b"\x00", b" ").strip() or b"-1", 8)
    except ValueError:
        return False
    computed = sum(head[:148]) + 8 * 32 + sum(head[156:512])
    return stored == computed


def read_tar(buf: Any, start: int, end: int, *, max_members: int) -> Listing:
    """List a plain (uncompressed) tar; regular members are regions of ``buf``.

    Raises:
        FormatError: not a readable tar.
        LimitExceeded: more than ``max_members`` members.
    """
    listing = Listing()
    try:
        tar = tarfile.open(  # noqa: SIM115 - closed by the ``with`` below
            fileobj=RegionFile(buf, start, end), mode="r:"
        )
    except (tarfile.TarError, OSError, ValueError, EOFError) as exc:
        raise FormatError(f"tar archive cannot be opened: {exc}", 0) from None
    with tar:
        count = 0
        try:
            while True:
                info = tar.next()
                if info is None:
                    break
                count += 1
                if count > max_members:
                    raise LimitExceeded(f"more than {max_members} tar members")
                _tar_member(info, buf, start, end, listing)
        except (tarfile.TarError, OSError, ValueError, EOFError, UnicodeError) as exc:
            listing.observations.append(
                Observation(
                    rules.ArchiveUnreadable,
                    f"tar archive is corrupt after {count} members: {exc}; the rest was not "
                    "scanned",
                    tar.offset,
                    None,
                    {"error": str(exc), "members_read": count},
                )
            )
            return listing
        _tar_tail(buf, start + tar.offset, end, listing)
    return listing


def _tar_member(info: tarfile.TarInfo, buf: Any, start: int, end: int, listing: Listing) -> None:
    why = unsafe_name(info.name)
    if why:
        listing.observations.append(_name_observation(info.name, why))
    if info.issym() or info.islnk():
        kind = "symbolic" if info.issym() else "hard"
        target_why = unsafe_name(info.linkname)
        listing.observations.append(
            Observation(
                rules.ArchiveUnsafeMember,
                f"member {info.name!r} is a {kind} link to {info.linkname!r}"
                + (f" ({target_why})" if target_why else ""),
                None,
                info.name,
                {"name": info.name, "link": info.linkname, "kind": kind},
            )
        )
        return
    if info.ischr() or info.isblk() or info.isfifo():
        listing.observations.append(
            Observation(
                rules.ArchiveUnsafeMember,
                f"member {info.name!r} is a device or FIFO entry",
                None,
                info.name,
                {"name": info.name, "type": info.type.decode("latin-1")},
            )
        )
        return
    if not info.isfile():
        return
    if info.issparse():
        listing.observations.append(
            Observation(
                rules.ArchiveUnreadable,
                f"member {info.name!r} is a sparse file: not scanned",
                info.offset_data,
                info.name,
                {"name": info.name},
            )
        )
        return
    data_start = start + info.offset_data
    data_end = min(end, data_start + info.size)
    problem = None if data_end - data_start == info.size else "member data is truncated"
    listing.members.append(Member(info.name, buf, data_start, data_end, problem))


def _tar_tail(buf: Any, pos: int, end: int, listing: Listing) -> None:
    """Bytes after the end-of-archive marker must be zero padding."""
    tail = bytes(buf[pos : min(end, pos + (64 << 10))])
    if tail.strip(b"\x00") or end - pos > (64 << 10):
        listing.observations.append(
            Observation(
                rules.ArchiveUnreadable,
                f"{end - pos} bytes after the last readable tar header are not tar members "
                "(corrupt header or appended data): not scanned",
                None,
                None,
                {"trailing_bytes": end - pos},
            )
        )


# --------------------------------------------------------------------------- 7z
class _Collector:
    """py7zr writer factory that keeps every member in a :class:`Spill`."""

    def __init__(self, limit: int, budget: ExpansionBudget) -> None:
        self.limit = limit
        self.budget = budget
        self.outputs: dict[str, Spill] = {}

    def create(self, filename: str) -> Any:
        spill = Spill(self.limit, self.budget)
        self.outputs[filename] = spill
        return _SpillIO(spill)


class _SpillIO:
    def __init__(self, spill: Spill) -> None:
        self.spill = spill

    def write(self, data: bytes | bytearray) -> int:
        self.spill.write(bytes(data))
        return len(data)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return self.spill.size

    def close(self) -> None:
        return None


def read_7z(
    buf: Any,
    start: int,
    end: int,
    *,
    max_members: int,
    limit: int,
    budget: ExpansionBudget,
    keep: list[Any],
) -> Listing:
    """Decode a 7z archive with py7zr into buffers; partial members are kept.

    Raises:
        FormatError: not a readable 7z (or py7zr missing).
        LimitExceeded: more than ``max_members`` members.
    """
    try:
        import py7zr
        from py7zr.io import WriterFactory
    except ImportError:  # pragma: no cover - py7zr is part of the scan extra
        raise FormatError("the py7zr package is not installed: 7z archive not unpacked") from None
    listing = Listing()
    try:
        archive = py7zr.SevenZipFile(RegionFile(buf, start, end), mode="r")
    except py7zr.exceptions.PasswordRequired:
        listing.observations.append(
            Observation(rules.ArchiveEncrypted, "7z archive header is encrypted", 0, None, {})
        )
        return listing
    except Exception as exc:  # Bad7zFile, UnsupportedCompressionMethodError, struct errors...
        raise FormatError(f"7z archive cannot be opened: {type(exc).__name__}: {exc}", 0) from None
    with archive:
        files = list(archive.files)
        if len(files) > max_members:
            raise LimitExceeded(f"more than {max_members} 7z members")
        declared = sum(f.uncompressed or 0 for f in files if not f.is_directory)
        for info in files:
            why = unsafe_name(info.filename)
            if why:
                listing.observations.append(_name_observation(info.filename, why))
            if info.is_symlink or info.is_junction:
                listing.observations.append(
                    Observation(
                        rules.ArchiveUnsafeMember,
                        f"member {info.filename!r} is a link",
                        None,
                        info.filename,
                        {"name": info.filename},
                    )
                )
        if archive.needs_password():
            listing.observations.append(
                Observation(
                    rules.ArchiveEncrypted,
                    "7z archive content is encrypted: members not scanned",
                    0,
                    None,
                    {"members": [f.filename for f in files][:20]},
                )
            )
            return listing
        if declared > budget.left:
            listing.observations.append(
                Observation(
                    rules.DecompressionBomb,
                    f"7z members declare {declared} bytes, above the remaining decompression "
                    f"budget of {budget.left}: not unpacked",
                    0,
                    None,
                    {"declared": declared},
                )
            )
            return listing
        collector = _Collector(limit, budget)

        class _Factory(WriterFactory):
            def create(self, filename: str) -> Any:
                return collector.create(filename)

        error: str | None = None
        try:
            archive.extract(factory=_Factory())
        except BombSuspected as exc:
            listing.observations.append(
                Observation(
                    rules.DecompressionBomb, f"7z data: {exc}", 0, None, {"error": str(exc)}
                )
            )
            error = str(exc)
        except LimitExceeded as exc:
            listing.observations.append(
                Observation(
                    rules.ResourceLimit, f"7z member not fully unpacked: {exc}", 0, None, {}
                )
            )
            error = str(exc)
        except Exception as exc:  # CrcError, DecompressionError, lzma errors...
            error = f"{type(exc).__name__}: {exc}"
            listing.observations.append(
                Observation(
                    rules.ArchiveUnreadable,
                    f"7z stream is broken ({error}); only the data decoded before the break "
                    "was scanned",
                    0,
                    None,
                    {"error": error},
                )
            )
    expected = {f.filename: f.uncompressed for f in files if f.is_file}
    for name, spill in collector.outputs.items():
        data = spill.finish(keep)
        short = expected.get(name) not in (None, spill.size)
        problem = f"only {spill.size} of {expected.get(name)} bytes decoded" if short else None
        listing.members.append(Member(name, data, 0, spill.size, problem or None))
    if error is None and any(m.problem for m in listing.members):
        listing.observations.append(
            Observation(
                rules.ArchiveUnreadable, "7z members are shorter than declared", 0, None, {}
            )
        )
    return listing


# --------------------------------------------------------------------------- legacy torch tar
def legacy_torch_pickles(
    buf: Any, start: int, end: int, member: str
) -> tuple[list[tuple[int, int]], str | None]:
    """Pickle streams of a legacy ``storages`` or ``tensors`` member, skipping raw data.

    Follows ``torch.serialization.legacy_load``: ``storages`` is a count, then per storage a
    ``(key, location, storage_type)`` pickle, an int64 element count and the raw elements,
    then a storage-views pickle; ``tensors`` is a count, then per tensor three pickles and a
    fixed binary record. Returns the ``(start, end)`` of every pickle and, when the layout
    breaks, a problem (the rest of the member is then returned as one region to scan).
    """
    fh = RegionFile(buf, start, end)
    regions: list[tuple[int, int]] = []

    def one() -> tuple[Any, list[str]]:
        begin = fh.tell()
        value: Any = None
        strings: list[str] = []
        for op, arg, _pos in pickletools.genops(fh):
            if op.name in ("BININT", "BININT1", "BININT2", "LONG1", "INT"):
                value = arg
            elif op.name == "GLOBAL" or isinstance(arg, str):
                strings.append(str(arg))
        regions.append((start + begin, start + fh.tell()))
        return value, strings

    try:
        count, _ = one()
        if not isinstance(count, int) or not 0 <= count <= (end - start):
            raise ValueError(f"bad record count {count!r}")
        for _ in range(count):
            if member == "storages":
                _value, strings = one()
                storage = next((s.split()[-1] for s in strings if "Storage" in s), "")
                if storage not in _STORAGE_BYTES:
                    raise ValueError(f"unknown storage type {storage!r}")
                numel = struct.unpack("<q", fh.read(8))[0]
                if numel < 0 or fh.tell() + numel * _STORAGE_BYTES[storage] > end - start:
                    raise ValueError(f"storage of {numel} elements runs past the member")
                fh.seek(numel * _STORAGE_BYTES[storage], io.SEEK_CUR)
            else:
                one()
                one()
                one()
                ndim = struct.unpack("<i", fh.read(4))[0]
                if not 0 <= ndim <= 64:
                    raise ValueError(f"bad tensor rank {ndim}")
                fh.seek(4 + 16 * ndim + 8, io.SEEK_CUR)
        if member == "storages":
            one()
        if fh.tell() != end - start:
            raise ValueError(f"{end - start - fh.tell()} bytes after the last record")
    except (ValueError, EOFError, struct.error, UnicodeDecodeError, OverflowError) as exc:
        resume = regions[-1][1] if regions else start
        if resume < end:
            regions.append((resume, end))
        return regions, f"legacy torch {member} layout broken: {exc}"
    return regions, None
