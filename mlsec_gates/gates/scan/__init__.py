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

import base64
import binascii
import hashlib
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from functools import partial
from typing import IO, TYPE_CHECKING, Any

from mlsec_gates.errors import InputError
from mlsec_gates.gates._common import Progress, decide, now, run_and_report, tool_versions
from mlsec_gates.gates.scan import rules
from mlsec_gates.gates.scan.targets import (
    EntryProblem,
    PlannedFile,
    Target,
    list_targets,
    target_uri,
)
from mlsec_gates.policy import OnFail, Policy, ScanPolicy
from mlsec_gates.result import Finding, GateResult, Location, Subject
from mlsec_gates.storage import S3Options, Storage, display_path, sha256_of

if TYPE_CHECKING:
    from mlsec_gates.gates.scan.cache import VerdictCache
    from mlsec_gates.gates.scan.engine import FileVerdict, ScanSettings

__all__ = ["run_scan", "scan_gate"]

GATE = "scan"


_RANGED_MIN_BYTES = 8 * 1024 * 1024
"""S3 objects at least this big are scanned by ranged reads when their format allows it."""


def scan_gate(
    targets: Sequence[Target],
    *,
    policy: Policy | str | None = None,
    report_dir: str | None = None,
    s3: S3Options | None = None,
    on_fail: OnFail | None = None,
    json_out: str | None = None,
    sarif_out: str | None = None,
    allowlist: str | None = None,
    cache: bool | None = None,
    run_context: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> GateResult:
    """Scan, then write the JSON, Markdown, HTML and SARIF reports; the one call adapters make.

    Args:
        targets: files, directories (recursive), ``s3://`` objects or prefixes (one string is
            one target), or the entries of a fan-out shard (``{"uri", "size", "etag"}`` from
            :func:`~mlsec_gates.gates.scan.fanout.plan_shards`: no listing, reads pinned to
            the ETag). A file reached through several targets is scanned once.
        policy: a policy file path/URI, inline YAML text, a parsed :class:`Policy`, or None
            for the defaults.
        report_dir: directory or ``s3://`` prefix for the reports; default
            ``./mlsec-gate-reports/scan-<timestamp>``.
        s3: how to reach S3 (overrides the policy's ``storage.s3``).
        on_fail: ``fail`` or ``warn``; overrides the policy for this run.
        json_out: also write the JSON report to this path or URI.
        sarif_out: also write the SARIF 2.1.0 report to this path or URI.
        allowlist: project allowlist file (path or URI); replaces the policy's
            ``gates.scan.allowlist_file`` for this run (its entries are merged with
            ``gates.scan.allow_globals``).
        cache: use the verdict cache (default: the policy's ``gates.scan.cache``).
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
        ConfigError: invalid policy, allowlist file or arguments.
        InputError: a target, the policy file or the allowlist file does not exist.
        StorageError: S3 or the report directory refused access, or the ledger could not
            be appended to.
    """
    return run_and_report(
        GATE,
        lambda loaded, storage: run_scan(
            targets,
            policy=loaded,
            storage=storage,
            progress=progress,
            allowlist=allowlist,
            cache=cache,
        ),
        policy=policy,
        report_dir=report_dir,
        s3=s3,
        on_fail=on_fail,
        json_out=json_out,
        sarif_out=sarif_out,
        run_context=run_context,
    )


def run_scan(
    targets: Sequence[Target],
    *,
    policy: Policy | None = None,
    storage: Storage | None = None,
    progress: Progress | None = None,
    allowlist: str | None = None,
    cache: bool | None = None,
) -> GateResult:
    """Scan files and return the result without writing reports (see :func:`scan_gate`).

    Raises:
        ConfigError: the allowlist file is invalid.
        InputError: no target given, or a target or the allowlist file does not exist.
        StorageError: S3 refused access.
    """
    from mlsec_gates.gates.scan.engine import scan_file
    from mlsec_gates.gates.scan.external_data import resolve_external_data
    from mlsec_gates.gates.scan.parallel import map_ordered, scan_all

    started = now()
    policy = policy or Policy()
    storage = storage or Storage()
    section = policy.gates.scan
    settings = scan_settings(section, storage=storage, allowlist=allowlist)
    if isinstance(targets, str | Mapping):  # one target, not a sequence of letters or keys
        targets = [targets]
    if not targets:
        raise InputError("nothing to scan: give at least one path or s3:// URI")

    findings: list[Finding] = []
    files: list[str] = []
    subjects: list[Subject] = []
    notes: dict[str, str] = {}
    planned: dict[str, PlannedFile] = {}
    if section.workers > 1 and any(storage.is_remote(target_uri(t)) for t in targets):
        storage._client  # noqa: B018 - build the boto3 client once, not per thread
    listings = map_ordered(
        lambda target: list_targets(target, storage=storage), targets, workers=section.workers
    )
    for target, listing in zip(targets, listings, strict=True):
        if not listing.files and not listing.problems:
            shown = display_path(target_uri(target))
            findings.append(
                rules.NothingScanned.finding(
                    f"{shown} contains no file to scan", Location(uri=shown), {"target": shown}
                )
            )
        files.extend(listing.files)
        notes.update(listing.notes)
        planned.update(listing.planned)
        for problem in listing.problems:
            subject, finding = _not_scanned(problem)
            subjects.append(subject)
            findings.append(finding)
    files = list(dict.fromkeys(files))  # a file named twice (``dir/`` and ``dir/x``) once

    use_cache = section.cache if cache is None else cache
    scanner = _Scanner(
        storage, settings, scan_file, _open_cache(section, settings, use_cache), planned=planned
    )
    scanner.notes.update(notes)
    scanned_bytes = 0
    for scanned in scan_all(scanner, files, workers=section.workers, progress=progress):
        subject, file_findings = _check_format(*scanned, section.formats)
        subjects.append(subject)
        findings.extend(file_findings)
        scanned_bytes += subject.size or 0

    subjects, findings = resolve_external_data(subjects, findings)
    verdicts = [s.verdict for s in subjects]
    n_block, n_quarantine = verdicts.count("block"), verdicts.count("quarantine")
    incomplete = not subjects or any(f.rule_id == rules.NothingScanned.id for f in findings)
    status = decide(
        violations=bool(n_block or n_quarantine),
        incomplete=incomplete,
        on_fail=policy.on_fail_for(GATE),
    )
    finished = now()
    effective = policy.effective(GATE)
    if allowlist:
        effective["allowlist_file"] = allowlist
    effective["allow_globals_effective"] = [
        {"global": name, "reason": reason} for name, reason in settings.allow_globals.items()
    ]
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
            "files_from_cache": scanner.cache.hits if scanner.cache else 0,
            "remote_bytes_read": scanner.remote_bytes,
        },
        tool_versions=tool_versions("fickling", "numpy"),
        policy=effective,
        details={"subject_notes": scanner.notes} if scanner.notes else {},
    )


