"""SBOM gate: a CycloneDX 1.6 ML-BOM of a model, its data, its environment and its gates.

Example:
    >>> from mlsec_gates.gates.sbom import sbom_gate
    >>> result = sbom_gate("model/", datasets=["s3://data/train.csv"],  # doctest: +SKIP
    ...                    environment=True, gate_reports=["reports/scan-report.json"])
    >>> result.status, result.reports["bom"]  # doctest: +SKIP
    (<Status.PASS: 'pass'>, '/.../model.cdx.json')

The model is a ``machine-learning-model`` component with every file nested and hashed
(SHA-256) and the model-signing root digest as a property; each dataset is a ``data``
component (SHA-256, size, S3 VersionId); the Python environment comes from the installed
distributions' RECORD files or a hashed lock file; earlier gates' JSON reports feed the
``modelCard`` and are referenced with their hashes; the pipeline run becomes the
``formulation``. The same inputs give a byte-identical BOM (see
:mod:`mlsec_gates.gates.sbom.bom`). The gate passes when the BOM was built and validates
strictly; otherwise it is an ``error`` and no BOM is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlsec_gates.bounded import loads_json
from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates._common import decide, now, run_and_report, tool_versions
from mlsec_gates.gates.sbom import rules
from mlsec_gates.policy import OnFail, Policy
from mlsec_gates.result import Finding, GateResult, Location, Subject
from mlsec_gates.storage import S3Options, Storage, resolve_path

__all__ = ["default_bom_path", "run_sbom", "sbom_gate"]

GATE = "sbom"
MEDIA_TYPE = "application/vnd.cyclonedx+json"


def sbom_gate(
    model: str,
    *,
    datasets: Sequence[str] = (),
    requirements: str | None = None,
    environment: bool = False,
    out: str | None = None,
    gate_reports: Sequence[str] = (),
    run_context: Mapping[str, str] | None = None,
    policy: Policy | str | None = None,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    on_fail: OnFail | None = None,
    json_out: str | None = None,
) -> GateResult:
    """Build, check and write the ML-BOM, then the gate reports; the one call adapters make.

    Args:
        model: model file, directory or ``s3://`` object or prefix.
        datasets: training/validation data: files, directories or ``s3://`` objects/prefixes.
        requirements: a hashed lock file (``name==1.0 --hash=sha256:...``), path or URI.
        environment: list the distributions installed in this interpreter instead.
        out: where to write the BOM; default ``<model>.cdx.json`` beside the model.
        gate_reports: JSON reports of earlier gates (scan, validate...) to attach.
        run_context: the pipeline run, e.g. ``{"orchestrator": "airflow", "dag_id": ...,
            "run_id": ..., "task_id": ...}`` or ``{"orchestrator": "kfp", "run_id": ...,
            "pipeline": ...}``; becomes the BOM's ``formulation``. Needs ``run_id``.
        policy: a policy file path/URI, inline YAML text, a parsed :class:`Policy`, or None
            for the defaults.
        report_dir: directory or ``s3://`` prefix for the reports; default
            ``./mlsec-gate-reports/sbom-<timestamp>``.
        s3: how to reach S3 (overrides the policy's ``storage.s3``).
        on_fail: ``fail`` or ``warn``; overrides the policy for this run.
        json_out: also write the JSON report to this path or URI.

    Returns:
        The result; ``reports["bom"]`` is where the BOM went. The status is ``pass`` when the
        BOM was built and passes strict CycloneDX 1.6 validation, ``error`` (and no BOM
        written) when it does not.

    Raises:
        ConfigError: invalid policy or arguments (``requirements`` with ``environment``, a
            run context without ``run_id``).
        InputError: the model, a dataset, the lock file or a gate report cannot be read.
        StorageError: S3 or the output location refused access.
    """
    return run_and_report(
        GATE,
        lambda loaded, storage: run_sbom(
            model,
            datasets=datasets,
            requirements=requirements,
            environment=environment,
            out=out,
            gate_reports=gate_reports,
            run_context=run_context,
            policy=loaded,
            storage=storage,
        ),
        policy=policy,
        report_dir=report_dir,
        s3=s3,
        on_fail=on_fail,
        json_out=json_out,
    )


def run_sbom(
    model: str,
    *,
    datasets: Sequence[str] = (),
    requirements: str | None = None,
    environment: bool = False,
    out: str | None = None,
    gate_reports: Sequence[str] = (),
    run_context: Mapping[str, str] | None = None,
    policy: Policy | None = None,
    storage: Storage | None = None,
) -> GateResult:
    """Build, check and write the BOM, without the gate reports (see :func:`sbom_gate`).

    Raises:
        ConfigError: invalid arguments.
        InputError: an input cannot be read.
        StorageError: S3 or the output location refused access.
    """
    from mlsec_gates.gates.sbom.bom import BomInputs, build_bom, check_bom
    from mlsec_gates.gates.sbom.evidence import read_gate_report
    from mlsec_gates.gates.sbom.libraries import installed_libraries, parse_lock_file

    started = now()
    policy = policy or Policy()
    storage = storage or Storage()
    section = policy.gates.sbom
    datasets = [datasets] if isinstance(datasets, str) else list(datasets)
    gate_reports = [gate_reports] if isinstance(gate_reports, str) else list(gate_reports)
    context = {str(k): str(v) for k, v in (run_context or {}).items() if v not in (None, "")}
    if requirements and environment:
        raise ConfigError("give either --requirements or --environment, not both")
    if context and "run_id" not in context:
        raise ConfigError(f"run_context needs a run_id (got keys: {', '.join(sorted(context))})")
    if not model or not model.strip():
        raise InputError("no model given: give a model file, directory or s3:// URI")

    findings: list[Finding] = []
    model_artifact = _artifact(model, storage=storage, policy=policy)
    data = [_artifact(uri, storage=storage, policy=policy) for uri in datasets]
    for artifact in data:
        findings.extend(_unversioned(artifact))
    libraries: list[Any] = []
    if environment:
        libraries, lib_findings = installed_libraries()
        findings.extend(lib_findings)
    elif requirements:
        text = storage.read_text(requirements)
        libraries, lib_findings = parse_lock_file(text, source=requirements)
        findings.extend(lib_findings)
    reports = [read_gate_report(uri, storage=storage) for uri in gate_reports]
    for report in reports:
        if not report.passed:
            findings.append(
                rules.GateReportNotPassed.finding(
                    f"attached {report.gate} report has status {report.status}: {report.summary}",
                    Location(uri=report.uri),
                    {"gate": report.gate, "status": report.status},
                    identity=report.gate,
                )
            )

    text = build_bom(
        BomInputs(
            model=model_artifact,
            datasets=data,
            libraries=libraries,
            reports=reports,
            run_context=context,
            model_card=section.model_card,
            model_config=_model_config(model_artifact, storage),
        )
    )
    problems = check_bom(text)
    target = out or default_bom_path(model)
    written: dict[str, str] = {}
    if problems:
        findings.append(
            rules.ValidationFailed.finding(
                f"the BOM fails strict CycloneDX 1.6 validation: {problems[0]}",
                Location(uri=target),
                {"problems": problems[:20], "count": len(problems)},
                identity="validation",
            )
        )
    else:
        written["bom"] = storage.write_bytes(target, text.encode(), content_type=MEDIA_TYPE)

    doc = json.loads(text)
    subjects = [
        Subject(path=f.uri, sha256=f.sha256, size=f.size, kind=kind)
        for artifact, kind in ((model_artifact, "model-file"), *((d, "dataset") for d in data))
        for f in artifact.files
    ]
    hashed_libs = sum(1 for lib in libraries if lib.hashes)
    status = decide(violations=False, incomplete=bool(problems), on_fail=policy.on_fail_for(GATE))
    return GateResult(
        gate=GATE,
        status=status,
        summary=_summary(model_artifact, data, libraries, reports, written, problems),
        findings=tuple(findings),
        subjects=tuple(subjects),
        started_at=started,
        finished_at=now(),
        metrics={
            "files": len(model_artifact.files),
            "datasets": len(data),
            "dataset_files": sum(len(d.files) for d in data),
            "libraries": len(libraries),
            "libraries_hashed": hashed_libs,
            "gate_reports": len(reports),
            "bytes_hashed": sum(s.size or 0 for s in subjects),
        },
        tool_versions=tool_versions("cyclonedx-python-lib"),
        policy=policy.effective(GATE),
        reports=written,
        details={
            "bom": {
                "uri": written.get("bom"),
                "spec_version": doc.get("specVersion"),
                "serial_number": doc.get("serialNumber"),
                "model_root_sha256": model_artifact.root_sha256,
                "datasets": {d.uri: d.sha256 for d in data},
            }
        },
    )


def default_bom_path(model: str) -> str:
    """``<model>.cdx.json`` beside a model file, ``<dir>.cdx.json`` beside a directory."""
    if model.startswith("s3://"):
        return model.rstrip("/") + ".cdx.json"
    path = Path(model)
    if path.name in ("", ".", ".."):
        path = resolve_path(path)
    return str(path.with_name(path.name + ".cdx.json"))


def _artifact(uri: str, *, storage: Storage, policy: Policy) -> Any:
    """Hash every file of a model or dataset (and read S3 VersionIds).

    Raises:
        InputError: missing, unreadable or empty.
    """
    from mlsec_gates.gates.sbom.bom import Artifact, ArtifactFile
    from mlsec_gates.hashing import digest_tree, model_name, root_digest

    section = policy.gates.sbom
    digests = digest_tree(uri, storage=storage, workers=section.hash_workers, ignore=section.ignore)
    if not digests:
        raise InputError(f"{uri}: no files to put in the BOM")
    single = len(digests) == 1 and digests[0].path == "."
    name = model_name(uri)
    files = []
    for d in digests:
        location = uri if single else uri.rstrip("/") + "/" + d.path
        if not storage.is_remote(uri) and not single:
            location = str(Path(uri) / d.path)
        version = None
        if storage.is_remote(location):
            version = storage.head(location).get("VersionId")
            version = None if version in (None, "", "null") else str(version)
        files.append(
            ArtifactFile(
                name=name if single else d.path,
                uri=location,
                sha256=d.sha256,
                size=d.size,
                version_id=version,
            )
        )
    return Artifact(
        uri=uri, name=name, files=tuple(files), root_sha256=root_digest(digests), single_file=single
    )


def _unversioned(artifact: Any) -> list[Finding]:
    """One ``sbom.dataset-unversioned`` finding per S3 dataset with unversioned objects."""
    if not artifact.remote:
        return []
    missing = [f.uri for f in artifact.files if f.version_id is None]
    if not missing:
        return []
    return [
        rules.DatasetUnversioned.finding(
            f"{artifact.uri}: {len(missing)} of {len(artifact.files)} object(s) have no S3 "
            "VersionId (bucket not versioned); the BOM pins their hash only",
            Location(uri=artifact.uri),
            {"objects": missing[:20], "count": len(missing)},
            identity=artifact.uri,
        )
    ]


def _model_config(artifact: Any, storage: Storage) -> dict[str, Any]:
    """The model's top-level ``config.json`` (Hugging Face style), or {} when absent/invalid."""
    entry = next((f for f in artifact.files if f.name == "config.json"), None)
    if artifact.single_file or entry is None or entry.size > 1024 * 1024:
        return {}
    try:
        data = loads_json(storage.read_text(entry.uri))
    except (InputError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _summary(
    model: Any,
    data: list[Any],
    libraries: list[Any],
    reports: list[Any],
    written: dict[str, str],
    problems: list[str],
) -> str:
    head = (
        f"ML-BOM of {model.name}: {len(model.files)} model file(s), {len(data)} dataset(s), "
        f"{len(libraries)} librar{'y' if len(libraries) == 1 else 'ies'}, "
        f"{len(reports)} gate report(s)."
    )
    if problems:
        return head + f" It fails strict CycloneDX 1.6 validation, not written: {problems[0]}"
    return head + f" Valid CycloneDX 1.6, written to {written['bom']}."
