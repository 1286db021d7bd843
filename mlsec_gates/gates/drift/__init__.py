"""Poisoning-drift gate: compare a batch with a trusted reference before training on it.

Example:
    >>> from mlsec_gates.gates.drift import drift_gate
    >>> result = drift_gate("batch.parquet", reference="trusted.parquet",
    ...                     label_column="label")  # doctest: +SKIP
    >>> result.status, result.metrics["columns_drifted"]  # doctest: +SKIP
    (<Status.PASS: 'pass'>, 0)

Two kinds of checks, one verdict:

- **Distribution drift per column** with Evidently's methods and default thresholds (K-S,
  chi-squared or z-test up to 1000 reference rows; normed Wasserstein or Jensen-Shannon
  above; PSI on request), computed by :mod:`.engine` on scipy/numpy with Evidently's exact
  formulas, so each per-column decision equals Evidently's for the same method and threshold.
  Dataset drift (at least ``drift_share`` of the columns drifted) fails the gate;
  ``fail_on: column`` fails it on any drifted column.
- **Row-level poisoning detectors** (:mod:`.poison`, with a label column): label flips,
  backdoor triggers, injected duplicates, scored against a model fitted on the trusted
  reference. An alarm fails the gate; the suspicious rows go to a CSV (``row``, ``reason``,
  ``score``).

The reference is a data file, or a profile stored once by :func:`drift_profile` (no reload).
Evidently's own HTML page is written next to the report for people (on a bounded sample).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlsec_gates.errors import ConfigError
from mlsec_gates.gates._common import (
    decide,
    default_report_dir,
    gate_storage,
    load_policy,
    now,
    run_and_report,
    tool_versions,
)
from mlsec_gates.gates.drift import rules
from mlsec_gates.policy import OnFail, Policy
from mlsec_gates.result import Finding, GateResult, Location, Status, Subject
from mlsec_gates.scale import with_engine
from mlsec_gates.storage import S3Options, Storage, join

__all__ = ["Progress", "drift_gate", "drift_profile", "run_drift"]

GATE = "drift"
SUSPECTS_FILE = "suspects.csv"
SUSPECT_COLUMNS = ("row", "reason", "score", "detector")

Progress = Callable[[int, int, str], None]
"""Called with (step done, steps in all, what is being done)."""


def drift_gate(
    current: str,
    *,
    reference: str | None = None,
    profile: str | None = None,
    label_column: str | None = None,
    policy: Policy | str | None = None,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    on_fail: OnFail | None = None,
    json_out: str | None = None,
    suspects_out: str | None = None,
    run_context: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    engine: str | None = None,
    sql_url: str | None = None,
    evidently_report: bool | None = None,
) -> GateResult:
    """Check a batch against the reference, then write the reports; the one call adapters make.

    Args:
        current: the batch to check: CSV, Parquet or JSON-lines file, path or ``s3://`` URI.
        reference: the trusted reference data (same formats); or give ``profile``.
        profile: a reference profile written by :func:`drift_profile` (path or URI).
        label_column: the label; enables the poisoning detectors (default: the policy's
            ``gates.drift.label_column``, else the profile's).
        policy: a policy file path/URI, inline YAML text, a parsed :class:`Policy`, or None.
        report_dir: directory or ``s3://`` prefix for the reports (and the Evidently page and
            suspects CSV); default ``./mlsec-gate-reports/drift-<timestamp>``.
        s3: how to reach S3 (overrides the policy's ``storage.s3``).
        on_fail: ``fail`` or ``warn``; overrides the policy for this run.
        json_out: also write the JSON report to this path or URI.
        suspects_out: write the suspicious rows (CSV: ``row``, ``reason``, ``score``,
            ``detector``) here; default ``<report_dir>/suspects.csv`` when detectors ran.
        run_context: where the task runs, recorded in the provenance ledger.
        progress: called after each step (terminal progress in the CLI).
        engine: ``local``, ``spark`` or ``sql``; overrides ``gates.drift.engine`` (with
            ``spark``, ``current``/``reference`` are Parquet/CSV datasets; with ``sql``,
            table names in ``sql_url``; see docs/scale.md).
        sql_url: SQLAlchemy URL of the database of the ``sql`` engine.
        evidently_report: write Evidently's page (True) or not (False) whatever the status;
            None: the policy's ``gates.drift.evidently_report`` (default ``auto``: only when
            the gate does not pass).

    Returns:
        The result with ``reports`` written: ``pass``; ``fail`` on dataset drift (or any
        drifted column under ``fail_on: column``) or a poisoning alarm (``warn`` under
        ``on_fail: warn``); ``warn`` when columns drifted below the dataset share (unless
        ``warn_on: none``); ``error`` when the poisoning detectors could not run.

    Raises:
        ConfigError: bad policy or arguments (not exactly one of reference or profile).
        InputError: a batch cannot be read, is empty, lacks the label column, shares no
            column with the reference, or a column's type differs between the two.
        StorageError: S3 or the report directory refused access.
    """
    where = report_dir or default_report_dir(GATE)
    return run_and_report(
        GATE,
        lambda loaded, storage: run_drift(
            current,
            reference=reference,
            profile=profile,
            label_column=label_column,
            policy=with_engine(loaded, GATE, engine, sql_url=sql_url),
            storage=storage,
            report_dir=where,
            suspects_out=suspects_out,
            progress=progress,
            evidently_report=evidently_report,
        ),
        policy=policy,
        report_dir=where,
        s3=s3,
        on_fail=on_fail,
        json_out=json_out,
        run_context=run_context,
    )


def drift_profile(
    reference: str,
    *,
    out: str,
    label_column: str | None = None,
    policy: Policy | str | None = None,
    s3: S3Options | None = None,
    engine: str | None = None,
    sql_url: str | None = None,
) -> str:
    """Compute the reference's statistics (and poisoning state) once; store them at ``out``.

    With ``engine`` ``spark`` (or ``sql``: ``reference`` is a table of ``sql_url``) the
    statistics are computed there and large numeric columns are stored as quantile sketches
    (docs/scale.md); the in-memory gate reads such a profile too.

    Returns:
        Where the profile was written.

    Raises:
        ConfigError: bad policy.
        InputError: the reference cannot be read, is empty or lacks the label column.
        StorageError: S3 or ``out`` refused access.
    """
    from mlsec_gates.gates.drift.data import column_kind, read_frame
    from mlsec_gates.gates.drift.profile import build_profile, save_profile

    bootstrap = Storage(s3) if s3 else Storage()
    loaded = with_engine(
        load_policy(policy, storage=bootstrap, gate=GATE), GATE, engine, sql_url=sql_url
    )
    storage = gate_storage(loaded, s3)
    section = loaded.section(GATE)
    label = label_column or section.label_column
    if section.engine != "local":
        from mlsec_gates.gates.drift.engines.run import build_profile_scaled

        scaled = build_profile_scaled(reference, label=label, policy=loaded, storage=storage)
        return save_profile(scaled, out, storage)
    frame, subject = read_frame(reference, storage)
    kinds = {name: column_kind(frame[name]) for name in frame.columns}
    if label and label not in kinds:
        from mlsec_gates.errors import InputError

        raise InputError(f"{reference}: no label column {label!r}")
    poison_state = None
    with _thread_limit(section.threads):
        if label and section.poison.enabled:
            fitted = _fit_poison(frame, label, kinds, section)
            poison_state = fitted.to_state()
        built = build_profile(
            frame,
            subject,
            kinds,
            label=label,
            sample_rows=section.report_sample_rows,
            poison_state=poison_state,
        )
    return save_profile(built, out, storage)


@dataclass
class _Run:
    """What one gate run accumulates before the result is built."""

    findings: list[Finding] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float | int] = field(default_factory=dict)
    violations: bool = False
    incomplete: bool = False
    warnings: bool = False
    """Drifted columns below the dataset share: the status is ``warn`` unless it fails."""
    assessment: Any = None
    """The poisoning detectors' assessment, when they ran."""
    checks: list[Any] = field(default_factory=list)
    dataset: bool = False


