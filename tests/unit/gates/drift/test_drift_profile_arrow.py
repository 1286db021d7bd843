"""Parquet summaries straight from Arrow: the same numbers as through pandas, without pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlsec_gates.gates.drift import arrow_csv, profile
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
    assert_same(fast, slow)
    assert "all_null" not in fast.columns.with_values
    fast.load_sample = lambda: profile._parquet_sample(str(path), Storage(), 500)
    pd.testing.assert_frame_equal(fast.rows_sample(), slow.sample)


def assert_same(fast: Any, slow: Any) -> None:
    """The Arrow summaries equal the pandas ones bit for bit (kinds, order, sample facts)."""
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


def csv_both(path: Path, sample_rows: int) -> tuple[Any, Any]:
    """The Arrow CSV summaries and the pandas path's (``read_frame``, then summarise)."""
    from mlsec_gates.gates.drift.data import column_kind, read_frame

    subject = Subject(str(path), "0" * 64, path.stat().st_size, "csv")
    with open(path, "rb") as fh:
        fast = arrow_csv.summarise_csv(fh, subject, sample_rows, str(path))
    frame, _ = read_frame(str(path))
    kinds = {name: column_kind(frame[name]) for name in frame.columns}
    slow = profile.build_profile(frame, subject, kinds, label=None, sample_rows=sample_rows)
    slow.sample = profile.sample_frame(frame, sample_rows)
    return fast, slow


