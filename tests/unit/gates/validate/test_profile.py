"""profile_suite: a starter suite derived from a trusted reference, on real data sets.

The reference and held-out halves come from scikit-learn's bundled data sets (iris, wine,
breast cancer, diabetes; see tests/datasets.py). A suite profiled on the reference must let
the reference itself and the clean held-out half pass the gate, from CSV, Parquet and SQLite.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("great_expectations")
pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from mlsec_gates.errors import ConfigError, InputError  # noqa: E402
from mlsec_gates.gates.validate import validate_gate  # noqa: E402
from mlsec_gates.gates.validate.profile import (  # noqa: E402
    ProfileSettings,
    profile_frame,
    profile_suite,
)
from mlsec_gates.gates.validate.suite import parse_suite  # noqa: E402
from mlsec_gates.result import Status  # noqa: E402
from mlsec_gates.storage import S3Options  # noqa: E402
from tests import datasets as ds  # noqa: E402

EMITTED = {
    "expect_table_columns_to_match_ordered_list",
    "expect_table_row_count_to_be_between",
    "expect_column_values_to_be_in_type_list",
    "expect_column_values_to_not_be_null",
    "expect_column_values_to_be_between",
    "expect_column_values_to_be_in_set",
    "expect_column_values_to_be_unique",
    "expect_column_values_to_match_regex",
}
"""Every expectation type the profiler may write (each is smoke-tested below)."""


@pytest.fixture(scope="module")
def iris_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("iris")
    reference, held_out = ds.split(ds.iris())
    return {
        "reference.csv": ds.write(reference, root / "reference.csv"),
        "reference.parquet": ds.write(reference, root / "reference.parquet"),
        "held_out.csv": ds.write(held_out, root / "held_out.csv"),
        "root": root,
    }


@pytest.fixture(scope="module")
def iris_suite(iris_files: dict[str, Path]) -> Path:
    out = iris_files["root"] / "suites" / "iris.yaml"
    return Path(profile_suite(str(iris_files["reference.csv"]), out=str(out), name="iris"))


def _entries(path: Path) -> list[tuple[str, dict]]:
    doc = yaml.safe_load(path.read_text())
    return [next(iter(item.items())) for item in doc["expectations"]]


def _by_column(entries: list[tuple[str, dict]], column: str) -> dict[str, dict]:
    return {kind: kwargs for kind, kwargs in entries if kwargs.get("column") == column}


class TestSuiteFile:
    def test_written_where_asked_and_returned(self, iris_files: dict, iris_suite: Path) -> None:
        assert iris_suite == (iris_files["root"] / "suites" / "iris.yaml").resolve()
        assert iris_suite.read_text().startswith("# Data validation suite derived by")

    def test_deterministic(self, iris_files: dict, iris_suite: Path, tmp_path: Path) -> None:
        again = profile_suite(str(iris_files["reference.csv"]), out=str(tmp_path / "again.yaml"))
        text = Path(again).read_text()
        assert text.replace("name: reference", "name: iris") == iris_suite.read_text()
        assert (
            Path(again).read_bytes()
            == Path(
                profile_suite(str(iris_files["reference.csv"]), out=str(tmp_path / "third.yaml"))
            ).read_bytes()
        )

    def test_same_suite_from_csv_and_parquet(self, iris_files: dict, iris_suite: Path) -> None:
        """Only the header line naming the file differs: both readers give the same frame."""
        parquet = profile_suite(
            str(iris_files["reference.parquet"]),
            out=str(iris_files["root"] / "from-parquet.yaml"),
            name="iris",
        )
        csv_lines = iris_suite.read_text().splitlines()
        pq_lines = Path(parquet).read_text().splitlines()
        assert len(csv_lines) == len(pq_lines)
        differ = [i for i, (a, b) in enumerate(zip(csv_lines, pq_lines, strict=True)) if a != b]
        assert differ == [1] and csv_lines[1].startswith("# Reference:")

    def test_parses_with_the_gate_parser(self, iris_suite: Path) -> None:
        suite = parse_suite(iris_suite.read_text(), source=str(iris_suite))
        assert suite.name == "iris"
        # Iris has no open-ended text, so no shape check.
        assert {spec.type for spec in suite.expectations} == EMITTED - {
            "expect_column_values_to_match_regex"
        }

    def test_header_names_the_reference_and_its_digest(
        self, iris_files: dict, iris_suite: Path
    ) -> None:
        import hashlib

        digest = hashlib.sha256(iris_files["reference.csv"].read_bytes()).hexdigest()
        header = iris_suite.read_text().splitlines()[1]
        assert str(iris_files["reference.csv"]) in header and digest in header

    def test_every_block_is_commented(self, iris_suite: Path) -> None:
        lines = iris_suite.read_text().splitlines()
        for column in ds.iris().columns:
            assert any(line.strip().startswith(f"# Column {column!r}:") for line in lines)

    def test_default_name_is_the_file_stem(self, iris_files: dict, tmp_path: Path) -> None:
        out = profile_suite(str(iris_files["reference.csv"]), out=str(tmp_path / "s.yaml"))
        assert yaml.safe_load(Path(out).read_text())["name"] == "reference"


@pytest.fixture(scope="module")
def entries(iris_suite: Path) -> list[tuple[str, dict]]:
    return _entries(iris_suite)


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return ds.split(ds.iris())[0]


class TestIrisSuiteContent:
    """The security-minded defaults, checked on the exact suite a clean iris reference gives."""

    def test_schema_is_exact(self, entries: list, reference: pd.DataFrame) -> None:
        kind, kwargs = entries[0]
        assert kind == "expect_table_columns_to_match_ordered_list"
        assert kwargs == {"column_list": list(reference.columns)}

    def test_row_count_band(self, entries: list, reference: pd.DataFrame) -> None:
        kwargs = dict(entries)["expect_table_row_count_to_be_between"]
        n = len(reference)
        assert kwargs == {"min_value": math.floor(n / 2), "max_value": 2 * n}

    def test_types_are_the_names_gx_matches(self, entries: list) -> None:
        types = {
            kwargs["column"]: kwargs["type_list"]
            for kind, kwargs in entries
            if kind == "expect_column_values_to_be_in_type_list"
        }
        assert types["id"][0] == "int64" and "INTEGER" in types["id"]
        assert types["sepal length (cm)"][0] == "float64" and "REAL" in types["sepal length (cm)"]
        assert types["species"][0] == "str" and "TEXT" in types["species"]
        assert len(types) == len(ds.iris().columns)

    def test_never_null_allows_a_rare_null_not_a_burst(self, entries: list) -> None:
        """75 rows without nulls: a clean batch may carry a few, a failed join's 20 % fails."""
        nulls = [kw for kind, kw in entries if kind == "expect_column_values_to_not_be_null"]
        assert len(nulls) == len(ds.iris().columns)
        assert all(0.8 < kw["mostly"] < 1 for kw in nulls)

    def test_numeric_ranges_contain_the_reference(
        self, entries: list, reference: pd.DataFrame
    ) -> None:
        ranges = {
            kw["column"]: (kw["min_value"], kw["max_value"])
            for kind, kw in entries
            if kind == "expect_column_values_to_be_between"
        }
        assert "target" not in ranges  # a label: the value set is stricter
        assert set(ranges) == {"id", *(c for c in reference.columns if "(cm)" in c)}
        for column, (low, high) in ranges.items():
            assert low <= reference[column].min() and reference[column].max() <= high

    def test_categories(self, entries: list) -> None:
        sets = {
            kw["column"]: kw["value_set"]
            for kind, kw in entries
            if kind == "expect_column_values_to_be_in_set"
        }
        assert sets == {"species": list(ds.SPECIES), "target": [0, 1, 2]}

    def test_only_the_key_is_unique(self, entries: list) -> None:
        unique = [kw for kind, kw in entries if kind == "expect_column_values_to_be_unique"]
        assert unique == [{"column": "id"}]

    def test_no_quantile_expectation(self, iris_suite: Path) -> None:
        """It crashes GX 1.24 on numpy 2.4 (notes section 3.3)."""
        assert "quantile" not in iris_suite.read_text()