def run_drift(
    current: str,
    *,
    reference: str | None = None,
    profile: str | None = None,
    label_column: str | None = None,
    policy: Policy | None = None,
    storage: Storage | None = None,
    report_dir: str | None = None,
    suspects_out: str | None = None,
    progress: Progress | None = None,
    evidently_report: bool | None = None,
) -> GateResult:
    """Run the checks and return the result without writing reports (see :func:`drift_gate`).

    The Evidently page (when asked for, or by default when the gate does not pass) and the
    suspects CSV are written (they are linked from the result).

    Raises:
        ConfigError, InputError, StorageError: as :func:`drift_gate`.
    """
    from mlsec_gates.gates.drift.data import column_kind, plan_columns, read_frame
    from mlsec_gates.gates.drift.engine import DriftSettings, check_columns
    from mlsec_gates.gates.drift.profile import build_profile, load_profile, summarise_file

    started = now()
    policy = policy or Policy()
    storage = storage or Storage()
    section = policy.section(GATE)
    report_dir = report_dir or default_report_dir(GATE)
    if bool(reference) == bool(profile):
        raise ConfigError("give the reference data (--reference) or its profile (--profile)")
    if section.engine != "local":  # Spark or SQL: statistics where the data live
        from mlsec_gates.gates.drift.engines.run import run_drift_scaled

        return run_drift_scaled(
            current,
            reference=reference,
            profile=profile,
            label_column=label_column,
            policy=policy,
            storage=storage,
            report_dir=report_dir,
            suspects_out=suspects_out,
            progress=progress,
        )
    step = _stepper(progress, 5)
    stored = load_profile(profile, storage) if profile else None
    label = label_column or section.label_column or (stored.label if stored else None)
    run_poison = bool(label) and section.poison.enabled
    ref_frame = None
    if stored is None and not run_poison:  # the summaries are enough: never hold the frame
        stored = summarise_file(str(reference), storage, sample_rows=section.report_sample_rows)
    elif stored is None:  # the detectors fit on the frame; summarise it the same way
        ref_frame, ref_subject = read_frame(str(reference), storage)
        kinds = {name: column_kind(ref_frame[name]) for name in ref_frame.columns}
        stored = build_profile(
            ref_frame, ref_subject, kinds, label=None, sample_rows=section.report_sample_rows
        )
    ref_subject, ref_rows = stored.subject, stored.rows
    step("reference read")
    cur_values = None
    if run_poison:  # the detectors score every row
        cur_frame, cur_subject = read_frame(current, storage)
        cur_rows = len(cur_frame)
    else:  # summaries and a sample are enough (a 1M-row batch is never held whole)
        summary = summarise_file(current, storage, sample_rows=section.report_sample_rows)
        cur_frame, cur_subject, cur_rows = summary.sample, summary.subject, summary.rows
        cur_values = summary.values
    step("current batch read")
    plan = plan_columns(
        stored.kinds,
        cur_frame,
        label=label,
        compare_label=not run_poison,
        columns=section.columns,
        ignore=section.ignore_columns,
        reference_name=ref_subject.path,
        current_name=current,
    )
    settings = DriftSettings.from_policy(section)
    run = _Run()
    with _thread_limit(section.threads):
        checks = check_columns(
            stored.values, plan.kinds, cur_frame, settings, current_values=cur_values
        )
        _drift_findings(run, checks, plan, section, current, ref_subject.path)
        run.details["histograms"] = _histograms(
            checks, stored.values, cur_values or cur_frame, plan.kinds
        )
        step("drift computed")
        if run_poison:
            fitted_in = stored if profile else None
            _poison(run, fitted_in, ref_frame, cur_frame, label, plan, section, current)
            run.details["suspects_uri"] = _write_suspects(
                run.details.pop("_suspects"),
                suspects_out or join(report_dir, SUSPECTS_FILE),
                storage,
            )
        elif suspects_out:
            run.details["suspects_uri"] = _write_suspects((), suspects_out, storage)
        step("poisoning detectors run" if run_poison else "no label: detectors skipped")
        status = decide(
            violations=run.violations, incomplete=run.incomplete, on_fail=policy.on_fail_for(GATE)
        )
        if status is Status.PASS and run.warnings:
            status = Status.WARN
        wanted = section.evidently_report if evidently_report is None else evidently_report
        if wanted is True or (wanted == "auto" and status in (Status.FAIL, Status.ERROR)):
            _evidently(
                run,
                stored.sample,
                cur_frame,
                plan,
                section,
                settings,
                (ref_rows, cur_rows),
                report_dir,
                storage,
            )
        else:
            run.details["evidently_report"] = None
            run.details["evidently_note"] = (
                "not rendered: the gate did not fail (evidently_report: auto)"
                if wanted == "auto"
                else "not rendered (evidently_report: false)"
            )
        step("Evidently page done" if run.details.get("evidently_report") else "report ready")
    verdict = "error" if run.incomplete else ("fail" if run.violations else "pass")
    digest = _digest(run, cur_frame, cur_rows, label, section, status)
    run.details["digest"] = digest
    reference_data = ref_subject.to_dict()
    if stored.file is not None:
        ref_subject = stored.file
    ref_subject = Subject(**{**ref_subject.to_dict(), "verdict": "reference"})
    run.metrics.update({"rows_reference": ref_rows, "rows_current": cur_rows})
    return GateResult(
        gate=GATE,
        status=status,
        summary=digest["headline"],
        findings=tuple(run.findings),
        subjects=(ref_subject, Subject(**{**cur_subject.to_dict(), "verdict": verdict})),
        started_at=started,
        finished_at=now(),
        metrics=run.metrics,
        tool_versions=tool_versions("numpy", "scipy", "pandas", "evidently", "scikit-learn"),
        policy=policy.effective(GATE),
        reports={
            kind: uri
            for kind, uri in (
                ("suspects", run.details.get("suspects_uri")),
                ("evidently", run.details.get("evidently_report")),
            )
            if uri
        },
        details={
            "reference": {"profile": profile, "data": reference_data},
            "label_column": label,
            "columns": {
                "compared": plan.kinds,
                "only_reference": list(plan.only_reference),
                "only_current": list(plan.only_current),
                "skipped": list(plan.skipped),
            },
            **run.details,
        },
    )


