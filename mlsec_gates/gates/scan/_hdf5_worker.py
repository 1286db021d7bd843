"""Child process that reads the parts of an HDF5 file the scanner checks, and nothing else.

libhdf5 is native code that can segfault or loop forever on hostile bytes, so the scanner
never calls it in its own process: :mod:`mlsec_gates.gates.scan.hdf5_isolated` runs this
file as ``python -I <this file> <region file> <cpu seconds> <memory bytes>``. It caps its own
CPU time, address space, core dumps and file writes, opens the file with h5py, and prints
one JSON object on stdout: the ``model_config`` / ``training_config`` root attributes and the
external links / external or virtual datasets, or ``{"error": ...}`` when h5py refuses the
file. Datasets are never read. It imports only the standard library and h5py (no scanner
package, no pickle-loading code), and runs with ``-I`` so no environment variable, user
site or working-directory module can change what it imports.
"""

from __future__ import annotations

import base64
import json
import resource
import sys
from typing import Any

#: Root attributes in which Keras stores its configs.
ATTRIBUTES = ("model_config", "training_config")
#: Links walked before the walk stops (the parent reports the rest as not checked).
MAX_OBJECTS = 200_000


def _limit(cpu_seconds: int, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def _attribute(raw: Any) -> dict[str, str]:
    if isinstance(raw, str):
        return {"text": raw}
    if hasattr(raw, "tobytes") and not isinstance(raw, bytes):
        raw = raw.tobytes()
    if isinstance(raw, bytes):
        return {"base64": base64.b64encode(raw).decode("ascii")}
    return {"text": repr(raw)}


def _links(h5: Any, h5py: Any) -> dict[str, Any]:
    links: list[dict[str, str]] = []
    datasets: list[dict[str, Any]] = []
    count = 0

    def visit(name: str, link: Any) -> bool | None:
        nonlocal count
        count += 1
        if count > MAX_OBJECTS:
            return True  # stop the walk
        if isinstance(link, h5py.ExternalLink):
            links.append({"name": name, "file": str(link.filename), "path": str(link.path)})
        elif isinstance(link, h5py.HardLink):
            obj = h5.get(name, getlink=False)
            if isinstance(obj, h5py.Dataset) and (obj.external or obj.is_virtual):
                files = (
                    [str(src.file_name) for src in obj.virtual_sources()]
                    if obj.is_virtual
                    else [str(e[0]) for e in obj.external or ()]
                )
                datasets.append({"name": name, "files": files[:20]})
        return None

    h5.visititems_links(visit)
    return {
        "external_links": links,
        "external_datasets": datasets,
        "truncated": count > MAX_OBJECTS,
    }


def read(path: str) -> dict[str, Any]:
    """The checked attributes and links of the HDF5 file at ``path``, or ``{"error": ...}``."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            attrs = {name: _attribute(h5.attrs[name]) for name in ATTRIBUTES if name in h5.attrs}
            return {"attributes": attrs, **_links(h5, h5py)}
    except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError, ValueError...
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str]) -> int:
    """Entry point: ``<region file> <cpu seconds> <memory bytes>``."""
    path, cpu_seconds, memory_bytes = argv[0], int(argv[1]), int(argv[2])
    _limit(cpu_seconds, memory_bytes)
    sys.stdout.write(json.dumps(read(path)))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
