"""Derive a starter validation suite from a trusted reference batch.

Example:
    >>> from mlsec_gates.gates.validate.profile import profile_suite
    >>> profile_suite("data/train-2024-06.parquet", out="suites/train.yaml")  # doctest: +SKIP
    '/.../suites/train.yaml'

Writing a data contract by hand is where teams give up; a contract derived from data that
is known to be good, then reviewed by a person, is where most of them start. The suite is
deliberately strict, because a validation gate in front of training is also a poisoning
gate: an extra or missing column, a changed type, a burst of nulls, a value outside the
seen range or a label that never existed are each a finding, not a warning to tolerate.

What is derived, column by column (margins in :class:`ProfileSettings`):

- the exact ordered column list and a row-count band around the reference's size;
- the column type, as the pandas dtype name Great Expectations matches plus the SQL type
  names of the same kind, so the suite gives the same verdict on a file and on a table;
- ``not null``, with ``mostly`` a little below the observed non-null rate when the reference
  has nulls;
- a numeric range, widened by a margin of the observed span;
- the allowed values of low-cardinality text, categorical and small-integer columns;
- uniqueness, for columns that are unique in the reference and are named like keys.

The YAML is a reviewable document, not a dump: each block says why it is there, and the
same reference always gives a byte-identical file, so a suite change is a readable diff.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates._common import gate_storage, load_policy
from mlsec_gates.policy import Policy
from mlsec_gates.storage import S3Options, Storage

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ProfileSettings", "profile_frame", "profile_suite"]

GATE = "validate"


@dataclass(frozen=True)
class ProfileSettings:
    """How much room the derived suite leaves around what the reference showed.

    The policy has no section for these yet; they are module defaults.
    """

    range_margin: float = 3.0
    """Numeric bounds are the seen min/max widened by this many times the seen span.

    Wide on purpose: the range check is for impossible values (unit changes, sentinels,
    corrupt records), not drift. The extremes of a small reference are poor estimates of
    the extremes of the next batch; with 10 % of the span, clean held-out halves of
    scikit-learn's iris, wine and breast-cancer sets failed in 55-100 % of 20 random
    splits, and heavy-tailed breast-cancer columns needed up to 2.4x the span.
    """
    null_tolerance: float = 0.02
    """``mostly`` of a not-null check is the observed non-null rate minus this."""
    row_count_min_ratio: float = 0.5
    """A batch needs at least this many times the reference's rows."""
    row_count_max_ratio: float = 2.0
    """A batch may have at most this many times the reference's rows."""
    max_categories: int = 20
    """Text and categorical columns with at most this many distinct values get a value set."""
    max_int_categories: int = 10
    """Integer columns with at most this many distinct values (labels, codes) get one too."""

    def __post_init__(self) -> None:
        if not 0 <= self.range_margin <= 10:
            raise ConfigError(f"range_margin must be between 0 and 10, got {self.range_margin}")
        if not 0 <= self.null_tolerance < 1:
            raise ConfigError(f"null_tolerance must be in [0, 1), got {self.null_tolerance}")
        if not 0 <= self.row_count_min_ratio <= 1 <= self.row_count_max_ratio:
            raise ConfigError(
                "row-count ratios must satisfy 0 <= min <= 1 <= max, got "
                f"{self.row_count_min_ratio} and {self.row_count_max_ratio}"
            )
        if self.max_categories < 0 or self.max_int_categories < 0:
            raise ConfigError("max_categories and max_int_categories must not be negative")


_SQL_TYPES: dict[str, tuple[str, ...]] = {
    "int": ("INTEGER", "BIGINT", "SMALLINT"),
    # PostgreSQL reports float8 as "DOUBLE PRECISION" (GX compares PostgreSQL types by name).
    "float": (
        "FLOAT",
        "REAL",
        "DOUBLE",
        "DOUBLE_PRECISION",
        "DOUBLE PRECISION",
        "NUMERIC",
        "DECIMAL",
    ),
    "bool": ("BOOLEAN", "INTEGER", "SMALLINT"),
    "str": ("TEXT", "VARCHAR", "CHAR", "NVARCHAR", "STRING"),
    "datetime": ("DATETIME", "TIMESTAMP"),
}
"""SQL type names GX accepts for each kind of column.

GX compares them by ``isinstance`` against the dialect's type classes (SQLite, MySQL...) or
by name (PostgreSQL, Snowflake, Databricks...). Names a dialect lacks are skipped, and none of
them is a numpy or pandas dtype name, so they never widen the check on a DataFrame.
Booleans accept integer SQL types because SQLite and MySQL have no boolean type; a value set
of ``[false, true]`` then keeps them to 0 and 1. Known gap (GX 1.24): GX's SQLite type module
has no ``BIGINT``, so a SQLite column declared ``BIGINT`` (pandas' ``to_sql`` through
SQLAlchemy does that for int64) matches no type list; ``INTEGER`` columns are fine.
"""

