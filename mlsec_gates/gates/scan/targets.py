"""What the scan gate scans: the files under its targets, and every entry it could not scan.

``Path.rglob`` does not enter symbolically linked folders and drops FIFOs, sockets, dangling
links and folders it cannot list without a word, so a malicious pickle behind a linked or an
unreadable folder used to leave the gate green. This walk never drops an entry silently:

* a regular file is scanned; a symbolic link to a regular file is scanned too (the bytes a
  loader following the link reads), under the link's own path;
* a symbolic link to a folder is **not followed** and is a finding (the pipeline would load
  what it points to, which may be anywhere: scan the target itself, or replace the link by
  the folder). ``sign`` and ``sbom`` refuse links the same way;
* a dangling link, a link loop, a FIFO, a socket or a device is a finding (never opened: a
  FIFO would block the scan);
* a folder that cannot be listed and a file that cannot be examined are findings.

Each of these findings quarantines its entry, so the gate cannot pass an incomplete scan.

An ``s3://bucket/name`` target that is both an object and a prefix (``name/...``) is
ambiguous: both are scanned, and a note says so.

A target may also be a file the fan-out plan already listed (:class:`PlannedFile`, carried
as ``{"uri", "size", "etag"}`` JSON from :func:`mlsec_gates.gates.scan.fanout.plan_shards`;
a local file is ``{"uri"}`` only):
an S3 object is then taken as listed, with no LIST or HEAD of its own, and read pinned to
the listed ETag, so a shard of 2,500 objects costs 2,500 GETs; a local file is examined as
any other target.

Example:
    >>> from mlsec_gates.gates.scan.targets import list_targets
    >>> from mlsec_gates.storage import Storage
    >>> listing = list_targets("models/", storage=Storage())  # doctest: +SKIP
    >>> listing.files, [p.path for p in listing.problems]  # doctest: +SKIP
    (['models/a.pkl'], ['models/linked-folder'])
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlsec_gates.errors import InputError
from mlsec_gates.storage import Storage, display_path

__all__ = ["EntryProblem", "PlannedFile", "TargetListing", "list_targets", "target_uri"]

Target = str | Mapping[str, Any]
"""A path or ``s3://`` URI, or a planned file as JSON (``{"uri", "size", "etag"}``)."""


@dataclass(frozen=True)
class EntryProblem:
    """An entry under a target that was not scanned, and why."""

    path: str
    """Its path, printable (a name that is not UTF-8 is shown with ``\\x..`` escapes)."""
    reason: str
    """One line: what it is and why it was not scanned."""
    unreadable: bool
    """True when it could not be listed or examined (permissions, I/O); False when it is
    not a regular file (link to a folder, dangling link, loop, FIFO, socket, device)."""


@dataclass(frozen=True)
class PlannedFile:
    """A file as a fan-out plan listed it: what a shard needs to read it without listing."""

    uri: str
    size: int | None
    """Bytes, from the listing (S3); None for local files (examined again when scanned)."""
    etag: str | None
    """The S3 ETag the listing showed; reads are pinned to it (None: not pinned)."""
    problem: EntryProblem | None = None
    """An entry the plan's walk could not scan (FIFO, link to a folder...): quarantined as
    such by the shard, never opened."""

    @classmethod
    def listed(cls, uri: str, storage: Storage) -> PlannedFile:
        """The entry of a file that ``storage.list_files`` just listed."""
        if storage.is_remote(uri):
            return cls(uri, storage.listed_size(uri), storage.listed_etag(uri))
        return cls(uri, None, None)

    @classmethod
    def not_scannable(cls, problem: EntryProblem) -> PlannedFile:
        """The entry of something the walk found but could not scan."""
        return cls(problem.path, None, None, problem)

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> PlannedFile:
        """Parse one plan entry (as XCom or a KFP parameter carried it).

        Raises:
            InputError: not ``{"uri": str, "size": int, "etag": str}`` (size and etag
                optional).
        """
        uri, size, etag = entry.get("uri"), entry.get("size"), entry.get("etag")
        valid_size = size is None or (type(size) is int and size >= 0)
        if not isinstance(uri, str) or not uri or not valid_size:
            raise InputError(
                f"not a planned file (expected uri, size and etag): {dict(entry)!r:.200}"
            )
        if etag is not None and not isinstance(etag, str):
            raise InputError(f"{uri}: the planned ETag is not a string: {etag!r:.80}")
        if "problem" in entry:
            reason = str(entry["problem"]) or "not scannable"
            return cls(uri, None, None, EntryProblem(uri, reason, bool(entry.get("unreadable"))))
        return cls(uri, size, etag)

    def to_json(self) -> dict[str, Any]:
        """The entry as JSON-ready data (what XCom and KFP parameters carry).

        Unknown fields are left out, not null: KFP cannot carry a null in a loop item.
        """
        out: dict[str, Any] = {"uri": self.uri}
        if self.size is not None:
            out["size"] = self.size
        if self.etag is not None:
            out["etag"] = self.etag
        if self.problem is not None:
            out.update(problem=self.problem.reason, unreadable=self.problem.unreadable)
        return out


