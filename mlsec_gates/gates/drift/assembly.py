"""One drift result for every engine: from the per-column checks to the :class:`GateResult`.

The in-memory engine (:func:`mlsec_gates.gates.drift.run_drift`) and the Spark and SQL
engines (:mod:`.engines.run`) differ only in how they read the two batches and compute the
per-column checks. Everything after is :func:`assemble`, once for all of them: findings and
the dataset rule, the histograms, the poisoning detectors (on the batch, or on a sample whose
rows keep their batch positions), the status (``warn`` for drifted columns under the dataset
share), Evidently's page (when asked for, by default only when the gate does not pass), the
digest whose headline is the summary, and the result. So the same data give the same status,
summary and details on every engine.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mlsec_gates.errors import ConfigError
from mlsec_gates.gates._common import decide, now, tool_versions
from mlsec_gates.gates.drift import rules
from mlsec_gates.policy import Policy
from mlsec_gates.result import Finding, GateResult, Location, Status, Subject
from mlsec_gates.storage import Storage, join

GATE = "drift"
SUSPECTS_FILE = "suspects.csv"
SUSPECT_COLUMNS = ("row", "reason", "score", "detector")
LOCAL_TOOLS = ("numpy", "scipy", "pandas", "evidently", "scikit-learn")


@dataclass
class Rows:
    """Rows pulled into the gate process: what the detectors score and fit on."""

    reference: Any
    """The reference frame the detectors are fitted on (None with a stored profile)."""
    current: Any
    """The current frame (the batch, or a sample of it)."""
    positions: Any = None
    """Each current row's position in the batch when ``current`` is a sample; None when
    ``current`` is the batch."""
    note: dict[str, Any] | None = None
    """How the rows were sampled (``details.poison.sample``)."""

    def sampled(self, batch_rows: int) -> int | None:
        """How many rows the detectors saw, when fewer than the batch's; else None."""
        seen = len(self.current)
        return seen if self.positions is not None and seen < batch_rows else None


@dataclass
class Batches:
    """Both batches as one engine read them, and the per-column checks it computed."""

    current: str
    """The current batch as the caller named it (path, URI or table)."""
    profile: str | None
    """The reference profile's path when the reference is one."""
    label: str | None
    run_poison: bool
    plan: Any
    """The columns compared (:class:`~.data.ColumnPlan`)."""
    checks: list[Any]
    reference_values: Mapping[str, Any]
    """Per-column summaries of the reference (for the histograms)."""
    current_values: Any
    """Per-column summaries of the current batch, or the current frame."""
    reference: Subject
    """The reference data (path, SHA-256 when known)."""
    reference_file: Subject | None
    """The profile file, when the reference is a stored profile (the reported subject)."""
    reference_rows: int
    current_subject: Subject
    current_rows: int
    detector_rows: Callable[[], Rows]
    """The rows the detectors score; called only when they run."""
    page_rows: Callable[[], tuple[Any, Any]]
    """Reference sample and current rows for Evidently's page; called only when drawn."""
    fitted: Any = None
    """The stored profile whose fitted detectors score the batch (None: fit them on
    ``Rows.reference``)."""
    engine: str = "local"
    tools: tuple[str, ...] = LOCAL_TOOLS


