"""The SBOM gate (mlsec_gates/gates/sbom/): a strictly valid, deterministic CycloneDX 1.6 ML-BOM.

Models are written by sklearn in the test and never loaded; S3 runs against the moto server.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates.sbom import default_bom_path, rules, run_sbom, sbom_gate
from mlsec_gates.gates.sbom.bom import check_bom
from mlsec_gates.policy import parse_policy
from mlsec_gates.result import Status
from mlsec_gates.storage import S3Options, Storage
from tests.fixtures.sbom_inputs import LOCK, SUITE, write_csv, write_model

AIRFLOW = {"orchestrator": "airflow", "dag_id": "train", "run_id": "manual__1", "task_id": "sbom"}


def _strictly_valid(text: str) -> None:
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    assert errors is None, errors


def _bom(result: Any) -> dict[str, Any]:
    return json.loads(Path(result.reports["bom"]).read_text())


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _by_ref(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in doc["components"]}


def _props(component: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("example")
    write_model(root / "model")
    write_csv(root / "train.csv")
    return root


@pytest.fixture(scope="module")
def env_result(example: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One gate run with the installed environment (the slow part, shared)."""
    return sbom_gate(
        str(example / "model"),
        datasets=[str(example / "train.csv")],
        environment=True,
        run_context=AIRFLOW,
        report_dir=str(tmp_path_factory.mktemp("reports")),
    )


class TestExampleModel:
    def test_passes_and_writes_beside_the_directory(self, env_result: Any, example: Path) -> None:
        assert env_result.status is Status.PASS, env_result.summary
        assert env_result.reports["bom"] == str(example / "model.cdx.json")
        report = json.loads(Path(env_result.reports["json"]).read_text())
        assert report["reports"]["bom"] == env_result.reports["bom"]
        assert report["details"]["bom"]["spec_version"] == "1.6"

    def test_strictly_valid(self, env_result: Any) -> None:
        text = Path(env_result.reports["bom"]).read_text()
        _strictly_valid(text)
        assert check_bom(text) == []

    def test_every_model_file_with_sha256(self, env_result: Any, example: Path) -> None:
        model = _bom(env_result)["metadata"]["component"]
        assert model["type"] == "machine-learning-model"
        files = {c["name"]: c for c in model["components"]}
        assert set(files) == {"model.pkl", "config.json", "extra/labels.txt"}
        for name, component in files.items():
            assert component["type"] == "file"
            assert component["hashes"] == [
                {"alg": "SHA-256", "content": _sha(example / "model" / name)}
            ]
        root = _props(model)["mlsec-gates:model-signing:root-sha256"]
        assert root == env_result.details["bom"]["model_root_sha256"]
        assert "hashes" not in model  # no invented directory hash
        assert {s.path for s in env_result.subjects if s.kind == "model-file"} == {
            str(example / "model" / n) for n in files
        }

    def test_dataset_component(self, env_result: Any, example: Path) -> None:
        doc = _bom(env_result)
        dataset = _by_ref(doc)["dataset:train.csv"]
        assert dataset["type"] == "data"
        assert dataset["hashes"] == [{"alg": "SHA-256", "content": _sha(example / "train.csv")}]
        assert _props(dataset)["mlsec-gates:size"] == str((example / "train.csv").stat().st_size)
        [data] = dataset["data"]
        assert data["type"] == "dataset"
        assert data["contents"]["url"] == (example / "train.csv").as_uri()
        card = doc["metadata"]["component"]["modelCard"]
        assert card["modelParameters"]["datasets"] == [{"ref": "dataset:train.csv"}]
        assert card["modelParameters"]["modelArchitecture"] == "LogisticRegression"

    def test_every_installed_distribution_with_purl_and_hash(self, env_result: Any) -> None:
        from importlib import metadata

        libraries = [c for c in _bom(env_result)["components"] if c["type"] == "library"]
        installed = {
            d.metadata["Name"].lower().replace("_", "-").replace(".", "-")
            for d in metadata.distributions()
        }
        assert {c["name"] for c in libraries} == installed
        unhashed = {
            f.evidence["name"] for f in env_result.findings if f.rule_id == rules.UnhashedLibrary.id
        }
        for lib in libraries:
            assert lib["purl"] == f"pkg:pypi/{lib['name']}@{lib['version']}"
            assert bool(lib.get("hashes")) != (lib["name"] in unhashed), lib["name"]
        assert env_result.metrics["libraries"] == len(libraries)
        assert env_result.metrics["libraries_hashed"] == len(libraries) - len(unhashed)
        assert len(libraries) - len(unhashed) > 100
        dependencies = {d["ref"]: d.get("dependsOn", []) for d in _bom(env_result)["dependencies"]}
        assert len(dependencies["model"]) == len(libraries)

    def test_formulation_has_the_run(self, env_result: Any) -> None:
        [formula] = _bom(env_result)["formulation"]
        [workflow] = formula["workflows"]
        assert workflow["uid"] == "manual__1"
        assert workflow["name"] == "train"
        assert [t["uid"] for t in workflow["tasks"]] == ["sbom"]
        assert workflow["inputs"] == [{"resource": {"ref": "dataset:train.csv"}}]
        assert workflow["outputs"][0]["resource"] == {"ref": "model"}
        assert _props(workflow)["mlsec-gates:run:orchestrator"] == "airflow"

    def test_metrics(self, env_result: Any, example: Path) -> None:
        m = env_result.metrics
        assert (m["files"], m["datasets"], m["gate_reports"]) == (3, 1, 0)
        sizes = [p.stat().st_size for p in (example / "model").rglob("*") if p.is_file()]
        assert m["bytes_hashed"] == sum(sizes) + (example / "train.csv").stat().st_size


