"""Read-modify-write of a small shared file (the waiver file) that never loses an update.

Two ``mlsec-gates waive`` runs at once used to both read the file, both add their waiver and
both write: the last rename won and the other waiver was gone while both exited 0. Here the
read, the change and the write happen as one step:

* a local file under an exclusive ``flock`` on ``<file>.lock`` (the file itself is replaced
  by a rename, so it cannot carry the lock), held from the read to the rename;
* an S3 object with a conditional put on the ETag that was read (``If-Match``, or
  ``If-None-Match: *`` when it did not exist); a lost race re-reads and tries again, and
  after :data:`ATTEMPTS` losses the call fails loudly instead of dropping the update.

Example:
    >>> from mlsec_gates.storage import Storage
    >>> update_file("waivers.yaml", lambda old: (old or "").encode() + b"# one more",
    ...             storage=Storage())  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import time
from collections.abc import Callable, Iterator

from mlsec_gates.errors import InputError, StorageError
from mlsec_gates.storage import Storage, display_path

__all__ = ["ATTEMPTS", "update_file"]

ATTEMPTS = 25
"""Conditional puts tried before an S3 update gives up (each loss means another writer won)."""


def update_file(uri: str, change: Callable[[str | None], bytes], *, storage: Storage) -> None:
    """Replace the file at ``uri`` by ``change(its text or None when missing)``, atomically.

    ``change`` may run more than once (S3, after a lost race) and must not have side effects.

    Raises:
        StorageError: the file cannot be read or written, or other writers kept winning.
        InputError: the file exists but is not UTF-8 text.
        whatever ``change`` raises (the file is then left as it was).
    """
    if storage.is_remote(uri):
        _update_s3(uri, change, storage)
        return
    with _locked(uri):
        storage.write_bytes(uri, change(_read_local(uri, storage)), content_type=None)


def _update_s3(uri: str, change: Callable[[str | None], bytes], storage: Storage) -> None:
    for attempt in range(ATTEMPTS):
        data, etag = storage.read_with_etag(uri)
        text = None if data is None else _text(uri, data)
        if storage.put_if_unchanged(uri, change(text), etag=etag, content_type="application/yaml"):
            return
        time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # jitter, not crypto
    raise StorageError(
        f"{uri}: not written: other writers changed it {ATTEMPTS} times while this update "
        "was being made; run the command again"
    )


@contextlib.contextmanager
def _locked(uri: str) -> Iterator[None]:
    lock = f"{uri}.lock"
    try:
        os.makedirs(os.path.dirname(os.path.abspath(uri)), exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        raise StorageError(
            f"{display_path(lock)}: cannot create the lock file: {exc.strerror or exc}"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read_local(uri: str, storage: Storage) -> str | None:
    try:
        return storage.read_text(uri)
    except InputError as exc:
        if str(exc).endswith("no such file"):
            return None
        raise


def _text(uri: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{uri}: not UTF-8 text") from None
