"""The drift gate end to end on small files: verdicts, report details, errors, profiles, S3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates.drift import drift_gate, drift_profile, run_drift
from mlsec_gates.policy import parse_policy
from mlsec_gates.result import Status
from mlsec_gates.storage import S3Options

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

QUIET = "gates: {drift: {evidently_report: false}}"
"""No Evidently page (8 s import) unless the test is about it."""


def batch(n: int, *, seed: int, shift: float = 0.0, colour_p: Any = None) -> Any:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + 10 * shift, 10, n).round(1),
            "income": rng.lognormal(10 + shift, 0.5, n),
            "visits": rng.poisson(5 + 5 * shift, n),
            "colour": rng.choice(["red", "green", "blue"], n, p=colour_p or [0.5, 0.3, 0.2]),
        }
    )


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, str]:
    out = {}
    frames = {
        "ref": batch(600, seed=1),
        "same": batch(400, seed=3),
        "shifted": batch(400, seed=5, shift=1.0, colour_p=[0.2, 0.3, 0.5]),
        "one": batch(400, seed=4).assign(visits=lambda f: f.visits + 6),
    }
    for name, frame in frames.items():
        path = tmp_path / f"{name}.csv"
        frame.to_csv(path, index=False)
        out[name] = str(path)
    parquet = tmp_path / "shifted.parquet"
    frames["shifted"].to_parquet(parquet, index=False)
    out["shifted_parquet"] = str(parquet)
    return out


def gate(files: dict[str, str], cur: str, tmp_path: Path, **kw: Any) -> Any:
    kw.setdefault("policy", QUIET)
    return drift_gate(
        files[cur], reference=files["ref"], report_dir=str(tmp_path / "reports"), **kw
    )


def test_same_distribution_passes_with_every_check_in_the_report(
    files: dict[str, str], tmp_path: Path
) -> None:
    result = gate(files, "same", tmp_path)
    assert result.status is Status.PASS
    assert result.metrics["columns_checked"] == 4
    assert result.metrics["columns_drifted"] == 0
    body = json.loads(Path(result.reports["json"]).read_text())
    assert body["status"] == "pass"
    checks = {c["column"]: c for c in body["details"]["checks"]}
    assert set(checks) == {"age", "income", "visits", "colour"}
    assert checks["age"]["method"] == "ks"  # <= 1000 reference rows, numeric
    assert checks["colour"]["method"] == "chisquare"  # categorical, 3 values
    for check in checks.values():
        assert {"statistic", "threshold", "decision", "drifted"} <= set(check)
        assert check["decision"] == "no drift"
    assert body["details"]["dataset_drift"]["decision"] == "no drift"
    assert [s["verdict"] for s in body["subjects"]] == ["reference", "pass"]


@pytest.mark.parametrize("name", ["shifted", "shifted_parquet"])
def test_shifted_batch_fails_with_dataset_drift(
    files: dict[str, str], tmp_path: Path, name: str
) -> None:
    result = gate(files, name, tmp_path)
    assert result.status is Status.FAIL
    rules = [f.rule_id for f in result.findings]
    assert rules.count("drift.column") == 4
    assert "drift.dataset" in rules
    assert result.details["dataset_drift"]["statistic"] == 1.0


def test_one_drifted_column_fails_only_under_fail_on_column(
    files: dict[str, str], tmp_path: Path
) -> None:
    result = gate(files, "one", tmp_path)
    # Below the dataset share: not a failure, but not silent either (exit 0, named).
    assert (result.status, result.passed) == (Status.WARN, True)
    assert [f.rule_id for f in result.findings] == ["drift.column"]
    drifted = [c["column"] for c in result.details["checks"] if c["drifted"]]
    assert len(drifted) == 1 and drifted[0] in result.summary
    assert "under the 50% dataset-drift share" in result.summary
    quiet = gate(files, "one", tmp_path, policy=QUIET[:-2] + ", warn_on: none}}")
    assert quiet.status is Status.PASS
    strict = gate(files, "one", tmp_path, policy=QUIET[:-2] + ", fail_on: column}}")
    assert strict.status is Status.FAIL
    warned = gate(files, "shifted", tmp_path, on_fail="warn")
    assert (warned.status, warned.passed) == (Status.WARN, True)


def test_per_column_method_threshold_and_ignore(files: dict[str, str], tmp_path: Path) -> None:
    policy = """
gates:
  drift:
    evidently_report: false
    ignore_columns: [colour]
    per_column:
      age: {method: psi, threshold: 0.9}
      visits: {method: wasserstein}
