r"""Expectation suites written by people: YAML or JSON, with GX's own names and arguments.

Example:
    >>> from mlsec_gates.gates.validate.suite import parse_suite
    >>> suite = parse_suite(
    ...     "name: iris\nexpectations:\n"
    ...     "  - expect_column_values_to_not_be_null: {column: age}\n",
    ...     source="iris.yaml",
    ... )  # doctest: +SKIP
    >>> suite.expectations[0].type  # doctest: +SKIP
    'expect_column_values_to_not_be_null'

Two layouts are accepted, and may be mixed in one file:

* short: ``- expect_column_values_to_be_between: {column: age, min_value: 0}``;
* GX's own suite JSON: ``{"type": "expect_...", "kwargs": {...}, "meta": {...}}`` (GX 0.x's
  ``expectation_type`` and ``expectation_suite_name`` also work).

Every expectation is checked by building its GX class (a pydantic model), so a misspelt
expectation or argument is a :class:`~mlsec_gates.errors.ConfigError` naming the file, the line
and the closest valid name, before any data are read.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from mlsec_gates.errors import ConfigError
from mlsec_gates.policy import load_yaml_with_lines
from mlsec_gates.storage import Storage

_SUITE_KEYS = frozenset(
    {"name", "expectation_suite_name", "expectations", "meta", "notes", "id", "ge_cloud_id"}
)
_GX_ENTRY_KEYS = frozenset(
    {"type", "expectation_type", "kwargs", "meta", "notes", "description", "severity", "id"}
)
_GX_ENTRY_IGNORED = frozenset({"id", "ge_cloud_id", "rendered_content"})
_PASSED_THROUGH = ("meta", "notes", "description", "severity")
"""Entry keys of GX's layout that are fields of the expectation model, not ``kwargs``."""
_INTERNAL_ARGS = frozenset(
    {"id", "meta", "notes", "description", "rendered_content", "severity", "windows", "batch_id"}
)
COLUMN_ARGS = ("column", "column_A", "column_B")
"""Arguments that name one column; ``column_list`` names several."""

Lines = dict[tuple[str | int, ...], int]


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation of a suite, as written (validated against its GX class)."""

    type: str
    """GX snake_case name, e.g. ``expect_column_values_to_be_between``."""
    kwargs: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    """``meta``, ``notes``, ``description``, ``severity`` from GX's layout."""
    line: int | None = None

    def columns(self) -> tuple[str, ...]:
        """The columns this expectation reads (empty for table-level ones)."""
        names = [self.kwargs[k] for k in COLUMN_ARGS if isinstance(self.kwargs.get(k), str)]
        listed = self.kwargs.get("column_list")
        if isinstance(listed, (list, tuple)):
            names += [c for c in listed if isinstance(c, str)]
        return tuple(dict.fromkeys(names))

    def to_dict(self) -> dict[str, Any]:
        """``{"type": ..., "kwargs": {...}}``, as GX writes it."""
        return {"type": self.type, "kwargs": dict(self.kwargs)}

    def build(self) -> Any:
        """The GX expectation object.

        Raises:
            ConfigError: unknown argument or invalid value (without file and line).
        """
        from mlsec_gates.gates.validate._gx import expectation_classes

        cls = expectation_classes()[self.type]
        return _construct(cls, self, source=None, line=None, dotted="")


@dataclass(frozen=True)
class Suite:
    """A named list of expectations and where it came from."""

    name: str
    expectations: tuple[ExpectationSpec, ...]
    source: str = "<suite>"


def load_suite(suite: Suite | str, *, storage: Storage) -> Suite:
    """A suite from a path, an ``s3://`` URI, inline YAML/JSON text, or a parsed :class:`Suite`.

    A string is text when it contains a line break or ``": "``, or starts with ``{`` (the same
    rule as policies); otherwise it names a file.

    Raises:
        ConfigError: the suite is empty or invalid.
        InputError: the suite file does not exist.
    """
    if isinstance(suite, Suite):
        return suite
    if not isinstance(suite, str) or not suite.strip():
        raise ConfigError("a suite is required: a YAML/JSON file, s3:// URI or inline text")
    from mlsec_gates.gates._common import is_inline_text

    if is_inline_text(suite):
        return parse_suite(suite, source="<inline suite>")
    path = suite.strip()
    return parse_suite(storage.read_text(path), source=path)


def parse_suite(text: str, *, source: str = "<suite>") -> Suite:
    """Parse and validate a suite document (YAML or JSON).

    Raises:
        ConfigError: invalid YAML/JSON, no expectations, an unknown expectation (with the
            closest name), an unknown argument or an invalid value; one line naming the
            source, the line and the dotted key.
    """
    data, lines = load_yaml_with_lines(text, source=source)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:{lines[()]}: a suite must be a mapping with 'expectations'")
    for key in data:
        if key not in _SUITE_KEYS:
            raise ConfigError(
                f"{source}:{lines[(key,)]}: {key}: unknown key{_hint(str(key), _SUITE_KEYS)}"
            )
    name = data.get("name", data.get("expectation_suite_name")) or _default_name(source)
    entries = data.get("expectations")
    if not isinstance(entries, list) or not entries:
        line = lines.get(("expectations",), lines[()])
        raise ConfigError(
            f"{source}:{line}: expectations: a non-empty list of expectations is required"
        )
    specs = tuple(_parse_entry(entry, index, source, lines) for index, entry in enumerate(entries))
    return Suite(name=str(name), expectations=specs, source=source)


