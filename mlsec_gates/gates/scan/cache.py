"""Verdict cache: a file already scanned with the same scanner and policy is not scanned again.

An entry is keyed by what identifies the bytes (their SHA-256, or for an S3 object scanned by
ranged reads, whose digest is unknown, its bucket, key, version id and ETag), the scanner's
fingerprint (the version and the source of the scan package, so any change to the rules
invalidates every entry) and a digest of the effective scan settings (allowlist, limits,
accepted formats). A cached verdict keeps its findings, so reports of a re-run are the same.

Entries are JSON files written atomically. An entry that cannot be read, does not parse,
fails its integrity digest, names an unknown rule or does not match its key is ignored and
the file is scanned again: the cache can only save work, never change a verdict. It is not
a trust boundary: whoever can write the cache directory can forge verdicts, so keep it as
private as the scanner's own installation (the default is under the user's home).

Example:
    >>> import tempfile
    >>> from mlsec_gates.gates.scan.engine import FileVerdict, ScanSettings
    >>> cache = VerdictCache(tempfile.mkdtemp(), settings=ScanSettings())
    >>> key = digest_key("ab" * 32)
    >>> cache.put(key, FileVerdict(kind="pickle", verdict="pass", findings=()))
    >>> cache.get(key, uri="model.pkl").verdict
    'pass'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from mlsec_gates import __version__
from mlsec_gates.result import Finding, Location, Severity

from . import rules
from .engine import FileVerdict, ScanSettings, verdict_for

__all__ = [
    "VerdictCache",
    "default_cache_dir",
    "digest_key",
    "object_key",
    "scanner_fingerprint",
    "settings_digest",
]

_FORMAT = 1
#: Findings that say the run, not the file, decided: their verdicts are never cached.
_NOT_CACHED = frozenset({rules.Hdf5ReaderFailed.id})
_RULES = {rule.id: rule for rule in rules.RULES}


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mlsec-gates/scan``, by default ``~/.cache/mlsec-gates/scan``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(base).expanduser() / "mlsec-gates" / "scan"


@cache
def scanner_fingerprint() -> str:
    """Digest of the scanner's version, its source files and the fickling version.

    Computed once per process; a changed rule, allowlist or parser gives a new fingerprint,
    even without a version bump.
    """
    from importlib import metadata

    digest = hashlib.sha256(f"mlsec-gates {__version__}\n".encode())
    try:
        digest.update(f"fickling {metadata.version('fickling')}\n".encode())
    except metadata.PackageNotFoundError:
        digest.update(b"fickling none\n")
    package = Path(__file__).resolve().parent
    for source in sorted(package.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def settings_digest(settings: ScanSettings) -> str:
    """Digest of every setting that can change a verdict (allowlist, limits, formats)."""
    values: dict[str, Any] = {}
    for name in sorted(vars(settings)):
        value = getattr(settings, name)
        if isinstance(value, Mapping):
            value = dict(sorted(value.items()))
        elif isinstance(value, (set, frozenset)):
            value = sorted(value)
        values[name] = value
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def digest_key(sha256: str) -> str:
    """Cache key of bytes with a known SHA-256 (wherever they are stored)."""
    return f"sha256:{sha256}"


def object_key(uri: str, *, version_id: str | None, etag: str | None) -> str:
    """Cache key of an S3 object whose SHA-256 is unknown (scanned by ranged reads).

    S3 gives a changed object a new ETag (and, in a versioned bucket, a new version id), so
    the key changes with the content.
    """
    return f"object:{uri}?versionId={version_id or ''}&etag={etag or ''}"


class VerdictCache:
    """Verdicts of earlier scans in a local directory.

    Args:
        directory: where the entries live (``~`` is expanded; created on first write);
            None: :func:`default_cache_dir`.
        settings: the scan settings in force; entries made under other settings miss.
    """

    def __init__(self, directory: str | os.PathLike[str] | None, *, settings: ScanSettings) -> None:
        self.directory = Path(directory).expanduser() if directory else default_cache_dir()
        self._scanner = scanner_fingerprint()
        self._settings = settings_digest(settings)
        self.hits = 0
        self.misses = 0

    def get(self, key: str, *, uri: str) -> FileVerdict | None:
        """The cached verdict for ``key`` with findings located at ``uri``; None on a miss.

        A corrupt or mismatching entry is a miss.
        """
        verdict = self._load(key, uri)
        if verdict is None:
            self.misses += 1
        else:
            self.hits += 1
        return verdict

    def put(self, key: str, verdict: FileVerdict) -> None:
        """Store a verdict; a cache that cannot be written is skipped silently.

        Verdicts that depend on the run rather than on the bytes (the HDF5 reader timed out
        under load, or was killed) are not stored: the next run reads the file again.
        """
        if any(f.rule_id in _NOT_CACHED for f in verdict.findings):
            return
        body = {
            "format": _FORMAT,
            "key": key,
            "scanner": self._scanner,
            "settings": self._settings,
            "kind": verdict.kind,
            "verdict": verdict.verdict,
            "findings": [_finding_to_json(f) for f in verdict.findings],
        }
        entry = {**body, "integrity": _integrity(body)}
        path = self._path(key)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".entry.", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(entry, out, sort_keys=True, default=str)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def _path(self, key: str) -> Path:
        name = hashlib.sha256(json.dumps([key, self._scanner, self._settings]).encode()).hexdigest()
        return self.directory / name[:2] / f"{name}.json"

    def _load(self, key: str, uri: str) -> FileVerdict | None:
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
            body = {k: v for k, v in entry.items() if k != "integrity"}
            if entry.get("integrity") != _integrity(body):
                return None
            if (body["format"], body["key"], body["scanner"], body["settings"]) != (
                _FORMAT,
                key,
                self._scanner,
                self._settings,
            ):
                return None
            findings = tuple(_finding_from_json(item, uri) for item in body["findings"])
            if verdict_for(findings) != body["verdict"] or not isinstance(body["kind"], str):
                return None
            return FileVerdict(kind=body["kind"], verdict=body["verdict"], findings=findings)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


def _integrity(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _finding_to_json(finding: Finding) -> dict[str, Any]:
    return {
        "rule_id": finding.rule_id,
        "severity": int(finding.severity),
        "message": finding.message,
        "member": finding.location.member,
        "offset": finding.location.offset,
        "detail": finding.location.detail,
        "evidence": finding.evidence,
        "identity": finding.identity,
        "remediation": finding.remediation,  # producer-specific advice (remediation.py)
    }


def _finding_from_json(item: dict[str, Any], uri: str) -> Finding:
    """Rebuild a finding; threat from today's rule catalogue, the stored (producer) remediation.

    Raises:
        KeyError: unknown rule (the entry is then ignored).
        ValueError: a field has the wrong type.
    """
    rule = _RULES[item["rule_id"]]
    severity = Severity(item["severity"])
    if severity != rule.severity or not isinstance(item["message"], str):
        raise ValueError("entry does not match the rule catalogue")
    evidence = item["evidence"]
    if not isinstance(evidence, dict):
        raise ValueError("evidence is not a mapping")
    location = Location(
        uri=uri, member=item["member"], offset=item["offset"], detail=item["detail"]
    )
    finding = rule.finding(item["message"], location, evidence, identity=item["identity"])
    advice = item.get("remediation")
    if isinstance(advice, str) and advice and advice != finding.remediation:
        finding = replace(finding, remediation=advice)
    return finding
