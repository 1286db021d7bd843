"""A tiny pickle assembler: build call graphs as opcodes, never by pickling live objects.

Malicious samples must be written without importing or running their gadgets, so the
payloads are expressed as :class:`G` (an imported global) and :class:`Call` nodes and
serialised opcode by opcode (protocol 4 opcodes, STACK_GLOBAL by default).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class G:
    """An imported global ``module.name``; ``op`` is ``stack`` (STACK_GLOBAL) or ``global``."""

    module: str
    name: str
    op: str = "stack"


@dataclass(frozen=True)
class Call:
    """``fn(*args)`` via REDUCE."""

    fn: Any
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Build:
    """``obj`` with BUILD ``state`` applied (``__setstate__`` or ``__dict__``/setattr update)."""

    obj: Any
    state: Any


@dataclass(frozen=True)
class Raw:
    """Opcodes inserted verbatim (they must leave exactly one value on the stack)."""

    data: bytes


@dataclass
class Program:
    """Several expressions evaluated in order; all but the last are POPped."""

    steps: list[Any] = field(default_factory=list)


def uni(text: str) -> bytes:
    """SHORT_BINUNICODE / BINUNICODE."""
    raw = text.encode()
    if len(raw) < 256:
        return b"\x8c" + bytes([len(raw)]) + raw
    return b"X" + struct.pack("<I", len(raw)) + raw


def emit(value: Any) -> bytes:
    """Opcodes that push ``value`` (one stack item)."""
    if isinstance(value, Raw):
        return value.data
    if isinstance(value, G):
        if value.op == "global":
            return b"c" + value.module.encode() + b"\n" + value.name.encode() + b"\n"
        return uni(value.module) + uni(value.name) + b"\x93"
    if isinstance(value, Call):
        return emit(value.fn) + b"(" + b"".join(emit(a) for a in value.args) + b"tR"
    if isinstance(value, Build):
        return emit(value.obj) + emit(value.state) + b"b"
    if value is None:
        return b"N"
    if value is True:
        return b"\x88"
    if value is False:
        return b"\x89"
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return b"J" + struct.pack("<i", value)
        raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
        return b"\x8a" + bytes([len(raw)]) + raw
    if isinstance(value, float):
        return b"G" + struct.pack(">d", value)
    if isinstance(value, str):
        return uni(value)
    if isinstance(value, (bytes, bytearray)):
        if len(value) < 256:
            return b"C" + bytes([len(value)]) + bytes(value)
        return b"B" + struct.pack("<I", len(value)) + bytes(value)
    if isinstance(value, tuple):
        return b"(" + b"".join(emit(v) for v in value) + b"t"
    if isinstance(value, list):
        if not value:
            return b"]"
        return b"](" + b"".join(emit(v) for v in value) + b"e"
    if isinstance(value, dict):
        if not value:
            return b"}"
        return b"}(" + b"".join(emit(k) + emit(v) for k, v in value.items()) + b"u"
    raise TypeError(f"cannot emit {type(value).__name__}")


def program(*steps: Any, proto: int = 4) -> bytes:
    """A full pickle: PROTO, every step (all but the last POPped), STOP."""
    body = b""
    for i, step in enumerate(steps):
        body += emit(step)
        if i < len(steps) - 1:
            body += b"0"
    head = b"\x80" + bytes([proto]) if proto >= 2 else b""
    return head + body + b"."


def dumps(value: Any, proto: int = 4) -> bytes:
    """One expression as a complete pickle."""
    return program(value, proto=proto)


def p0_call(module: str, name: str, arg: str) -> bytes:
    """``module.name(arg)`` in pure protocol 0 (text), with STOP."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n(S'" + arg.encode() + b"'\ntR."