_NATIVE_NAMES: dict[type, str] = {str: "str", bool: "bool", int: "int", float: "float"}
"""Python value types GX recognises, by name, in an ``object`` column."""

_KEY_NAME = re.compile(r"(?i:(?:^|[^a-z0-9])(?:id|key|uuid|guid|pk))$|[a-z0-9](?:Id|ID|Key|Uuid)$")
"""Names that say "identifier": ``id``, ``customer_id``, ``userId`` (but not ``paid``)."""


# -- entry points ----------------------------------------------------------------------


def profile_suite(
    reference: str,
    *,
    out: str,
    s3: S3Options | None = None,
    policy: Policy | str | None = None,
    name: str | None = None,
) -> str:
    """Profile a trusted reference batch and write a starter suite as YAML.

    Args:
        reference: CSV, TSV, Parquet or JSON Lines file, local or ``s3://`` (read like the
            gate reads its data: format from the extension, else from the content).
        out: where to write the suite (local path or ``s3://`` URI); written atomically.
        s3: how to reach S3 (overrides the policy's ``storage.s3``).
        policy: a policy file path/URI, inline YAML text, a parsed :class:`Policy`, or None;
            only its storage settings are used for now.
        name: the suite name; default the reference's file name without extensions.

    Returns:
        Where the suite went (absolute local path, or the ``s3://`` URI).

    Raises:
        ConfigError: invalid policy, or pandas/pyarrow missing.
        InputError: the reference does not exist, cannot be parsed or has no rows.
        StorageError: S3 or the output directory refused access.
    """
    bootstrap = Storage(s3) if s3 else Storage()
    loaded = load_policy(policy, storage=bootstrap, gate=GATE)
    storage = gate_storage(loaded, s3)
    frame, digest = _read_reference(reference, storage)
    text = profile_frame(
        frame,
        name=name or _stem(reference),
        settings=_settings_from(loaded),
        source=f"{reference} (sha256 {digest})",
    )
    return storage.write_bytes(out, text.encode("utf-8"), content_type="application/yaml")


def profile_frame(
    frame: pd.DataFrame,
    *,
    name: str,
    settings: ProfileSettings | None = None,
    source: str | None = None,
) -> str:
    """The suite YAML for a reference already in memory (see :func:`profile_suite`).

    Args:
        frame: the trusted reference batch.
        name: the suite name.
        settings: margins; default :class:`ProfileSettings`.
        source: what the reference was, for the header comment (no timestamps: the output
            must depend on the data only).

    Raises:
        InputError: the frame has no rows or no columns.
    """
    settings = settings or ProfileSettings()
    if frame.shape[1] == 0:
        raise InputError(f"{source or 'reference'}: no columns to profile")
    if len(frame) == 0:
        raise InputError(f"{source or 'reference'}: no rows to profile")
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise InputError(f"{source or 'reference'}: duplicate column names")
    frame = frame.set_axis(columns, axis=1)

    blocks: list[_Block] = [_table_block(frame, settings)]
    blocks.extend(_column_block(frame[col], settings) for col in columns)
    return _render(name, blocks, frame, source)


# -- reading ---------------------------------------------------------------------------


def _read_reference(uri: str, storage: Storage) -> tuple[pd.DataFrame, str]:
    """The reference as one DataFrame, and the SHA-256 of its bytes for the header.

    Read by the gate's own reader, so the profile sees the dtypes the gate will see. Never
    spilled to SQLite: profiling needs every value in memory (sample a huge reference first).
    """
    from mlsec_gates.gates.validate.data import ReadSettings, open_data

    settings = ReadSettings(max_in_memory_rows=sys.maxsize)
    with open_data(uri, storage=storage, settings=settings) as table:
        return table.frame, table.subject.sha256 or "unknown"


def _pandas() -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise ConfigError("profiling needs pandas: pip install 'mlsec-gates[validate]'") from None
    return pd


def _stem(uri: str) -> str:
    """``s3://b/train-2024.csv`` -> ``train-2024``: the default suite name."""
    name = PurePosixPath(uri.split("?")[0].rstrip("/")).name
    return name.split(".")[0] or "reference"


def _settings_from(policy: Policy) -> ProfileSettings:
    """Margins from a ``gates.validate.profile`` policy section, once one exists."""
    section = getattr(policy.section(GATE), "profile", None)
    if section is None:
        return ProfileSettings()
    fields = ProfileSettings.__dataclass_fields__
    return ProfileSettings(**{k: getattr(section, k) for k in fields if hasattr(section, k)})


