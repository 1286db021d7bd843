"""Write the scan-gate test corpus into a directory, with a manifest of expected verdicts.

Usage: ``python -m tests.corpus.generate OUT_DIR [--marker-dir DIR]``

Layout: ``OUT/malicious/<name>`` (inert payloads, see :mod:`tests.corpus.malicious`),
``OUT/benign/<name>`` (real files, see :mod:`tests.corpus.benign`), ``OUT/labels.csv`` (the
format of ``benchmarks/scan_peers.py``) and ``OUT/manifest.json``:
a list of entries ``{path, label, expect, item, payload, rule, marker, settings, group}``
where ``expect`` is ``block`` / ``not-pass`` (malicious) or ``pass`` (benign), ``item`` the
checklist item of the notes (§6.4) and ``marker`` the file the payload would create if it
ever ran. Nothing written here is ever loaded.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .benign import write_benign
from .malicious import ITEMS, catalogue


@dataclass(frozen=True)
class Corpus:
    """A generated corpus on disk."""

    root: Path
    marker_dir: Path
    entries: list[dict[str, Any]]

    @property
    def malicious(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["label"] == "malicious"]

    @property
    def benign(self) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["label"] == "benign"]

    def path(self, entry: dict[str, Any]) -> Path:
        return self.root / entry["path"]


def generate(root: Path, marker_dir: Path | None = None, *, benign: bool = True) -> Corpus:
    """Write the corpus under ``root``; payload markers point into ``marker_dir``."""
    root = Path(root)
    marker_dir = Path(marker_dir) if marker_dir else root / "markers"
    marker_dir.mkdir(parents=True, exist_ok=True)
    (root / "malicious").mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    for sample in catalogue():
        if sample.name in seen:
            raise ValueError(f"duplicate sample name {sample.name}")
        seen.add(sample.name)
        marker = str(marker_dir / sample.name)
        (root / "malicious" / sample.name).write_bytes(sample.build(marker))
        entries.append(
            {
                "path": f"malicious/{sample.name}",
                "label": "malicious",
                "expect": sample.expect,
                "item": sample.item,
                "payload": list(sample.payload),
                "rule": list(sample.rule),
                "marker": marker if sample.marker else None,
                "settings": dict(sample.settings),
                "note": sample.note,
            }
        )
    if benign:
        for name, group in write_benign(root / "benign"):
            entries.append(
                {"path": f"benign/{name}", "label": "benign", "expect": "pass", "group": group}
            )
    (root / "manifest.json").write_text(json.dumps(entries, indent=1))
    with open(root / "labels.csv", "w", newline="") as fh:  # for benchmarks/scan_peers.py
        writer = csv.writer(fh)
        writer.writerow(["path", "expect", "source", "note"])
        for e in entries:
            writer.writerow([e["path"], e["expect"], "mlsec-gates", e.get("item") or e["group"]])
    return Corpus(root, marker_dir, entries)


def load(root: Path) -> Corpus:
    """Read a corpus written by :func:`generate`."""
    entries = json.loads((Path(root) / "manifest.json").read_text())
    markers = {Path(e["marker"]).parent for e in entries if e.get("marker")}
    marker_dir = markers.pop() if markers else Path(root) / "markers"
    return Corpus(Path(root), marker_dir, entries)


def main(argv: list[str] | None = None) -> int:
    """Write the corpus and print counts per checklist item and benign format."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--marker-dir", type=Path, default=None)
    parser.add_argument("--no-benign", action="store_true")
    args = parser.parse_args(argv)
    corpus = generate(args.out, args.marker_dir, benign=not args.no_benign)
    by_item: dict[str, int] = {}
    for e in corpus.malicious:
        by_item[e["item"]] = by_item.get(e["item"], 0) + 1
    by_group: dict[str, int] = {}
    for e in corpus.benign:
        by_group[e["group"]] = by_group.get(e["group"], 0) + 1
    print(f"malicious: {len(corpus.malicious)}")
    for item in ITEMS:
        print(f"  {item:<22} {by_item.get(item, 0)}")
    print(f"benign: {len(corpus.benign)}")
    for group, n in sorted(by_group.items()):
        print(f"  {group:<22} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
