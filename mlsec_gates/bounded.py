"""Parsing untrusted JSON and YAML within bounds: depth, size after alias expansion.

Policies, suites, allowlists, waiver files, signature bundles, gate reports given to
``sbom --gate-report`` and ``report`` all come from files someone else may have written.
``json.loads`` of ``[[[[...]]]]`` 100,000 deep raises ``RecursionError`` (not a
``ValueError``), and a ten-line YAML alias bomb expands to billions of values. Everything
parsed here is refused beyond :data:`MAX_DEPTH` levels or :data:`MAX_YAML_VALUES` values, with
an error the callers already handle as "not valid JSON/YAML" (a ``json.JSONDecodeError``
subclass), so the gate exits 2 with one line instead of a traceback or minutes of work.

Example:
    >>> loads_json('{"a": [1, 2]}')
    {'a': [1, 2]}
    >>> loads_json("[" * 100_000 + "]" * 100_000)
    Traceback (most recent call last):
    ...
    mlsec_gates.bounded.TooDeep: nested more than 128 levels deep
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_YAML_VALUES", "TooDeep", "check_depth", "loads_json"]

MAX_DEPTH = 128
"""Deepest nesting accepted in a JSON or YAML input (real documents stay under 20)."""

MAX_YAML_VALUES = 20_000
"""Values a YAML document may add through aliases (each value an alias repeats counts once
per use); what is written out in the file is bounded by its size."""


class TooDeep(json.JSONDecodeError):
    """A JSON or YAML document nested deeper than :data:`MAX_DEPTH` (or too large)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "", 0)

    def __str__(self) -> str:
        return self.msg


def loads_json(data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``max_depth``.

    Raises:
        json.JSONDecodeError: not JSON, or too deep (:class:`TooDeep`).
        UnicodeDecodeError: bytes that are not UTF-8/16/32.
    """
    try:
        value = json.loads(data)
    except RecursionError:
        raise TooDeep(f"nested more than {max_depth} levels deep") from None
    check_depth(value, max_depth=max_depth)
    return value


def check_depth(value: Any, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeep` when lists/dicts in ``value`` nest deeper than ``max_depth``.

    Iterative, so it never recurses itself.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise TooDeep(f"nested more than {max_depth} levels deep")
        stack.extend((child, depth + 1) for child in children)