# -- deriving expectations -------------------------------------------------------------


@dataclass
class _Block:
    """The expectations about one column (or the table), with the comment that explains them."""

    comment: list[str]
    expectations: list[tuple[str, dict[str, Any]]]


def _table_block(frame: pd.DataFrame, settings: ProfileSettings) -> _Block:
    rows = len(frame)
    low = math.floor(rows * settings.row_count_min_ratio)
    high = math.ceil(rows * settings.row_count_max_ratio)
    return _Block(
        comment=[
            "Table: exactly these columns in this order (a dropped, added, renamed or moved",
            f"column is a finding), and a row count near the reference's {rows} rows",
            f"({settings.row_count_min_ratio:g}x to {settings.row_count_max_ratio:g}x:"
            " a truncated or flooded batch is a finding).",
        ],
        expectations=[
            ("expect_table_columns_to_match_ordered_list", {"column_list": list(frame.columns)}),
            ("expect_table_row_count_to_be_between", {"min_value": low, "max_value": high}),
        ],
    )


def _column_block(series: pd.Series, settings: ProfileSettings) -> _Block:
    column = str(series.name)
    kind, pandas_types = _kind(series)
    rows = len(series)
    values = series.dropna()
    nonnull = len(values)
    distinct = int(values.nunique())
    nulls = rows - nonnull
    stats = [f"{_dtype_name(series)}", f"{nulls} null" if nulls else "no nulls"]
    stats.append(f"{distinct} distinct")

    comment: list[str] = []
    exps: list[tuple[str, dict[str, Any]]] = []

    if kind == "category" or (kind != "other" and not pandas_types):
        comment.append(
            f"type: not checked (GX 1.24 matches no type name to a {series.dtype} column)."
        )
    elif pandas_types:
        exps.append(
            (
                "expect_column_values_to_be_in_type_list",
                {"column": column, "type_list": [*pandas_types, *_SQL_TYPES.get(kind, ())]},
            )
        )
    else:
        comment.append("type: not checked (mixed or unusual Python types in the reference).")

    if nonnull == 0:
        comment.append("null check: none (the column is empty in the reference).")
    elif nulls == 0:
        exps.append(("expect_column_values_to_not_be_null", {"column": column}))
    else:
        # Rounded first, so that 0.9 - 0.02 is 0.88 and not 0.879 (binary fractions).
        mostly = math.floor(round((nonnull / rows - settings.null_tolerance) * 1000, 6)) / 1000
        if mostly > 0:
            exps.append(
                ("expect_column_values_to_not_be_null", {"column": column, "mostly": mostly})
            )
            comment.append(
                f"null check: at least {mostly:.1%} non-null (reference {nonnull / rows:.1%})."
            )

    limit = settings.max_int_categories if kind == "int" else settings.max_categories
    categorical = (
        kind in ("str", "category", "int")
        and 0 < distinct <= limit
        and distinct * 2 <= nonnull
        and _all_plain(values, kind)
    )
    if kind == "bool":
        exps.append(
            ("expect_column_values_to_be_in_set", {"column": column, "value_set": [False, True]})
        )
        comment.append("booleans: SQLite and MySQL store them as integers; only 0/1 may pass.")
    elif categorical:
        exps.append(
            (
                "expect_column_values_to_be_in_set",
                {"column": column, "value_set": _sorted_values(values)},
            )
        )
        comment.append("allowed values: those seen in the reference (a new one is a finding).")

    if kind in ("int", "float") and nonnull:
        low, high = float(values.min()), float(values.max())
        stats.append(f"range {_num(low)}..{_num(high)}")
        if categorical:
            pass  # the value set is stricter than any range
        elif math.isfinite(low) and math.isfinite(high):
            lo, hi = _widen(low, high, settings.range_margin, integer=kind == "int")
            exps.append(
                (
                    "expect_column_values_to_be_between",
                    {"column": column, "min_value": lo, "max_value": hi},
                )
            )
            comment.append(
                f"range: widened by {settings.range_margin:g}x the seen span"
                + ("; floor 0 (never negative in the reference)." if low >= 0 else ".")
            )
        else:
            comment.append("range: not checked (infinite values in the reference).")

    if (
        kind in ("int", "str")
        and nulls == 0
        and distinct == rows
        and rows > 1
        and _KEY_NAME.search(column)
    ):
        exps.append(("expect_column_values_to_be_unique", {"column": column}))
        comment.append("unique: a key in the reference (a duplicate may be a replayed row).")

    header = f"Column {column!r}: {', '.join(stats)}."
    return _Block(comment=[header, *comment], expectations=exps)


