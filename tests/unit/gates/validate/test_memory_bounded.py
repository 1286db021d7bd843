"""Above ``max_in_memory_rows`` the gate streams the data into SQLite: memory stays bounded.

Each run happens in a fresh child process (``sys.executable -c``) that reports its own peak RSS
(``ru_maxrss``), so imports and earlier runs in the pytest process do not blur the numbers.
The same Parquet layout and suite are validated at N and 10·N rows; both sizes are above the
threshold set by an inline policy, so both take the SQLite path.

Why this bound: importing GX, pandas and SQLAlchemy alone costs ~320-360 MB, so a ratio such as
"RSS(10N) < 3 x RSS(N)" would also hold for the in-memory path (measured: 357 MB at 200k rows,
601 MB at 2M rows in memory, ratio 1.7). What must not grow is the part above that floor: going
from N to 10N rows may add at most half of what the 10N rows take as a pandas DataFrame (the
least the in-memory path needs). Measured on 2 vCPU: 200k rows 357-361 MB, 2M rows 389-392 MB
(+32 MB) against a 141 MB DataFrame (bound 70 MB); the in-memory path adds 244 MB. Most of the
+32 MB is pyarrow pre-buffering the whole Parquet file in ``iter_batches`` (~ the file's size,
33 MB here); ``pre_buffer=False`` makes it flat.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("great_expectations")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
np = pytest.importorskip("numpy")

REPO = Path(__file__).resolve().parents[4]

SMALL = 200_000
LARGE = 10 * SMALL
POLICY = "gates: {validate: {max_in_memory_rows: 50000, chunk_rows: 50000}}"
SUITE = """\
name: narrow
expectations:
  - expect_column_values_to_not_be_null: {column: id}
  - expect_column_values_to_be_unique: {column: id}
  - expect_column_values_to_be_between: {column: value, min_value: -10, max_value: 10}
  - expect_column_values_to_be_in_set: {column: kind, value_set: [a, b, c, d]}
  - expect_column_mean_to_be_between: {column: value, min_value: -0.1, max_value: 0.1}
"""

CHILD = """
import json, resource, sys
from mlsec_gates.gates.validate import validate_gate
data, suite, policy, report_dir = sys.argv[1:5]
result = validate_gate(data, suite=suite, policy=policy, report_dir=report_dir)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"status": result.status.value, "engine": result.details["engine"],
                  "rows": result.metrics["rows"], "rss": rss}))
"""


def _write_parquet(path: Path, rows: int) -> None:
    """Narrow columns (int id, float, short string) in 100k-row row groups."""
    rng = np.random.default_rng(rows)
    writer = None
    step = 100_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        table = pa.table(
            {
                "id": np.arange(start, start + n, dtype="int64"),
                "value": rng.normal(0.0, 1.0, n),
                "kind": pa.array(np.asarray(["a", "b", "c", "d"])[rng.integers(0, 4, n)]),
            }
        )
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def _start(data: Path, suite: Path, report_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), str(suite), POLICY, str(report_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def _finish(proc: subprocess.Popen[str]) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


def test_ten_times_the_rows_does_not_need_ten_times_the_memory(tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE)
    small, large = tmp_path / "small.parquet", tmp_path / "large.parquet"
    _write_parquet(small, SMALL)
    _write_parquet(large, LARGE)

    # Both children at once: 2 cores, and each measures only itself.
    procs = {
        "small": _start(small, suite, tmp_path / "reports-small"),
        "large": _start(large, suite, tmp_path / "reports-large"),
    }
    runs = {name: _finish(proc) for name, proc in procs.items()}
    mb = {name: run["rss"] / 2**20 for name, run in runs.items()}
    frame_mb = 10 * _frame_mb(small)  # the 10N rows as one DataFrame
    growth = mb["large"] - mb["small"]
    print(
        f"\npeak RSS: {SMALL:,} rows {mb['small']:.0f} MB, {LARGE:,} rows {mb['large']:.0f} MB "
        f"(+{growth:.0f} MB, ratio {mb['large'] / mb['small']:.2f}); "
        f"{LARGE:,} rows as a DataFrame: {frame_mb:.0f} MB"
    )
    for name, rows in (("small", SMALL), ("large", LARGE)):
        assert runs[name]["status"] == "pass", runs[name]
        assert runs[name]["engine"] == "sqlite-spill", runs[name]
        assert runs[name]["rows"] == rows, runs[name]

    assert growth < 0.5 * frame_mb, (mb, frame_mb)
    assert mb["large"] < 3 * mb["small"], mb


def _frame_mb(path: Path) -> float:
    return float(pq.read_table(path).to_pandas().memory_usage(deep=True).sum()) / 2**20
