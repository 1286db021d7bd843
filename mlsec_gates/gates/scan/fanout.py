"""One scan spread over several workers: plan the shards, scan each, merge into one verdict.

Example:
    >>> from mlsec_gates.gates.scan.fanout import merge_scan_reports, plan_shards
    >>> shards = plan_shards(["s3://models/zoo/"], shards=4)  # doctest: +SKIP
    >>> # ... each shard scanned by its own task (Airflow .expand, KFP ParallelFor) ...
    >>> merge_scan_reports(shard_report_uris, planned=shards)  # doctest: +SKIP

:func:`plan_shards` lists the targets once (every file or object under them) and cuts the
sorted list into contiguous shards. Each shard is a JSON list of planned files,
``{"uri": ..., "size": ..., "etag": ...}`` (size and ETag from the S3 listing; a local file
has only its ``uri``), which a worker scans with the ordinary scan gate
(``gates.scan.workers`` threads inside it). The listing is not repeated: a shard reads each
S3 object with one GET pinned to the planned ETag (``If-Match``), and an object that changed
or vanished since the plan is quarantined, never scanned in another version or skipped. (A
shard given bare URIs would send a HEAD and a LIST per object, to check that it is not also
a prefix; moto's LIST walks the whole bucket, so a 10,000-object fan-out cost the server
10,000 walks of 10,000 keys.)

Each worker writes its JSON report; :func:`merge_scan_reports` reads them back and makes one
result: every subject and finding, metrics summed, and one status. It fails closed: a shard
whose report is missing or unreadable, or a planned file no shard reported on, makes the
merged gate an ``error``, whatever the other shards said.

The Airflow adapter is :func:`mlsec_gates.operators.scan_fanout.scan_fan_out` (dynamic task
mapping) and the KFP one :func:`mlsec_gates.components.scan_fanout.scan_fan_out_pipeline`
(``dsl.ParallelFor`` and ``dsl.Collected``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates._common import decide, now, run_and_report, tool_versions
from mlsec_gates.gates.scan import rules
from mlsec_gates.gates.scan.targets import PlannedFile, Target, list_targets, target_uri
from mlsec_gates.policy import OnFail, Policy
from mlsec_gates.result import Finding, GateResult, Location, Severity, Status, Subject
from mlsec_gates.storage import S3Options, Storage, display_path

GATE = "scan"
_SUMMED = (
    "files_scanned",
    "files_blocked",
    "files_quarantined",
    "files_passed",
    "bytes_scanned",
    "findings",
    "files_from_cache",
    "remote_bytes_read",
)


def plan_shards(
    targets: Sequence[str],
    *,
    shards: int,
    storage: Storage | None = None,
) -> list[list[dict[str, Any]]]:
    """The files under ``targets`` cut into at most ``shards`` contiguous, sorted shards.

    Each shard is a list of ``{"uri", "size", "etag"}`` dicts (plain JSON: an Airflow XCom or
    a KFP parameter carries it), to be passed as the targets of a shard's scan. The targets
    are walked as the scan gate walks them: an entry it could not scan (a FIFO, a link to a
    folder, an unreadable folder) is planned as ``{"uri", "problem", "unreadable"}``, which
    the shard reports as quarantined without touching it, so the merged verdict is the one
    a single scan of the targets would give.

    Raises:
        ConfigError: ``shards`` < 1.
        InputError: a target does not exist or has nothing under it.
        StorageError: S3 refused the listing.
    """
    if shards < 1:
        raise ConfigError(f"shards must be at least 1, got {shards}")
    storage = storage or Storage()
    if isinstance(targets, str):
        targets = [targets]
    planned: dict[str, dict[str, Any]] = {}
    for target in targets:
        listing = list_targets(target, storage=storage)
        if not listing.files and not listing.problems:
            raise InputError(f"{display_path(target)} contains no file to scan")
        for path in listing.files:
            planned.setdefault(path, PlannedFile.listed(path, storage).to_json())
        for problem in listing.problems:
            planned.setdefault(problem.path, PlannedFile.not_scannable(problem).to_json())
    files = [planned[path] for path in sorted(planned)]
    if not files:
        raise InputError(f"nothing to scan under {', '.join(targets)}")
    count = min(shards, len(files))
    size, extra = divmod(len(files), count)
    out, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append(files[start:end])
        start = end
    return out


def merge_scan_reports(
    reports: Sequence[str],
    *,
    planned: Sequence[Sequence[Target]] | None = None,
    policy: Policy | str | None = None,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    on_fail: OnFail | None = None,
    json_out: str | None = None,
    run_context: Mapping[str, str] | None = None,
) -> GateResult:
    """Merge the JSON reports of the shard scans into one scan result, and write its reports.

    Args:
        reports: the shards' JSON report paths or URIs (empty strings count as missing).
        planned: the shards as planned by :func:`plan_shards`; every planned file must
            appear in some report, else the merged gate errs.
        policy: the policy (as for :func:`mlsec_gates.gates.scan.scan_gate`).
        report_dir: where the merged reports go.
        s3: how to reach S3.
        on_fail: ``fail`` or ``warn``; overrides the policy.
        json_out: also write the merged JSON report here.
        run_context: where the merge task runs (for the ledger).

    Returns:
        The merged result: ``error`` when a shard report is missing or a planned file was
        not scanned; else ``fail`` (``warn`` under ``on_fail: warn``) when a file was
        blocked or quarantined; else ``pass``.
    """
    return run_and_report(
        GATE,
        lambda loaded, storage: merge_results(
            reports, planned=planned, policy=loaded, storage=storage
        ),
        policy=policy,
        report_dir=report_dir,
        s3=s3,
        on_fail=on_fail,
        json_out=json_out,
        run_context=run_context,
    )


def merge_results(
    reports: Sequence[str],
    *,
    planned: Sequence[Sequence[Target]] | None,
    policy: Policy,
    storage: Storage,
) -> GateResult:
    """The merged result, without writing reports (see :func:`merge_scan_reports`)."""
    started = now()
    findings: list[Finding] = []
    subjects: dict[str, Subject] = {}
    metrics: dict[str, float | int] = dict.fromkeys(_SUMMED, 0)
    notes: dict[str, str] = {}
    problems: list[str] = []
    starts: list[datetime] = []
    for index, uri in enumerate(reports):
        if not uri:
            problems.append(f"shard {index} wrote no report")
            continue
        try:
            data = json.loads(storage.read_text(_local(uri)))
            if data.get("gate") != GATE:
                raise ValueError(f"a {data.get('gate')!r} report, not a scan report")
            shard_subjects = [_subject(s) for s in data["subjects"]]
            shard_findings = [_finding(f) for f in data["findings"]]
        except (InputError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"shard {index} report {uri} is unreadable: {exc}")
            continue
        starts.append(datetime.fromisoformat(data["started_at"]))
        for subject in shard_subjects:
            subjects.setdefault(subject.path, subject)
        findings.extend(shard_findings)
        for key in _SUMMED:
            metrics[key] += data.get("metrics", {}).get(key, 0) or 0
        notes.update((data.get("details") or {}).get("subject_notes") or {})
    wanted = [display_path(target_uri(f)) for shard in planned or () for f in shard]
    missing = [f for f in wanted if f not in subjects]
    if missing:
        problems.append(f"{len(missing)} planned file(s) were not scanned, e.g. {missing[0]}")
    for problem in problems:
        findings.append(
            rules.NothingScanned.finding(
                f"fan-out incomplete: {problem}", Location(uri=reports[0] if reports else "-")
            )
        )
    verdicts = [s.verdict for s in subjects.values()]
    violations = "block" in verdicts or "quarantine" in verdicts
    status = decide(
        violations=violations,
        incomplete=bool(problems) or not subjects,
        on_fail=policy.on_fail_for(GATE),
    )
    blocked, quarantined = verdicts.count("block"), verdicts.count("quarantine")
    summary = (
        f"{len(subjects)} file(s) scanned by {len(reports)} shard(s): {blocked} blocked, "
        f"{quarantined} quarantined, {verdicts.count('pass')} passed."
    )
    if problems:
        summary += f" {problems[0]}, so the gate could not pass."
    elif status in (Status.FAIL, Status.WARN):
        first = next(s for s in subjects.values() if s.verdict != "pass")
        summary += f" First: {first.path} {first.verdict.upper()}."
    metrics["shards"] = len(reports)
    return GateResult(
        gate=GATE,
        status=status,
        summary=summary,
        findings=tuple(findings),
        subjects=tuple(subjects.values()),
        started_at=min(starts, default=started),
        finished_at=now(),
        metrics=metrics,
        tool_versions=tool_versions("fickling", "numpy"),
        policy=policy.effective(GATE),
        details={"shard_reports": list(reports), **({"subject_notes": notes} if notes else {})},
    )


def _local(uri: str) -> str:
    """A ``file://`` URL (as Airflow's XCom carries report links) as a local path."""
    if not uri.startswith("file://"):
        return uri
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path)


def _subject(data: Mapping[str, Any]) -> Subject:
    return Subject(
        path=str(data["path"]),
        sha256=data.get("sha256"),
        size=data.get("size"),
        kind=data.get("kind"),
        verdict=str(data.get("verdict", "quarantine")),
    )


def _finding(data: Mapping[str, Any]) -> Finding:
    loc = data["location"]
    return Finding(
        rule_id=str(data["rule_id"]),
        severity=Severity[str(data["severity"]).upper()],
        message=str(data["message"]),
        location=Location(
            uri=str(loc["uri"]),
            member=loc.get("member"),
            offset=loc.get("offset"),
            detail=loc.get("detail"),
        ),
        evidence=dict(data.get("evidence") or {}),
        remediation=str(data.get("remediation", "")),
        why=str(data.get("why", "")),
    )