class TestDerivationRules:
    """profile_frame on small synthetic frames: one rule at a time."""

    def _entries(self, frame: pd.DataFrame, **settings: object) -> list[tuple[str, dict]]:
        text = profile_frame(frame, name="t", settings=ProfileSettings(**settings))  # type: ignore[arg-type]
        return [next(iter(item.items())) for item in yaml.safe_load(text)["expectations"]]

    def test_nulls_give_mostly_below_the_observed_rate(self) -> None:
        """10 % nulls in 1,000 rows: the bound sits a sampling margin above 10 %."""
        frame = pd.DataFrame({"x": [None if i % 10 == 0 else float(i) for i in range(1000)]})
        kw = _by_column(self._entries(frame), "x")["expect_column_values_to_not_be_null"]
        assert 0.8 < kw["mostly"] < 0.9

    def test_tiny_reference_gets_no_null_bound(self) -> None:
        """One null in ten rows says almost nothing about a 5-row batch: no check, a comment."""
        frame = pd.DataFrame({"x": [1.0, None, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]})
        assert "expect_column_values_to_not_be_null" not in _by_column(self._entries(frame), "x")

    def test_tolerances_come_from_the_settings(self) -> None:
        rng = np.random.default_rng(0)
        frame = pd.DataFrame({"x": rng.normal(0, 1, 2000)})
        loose = _by_column(self._entries(frame), "x")["expect_column_values_to_be_between"]
        tight = _by_column(self._entries(frame, false_alarm_rate=0.5), "x")[
            "expect_column_values_to_be_between"
        ]
        assert loose["min_value"] < tight["min_value"] < frame.x.min()
        assert frame.x.max() < tight["max_value"] < loose["max_value"]
        entries = self._entries(frame, row_count_min_ratio=0.9)
        assert dict(entries)["expect_table_row_count_to_be_between"] == {
            "min_value": 1800,
            "max_value": 4000,
        }

    def test_integers_with_few_values_get_a_range_not_a_set(self) -> None:
        """Bedrooms 1..5: a sixth bedroom is a bigger house, not a broken contract."""
        frame = pd.DataFrame({"bedrooms": [1, 2, 2, 3, 3, 3, 4, 4, 5] * 20})
        kinds = _by_column(self._entries(frame), "bedrooms")
        assert "expect_column_values_to_be_in_set" not in kinds
        between = kinds["expect_column_values_to_be_between"]
        assert between["min_value"] <= 1 and between["max_value"] >= 6

    def test_integer_codes_and_flags_get_a_set(self) -> None:
        frame = pd.DataFrame({"zip_code": [1, 2, 3] * 20, "smoker": [0, 1] * 30})
        entries = self._entries(frame)
        assert _by_column(entries, "zip_code")["expect_column_values_to_be_in_set"] == {
            "column": "zip_code",
            "value_set": [1, 2, 3],
        }
        assert _by_column(entries, "smoker")["expect_column_values_to_be_in_set"]["value_set"] == [
            0,
            1,
        ]

    def test_rare_values_mean_no_closed_set(self) -> None:
        """A value seen only a few times says more unseen ones exist (Good-Turing)."""
        frame = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50 + ["c"] * 2})
        kinds = _by_column(self._entries(frame), "c")
        assert "expect_column_values_to_be_in_set" not in kinds

    def test_heavy_tails_get_wider_margins(self) -> None:
        rng = np.random.default_rng(1)
        light = pd.DataFrame({"x": rng.uniform(1, 2, 2000)})
        heavy = pd.DataFrame({"x": rng.pareto(1.5, 2000) + 1})
        lx = _by_column(self._entries(light), "x")["expect_column_values_to_be_between"]
        hx = _by_column(self._entries(heavy), "x")["expect_column_values_to_be_between"]
        assert lx["max_value"] < 2 * light.x.max()
        assert hx["max_value"] > 2 * heavy.x.max()

    def test_datetimes_get_a_range_with_room_for_newer_batches(self) -> None:
        frame = pd.DataFrame({"when": pd.date_range("2024-01-01", periods=100, freq="D")})
        between = _by_column(self._entries(frame), "when")["expect_column_values_to_be_between"]
        assert between["min_value"] < "2024-01-01 00:00:00"
        assert between["max_value"] >= "2024-07-07 00:00:00"  # the last day plus one span

    def test_bounds_are_rounded_outwards(self) -> None:
        frame = pd.DataFrame({"x": [0.1234, 0.5678, 0.3, 0.4, 0.45] * 40})
        kw = _by_column(self._entries(frame), "x")["expect_column_values_to_be_between"]
        assert kw["min_value"] <= 0.1234 and kw["max_value"] >= 0.5678
        for bound in (kw["min_value"], kw["max_value"]):
            assert len(repr(bound)) <= 6

    def test_high_cardinality_text_gets_no_value_set(self) -> None:
        frame = pd.DataFrame({"name": [f"n{i}" for i in range(30)]})
        assert "expect_column_values_to_be_in_set" not in _by_column(self._entries(frame), "name")

    def test_open_ended_text_gets_a_shape_check(self) -> None:
        """Timestamps stored as text, all unique: no value set, but their form is checked."""
        stamps = pd.date_range("2024-01-01", periods=200, freq="37min").strftime("%Y-%m-%d %H:%M")
        kinds = _by_column(self._entries(pd.DataFrame({"t": list(stamps)})), "t")
        assert "expect_column_values_to_be_in_set" not in kinds
        regex = kinds["expect_column_values_to_match_regex"]["regex"]
        assert regex == "^[0-9]+-[0-9]+-[0-9]+ [0-9]+:[0-9]+$"

    def test_rare_shape_means_no_shape_check(self) -> None:
        """A form seen only once says more unseen forms exist: no shape check, a comment."""
        names = [f"Name{chr(65 + i % 26)}x" for i in range(100)] + ["O'Brien"]
        frame = pd.DataFrame({"name": names})
        text = profile_frame(frame, name="t")
        assert "expect_column_values_to_match_regex" not in text
        assert "no shape check: the rarest value shape was seen 1 time(s)" in text

    def test_shape_check_passes_new_values_and_fails_a_foreign_form(self, tmp_path: Path) -> None:
        """Country codes: an unseen code passes, ``__never_seen__`` and ``12`` fail."""
        codes = [a + b for a in "ABCDEFGHIJ" for b in "KLMNOPQRST"]  # 100 codes, each once
        ref = ds.write(pd.DataFrame({"iso2": codes * 2}), tmp_path / "ref.csv")
        suite = profile_suite(str(ref), out=str(tmp_path / "s.yaml"))
        assert "expect_column_values_to_match_regex" in Path(suite).read_text()
        clean = ds.write(pd.DataFrame({"iso2": ["ZZ", "AK", "QX"] * 40}), tmp_path / "c.csv")
        got = validate_gate(str(clean), suite=suite, report_dir=str(tmp_path / "r1"))
        assert got.status is Status.PASS, [f.message for f in got.findings]
        bad = ds.write(
            pd.DataFrame({"iso2": ["AK"] * 117 + ["__never_seen__", "12", "A-B"]}),
            tmp_path / "b.csv",
        )
        got = validate_gate(str(bad), suite=suite, report_dir=str(tmp_path / "r2"))
        assert got.status is not Status.PASS
        assert any("iso2" in f.message and "regex" in str(f.evidence) for f in got.findings)

    def test_unique_but_not_a_key_is_not_checked(self) -> None:
        frame = pd.DataFrame({"paid": list(range(10)), "customer_id": list(range(10))})
        entries = self._entries(frame)
        assert "expect_column_values_to_be_unique" not in _by_column(entries, "paid")
        assert "expect_column_values_to_be_unique" in _by_column(entries, "customer_id")

    def test_categorical_dtype_has_a_value_set_but_no_type(self) -> None:
        """GX 1.24 matches no type name against a pandas categorical column."""
        frame = pd.DataFrame({"c": pd.Categorical(["a", "b"] * 5)})
        kinds = _by_column(self._entries(frame), "c")
        assert "expect_column_values_to_be_in_type_list" not in kinds
        assert kinds["expect_column_values_to_be_in_set"]["value_set"] == ["a", "b"]

    def test_extension_dtypes_use_gx_class_names(self) -> None:
        frame = pd.DataFrame(
            {
                "i": pd.array([1, None, 3, 4] * 10, dtype="Int64"),
                "s": pd.array(["a", "b"] * 20, dtype="string"),
            }
        )
        entries = self._entries(frame)
        assert _by_column(entries, "i")["expect_column_values_to_be_in_type_list"]["type_list"][
            0
        ] == ("Int64Dtype")
        assert _by_column(entries, "s")["expect_column_values_to_be_in_type_list"]["type_list"][
            0
        ] == ("StringDtype")

    def test_empty_column_gets_no_null_check(self) -> None:
        frame = pd.DataFrame({"x": [None] * 4, "y": [1, 2, 3, 4]})
        assert "expect_column_values_to_not_be_null" not in _by_column(self._entries(frame), "x")

    def test_empty_reference_is_an_input_error(self) -> None:
        with pytest.raises(InputError, match="no rows"):
            profile_frame(pd.DataFrame({"x": []}), name="t")

    def test_invalid_settings(self) -> None:
        with pytest.raises(ConfigError, match="row-count"):
            ProfileSettings(row_count_min_ratio=2.0)

    def test_missing_reference_is_an_input_error(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="no such file"):
            profile_suite(str(tmp_path / "absent.csv"), out=str(tmp_path / "s.yaml"))
        assert not (tmp_path / "s.yaml").exists()


