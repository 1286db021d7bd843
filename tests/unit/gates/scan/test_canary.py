"""Canary: scanning malicious files never runs them.

Each generated payload would create ``<marker_dir>/<sample name>`` if it ever ran. The
whole malicious half of the corpus (and the peer corpus, when present) is scanned through
the CLI in a subprocess and through the library in this process, with a Python audit hook
recording any unpickling (``pickle.find_class``), process spawn, ``ctypes`` load or write
into the marker directory. The one process the scanner may start is its isolated HDF5
reader, matched by its exact argv (:data:`WORKER_ARGV`). Afterwards no marker exists and no
such event was seen. The test cannot pass vacuously: every marker-carrying sample is checked
to contain its marker path (also inside its compressed, archived or base64-encoded payload).
"""

from __future__ import annotations

import base64
import bz2
import contextlib
import io
import lzma
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlsec_gates.gates.scan.engine import scan_file
from tests.corpus.session import scan_entry, shared_corpus

REPO = Path(__file__).resolve().parents[4]
PEERS = Path(os.environ.get("MLSEC_SCAN_PEERS", "/work/shared/corpora/scan-peers"))

#: Audit events that mean content was executed or the system touched while scanning.
FORBIDDEN = (
    "pickle.find_class",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "subprocess.Popen",
    "ctypes.dlopen",
    "webbrowser.open",
    "socket.connect",
)

#: The HDF5 worker's argv: this interpreter, isolated mode, the worker script by path, a
#: region file in a fresh ``mlsec-h5-*`` temporary directory, CPU seconds, 1 GiB of memory.
WORKER_ARGV = (
    re.escape(sys.executable),
    "-I",
    re.escape(str(REPO / "mlsec_gates" / "gates" / "scan" / "_hdf5_worker.py")),
    r".*/mlsec-h5-[A-Za-z0-9_]+/region\.h5",
    r"[1-9][0-9]*",
    str(1 << 30),
)


def is_hdf5_worker(event: str, args: tuple) -> bool:
    """True for exactly the scanner's HDF5 worker spawn (``subprocess.Popen`` audit event)."""
    if event != "subprocess.Popen" or args[0] != sys.executable:
        return False
    argv = args[1]
    return (
        isinstance(argv, list)
        and len(argv) == len(WORKER_ARGV)
        and all(
            isinstance(a, str) and re.fullmatch(p, a)
            for p, a in zip(WORKER_ARGV, argv, strict=True)
        )
    )


HOOK = textwrap.dedent(
    """
    import os, re, sys
    _log = os.environ.get("MLSEC_CANARY_LOG")
    _markers = os.environ.get("MLSEC_CANARY_MARKERS", "\\0")
    _forbidden = {forbidden!r} - {{"ctypes.dlopen"}}  # start-up imports dlopen libc
    _worker = {worker!r}
    def _is_worker(event, args):
        if event != "subprocess.Popen" or args[0] != sys.executable:
            return False
        argv = args[1]
        return (isinstance(argv, list) and len(argv) == len(_worker) and all(
            isinstance(a, str) and re.fullmatch(p, a) for p, a in zip(_worker, argv)))
    def _hook(event, args):
        hit = event in _forbidden and not (event == "subprocess.Popen" and args[0] == "uname")
        hit = hit and not _is_worker(event, args)
        if event == "open" and args and isinstance(args[0], str):
            hit = args[0].startswith(_markers)
        if hit and _log:
            with open(_log, "a") as fh:
                fh.write(event + " " + repr(args)[:200] + "\\n")
    if _log:
        sys.addaudithook(_hook)
    """
).format(forbidden=set(FORBIDDEN), worker=WORKER_ARGV)
# ``platform`` runs ``uname -p`` once when the reports record the host: the gate's own
# start-up, not a payload (payloads here name the marker path, which uname never does).


class _Recorder:
    """In-process audit hook, active only inside ``with recorder:``."""

    def __init__(self) -> None:
        self.active = False
        self.markers = "\0"
        self.events: list[str] = []
        self.workers = 0
        sys.addaudithook(self._hook)  # hooks cannot be removed; it idles when inactive

    def _hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if is_hdf5_worker(event, args):
            self.workers += 1
            return
        hit = event in FORBIDDEN
        if event == "open" and args and isinstance(args[0], str):
            hit = args[0].startswith(self.markers)
        if hit:
            self.events.append(f"{event} {args!r}"[:200])

    def __enter__(self) -> _Recorder:
        self.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False


_RECORDER: list[_Recorder] = []


def recorder() -> _Recorder:
    if not _RECORDER:
        _RECORDER.append(_Recorder())
    return _RECORDER[0]


# --------------------------------------------------------------------------- marker presence


def _views(data: bytes, depth: int = 0) -> Iterator[bytes]:
    """The bytes and what they decompress / unarchive / base64-decode to (never unpickled)."""
    yield data
    if depth > 4 or not data:
        return
    inner: list[bytes] = []
    for decode in (bz2.decompress, lzma.decompress, zlib.decompress):
        try:
            inner.append(decode(data))
        except Exception:
            continue
    if data[:2] == b"\x1f\x8b":  # gzip, possibly truncated on purpose: decode what is there
        with contextlib.suppress(zlib.error):
            inner.append(zlib.decompressobj(31).decompress(data))
    if data[:4] == b"PK\x03\x04":
        pos = 0
        while (pos := data.find(b"PK\x03\x04", pos)) >= 0:
            name_len, extra_len = (
                int.from_bytes(data[pos + 26 : pos + 28], "little"),
                int.from_bytes(data[pos + 28 : pos + 30], "little"),
            )
            start = pos + 30 + name_len + extra_len
            with contextlib.suppress(zlib.error):
                inner.append(zlib.decompressobj(-15).decompress(data[start:]))
            pos += 4
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            inner += [tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()]
    except Exception:
        pass
    if data[:6] == b"7z\xbc\xaf\x27\x1c":
        import py7zr

        try:
            with py7zr.SevenZipFile(io.BytesIO(data)) as archive:
                inner += [b.read() for b in archive.readall().values()]
        except Exception:
            pass
    inner += [bytes.fromhex(run.decode()) for run in re.findall(rb"(?:[0-9a-f]{2}){20,}", data)]
    for run in re.findall(rb"[A-Za-z0-9+/]{40,}={0,2}", data):
        try:
            inner.append(base64.b64decode(run))
        except ValueError:
            continue
    for blob in inner:
        yield from _views(blob, depth + 1)


