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

from .allowlist import builtin_allowed, dangerous_reason
from .allowlist_data import (
    ARGUMENT_SHAPES,
    DILL_TYPES,
    GETATTR_TYPES,
    UFUNC_MODULES,
)
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
    "str-or-class": lambda v: isinstance(v, str) or (isinstance(v, GlobalRef) and v.trusted),
    "bytes": _is_bytes,
    "str": lambda v: isinstance(v, str),
    "none": lambda v: v is None,
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


# --------------------------------------------------------------------------- generic constructs

INVALID = object()
"""Returned by :func:`conditional_call` when the arguments do not fit."""

_CONSTANT_TYPES = {
    "builtins.Ellipsis": "types.EllipsisType",
    "builtins.NotImplemented": "types.NotImplementedType",
}


def _plain_ref(v: Any) -> bool:
    return isinstance(v, GlobalRef) and v.trusted and not v.conditional


def conditional_call(
    func: GlobalRef, args: Any, opcode: str, make_ref: Callable[[str, str], GlobalRef]
) -> Any:
    """The symbolic result of conditional global ``func`` called with ``args``, or :data:`INVALID`.

    ``make_ref(module, name)`` builds the walker's reference to a global, so that a call
    that only *names* a type (``dill._dill._load_type('slice')``, ``type(None)``,
    ``_ufunc_reconstruct('numpy', 'log1p')``) evaluates to that global and is judged as if
    the pickle had imported it directly.
    """
    full = func.full
    if opcode not in ("REDUCE", "INST", "OBJ") and full != "functools.partial":
        return INVALID
    targs = args if isinstance(args, tuple) else None
    if targs is None:
        return INVALID
    if full == "builtins.getattr":
        return _getattr(targs, make_ref)
    if full == "dill._dill._getattr":
        return _dill_getattr(targs)
    if full == "types.MethodType":
        return _method(func, targs)
    if full == "functools.partial":
        if len(targs) >= 1 and _plain_ref(targs[0]):
            return Called(func, targs)
        return INVALID
    if full == "builtins.type":
        if targs == (None,):
            return make_ref("types", "NoneType")
        if len(targs) == 1 and isinstance(targs[0], GlobalRef) and targs[0].full in _CONSTANT_TYPES:
            return make_ref(*_CONSTANT_TYPES[targs[0].full].split("."))
        return INVALID
    if full == "dill._dill._load_type":
        if targs == ("MethodType",):
            return GlobalRef("dill._dill", "_load_type.MethodType", "types.MethodType", False, True)
        if targs == ("PartialType",):
            # functools.partial under dill's name: a conditional global of its own, so every
            # use of it must fit as for an imported partial (the walker registers it)
            return GlobalRef(
                "dill._dill", "_load_type.PartialType", "functools.partial", False, True
            )
        if len(targs) == 1 and isinstance(targs[0], str) and targs[0] in DILL_TYPES:
            module, _, name = DILL_TYPES[targs[0]].rpartition(".")
            return make_ref(module, name)
        return INVALID
    if full in ("numpy.core._ufunc_reconstruct", "numpy._core._ufunc_reconstruct"):
        if (
            len(targs) == 2
            and isinstance(targs[0], str)
            and targs[0] in UFUNC_MODULES
            and isinstance(targs[1], str)
            and targs[1].isidentifier()
        ):
            ref = make_ref(targs[0], targs[1])
            if ref.trusted and not ref.conditional:
                return ref
        return INVALID
    return INVALID


def _getattr(targs: tuple[Any, ...], make_ref: Callable[[str, str], GlobalRef]) -> Any:
    """``getattr(owner, attr)`` as pickle writes it for methods and class attributes.

    Accepted: a public method of a built-in data type (``getattr(str, 'lower')``); an
    attribute of an allowlisted class that is itself allowlisted under its dotted name
    (``getattr(ZoneInfo, '_unpickle')`` is ``zoneinfo.ZoneInfo._unpickle``, a classmethod
    pickled by protocols < 4); the same attribute of an instance built by calling such a
    class (a bound method, ``getattr(poisson_gen(), '_entropy')``).
    """
    if len(targs) != 2 or not isinstance(targs[1], str) or not targs[1].isidentifier():
        return INVALID
    owner, attr = targs
    if isinstance(owner, GlobalRef) and attr in GETATTR_TYPES.get(owner.full, ()):
        return Called(owner, targs)  # a method descriptor of a data type
    cls = owner
    if isinstance(owner, Called) and isinstance(owner.func, GlobalRef):
        cls = owner.func
    dotted = f"{cls.name}.{attr}" if isinstance(cls, GlobalRef) else ""
    if not (
        _plain_ref(cls)
        and builtin_allowed(cls.module, dotted)
        and dangerous_reason(cls.module, dotted) is None
    ):
        return INVALID
    if cls is owner:
        return make_ref(cls.module, dotted)
    return Called(make_ref(cls.module, dotted), targs)  # a bound method


def _dill_getattr(targs: tuple[Any, ...]) -> Any:
    """``dill._dill._getattr(type, name, repr_str)`` exactly as dill writes it.

    dill ``eval``s a name cut from ``repr_str``, so the call is accepted only when all
    three are what dill writes for a public method of a built-in data type (``str, 'lower',
    "<method 'lower' of 'str' objects>"``); anything else is an eval gadget.
    """
    if len(targs) != 3 or not isinstance(targs[0], GlobalRef):
        return INVALID
    owner, name, text = targs
    if not isinstance(name, str) or name not in GETATTR_TYPES.get(owner.full, ()):
        return INVALID
    if text != f"<method '{name}' of '{owner.full.rpartition('.')[2]}' objects>":
        return INVALID
    return Called(owner, targs)


def _method(func: GlobalRef, targs: tuple[Any, ...]) -> Any:
    """``MethodType(Class.meth, Cls(...))``: dill's bound methods.

    Accepted when the function is an allowlisted *method* (a dotted ``Class.meth`` of a
    data package, e.g. an inherited ``rv_discrete._entropy``) and the instance was built by
    calling an allowlisted class: nothing from outside the allowlist gets bound (the Sleepy
    Pickle pattern binds a foreign function to a model).
    """
    if len(targs) != 2:
        return INVALID
    fn, inst = targs
    if not (_plain_ref(fn) and isinstance(inst, Called) and _plain_ref(inst.func)):
        return INVALID
    if "." not in fn.name:
        return INVALID
    return Called(func, targs)


def partial_state_ok(state: Any) -> bool:
    """``functools.partial.__setstate__`` state: (allowlisted function, args, kwargs, dict)."""
    return (
        isinstance(state, tuple)
        and len(state) == 4
        and _plain_ref(state[0])
        and isinstance(state[1], tuple)
        and (state[2] is None or isinstance(state[2], DictVal))
        and (state[3] is None or isinstance(state[3], DictVal))
    )
