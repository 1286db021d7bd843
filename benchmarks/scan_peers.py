"""Side-by-side scan of the labelled peer corpus: mlsec-gates vs picklescan, modelscan, fickling.

Usage: python benchmarks/scan_peers.py [CORPUS_DIR] [--no-modelscan] [--misses]
(default CORPUS_DIR /work/shared/corpora/scan-peers, with ``labels.csv``).

Per label (block / not-pass / pass / not-block / any) it prints how many files each tool
handled as expected, then errors and wall time per tool. Nothing is loaded: every tool
only parses the files.

- mlsec-gates: ``scan_file`` (library); verdict as is.
- picklescan 1.0.5: ``scanner.scan_file_path`` (library); infected => block, scan error =>
  error, otherwise pass (suspicious-only results pass, as in its default non-strict mode).
- modelscan 0.8.8: conflicts with this venv (rich pin), so the script creates
  ``~/.cache/mlsec-gates/bench-venvs/modelscan`` (or ``$MLSEC_MODELSCAN_VENV``;
  ``pip install modelscan==0.8.8``) and runs
  its CLI once over the corpus with ``-r json``; any issue => block, error => error, files
  it neither scanned nor reported => skip (scored as pass: that is what its exit code says).
- fickling 0.1.12 default: ``scan_zip_archive`` for zips else ``scan_file`` (graceful),
  block at severity >= LIKELY_UNSAFE.
- fickling ML: every pickle stream (zip members by content) through ``check_safety`` with
  ``Analyzer([MLAllowlist, UnsafeImportsML, UnsafeImports, BadCalls])``, block at
  >= LIKELY_UNSAFE; unparseable => error.

Library tools are timed in-process; modelscan's time includes its CLI start-up.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks._corpus import EXPECTATIONS, met, read_labels  # noqa: E402
from benchmarks._corpus import fickling_default as fickling_scan  # noqa: E402
from mlsec_gates.gates.scan.engine import scan_file  # noqa: E402

MODELSCAN_VENV = Path(
    os.environ.get("MLSEC_MODELSCAN_VENV")
    or Path.home() / ".cache" / "mlsec-gates" / "bench-venvs" / "modelscan"
)
MODELSCAN_VERSION = "0.8.8"

Verdict = tuple[str, str]  # (verdict, why)


def ours(path: Path) -> Verdict:
    with open(path, "rb") as fh:
        result = scan_file(fh, uri=str(path))
    worst = max(result.findings, key=lambda f: f.severity, default=None)
    return result.verdict, f"{worst.rule_id}: {worst.message}" if worst else ""


def picklescan(path: Path) -> Verdict:
    from picklescan.scanner import scan_file_path

    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            result = scan_file_path(str(path))
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"[:120]
    if result.infected_files:
        names = [f"{g.module}.{g.name}" for g in result.globals if g.safety.value == "dangerous"]
        return "block", ", ".join(names)[:120]
    if result.scan_err:
        return "error", "scan error"
    if not result.scanned_files:
        return "skip", "not scanned"
    return "pass", ""


def fickling_default(path: Path) -> Verdict:
    verdict, why = fickling_scan(path)
    return verdict, "" if verdict == "pass" else why


def _pickle_blobs(path: Path) -> list[bytes]:
    data = path.read_bytes()
    if not zipfile.is_zipfile(path):
        return [data]
    with zipfile.ZipFile(path) as zf:
        members = [zf.read(info) for info in zf.infolist() if not info.is_dir()]
    return [m for m in members if m[:1] == b"\x80" or m[:1] in (b"(", b"c", b"]", b"}")]


def fickling_ml(path: Path) -> Verdict:
    from fickling.analysis import (
        Analyzer,
        BadCalls,
        Severity,
        UnsafeImports,
        UnsafeImportsML,
        check_safety,
    )
    from fickling.fickle import StackedPickle
    from fickling.ml import MLAllowlist

    analyzer = Analyzer([MLAllowlist(), UnsafeImportsML(), UnsafeImports(), BadCalls()])
    worst = Severity.LIKELY_SAFE
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            blobs = _pickle_blobs(path)
            for blob in blobs:
                for pickled in StackedPickle.load(io.BytesIO(blob), fail_on_decode_error=False):
                    worst = max(worst, check_safety(pickled, analyzer=analyzer).severity)
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"[:120]
    if worst >= Severity.LIKELY_UNSAFE:
        return "block", worst.name
    if not blobs:
        return "skip", "no pickle found"
    return "pass", worst.name


def modelscan_verdicts(root: Path, rows: list[dict[str, str]]) -> tuple[dict[str, Verdict], float]:
    """Run modelscan's CLI once over ``root``; map each labelled path to a verdict."""
    exe = MODELSCAN_VENV / "bin" / "modelscan"
    if not exe.exists():
        print(f"creating {MODELSCAN_VENV} (pip install modelscan=={MODELSCAN_VERSION})")
        venv.create(MODELSCAN_VENV, with_pip=True)
        subprocess.run(
            [
                str(MODELSCAN_VENV / "bin" / "pip"),
                "install",
                "-q",
                f"modelscan=={MODELSCAN_VERSION}",
            ],
            check=True,
        )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "modelscan.json"
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(exe), "-p", str(root), "-r", "json", "-o", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t0
        if not out.exists():
            why = f"modelscan rc={proc.returncode}: {proc.stderr[-200:]}"
            return {r["path"]: ("error", why) for r in rows}, wall
        report = json.loads(out.read_text())
    issues: dict[str, list[str]] = defaultdict(list)
    for issue in report.get("issues", []):
        issues[issue["source"].split(":", 1)[0]].append(f"{issue['module']}.{issue['operator']}")
    errors: dict[str, list[str]] = defaultdict(list)
    for error in report.get("errors", []):
        errors[str(error.get("source", "")).split(":", 1)[0]].append(error.get("description", ""))
    scanned = {
        s.split(":", 1)[0] for s in report["summary"].get("scanned", {}).get("scanned_files", [])
    }
    verdicts: dict[str, Verdict] = {}
    for row in rows:
        rel = row["path"]
        if rel in issues:
            verdicts[rel] = ("block", ", ".join(issues[rel])[:120])
        elif rel in errors:
            verdicts[rel] = ("error", "; ".join(errors[rel])[:120])
        elif rel in scanned:
            verdicts[rel] = ("pass", "")
        else:
            verdicts[rel] = ("skip", "not scanned")
    return verdicts, wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default="/work/shared/corpora/scan-peers")
    parser.add_argument("--no-modelscan", action="store_true", help="skip modelscan (venv)")
    parser.add_argument("--misses", action="store_true", help="list every unmet label per tool")
    args = parser.parse_args(argv)
    root = Path(args.corpus)
    rows = read_labels(root)
    os.environ.setdefault("NO_ANALYTICS", "1")

    tools: dict[str, Callable[[Path], Verdict]] = {
        "mlsec-gates": ours,
        "picklescan": picklescan,
        "fickling": fickling_default,
        "fickling-ML": fickling_ml,
    }
    results: dict[str, dict[str, Verdict]] = {name: {} for name in tools}
    wall: dict[str, float] = dict.fromkeys(tools, 0.0)
    for name, tool in tools.items():
        for row in rows:
            path = root / row["path"]
            if not path.is_file():
                results[name][row["path"]] = ("error", "file not found")
                continue
            t0 = time.perf_counter()
            results[name][row["path"]] = tool(path)
            wall[name] += time.perf_counter() - t0
    if not args.no_modelscan:
        results["modelscan"], wall["modelscan"] = modelscan_verdicts(root, rows)

    names = list(results)
    totals = Counter(r["expect"] for r in rows)
    print(f"corpus: {root} ({len(rows)} labelled files); cells: met/total\n")
    print(f"{'expect':<10} {'n':>4} | " + " | ".join(f"{n:>12}" for n in names))
    print("-" * (18 + 15 * len(names)))
    scored_met: Counter[str] = Counter()
    for expect in EXPECTATIONS:
        if not totals[expect]:
            continue
        cells = []
        for name in names:
            ok = sum(
                met(expect, results[name][r["path"]][0]) for r in rows if r["expect"] == expect
            )
            if expect != "any":
                scored_met[name] += ok
            cells.append(f"{ok:>5}/{totals[expect]:<6}")
        print(f"{expect:<10} {totals[expect]:>4} | " + " | ".join(f"{c:>12}" for c in cells))
    scored = sum(totals[e] for e in EXPECTATIONS if e != "any")
    print(
        f"{'total*':<10} {scored:>4} | "
        + " | ".join(f"{f'{scored_met[n]:>5}/{scored:<6}':>12}" for n in names)
    )
    print("  (* excluding 'any')\n")
    for name in names:
        kinds = Counter(v for v, _ in results[name].values())
        breakdown = ", ".join(f"{k}={n}" for k, n in sorted(kinds.items()))
        print(f"{name:<12} wall {wall[name]:7.2f} s   verdicts: {breakdown}")
    for name in names:
        misses = [
            (r["expect"], *results[name][r["path"]], r["path"])
            for r in rows
            if not met(r["expect"], results[name][r["path"]][0])
        ]
        print(f"\nmisses ({name}): {len(misses)}")
        if name == "mlsec-gates" or args.misses:
            for expect, verdict, why, rel in sorted(misses):
                print(f"  expect={expect:<9} got={verdict:<10} {rel}\n      {why[:150]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