def _carries_marker(data: bytes, marker: str) -> bool:
    needle = marker.encode()
    return any(needle in view for view in _views(data))


def test_payloads_really_carry_their_markers(tmp_path_factory: pytest.TempPathFactory) -> None:
    corpus = shared_corpus(tmp_path_factory)
    with_marker = [e for e in corpus.malicious if e["marker"]]
    assert len(with_marker) >= 150
    missing = [
        e["path"]
        for e in with_marker
        if not e["marker"].endswith(Path(e["path"]).name)
        or not _carries_marker(corpus.path(e).read_bytes(), e["marker"])
    ]
    assert not missing, missing


def _assert_clean(marker_dir: Path, events: list[str]) -> None:
    created = sorted(p.name for p in marker_dir.iterdir())
    assert not created, f"payloads ran: {created}"
    assert not events, events[:10]


# --------------------------------------------------------------------------- generated half


def test_library_scan_of_malicious_corpus_runs_nothing(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    corpus = shared_corpus(tmp_path_factory)
    rec = recorder()
    rec.markers = str(corpus.marker_dir)
    rec.events.clear()
    rec.workers = 0
    with rec:
        verdicts = [scan_entry(corpus, e).verdict for e in corpus.malicious]
    assert len(verdicts) == len(corpus.malicious) and verdicts.count("block") >= 150
    assert rec.workers >= 1  # HDF5 members went through the worker: the allowance is exercised
    _assert_clean(corpus.marker_dir, rec.events)


def _cli(targets: list[str], tmp: Path, markers: str) -> tuple[subprocess.CompletedProcess, str]:
    hook_dir = tmp / "hook"
    hook_dir.mkdir(exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(HOOK)
    log = tmp / "audit.log"
    cwd = tmp / "cwd"
    cwd.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hook_dir), str(REPO)]),
        "MLSEC_CANARY_LOG": str(log),
        "MLSEC_CANARY_MARKERS": markers,
    }
    cmd = [sys.executable, "-c", "from mlsec_gates.cli import run; run()", "scan", *targets]
    cmd += ["--report-dir", str(tmp / "reports"), "-q"]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert not any(cwd.iterdir()), f"files appeared in the working directory: {list(cwd.iterdir())}"
    return proc, log.read_text() if log.exists() else ""


def test_cli_scan_of_malicious_corpus_runs_nothing(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    corpus = shared_corpus(tmp_path_factory)
    proc, log = _cli([str(corpus.root / "malicious")], tmp_path, str(corpus.marker_dir))
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    _assert_clean(corpus.marker_dir, log.splitlines())


def _keras_h5(path: Path, marker: Path) -> Path:
    """A legacy Keras ``.h5`` whose config calls ``os.system`` on the marker (never loaded)."""
    import json

    import h5py

    layer = {
        "class_name": "Lambda",
        "config": {
            "name": "x",
            "function": "system",
            "module": "os",
            "function_type": "function",
            "arguments": [f"touch {marker}"],
        },
    }
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": [layer]})
    return path


def test_hdf5_worker_is_the_only_process(tmp_path: Path) -> None:
    (tmp_path / "markers").mkdir()
    h5 = _keras_h5(tmp_path / "lambda.h5", tmp_path / "markers" / "lambda.h5")
    rec = recorder()
    rec.markers = str(tmp_path / "markers")
    rec.events.clear()
    rec.workers = 0
    with rec, open(h5, "rb") as fh:
        verdict = scan_file(fh, uri=str(h5))
    assert verdict.verdict == "block" and rec.workers == 1, (verdict, rec.workers)
    _assert_clean(tmp_path / "markers", rec.events)
    proc, log = _cli([str(h5)], tmp_path, str(tmp_path / "markers"))
    # the config finding can only come from the worker: it ran in the CLI, and was allowed
    assert proc.returncode == 1 and "CVE-2025-1550" in proc.stdout, proc.stdout[-2000:]
    _assert_clean(tmp_path / "markers", log.splitlines())


# --------------------------------------------------------------------------- peer half

peers = pytest.mark.skipif(
    not (PEERS / "labels.csv").is_file(),
    reason=f"peer corpus not present at {PEERS} (set MLSEC_SCAN_PEERS); generated half still runs",
)


@peers
def test_library_scan_of_peer_corpus_runs_nothing(tmp_path: Path) -> None:
    files = sorted(p for p in PEERS.rglob("*") if p.is_file())
    rec = recorder()
    rec.markers = str(tmp_path / "markers")
    rec.events.clear()
    (tmp_path / "markers").mkdir()
    with rec:
        for path in files:
            with open(path, "rb") as fh:
                scan_file(fh, uri=str(path))
    _assert_clean(tmp_path / "markers", rec.events)


@peers
def test_cli_scan_of_peer_corpus_runs_nothing(tmp_path: Path) -> None:
    (tmp_path / "markers").mkdir()
    proc, log = _cli([str(PEERS)], tmp_path, str(tmp_path / "markers"))
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    _assert_clean(tmp_path / "markers", log.splitlines())
