"""Pickle scan speed and memory: mlsec-gates vs picklescan and fickling, side by side.

Usage: python benchmarks/scan_speed.py [--size-mb N] [--timeout S] [--keep DIR]

Writes four benign inputs into a temp dir (nothing is ever loaded; torch is not needed):

* ``bytes-heavy.pkl``: N MB (default 100) of 4 MiB float arrays, ``pickle.dumps`` protocol 4;
* ``arrays-25k.pkl``: N MB of 25,000 small float arrays (opcode- and object-heavy);
* ``range-1.2M.pkl``: ``list(range(1_200_000))``, ~1.2 M opcodes in 5.9 MB (an opcode cap
  would quarantine it: it must pass);
* ``torch-zip.pt``: N MB zip in PyTorch's layout (``archive/data.pkl`` state dict with
  persistent ids, ``archive/data/0..K`` raw storages, ``archive/version``), written by hand.

Each tool scans each file in its own subprocess, which reports the scan time (import excluded)
and its peak RSS (``ru_maxrss``):

* ours: ``mlsec_gates.gates.scan.engine.scan_file`` (default settings, incl. the fickling
  cross-check where the engine decides to run it);
* picklescan: ``picklescan.scanner.scan_file_path``;
* fickling: ``fickling.analysis.check_safety(Pickled.load(...))`` with default settings, on
  every stacked stream; zips through ``fickling.loader.scan_zip_archive``.

Prints MB/s, the ratios ours/peer and checks the goals: >= 0.6x picklescan and >= 4x fickling
on bytes-heavy, >= 50 MB/s on opcode-heavy (25k arrays), the 1.2 M-opcode list passes, peak
RSS <= 256 MB + 1.2x the largest pickle member.
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, resource, sys, time
tool, path, repo = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, repo)
if tool == "ours":
    from mlsec_gates.gates.scan.engine import scan_file
elif tool == "picklescan":
    from picklescan.scanner import scan_file_path
else:
    import contextlib, io, zipfile
    from fickling.analysis import Severity, check_safety
    from fickling.fickle import Pickled, StackedPickle
    from fickling.loader import scan_zip_archive
t0 = time.perf_counter()
if tool == "ours":
    with open(path, "rb") as fh:
        res = scan_file(fh, uri=path)
    verdict = res.verdict
    detail = "; ".join(f"{f.rule_id}: {f.message}" for f in res.findings)[:200]
elif tool == "picklescan":
    res = scan_file_path(path)
    verdict = "block" if res.infected_files or res.issues_count else (
        "error" if res.scan_err else "pass")
    detail = f"issues={res.issues_count} suspicious={getattr(res, 'suspicious_count', 0)}"
else:
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        if zipfile.is_zipfile(path):
            results = list(scan_zip_archive(path, graceful=True).values())
            worst = max((r.severity for r in results), default=Severity.LIKELY_SAFE)
        else:
            with open(path, "rb") as fh:
                stacked = StackedPickle.load(fh, fail_on_decode_error=False)
            worst = max((check_safety(p).severity for p in stacked), default=Severity.LIKELY_SAFE)
    verdict = "block" if worst >= Severity.LIKELY_UNSAFE else "pass"
    detail = worst.name
seconds = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rss_mb": rss, "verdict": verdict, "detail": detail}))
"""