def _drift_findings(
    run: _Run, checks: list[Any], plan: Any, section: Any, current: str, reference: str
) -> None:
    """Findings, metrics and details of the per-column checks and the dataset rule."""
    from mlsec_gates.gates.drift.engine import LARGE_SAMPLE_ROWS, dataset_drift

    drifted, share, dataset = dataset_drift(checks, section.drift_share)
    for check in checks:
        if not check.drifted:
            continue
        rule = rules.EmptyColumn if check.statistic is None else rules.ColumnDrift
        message = (
            f"column {check.column!r}: {check.note}"
            if check.statistic is None
            else f"column {check.column!r} drifted ({_statistic_text(check)})"
        )
        run.findings.append(
            rule.finding(
                message,
                Location(uri=current, detail=f"column {check.column}"),
                check.to_dict(),
                identity=f"{check.column}:{check.method}",
            )
        )
    if dataset:
        run.findings.append(
            rules.DatasetDrift.finding(
                f"{drifted} of {len(checks)} columns drifted ({share:.0%}, at least the "
                f"{section.drift_share:.0%} dataset-drift share)",
                Location(uri=current),
                {"drifted_columns": [c.column for c in checks if c.drifted], "share": share},
                identity="dataset",
            )
        )
    run.checks, run.dataset = checks, dataset
    run.violations |= dataset or (section.fail_on == "column" and drifted > 0)
    run.warnings |= drifted > 0 and section.warn_on == "column"
    big = [c.column for c in checks if c.p_value and c.current_values > LARGE_SAMPLE_ROWS]
    if big and section.min_effect_size is None:
        run.findings.append(
            rules.LargeSampleSignificance.finding(
                f"{len(big)} column(s) tested with p-values on more than {LARGE_SAMPLE_ROWS} "
                "rows: p-values measure significance, not effect size",
                Location(uri=current),
                {"columns": big},
                identity="large-sample",
            )
        )
    if plan.only_reference or plan.only_current:
        sides = ((plan.only_reference, reference), (plan.only_current, current))
        evidence = {"only_reference": list(plan.only_reference)}
        evidence["only_current"] = list(plan.only_current)
        run.findings.append(
            rules.SchemaDifference.finding(
                "columns differ: "
                + "; ".join(f"{len(cols)} only in {where}" for cols, where in sides if cols),
                Location(uri=current),
                evidence,
                identity="schema",
            )
        )
    run.details["checks"] = [c.to_dict() for c in checks]
    run.details["dataset_drift"] = {
        "check": "dataset_drift",
        "statistic": share,
        "threshold": section.drift_share,
        "drifted": dataset,
        "decision": "drift" if dataset else "no drift",
        "drifted_columns": drifted,
        "columns": len(checks),
    }
    run.metrics.update(
        {"columns_checked": len(checks), "columns_drifted": drifted, "drift_share": round(share, 4)}
    )


