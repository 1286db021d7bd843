"""Per-file SHA-256 of a model, exactly as OpenSSF model-signing v1.0 serialises it.

Example:
    >>> from mlsec_gates.hashing import FileDigest, root_digest
    >>> files = [FileDigest(path="config.json", sha256="00" * 32, size=2, mode=0o644)]
    >>> root_digest(files)[:12]
    '66687aadf862'

``digest_tree("model/", storage=Storage())`` lists a file, a directory or an ``s3://`` prefix,
streams every file through SHA-256 on a thread pool (``hashlib`` releases the GIL, so the
threads use every core; S3 objects are read from the GET body, never spooled to disk) and
returns the digests sorted the way model-signing sorts them. :func:`root_digest` is the
digest that model-signing's in-toto statement names as its subject, so the SBOM, the
signature, the provenance and the ledger can all refer to the model by one value.

Model-signing's "files" serialisation, matched here:

* a directory model lists every regular file under it, by its path relative to the model
  root in POSIX form; a single-file model has one entry named ``.``;
* entries are sorted by path *components* (``a/b`` sorts before ``a-b``), as
  ``pathlib.PurePosixPath`` compares them;
* an ignored path (``.git`` by default) hides itself and everything below it, but only at
  the place it names: ``sub/.git/HEAD`` is not ignored by ``.git``;
* symbolic links and special files are refused (``allow_symlinks: false``);
* empty directories and permission bits are not part of the format. :func:`list_tree`
  reports them so that the verify gate can apply its own policy.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlsec_gates.errors import InputError
from mlsec_gates.storage import Storage, display_path, resolve_path, split_s3_uri

__all__ = [
    "MODEL_SIGNING_IGNORE",
    "FileDigest",
    "TreeListing",
    "digest_files",
    "digest_tree",
    "list_tree",
    "model_name",
    "path_sort_key",
    "root_digest",
]

MODEL_SIGNING_IGNORE: tuple[str, ...] = (".git", ".gitattributes", ".github", ".gitignore")
"""The paths model-signing leaves out of every signature by default (``ignore_git_paths``).

Pass them as ``ignore=`` to get the root digest that the stock tools compute for a directory.
"""

_READ_BLOCK = 1024 * 1024
"""Bytes per read while hashing a local file. Larger buffers were no faster (see notes §3.4)."""

_S3_BLOCK = 8 * 1024 * 1024
"""Bytes per read from an S3 response body: fewer Python round trips, bounded memory."""


@dataclass(frozen=True)
class FileDigest:
    """The SHA-256 of one file of a model."""

    path: str
    """Path relative to the model root, in POSIX form; ``.`` when the model is one file."""
    sha256: str
    """Hex SHA-256 of the content."""
    size: int
    """Bytes hashed."""
    mode: int | None = None
    """Permission bits (``st_mode & 0o7777``) of a local file; None for S3 objects."""


@dataclass(frozen=True)
class TreeListing:
    """What is under a model root, before hashing."""

    root: str
    """The path or ``s3://`` URI that was listed."""
    single_file: bool
    """True when the root is one file (its only entry is then ``.``)."""
    files: tuple[str, ...]
    """Regular files, relative POSIX paths, in model-signing order."""
    empty_dirs: tuple[str, ...] = ()
    """Directories with nothing in them (the format cannot record them)."""
    symlinks: tuple[str, ...] = ()
    """Symbolic links (the format refuses them)."""
    special: tuple[str, ...] = ()
    """FIFOs, sockets, devices (the format refuses them)."""
    ignored: tuple[str, ...] = ()
    """Entries left out because an ``ignore`` path names them (e.g. ``.git``)."""

    def location(self, rel: str) -> str:
        """The full path or URI of a relative entry."""
        if rel == "." or self.single_file:
            return self.root
        if self.root.startswith("s3://"):
            return self.root.rstrip("/") + "/" + rel
        return str(Path(self.root) / rel)


def path_sort_key(path: str) -> tuple[str, ...]:
    """Sort key of a relative path, by components (as ``PurePosixPath`` orders them)."""
    return PurePosixPath(path).parts


def model_name(root: str) -> str:
    """The model's name in a signature: the last component of its path or URI.

    Model-signing uses the directory (or file) name and resolves ``.`` and ``..``.
    """
    if root.startswith("s3://"):
        bucket, key = split_s3_uri(root)
        return PurePosixPath(key).name or bucket
    name = Path(root).name
    if not name or name == "..":
        name = resolve_path(root).name
    return name


