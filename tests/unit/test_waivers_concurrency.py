"""Concurrent ``mlsec-gates waive`` keeps every waiver (issue 13, item 5).

Eight writers at once used to keep 2 of 8 waivers while all exited 0. Locally they now
serialise on ``<file>.lock``; on S3 each write is conditional on the ETag it read.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mlsec_gates.storage import S3Options, Storage
from mlsec_gates.waivers import add_waiver, parse_waiver_file

WRITERS = 8


def _fingerprint(i: int) -> str:
    return f"{i:016x}"


def test_eight_concurrent_cli_waives_keep_eight_waivers(tmp_path: Path) -> None:
    target = tmp_path / "waivers.yaml"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlsec_gates.cli",
                "waive",
                _fingerprint(i),
                "--reason",
                f"vendor fix {i}",
                "--approver",
                f"owner{i}@example.com",
                "--expires",
                "2999-12-31",
                "--waivers",
                str(target),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(WRITERS)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    kept = parse_waiver_file(target.read_text(), source=str(target))
    assert sorted(w.fingerprint for w in kept) == [_fingerprint(i) for i in range(WRITERS)]


@pytest.mark.s3
def test_eight_concurrent_waives_on_s3_keep_eight_waivers(s3_env: str) -> None:
    storage = Storage(S3Options(endpoint_url=s3_env))
    storage._client.create_bucket(Bucket="waivers-race")
    uri = "s3://waivers-race/policies/waivers.yaml"
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def write(i: int) -> None:
        start.wait()
        try:
            add_waiver(
                uri,
                fingerprint=_fingerprint(i),
                reason=f"fix {i}",
                approver=f"owner{i}",
                expires="2999-12-31",
                storage=Storage(S3Options(endpoint_url=s3_env)),
            )
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    kept = parse_waiver_file(storage.read_text(uri), source=uri)
    assert sorted(w.fingerprint for w in kept) == [_fingerprint(i) for i in range(WRITERS)]


def test_waiver_file_gets_the_umask_permissions(tmp_path: Path) -> None:
    """Item 20: a rewritten waivers.yaml is readable by the group/others the umask allows."""
    import os

    old = os.umask(0o022)
    try:
        target = tmp_path / "waivers.yaml"
        add_waiver(
            str(target),
            fingerprint=_fingerprint(1),
            reason="reason",
            approver="alice",
            expires="2999-01-01",
        )
        assert target.stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)
