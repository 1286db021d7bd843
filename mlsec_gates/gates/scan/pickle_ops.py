"""Low-level pieces of the pickle walker: operand readers and symbolic values.

The walker (:mod:`.pickle_vm`) never builds real Python objects from the scanned bytes. Stack
entries are *symbolic values*: small literals (short strings, ints, floats, tuples) are kept so
that module names, call arguments and state-dict keys can be judged and quoted in findings;
large payloads are kept as references into the scanned buffer (:class:`BytesRef`,
:class:`StrRef`) so nothing big is copied unless it flows into a loader call.
"""

from __future__ import annotations

import codecs
import pickletools
import struct
from dataclasses import dataclass
from typing import Any

Buffer = Any  # bytes, bytearray, memoryview or mmap.mmap

MAX_STR = 4096
"""Longer strings are kept as :class:`StrRef` (they cannot be module names)."""
MAX_TUPLE = 64
MAX_DICT = 64
MAX_INT_DIGITS = 200

U2 = struct.Struct("<H")
I4 = struct.Struct("<i")
U4 = struct.Struct("<I")
U8 = struct.Struct("<Q")
F8 = struct.Struct(">d")

OP_NAMES: dict[int, str] = {ord(info.code): info.name for info in pickletools.opcodes}


def opname(op: int) -> str:
    """Name of opcode byte ``op`` (hex for bytes that are no opcode)."""
    return OP_NAMES.get(op, f"0x{op:02x}")


class ParseError(Exception):
    """The stream cannot be decoded further (the unpickler would fail here too)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LimitError(Exception):
    """The opcode budget of a stream is exhausted."""


# --------------------------------------------------------------------------- readers


def need(pos: int, n: int, end: int) -> None:
    """Raise :class:`ParseError` unless ``n`` bytes are available at ``pos``."""
    if n < 0 or pos + n > end:
        raise ParseError(f"expected {n} bytes of data but only {max(end - pos, 0)} remain")


def readline(buf: Buffer, pos: int, end: int) -> tuple[bytes, int]:
    """The bytes up to the next newline and the position after it."""
    nl = buf.find(b"\n", pos, end)
    if nl < 0:
        raise ParseError("no newline found when trying to read a line argument")
    return bytes(buf[pos:nl]), nl + 1


#: Opcodes with a length-prefixed argument: the prefix's format (None = one unsigned byte).
LENGTH_PREFIX: dict[int, struct.Struct | None] = {
    0x8C: None,  # SHORT_BINUNICODE
    0x58: U4,  # BINUNICODE
    0x8D: U8,  # BINUNICODE8
    0x43: None,  # SHORT_BINBYTES
    0x42: U4,  # BINBYTES
    0x8E: U8,  # BINBYTES8
    0x96: U8,  # BYTEARRAY8
    0x8A: None,  # LONG1
    0x8B: I4,  # LONG4
    0x55: None,  # SHORT_BINSTRING
    0x54: I4,  # BINSTRING
}


def read_length(buf: Buffer, pos: int, end: int, op: int) -> tuple[int, int]:
    """Read the length prefix of opcode ``op`` at ``pos``; return (length, data position).

    Raises:
        ParseError: the prefix or the data it announces runs past the end, or is negative.
    """
    fmt = LENGTH_PREFIX[op]
    if fmt is None:
        need(pos, 1, end)
        ln, pos = buf[pos], pos + 1
    else:
        need(pos, fmt.size, end)
        ln, pos = fmt.unpack_from(buf, pos)[0], pos + fmt.size
        if ln < 0:
            raise ParseError(f"{opname(op)} with a negative length")
    need(pos, ln, end)
    return ln, pos


def text_value(buf: Buffer, pos: int, n: int, encoding: str) -> Any:
    """A string operand: the decoded text when short, else a :class:`StrRef`."""
    if n > MAX_STR:
        return StrRef(pos, n, encoding)
    raw = bytes(buf[pos : pos + n])
    try:
        return decode_text(raw, encoding)
    except UnicodeDecodeError as exc:
        raise ParseError(f"invalid {encoding} string: {exc}") from None


def decode_text(raw: bytes, encoding: str) -> str:
    """Decode a string operand the way the unpickler does."""
    if encoding == "utf-8":
        return raw.decode("utf-8", "surrogatepass")
    if encoding == "string-escape":
        return codecs.escape_decode(raw)[0].decode("latin-1")
    return raw.decode(encoding)


def int_line(raw: bytes) -> Any:
    """The value of an INT / LONG / GET / PUT text operand."""
    text = raw.strip().rstrip(b"L")
    if len(text) > MAX_INT_DIGITS:
        return OPAQUE
    try:
        return int(text)
    except ValueError:
        raise ParseError(f"invalid integer literal {raw[:40]!r}") from None


# --------------------------------------------------------------------------- symbolic values


class Sentinel:
    """A placeholder for a value the walker does not model."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