def _statistic_text(check: Any) -> str:
    """``K-S p < 0.001, threshold 0.05`` or ``wasserstein distance 0.21, threshold 0.1``."""
    from mlsec_gates.gates.drift.digest import fmt, fmt_p

    if check.p_value:
        return f"{check.method} {fmt_p(check.statistic)}, threshold {fmt(check.threshold)}"
    return f"{check.method} distance {fmt(check.statistic)}, threshold {fmt(check.threshold)}"


def _histograms(
    checks: list[Any], reference: Mapping[str, Any], current: Any, kinds: Mapping[str, str]
) -> dict[str, Any]:
    """Reference-vs-current histograms of the drifted columns (drawn in the HTML report).

    ``current`` is the current frame, or its column summaries.
    """
    from mlsec_gates.gates.drift.engine import summarise_column
    from mlsec_gates.gates.drift.engines.summary import is_summary, plot_histogram
    from mlsec_gates.gates.drift.plots import MAX_PLOTS, histogram

    drifted = [c.column for c in checks if c.drifted and c.statistic is not None][:MAX_PLOTS]
    out = {}
    for name in drifted:
        summary = current[name]
        if not isinstance(current, dict):
            summary = summarise_column(summary, kinds[name])
        if is_summary(reference[name]):  # a sketch profile built by Spark (drift/engines/)
            data = plot_histogram(reference[name], summary)
        else:
            data = histogram(reference[name], summary)
        if data:
            out[name] = data
    return out


