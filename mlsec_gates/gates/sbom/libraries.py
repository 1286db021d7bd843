"""The Python environment of a model as library components: installed or locked.

Two sources, because ``cyclonedx-py environment`` records no hashes:

* the installed distributions (``importlib.metadata``), each hashed as the SHA-256 of its
  ``RECORD`` file: RECORD lists the SHA-256 of every installed file, so its own digest pins
  the installed content (hash basis ``installed-RECORD``);
* a hashed lock file (``pip-compile --generate-hashes`` / ``uv pip compile
  --generate-hashes``): every ``--hash`` of a pinned line, i.e. the wheels and sdists pip
  would accept (hash basis ``lock-file``).

Example:
    >>> from mlsec_gates.gates.sbom.libraries import parse_lock_file
    >>> libs, _ = parse_lock_file("six==1.16.0 --hash=sha256:" + "ab" * 32, source="r.txt")
    >>> libs[0].purl, libs[0].hashes[0][0]
    ('pkg:pypi/six@1.16.0', 'SHA-256')
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import metadata

from mlsec_gates.errors import InputError
from mlsec_gates.gates.sbom import rules
from mlsec_gates.result import Finding, Location

#: pip's ``--hash`` algorithms and their CycloneDX names.
_HASH_ALGS = {"sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512"}
_HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}

_REQ = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*"
    r"(?P<spec>[^;@]*?)\s*(?:;.*)?$"
)
_PIN = re.compile(r"^===?\s*(?P<version>[^\s,;*]+)$")
_HASH = re.compile(r"--hash[=\s]\s*(?P<alg>[A-Za-z0-9]+):(?P<hex>[0-9A-Fa-f]+)")


@dataclass(frozen=True)
class Library:
    """One Python distribution of the environment."""

    name: str
    """Canonical project name (PEP 503: lower case, runs of ``-_.`` as ``-``)."""
    version: str | None
    """Pinned or installed version; None for an unpinned requirement."""
    hashes: tuple[tuple[str, str], ...]
    """``(CycloneDX algorithm, hex digest)`` pairs; empty when nothing could be hashed."""
    basis: str
    """What the hashes are of: ``installed-RECORD`` or ``lock-file``."""

    @property
    def purl(self) -> str:
        """``pkg:pypi/<name>@<version>`` (the package-url spec's PyPI form)."""
        from packageurl import PackageURL

        return str(PackageURL(type="pypi", name=self.name, version=self.version))


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_libraries() -> tuple[list[Library], list[Finding]]:
    """Every distribution importable from this interpreter, sorted by name.

    A name installed twice on ``sys.path`` counts once, as the one ``import`` would use. A
    distribution without a RECORD that lists hashes (editable installs, ``egg-info``) is
    listed without hashes, with an ``sbom.unhashed-library`` finding.
    """
    seen: dict[str, Library] = {}
    findings: list[Finding] = []
    for dist in metadata.distributions():
        raw_name, version = _name_and_version(dist)
        if not raw_name or not version:
            continue
        name = canonical_name(raw_name)
        if name in seen:
            continue
        record = dist.read_text("RECORD")
        hashed = record is not None and ",sha256=" in record
        hashes: tuple[tuple[str, str], ...] = ()
        if record is not None and hashed:
            hashes = (("SHA-256", hashlib.sha256(record.encode("utf-8")).hexdigest()),)
        else:
            findings.append(
                rules.UnhashedLibrary.finding(
                    f"{name} {version} is installed without a hashed RECORD "
                    "(editable or egg-info install); listed without a hash",
                    Location(uri=f"pkg:pypi/{name}@{version}"),
                    {"name": name, "version": version},
                    identity=name,
                )
            )
        seen[name] = Library(name, version, hashes, "installed-RECORD")
    return sorted(seen.values(), key=lambda lib: lib.name), findings


def _name_and_version(dist: metadata.Distribution) -> tuple[str | None, str | None]:
    """Name and Version from the METADATA headers only.

    ``dist.metadata`` parses the whole file, long description included, with the email
    parser: three times slower over a few hundred distributions.
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    headers = text.split("\n\n", 1)[0]
    found: dict[str, str] = {}
    for line in headers.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in found:
            found[key] = value.strip()
    return found.get("Name"), found.get("Version")


def parse_lock_file(text: str, *, source: str) -> tuple[list[Library], list[Finding]]:
    """The libraries of a requirements/lock file, with every ``--hash`` of each line.

    Options (``-r``, ``--index-url``, ``-e``...) and comments are skipped; environment
    markers are kept out of the name. A line without ``==`` gets an
    ``sbom.unpinned-requirement`` finding, a line without ``--hash`` an
    ``sbom.unhashed-library`` one.

    Raises:
        InputError: a line is not a requirement, or a hash is malformed.
    """
    libraries: dict[str, Library] = {}
    findings: list[Finding] = []
    for lineno, line in _logical_lines(text):
        where = Location(uri=source, detail=f"line {lineno}")
        hashes: list[tuple[str, str]] = []
        for match in _HASH.finditer(line):
            alg, hexdigest = match["alg"].lower(), match["hex"].lower()
            if alg not in _HASH_ALGS or len(hexdigest) != _HEX_LEN[alg]:
                raise InputError(f"{source}:{lineno}: unsupported or malformed --hash {alg}")
            hashes.append((_HASH_ALGS[alg], hexdigest))
        requirement = _HASH.sub("", line).strip()
        if not requirement or requirement.startswith("-"):
            continue
        match = _REQ.match(requirement)
        if match is None:
            raise InputError(f"{source}:{lineno}: not a requirement: {requirement[:60]}")
        name, spec = canonical_name(match["name"]), match["spec"].strip()
        pin = _PIN.match(spec)
        version = pin["version"] if pin else None
        if version is None:
            findings.append(
                rules.UnpinnedRequirement.finding(
                    f"{name} is not pinned to one version ({spec or 'any version'})",
                    where,
                    {"name": name, "specifier": spec},
                    identity=name,
                )
            )
        if not hashes:
            findings.append(
                rules.UnhashedLibrary.finding(
                    f"{name} has no --hash in the lock file; listed without a hash",
                    where,
                    {"name": name, "version": version},
                    identity=name,
                )
            )
        libraries.setdefault(name, Library(name, version, tuple(sorted(set(hashes))), "lock-file"))
    return sorted(libraries.values(), key=lambda lib: lib.name), findings


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with backslash continuations joined and comments removed, with their first line."""
    out: list[tuple[int, str]] = []
    buffer, start = "", 0
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if not buffer:
            start = lineno
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            out.append((start, buffer.strip()))
        buffer = ""
    if buffer.strip():
        out.append((start, buffer.strip()))
    return out
