"""Real tabular data sets that ship inside scikit-learn, and deliberately broken copies.

No network: only the ``load_*`` loaders (bundled CSV files), never ``fetch_*``. Every frame
gets an ``id`` column (a key, unique in the whole data set) so that duplicated keys can be
tested, and iris gets its species names, so that a new category is a new *string*.

Each break returns a new frame and leaves its input alone. ``BREAKS`` lists them with the
column they damage and the expectation that must catch it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SPECIES = ("setosa", "versicolor", "virginica")


def _with_id(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    frame.insert(0, "id", np.arange(1, len(frame) + 1, dtype="int64"))
    return frame


def iris() -> pd.DataFrame:
    """150 rows: id, four float64 measurements, int ``target`` and the ``species`` name."""
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame["species"] = frame["target"].map(dict(enumerate(SPECIES)))
    return _with_id(frame)


def wine() -> pd.DataFrame:
    """178 rows: id, 13 float64 chemical measurements and the int class in ``target``."""
    from sklearn.datasets import load_wine

    return _with_id(load_wine(as_frame=True).frame)


def breast_cancer() -> pd.DataFrame:
    """569 rows: id, 30 float64 features and the int ``target`` (0 malignant, 1 benign)."""
    from sklearn.datasets import load_breast_cancer

    return _with_id(load_breast_cancer(as_frame=True).frame)


def diabetes() -> pd.DataFrame:
    """442 rows: id, 10 scaled float64 features and the float64 ``target`` (progression)."""
    from sklearn.datasets import load_diabetes

    return _with_id(load_diabetes(as_frame=True).frame)


DATASETS: dict[str, Callable[[], pd.DataFrame]] = {
    "iris": iris,
    "wine": wine,
    "breast_cancer": breast_cancer,
    "diabetes": diabetes,
}


def split(frame: pd.DataFrame, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and held-out halves, shuffled with a fixed seed.

    Stratified on an integer ``target`` (a class label), so that every class seen later was
    seen in the reference, as it would be for a real trusted batch, not by luck.
    """
    rng = np.random.default_rng(seed)
    shuffled = frame.iloc[rng.permutation(len(frame))]
    if frame["target"].dtype.kind != "i":
        half = (len(frame) + 1) // 2
        groups = [shuffled]
    else:
        groups = [group for _, group in shuffled.groupby("target", sort=True)]
    ref_parts, held_parts = [], []
    for group in groups:
        half = (len(group) + 1) // 2
        ref_parts.append(group.iloc[:half])
        held_parts.append(group.iloc[half:])
    reference = pd.concat(ref_parts).sort_values("id").reset_index(drop=True)
    held_out = pd.concat(held_parts).sort_values("id").reset_index(drop=True)
    return reference, held_out


# -- breaks --------------------------------------------------------------------------------


def drop_column(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """A producer stopped sending a column."""
    return frame.drop(columns=[column])


def as_text(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """A numeric column exported as text with a decimal comma (a locale bug): ``5,1``.

    The comma keeps the change visible through CSV, where ``"5.1"`` would read back as a
    number.
    """
    out = frame.copy()
    out[column] = [f"{v:.4f}".replace(".", ",") for v in out[column]]
    return out


def inject_nulls(frame: pd.DataFrame, column: str, fraction: float = 0.2) -> pd.DataFrame:
    """Every fifth value of a column goes missing (a failed join upstream)."""
    out = frame.copy()
    step = max(1, round(1 / fraction))
    out.loc[out.index[::step], column] = np.nan
    return out


def out_of_range(frame: pd.DataFrame, column: str, rows: int = 3) -> pd.DataFrame:
    """A few values scaled by 1000 (a unit change, or a planted outlier)."""
    out = frame.copy()
    idx = out.index[:rows]
    out.loc[idx, column] = out.loc[idx, column].abs() * 1000 + 1000
    return out


def new_category(frame: pd.DataFrame, column: str, value: object, rows: int = 3) -> pd.DataFrame:
    """A value never seen in the reference appears (a new label, a misspelt class)."""
    out = frame.copy()
    out.loc[out.index[:rows], column] = value
    return out


def duplicate_keys(frame: pd.DataFrame, column: str = "id", rows: int = 3) -> pd.DataFrame:
    """The last rows reuse the keys of the first ones (replayed or duplicated records)."""
    out = frame.copy()
    out.loc[out.index[-rows:], column] = out[column].iloc[:rows].to_numpy()
    return out


@dataclass(frozen=True)
class Break:
    """One way to damage a clean batch, and what must report it."""

    name: str
    dataset: str
    column: str
    expectation: str
    apply: Callable[[pd.DataFrame], pd.DataFrame]


BREAKS: tuple[Break, ...] = (
    Break(
        "dropped-column",
        "wine",
        "alcohol",
        "expect_table_columns_to_match_ordered_list",
        lambda f: drop_column(f, "alcohol"),
    ),
    Break(
        "type-change",
        "iris",
        "sepal length (cm)",
        "expect_column_values_to_be_in_type_list",
        lambda f: as_text(f, "sepal length (cm)"),
    ),
    Break(
        "nulls",
        "diabetes",
        "s5",
        "expect_column_values_to_not_be_null",
        lambda f: inject_nulls(f, "s5"),
    ),
    Break(
        "out-of-range",
        "diabetes",
        "bmi",
        "expect_column_values_to_be_between",
        lambda f: out_of_range(f, "bmi"),
    ),
    Break(
        "new-category-species",
        "iris",
        "species",
        "expect_column_values_to_be_in_set",
        lambda f: new_category(f, "species", "setosa-x"),
    ),
    Break(
        "new-category-wine-class",
        "wine",
        "target",
        "expect_column_values_to_be_in_set",
        lambda f: new_category(f, "target", 3),
    ),
    Break(
        "duplicate-keys",
        "breast_cancer",
        "id",
        "expect_column_values_to_be_unique",
        lambda f: duplicate_keys(f, "id"),
    ),
)


# -- writing -------------------------------------------------------------------------------


def write(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame as CSV, Parquet or JSON lines (by the suffix), without the index."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        raise ValueError(f"unknown suffix {path.suffix}")
    return path


def write_sqlite(frame: pd.DataFrame, path: Path, table: str = "batch") -> str:
    """Write a frame as a SQLite table; returns the SQLAlchemy URL.

    Through a plain ``sqlite3`` connection, so integer columns are declared ``INTEGER``,
    SQLite's own integer type. (Through SQLAlchemy, pandas declares them ``BIGINT``, which
    GX 1.24 cannot name on SQLite: its SQLite type module has no ``BIGINT``, so no type
    list matches such a column.)
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as con:
        frame.to_sql(table, con, index=False, if_exists="replace")
    con.close()
    return f"sqlite:///{path}"
