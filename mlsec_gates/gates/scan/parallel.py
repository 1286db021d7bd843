"""Scanning many files at once inside one gate: a bounded pool of threads.

An S3 prefix of thousands of small objects is dominated by round trips (HEAD, GET, ranged
reads), which threads overlap; the analysis itself holds the GIL, so a handful of workers
(``gates.scan.workers``) is the useful range. Each worker thread has its own scanner state
(bytes read, notes), merged at the end; the verdict cache is shared behind a lock. Results
come back in the order of ``files``, so reports do not depend on timing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from mlsec_gates.result import Finding, Subject

T = TypeVar("T")
R = TypeVar("R")


class _LockedCache:
    """The verdict cache, one call at a time (its hit counter is not thread-safe)."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self.lock = threading.Lock()

    @property
    def hits(self) -> int:
        return int(self.cache.hits)

    def get(self, key: str, *, uri: str) -> Any:
        with self.lock:
            return self.cache.get(key, uri=uri)

    def put(self, key: str, verdict: Any) -> None:
        with self.lock:
            self.cache.put(key, verdict)


def scan_all(
    scanner: Any,
    files: list[str],
    *,
    workers: int,
    progress: Callable[[int, int, str], None] | None = None,
) -> Iterator[tuple[Subject, list[Finding]]]:
    """Subject and findings of each file, in the order of ``files``.

    ``scanner`` is the gate's per-file scanner (``scan(path)``, ``remote_bytes``, ``notes``,
    ``cache``, ``storage``); with ``workers`` > 1, copies of it run in threads and their
    counters are added back into it before the results are yielded.
    """
    if workers <= 1 or len(files) <= 1:
        for index, path in enumerate(files, start=1):
            yield scanner.scan(path)
            if progress:
                progress(index, len(files), path)
        return
    if any(scanner.storage.is_remote(f) for f in files):
        scanner.storage._client  # noqa: B018 - build the boto3 client once, not per thread
    shared = _LockedCache(scanner.cache) if scanner.cache else None
    local = threading.local()
    copies: list[Any] = []
    lock = threading.Lock()

    def one(path: str) -> tuple[Subject, list[Finding]]:
        mine = getattr(local, "scanner", None)
        if mine is None:
            mine = replace(scanner, cache=shared, remote_bytes=0, notes={})
            local.scanner = mine
            with lock:
                copies.append(mine)
        return mine.scan(path)

    results: list[Any] = [None] * len(files)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlsec-scan") as pool:
        futures = {pool.submit(one, path): i for i, path in enumerate(files)}
        for done, future in enumerate(as_completed(futures), start=1):
            index = futures[future]
            results[index] = future.result()
            if progress:
                progress(done, len(files), files[index])
    for copy in copies:
        scanner.remote_bytes += copy.remote_bytes
        scanner.notes.update(copy.notes)
    yield from results


def map_ordered(func: Callable[[T], R], items: Sequence[T], *, workers: int) -> list[R]:
    """``func`` of each item, in the order of ``items``, on at most ``workers`` threads.

    Listing the exact objects of a fan-out shard is one or two round trips per object;
    threads overlap them as they overlap the scans. The first failure (in item order) raises.
    """
    if workers <= 1 or len(items) <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(
        max_workers=min(workers, len(items)), thread_name_prefix="mlsec-list"
    ) as pool:
        return list(pool.map(func, items))