def write_inputs(directory: Path, size_mb: int) -> dict[str, tuple[Path, int]]:
    """Write the benign inputs; return name -> (path, largest pickle member in bytes)."""
    import numpy as np

    rng = np.random.default_rng(0)
    out: dict[str, tuple[Path, int]] = {}
    n_big = max(1, size_mb // 4)
    data = pickle.dumps(
        [rng.random(512 * 1024, dtype=np.float64) for _ in range(n_big)], protocol=4
    )
    out["bytes-heavy"] = _write(directory / "bytes-heavy.pkl", data)
    per = max(1, size_mb * 1_000_000 // 25_000 // 8)
    data = pickle.dumps([rng.random(per) for _ in range(25_000)], protocol=4)
    out["arrays-25k"] = _write(directory / "arrays-25k.pkl", data)
    data = pickle.dumps(list(range(1_200_000)), protocol=4)
    out["range-1.2M"] = _write(directory / "range-1.2M.pkl", data)
    out["torch-zip"] = _write_torch_zip(directory / "torch-zip.pt", size_mb)
    return out


def _write_inputs_in_child(directory: Path, size_mb: int) -> dict[str, tuple[Path, int]]:
    """Write the inputs from a child process.

    Linux keeps ``ru_maxrss`` across ``execve``: tools spawned by a parent that held the
    inputs in memory would inherit its peak. Generating them in a child keeps this process
    small, so each tool's peak RSS is its own.
    """
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
        "import scan_speed; out = scan_speed.write_inputs(Path(sys.argv[2]), int(sys.argv[3])); "
        "print(json.dumps({k: [str(p), n] for k, (p, n) in out.items()}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), str(directory), str(size_mb)],
        capture_output=True,
        text=True,
        check=True,
    )
    written = json.loads(proc.stdout.strip().splitlines()[-1])
    return {name: (Path(path), member) for name, (path, member) in written.items()}


def _write(path: Path, data: bytes) -> tuple[Path, int]:
    path.write_bytes(data)
    return path, len(data)


def _uni(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _write_torch_zip(path: Path, size_mb: int) -> tuple[Path, int]:
    """A ``torch.save``-layout zip: state-dict pickle with persistent ids + raw storages."""
    n_tensors = 200
    numel = max(1, size_mb * 1_000_000 // n_tensors // 4)
    pkl = bytearray(b"\x80\x02" + _global("collections", "OrderedDict") + b"q\x00)Rq\x01(")
    for i in range(n_tensors):
        pkl += _uni(f"layers.{i}.weight") + _global("torch._utils", "_rebuild_tensor_v2") + b"("
        pkl += b"(" + _uni("storage") + _global("torch", "FloatStorage")
        pkl += _uni(str(i)) + _uni("cpu") + b"J" + numel.to_bytes(4, "little") + b"tQ"
        pkl += b"K\x00" + b"J" + numel.to_bytes(4, "little") + b"\x85K\x01\x85\x89"
        pkl += _global("collections", "OrderedDict") + b")Rtr" + (i + 2).to_bytes(4, "little")
    pkl += b"u}" + _uni("_metadata") + _global("collections", "OrderedDict") + b")Rsb."
    rnd = random.Random(1)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.pkl", bytes(pkl))
        zf.writestr("archive/byteorder", b"little")
        for i in range(n_tensors):
            zf.writestr(f"archive/data/{i}", rnd.randbytes(numel * 4))
        zf.writestr("archive/version", b"3\n")
    return path, len(pkl)


def run_tool(tool: str, path: Path, timeout: float) -> dict[str, object]:
    """Scan ``path`` with ``tool`` in a fresh interpreter; time, peak RSS and verdict."""
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, tool, str(path), str(REPO)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"seconds": None, "rss_mb": None, "verdict": "timeout", "detail": f">{timeout}s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        err = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"seconds": None, "rss_mb": None, "verdict": "error", "detail": err[:160]}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--keep", type=Path, help="write the inputs here and keep them")
    args = parser.parse_args(argv)
    tmp = None
    if args.keep:
        directory = args.keep
        directory.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="scan-speed-")
        directory = Path(tmp.name)
    try:
        inputs = _write_inputs_in_child(directory, args.size_mb)
        results: dict[str, dict[str, dict[str, object]]] = {}
        tools = ("ours", "picklescan", "fickling")
        header = f"{'input':<12} {'MB':>7} | " + " | ".join(f"{t:^30}" for t in tools)
        print(header)
        print("-" * len(header))
        for name, (path, _member) in inputs.items():
            size = path.stat().st_size / 1e6
            results[name] = {t: run_tool(t, path, args.timeout) for t in tools}
            cells = []
            for tool in tools:
                r = results[name][tool]
                if r["seconds"] is None:
                    cells.append(f"{r['verdict']:^30}")
                    continue
                speed = size / max(float(r["seconds"]), 1e-9)
                cells.append(
                    f"{r['verdict']:<5} {float(r['seconds']):6.2f}s {speed:7.1f}MB/s "
                    f"{float(r['rss_mb']):5.0f}MB"
                )
            print(f"{name:<12} {size:7.1f} | " + " | ".join(cells))
        print()
        return _goals(inputs, results)
    finally:
        if tmp is not None:
            tmp.cleanup()


def _ratio(results: dict, name: str, peer: str) -> float | None:
    ours, other = results[name]["ours"]["seconds"], results[name][peer]["seconds"]
    if ours is None or other is None:
        return None
    return float(other) / max(float(ours), 1e-9)


def _goals(inputs: dict[str, tuple[Path, int]], results: dict) -> int:
    """Print ratios and goal checks; exit status 1 when a goal is missed."""
    ok = True
    for name in inputs:
        for peer in ("picklescan", "fickling"):
            ratio = _ratio(results, name, peer)
            text = "n/a" if ratio is None else f"{ratio:.2f}x"
            print(f"speed ours/{peer:<10} {name:<12} {text}")
    checks: list[tuple[str, bool]] = []
    r_ps = _ratio(results, "bytes-heavy", "picklescan")
    r_fk = _ratio(results, "bytes-heavy", "fickling")
    checks.append(("bytes-heavy >= 0.6x picklescan", r_ps is not None and r_ps >= 0.6))
    checks.append(("bytes-heavy >= 4x fickling", r_fk is None or r_fk >= 4.0))
    arrays = results["arrays-25k"]["ours"]
    size = inputs["arrays-25k"][0].stat().st_size / 1e6
    speed = size / float(arrays["seconds"]) if arrays["seconds"] else 0.0
    checks.append((f"arrays-25k >= 50 MB/s (got {speed:.1f})", speed >= 50))
    checks.append(("range-1.2M passes", results["range-1.2M"]["ours"]["verdict"] == "pass"))
    for name, (_path, member) in inputs.items():
        r = results[name]["ours"]
        limit = 256 + 1.2 * member / 2**20
        checks.append(
            (
                f"{name} peak RSS {r['rss_mb'] or 0:.0f} MB <= {limit:.0f} MB",
                r["rss_mb"] is not None and float(r["rss_mb"]) <= limit,
            )
        )
        checks.append((f"{name} passes (no false positive)", r["verdict"] == "pass"))
    print()
    for text, met in checks:
        ok &= met
        print(f"[{'ok' if met else 'MISSED'}] {text}")
    if not ok:
        for name in inputs:
            if results[name]["ours"]["verdict"] != "pass":
                print(f"  ours on {name}: {results[name]['ours']['detail']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