@dataclass
class TargetListing:
    """The files to scan under one target and the entries that could not be scanned."""

    files: list[str] = field(default_factory=list)
    problems: list[EntryProblem] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    planned: dict[str, PlannedFile] = field(default_factory=dict)
    """Objects taken from a fan-out plan: read pinned to the ETag the plan listed."""


def target_uri(target: Target) -> str:
    """The path or URI of a target (the ``uri`` of a planned file)."""
    if isinstance(target, Mapping):
        return str(target.get("uri", ""))
    return target


def list_targets(target: Target, *, storage: Storage) -> TargetListing:
    """Files and problem entries under a file, a folder or an ``s3://`` object or prefix.

    A planned S3 object (see :class:`PlannedFile`) is taken as listed, without a request.

    Raises:
        InputError: the target itself does not exist, is a dangling link or a link loop,
            or is not a file, folder, object or prefix; or a malformed planned file.
        StorageError: S3 refused access.
    """
    if isinstance(target, Mapping):
        planned = PlannedFile.from_json(target)
        if planned.problem is not None:
            return TargetListing(problems=[planned.problem])
        if storage.is_remote(planned.uri) and planned.size is not None:
            return TargetListing(files=[planned.uri], planned={planned.uri: planned})
        target = planned.uri
    if storage.is_remote(target):
        return _list_s3(target, storage)
    try:
        info = os.stat(target)
    except OSError as exc:
        raise InputError(_missing(target, exc)) from None
    if stat.S_ISREG(info.st_mode):
        return TargetListing(files=[target])
    if not stat.S_ISDIR(info.st_mode):
        raise InputError(f"{display_path(target)}: {_kind(info.st_mode)}, not a file or folder")
    listing = TargetListing()
    _walk(target, listing)
    listing.files.sort()
    return listing


def _walk(folder: str, listing: TargetListing) -> None:
    """Depth-first over real folders only (links are never entered, so no loop is possible)."""
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as it:
                entries = list(it)
        except OSError as exc:
            listing.problems.append(
                EntryProblem(
                    display_path(current),
                    f"folder cannot be listed ({exc.strerror or exc}), so its files were "
                    "not scanned",
                    unreadable=True,
                )
            )
            continue
        for entry in entries:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as exc:
                listing.problems.append(_unreadable(entry.path, exc))
                continue
            if stat.S_ISDIR(mode):
                pending.append(entry.path)
            elif stat.S_ISREG(mode):
                listing.files.append(entry.path)
            elif stat.S_ISLNK(mode):
                _link(entry.path, listing)
            else:
                listing.problems.append(
                    EntryProblem(
                        display_path(entry.path),
                        f"{_kind(mode)}, not a regular file: not scanned",
                        unreadable=False,
                    )
                )


def _link(path: str, listing: TargetListing) -> None:
    """A link to a regular file is scanned; anything else it points to is a problem."""
    try:
        target = os.stat(path)
    except OSError as exc:
        listing.problems.append(EntryProblem(display_path(path), _missing_link(exc), False))
        return
    if stat.S_ISREG(target.st_mode):
        listing.files.append(path)
        return
    if stat.S_ISDIR(target.st_mode):
        reason = (
            f"symbolic link to a folder ({display_path(os.readlink(path))}): not followed, so "
            "what it holds was not scanned; scan the folder it points to, or replace the link"
        )
    else:
        reason = f"symbolic link to a {_kind(target.st_mode)}, not a regular file: not scanned"
    listing.problems.append(EntryProblem(display_path(path), reason, unreadable=False))


def _list_s3(target: str, storage: Storage) -> TargetListing:
    listing = TargetListing(files=storage.list_files(target))
    if storage.is_ambiguous(target, listing.files):
        listing.notes[target] = (
            f"{target} is both an object and a prefix ({target}/...): ambiguous, so both "
            "were scanned"
        )
    return listing


def _unreadable(path: str, exc: OSError) -> EntryProblem:
    return EntryProblem(
        display_path(path), f"cannot be examined ({exc.strerror or exc}): not scanned", True
    )


def _missing(target: str, exc: OSError) -> str:
    import errno

    name = display_path(target)
    if os.path.islink(target) or exc.errno == errno.ELOOP:
        return f"{name}: {_missing_link(exc)}"
    if isinstance(exc, FileNotFoundError):
        return f"{name}: no such file or directory"
    return f"{name}: cannot be examined: {exc.strerror or exc}"


def _missing_link(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ELOOP:
        return "symbolic link loop (the link points back to itself): not scanned"
    if isinstance(exc, FileNotFoundError):
        return "dangling symbolic link (its target does not exist): not scanned"
    return f"symbolic link whose target cannot be examined ({exc.strerror or exc}): not scanned"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a special file"