class TestDeterminism:
    def test_two_runs_are_byte_identical(self, example: Path, tmp_path: Path) -> None:
        outs = []
        for n in (1, 2):
            out = tmp_path / f"bom{n}.json"
            result = run_sbom(
                str(example / "model"),
                datasets=[str(example / "train.csv")],
                environment=True,
                run_context=AIRFLOW,
                out=str(out),
            )
            assert result.status is Status.PASS
            outs.append(out.read_bytes())
        assert outs[0] == outs[1]
        doc = json.loads(outs[0])
        assert "timestamp" not in doc["metadata"]
        assert doc["serialNumber"].startswith("urn:uuid:")

    def test_content_change_changes_the_serial(self, tmp_path: Path) -> None:
        model = write_model(tmp_path / "m")
        first = _bom(run_sbom(str(model)))["serialNumber"]
        (model / "extra" / "labels.txt").write_text("no\nyes\nmaybe\n")
        assert _bom(run_sbom(str(model)))["serialNumber"] != first

    def test_source_date_epoch_sets_the_timestamp(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        model = write_model(tmp_path / "m")
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
        first = Path(run_sbom(str(model)).reports["bom"]).read_bytes()
        assert json.loads(first)["metadata"]["timestamp"] == "2023-11-14T22:13:20Z"
        assert Path(run_sbom(str(model)).reports["bom"]).read_bytes() == first


class TestLockFile:
    def test_hashed_lock_file(self, tmp_path: Path) -> None:
        model = write_model(tmp_path / "m")
        lock = tmp_path / "requirements.txt"
        lock.write_text(LOCK)
        result = run_sbom(str(model), requirements=str(lock))
        assert result.status is Status.PASS
        text = Path(result.reports["bom"]).read_text()
        _strictly_valid(text)
        libs = {c["name"]: c for c in json.loads(text)["components"] if c["type"] == "library"}
        assert set(libs) == {"numpy", "scikit-learn"}
        assert libs["numpy"]["purl"] == "pkg:pypi/numpy@1.26.4"
        assert [h["content"] for h in libs["numpy"]["hashes"]] == ["1" * 64, "2" * 64]
        assert libs["scikit-learn"]["version"] == "1.5.0"
        assert _props(libs["numpy"])["mlsec-gates:hash-basis"] == "lock-file"
        assert result.findings == ()
        assert result.metrics["libraries_hashed"] == 2

    def test_unpinned_and_unhashed_lines_are_findings(self, tmp_path: Path) -> None:
        model = write_model(tmp_path / "m")
        lock = tmp_path / "requirements.in"
        lock.write_text("requests>=2\nsix==1.16.0\n")
        result = run_sbom(str(model), requirements=str(lock))
        assert result.status is Status.PASS
        ids = sorted((f.rule_id, f.location.detail) for f in result.findings)
        assert ids == [
            ("sbom.unhashed-library", "line 1"),
            ("sbom.unhashed-library", "line 2"),
            ("sbom.unpinned-requirement", "line 1"),
        ]
        _strictly_valid(Path(result.reports["bom"]).read_text())

    def test_malformed_hash_is_an_input_error(self, tmp_path: Path) -> None:
        lock = tmp_path / "r.txt"
        lock.write_text("six==1.16.0 --hash=sha256:abc\n")
        with pytest.raises(InputError, match=r"r\.txt:1: .*--hash"):
            run_sbom(str(write_model(tmp_path / "m")), requirements=str(lock))


class TestGateReports:
    def test_scan_and_validate_reports_feed_the_model_card(
        self, example: Path, tmp_path: Path
    ) -> None:
        from mlsec_gates.gates.scan import scan_gate
        from mlsec_gates.gates.validate import validate_gate

        scan = scan_gate([str(example / "model")], report_dir=str(tmp_path / "scan"))
        validate = validate_gate(
            str(example / "train.csv"), suite=SUITE, report_dir=str(tmp_path / "validate")
        )
        result = run_sbom(
            str(example / "model"),
            datasets=[str(example / "train.csv")],
            gate_reports=[scan.reports["json"], validate.reports["json"]],
            out=str(tmp_path / "bom.json"),
        )
        assert result.status is Status.PASS, result.summary
        text = (tmp_path / "bom.json").read_text()
        _strictly_valid(text)
        model = json.loads(text)["metadata"]["component"]
        metrics = {
            m["type"]: m["value"]
            for m in model["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
        }
        assert metrics["scan.status"] == scan.status.value
        assert metrics["scan.files_scanned"] == str(scan.metrics["files_scanned"])
        assert metrics["validate.status"] == "pass"
        assert metrics["validate.expectations_evaluated"] == "2"
        assert metrics["validate.success_percent"] == "100.0"
        props = _props(model["modelCard"])
        assert props["mlsec-gates:gate:validate:status"] == "pass"
        refs = {r["type"]: r for r in model["externalReferences"]}
        scan_ref = refs["static-analysis-report"]
        assert scan_ref["url"] == Path(scan.reports["json"]).as_uri()
        assert scan_ref["hashes"] == [
            {"alg": "SHA-256", "content": _sha(Path(scan.reports["json"]))}
        ]
        assert refs["quality-metrics"]["hashes"][0]["content"] == _sha(
            Path(validate.reports["json"])
        )
        assert result.metrics["gate_reports"] == 2

    def test_a_failed_report_is_recorded_and_flagged(self, tmp_path: Path) -> None:
        from mlsec_gates.gates.scan import scan_gate

        model = write_model(tmp_path / "m")
        # Protocol-2 pickle calling os.system("echo"). Built by hand; never loaded.
        evil = tmp_path / "evil" / "evil.pkl"
        evil.parent.mkdir()
        evil.write_bytes(b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.")
        scan = scan_gate([str(evil)], report_dir=str(tmp_path / "scan"))
        assert scan.status is Status.FAIL
        result = run_sbom(str(model), gate_reports=[scan.reports["json"]])
        assert result.status is Status.PASS
        [finding] = result.findings
        assert finding.rule_id == rules.GateReportNotPassed.id
        card = _bom(result)["metadata"]["component"]["modelCard"]
        assert _props(card)["mlsec-gates:gate:scan:status"] == "fail"

    def test_not_a_gate_report(self, tmp_path: Path) -> None:
        bad = tmp_path / "r.json"
        bad.write_text('{"hello": 1}')
        with pytest.raises(InputError, match="not an mlsec-gates JSON report") as info:
            run_sbom(str(write_model(tmp_path / "m")), gate_reports=[str(bad)])
        assert "\n" not in str(info.value)


class TestRunContext:
    def test_kfp_run(self, tmp_path: Path) -> None:
        context = {"orchestrator": "kfp", "run_id": "5f0c-1", "pipeline": "train-pipeline"}
        result = run_sbom(str(write_model(tmp_path / "m")), run_context=context)
        text = Path(result.reports["bom"]).read_text()
        _strictly_valid(text)
        [workflow] = json.loads(text)["formulation"][0]["workflows"]
        assert (workflow["uid"], workflow["name"]) == ("5f0c-1", "train-pipeline")
        assert "tasks" not in workflow and "inputs" not in workflow

    def test_no_context_no_formulation(self, tmp_path: Path) -> None:
        assert "formulation" not in _bom(run_sbom(str(write_model(tmp_path / "m"))))

    def test_context_needs_a_run_id(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="run_id"):
            run_sbom(str(write_model(tmp_path / "m")), run_context={"dag_id": "x"})


class TestSingleFileAndPolicy:
    def test_file_model_hash_and_default_path(self, tmp_path: Path) -> None:
        model = write_model(tmp_path / "m") / "model.pkl"
        result = run_sbom(str(model))
        assert result.reports["bom"] == str(model) + ".cdx.json"
        component = _bom(result)["metadata"]["component"]
        assert component["name"] == "model.pkl"
        assert component["hashes"] == [{"alg": "SHA-256", "content": _sha(model)}]
        assert "components" not in component

    def test_model_card_from_policy(self, tmp_path: Path) -> None:
        policy = parse_policy(
            "gates:\n  sbom:\n    model_card:\n      approach: supervised\n"
            "      task: classification\n      use_cases: [credit scoring]\n"
            "      ethical_considerations:\n        - {name: bias, mitigation: audits}\n",
            source="p.yaml",
        )
        result = run_sbom(str(write_model(tmp_path / "m")), policy=policy)
        text = Path(result.reports["bom"]).read_text()
        _strictly_valid(text)
        card = json.loads(text)["metadata"]["component"]["modelCard"]
        assert card["modelParameters"]["approach"] == {"type": "supervised"}
        assert card["modelParameters"]["task"] == "classification"
        assert card["considerations"] == {
            "useCases": ["credit scoring"],
            "ethicalConsiderations": [{"name": "bias", "mitigationStrategy": "audits"}],
        }

    def test_ignore_policy(self, tmp_path: Path) -> None:
        model = write_model(tmp_path / "m")
        policy = parse_policy("gates:\n  sbom:\n    ignore: [extra]\n", source="p.yaml")
        result = run_sbom(str(model), policy=policy)
        assert result.metrics["files"] == 2

    def test_default_paths(self) -> None:
        assert default_bom_path("models/m/") == "models/m.cdx.json"
        assert default_bom_path("s3://b/models/m/") == "s3://b/models/m.cdx.json"
        assert default_bom_path("s3://b/m.pt") == "s3://b/m.pt.cdx.json"


class TestErrors:
    def test_missing_model_is_one_line(self, tmp_path: Path) -> None:
        with pytest.raises(InputError) as info:
            sbom_gate(str(tmp_path / "nope"), report_dir=str(tmp_path / "r"))
        assert "nope" in str(info.value) and "\n" not in str(info.value)

    def test_empty_model_directory(self, tmp_path: Path) -> None:
        (tmp_path / "empty").mkdir()
        with pytest.raises(InputError, match="no files"):
            run_sbom(str(tmp_path / "empty"))

    def test_missing_dataset(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match=r"gone\.csv"):
            run_sbom(str(write_model(tmp_path / "m")), datasets=[str(tmp_path / "gone.csv")])

    def test_requirements_and_environment(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="not both"):
            run_sbom(str(tmp_path), requirements="r.txt", environment=True)

    def test_invalid_bom_is_an_error_and_not_written(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import mlsec_gates.gates.sbom.bom as bom

        real = bom.build_bom

        def broken(inputs: Any) -> str:
            doc = json.loads(real(inputs))
            doc["metadata"]["component"]["modelCard"]["modelParameters"] = {
                "approach": {"type": "guessing"}
            }
            return json.dumps(doc)

        monkeypatch.setattr(bom, "build_bom", broken)
        out = tmp_path / "bom.json"
        result = sbom_gate(
            str(write_model(tmp_path / "m")), out=str(out), report_dir=str(tmp_path / "r")
        )
        assert result.status is Status.ERROR
        assert not result.passed
        assert not out.exists()
        assert "bom" not in result.reports
        [finding] = result.findings
        assert finding.rule_id == rules.ValidationFailed.id
        assert "guessing" in finding.message


class TestCheckBom:
    def test_dangling_ref_and_misplaced_data(self, env_result: Any) -> None:
        doc = _bom(env_result)
        doc["metadata"]["component"]["modelCard"]["modelParameters"]["datasets"] = [
            {"ref": "dataset:missing"}
        ]
        doc["metadata"]["component"]["data"] = [{"type": "dataset"}]
        problems = check_bom(json.dumps(doc))
        assert any("dataset:missing" in p for p in problems)
        assert any("'data' on a non-data component" in p for p in problems)


@pytest.mark.s3
class TestS3:
    def _client(self, endpoint: str) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=endpoint)

    def test_versioned_model_and_dataset(self, s3_bucket: str, s3_env: str, tmp_path: Path) -> None:
        client = self._client(s3_env)
        client.put_bucket_versioning(
            Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        model = write_model(tmp_path / "m")
        versions = {}
        for path in sorted(p for p in model.rglob("*") if p.is_file()):
            key = f"models/m/{path.relative_to(model).as_posix()}"
            put = client.put_object(Bucket=s3_bucket, Key=key, Body=path.read_bytes())
            versions[path.relative_to(model).as_posix()] = put["VersionId"]
        put = client.put_object(Bucket=s3_bucket, Key="data/train.csv", Body=b"x,y\n1,0\n")
        result = sbom_gate(
            f"s3://{s3_bucket}/models/m/",
            datasets=[f"s3://{s3_bucket}/data/train.csv"],
            s3=S3Options(endpoint_url=s3_env),
            report_dir=str(tmp_path / "r"),
        )
        assert result.status is Status.PASS, result.summary
        assert result.reports["bom"] == f"s3://{s3_bucket}/models/m.cdx.json"
        body = client.get_object(Bucket=s3_bucket, Key="models/m.cdx.json")["Body"].read()
        text = body.decode()
        _strictly_valid(text)
        doc = json.loads(text)
        files = {c["name"]: _props(c) for c in doc["metadata"]["component"]["components"]}
        assert {n: p["mlsec-gates:s3:version-id"] for n, p in files.items()} == versions
        dataset = _by_ref(doc)["dataset:train.csv"]
        assert _props(dataset)["mlsec-gates:s3:version-id"] == put["VersionId"]
        assert dataset["hashes"][0]["content"] == hashlib.sha256(b"x,y\n1,0\n").hexdigest()
        assert dataset["data"][0]["contents"]["url"] == f"s3://{s3_bucket}/data/train.csv"
        assert dataset["externalReferences"] == [
            {"type": "distribution", "url": f"s3://{s3_bucket}/data/train.csv"}
        ]
        assert result.findings == ()

    def test_unversioned_dataset_is_a_finding(
        self, s3_bucket: str, s3_env: str, tmp_path: Path
    ) -> None:
        client = self._client(s3_env)
        client.put_object(Bucket=s3_bucket, Key="data/a.csv", Body=b"x\n1\n")
        client.put_object(Bucket=s3_bucket, Key="data/b.csv", Body=b"x\n2\n")
        storage = Storage(S3Options(endpoint_url=s3_env))
        result = run_sbom(
            str(write_model(tmp_path / "m")),
            datasets=[f"s3://{s3_bucket}/data/"],
            storage=storage,
            out=str(tmp_path / "bom.json"),
        )
        assert result.status is Status.PASS
        [finding] = result.findings
        assert finding.rule_id == rules.DatasetUnversioned.id
        assert finding.evidence["count"] == 2
        dataset = _by_ref(json.loads((tmp_path / "bom.json").read_text()))["dataset:data"]
        assert [c["name"] for c in dataset["components"]] == ["a.csv", "b.csv"]
        assert _props(dataset)["mlsec-gates:hash-basis"] == "model-signing-root"


def test_rules_table() -> None:
    classes = [
        obj
        for obj in vars(rules).values()
        if inspect.isclass(obj) and issubclass(obj, rules.Rule) and obj is not rules.Rule
    ]
    assert set(classes) == set(rules.RULES)
    ids = [r.id for r in rules.RULES]
    assert len(ids) == len(set(ids))
    assert all(r.id.startswith("sbom.") and r.remediation and r.__doc__ for r in rules.RULES)


def test_json_report_matches_the_report_schema(env_result: Any) -> None:
    import jsonschema

    schema = json.loads(
        (Path(__file__).resolve().parents[3] / "docs/report-schema.json").read_text()
    )
    report = json.loads(Path(env_result.reports["json"]).read_text())
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(report)