def _fit_poison(frame: Any, label: str, kinds: Mapping[str, str | None], section: Any) -> Any:
    """Fit the poisoning detectors on the trusted reference (all its feature columns)."""
    from mlsec_gates.gates.drift import poison

    numeric = [c for c, k in kinds.items() if k == "numeric" and c != label]
    categorical = [c for c, k in kinds.items() if k == "categorical" and c != label]
    return poison.fit_reference(
        frame, label=label, numeric=numeric, categorical=categorical, settings=section.poison
    )


def _poison(
    run: _Run,
    stored: Any,
    ref_frame: Any,
    cur_frame: Any,
    label: str,
    plan: Any,
    section: Any,
    current: str,
) -> None:
    """Run the row-level detectors; their alarm is a violation, their failure an error."""
    try:
        from mlsec_gates.gates.drift import poison

        poison.assess  # noqa: B018 - a half-installed package has no entry points
    except (ImportError, AttributeError) as exc:
        _poison_unavailable(run, current, f"the detectors cannot be loaded: {exc}")
        return
    if stored is not None:
        if not stored.poison_meta:
            _poison_unavailable(
                run, current, "the profile was built without a label, so without detectors"
            )
            return
        if stored.label != label:
            raise ConfigError(
                f"the profile was built with label column {stored.label!r}, not {label!r}"
            )
        fitted = poison.PoisonReference.from_state(stored.poison_meta, stored.poison_arrays)
    else:
        fitted = _fit_poison(ref_frame, label, plan.kinds, section)
    assessment = poison.assess(fitted, cur_frame, uri=current, settings=section.poison)
    run.assessment = assessment
    run.findings.extend(assessment.findings)
    run.violations |= bool(assessment.alarm)
    run.details["_suspects"] = assessment.suspects
    run.details["poison"] = {
        "alarm": bool(assessment.alarm),
        "detectors": [
            {
                "check": "poison",
                "detector": o.name,
                "statistic": o.statistic,
                "threshold": o.threshold,
                "alarm": bool(o.alarm),
                "decision": "alarm" if o.alarm else "no alarm",
                "summary": o.summary,
                "suspects": len(o.suspects),
                "details": o.details,
            }
            for o in assessment.outcomes
        ],
        "detectability": assessment.detectability,
    }
    run.metrics.update(
        {"suspects": len(assessment.suspects), "poison_alarm": int(bool(assessment.alarm))}
    )


def _poison_unavailable(run: _Run, current: str, why: str) -> None:
    run.findings.append(
        rules.PoisonDetectorsUnavailable.finding(
            f"poisoning detectors did not run: {why}", Location(uri=current), identity="poison"
        )
    )
    run.incomplete = True
    run.details["_suspects"] = ()


def _write_suspects(suspects: Any, uri: str, storage: Storage) -> str:
    """The suspects CSV (header only when nothing is suspicious); returns where it went."""
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUSPECT_COLUMNS)
    for s in suspects:
        writer.writerow([s.row, s.reason, f"{s.score:.6g}", s.detector])
    return storage.write_bytes(uri, buffer.getvalue().encode(), content_type="text/csv")