def _kind(series: pd.Series) -> tuple[str, list[str]]:
    """What kind of column this is, and the pandas type names GX matches it with.

    GX checks a non-``object`` column by comparing its dtype with ``numpy.dtype(name)`` (or,
    for pandas extension dtypes, with the class named ``name`` built without arguments), and
    an ``object`` column value by value against Python type names (``str``, ``int``...).
    """
    pd = _pandas()
    import numpy as np

    dtype = series.dtype
    api = pd.api.types
    if isinstance(dtype, pd.CategoricalDtype):
        return "category", []
    if api.is_bool_dtype(dtype):
        kind = "bool"
    elif api.is_integer_dtype(dtype):
        kind = "int"
    elif api.is_float_dtype(dtype):
        kind = "float"
    elif api.is_datetime64_any_dtype(dtype):
        kind = "datetime"
    elif api.is_object_dtype(dtype):
        found = {type(v) for v in series.dropna()}
        names = sorted({_NATIVE_NAMES[t] for t in found if t in _NATIVE_NAMES})
        if not found or len(names) != len(found) or len(names) != 1:
            return "other", []
        return names[0], names
    elif api.is_string_dtype(dtype):
        kind = "str"
    else:
        return "other", []

    if isinstance(dtype, np.dtype):
        return kind, [str(dtype)]
    # A pandas extension dtype: GX matches it only when its class, built without arguments,
    # equals it (Int64Dtype, BooleanDtype, StringDtype with the default storage...).
    cls = type(dtype)
    try:
        matches = getattr(pd, cls.__name__, None) is cls and cls() == dtype
    except Exception:  # DatetimeTZDtype() and friends refuse to be built without arguments
        matches = False
    return kind, ([cls.__name__] if matches else [])


def _dtype_name(series: pd.Series) -> str:
    return str(series.dtype)


def _all_plain(values: pd.Series, kind: str) -> bool:
    """Value sets only for text and integers (never floats: equality is brittle)."""
    wanted: tuple[type, ...] = {"str": (str,), "category": (str, int)}.get(kind, (int,))
    return all(isinstance(_plain(v), wanted) for v in values.unique())


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value YAML and GX both understand."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, bytes)) else value


def _sorted_values(values: pd.Series) -> list[Any]:
    return sorted({_plain(v) for v in values.unique()}, key=lambda v: (type(v).__name__, v))


def _widen(low: float, high: float, margin: float, *, integer: bool) -> tuple[Any, Any]:
    """Bounds ``margin`` x span outside the seen ones, rounded outwards to a readable step.

    A column that was never negative keeps 0 as its floor: a negative count, price or
    measurement is a sign flip or a sentinel (-1, -999), not a tail.
    """
    span = high - low
    pad = margin * (span if span > 0 else max(abs(low), abs(high), 1.0))
    lo, hi = low - pad, high + pad
    if low >= 0:
        lo = max(lo, 0.0)
    if integer:
        return math.floor(lo), math.ceil(hi)
    if pad <= 0 or not (math.isfinite(lo) and math.isfinite(hi)):
        return low, high  # no margin, or one that overflows a float
    digits = max(0, -math.floor(math.log10(pad)) + 1)
    step = 10.0**-digits
    return (
        round(math.floor(lo / step) * step, digits),
        round(math.ceil(hi / step) * step, digits),
    )


def _num(value: float) -> str:
    return f"{value:.6g}"


# -- rendering -------------------------------------------------------------------------


def _render(name: str, blocks: list[_Block], frame: pd.DataFrame, source: str | None) -> str:
    if source:  # one comment line, whatever the path contains
        source = " ".join(source.split())
    head = [
        "# Data validation suite derived by mlsec-gates from a trusted reference batch.",
        f"# Reference: {source}" if source else "# Reference: an in-memory DataFrame",
        f"# Shape: {len(frame)} rows x {frame.shape[1]} columns.",
        "#",
        "# A starting point, not a verdict: review every bound and value set, widen what the",
        "# reference could not show, and keep the file under version control. Expectation",
        "# names and arguments are Great Expectations' own (docs: greatexpectations.io).",
        "",
        yaml.safe_dump({"name": name}, default_flow_style=False, allow_unicode=True).rstrip("\n"),
        "expectations:",
    ]
    lines = list(head)
    for block in blocks:
        lines.extend(f"  # {text}" for text in block.comment)
        for kind, kwargs in block.expectations:
            item = _dump([{kind: kwargs}])
            lines.extend("  " + line for line in item.rstrip("\n").split("\n"))
    return "\n".join(lines) + "\n"


def _dump(data: Any) -> str:
    """Deterministic YAML: insertion order, leaf collections in flow style, stable wrapping."""
    return yaml.safe_dump(
        data, sort_keys=False, default_flow_style=None, allow_unicode=True, width=96
    )
