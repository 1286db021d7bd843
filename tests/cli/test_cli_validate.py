"""``mlsec-gates validate`` and ``validate-profile``: exit codes, --json-out, one-line errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import jsonschema
import pytest

from mlsec_gates.cli import main

pd = pytest.importorskip("pandas")
pytest.importorskip("great_expectations")

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "report-schema.json").read_text()
)
SUITE = """\
name: contract
expectations:
  - expect_column_values_to_not_be_null: {column: id}
  - expect_column_values_to_be_between: {column: age, min_value: 0, max_value: 120}
"""


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.csv"
    pd.DataFrame({"id": [1, 2, 3], "age": [20, 30, 40]}).to_csv(good, index=False)
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"id": [1, 2, 3], "age": [20, 300, 40]}).to_parquet(bad, index=False)
    empty = tmp_path / "empty.csv"
    empty.write_text("id,age\n")
    suite = tmp_path / "contract.yaml"
    suite.write_text(SUITE)
    return {"good": good, "bad": bad, "empty": empty, "suite": suite}


def _args(tmp_path: Path, *args: str) -> list[str]:
    return ["validate", *args, "--report-dir", str(tmp_path / "reports")]


def test_help_has_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "--sql-url" in out and "exit status" in out
    with pytest.raises(SystemExit):
        main(["validate-profile", "--help"])
    assert "--out" in capsys.readouterr().out


def test_pass_exits_0(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(_args(tmp_path, str(files["good"]), "--suite", str(files["suite"])))
    assert code == 0
    assert "mlsec-gates validate: PASSED" in capsys.readouterr().out


def test_fail_exits_1_and_writes_json(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "validate.json"
    code = main(
        _args(tmp_path, str(files["bad"]), "--suite", str(files["suite"]), "--json-out", str(out))
    )
    assert code == 1
    report = json.loads(out.read_text())
    jsonschema.validate(report, SCHEMA)
    assert report["status"] == "fail"
    assert report["findings"][0]["rule_id"] == "validate.out-of-range"
    assert "validate.out-of-range" in capsys.readouterr().out


def test_warn_policy_exits_0(files: dict[str, Path], tmp_path: Path) -> None:
    policy = tmp_path / "gates.yaml"
    policy.write_text("gates:\n  validate:\n    on_fail: warn\n")
    args = _args(
        tmp_path, str(files["bad"]), "--suite", str(files["suite"]), "--policy", str(policy), "-q"
    )
    assert main(args) == 0


def test_zero_rows_exits_2(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(_args(tmp_path, str(files["empty"]), "--suite", str(files["suite"]), "-q")) == 2
    assert "no rows" in capsys.readouterr().out


def test_sql_table(files: dict[str, Path], tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    with sqlite3.connect(db) as con:
        pd.read_csv(files["good"]).to_sql("train", con, index=False)
    args = _args(
        tmp_path,
        "--sql-url",
        f"sqlite:///{db}",
        "--table",
        "train",
        "--suite",
        str(files["suite"]),
        "-q",
    )
    assert main(args) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{data}", "--suite", "{tmp}/nope.yaml"], "nope.yaml: no such file"),
        (["{tmp}/nope.csv", "--suite", "{suite}"], "nope.csv: no such file"),
        (["--suite", "{suite}"], "nothing to validate"),
        (
            ["{data}", "--suite", "{suite}", "--sql-url", "sqlite:///x.db", "--table", "t"],
            "not both",
        ),
        (
            ["{data}", "--suite", "expectations:\n  - expect_column_values_to_be_betwen: {{}}\n"],
            "<inline suite>:2: expectations.0.expect_column_values_to_be_betwen: unknown "
            "expectation; did you mean 'expect_column_values_to_be_between'?",
        ),
        (
            ["{data}", "--suite", "{suite}", "--policy", "gates: {{validate: {{sample_row: 1}}}}"],
            "<inline policy>:1: gates.validate.sample_row: unknown key; did you mean "
            "'sample_rows'?",
        ),
    ],
)
def test_errors_exit_2_with_one_line(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    filled = [a.format(data=files["good"], suite=files["suite"], tmp=tmp_path) for a in args]
    assert main(_args(tmp_path, *filled)) == 2
    err = capsys.readouterr().err
    assert err.startswith("mlsec-gates validate: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_corrupt_parquet_exits_2(
    tmp_path: Path, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "corrupt.parquet"
    bad.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    assert main(_args(tmp_path, str(bad), "--suite", str(files["suite"]))) == 2
    err = capsys.readouterr().err
    assert "corrupt.parquet: cannot read Parquet" in err and err.count("\n") == 1


def test_validate_profile_writes_a_suite_that_validates(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("mlsec_gates.gates.validate.profile")
    out = tmp_path / "profiled.yaml"
    assert main(["validate-profile", str(files["good"]), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    assert main(_args(tmp_path, str(files["good"]), "--suite", str(out), "-q")) == 0


def test_validate_profile_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mlsec_gates.gates.validate.profile")
    code = main(["validate-profile", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "s.yaml")])
    assert code == 2
    assert capsys.readouterr().err.startswith("mlsec-gates validate-profile: error: ")