def _evidently(
    run: _Run,
    reference: Any,
    current: Any,
    plan: Any,
    section: Any,
    settings: Any,
    rows: tuple[int, int],
    report_dir: str,
    storage: Storage,
) -> None:
    """Write Evidently's page next to the reports; a failure is a low finding only."""
    if reference is None:
        run.details["evidently_report"] = None
        run.details["evidently_note"] = "the profile holds no reference sample"
        return
    from mlsec_gates.gates.drift.evidently_report import EVIDENTLY_PAGE, render_evidently_page

    try:
        page = render_evidently_page(
            reference,
            current,
            plan.kinds,
            method=settings.method,
            threshold=settings.threshold,
            per_column=settings.per_column,
            drift_share=section.drift_share,
            sample_rows=section.report_sample_rows,
            reference_rows=rows[0],
            current_rows=rows[1],
        )
    except Exception as exc:
        from mlsec_gates.gates.drift.data import one_line

        run.details["evidently_report"] = None
        run.findings.append(
            rules.EvidentlyReportFailed.finding(
                f"Evidently's drift page could not be rendered: {type(exc).__name__}: "
                f"{one_line(exc)}",
                Location(uri=report_dir),
                identity="evidently",
            )
        )
        return
    where = storage.write_bytes(
        join(report_dir, EVIDENTLY_PAGE), page.encode(), content_type="text/html"
    )
    run.details["evidently_report"] = where


def _summary(run: _Run, current: str, rows: int, verdict: str, *, fail_on: str) -> str:
    m = run.metrics
    head = (
        f"{current}: {rows} row(s), {m.get('columns_drifted', 0)} of "
        f"{m.get('columns_checked', 0)} column(s) drifted"
    )
    if "suspects" in m:
        head += f", {m['suspects']} suspicious row(s)"
    head += "."
    if verdict == "error":
        return head + " The poisoning detectors did not run, so the gate could not pass."
    # Name a finding that decided the verdict: a drifted column does not fail the gate
    # unless fail_on is "column", so it never stands in for the label shift that did.
    from mlsec_gates.waivers import is_blocking

    deciding = [f for f in run.findings if is_blocking(GATE, f, {"fail_on": fail_on})]
    if verdict == "fail" and deciding:
        worst = max(deciding, key=lambda f: f.severity)
        return head + f" {worst.message}."
    return head


def _digest(
    run: _Run, frame: Any, rows: int, label: str | None, section: Any, status: Status
) -> dict:
    """The report's plain-language top: headline, suspects and drift tables, one fix."""
    from mlsec_gates.gates.drift import digest

    drifted = [c.column for c in run.checks if c.drifted]
    assessment = run.assessment
    suspects = list(assessment.suspects) if assessment is not None else []
    kinds: dict[str, int] = {}
    for s in suspects:
        first = s.detector.split("+")[0]
        kinds[first] = kinds.get(first, 0) + 1
    alarm = bool(assessment is not None and assessment.alarm)
    headline = digest.headline_for(
        rows=rows,
        drifted=drifted,
        columns=len(run.checks),
        suspects=len(suspects),
        kinds=kinds,
        alarm=alarm,
        dataset=run.dataset,
        share=section.drift_share,
        incomplete=run.incomplete,
    )
    sections = []
    if suspects and label:
        features = [c for c in frame.columns if c != label]
        sections.append(digest.suspects_section(suspects, frame, label, features, len(suspects)))
    if drifted:
        sections.append(digest.drift_section(run.checks))
    out: dict[str, Any] = {
        "headline": headline,
        "sections": sections,
        "what_to_do": digest.what_to_do(
            alarm=alarm,
            dataset=run.dataset,
            warned=status is Status.WARN and run.warnings and not run.violations,
            incomplete=run.incomplete,
        ),
    }
    if assessment is not None:
        out["signal"] = digest.signal_text(assessment.detectability)
    return out


def _stepper(progress: Progress | None, total: int) -> Callable[[str], None]:
    done = [0]

    def step(what: str) -> None:
        done[0] += 1
        if progress:
            progress(done[0], total, what)

    return step


@contextlib.contextmanager
def _thread_limit(threads: int) -> Iterator[None]:
    """Cap numpy/BLAS/OpenMP threads for the block (two tasks on one worker share the CPU)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        yield
        return
    with threadpool_limits(limits=threads):
        yield