"""
    result = gate(files, "shifted", tmp_path, policy=policy)
    checks = {c["column"]: c for c in result.details["checks"]}
    assert set(checks) == {"age", "income", "visits"}
    assert (checks["age"]["method"], checks["age"]["threshold"]) == ("psi", 0.9)
    assert checks["visits"]["method"] == "wasserstein"
    assert result.details["columns"]["skipped"] == ["colour"]


def test_large_batches_note_pvalues_and_effect_size_floor(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    pd.DataFrame({"x": rng.normal(0, 1, 30_000)}).to_parquet(ref)
    pd.DataFrame({"x": rng.normal(0.05, 1, 30_000)}).to_parquet(cur)  # 0.05 SD: trivial
    ks = "gates: {drift: {evidently_report: false, method: ks, fail_on: column"
    flagged = drift_gate(str(cur), reference=str(ref), policy=ks + "}}", report_dir=str(tmp_path))
    assert flagged.status is Status.FAIL
    assert "drift.large-sample-pvalue" in [f.rule_id for f in flagged.findings]
    assert "significance, not size" in flagged.details["checks"][0]["note"]
    floor = ks + ", min_effect_size: 0.05}}"
    floored = drift_gate(str(cur), reference=str(ref), policy=floor, report_dir=str(tmp_path))
    assert floored.status is Status.PASS
    (check,) = floored.details["checks"]
    assert check["statistic"] < 0.05 and check["effect_size"] < 0.05
    assert "effect size below" in check["note"]
    default = drift_gate(str(cur), reference=str(ref), policy=QUIET, report_dir=str(tmp_path))
    assert default.details["checks"][0]["method"] == "wasserstein"  # > 1000 rows
    assert default.status is Status.PASS


def test_empty_current_column_counts_as_drifted(files: dict[str, str], tmp_path: Path) -> None:
    frame = pd.read_csv(files["same"])
    frame["colour"] = None
    path = tmp_path / "blank.csv"
    frame.to_csv(path, index=False)
    result = drift_gate(str(path), reference=files["ref"], policy=QUIET, report_dir=str(tmp_path))
    empty = [f for f in result.findings if f.rule_id == "drift.empty-column"]
    assert len(empty) == 1 and "colour" in empty[0].message
    assert result.metrics["columns_drifted"] == 1


def test_columns_on_one_side_are_an_info_finding(files: dict[str, str], tmp_path: Path) -> None:
    frame = pd.read_csv(files["same"]).drop(columns=["visits"]).assign(extra=1)
    path = tmp_path / "schema.csv"
    frame.to_csv(path, index=False)
    result = drift_gate(str(path), reference=files["ref"], policy=QUIET, report_dir=str(tmp_path))
    assert result.status is Status.PASS
    (schema,) = [f for f in result.findings if f.rule_id == "drift.schema"]
    assert schema.evidence == {"only_reference": ["visits"], "only_current": ["extra"]}


def _write(tmp_path: Path, name: str, frame: Any) -> str:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_bad_inputs_are_one_line_errors(files: dict[str, str], tmp_path: Path) -> None:
    def run(current: str, **kw: Any) -> str:
        kw.setdefault("reference", files["ref"])
        with pytest.raises((InputError, ConfigError)) as info:
            run_drift(current, policy=parse_policy(QUIET), report_dir=str(tmp_path), **kw)
        message = info.value.diagnostics()
        assert "\n" not in message
        return message

    assert "no label column 'target'" in run(files["same"], label_column="target")
    other = _write(tmp_path, "other.csv", pd.DataFrame({"a": [1, 2], "b": [3, 4]}))
    assert "share no feature column" in run(other)
    empty = tmp_path / "empty.csv"
    empty.write_text("age,income,visits,colour\n")
    assert "no rows" in run(str(empty))
    text_age = pd.read_csv(files["same"]).assign(age="forty")
    message = run(_write(tmp_path, "text.csv", text_age))
    assert "'age' is numeric in" in message and "categorical in" in message
    assert "no such file" in run(str(tmp_path / "missing.csv"))
    assert "--reference" in run(files["same"], profile=str(tmp_path / "x.npz"))
    assert "--reference" in run(files["same"], reference=None)
    bad = parse_policy("gates: {drift: {per_column: {colour: {method: ks}}}}")
    with pytest.raises(ConfigError, match="ks does not apply to categorical column 'colour'"):
        run_drift(files["same"], reference=files["ref"], policy=bad, report_dir=str(tmp_path))


def test_profile_gives_the_same_checks_without_the_reference(
    files: dict[str, str], tmp_path: Path
) -> None:
    stored = drift_profile(files["ref"], out=str(tmp_path / "ref.npz"))
    direct = gate(files, "shifted", tmp_path)
    Path(files["ref"]).unlink()  # the profile must be enough
    via = drift_gate(files["shifted"], profile=stored, policy=QUIET, report_dir=str(tmp_path / "p"))
    assert via.details["checks"] == direct.details["checks"]
    assert via.status is direct.status is Status.FAIL
    assert via.subjects[0].kind == "drift-profile"
    assert via.details["reference"]["data"]["path"] == files["ref"]


def test_corrupt_or_foreign_profiles_are_input_errors(
    files: dict[str, str], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, meta=np.frombuffer(b'{"format": "other"}', dtype=np.uint8))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, meta=np.array([{"format": "x"}], dtype=object))  # needs allow_pickle
    for path in (junk, foreign, pickled):
        with pytest.raises(InputError, match="not a drift profile"):
            run_drift(files["same"], profile=str(path), policy=parse_policy(QUIET))


def test_evidently_page_is_written_linked_and_says_it_was_sampled(
    files: dict[str, str], tmp_path: Path
) -> None:
    pytest.importorskip("evidently")
    policy = "gates: {drift: {report_sample_rows: 300}}"
    result = gate(files, "shifted", tmp_path, policy=policy)
    page = Path(result.details["evidently_report"])
    assert page.name == "evidently-drift.html" and page.parent == tmp_path / "reports"
    text = page.read_text()
    assert "300 of 600 reference rows" in text and "300 of 400 current rows" in text
    assert "evidently-drift.html" in Path(result.reports["html"]).read_text()


def test_evidently_failure_is_a_low_finding_not_a_verdict(
    files: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlsec_gates.gates.drift import evidently_report

    def broken(*args: Any, **kwargs: Any) -> str:
        raise ImportError("cannot import name 'infer_dtype_from_object'")

    monkeypatch.setattr(evidently_report, "render_evidently_page", broken)
    result = gate(files, "same", tmp_path, policy="gates: {drift: {evidently_report: true}}")
    assert result.status is Status.PASS
    (finding,) = result.findings
    assert finding.rule_id == "drift.evidently-report"
    assert "infer_dtype_from_object" in finding.message
    assert result.details["evidently_report"] is None


def test_suspects_file_has_its_header_when_nothing_is_suspicious(
    files: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "suspects.csv"
    result = gate(files, "same", tmp_path, suspects_out=str(out))
    assert out.read_text() == "row,reason,score,detector\n"
    assert result.details["suspects_uri"] == str(out.resolve())


def test_reads_from_and_reports_to_s3(files: dict[str, str], s3_bucket: str, s3_env: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_env)
    for name in ("ref", "shifted"):
        client.upload_file(files[name], s3_bucket, f"data/{name}.csv")
    result = drift_gate(
        f"s3://{s3_bucket}/data/shifted.csv",
        reference=f"s3://{s3_bucket}/data/ref.csv",
        policy=QUIET,
        report_dir=f"s3://{s3_bucket}/reports/run1",
        s3=S3Options(endpoint_url=s3_env),
    )
    assert result.status is Status.FAIL
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert "reports/run1/drift-report.json" in keys
    s3 = S3Options(endpoint_url=s3_env)
    stored = drift_profile(f"s3://{s3_bucket}/data/ref.csv", out=f"s3://{s3_bucket}/ref.npz", s3=s3)
    via = drift_gate(
        f"s3://{s3_bucket}/data/shifted.csv",
        profile=stored,
        policy=QUIET,
        report_dir=f"s3://{s3_bucket}/reports/run2",
        s3=s3,
    )
    assert via.details["checks"] == result.details["checks"]


def test_evidently_page_is_off_the_critical_path(files: dict[str, str], tmp_path: Path) -> None:
    """auto (the default): a passing or warning run renders no page; a request does."""
    passing = gate(files, "same", tmp_path, policy="gates: {drift: {}}")
    assert passing.details["evidently_report"] is None
    assert "did not fail" in passing.details["evidently_note"]
    assert not (tmp_path / "reports" / "evidently-drift.html").exists()
    warning = gate(files, "one", tmp_path, policy="gates: {drift: {}}")
    assert warning.status is Status.WARN and warning.details["evidently_report"] is None
    pytest.importorskip("evidently")
    asked = gate(files, "same", tmp_path, policy="gates: {drift: {}}", evidently_report=True)
    assert Path(asked.details["evidently_report"]).is_file()


def test_report_opens_with_a_plain_headline_and_one_fix(
    files: dict[str, str], tmp_path: Path
) -> None:
    result = gate(files, "one", tmp_path)
    markdown = Path(result.reports["markdown"]).read_text()
    lines = markdown.splitlines()
    assert lines[2] == result.summary and "1 of 4 columns drifted" in lines[2]
    assert markdown.count("What to do") == 1
    assert "**Drifted columns**" in markdown
    html = Path(result.reports["html"]).read_text()
    assert html.count("What to do") == 1 and 'id="digest"' in html


def test_summaries_only_for_a_batch_without_labels(tmp_path: Path) -> None:
    """Parquet without labels: both sides kept as summaries, same decisions as from frames."""
    rng = np.random.default_rng(0)
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    when = pd.date_range("2024-01-01", periods=3000, freq="min")
    pd.DataFrame(
        {"x": rng.normal(0, 1, 3000), "c": rng.choice(["a", "b"], 3000), "t": when}
    ).to_parquet(ref)
    pd.DataFrame(
        {"x": rng.normal(0.5, 1, 2000), "c": rng.choice(["a", "b"], 2000), "t": when[:2000]}
    ).to_parquet(cur)
    result = drift_gate(str(cur), reference=str(ref), policy=QUIET, report_dir=str(tmp_path / "r"))
    assert result.metrics["rows_current"] == 2000 and result.metrics["rows_reference"] == 3000
    assert [c["column"] for c in result.details["checks"] if c["drifted"]] == ["x"]
    assert result.details["columns"]["skipped"] == ["t"]
    assert "x" in result.details["histograms"]