def _parse_entry(entry: Any, index: int, source: str, lines: Lines) -> ExpectationSpec:
    path: tuple[str | int, ...] = ("expectations", index)
    where = f"{source}:{lines.get(path, lines[()])}: expectations.{index}"
    if not isinstance(entry, dict) or not entry:
        raise ConfigError(
            f"{where}: an expectation is '{{expect_name: {{args}}}}' or "
            "'{type: expect_name, kwargs: {args}}'"
        )
    if "type" in entry or "expectation_type" in entry:
        for key in entry:
            if key not in _GX_ENTRY_KEYS | _GX_ENTRY_IGNORED:
                raise ConfigError(
                    f"{source}:{lines[(*path, key)]}: expectations.{index}.{key}: unknown key"
                    + _hint(str(key), _GX_ENTRY_KEYS)
                )
        kind = entry.get("type", entry.get("expectation_type"))
        kind_path: tuple[str | int, ...] = (
            *path,
            "type" if "type" in entry else "expectation_type",
        )
        kwargs = entry.get("kwargs") or {}
        args_path: tuple[str | int, ...] = (*path, "kwargs")
        extra = {k: entry[k] for k in _PASSED_THROUGH if entry.get(k) is not None}
    else:
        if len(entry) != 1:
            keys = ", ".join(map(str, entry))
            raise ConfigError(
                f"{where}: one expectation per list entry, got several keys ({keys}); "
                "start each with '- '"
            )
        [(kind, kwargs)] = entry.items()
        kind_path = (*path, kind)
        kwargs = kwargs if kwargs is not None else {}
        args_path = (*path, kind)
        extra = {}
    kind_where = f"{source}:{lines.get(kind_path, lines.get(path, 1))}: expectations.{index}"
    if not isinstance(kind, str):
        raise ConfigError(f"{kind_where}: the expectation name must be a string")
    if not isinstance(kwargs, dict):
        raise ConfigError(f"{kind_where}.{kind}: arguments must be a mapping, got {kwargs!r}")
    from mlsec_gates.gates.validate._gx import expectation_classes

    classes = expectation_classes()
    if kind not in classes:
        raise ConfigError(f"{kind_where}.{kind}: unknown expectation{_hint(kind, classes)}")
    spec = ExpectationSpec(type=kind, kwargs=dict(kwargs), extra=extra, line=lines.get(kind_path))
    _construct(
        classes[kind],
        spec,
        source=source,
        line=lines.get(kind_path, lines.get(path)),
        dotted=f"expectations.{index}.",
        lines=lines,
        args_path=args_path,
    )
    return spec


def _construct(
    cls: type[Any],
    spec: ExpectationSpec,
    *,
    source: str | None,
    line: int | None,
    dotted: str,
    lines: Lines | None = None,
    args_path: tuple[str | int, ...] = (),
) -> Any:
    """Build the GX expectation; turn its pydantic error into one line."""
    from great_expectations.compatibility.pydantic import ValidationError

    try:
        return cls(**spec.kwargs, **spec.extra)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "value_error.extra")
        err = errors[0]
        arg = str(err["loc"][0]) if err["loc"] else "__root__"
        known = sorted(set(cls.__fields__) - _INTERNAL_ARGS)
        line = (lines or {}).get((*args_path, arg), line)
        if err["type"] == "value_error.extra":
            problem = f"{arg}: unknown argument{_hint(arg, known)}"
        elif err["type"] == "value_error.missing":
            problem = f"{arg}: required argument is missing"
        elif arg == "__root__":
            problem = str(err["msg"])
        else:
            msgs = list(dict.fromkeys(e["msg"] for e in errors if e["loc"][:1] == (arg,)))
            problem = f"{arg}: invalid value {spec.kwargs.get(arg)!r} ({'; '.join(msgs[:2])})"
        where = f"{source}:{line}: " if source and line else f"{source}: " if source else ""
        if arg == "__root__":
            raise ConfigError(f"{where}{dotted}{spec.type}: {problem}") from None
        raise ConfigError(f"{where}{dotted}{spec.type}.{problem}") from None
    except (TypeError, ValueError) as exc:
        where = f"{source}:{line}: " if source and line else ""
        raise ConfigError(f"{where}{dotted}{spec.type}: {exc}") from None


def _hint(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _default_name(source: str) -> str:
    """A suite without ``name`` is named after its file (``contract.yaml`` -> ``contract``)."""
    if source.startswith("<"):
        return "unnamed"
    return PurePosixPath(source).stem or "unnamed"
