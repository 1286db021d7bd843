"""Shared label logic for the scan benchmarks: read ``labels.csv``, score verdicts.

``labels.csv`` has ``path,expect,source,note``; ``expect`` is one of block / not-pass /
pass / not-block / any. A verdict is ``pass``, ``block``, ``quarantine``, ``error`` or
``skip`` (a tool silently ignored the file: scored like ``pass``, as a CI would see it).
"""

from __future__ import annotations

import csv
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