OPAQUE = Sentinel("<opaque>")
LIST = Sentinel("<list>")
SET = Sentinel("<set>")
PERSISTENT = Sentinel("<persistent-id>")
BUFFER = Sentinel("<out-of-band buffer>")


@dataclass(frozen=True, slots=True)
class BytesRef:
    """A bytes operand left in the scanned buffer (``buf[start:start+length]``)."""

    start: int
    length: int


@dataclass(frozen=True, slots=True)
class StrRef:
    """A long string operand left in the scanned buffer, with its pickle encoding."""

    start: int
    length: int
    encoding: str


@dataclass(frozen=True, slots=True)
class GlobalRef:
    """An imported global on the symbolic stack.

    ``full`` is the normalised ``module.qualname`` (aliases resolved); ``trusted`` says the
    built-in allowlist accepts it, so calls on it are not recorded as payloads;
    ``conditional`` marks a generic construct accepted only with certain arguments (see
    :data:`.allowlist_data.CONDITIONAL_GLOBALS`).
    """

    module: str
    name: str
    full: str
    trusted: bool
    conditional: bool = False

    @property
    def raw(self) -> str:
        """``module.name`` as written in the pickle."""
        return f"{self.module}.{self.name}"


@dataclass(slots=True, eq=False)
class Called:
    """Result of a call (REDUCE, OBJ, INST, NEWOBJ, NEWOBJ_EX) and what was called."""

    func: Any
    args: Any
    offset: int = -1


class DictVal(dict):
    """A dict built by the pickle: the first :data:`MAX_DICT` items plus every hook key."""


@dataclass(slots=True)
class DTypeVal:
    """A ``numpy.dtype(...)`` reconstruction (needed to size joblib's inline arrays)."""

    descr: Any
    elsize: int | None = None
    fields: Any = None

    @property
    def hasobject(self) -> bool:
        """True when the dtype holds Python objects (data pickled, not raw)."""
        if isinstance(self.descr, str) and self.descr.lstrip("<>|=").startswith("O"):
            return True
        if not isinstance(self.fields, dict):
            return False
        return any(
            isinstance(v, tuple) and v and isinstance(v[0], DTypeVal) and v[0].hasobject
            for v in self.fields.values()
        )

    def itemsize(self) -> int | None:
        """Bytes per element, or None when it cannot be determined."""
        if self.elsize is not None and self.elsize > 0:
            return self.elsize
        if not isinstance(self.descr, str) or len(self.descr) > 16:
            return None
        try:
            import numpy

            return int(numpy.dtype(self.descr).itemsize)
        except Exception:
            return None


@dataclass(slots=True)
class WrapperVal:
    """A ``joblib.numpy_pickle.NumpyArrayWrapper`` instance (array data follows inline)."""

    state: Any = None


# --------------------------------------------------------------------------- rendering


def render(value: Any, depth: int = 0) -> str:
    """Python-like text for a symbolic value, used to name payloads in findings."""
    if depth > 4:
        return "…"
    if isinstance(value, GlobalRef):
        return value.raw
    if isinstance(value, Called):
        return f"{render(value.func, depth + 1)}({_render_args(value.args, depth + 1)})"
    if isinstance(value, str):
        return repr(value if len(value) <= 120 else value[:117] + "...")
    if isinstance(value, (bool, int, float)) or value is None:
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    if isinstance(value, tuple):
        inner = ", ".join(render(v, depth + 1) for v in value[:8])
        if len(value) > 8:
            inner += ", …"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, dict):
        items = list(value.items())[:6]
        inner = ", ".join(f"{render(k, depth + 1)}: {render(v, depth + 1)}" for k, v in items)
        return "{" + inner + (", …" if len(value) > 6 else "") + "}"
    if isinstance(value, BytesRef):
        return f"<{value.length} bytes>"
    if isinstance(value, StrRef):
        return f"<{value.length}-byte string>"
    if isinstance(value, DTypeVal):
        return f"dtype({render(value.descr, depth + 1)})"
    if isinstance(value, Sentinel):
        return value.name
    return f"<{type(value).__name__}>"


def _render_args(args: Any, depth: int) -> str:
    if isinstance(args, tuple):
        text = ", ".join(render(a, depth) for a in args[:8])
        return text + (", …" if len(args) > 8 else "")
    return f"*{render(args, depth)}"


def describe(value: Any) -> str:
    """Short description of a value in the role of an operand or call target."""
    if isinstance(value, Called):
        return f"result of {render(value)}"
    return render(value)