def scan_settings(
    section: ScanPolicy, *, storage: Storage, allowlist: str | None = None
) -> ScanSettings:
    """The engine settings of a policy section, with the allowlist file's entries merged in.

    ``allowlist`` (a path or URI) replaces ``section.allowlist_file``. A global listed in both
    keeps the policy's reason.

    Raises:
        ConfigError: the allowlist file is invalid.
        InputError: the allowlist file does not exist.
    """
    from mlsec_gates.gates.scan.allowlist_file import load_allowlist_file
    from mlsec_gates.gates.scan.engine import ScanSettings

    source = allowlist or section.allowlist_file
    extra = load_allowlist_file(source, storage=storage) if source else ()
    allowed = {entry.global_: entry.reason for entry in extra}
    allowed.update({entry.global_: entry.reason for entry in section.allow_globals})
    # Every engine setting the policy section also has (the ``max_*`` limits) is passed on.
    same_named = {
        name: getattr(section, name)
        for name in (f.name for f in dataclass_fields(ScanSettings))
        if name != "allow_globals" and name in type(section).model_fields
    }
    return ScanSettings(allow_globals=allowed, **same_named)


def _open_cache(section: ScanPolicy, settings: ScanSettings, enabled: bool) -> VerdictCache | None:
    if not enabled:
        return None
    from mlsec_gates.gates.scan.cache import VerdictCache

    return VerdictCache(section.cache_dir, settings=settings)


