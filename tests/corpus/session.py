"""One generated corpus per test session, shared by the corpus, canary and fuzz tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlsec_gates.gates.scan.engine import FileVerdict, ScanSettings, scan_file

from .generate import Corpus, generate

_CACHE: dict[str, Corpus] = {}


def shared_corpus(factory: pytest.TempPathFactory) -> Corpus:
    """Generate the corpus once under the session's base temp dir, then reuse it."""
    key = str(factory.getbasetemp())
    if key not in _CACHE:
        root = factory.mktemp("scan-corpus")
        _CACHE[key] = generate(root, root / "markers")
    return _CACHE[key]


def scan_entry(corpus: Corpus, entry: dict[str, Any]) -> FileVerdict:
    """Scan one manifest entry with its settings (library call, never a load)."""
    settings = ScanSettings(**(entry.get("settings") or {}))
    path: Path = corpus.path(entry)
    with open(path, "rb") as fh:
        return scan_file(fh, uri=entry["path"], settings=settings)


def finding_text(verdict: FileVerdict) -> str:
    """Every finding's message and evidence, to look for a named payload."""
    return "\n".join(
        f"{f.rule_id} {f.message} {json.dumps(f.evidence or {}, default=str)}"
        for f in verdict.findings
    )


def summary(verdict: FileVerdict, limit: int = 4) -> str:
    """The worst findings in one line each, for assertion messages."""
    worst = sorted(verdict.findings, key=lambda f: f.severity, reverse=True)[:limit]
    return "; ".join(f"{f.rule_id}: {f.message}" for f in worst) or "no findings"