def assemble(
    batches: Batches,
    *,
    policy: Policy,
    storage: Storage,
    report_dir: str,
    suspects_out: str | None,
    evidently_report: bool | None,
    step: Callable[[str], None],
    started: Any,
) -> GateResult:
    """The gate's result from the checks: findings, detectors, status, pages, digest.

    Writes the suspects CSV and Evidently's page (both linked from the result); the other
    reports are written by the caller. ``step`` reports the last three of the gate's five
    progress steps.
    """
    from mlsec_gates.gates.drift import _thread_limit
    from mlsec_gates.gates.drift.engine import DriftSettings

    b = batches
    section = policy.section(GATE)
    run = _Run()
    scored: Rows | None = None
    with _thread_limit(section.threads):
        _drift_findings(run, b.checks, b.plan, section, b.current, b.reference.path)
        run.details["histograms"] = _histograms(
            b.checks, b.reference_values, b.current_values, b.plan.kinds
        )
        step("drift computed")
        if b.run_poison:
            scored = b.detector_rows()
            _poison(
                run, b.fitted, scored.reference, scored.current, b.label, b.plan, section, b.current
            )
            suspects = run.details.pop("_suspects")
            if scored.positions is not None:  # a sample: name rows by their batch position
                suspects = [replace(s, row=int(scored.positions[s.row])) for s in suspects]
            run.details["suspects_uri"] = _write_suspects(
                suspects, suspects_out or join(report_dir, SUSPECTS_FILE), storage
            )
            if scored.note is not None and "poison" in run.details:
                run.details["poison"]["sample"] = scored.note
        elif suspects_out:
            run.details["suspects_uri"] = _write_suspects((), suspects_out, storage)
        step("poisoning detectors run" if b.run_poison else "no label: detectors skipped")
        status = decide(
            violations=run.violations, incomplete=run.incomplete, on_fail=policy.on_fail_for(GATE)
        )
        if status is Status.PASS and run.warnings:
            status = Status.WARN
        wanted = section.evidently_report if evidently_report is None else evidently_report
        if wanted is True or (wanted == "auto" and status in (Status.FAIL, Status.ERROR)):
            reference_rows, current_rows = b.page_rows()
            _evidently(
                run,
                reference_rows,
                current_rows,
                b.plan,
                section,
                DriftSettings.from_policy(section),
                (b.reference_rows, b.current_rows),
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
    digest = _digest(run, scored, b.current_rows, b.label, section, status)
    run.details["digest"] = digest
    reported = b.reference_file or b.reference
    run.metrics.update({"rows_reference": b.reference_rows, "rows_current": b.current_rows})
    return GateResult(
        gate=GATE,
        status=status,
        summary=digest["headline"],
        findings=tuple(run.findings),
        subjects=(
            Subject(**{**reported.to_dict(), "verdict": "reference"}),
            Subject(**{**b.current_subject.to_dict(), "verdict": verdict}),
        ),
        started_at=started,
        finished_at=now(),
        metrics=run.metrics,
        tool_versions=tool_versions(*b.tools),
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
            "engine": b.engine,
            "reference": {"profile": b.profile, "data": b.reference.to_dict()},
            "label_column": b.label,
            "columns": {
                "compared": b.plan.kinds,
                "only_reference": list(b.plan.only_reference),
                "only_current": list(b.plan.only_current),
                "skipped": list(b.plan.skipped),
            },
            **run.details,
        },
    )


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

    Either side may be in-memory values or counts, or a Spark/SQL summary (counted exactly
    on live data, read off a stored sketch); ``current`` is the current frame, or its
    column summaries.
    """
    from mlsec_gates.gates.drift.engine import summarise_column
    from mlsec_gates.gates.drift.engines.summary import plot_histogram
    from mlsec_gates.gates.drift.plots import MAX_PLOTS

    drifted = [c.column for c in checks if c.drifted and c.statistic is not None][:MAX_PLOTS]
    out = {}
    for name in drifted:
        summary = current[name]
        if not isinstance(current, Mapping):
            summary = summarise_column(summary, kinds[name])
        data = plot_histogram(reference[name], summary)
        if data:
            out[name] = data
    return out


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
        from mlsec_gates.gates.drift import _fit_poison

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


def _digest(
    run: _Run,
    scored: Rows | None,
    rows: int,
    label: str | None,
    section: Any,
    status: Status,
) -> dict:
    """The report's plain-language top: headline, suspects and drift tables, one fix.

    ``scored``: the rows the detectors scored (a sample: rows are named by batch position).
    """
    from mlsec_gates.gates.drift import digest

    drifted = [c.column for c in run.checks if c.drifted]
    assessment = run.assessment
    suspects = list(assessment.suspects) if assessment is not None else []
    kinds: dict[str, int] = {}
    for s in suspects:
        first = s.detector.split("+")[0]
        kinds[first] = kinds.get(first, 0) + 1
    alarm = bool(assessment is not None and assessment.alarm)
    sampled = scored.sampled(rows) if scored is not None else None
    headline = digest.headline_for(
        rows=rows,
        sampled=sampled,
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
    if suspects and label and scored is not None:
        frame = scored.current
        features = [c for c in frame.columns if c != label]
        sections.append(
            digest.suspects_section(
                suspects, frame, label, features, len(suspects), positions=scored.positions
            )
        )
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
