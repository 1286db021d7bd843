"""Shared label logic for the scan benchmarks: read ``labels.csv``, score verdicts.

``labels.csv`` has ``path,expect,source,note``; ``expect`` is one of block / not-pass /
pass / not-block / any. A verdict is ``pass``, ``block``, ``quarantine``, ``error`` or
``skip`` (a tool silently ignored the file: scored like ``pass``, as a CI would see it).
"""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
from pathlib import Path

EXPECTATIONS = ("block", "not-pass", "pass", "not-block", "any")


def met(expect: str, verdict: str) -> bool:
    """Does ``verdict`` satisfy the label ``expect``? (error/quarantine are not-pass.)"""
    if verdict == "skip":
        verdict = "pass"
    if expect == "block":
        return verdict == "block"
    if expect == "not-pass":
        return verdict != "pass"
    if expect == "pass":
        return verdict == "pass"
    if expect == "not-block":
        return verdict != "block"
    return True


def read_labels(root: Path) -> list[dict[str, str]]:
    """The rows of ``root/labels.csv``."""
    with open(root / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def fickling_default(path: Path) -> tuple[str, str]:
    """fickling's default scan of ``path`` (zip archives member by member): (verdict, why).

    Its output is swallowed; ``why`` is fickling's worst severity name or its error.
    """
    from fickling.analysis import Severity
    from fickling.loader import scan_file as f_scan_file
    from fickling.loader import scan_zip_archive

    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            if zipfile.is_zipfile(path):
                results = list(scan_zip_archive(str(path), graceful=True).values())
            else:
                results = [f_scan_file(str(path), graceful=True)]
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"[:120]
    if any(r.severity >= Severity.LIKELY_UNSAFE for r in results):
        worst = max(r.severity for r in results)
        return "block", worst.name
    if any(r.errors for r in results):
        return "error", "; ".join(e for r in results for e in r.errors)[:120]
    worst = max((r.severity for r in results), default=Severity.LIKELY_SAFE)
    return "pass", worst.name
