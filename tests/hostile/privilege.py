"""Run a command so that a ``chmod 000`` entry is really unreadable, even as root.

CI runs as root, and root reads through ``chmod 000`` (``CAP_DAC_OVERRIDE`` and
``CAP_DAC_READ_SEARCH``). ``setpriv --bounding-set=-dac_override,-dac_read_search`` (util-linux)
drops both capabilities from the bounding set before it executes the command, so the child
process, still uid 0, gets ``EACCES`` like any user. As a non-root user nothing is needed.
The prefix is checked once: a test that needs it fails (never skips) when it does not work.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


@functools.cache
def unprivileged_prefix() -> tuple[str, ...]:
    """The argv prefix under which permission bits apply to the command; checked to work.

    Raises:
        AssertionError: running as root and no way to drop the capabilities was found.
    """
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root: setpriv (util-linux) is needed to test unreadable entries"
    prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search", "--")
    with tempfile.TemporaryDirectory() as tmp:
        locked = Path(tmp) / "locked"
        locked.mkdir()
        locked.chmod(0)
        try:
            probe = subprocess.run(
                [*prefix, "ls", str(locked)], capture_output=True, text=True, timeout=30
            )
        finally:
            locked.chmod(0o755)
    assert probe.returncode != 0 and "denied" in probe.stderr.lower(), (
        f"setpriv did not drop root's read override: {probe.returncode} {probe.stderr!r}"
    )
    return prefix
