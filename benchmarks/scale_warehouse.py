"""Validation in place on a 10M-row PostgreSQL table: the gate process's memory stays small.

``python benchmarks/scale_warehouse.py [--rows 10000000] [--pg-url URL]`` loads the first
``--rows`` rows of the big reference file (``benchmarks/scale_data.py``) into a PostgreSQL
table once (``COPY``, 1M rows at a time), then runs the validate gate on it with the suite of
``scale_engines.py`` in a child process: Great Expectations' SQL datasource pushes every
expectation down, no row is pulled out. Prints wall time, the gate process's CPU time and
peak RSS (goal: <= 500 MB), the server's CPU time for the run, and the machine's load.
Without ``--pg-url`` a throw-away cluster is started with ``scripts/pg_test_server.sh``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
TABLE = "bench_validate"


def _load(url: str, source: Path, rows: int) -> None:
    import psycopg
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as con:
        exists = con.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()[0]
        if exists and con.execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0] == rows:
            return
        schema = pq.read_schema(source)
        kinds = {"double": "DOUBLE PRECISION", "int64": "BIGINT", "string": "TEXT"}
        cols = ", ".join(f'"{f.name}" {kinds[str(f.type)]}' for f in schema)
        con.execute(f"DROP TABLE IF EXISTS {TABLE}")
        con.execute(f"CREATE UNLOGGED TABLE {TABLE} ({cols})")
        done = 0
        for batch in pq.ParquetFile(source).iter_batches(batch_size=1_000_000):
            if done >= rows:
                break
            batch = batch.slice(0, rows - done)
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, pacsv.WriteOptions(include_header=False))
            with con.cursor().copy(f"COPY {TABLE} FROM STDIN (FORMAT csv)") as copy:
                copy.write(buffer.getvalue())
            done += batch.num_rows
            print(f"  loaded {done} rows", flush=True)
        con.execute(f"ANALYZE {TABLE}")


def _server_cpu(url: str) -> float:
    """CPU seconds of every PostgreSQL backend of the cluster (from /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                text = fh.read()
        except OSError:
            continue
        if "(postgres)" in text or "(postmaster)" in text:
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
    del url
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--pg-url")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mlsec-scale-bench"))
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from mlsec_gates.gates.validate import validate_gate

        url, suite = args.child
        result = validate_gate(
            None, sql_url=url, table=TABLE, suite=suite, report_dir=str(args.dir / "reports" / "pg")
        )
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(
            json.dumps(
                {
                    "status": result.status.value,
                    "rows": result.metrics["rows"],
                    "expectations": result.metrics["expectations_evaluated"],
                    "failed": result.metrics["expectations_failed"],
                    "peak_mb": usage.ru_maxrss / 1024,
                    "cpu_s": usage.ru_utime + usage.ru_stime,
                }
            )
        )
        return
    from benchmarks.scale_data import generate
    from mlsec_gates.gates.validate.profile import profile_suite

    url = args.pg_url
    if not url:
        started = subprocess.run(
            ["bash", str(HERE.parent / "scripts" / "pg_test_server.sh"), "start"],
            capture_output=True,
            text=True,
            check=True,
        )
        url = started.stdout.strip().split("=", 1)[1]
    big_ref, _ = generate(20_000_000, args.dir)
    small_ref, _ = generate(2_000_000, args.dir)
    profiled = args.dir / "suite.yaml"
    if not profiled.exists():
        profile_suite(str(small_ref), out=str(profiled), name="scale-bench")
    # The profile's row-count band describes the 2M-row file; this table's contract is its size.
    import yaml

    spec = yaml.safe_load(profiled.read_text())
    for entry in spec["expectations"]:
        if "expect_table_row_count_to_be_between" in entry:
            entry["expect_table_row_count_to_be_between"] = {
                "min_value": args.rows // 2,
                "max_value": args.rows * 2,
            }
    suite = args.dir / f"suite-{args.rows}.yaml"
    suite.write_text(yaml.safe_dump(spec, sort_keys=False))
    t0 = time.monotonic()
    _load(url, big_ref, args.rows)
    print(f"table ready in {time.monotonic() - t0:.1f} s", flush=True)
    load, server0, t0 = os.getloadavg()[0], _server_cpu(url), time.monotonic()
    out = subprocess.run(
        [sys.executable, __file__, "--dir", str(args.dir), "--child", url, str(suite)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.monotonic() - t0
    server = _server_cpu(url) - server0
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"validate in place, PostgreSQL, {r['rows']} rows x {r['expectations']} expectations: "
        f"wall {wall:.1f} s, gate cpu {r['cpu_s']:.1f} s, gate peak RSS {r['peak_mb']:.0f} MB "
        f"(goal <= 500), server cpu {server:.1f} s, status {r['status']} ({r['failed']} failed), "
        f"load {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
