"""The project allowlist file: pickle globals a project trusts, kept next to its code.

``gates.scan.allowlist_file`` (or ``mlsec-gates scan --allowlist FILE``) names a YAML file
with the same entries as the policy's ``gates.scan.allow_globals``, so that the list of
reviewed globals can live in the model's repository and change without touching the shared
policy. Both lists are merged. The file is either a list of entries or a mapping with one key,
``allow_globals``::

    - global: acme_models.heads.ClassifierHead
      reason: our own head class, reviewed in SEC-1234
    - global: "acme_models.*"
      reason: in-house package, built and signed by our CI

Errors name the file, the line and the entry (``allow.yaml:4: allow_globals.1.reason:
required key is missing``), like policy errors.
"""

from __future__ import annotations

from pydantic import TypeAdapter, ValidationError

from mlsec_gates.errors import ConfigError
from mlsec_gates.policy import AllowedGlobal, load_yaml_with_lines
from mlsec_gates.storage import Storage

__all__ = ["load_allowlist_file", "parse_allowlist"]

_ENTRIES = TypeAdapter(tuple[AllowedGlobal, ...])


def load_allowlist_file(uri: str, *, storage: Storage) -> tuple[AllowedGlobal, ...]:
    """Read and validate an allowlist file (path or ``s3://`` URI).

    Raises:
        ConfigError: invalid YAML, wrong layout, unknown key or bad entry (one line).
        InputError: the file does not exist.
        StorageError: S3 refused access.
    """
    return parse_allowlist(storage.read_text(uri), source=uri)


def parse_allowlist(text: str, *, source: str) -> tuple[AllowedGlobal, ...]:
    """Validate the entries of an allowlist document.

    Raises:
        ConfigError: as :func:`load_allowlist_file`.
    """
    data, lines = load_yaml_with_lines(text, source=source)
    if data is None:
        return ()
    prefix: tuple[str, ...] = ()
    if isinstance(data, dict):
        unknown = sorted(str(k) for k in data if k != "allow_globals")
        if unknown:
            line = lines.get((unknown[0],), 1)
            raise ConfigError(
                f"{source}:{line}: {unknown[0]}: unknown key; known keys: allow_globals"
            )
        data, prefix = data.get("allow_globals") or [], ("allow_globals",)
    if not isinstance(data, list):
        where = lines.get(prefix, 1)
        raise ConfigError(f"{source}:{where}: expected a list of {{global, reason}} entries")
    try:
        return _ENTRIES.validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = prefix + tuple(err["loc"])
        line = next((lines[loc[:n]] for n in range(len(loc), -1, -1) if loc[:n] in lines), 1)
        key = ".".join(str(p) for p in (loc if prefix else ("allow_globals", *loc)))
        if err["type"] == "missing":
            problem = "required key is missing"
        elif err["type"] == "extra_forbidden":
            problem = "unknown key; known keys: global, reason"
        else:
            problem = err["msg"]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}:{line}: {key}: {problem}{more}") from None
