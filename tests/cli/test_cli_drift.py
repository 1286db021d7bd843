"""``mlsec-gates drift`` and ``drift-profile``: exit codes, JSON report, suspects, errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from mlsec_gates.cli import main

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "report-schema.json").read_text()
)
QUIET = "gates: {drift: {evidently_report: false}}"


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, str]:
    rng = np.random.default_rng(7)

    def frame(n: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "x": rng.normal(shift, 1, n),
                "y": rng.uniform(0, 1 + shift, n),
                "kind": rng.choice(["a", "b", "c"], n),
            }
        )

    out = {}
    for name, n, shift in (("ref", 500, 0.0), ("same", 300, 0.0), ("moved", 300, 2.0)):
        path = tmp_path / f"{name}.csv"
        frame(n, shift).to_csv(path, index=False)
        out[name] = str(path)
    policy = tmp_path / "gates.yaml"
    policy.write_text(QUIET + "\n")
    out["policy"] = str(policy)
    return out


def _drift(tmp_path: Path, files: dict[str, str], current: str, *extra: str) -> list[str]:
    return [
        "drift",
        "--reference",
        files["ref"],
        "--current",
        files[current],
        "--policy",
        files["policy"],
        "--report-dir",
        str(tmp_path / "reports"),
        *extra,
    ]


def test_help_has_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["drift", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--reference", "--current", "--label-column", "--profile", "--suspects-out"):
        assert option in out
    assert "examples:" in out and "exit status" in out
    with pytest.raises(SystemExit):
        main(["drift-profile", "--help"])
    assert "--out" in capsys.readouterr().out


def test_same_distribution_exits_0(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d.json"
    assert main(_drift(tmp_path, files, "same", "--json-out", str(out), "-q")) == 0
    printed = capsys.readouterr().out
    body = json.loads(out.read_text())
    jsonschema.validate(body, SCHEMA)
    # A column may drift by chance on 300 rows: that is a warning (exit 0), never a failure.
    assert body["status"] in ("pass", "warn")
    assert printed.startswith(f"drift: {body['status']}:")
    assert {c["column"] for c in body["details"]["checks"]} == {"x", "y", "kind"}


def test_drift_exits_1_with_the_drifted_columns(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d.json"
    assert main(_drift(tmp_path, files, "moved", "--json-out", str(out))) == 1
    text = capsys.readouterr().out
    assert "FAILED" in text and "drift.dataset" in text
    body = json.loads(out.read_text())
    assert body["status"] == "fail"
    decisions = {c["column"]: c["decision"] for c in body["details"]["checks"]}
    assert decisions["x"] == decisions["y"] == "drift"


def test_profile_then_check_against_it(
    files: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "ref.npz"
    assert main(["drift-profile", files["ref"], "--out", str(profile)]) == 0
    assert "profile written" in capsys.readouterr().out
    args = ["drift", "--profile", str(profile), "--current", files["moved"], "-q"]
    assert main([*args, "--policy", files["policy"], "--report-dir", str(tmp_path / "r")]) == 1
    suspects = tmp_path / "s.csv"
    same = ["drift", "--profile", str(profile), "--current", files["same"], "-q"]
    rest = ["--policy", files["policy"], "--suspects-out", str(suspects)]
    assert main([*same, *rest, "--report-dir", str(tmp_path / "r2")]) == 0
    assert suspects.read_text() == "row,reason,score,detector\n"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda f, tmp: ["--label-column", "target"], "no label column 'target'"),
        (lambda f, tmp: ["--current", _csv(tmp, "other", "a,b\n1,2\n")], "share no feature"),
        (lambda f, tmp: ["--current", _csv(tmp, "empty", "x,y,kind\n")], "no rows"),
        (lambda f, tmp: ["--current", _csv(tmp, "typed", "x,y,kind\na,1,2\n")], "'x' is numeric"),
        (lambda f, tmp: ["--policy", "gates: {drift: {methd: ks}}"], "did you mean 'method'"),
    ],
    ids=["label-missing", "no-common-columns", "empty-batch", "type-mismatch", "bad-policy"],
)
def test_bad_input_is_one_line_and_exit_2(
    files: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mutate: object,
    expected: str,
) -> None:
    args = _drift(tmp_path, files, "same") + mutate(files, tmp_path)  # type: ignore[operator]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mlsec-gates drift: error: ")
    assert expected in err
    assert len(err.splitlines()) == 1


def test_reference_or_profile_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["drift", "--current", "x.csv"])
    assert info.value.code == 2
    assert "--reference" in capsys.readouterr().err


def _csv(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / f"{name}.csv"
    path.write_text(text)
    return str(path)