@pytest.mark.parametrize(
    ("suffix", "block"), [(".csv", 1 << 24), (".tsv", 1 << 24), (".csv", 4096)]
)
def test_arrow_csv_summaries_equal_the_pandas_ones(
    tmp_path: Path, suffix: str, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(arrow_csv, "BLOCK_BYTES", block)  # raw text checked in many blocks
    path = tmp_path / f"mixed{suffix}"
    frame = mixed(3000, seed=5).drop(columns=["u8", "f32"])
    rng = np.random.default_rng(6)
    frame["wide"] = rng.normal(0, 1, 3000) * 10.0 ** rng.integers(-30, 30, 3000)  # 17 digits
    frame["day"] = pd.date_range("2020-01-01", periods=3000, freq="h").astype(str)
    frame["tokens"] = rng.choice(np.array(["NA", "NaN", "", "None", "x", "n/a"]), 3000)
    frame.to_csv(path, index=False, sep="\t" if suffix == ".tsv" else ",")
    fast, slow = csv_both(path, sample_rows=500)
    assert_same(fast, slow)
    assert fast.kinds["day"] == "categorical" and fast.kinds["i_null"] == "numeric"
    assert "all_null" not in fast.columns.with_values
    built = profile.summarise_file(str(path), Storage(), sample_rows=500)
    assert built.sample is None and built.columns == fast.columns
    pd.testing.assert_frame_equal(built.rows_sample(), slow.sample)


CSV_TAKEN = {
    "padded ints": "a,b\n 1,x\n2 ,y\n",
    "ints with nulls": "a,b\n1,x\nNA,y\n<NA>,\nNone,z\n",
    "infinities": "a\ninf\n-Infinity\n+iNF\n1.5\nnan\n1e-400\n",
    "text pandas does not read as numbers": "a\n1.5\n1.#INF\n",
    "padded booleans": "a\nTrue \nFalse\n",
    "exponents": "a\n1e5\n.5\n5.\n-2E-3\n",
    "booleans with nulls": "a\nTrue\n\nfalse\nTRUE\n",
    "text that starts like numbers": "a\n1\nx\n1_0\n",
    "dates and times": "a,b\n2020-01-01,12:00:00\n2020-01-02,13:00:00\n",
    "quoted": 'a,b\n"1","x, y"\n"2",""\n',
    "all missing": "a,b\n,1\n,2\n",
    "one row": "a\n0.1\n",
}
CSV_LEFT_TO_PANDAS = {
    "hexadecimal": "a\n0x1A\n2\n",
    "beyond int64": "a\n18446744073709551615\n1\n",
    "signed ints Arrow reads as floats": "a\n+1\n-2\n",
    "NAN Arrow reads as a float": "a\n1.5\nNAN\n",
    "overflow Arrow reads as infinite": "a\n1.5\n1e400\n",
    "numbers Arrow keeps as text": "a\n1.5\nnan \n",
    "zeros and ones Arrow reads as booleans": "a\nTrue\n0\n",
    "duplicate names": "a,a\n1,2\n",
    "unnamed column": "a,\n1,2\n",
    "header only": "a,b\n",
    "ragged": "a,b\n1,2,3\n",
    "not UTF-8": "a\n\xe9t\xe9\n",
    "NUL in a field": "a,b\n1,x\x00y\n2,z\n",
    "NUL in a name": "a\x00c,b\n1,x\n",
}


@pytest.mark.parametrize("text", CSV_TAKEN.values(), ids=CSV_TAKEN.keys())
def test_arrow_csv_takes_what_pandas_reads_the_same(tmp_path: Path, text: str) -> None:
    path = tmp_path / "edge.csv"
    path.write_bytes(text.encode("utf-8"))
    fast, slow = csv_both(path, sample_rows=2)
    assert_same(fast, slow)


@pytest.mark.parametrize("text", CSV_LEFT_TO_PANDAS.values(), ids=CSV_LEFT_TO_PANDAS.keys())
def test_arrow_csv_leaves_the_rest_to_pandas(tmp_path: Path, text: str) -> None:
    path = tmp_path / "edge.csv"
    path.write_bytes(text.encode("latin-1"))
    subject = Subject(str(path), "0" * 64, path.stat().st_size, "csv")
    with open(path, "rb") as fh:
        assert arrow_csv.summarise_csv(fh, subject, 2, str(path)) is None


@pytest.mark.parametrize(
    ("suffix", "source"), [(".parquet", "reference"), (".csv", "reference"), (".csv", "profile")]
)
def test_drift_without_label_never_imports_pandas(tmp_path: Path, suffix: str, source: str) -> None:
    """Importing pandas is most of a small batch's CPU: the gate must not need it here."""
    for name, seed in (("ref", 3), ("cur", 4)):
        frame = mixed(400, seed).drop(columns=["all_null"])
        if suffix == ".csv":
            frame.to_csv(tmp_path / f"{name}{suffix}", index=False)
        else:
            frame.to_parquet(tmp_path / f"{name}{suffix}")
    reference = str(tmp_path / f"ref{suffix}")
    if source == "profile":
        reference = profile.save_profile(
            profile.summarise_file(reference, Storage(), sample_rows=100),
            str(tmp_path / "ref.npz"),
            Storage(),
        )
    code = (
        "import sys\n"
        "from mlsec_gates.gates.drift import drift_gate\n"
        f"r = drift_gate({str(tmp_path / f'cur{suffix}')!r}, "
        f"{source}={reference!r}, report_dir={str(tmp_path / 'out')!r})\n"
        "print(r.status.value, 'pandas' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["pass", "False"]


def test_stored_row_sample_is_read_back_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "ref.parquet"
    mixed(300, seed=9).to_parquet(path)
    built = profile.summarise_file(str(path), Storage(), sample_rows=120)
    saved = profile.save_profile(built, str(tmp_path / "ref.npz"), Storage())
    loaded = profile.load_profile(saved, Storage())
    assert loaded.sample is None
    want, got = built.rows_sample(), loaded.rows_sample()
    assert list(got.columns) == list(want.columns) and len(got) == 120
    for name, kind in built.kinds.items():
        if kind == "numeric":
            np.testing.assert_array_equal(got[name].to_numpy(float), want[name].to_numpy(float))
        else:
            assert got[name].isna().tolist() == want[name].isna().tolist(), name
            shown = want[name].dropna().astype(str).tolist()
            assert got[name].dropna().tolist() == shown, name


def test_large_csv_goes_to_pandas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above MAX_BYTES Arrow's path would hold more memory than pandas': pandas reads it."""
    path = tmp_path / "large.csv"
    mixed(200, seed=10).to_csv(path, index=False)
    small = profile.summarise_file(str(path), Storage(), sample_rows=50)
    monkeypatch.setattr(arrow_csv, "MAX_BYTES", path.stat().st_size - 1)
    large = profile.summarise_file(str(path), Storage(), sample_rows=50)
    assert small.sample is None and large.sample is not None
    assert_same(small, large)