def _is_ignored(rel: str, ignore: Sequence[str]) -> bool:
    """True when ``rel`` is an ignored path or lies below one (model-signing's rule)."""
    for entry in ignore:
        entry = entry.strip("/")
        if entry and (rel == entry or rel.startswith(entry + "/")):
            return True
    return False


def list_tree(root: str, *, storage: Storage, ignore: Sequence[str] = ()) -> TreeListing:
    """List a model: a file, a directory (recursively) or an ``s3://`` object or prefix.

    Symbolic links are reported, never followed. On S3 there are no links, empty
    directories or permission bits; "directory marker" keys ending in ``/`` are skipped.

    Raises:
        InputError: the root does not exist, or is not a file, directory, object or prefix.
        StorageError: S3 refused access.
    """
    if storage.is_remote(root):
        return _list_s3(root, storage=storage, ignore=ignore)
    path = Path(root)
    if path.is_symlink():
        raise InputError(f"{root}: the model root is a symbolic link; give its target")
    if path.is_file():
        return TreeListing(root=root, single_file=True, files=(".",))
    if not path.is_dir():
        if path.exists():
            raise InputError(f"{root}: not a regular file or directory")
        raise InputError(f"{root}: no such file or directory")

    files: list[str] = []
    empty: list[str] = []
    links: list[str] = []
    special: list[str] = []
    ignored: list[str] = []

    def walk(directory: str, prefix: str) -> None:
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise InputError(f"{directory}: cannot list: {exc.strerror or exc}") from None
        if not entries and prefix:
            empty.append(prefix.rstrip("/"))
        for entry in entries:
            rel = prefix + entry.name
            if display_path(rel) != rel:
                raise InputError(
                    f"{display_path(entry.path)}: the file name is not UTF-8; signatures and "
                    "SBOMs record names as text (model-signing cannot either): rename it"
                )
            if _is_ignored(rel, ignore):
                ignored.append(rel)
            elif entry.is_symlink():
                links.append(rel)
            elif entry.is_dir(follow_symlinks=False):
                walk(entry.path, rel + "/")
            elif entry.is_file(follow_symlinks=False):
                files.append(rel)
            else:
                special.append(rel)

    walk(str(path), "")
    return TreeListing(
        root=root,
        single_file=False,
        files=tuple(sorted(files, key=path_sort_key)),
        empty_dirs=tuple(sorted(empty, key=path_sort_key)),
        symlinks=tuple(sorted(links, key=path_sort_key)),
        special=tuple(sorted(special, key=path_sort_key)),
        ignored=tuple(sorted(ignored, key=path_sort_key)),
    )


def _list_s3(root: str, *, storage: Storage, ignore: Sequence[str]) -> TreeListing:
    uris = storage.list_files(root)
    if uris == [root]:  # the root names one object
        return TreeListing(root=root, single_file=True, files=(".",))
    if storage.is_ambiguous(root, uris):
        raise InputError(
            f"{root} is both an object and a prefix ({root}/...): ambiguous; give the prefix "
            "with a trailing '/', or rename one of them"
        )
    prefix = root.rstrip("/") + "/"
    files: list[str] = []
    ignored: list[str] = []
    for uri in uris:
        rel = uri[len(prefix) :]
        (ignored if _is_ignored(rel, ignore) else files).append(rel)
    return TreeListing(
        root=root,
        single_file=False,
        files=tuple(sorted(files, key=path_sort_key)),
        ignored=tuple(sorted(ignored, key=path_sort_key)),
    )


def digest_tree(
    root: str,
    *,
    storage: Storage,
    workers: int | None = None,
    ignore: Sequence[str] = (),
) -> list[FileDigest]:
    """SHA-256 of every file of a model, sorted as model-signing sorts them.

    Args:
        root: a file, a directory or an ``s3://`` object or prefix.
        storage: how to reach S3.
        workers: hashing threads; default: the number of CPUs plus four (as model-signing).
        ignore: relative paths to leave out, with everything below them. Give
            :data:`MODEL_SIGNING_IGNORE` to match the stock tools' default.

    Returns:
        One :class:`FileDigest` per regular file; an empty list for an empty directory.

    Raises:
        InputError: the root is missing, a file cannot be read, or the tree holds a symbolic
            link or a special file (model-signing refuses both).
        StorageError: S3 refused access.
    """
    listing = list_tree(root, storage=storage, ignore=ignore)
    odd = listing.symlinks + listing.special
    if odd:
        raise InputError(
            f"{listing.location(odd[0])}: not a regular file (symbolic link or special file); "
            "signed models may hold only regular files"
        )
    return digest_files(listing, storage=storage, workers=workers)


