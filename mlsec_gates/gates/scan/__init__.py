"""Artifact scan gate: find code that would run when a model file is loaded.

Example:
    >>> from mlsec_gates.gates.scan import scan_gate
    >>> result = scan_gate(["model.pkl"], report_dir="reports/")  # doctest: +SKIP
    >>> result.status, result.reports["html"]  # doctest: +SKIP
    (<Status.FAIL: 'fail'>, '/.../reports/scan-report.html')

Every file under the given paths, directories and S3 prefixes is recognised by its content
and analysed without being loaded (see :mod:`mlsec_gates.gates.scan.engine`). Each file gets a
verdict: ``pass``, ``block`` (known code execution) or ``quarantine`` (unknown import,
unparseable or unsupported content). The gate fails on any block or quarantine, and errs
when it checked nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mlsec_gates.errors import InputError
from mlsec_gates.gates._common import decide, now, run_and_report, tool_versions
from mlsec_gates.gates.scan import rules
from mlsec_gates.policy import OnFail, Policy
from mlsec_gates.result import Finding, GateResult, Location, Subject
from mlsec_gates.storage import S3Options, Storage, sha256_of

__all__ = ["run_scan", "scan_gate"]

GATE = "scan"

Progress = Callable[[int, int, str], None]
"""Called as ``progress(done, total, path)`` after each file."""


def scan_gate(
    targets: Sequence[str],
    *,
    policy: Policy | str | None = None,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    on_fail: OnFail | None = None,
    json_out: str | None = None,
    run_context: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> GateResult:
    """Scan, then write the JSON, Markdown and HTML reports; the one call adapters make.

    Args:
        targets: files, directories (recursive), ``s3://`` objects or prefixes (one string is
            one target). A file reached through several targets is scanned once.
        policy: a policy file path/URI, inline YAML text, a parsed :class:`Policy`, or None
            for the defaults.
        report_dir: directory or ``s3://`` prefix for the reports; default
            ``./mlsec-gate-reports/scan-<timestamp>``.
        s3: how to reach S3 (overrides the policy's ``storage.s3``).
        on_fail: ``fail`` or ``warn``; overrides the policy for this run.
        json_out: also write the JSON report to this path or URI.
        run_context: where the task runs (Airflow ``dag_id``/``run_id``/``task_id``/
            ``map_index``/``try_number``, KFP ``pipeline_run_id``/``task_id``), recorded in
            the provenance ledger when the policy sets ``ledger.uri``; retries of one task
            then add one entry (see :mod:`mlsec_gates.ledger`).
        progress: optional callback after each file.

    Returns:
        The result, with ``reports`` pointing at the written files. The status is ``fail``
        when a file is blocked or quarantined (``warn`` under ``on_fail: warn``) and ``error``
        when nothing could be checked.

    Raises:
        ConfigError: invalid policy or arguments.
        InputError: a target or the policy file does not exist.
        StorageError: S3 or the report directory refused access, or the ledger could not
            be appended to.
    """
    return run_and_report(
        GATE,
        lambda loaded, storage: run_scan(
            targets, policy=loaded, storage=storage, progress=progress
        ),
        policy=policy,
        report_dir=report_dir,
        s3=s3,
        on_fail=on_fail,
        json_out=json_out,
        run_context=run_context,
    )


def run_scan(
    targets: Sequence[str],
    *,
    policy: Policy | None = None,
    storage: Storage | None = None,
    progress: Progress | None = None,
) -> GateResult:
    """Scan files and return the result without writing reports (see :func:`scan_gate`).

    Raises:
        InputError: no target given, or a target does not exist.
        StorageError: S3 refused access.
    """
    from mlsec_gates.gates.scan.engine import ScanSettings, scan_file

    started = now()
    policy = policy or Policy()
    storage = storage or Storage()
    section = policy.gates.scan
    settings = ScanSettings(
        allow_globals={entry.global_: entry.reason for entry in section.allow_globals},
        max_file_bytes=section.max_file_bytes,
        max_members=section.max_members,
        max_depth=section.max_depth,
        max_opcodes=section.max_opcodes,
    )
    if isinstance(targets, str):  # one path, not a sequence of one-letter paths
        targets = [targets]
    if not targets:
        raise InputError("nothing to scan: give at least one path or s3:// URI")

    findings: list[Finding] = []
    files: list[str] = []
    for target in targets:
        listed = storage.list_files(target)
        if not listed:
            findings.append(
                rules.NothingScanned.finding(
                    f"{target} contains no file to scan",
                    Location(uri=target),
                    {"target": target},
                )
            )
        files.extend(listed)
    files = list(dict.fromkeys(files))  # a file named twice (``dir/`` and ``dir/x``) once

    subjects: list[Subject] = []
    scanned_bytes = 0
    for index, path in enumerate(files, start=1):
        subject, file_findings = _scan_one(path, storage=storage, settings=settings, scan=scan_file)
        subjects.append(subject)
        findings.extend(file_findings)
        scanned_bytes += subject.size or 0
        if progress:
            progress(index, len(files), path)

    verdicts = [s.verdict for s in subjects]
    n_block, n_quarantine = verdicts.count("block"), verdicts.count("quarantine")
    incomplete = not subjects or any(f.rule_id == rules.NothingScanned.id for f in findings)
    status = decide(
        violations=bool(n_block or n_quarantine),
        incomplete=incomplete,
        on_fail=policy.on_fail_for(GATE),
    )
    finished = now()
    return GateResult(
        gate=GATE,
        status=status,
        summary=_summary(subjects, findings, incomplete),
        findings=tuple(findings),
        subjects=tuple(subjects),
        started_at=started,
        finished_at=finished,
        metrics={
            "files_scanned": len(subjects),
            "files_blocked": n_block,
            "files_quarantined": n_quarantine,
            "files_passed": verdicts.count("pass"),
            "bytes_scanned": scanned_bytes,
            "findings": len(findings),
        },
        tool_versions=tool_versions("fickling", "numpy"),
        policy=policy.effective(GATE),
    )


def _scan_one(
    path: str, *, storage: Storage, settings: Any, scan: Callable[..., Any]
) -> tuple[Subject, list[Finding]]:
    """Hash and scan one file; a file that cannot be read is quarantined, not skipped."""
    try:
        with storage.open_read(path) as fh:
            digest, size = sha256_of(fh)
            verdict = scan(fh, uri=path, settings=settings)
    except InputError as exc:
        reason = exc.diagnostics()
        finding = rules.UnreadableFile.finding(
            f"file could not be read, so it was not checked: {reason}",
            Location(uri=path),
            {"error": reason},
        )
        return Subject(path=path, sha256=None, verdict="quarantine"), [finding]
    subject = Subject(
        path=path, sha256=digest, size=size, kind=verdict.kind, verdict=verdict.verdict
    )
    return subject, list(verdict.findings)


def _summary(subjects: list[Subject], findings: list[Finding], incomplete: bool) -> str:
    verdicts = [s.verdict for s in subjects]
    head = (
        f"{len(subjects)} file(s) scanned: {verdicts.count('block')} blocked, "
        f"{verdicts.count('quarantine')} quarantined, {verdicts.count('pass')} passed."
    )
    if incomplete:
        return head + " Some inputs had nothing to scan, so the gate could not pass."
    bad = [s for s in subjects if s.verdict != "pass"]
    if not bad:
        return head
    first = next((f for f in findings if f.location.uri == bad[0].path), None)
    reason = f" ({first.message})" if first else ""
    return head + f" First: {bad[0].path} {bad[0].verdict.upper()}{reason}."