@dataclass
class _Scanner:
    """Scans one file at a time: hash, cache lookup, then a local, downloaded or ranged scan."""

    storage: Storage
    settings: ScanSettings
    scan_file: Callable[..., FileVerdict]
    cache: VerdictCache | None
    planned: Mapping[str, PlannedFile] = field(default_factory=dict)
    """Objects a fan-out plan listed: their size picks the read, their ETag pins it."""
    remote_bytes: int = 0
    notes: dict[str, str] = field(default_factory=dict)

    def scan(self, path: str) -> tuple[Subject, list[Finding]]:
        """Subject and findings of one file; a file that cannot be read is quarantined."""
        try:
            if self.storage.is_remote(path):
                return self._scan_remote(path)
            return self._scan_whole(path)
        except InputError as exc:
            reason = exc.diagnostics()
            finding = rules.UnreadableFile.finding(
                f"file could not be read, so it was not checked: {reason}",
                Location(uri=display_path(path)),
                {"error": reason},
            )
            return Subject(path=display_path(path), sha256=None, verdict="quarantine"), [finding]

    def _scan_whole(self, path: str, *, etag: str | None = None) -> tuple[Subject, list[Finding]]:
        """Hash the whole file, then scan it unless the cache knows these bytes.

        ``etag`` pins the download of an S3 object to that version (a changed object is then
        an :class:`~mlsec_gates.storage.ObjectChanged` input error: quarantined).
        """
        from mlsec_gates.gates.scan.cache import digest_key

        shown = display_path(path)  # reports and the ledger need text; the file has bytes
        with self._open_hashed(path, etag=etag) as (fh, digest, size):
            key = digest_key(digest)
            verdict = self.cache.get(key, uri=shown) if self.cache else None
            if verdict is None:
                verdict = self.scan_file(fh, uri=shown, settings=self.settings)
                if self.cache:
                    self.cache.put(key, verdict)
        subject = Subject(
            path=shown, sha256=digest, size=size, kind=verdict.kind, verdict=verdict.verdict
        )
        return subject, list(verdict.findings)

    @contextmanager
    def _open_hashed(
        self, path: str, *, etag: str | None = None
    ) -> Iterator[tuple[IO[bytes], str, int]]:
        """The file open for scanning, with its SHA-256 and size, each byte read once.

        Local files are hashed through a memory map (the scan maps the same pages again);
        S3 objects are hashed while they are downloaded into a spooled temporary file.
        """
        if not self.storage.is_remote(path):
            with self.storage.open_read(path) as fh:
                digest, size = sha256_of(fh)
                yield fh, digest, size
            return
        digest_obj = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024) as spool:
            for block in self.storage.iter_chunks(path, if_match=etag):
                digest_obj.update(block)
                spool.write(block)
                size += len(block)
            self.remote_bytes += size
            spool.seek(0)
            yield spool, digest_obj.hexdigest(), size  # type: ignore[misc]

    def _scan_remote(self, path: str) -> tuple[Subject, list[Finding]]:
        """Scan a zip, safetensors or GGUF object by ranged reads; download anything else."""
        from mlsec_gates.gates.scan.cache import object_key
        from mlsec_gates.gates.scan.formats import sniff
        from mlsec_gates.gates.scan.ranged import RANGED_FORMATS, RangedBuffer
        from mlsec_gates.storage import ObjectChanged, RangeNotHonoured

        plan = self.planned.get(path)
        listed = plan.size if plan else self.storage.listed_size(path)
        pinned = plan.etag if plan else None
        if listed is not None and listed < _RANGED_MIN_BYTES:  # small: one GET, no HEAD
            return self._scan_whole(path, etag=pinned)
        # Large: the HEAD gives the stored checksum and version id the report and the
        # cache need; a planned object must still be the one the plan listed.
        head = self.storage.head(path, checksums=True)
        if pinned and head.get("ETag") != pinned:
            raise ObjectChanged.since_listed(path, pinned)
        size = int(head.get("ContentLength", 0))
        if size < _RANGED_MIN_BYTES:
            return self._scan_whole(path, etag=head.get("ETag"))
        etag = head.get("ETag")  # every read must see the object the HEAD described
        buf = RangedBuffer(partial(self.storage.read_range, path, if_match=etag), size)
        try:
            ranged = sniff(buf, 0, size) in RANGED_FORMATS
        except RangeNotHonoured:  # the server sends whole objects: scan the download
            buf.close()
            self.notes[path] = "the S3 server ignored byte ranges; the object was scanned whole"
            return self._scan_whole(path, etag=etag)
        finally:
            self.remote_bytes += buf.bytes_fetched
        if not ranged:
            buf.close()
            return self._scan_whole(path, etag=etag)
        key = object_key(
            path,
            version_id=head.get("VersionId"),
            etag=f"{head.get('ETag')}/{head.get('LastModified')}/{size}",
        )
        verdict = self.cache.get(key, uri=path) if self.cache else None
        if verdict is None:
            fetched_before = buf.bytes_fetched
            verdict = self.scan_file(buf, uri=path, settings=self.settings)
            self.remote_bytes += buf.bytes_fetched - fetched_before
            if any(f.rule_id == rules.InternalError.id for f in verdict.findings):
                self.notes[path] = (
                    "the scan by ranged reads failed; the object was downloaded and scanned whole"
                )
                return self._scan_whole(path, etag=etag)
            if self.cache:
                self.cache.put(key, verdict)
        digest = _s3_sha256(head)
        if digest is None:
            self.notes[path] = (
                f"scanned by ranged reads ({buf.bytes_fetched} of {size} bytes read): the "
                "SHA-256 of the whole object is unknown (S3 stores no full-object "
                "ChecksumSHA256 for it), so sha256 is null"
            )
        else:
            self.notes[path] = (
                "scanned by ranged reads; sha256 is the full-object ChecksumSHA256 that S3 "
                "recorded at upload, not recomputed"
            )
        subject = Subject(
            path=path, sha256=digest, size=size, kind=verdict.kind, verdict=verdict.verdict
        )
        return subject, list(verdict.findings)


