"""Read an HDF5 region through the short-lived :mod:`._hdf5_worker` child process.

h5py/libhdf5 segfault or loop on some hostile files (found by mutation fuzzing); in the
scan process that would kill or stall the whole scan run. Here the region is copied to a
private temporary file, the worker reads it under CPU-time and address-space limits, and
this process enforces a wall-clock timeout. A crash, timeout or unreadable answer raises
:class:`ReaderFailed` (the engine quarantines the file); h5py refusing the file raises
:class:`~.observations.FormatError` as before.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .observations import FormatError

#: The worker script, run by path (``-I``) so the child imports no scanner module.
WORKER = Path(__file__).with_name("_hdf5_worker.py")
#: Address space the child may map: h5py + numpy import needs ~300 MiB; configs are small.
MEMORY_BYTES = 1 << 30
#: Bytes copied per slice from the scanned buffer to the temporary file.
_CHUNK = 8 << 20
#: Environment of the child: one BLAS thread, no HDF5 file locking, nothing inherited.
_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "HDF5_USE_FILE_LOCKING": "FALSE"}


class ReaderFailed(Exception):
    """The worker crashed, timed out or answered something that is not its JSON."""


@dataclass(frozen=True)
class Hdf5Content:
    """What the worker read: Keras config attributes and references to other files."""

    attributes: dict[str, bytes | str]
    """``model_config`` / ``training_config`` root attributes present, raw."""
    external_links: list[dict[str, str]]
    """External links: ``name``, ``file``, ``path``."""
    external_datasets: list[dict[str, Any]]
    """Datasets stored in other files (external or virtual): ``name``, ``files``."""
    truncated: bool
    """The link walk stopped at the worker's object limit."""


def worker_command(region: str, timeout: int) -> list[str]:
    """The exact argv of the worker for a region file (the canary test allows only this)."""
    return [sys.executable, "-I", str(WORKER), region, str(timeout), str(MEMORY_BYTES)]


def read_hdf5(buf: Any, start: int, end: int, *, timeout: int) -> Hdf5Content:
    """Read ``buf[start:end]`` as HDF5 in the worker, within ``timeout`` seconds.

    Raises:
        FormatError: h5py cannot open or walk the file.
        ReaderFailed: the worker died on a signal, exited with an error, timed out or
            printed something other than its JSON answer.
    """
    with tempfile.TemporaryDirectory(prefix="mlsec-h5-") as tmp:
        region = str(Path(tmp) / "region.h5")
        with open(region, "wb") as fh:
            for pos in range(start, end, _CHUNK):
                fh.write(buf[pos : min(pos + _CHUNK, end)])
        try:
            proc = subprocess.run(
                worker_command(region, timeout),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                env=_ENV,
                cwd=tmp,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ReaderFailed(f"HDF5 reader timed out after {timeout} s") from None
    return _answer(proc)


def _answer(proc: subprocess.CompletedProcess[bytes]) -> Hdf5Content:
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = str(-proc.returncode)
        raise ReaderFailed(f"HDF5 reader killed by signal {name}")
    if proc.returncode:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise ReaderFailed(f"HDF5 reader exited with status {proc.returncode}: {tail[0][:200]}")
    try:
        body = json.loads(proc.stdout)
        if "error" in body:
            raise FormatError(f"HDF5 file cannot be read: {body['error']}")
        attributes = {name: _raw(value) for name, value in body["attributes"].items()}
        return Hdf5Content(
            attributes,
            list(body["external_links"]),
            list(body["external_datasets"]),
            bool(body["truncated"]),
        )
    except FormatError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ReaderFailed(f"HDF5 reader answered garbage: {type(exc).__name__}") from None


def _raw(value: dict[str, str]) -> bytes | str:
    return base64.b64decode(value["base64"]) if "base64" in value else value["text"]