def digest_files(
    listing: TreeListing, *, storage: Storage, workers: int | None = None
) -> list[FileDigest]:
    """Hash the regular files of a listing in parallel; see :func:`digest_tree`.

    The largest local files start first, so that one big weights file never ends up hashed
    alone after all the small ones.

    Raises:
        InputError: a file vanished or cannot be read.
        StorageError: S3 refused access.
    """
    remote = storage.is_remote(listing.root)
    order = list(listing.files)
    if not remote and len(order) > 1:
        sizes = {}
        for rel in order:
            try:
                sizes[rel] = os.stat(listing.location(rel), follow_symlinks=False).st_size
            except OSError:
                sizes[rel] = 0  # reported properly when it is opened
        order.sort(key=lambda rel: -sizes[rel])
    n_workers = workers or min(32, (os.cpu_count() or 1) + 4)
    if n_workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")

    def one(rel: str) -> FileDigest:
        uri = listing.location(rel)
        if remote:
            return _digest_stream(rel, uri, storage)
        return _digest_local(rel, uri)

    if len(order) <= 1 or n_workers == 1:
        results = [one(rel) for rel in order]
    else:
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=min(n_workers, len(order)), thread_name_prefix="mlsec-hash"
        ) as pool:
            results = list(pool.map(one, order))
    return sorted(results, key=lambda d: path_sort_key(d.path))


def _digest_local(rel: str, path: str) -> FileDigest:
    digest = hashlib.sha256()
    size = 0
    buf = bytearray(_READ_BLOCK)
    view = memoryview(buf)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with open(fd, "rb", buffering=0) as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{path}: not a regular file")
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)
        while n := fh.readinto(buf):
            digest.update(view[:n])
            size += n
        _unchanged(path, info, os.fstat(fd), size)
    return FileDigest(
        path=rel, sha256=digest.hexdigest(), size=size, mode=stat.S_IMODE(info.st_mode)
    )


def _unchanged(path: str, before: os.stat_result, after: os.stat_result, hashed: int) -> None:
    """Refuse a digest of a file that changed while it was read (size, mtime, inode).

    A writer racing the hash (a model being copied in place, or swapped under the verifier)
    gives a digest of bytes that never existed together: it must not verify or be signed.
    """
    try:
        now = os.stat(path, follow_symlinks=False)
    except OSError:
        now = None
    same = (
        now is not None
        and hashed == before.st_size == after.st_size == now.st_size
        and before.st_mtime_ns == after.st_mtime_ns == now.st_mtime_ns
        and (before.st_dev, before.st_ino) == (now.st_dev, now.st_ino)
    )
    if not same:
        raise InputError(
            f"{path}: changed while it was being hashed (size, modification time or inode "
            "differ before and after); hash it again once nothing writes to it"
        )


def _digest_stream(rel: str, uri: str, storage: Storage) -> FileDigest:
    digest = hashlib.sha256()
    size = 0
    for block in storage.iter_chunks(uri, _S3_BLOCK):
        digest.update(block)
        size += len(block)
    return FileDigest(path=rel, sha256=digest.hexdigest(), size=size, mode=None)


def root_digest(files: Sequence[FileDigest]) -> str:
    """Model-signing's root digest: SHA-256 over the raw per-file digests, in path order.

    This is the ``subject[0].digest.sha256`` of a model-signing v1.0 statement. The files are
    sorted here by path components, so the order of ``files`` does not matter.

    Raises:
        ValueError: two entries share a path.
    """
    ordered = sorted(files, key=lambda d: path_sort_key(d.path))
    paths = [d.path for d in ordered]
    if len(set(paths)) != len(paths):
        raise ValueError("two digests share a path")
    hasher = hashlib.sha256()
    for d in ordered:
        hasher.update(bytes.fromhex(d.sha256))
    return hasher.hexdigest()
