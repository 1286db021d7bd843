"""``verify`` does not pass a file that changes while it is being hashed (issue 13, item 21).

A 1 GiB sparse weights file is rewritten in place (one byte, in the part already hashed)
while ``verify`` reads it; the write happens once the verifier's file position shows it is
hashing that file (``/proc/self/fdinfo``), so the race is not left to timing.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from mlsec_gates.errors import InputError
from mlsec_gates.gates.sign import sign_gate, verify_gate
from mlsec_gates.result import Status
from tests.fixtures.signing_keys import write_ec_key_pair

SIZE = 1 << 30


def _reading_position(path: Path) -> int | None:
    """Position of this process's first open descriptor on ``path`` (None: not open)."""
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                with open(f"/proc/self/fdinfo/{fd}") as info:
                    return int(info.readline().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return None


@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="needs Linux /proc")
def test_file_rewritten_during_verify_does_not_pass(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    weights = model / "weights.bin"
    with weights.open("wb") as out:
        out.truncate(SIZE)
    (model / "config.json").write_text("{}")
    private, public = write_ec_key_pair(tmp_path / "keys")
    signed = sign_gate(
        str(model), key=str(private), out=str(tmp_path / "m.sig"), report_dir=str(tmp_path / "s")
    )
    assert signed.status is Status.PASS

    changed = threading.Event()

    def rewrite_once_hashing_started() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            pos = _reading_position(weights)
            if pos:  # the verifier has read part of it: change a byte it already hashed
                with weights.open("r+b") as out:
                    out.write(b"\x01")
                changed.set()
                return
            time.sleep(0.0005)

    writer = threading.Thread(target=rewrite_once_hashing_started)
    writer.start()
    try:
        result = verify_gate(
            str(model),
            signature=str(tmp_path / "m.sig"),
            public_key=str(public),
            report_dir=str(tmp_path / "v"),
        )
    finally:
        writer.join()
    assert changed.is_set()
    assert not result.passed and result.status is Status.ERROR  # could not check: exit 2
    assert any("changed while it was being hashed" in f.message for f in result.findings)


def test_digest_refuses_a_file_replaced_under_it(tmp_path: Path) -> None:
    """The same check at the hashing level: a different inode after the read is refused."""
    from mlsec_gates.hashing import _unchanged

    path = tmp_path / "w.bin"
    path.write_bytes(b"a" * 10)
    before = path.stat()
    replacement = tmp_path / "new.bin"
    replacement.write_bytes(b"b" * 10)
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)
    with pytest.raises(InputError, match="changed while it was being hashed"):
        _unchanged(str(path), before, before, 10)
