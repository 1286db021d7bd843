"""Generate (once) the big Parquet batches the scale benchmarks read.

``python benchmarks/scale_data.py [--rows 20000000] [--dir /tmp/mlsec-scale-bench]`` writes
``reference-<rows>.parquet`` and ``current-<rows>.parquet``: 20 columns (14 float64 with
normal, exponential, uniform and heavy-tailed shapes, 3 integers, 2 short strings, a 0/1
label), in 1M-row groups, written one group at a time (memory stays ~300 MB). The current
batch has a 0.25 SD shift in two columns and a different category mix in one. Existing files
are kept: generating 20M x 20 takes minutes on two busy cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

GROUP = 1_000_000


def _group(rng, n: int, current: bool):
    import numpy as np
    import pyarrow as pa

    shift = 0.25 if current else 0.0
    cols = {}
    for i in range(6):
        cols[f"n{i}"] = rng.normal(shift if i < 2 else 0.0, 1.0 + i * 0.1, n)
    for i in range(4):
        cols[f"e{i}"] = rng.exponential(1.0 + i, n)
    for i in range(2):
        cols[f"u{i}"] = rng.uniform(-5, 5, n)
    for i in range(2):
        cols[f"t{i}"] = rng.standard_t(3, n)
    cols["k0"] = rng.integers(0, 1000, n)
    cols["k1"] = rng.integers(0, 50, n)
    cols["k2"] = rng.poisson(3.0, n)
    mix = [0.5, 0.3, 0.2] if not current else [0.4, 0.3, 0.3]
    cols["c0"] = np.asarray(["red", "green", "blue"])[rng.choice(3, n, p=mix)]
    cols["c1"] = np.asarray([f"s{i:02d}" for i in range(12)])[rng.integers(0, 12, n)]
    cols["label"] = (cols["n2"] + rng.normal(0, 1, n) > 0).astype("int64")
    return pa.table(cols)


def generate(rows: int, directory: Path) -> tuple[Path, Path]:
    """Both files (generated if missing); returns their paths."""
    import numpy as np
    import pyarrow.parquet as pq

    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, seed, current in (("reference", 1, False), ("current", 2, True)):
        path = directory / f"{name}-{rows}.parquet"
        out.append(path)
        if path.exists():
            continue
        rng = np.random.default_rng(seed)
        tmp = path.with_suffix(".tmp")
        writer = None
        for start in range(0, rows, GROUP):
            table = _group(rng, min(GROUP, rows - start), current)
            writer = writer or pq.ParquetWriter(tmp, table.schema, compression="snappy")
            writer.write_table(table)
        assert writer is not None
        writer.close()
        tmp.rename(path)
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mlsec-scale-bench"))
    args = parser.parse_args()
    for path in generate(args.rows, args.dir):
        print(path, f"{path.stat().st_size / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
