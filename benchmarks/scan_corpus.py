"""Evaluate the scan engine on the labelled peer corpus, side by side with fickling.

Usage: python benchmarks/scan_corpus.py [CORPUS_DIR]   (default /work/shared/corpora/scan-peers)

The corpus has ``labels.csv`` (path,expect,source,note) with ``expect`` one of
block / not-pass / pass / not-block / any. Files are read in place (never copied) and
never loaded: both tools only parse them.

Peer "fickling default": ``fickling.loader.scan_zip_archive`` for zips, else
``fickling.loader.scan_file`` (graceful), flagged when severity >= LIKELY_UNSAFE; an
exception or an error-only result counts as "error" (neither pass nor block).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks._corpus import EXPECTATIONS, fickling_default, met, read_labels  # noqa: E402
from mlsec_gates.gates.scan.engine import scan_file  # noqa: E402


def ours(path: Path) -> tuple[str, str, str]:
    with open(path, "rb") as fh:
        result = scan_file(fh, uri=str(path))
    worst = max(result.findings, key=lambda f: f.severity, default=None)
    why = f"{worst.rule_id}: {worst.message}" if worst else ""
    return result.verdict, result.kind, why


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", default="/work/shared/corpora/scan-peers")
    parser.add_argument("--no-peer", action="store_true", help="skip fickling")
    args = parser.parse_args(argv)
    root = Path(args.corpus)
    rows = read_labels(root)

    totals: Counter[str] = Counter()
    met_ours: Counter[str] = Counter()
    met_peer: Counter[str] = Counter()
    verdicts_ours: dict[str, Counter[str]] = defaultdict(Counter)
    verdicts_peer: dict[str, Counter[str]] = defaultdict(Counter)
    misses_ours: list[tuple[str, str, str, str, str]] = []
    misses_peer: list[tuple[str, str, str, str]] = []
    t_ours = 0.0
    t_peer = 0.0
    for row in rows:
        path = root / row["path"]
        expect = row["expect"]
        totals[expect] += 1
        if not path.is_file():
            misses_ours.append((expect, "missing", "", row["path"], "file not found"))
            continue
        t0 = time.perf_counter()
        verdict, kind, why = ours(path)
        t_ours += time.perf_counter() - t0
        verdicts_ours[expect][verdict] += 1
        if met(expect, verdict):
            met_ours[expect] += 1
        else:
            misses_ours.append((expect, verdict, kind, row["path"], why or row["note"]))
        if not args.no_peer:
            t0 = time.perf_counter()
            p_verdict, p_why = fickling_default(path)
            t_peer += time.perf_counter() - t0
            verdicts_peer[expect][p_verdict] += 1
            if met(expect, p_verdict):
                met_peer[expect] += 1
            else:
                misses_peer.append((expect, p_verdict, row["path"], p_why))

    n_files = sum(totals.values())
    print(f"corpus: {root} ({n_files} labelled files)\n")
    header = f"{'expect':<10} {'n':>4} | {'ours met':>9} {'ours verdicts':<34}"
    if not args.no_peer:
        header += f" | {'fickling met':>12} {'fickling verdicts':<30}"
    print(header)
    print("-" * len(header))
    for expect in EXPECTATIONS:
        n = totals[expect]
        if not n:
            continue
        vo = ", ".join(f"{k}={v}" for k, v in sorted(verdicts_ours[expect].items()))
        line = f"{expect:<10} {n:>4} | {met_ours[expect]:>4}/{n:<4} {vo:<34}"
        if not args.no_peer:
            vp = ", ".join(f"{k}={v}" for k, v in sorted(verdicts_peer[expect].items()))
            line += f" | {met_peer[expect]:>6}/{n:<5} {vp:<30}"
        print(line)
    scored = sum(totals[e] for e in EXPECTATIONS if e != "any")
    ours_scored = sum(met_ours[e] for e in EXPECTATIONS if e != "any")
    peer_scored = sum(met_peer[e] for e in EXPECTATIONS if e != "any")
    line = f"{'total*':<10} {scored:>4} | {ours_scored:>4}/{scored:<4} {'':<34}"
    if not args.no_peer:
        line += f" | {peer_scored:>6}/{scored:<5}"
    print(line)
    print("  (* excluding 'any')\n")

    print(f"wall time, ours:     {t_ours:8.3f} s  ({t_ours / max(n_files, 1) * 1000:.1f} ms/file)")
    if not args.no_peer:
        print(
            f"wall time, fickling: {t_peer:8.3f} s  ({t_peer / max(n_files, 1) * 1000:.1f} ms/file)"
        )
        if t_ours > 0:
            print(f"ratio fickling/ours: {t_peer / t_ours:8.2f}x")
        if scored:
            print(
                f"expectations met: ours {ours_scored / scored:.1%}, "
                f"fickling {peer_scored / scored:.1%}"
            )

    print(f"\nmisses (ours): {len(misses_ours)}")
    for expect, verdict, kind, rel, why in sorted(misses_ours):
        print(f"  expect={expect:<9} got={verdict:<10} kind={kind:<12} {rel}\n      {why[:160]}")
    if not args.no_peer:
        print(f"\nmisses (fickling default): {len(misses_peer)}")
        for expect, verdict, rel, why in sorted(misses_peer):
            print(f"  expect={expect:<9} got={verdict:<6} {rel}  [{why[:70]}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
