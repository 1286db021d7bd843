"""Parquet summaries straight from Arrow: the same numbers as through pandas, without pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlsec_gates.gates.drift import profile
from mlsec_gates.gates.drift.data import BatchColumns
from mlsec_gates.gates.drift.stattests import CategoryCounts, NumericValues
from mlsec_gates.result import Subject
from mlsec_gates.storage import Storage

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def mixed(n: int, seed: int) -> Any:
    """Every plain type the Arrow path takes, with nulls, NaN and infinities."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x": rng.normal(0, 1, n),
            "i": rng.integers(-5, 50, n),
            "u8": rng.integers(0, 3, n).astype("uint8"),
            "f32": rng.normal(0, 1, n).astype("float32"),
            "s": rng.choice(np.array(["a", "b", "c", None], dtype=object), n),
            "b": rng.random(n) < 0.3,
        }
    )
    frame.loc[rng.random(n) < 0.05, "x"] = np.nan
    frame.loc[:2, "x"] = [np.inf, -np.inf, np.nan]
    frame["i_null"] = pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 9, n)), "Int64")
    frame["b_null"] = pd.array(np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.5), "boolean")
    frame["all_null"] = pd.Series([None] * n, dtype="string")
    return frame


def both(path: Path, sample_rows: int) -> tuple[Any, Any]:
    subject = Subject(str(path), "0" * 64, path.stat().st_size, "parquet")
    with open(path, "rb") as fh:
        fast = profile._summarise_parquet_arrow(fh, subject, sample_rows, str(path))
    with open(path, "rb") as fh:
        slow = profile._summarise_parquet(fh, subject, sample_rows, str(path))
    return fast, slow


@pytest.mark.parametrize("row_group_size", [None, 333])
def test_arrow_summaries_equal_the_pandas_ones(tmp_path: Path, row_group_size: Any) -> None:
    path = tmp_path / "mixed.parquet"
    frame = mixed(2000, seed=1)
    frame.index = frame.index * 3  # a stored index column is summarised too
    pq.write_table(pa.Table.from_pandas(frame), path, row_group_size=row_group_size)
    fast, slow = both(path, sample_rows=500)
    assert fast is not None
    assert fast.kinds == slow.kinds and fast.rows == slow.rows
    assert fast.values.keys() == slow.values.keys()
    for name, want in slow.values.items():
        got = fast.values[name]
        assert type(got) is type(want), name
        if isinstance(want, NumericValues):
            assert got.integer == want.integer, name
            assert got.sorted.dtype == want.sorted.dtype
            np.testing.assert_array_equal(got.sorted, want.sorted)
        else:
            assert isinstance(want, CategoryCounts)
            assert got.values.dtype == want.values.dtype, name
            assert got.values.tolist() == want.values.tolist(), name  # first-appearance order
            assert got.counts.tolist() == want.counts.tolist(), name
    assert fast.columns == BatchColumns.of(slow.sample)
    assert "all_null" not in fast.columns.with_values
    fast.load_sample = lambda: profile._parquet_sample(str(path), Storage(), 500)
    pd.testing.assert_frame_equal(fast.rows_sample(), slow.sample)


@pytest.mark.parametrize(
    "extra",
    [
        pd.Series(pd.date_range("2020-01-01", periods=50, freq="h")),
        pd.Series(pd.Categorical(["u", "v"] * 25)),
        pd.Series(np.arange(50, dtype="float16")),
    ],
    ids=["datetime", "dictionary", "float16"],
)
def test_other_types_go_through_pandas(tmp_path: Path, extra: Any) -> None:
    path = tmp_path / "other.parquet"
    frame = mixed(50, seed=2)
    frame["extra"] = extra
    frame.to_parquet(path)
    fast, slow = both(path, sample_rows=20)
    assert fast is None
    summary = profile.summarise_file(str(path), Storage(), sample_rows=20)
    assert summary.sample is not None and summary.kinds == slow.kinds


def test_parquet_drift_without_label_never_imports_pandas(tmp_path: Path) -> None:
    """Importing pandas is most of a small batch's CPU: the gate must not need it here."""
    for name, seed in (("ref", 3), ("cur", 4)):
        mixed(400, seed).drop(columns=["all_null"]).to_parquet(tmp_path / f"{name}.parquet")
    code = (
        "import sys\n"
        "from mlsec_gates.gates.drift import drift_gate\n"
        f"r = drift_gate({str(tmp_path / 'cur.parquet')!r}, "
        f"reference={str(tmp_path / 'ref.parquet')!r}, report_dir={str(tmp_path / 'out')!r})\n"
        "print(r.status.value, 'pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["pass", "False"]