@pytest.mark.s3
def test_reference_and_suite_on_s3(s3_env: str, s3_bucket: str, tmp_path: Path) -> None:
    """Read the reference from S3 and write the suite there: same suite as from a local file."""
    import boto3

    reference, _ = ds.split(ds.iris())
    client = boto3.client("s3", endpoint_url=s3_env)
    client.put_object(
        Bucket=s3_bucket, Key="data/ref.csv", Body=reference.to_csv(index=False).encode()
    )
    uri = f"s3://{s3_bucket}/suites/iris.yaml"
    out = profile_suite(
        f"s3://{s3_bucket}/data/ref.csv", out=uri, s3=S3Options(endpoint_url=s3_env)
    )
    assert out == uri
    remote = client.get_object(Bucket=s3_bucket, Key="suites/iris.yaml")["Body"].read().decode()
    local = profile_suite(str(ds.write(reference, tmp_path / "ref.csv")), out=str(tmp_path / "s"))
    assert remote.splitlines()[2:] == Path(local).read_text().splitlines()[2:]
    assert f"s3://{s3_bucket}/data/ref.csv" in remote.splitlines()[1]


# -- through the gate ----------------------------------------------------------------------


@pytest.mark.parametrize("dataset", sorted(ds.DATASETS))
def test_clean_reference_passes(dataset: str, tmp_path: Path) -> None:
    """The reference passes its own suite, as the file and as a SQLite table.

    The held-out halves (CSV, Parquet, SQLite) are the control of test_breaks.py.
    """
    reference, _ = ds.split(ds.DATASETS[dataset]())
    ref_csv = ds.write(reference, tmp_path / "reference.csv")
    suite = profile_suite(str(ref_csv), out=str(tmp_path / "suite.yaml"))
    runs = {
        "csv": validate_gate(str(ref_csv), suite=suite, report_dir=str(tmp_path / "r1")),
        "sqlite": validate_gate(
            None,
            sql_url=ds.write_sqlite(reference, tmp_path / "reference.db"),
            table="batch",
            suite=suite,
            report_dir=str(tmp_path / "r2"),
        ),
    }
    for name, result in runs.items():
        assert result.status is Status.PASS, (name, [f.message for f in result.findings])
        assert result.metrics["expectations_failed"] == 0
        assert result.metrics["rows"] == len(reference)


