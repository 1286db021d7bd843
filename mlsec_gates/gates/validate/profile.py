"""Derive a starter validation suite from a trusted reference batch.

Example:
    >>> from mlsec_gates.gates.validate.profile import profile_suite
    >>> profile_suite("data/train-2024-06.parquet", out="suites/train.yaml")  # doctest: +SKIP
    '/.../suites/train.yaml'

Writing a data contract by hand is where teams give up; a contract derived from data that
is known to be good, then reviewed by a person, is where most of them start. The suite is
strict where strictness costs nothing on clean data, and tolerant by exactly what sampling
explains elsewhere, because a validation gate in front of training is also a poisoning
gate: an extra or missing column, a changed type, a burst of nulls, a value far outside the
seen range or a category that never existed are each a finding, while the next clean batch
of the same population passes.

What is derived, column by column (the formulas are in :mod:`.tolerance`):

- the exact ordered column list and a row-count band around the reference's size;
- the column type, as the pandas dtype name Great Expectations matches plus the SQL type
  names of the same kind, so the suite gives the same verdict on a file and on a table;
- a null-share bound (``mostly``) from the reference's null share and the two sample sizes
  (a column never null in the reference allows a rare null, not a burst);
- a range for every numeric and timestamp column (also integers with few distinct values,
  such as bedrooms or garage places), widened by a peaks-over-threshold margin from the
  reference's own tails and size; floor 0 only where the reference shows 0 is a wall;
- a closed value set for text, boolean and categorical columns, and for integer columns that
  are clearly codes (named like ``*_code``, ``type``, ``class``, ``label``, or 0/1 flags),
  only when every value was seen at least 5 times (Good-Turing: rare values announce unseen
  ones);
- for other text (open-ended: names, codes, timestamps stored as text), a closed set of value
  *shapes* (digit runs as ``9``, letter runs as ``a``: :mod:`.shape`) under the same
  at-least-5 rule, as a regular expression: new values of a seen form pass, a foreign form
  fails;
- uniqueness, for columns that are unique in the reference and are named like keys.

The YAML is a reviewable document, not a dump: each block says why it is there, and the
same reference always gives a byte-identical file, so a suite change is a readable diff.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates._common import gate_storage, load_policy
from mlsec_gates.gates.validate import shape, tolerance
from mlsec_gates.policy import Policy
from mlsec_gates.storage import S3Options, Storage

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ProfileSettings", "profile_frame", "profile_suite"]

GATE = "validate"


@dataclass(frozen=True)
class ProfileSettings:
    """How much a clean batch may differ from the reference (``gates.validate.profile``)."""

    false_alarm_rate: float = 0.01
    """Chance that a clean batch of the reference's population fails the suite; split evenly
    over the suite's range and null-share checks (see :mod:`.tolerance`)."""
    row_count_min_ratio: float = 0.5
    """A batch needs at least this many times the reference's rows."""
    row_count_max_ratio: float = 2.0
    """A batch may have at most this many times the reference's rows."""
    max_categories: int = 20
    """Text and categorical columns with at most this many distinct values get a value set."""
    max_int_categories: int = 10
    """Integer code columns with at most this many distinct values get one too."""

    def __post_init__(self) -> None:
        if not 0 < self.false_alarm_rate < 1:
            raise ConfigError(f"false_alarm_rate must be in (0, 1), got {self.false_alarm_rate}")
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

_CODE_WORDS = "code|codes|label|target|class|type|kind|category|status|flag|group"
_CODE_NAME = re.compile(
    rf"(?i:(?:^|[^a-z0-9])(?:{_CODE_WORDS})$|^(?:{_CODE_WORDS})(?:[^a-z0-9]|$))"
    r"|[a-z0-9](?:Code|Label|Class|Type|Kind|Category|Status|Flag|Group)$"
)
"""Names that say "the integers are codes": ``zip_code``, ``target``, ``class``, ``itemType``."""

_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
"""Timestamps in the suite: GX compares them with pandas timestamps and, as text, in SQL."""


# -- entry points ----------------------------------------------------------------------


