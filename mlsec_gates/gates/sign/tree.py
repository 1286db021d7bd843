"""Policy checks on a model's tree that the model-signing format cannot make itself."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from mlsec_gates.hashing import TreeListing
from mlsec_gates.policy import SignPolicy
from mlsec_gates.result import Finding, Location
from mlsec_gates.rules import Rule


def refused_pattern(rel: str, patterns: Sequence[str]) -> str | None:
    """The first refuse pattern that matches a relative path, or None.

    Like ``.gitignore``: a pattern without ``/`` matches a file or directory name at any
    depth (``.git`` refuses ``.git/HEAD`` and ``sub/.git/config``); a pattern with ``/``
    matches the whole relative path or one of its parent directories, and ``*`` also
    matches ``/`` (``.git/**``, ``docs/*.py``).
    """
    if rel == ".":
        return None
    parts = PurePosixPath(rel).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        cleaned = pattern.strip().strip("/")
        if not cleaned:
            continue
        candidates = prefixes if "/" in cleaned else parts
        if any(fnmatchcase(c, cleaned) for c in candidates):
            return pattern
    return None


def tree_findings(
    listing: TreeListing,
    section: SignPolicy,
    *,
    refused: type[Rule],
    empty_dir: type[Rule],
    unsupported: type[Rule],
) -> list[Finding]:
    """Findings for refused paths, empty directories, symbolic links and special files."""
    findings: list[Finding] = []
    kinds = {rel: "file" for rel in listing.files}
    kinds.update({rel: "ignored path" for rel in listing.ignored})
    kinds.update({rel: "empty directory" for rel in listing.empty_dirs})
    kinds.update({rel: "symbolic link" for rel in listing.symlinks})
    kinds.update({rel: "special file" for rel in listing.special})
    for rel, kind in sorted(kinds.items()):
        pattern = refused_pattern(rel, section.refuse_paths)
        if pattern is not None:
            if kind == "ignored path" and Path(listing.location(rel)).is_dir():
                kind = "directory, not covered by the signature"
            elif kind == "ignored path":
                kind = "not covered by the signature"
            findings.append(
                refused.finding(
                    f"{rel} ({kind}) matches the refused pattern {pattern!r}",
                    Location(uri=listing.location(rel)),
                    {"path": rel, "pattern": pattern, "kind": kind},
                )
            )
    if section.refuse_empty_dirs:
        findings.extend(
            empty_dir.finding(
                f"{rel}/ is an empty directory, which the signature does not record",
                Location(uri=listing.location(rel)),
                {"path": rel},
            )
            for rel in listing.empty_dirs
        )
    for rel in listing.symlinks + listing.special:
        kind = "symbolic link" if rel in listing.symlinks else "special file"
        target = None
        if kind == "symbolic link":
            try:
                target = str(Path(listing.location(rel)).readlink())
            except OSError:
                target = None
        findings.append(
            unsupported.finding(
                f"{rel} is a {kind}"
                + (f" to {target}" if target else "")
                + "; signed models hold only regular files",
                Location(uri=listing.location(rel)),
                {"path": rel, "kind": kind, "target": target},
            )
        )
    return findings
