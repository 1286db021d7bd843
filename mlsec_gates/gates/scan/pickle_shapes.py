"""Argument-shape checks for allowlisted callables.

An allowlist of names alone can be abused: ``collections.OrderedDict`` or
``torch._utils._rebuild_tensor_v2`` called with attacker-chosen arguments (a function, a
call result, a module object) is not what ``torch.save`` or NumPy ever write. The shapes in
:data:`.allowlist_data.ARGUMENT_SHAPES` describe what the serialisers do write; a call that
does not fit is reported (quarantine) even though the name is allowlisted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .allowlist_data import ARGUMENT_SHAPES
from .pickle_ops import (
    LIST,
    PERSISTENT,
    BytesRef,
    Called,
    DictVal,
    DTypeVal,
    GlobalRef,
    StrRef,
)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_odict(v: Any) -> bool:
    if isinstance(v, DictVal):
        return True
    return (
        isinstance(v, Called)
        and isinstance(v.func, GlobalRef)
        and v.func.full
        in (
            "collections.OrderedDict",
            "builtins.dict",
        )
    )


def _is_bytes(v: Any) -> bool:
    if isinstance(v, (BytesRef, StrRef, str, bytes)):
        return True
    return (
        isinstance(v, Called)
        and isinstance(v.func, GlobalRef)
        and v.func.full == "codecs.encode"
        and isinstance(v.args, tuple)
        and len(v.args) == 2
        and isinstance(v.args[0], (str, StrRef))
    )


def _is_tensor(v: Any) -> bool:
    return (
        isinstance(v, Called)
        and isinstance(v.func, GlobalRef)
        and v.func.trusted
        and v.func.full.startswith("torch.")
    )


_KINDS: dict[str, Callable[[Any], bool]] = {
    "storage": lambda v: v is PERSISTENT,
    "int": _is_int,
    "ints": lambda v: isinstance(v, tuple) and all(type(x) is int for x in v),
    "bool": lambda v: isinstance(v, bool),
    "flag": lambda v: isinstance(v, int),
    "odict": _is_odict,
    "dict-or-none": lambda v: v is None or _is_odict(v),
    "tensor": _is_tensor,
    "class": lambda v: isinstance(v, GlobalRef) and v.trusted,
    "bytes": _is_bytes,
    "str": lambda v: isinstance(v, str),
    "dtype": lambda v: isinstance(v, DTypeVal),
    "list": lambda v: v is LIST,
    "any": lambda v: True,
}


def expected_shape(full: str) -> str | None:
    """The documented argument shape of an allowlisted callable, or None if unchecked."""
    spec = ARGUMENT_SHAPES.get(full)
    if spec is None:
        return None
    kinds, minimum = spec
    required = ", ".join(kinds[:minimum])
    optional = "".join(f"[, {k}" for k in kinds[minimum:]) + "]" * (len(kinds) - minimum)
    return f"{full}({required}{optional})"


def shape_mismatch(full: str, args: Any) -> str | None:
    """The expected shape when ``args`` do not fit the shape of ``full``, else None."""
    spec = _CHECKS.get(full)
    if spec is None:
        return None
    checks, minimum = spec
    if isinstance(args, tuple) and minimum <= len(args) <= len(checks):
        for check, arg in zip(checks, args, strict=False):
            if not check(arg):
                return expected_shape(full)
        return None
    return expected_shape(full)


#: ARGUMENT_SHAPES with the kind names replaced by their check functions.
_CHECKS: dict[str, tuple[tuple[Callable[[Any], bool], ...], int]] = {
    full: (tuple(_KINDS[kind] for kind in kinds), minimum)
    for full, (kinds, minimum) in ARGUMENT_SHAPES.items()
}