def profile_suite(
    reference: str | None,
    *,
    out: str,
    sql_url: str | None = None,
    table: str | None = None,
    s3: S3Options | None = None,
    policy: Policy | str | None = None,
    name: str | None = None,
) -> str:
    """Profile a trusted reference batch and write a starter suite as YAML.

    Args:
        reference: CSV, TSV, Parquet or JSON Lines file, local or ``s3://`` (read like the
            gate reads its data: format from the extension, else from the content); None
            with ``sql_url`` and ``table``.
        out: where to write the suite (local path or ``s3://`` URI); written atomically.
        sql_url: SQLAlchemy URL of a database whose ``table`` is the reference.
        table: the reference table in ``sql_url``.
        s3: how to reach S3 (overrides the policy's ``storage.s3``).
        policy: a policy file path/URI, inline YAML text, a parsed :class:`Policy`, or None;
            its ``storage.s3`` and ``gates.validate.profile`` settings are used.
        name: the suite name; default the reference's file (or table) name without extensions.

    Returns:
        Where the suite went (absolute local path, or the ``s3://`` URI).

    Raises:
        ConfigError: invalid policy, not exactly one of ``reference`` or ``sql_url`` +
            ``table``, or pandas/pyarrow missing.
        InputError: the reference does not exist, cannot be parsed or has no rows.
        StorageError: S3 or the output directory refused access.
    """
    bootstrap = Storage(s3) if s3 else Storage()
    loaded = load_policy(policy, storage=bootstrap, gate=GATE)
    storage = gate_storage(loaded, s3)
    if reference and (sql_url or table):
        raise ConfigError("give either a reference file or --sql-url with --table, not both")
    if reference:
        frame, digest = _read_reference(reference, storage)
        source, default_name = f"{reference} (sha256 {digest})", _stem(reference)
    elif sql_url and table:
        frame, source = _read_sql_reference(sql_url, table)
        default_name = table
    else:
        raise ConfigError("nothing to profile: give a reference file, or --sql-url and --table")
    text = profile_frame(
        frame, name=name or default_name, settings=_settings_from(loaded), source=source
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
        settings: tolerances; default :class:`ProfileSettings`.
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

    facts = [_facts(frame[col], settings) for col in columns]
    checks = sum(f.statistical_checks for f in facts)
    alpha = tolerance.per_check_alpha(settings.false_alarm_rate, checks)
    rows = len(frame)
    sizes = _BatchSizes(
        smallest=max(1, math.floor(rows * settings.row_count_min_ratio)),
        largest=max(1, math.ceil(rows * settings.row_count_max_ratio)),
    )
    blocks: list[_Block] = [_table_block(frame, settings)]
    blocks.extend(_column_block(f, sizes, alpha) for f in facts)
    return _render(name, blocks, frame, source, settings, checks, alpha)


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


def _read_sql_reference(sql_url: str, table: str) -> tuple[pd.DataFrame, str]:
    """A reference table read whole through SQLAlchemy (checked first: one-line errors)."""
    import sqlalchemy as sa

    from mlsec_gates.gates.validate.data import open_data, safe_url

    with open_data(None, sql_url=sql_url, table=table) as found:  # existence, readable URL
        where = found.subject.path
    pd = _pandas()
    engine = sa.create_engine(sql_url)
    try:
        with engine.connect() as con:
            frame = pd.read_sql_table(table, con)
    except (sa.exc.SQLAlchemyError, ValueError) as exc:
        raise InputError(f"{safe_url(sql_url)}: cannot read table {table!r}: {exc}") from None
    finally:
        engine.dispose()
    return frame, where


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
    """Tolerances from the policy's ``gates.validate.profile`` section."""
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


@dataclass(frozen=True)
class _BatchSizes:
    smallest: int
    largest: int


@dataclass
class _Facts:
    """What the reference shows about one column, and which rules apply to it."""

    column: str
    series: Any
    kind: str
    pandas_types: list[str]
    rows: int
    nulls: int
    distinct: int
    value_set: list[Any] | None = None
    set_note: str = ""
    shape_regex: str | None = None
    ranged: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def statistical_checks(self) -> int:
        """Checks whose tolerance comes from the shared false-alarm budget."""
        return 2 * int(self.ranged) + int(self.nulls < self.rows)


def _facts(series: pd.Series, settings: ProfileSettings) -> _Facts:
    """Classify one column: its kind, and whether it gets a value set or a range."""
    kind, pandas_types = _kind(series)
    values = series.dropna()
    facts = _Facts(
        column=str(series.name),
        series=series,
        kind=kind,
        pandas_types=pandas_types,
        rows=len(series),
        nulls=len(series) - len(values),
        distinct=int(values.nunique()),
    )
    if kind == "float" and len(values) and bool((values == values.round()).all()):
        # Whole numbers in a float column (a nullable integer read from CSV): a batch
        # without nulls reads back as int64.
        facts.pandas_types = [*pandas_types, "int64"] if pandas_types else pandas_types
    if kind == "bool":
        facts.value_set = [False, True]
        facts.set_note = "booleans: SQLite and MySQL store them as integers; only 0/1 may pass."
        return facts
    textual = kind in ("str", "category")
    code = kind == "int" and _is_code(facts.column, values, settings)
    if (textual or code) and facts.distinct > 0 and _all_plain(values, kind):
        limit = settings.max_int_categories if code else settings.max_categories
        counts = [int(c) for c in values.value_counts(sort=False).to_numpy()]
        if facts.distinct > limit:
            facts.notes.append(f"no value set: {facts.distinct} distinct values (> {limit}).")
        elif not tolerance.closed_set_ok(counts):
            once = sum(1 for c in counts if c == 1)
            facts.notes.append(
                f"no value set: the rarest value was seen {min(counts)} time(s) "
                f"({once} only once), so unseen values are likely (Good-Turing)."
            )
        else:
            facts.value_set = _sorted_values(values)
            facts.set_note = (
                "allowed values: those seen in the reference, each at least "
                f"{tolerance.MIN_VALUE_COUNT} times (a new one is a finding)."
            )
            return facts
    if textual and facts.distinct > 0 and _all_plain(values, "str"):
        _shape_rule(facts, values, settings)
    if kind in ("int", "float", "datetime") and len(values):
        facts.ranged = True
    return facts


def _shape_rule(facts: _Facts, values: pd.Series, settings: ProfileSettings) -> None:
    """Open-ended text: a closed set of value *shapes* when the reference shows one."""
    counts = shape.shape_counts(str(v) for v in values)
    if len(counts) > settings.max_categories:
        facts.notes.append(
            f"no shape check: {len(counts)} distinct shapes (> {settings.max_categories})."
        )
    elif not all(shape.regex_safe(s) for s in counts):
        facts.notes.append("no shape check: values hold control characters (line breaks).")
    elif not tolerance.closed_set_ok(list(counts.values())):
        facts.notes.append(
            f"no shape check: the rarest value shape was seen {min(counts.values())} time(s)."
        )
    else:
        facts.shape_regex = shape.shape_regex(counts)
        shown = ", ".join(repr(s) for s in sorted(counts)[:5])
        more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
        facts.notes.append(
            f"shape: every value has one of the {len(counts)} shape(s) seen, each at least "
            f"{tolerance.MIN_VALUE_COUNT} times ({shown}{more}; digit runs as 9, letter runs "
            "as a): a value of a new form is a finding, new values of a seen form pass."
        )


def _is_code(column: str, values: pd.Series, settings: ProfileSettings) -> bool:
    """Integers that are codes, not quantities: a code-like name, or a 0/1 flag."""
    if values.empty or values.nunique() > settings.max_int_categories:
        return False
    return bool(_CODE_NAME.search(column)) or set(values.unique().tolist()) <= {0, 1}


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


def _column_block(facts: _Facts, sizes: _BatchSizes, alpha: float) -> _Block:
    column, kind, series = facts.column, facts.kind, facts.series
    nonnull = facts.rows - facts.nulls
    stats = [str(series.dtype), f"{facts.nulls} null" if facts.nulls else "no nulls"]
    stats.append(f"{facts.distinct} distinct")
    comment: list[str] = []
    exps: list[tuple[str, dict[str, Any]]] = []

    if kind in ("category", "datetime-tz") or (kind != "other" and not facts.pandas_types):
        comment.append(
            f"type: not checked (GX 1.24 matches no type name to a {series.dtype} column)."
        )
    elif facts.pandas_types:
        exps.append(
            (
                "expect_column_values_to_be_in_type_list",
                {
                    "column": column,
                    "type_list": [*facts.pandas_types, *_SQL_TYPES.get(kind, ())],
                },
            )
        )
    else:
        comment.append("type: not checked (mixed or unusual Python types in the reference).")

    exps_nulls, note = _null_rule(facts, sizes, alpha)
    exps.extend(exps_nulls)
    if note:
        comment.append(note)

    if facts.value_set is not None:
        exps.append(
            ("expect_column_values_to_be_in_set", {"column": column, "value_set": facts.value_set})
        )
        comment.append(facts.set_note)
    if facts.shape_regex is not None:
        exps.append(
            (
                "expect_column_values_to_match_regex",
                {"column": column, "regex": facts.shape_regex},
            )
        )
    comment.extend(facts.notes)

    if facts.ranged:
        range_exp, range_note, seen = _range_rule(facts, sizes, alpha, nonnull)
        stats.append(seen)
        if range_exp:
            exps.append(range_exp)
        comment.append(range_note)

    if (
        kind in ("int", "str")
        and facts.nulls == 0
        and facts.distinct == facts.rows
        and facts.rows > 1
        and _KEY_NAME.search(column)
    ):
        exps.append(("expect_column_values_to_be_unique", {"column": column}))
        comment.append("unique: a key in the reference (a duplicate may be a replayed row).")

    header = f"Column {column!r}: {', '.join(stats)}."
    return _Block(comment=[header, *comment], expectations=exps)


def _null_rule(
    facts: _Facts, sizes: _BatchSizes, alpha: float
) -> tuple[list[tuple[str, dict[str, Any]]], str]:
    """Strictly not-null, a null-share bound (``mostly``), or nothing for an empty column."""
    column, rows, nulls = facts.column, facts.rows, facts.nulls
    if nulls == rows:
        return [], "null check: none (the column is empty in the reference)."
    bound = tolerance.null_share_bound(nulls, rows, batch=sizes.smallest, alpha=alpha)
    # Rounded first, so that 1 - 0.12 is 0.88 and not 0.879 (binary fractions).
    mostly = math.floor(round((1 - bound) * 1000, 6)) / 1000
    if mostly <= 0:
        return [], (
            f"null check: none (reference {nulls / rows:.1%} null; a clean batch of "
            f"{sizes.smallest} rows may be almost all null)."
        )
    return [("expect_column_values_to_not_be_null", {"column": column, "mostly": mostly})], (
        f"null share: at most {1 - mostly:.1%} (reference {nulls / rows:.1%} of {rows} rows, "
        f"plus what sampling explains for a batch of {sizes.smallest}+ rows)."
    )


def _range_rule(
    facts: _Facts, sizes: _BatchSizes, alpha: float, nonnull: int
) -> tuple[tuple[str, dict[str, Any]] | None, str, str]:
    """The range expectation, its comment, and the seen range for the header."""
    import numpy as np

    series = facts.series.dropna()
    batch = max(1, math.ceil(sizes.largest * nonnull / facts.rows))
    if facts.kind == "datetime":
        ns = series.astype("datetime64[ns]").astype("int64").to_numpy()
        values = sorted(float(v) for v in ns)
        bounds = tolerance.range_bounds(values, batch=batch, alpha=alpha)
        span = values[-1] - values[0]
        low = _timestamp(bounds.low if values[0] < 0 else max(bounds.low, 0.0), floor=True)
        # Time moves forward: later batches carry later timestamps, so the upper bound leaves
        # at least one reference span of room after the last timestamp seen.
        high = _timestamp(max(bounds.high, values[-1] + span), floor=False)
        seen = f"range {_timestamp(values[0], True)}..{_timestamp(values[-1], False)}"
        note = (
            f"range: {low} .. {high}: earliest seen minus a tail margin; latest seen plus one "
            "reference span or the tail margin, whichever is wider (later batches are newer)."
        )
        kwargs = {"column": facts.column, "min_value": low, "max_value": high}
        return ("expect_column_values_to_be_between", kwargs), note, seen
    finite = series.to_numpy(dtype=np.float64)
    finite = np.sort(finite[np.isfinite(finite)])
    if finite.size == 0 or finite.size < len(series):
        return None, "range: not checked (infinite values in the reference).", "range -"
    values = finite.tolist()
    seen = f"range {_num(values[0])}..{_num(values[-1])}"
    bounds = tolerance.range_bounds(values, batch=batch, alpha=alpha)
    lo, hi = _round_out(bounds, integer=facts.kind == "int")
    note = (
        f"range: seen min/max widened by tail margins {_num(bounds.margin_low)} / "
        f"{_num(bounds.margin_high)} (peaks-over-threshold model of each tail of "
        f"{len(values)} values, {_side_models(bounds)}; a clean batch stays inside with "
        f"chance >= {1 - alpha:.4%} per side){_floor_note(bounds, values[0])}."
    )
    kwargs = {"column": facts.column, "min_value": lo, "max_value": hi}
    return ("expect_column_values_to_be_between", kwargs), note, seen


def _side_models(bounds: tolerance.Bounds) -> str:
    names = {"linear": "exponential", "gpd": "generalized Pareto", "floor": "floor 0"}
    return f"low side {names[bounds.model_low]}, high side {names[bounds.model_high]}"


def _floor_note(bounds: tolerance.Bounds, seen_min: float) -> str:
    """Why a never-negative column has, or has not, the floor 0."""
    if seen_min < 0 or (bounds.model_low != "floor" and bounds.low >= 0):
        return ""
    lam = f"{bounds.floor_evidence:.2g}"
    if bounds.model_low == "floor":
        return (
            f"; floor 0: never negative, where the lower tail model expected {lam} values "
            "below 0 (0 is a wall)"
        )
    return (
        f"; no floor 0: never negative, but the lower tail model expected only {lam} values "
        "below 0, too few to call 0 a wall"
    )


def _timestamp(ns: float, floor: bool) -> str:
    """Nanoseconds since the epoch as a whole-second timestamp, rounded outwards."""
    import datetime as dt

    seconds = math.floor(ns / 1e9) if floor else math.ceil(ns / 1e9)
    seconds = max(min(seconds, 253402300799), -62135596800)  # years 1..9999
    epoch = dt.datetime(1970, 1, 1)
    return (epoch + dt.timedelta(seconds=seconds)).strftime(_DATETIME_FORMAT)


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
        if getattr(dtype, "tz", None) is not None:
            return "datetime-tz", []  # compared as text in SQL: no portable bound
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


def _round_out(bounds: tolerance.Bounds, *, integer: bool) -> tuple[Any, Any]:
    """The bounds rounded outwards: integers whole, others to about a thousandth of the range."""
    lo, hi = bounds.low, bounds.high
    if integer:
        return math.floor(lo), math.ceil(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return lo, hi
    scale = hi - lo if hi > lo else max(abs(lo), abs(hi))
    if scale <= 0:
        return lo, hi
    digits = max(0, 3 - math.floor(math.log10(scale)))
    step = 10.0**-digits
    slack = scale * 1e-9  # float noise (exp(log(x)) is not always x), never a real margin
    low = round(math.floor(lo / step + 1e-9) * step, digits)
    if low > lo + slack:
        low = round(low - step, digits)
    high = round(math.ceil(hi / step - 1e-9) * step, digits)
    if high < hi - slack:
        high = round(high + step, digits)
    return low, high


def _num(value: float) -> str:
    return f"{value:.6g}"


# -- rendering -------------------------------------------------------------------------


def _render(
    name: str,
    blocks: list[_Block],
    frame: pd.DataFrame,
    source: str | None,
    settings: ProfileSettings,
    checks: int,
    alpha: float,
) -> str:
    if source:  # one comment line, whatever the path contains
        source = " ".join(source.split())
    head = [
        "# Data validation suite derived by mlsec-gates from a trusted reference batch.",
        f"# Reference: {source}" if source else "# Reference: an in-memory DataFrame",
        f"# Shape: {len(frame)} rows x {frame.shape[1]} columns.",
        "#",
        "# Tolerances come from sampling (docs/validate.md, 'How the profile sets its bounds'):",
        f"# a clean batch of the same population fails this suite with chance about "
        f"{settings.false_alarm_rate:g},",
        f"# split over its {checks} range and null-share checks ({alpha:.2g} each). Ranges add",
        "# a peaks-over-threshold margin from each column's own tails (floor 0 only where the",
        "# reference shows 0 is a wall); null shares a binomial margin;",
        "# value sets only when every value was seen at least 5 times (Good-Turing); other",
        "# text gets a shape check under the same rule (digit runs as 9, letter runs as a).",
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
