"""Default-deny judgement of the globals a pickle imports.

A global is accepted only when the built-in allowlist (:mod:`.allowlist_data`) or the
project's ``gates.scan.allow_globals`` lists it. The deny tables only decide how bad a
non-allowlisted global is (CRITICAL "known code execution" versus HIGH "unknown") and what
the finding says. :func:`explain_global` gives the same decision with its reason for
``--explain``.

Names are ``module.qualname`` strings after alias normalisation (see :func:`normalise`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from .allowlist_data import (
    ALLOWED_CLASS_PREFIXES,
    ALLOWED_GLOBALS,
    ARGUMENT_SHAPES,
    CONDITIONAL_GLOBALS,
    DANGEROUS_ATTRIBUTES,
    DANGEROUS_CALLABLES,
    DANGEROUS_INNER_MODULES,
    DANGEROUS_MODULES,
    DANGEROUS_PATTERNS,
    EXCLUDED_COMPONENTS,
    MODULE_ALIASES,
    NUMPY_TYPE_PATTERN,
    SCANNER_MODULES,
    TORCH_CLASS_PATTERN,
    TORCH_DTYPE_PATTERN,
    fickling_unsafe_modules,
)
from .allowlist_packages import excluded_reason, package_allowed

try:  # Python 2 -> 3 names, exactly what the unpickler applies for protocols < 3.
    import _compat_pickle

    _IMPORT_MAPPING: dict[str, str] = dict(_compat_pickle.IMPORT_MAPPING)
    _NAME_MAPPING: dict[tuple[str, str], tuple[str, str]] = dict(_compat_pickle.NAME_MAPPING)
except ImportError:  # pragma: no cover - CPython always has it
    _IMPORT_MAPPING = {}
    _NAME_MAPPING = {}

_DUNDER = re.compile(r"^__\w+__$")
_IDENT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def normalise(module: str, name: str) -> tuple[str, str]:
    """Return ``(module, qualname)`` with Python-2 and private-module aliases resolved."""
    if (module, name) in _NAME_MAPPING:
        module, name = _NAME_MAPPING[(module, name)]
    elif module in _IMPORT_MAPPING:
        module = _IMPORT_MAPPING[module]
    root, _, rest = module.partition(".")
    if root in MODULE_ALIASES:
        alias = MODULE_ALIASES[root]
        module = f"{alias}.{rest}" if rest else alias
    return module, name


def is_identifier_path(text: str) -> bool:
    """True when ``text`` is a dotted Python identifier path (``a.b.c``)."""
    return bool(_IDENT_PATH.match(text))


def _module_prefixes(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def dangerous_reason(module: str, name: str) -> str | None:
    """Why ``module.name`` is known-dangerous, or None when it is not on any deny list.

    ``module`` and ``name`` are the raw operands; both the raw and the normalised forms
    are checked, and every dotted component is inspected.
    """
    nmod, nname = normalise(module, name)
    if f"{nmod}.{nname}" in ALLOWED_GLOBALS:
        return None
    for mod, qual in ((module, name), (nmod, nname)):
        full = f"{mod}.{qual}"
        if full in DANGEROUS_CALLABLES:
            return "known code-execution or nested-load callable"
        for prefix in _module_prefixes(full):
            if prefix in DANGEROUS_CALLABLES:
                return "reaches a known code-execution callable"
        for prefix in _module_prefixes(mod):
            if prefix in DANGEROUS_MODULES:
                return f"module {prefix} can execute code or touch the system"
        mod_parts = mod.split(".")
        for part in mod_parts[1:]:
            if part in DANGEROUS_INNER_MODULES:
                return f"module path traverses into {part}"
        qual_parts = qual.split(".")
        for part in qual_parts:
            if _DUNDER.match(part):
                return f"attribute traversal through {part}"
            if part in DANGEROUS_ATTRIBUTES:
                return f"{part} is a known code-execution callable"
            if part in DANGEROUS_INNER_MODULES or part in DANGEROUS_MODULES:
                return f"attribute path traverses into module {part}"
        for pattern in DANGEROUS_PATTERNS:
            if pattern.search(full):
                return "known loader / code-execution callable"
    if not builtin_allowed(module, name):
        for mod in (module, nmod):
            for prefix in _module_prefixes(mod):
                if prefix in fickling_unsafe_modules():
                    return f"module {prefix} can execute code or touch the system (fickling)"
    return None


@lru_cache(maxsize=4096)
def builtin_allowed(module: str, name: str) -> bool:
    """True when the built-in allowlist accepts ``module.name`` (after normalisation)."""
    nmod, nname = normalise(module, name)
    full = f"{nmod}.{nname}"
    if full in ALLOWED_GLOBALS or f"{module}.{name}" in ALLOWED_GLOBALS:
        return True
    if TORCH_CLASS_PATTERN.fullmatch(full) or NUMPY_TYPE_PATTERN.fullmatch(full):
        return True
    if nmod == "torch" and TORCH_DTYPE_PATTERN.fullmatch(nname):
        return True
    if package_allowed(nmod, nname):
        return True
    if "." in nname or not nname[:1].isupper() or not nname.isidentifier():
        return False
    for prefix in ALLOWED_CLASS_PREFIXES:
        if nmod.startswith(prefix) or f"{nmod}." == prefix:
            parts = set(nmod.split("."))
            return not parts & EXCLUDED_COMPONENTS
    return False


def scanner_reason(module: str, name: str) -> str | None:
    """Why importing ``module.name`` can switch off a scanner, or None."""
    for mod in (module, normalise(module, name)[0]):
        root = mod.partition(".")[0]
        if root in SCANNER_MODULES:
            return f"imports from the security scanner package {root}"
    return None


def policy_allowed(module: str, name: str, allow: dict[str, str] | None) -> str | None:
    """The policy reason when ``allow`` (``gates.scan.allow_globals``) accepts the global."""
    if not allow:
        return None
    nmod, nname = normalise(module, name)
    for mod, qual in ((module, name), (nmod, nname)):
        full = f"{mod}.{qual}"
        if full in allow:
            return allow[full]
        for prefix in _module_prefixes(mod):
            key = f"{prefix}.*"
            if key in allow:
                return allow[key]
    return None


def explain_global(
    module: str, name: str, project_allow: Mapping[str, str] | None = None
) -> tuple[str, str, str | None]:
    """How the scan judges an import of ``module.name``, for ``--explain``.

    Args:
        module: module operand as written in the pickle.
        name: qualified name operand as written in the pickle.
        project_allow: the project allowlist (``module.qualname`` or ``module.*`` ->
            reason), as in ``gates.scan.allow_globals``.

    Returns:
        ``(decision, reason, suggested_entry)``: decision ``block`` / ``quarantine`` /
        ``pass``; a one-line reason; for a quarantined global that may be allowlisted, the
        entry to add to the project allowlist (else None). Dangerous or malformed names are
        never suggested: the project allowlist cannot override them.
    """
    full = f"{module}.{name}"
    nmod, nname = normalise(module, name)
    alias = "" if (nmod, nname) == (module, name) else f" (alias of {nmod}.{nname})"
    reason = scanner_reason(module, name)
    if reason is not None:
        return "block", f"{full}{alias}: {reason} (scanner deactivation)", None
    reason = dangerous_reason(module, name)
    if reason is not None and f"{nmod}.{nname}" in CONDITIONAL_GLOBALS:
        return (
            "block",
            f"{full}{alias}: {reason}; accepted only where every use is a call with the "
            "arguments its serialiser writes (see docs/scan.md, generic constructs)",
            None,
        )
    if reason is not None:
        return "block", f"{full}{alias}: {reason}", None
    if builtin_allowed(module, name):
        shape = ARGUMENT_SHAPES.get(f"{nmod}.{nname}")
        extra = ""
        if shape is not None:
            extra = f"; calls must have the argument shape ({', '.join(shape[0])})"
        return "pass", f"{full}{alias}: on the built-in allowlist{extra}", None
    policy = policy_allowed(module, name, dict(project_allow or {}))
    if policy is not None:
        return "pass", f"{full}{alias}: on the project allowlist ({policy})", None
    if not (is_identifier_path(module) and is_identifier_path(name)):
        return "quarantine", f"{full!r} is not a well-formed dotted name", None
    acting = excluded_reason(nmod, nname)
    if acting is not None:
        return (
            "quarantine",
            f"{full}{alias}: left out of the built-in allowlist because {acting}; "
            "do not allowlist it unless you have read what it does",
            None,
        )
    return (
        "quarantine",
        f"{full}{alias}: not on the allowlist (default-deny: importing it may run code)",
        f"{nmod}.{nname}",
    )