def test_profile_from_a_sql_table_equals_the_file_profile(tmp_path: Path) -> None:
    """The same rows as a CSV file and as a SQLite table give the same expectations."""
    reference, _ = ds.split(ds.wine())
    from_file = profile_suite(
        str(ds.write(reference, tmp_path / "ref.csv")), out=str(tmp_path / "a")
    )
    url = ds.write_sqlite(reference, tmp_path / "ref.db")
    from_sql = profile_suite(None, sql_url=url, table="batch", out=str(tmp_path / "b"))
    assert _entries(Path(from_file)) == _entries(Path(from_sql))
    assert "ref.db#batch" in Path(from_sql).read_text().splitlines()[1]
    with pytest.raises(InputError, match="no such table"):
        profile_suite(None, sql_url=url, table="absent", out=str(tmp_path / "c"))


def test_every_emitted_type_runs_through_gx(tmp_path: Path) -> None:
    """Smoke matrix: each expectation type, each column kind, pandas and SQLite, no GX error."""
    n = 60
    frame = pd.DataFrame(
        {
            "order_id": range(n),
            "amount": [float(i % 7) if i % 10 else None for i in range(n)],
            "flag": [i % 2 == 0 for i in range(n)],
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "code": pd.array([i % 3 for i in range(n)], dtype="Int64"),
            "label": pd.array(["a", "b", "c"] * (n // 3), dtype="string"),
            "tier": pd.Categorical(["gold", "silver"] * (n // 2)),
            "note": [f"free text {i}" for i in range(n)],
        }
    )
    ref = ds.write(frame, tmp_path / "ref.parquet")
    suite = Path(profile_suite(str(ref), out=str(tmp_path / "suite.yaml")))
    assert {kind for kind, _ in _entries(suite)} == EMITTED

    on_file = validate_gate(str(ref), suite=str(suite), report_dir=str(tmp_path / "r1"))
    on_sql = validate_gate(
        None,
        sql_url=ds.write_sqlite(frame, tmp_path / "ref.db"),
        table="batch",
        suite=str(suite),
        report_dir=str(tmp_path / "r2"),
    )
    assert on_file.status is Status.PASS, [f.message for f in on_file.findings]
    errors = [f.message for f in on_sql.findings if f.rule_id == "validate.expectation-error"]
    assert errors == []
    # In SQLite a categorical column is plain TEXT and a boolean an INTEGER: the suite
    # (value sets, integer-compatible boolean type) is written so that both still pass.
    assert on_sql.status is Status.PASS, [f.message for f in on_sql.findings]