def _not_scanned(problem: EntryProblem) -> tuple[Subject, Finding]:
    """The quarantined subject and the finding of an entry the scan could not cover."""
    rule = rules.UnreadableFile if problem.unreadable else rules.NotScannableEntry
    finding = rule.finding(problem.reason, Location(uri=problem.path), {"reason": problem.reason})
    return Subject(path=problem.path, sha256=None, verdict="quarantine"), finding


def _check_format(
    subject: Subject, findings: list[Finding], accepted: Sequence[str]
) -> tuple[Subject, list[Finding]]:
    """Quarantine a file whose detected format is not in ``gates.scan.formats``."""
    from fnmatch import fnmatchcase

    from mlsec_gates.gates.scan.engine import verdict_for

    kind = subject.kind
    if not accepted or kind is None or any(fnmatchcase(kind, p) for p in accepted):
        return subject, findings
    finding = rules.FormatNotAllowed.finding(
        f"format {kind} is not accepted by the policy (gates.scan.formats: {', '.join(accepted)})",
        Location(uri=subject.path),
        {"format": kind, "accepted": list(accepted)},
    )
    findings = [*findings, finding]
    return replace(subject, verdict=verdict_for(findings)), findings


def _s3_sha256(head: Mapping[str, Any]) -> str | None:
    """Hex SHA-256 of the whole object from S3's ``ChecksumSHA256``, when S3 has one.

    A multipart upload's checksum (``...-N``, ``ChecksumType: COMPOSITE``) is a checksum of
    part checksums, not the object's digest: None then.
    """
    value = head.get("ChecksumSHA256")
    if not isinstance(value, str) or "-" in value or head.get("ChecksumType") == "COMPOSITE":
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


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
    # Name a file that decided the verdict (blocked before quarantined) and the finding that
    # decided that file's verdict (its most severe), never a low note beside it.
    worst = next((s for s in bad if s.verdict == "block"), bad[0])
    own = [f for f in findings if f.location.uri == worst.path]
    first = max(own, key=lambda f: f.severity) if own else None
    reason = f" ({first.message})" if first else ""
    return head + f" First: {worst.path} {worst.verdict.upper()}{reason}."
