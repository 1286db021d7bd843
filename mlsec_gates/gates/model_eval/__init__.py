"""Model-eval gate: fairness, explanations, robustness and backdoors of the trained model.

Example:
    >>> from mlsec_gates.gates.model_eval import model_eval_gate
    >>> result = model_eval_gate("model.joblib", data="holdout.csv", label_column="label",
    ...                          sensitive_columns=["sex"])  # doctest: +SKIP
    >>> [c["decision"] for c in result.details["checks"]]  # doctest: +SKIP
    ['pass', 'pass', 'pass', 'pass']

Four checks on a held-out evaluation set (:mod:`.checks`; each switchable in
``gates.model_eval``): **fairness** (fairlearn metrics per sensitive group, demographic parity
and equalized odds), **explainability** (permutation importance; sensitive columns and their
proxies among the top features), **robustness** (accuracy under noise and under an ART
evasion attack) and **backdoor** (a feature value that flips most predictions to one class).

Loading a model runs its code, so the gate first copies the model to a private folder, scans
*that copy* with the scan gate and refuses to load it on anything but a pass; then a child
process with memory, CPU-time and wall-clock limits loads it and runs the checks
(:mod:`.isolation`). ``budget_seconds`` (``--budget``) is the CPU time of that child the
checks share, so the verdict does not depend on the machine's load.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates._common import (
    Progress,
    decide,
    default_report_dir,
    now,
    run_and_report,
    stepper,
    tool_versions,
)
from mlsec_gates.gates.model_eval import rules
from mlsec_gates.policy import OnFail, Policy
from mlsec_gates.result import GateResult, Location, Status, Subject
from mlsec_gates.storage import S3Options, Storage, sha256_of

__all__ = ["CHECK_NAMES", "model_eval_gate", "run_model_eval"]

GATE = "model_eval"
#: The checks, in the order of ``details.checks``.
CHECK_NAMES = ("fairness", "explainability", "robustness", "backdoor")


def model_eval_gate(
    model: str,
    *,
    data: str,
    label_column: str | None = None,
    sensitive_columns: Sequence[str] | None = None,
    budget: float | None = None,
    policy: Policy | str | None = None,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    on_fail: OnFail | None = None,
    json_out: str | None = None,
    run_context: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> GateResult:
    """Evaluate a trained model on held-out data, then write the reports.

    Args:
        model: the model file (pickle/joblib, ONNX or TorchScript), path or ``s3://`` URI;
            a folder holding exactly one file also works.
        data: the evaluation data (CSV, Parquet or JSON lines), path or ``s3://`` URI.
        label_column: the true label (default: ``gates.model_eval.label_column``).
        sensitive_columns: columns whose groups fairness compares and whose proxies
            explainability looks for (default: ``gates.model_eval.sensitive_columns``).
        budget: CPU seconds the checks may use together
            (default: ``gates.model_eval.budget_seconds``).
        policy: a policy file path/URI, inline YAML text, a parsed :class:`Policy`, or None.
        report_dir: directory or ``s3://`` prefix for the reports.
        s3: how to reach S3 (overrides the policy's ``storage.s3``).
        on_fail: ``fail`` or ``warn``; overrides the policy for this run.
        json_out: also write the JSON report to this path or URI.
        run_context: where the task runs, recorded in the provenance ledger.
        progress: called after each step (terminal progress in the CLI).

    Returns:
        The result with ``reports`` written: ``pass``; ``fail`` when a check found a problem
        (``warn`` under ``on_fail: warn``); ``error`` when the scan gate did not pass the
        model (it is then never loaded), the model could not be loaded or run on the data,
        or a check could not decide (groups too small, budget exhausted).

    Raises:
        ConfigError: bad policy, no label column, a budget that is not positive.
        InputError: the model or data cannot be read, the data has no rows, or lacks the
            label or a sensitive column.
        StorageError: S3 or the report directory refused access.
    """
    where = report_dir or default_report_dir(GATE)
    return run_and_report(
        GATE,
        lambda loaded, storage: run_model_eval(
            model,
            data=data,
            label_column=label_column,
            sensitive_columns=sensitive_columns,
            budget=budget,
            policy=loaded,
            storage=storage,
            progress=progress,
        ),
        policy=policy,
        report_dir=where,
        s3=s3,
        on_fail=on_fail,
        json_out=json_out,
        run_context=run_context,
    )


def run_model_eval(
    model: str,
    *,
    data: str,
    label_column: str | None = None,
    sensitive_columns: Sequence[str] | None = None,
    budget: float | None = None,
    policy: Policy | None = None,
    storage: Storage | None = None,
    progress: Progress | None = None,
) -> GateResult:
    """Scan, load in isolation, run the checks; the result without reports.

    Raises:
        ConfigError, InputError, StorageError: as :func:`model_eval_gate`.
    """
    from mlsec_gates.gates.drift.data import read_frame
    from mlsec_gates.gates.model_eval.isolation import WorkerFailed, evaluate_isolated
    from mlsec_gates.gates.scan import run_scan

    started = now()
    policy = policy or Policy()
    storage = storage or Storage()
    section = policy.section(GATE)
    label = label_column or section.label_column
    if not label:
        raise ConfigError("which column is the label? give --label-column (or label_column)")
    sensitive = list(sensitive_columns or section.sensitive_columns)
    seconds = float(budget if budget is not None else section.budget_seconds)
    if not seconds > 0:
        raise ConfigError(f"the budget must be a positive number of seconds, got {budget!r}")
    step = stepper(progress, 3)
    model_uri = _model_file(model, storage)
    with tempfile.TemporaryDirectory(prefix="mlsec-model-eval-") as tmp:
        model_copy, model_subject = _private_copy(model_uri, tmp, "model", storage)
        data_copy, data_sha = _private_copy(data, tmp, "data", storage)
        frame, data_subject = read_frame(data_copy)
        data_subject = Subject(
            path=data,
            sha256=data_sha.sha256,
            size=data_subject.size,
            kind=data_subject.kind,
            verdict="evaluation data",
        )
        _check_columns(frame, data, label, sensitive, section.feature_columns)
        scan = run_scan([model_copy], policy=policy, storage=Storage(), cache=None)
        step("model scanned")
        scanned = scan.subjects[0] if scan.subjects else None
        kind = scanned.kind if scanned else None
        if scan.status is not Status.PASS or scanned is None or scanned.verdict != "pass":
            return _refused(started, policy, model_subject, data_subject, scan, model_uri)
        try:
            answer = evaluate_isolated(
                model=model_copy,
                data=data_copy,
                label_column=label,
                sensitive_columns=sensitive,
                settings=section.model_dump(mode="json"),
                workdir=tmp,
                budget_seconds=seconds,
                memory_mb=section.memory_mb,
                threads=section.threads,
            )
        except WorkerFailed as exc:
            answer = {"error": str(exc), "stage": "worker"}
        step("checks run")
    from mlsec_gates.gates.model_eval.findings import build_result

    result = build_result(
        answer,
        started=started,
        policy=policy,
        gate=GATE,
        model_uri=model_uri,
        model_subject=Subject(**{**model_subject.to_dict(), "kind": kind}),
        data_subject=data_subject,
        label=label,
        sensitive=sensitive,
        budget=seconds,
        scan_summary=scan.summary,
    )
    step("report built")
    return result


def _model_file(model: str, storage: Storage) -> str:
    """The model file: the path itself, or the one file of a folder or prefix."""
    files = storage.list_files(model)
    if not files:
        raise InputError(f"{model}: no model file there")
    if len(files) > 1:
        shown = ", ".join(os.path.basename(f) for f in files[:5])
        raise InputError(f"{model}: {len(files)} files ({shown}...): name the model file itself")
    return files[0]


def _private_copy(uri: str, tmp: str, name: str, storage: Storage) -> tuple[str, Subject]:
    """Copy ``uri`` into the private folder and hash the copy.

    The bytes scanned, read and loaded are these, whatever happens to the original meanwhile.
    """
    suffix = os.path.splitext(uri.rstrip("/"))[1][:16]
    target = os.path.join(tmp, name + suffix)
    with storage.open_read(uri) as source, open(target, "wb") as out:
        while chunk := source.read(8 << 20):
            out.write(chunk)
    with open(target, "rb") as fh:
        digest, size = sha256_of(fh)
    return target, Subject(path=uri, sha256=digest, size=size, verdict="pass")


def _check_columns(
    frame: Any, data: str, label: str, sensitive: list[str], features: Sequence[str]
) -> None:
    for kind, names in (("label", [label]), ("sensitive", sensitive), ("feature", features)):
        missing = [c for c in names if c not in frame.columns]
        if missing:
            raise InputError(f"{data}: no {kind} column {', '.join(map(repr, missing))}")
    if frame[label].isna().all():
        raise InputError(f"{data}: label column {label!r} is empty")


def _refused(
    started: Any,
    policy: Policy,
    model_subject: Subject,
    data_subject: Subject,
    scan: GateResult,
    model_uri: str,
) -> GateResult:
    """An ``error`` result: the scan gate did not pass the model, so it was not loaded."""
    verdict = scan.subjects[0].verdict if scan.subjects else scan.status.value
    message = f"model not loaded: the scan gate's verdict is {verdict!r}, not 'pass'"
    finding = rules.ScanNotPassed.finding(
        message,
        Location(uri=model_uri),
        {
            "scan_status": scan.status.value,
            "scan_summary": scan.summary,
            "scan_findings": [
                {"rule_id": f.rule_id, "severity": f.severity.label, "message": f.message}
                for f in scan.findings[:20]
            ],
        },
        identity="scan",
    )
    return GateResult(
        gate=GATE,
        status=decide(violations=False, incomplete=True, on_fail=policy.on_fail_for(GATE)),
        summary=f"{model_uri}: {message}. {scan.summary}",
        findings=(finding,),
        subjects=(Subject(**{**model_subject.to_dict(), "verdict": "not loaded"}), data_subject),
        started_at=started,
        finished_at=now(),
        metrics={"checks_run": 0},
        tool_versions=tool_versions("fickling"),
        policy=policy.effective(GATE),
        details={
            "checks": [
                {"check": name, "statistic": None, "threshold": None, "decision": "not run"}
                for name in CHECK_NAMES
            ],
            "scan": {"status": scan.status.value, "summary": scan.summary},
        },
    )
