"""Drift gate vs Evidently's DataDriftPreset: wall time, peak memory, same decisions.

    .venv/bin/python benchmarks/drift_speed.py                # 100k and 1M rows x 20 columns
    .venv/bin/python benchmarks/drift_speed.py --rows 100000  # one size

For each size the script writes a reference and a current Parquet file (20 float columns,
three of them drifted: a 0.2 SD shift, a 1.3x scale, 10 % of rows at +3 SD), then runs, each
in its own fresh subprocess so imports and peak memory are counted separately:

- **ours**: ``drift_gate`` (default policy: Evidently's auto tests, normed Wasserstein above
  1000 reference rows), reading the files, computing, writing the JSON/Markdown/HTML reports;
  the Evidently page is off (``evidently_report: false``): it is a people-facing extra;
- **evidently**: reading the same files with pandas, ``Dataset.from_pandas`` and
  ``Report([DataDriftPreset()], include_tests=True).run(...)`` then ``snapshot.dict()``.

Wall time is measured from the start of the child (imports included) and peak RSS with
``resource.getrusage(RUSAGE_SELF).ru_maxrss``. The per-column decisions of both sides are
compared (the match count must be 20 of 20). Goals (docs/drift.md): at 1M rows >= 10x faster
and <= 1 GB peak. The machine may be shared: the script prints the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COLUMNS = 20
DRIFTED = {"c00": "shift 0.2 SD", "c01": "scale x1.3", "c02": "10 % rows at +3 SD"}


def make_data(rows: int, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """Reference and current Parquet files of ``rows`` x 20 floats, three columns drifted."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    names = [f"c{i:02d}" for i in range(COLUMNS)]
    ref = pd.DataFrame(rng.normal(0, 1, (rows, COLUMNS)), columns=names)
    cur = pd.DataFrame(rng.normal(0, 1, (rows, COLUMNS)), columns=names)
    cur["c00"] += 0.2
    cur["c01"] *= 1.3
    hit = rng.random(rows) < 0.10
    cur.loc[hit, "c02"] += 3
    paths = folder / f"ref-{rows}.parquet", folder / f"cur-{rows}.parquet"
    ref.to_parquet(paths[0])
    cur.to_parquet(paths[1])
    return paths


def run_ours(ref: str, cur: str, out: str) -> dict[str, bool]:
    """Our gate on the files; per-column decisions."""
    from mlsec_gates.gates.drift import drift_gate

    result = drift_gate(
        cur,
        reference=ref,
        policy="gates: {drift: {evidently_report: false}}",
        report_dir=out,
    )
    return {c["column"]: bool(c["drifted"]) for c in result.details["checks"]}


def run_evidently(ref: str, cur: str) -> dict[str, bool]:
    """Evidently's DataDriftPreset on the files; per-column decisions."""
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    reference, current = pd.read_parquet(ref), pd.read_parquet(cur)
    definition = DataDefinition(numerical_columns=list(reference.columns))
    snapshot = Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(current, data_definition=definition),
        Dataset.from_pandas(reference, data_definition=definition),
    )
    return {
        t["metric_config"]["params"]["column"]: t["status"] == "FAIL"
        for t in snapshot.dict()["tests"]
        if t["id"] == "drift"
    }


def child(side: str, ref: str, cur: str, out: str) -> None:
    """One side in this (fresh) process; prints one JSON line."""
    import resource

    start = time.perf_counter()
    decisions = run_ours(ref, cur, out) if side == "ours" else run_evidently(ref, cur)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"side": side, "wall": wall, "peak_mb": peak_mb, "decisions": decisions}))


def measure(side: str, ref: Path, cur: Path, out: Path) -> dict:
    """Run one side in a subprocess; wall time includes interpreter start and imports."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", side, str(ref), str(cur), str(out)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        raise SystemExit(f"{side} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_wall"] = time.perf_counter() - start
    return result


def main() -> int:
    """Run both sides per size and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="row counts (repeatable)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    sizes = args.rows or [100_000, 1_000_000]
    print(f"load average before: {os.getloadavg()}, CPUs: {os.cpu_count()}")
    print(f"drifted columns: {DRIFTED}")
    header = f"{'rows':>9} {'side':<10} {'wall s':>8} {'peak MB':>8} {'drifted':>8}"
    failures = 0
    with tempfile.TemporaryDirectory(prefix="drift-speed-") as tmp:
        for rows in sizes:
            ref, cur = make_data(rows, Path(tmp))
            ours = measure("ours", ref, cur, Path(tmp) / f"reports-{rows}")
            theirs = measure("evidently", ref, cur, Path(tmp) / "unused")
            print(header)
            for r in (ours, theirs):
                drifted = sum(r["decisions"].values())
                print(
                    f"{rows:>9} {r['side']:<10} {r['process_wall']:>8.1f} "
                    f"{r['peak_mb']:>8.0f} {drifted:>8}"
                )
            mine, other = ours["decisions"], theirs["decisions"]
            same = sum(mine[c] == other.get(c) for c in mine)
            speedup = theirs["process_wall"] / ours["process_wall"]
            memory = theirs["peak_mb"] / ours["peak_mb"]
            print(
                f"{rows:>9} ratio: {speedup:.1f}x faster, {memory:.1f}x less peak memory; "
                f"per-column decisions matching Evidently: {same} of {len(ours['decisions'])}"
            )
            failures += same != len(ours["decisions"])
    print(f"load average after: {os.getloadavg()}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
