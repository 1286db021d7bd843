"""Static analysis of pickle opcode streams, without ever unpickling them.

A single-pass abstract machine walks the opcodes (the same decoding rules as
:mod:`pickletools` / fickling's ``Pickled.load``), keeps a symbolic stack, metastack and
memo so that ``STACK_GLOBAL`` operands resolved through ``BINGET``/``MEMOIZE`` are seen,
and records every import (``GLOBAL``, ``STACK_GLOBAL``, ``INST``), every call on a
computed object, ``BUILD`` on an imported global and ``EXT*`` codes as events.

It understands joblib's inline array layout: after ``BUILD`` of a
``joblib.numpy_pickle.NumpyArrayWrapper`` the raw array bytes (or a nested protocol-5
pickle for object arrays) are skipped / analysed so the following opcodes are still
checked. Large byte payloads are skipped, not copied, so numpy-heavy pickles stream fast.
"""

from __future__ import annotations

import codecs
import math
import struct
from dataclasses import dataclass, field
from typing import Any

#: Magic number that opens a legacy (pre-zip) ``torch.save`` file.
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_MAX_STR = 4096  # longer strings are not kept as values (cannot be module names)
_MAX_TUPLE = 64
_MAX_DICT = 64
_MAX_INT_DIGITS = 200

_U2 = struct.Struct("<H")
_I4 = struct.Struct("<i")
_U4 = struct.Struct("<I")
_U8 = struct.Struct("<Q")
_F8 = struct.Struct(">d")

Buffer = Any  # bytes, bytearray or mmap.mmap


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


OPAQUE = _Sentinel("<opaque>")
BYTES = _Sentinel("<bytes>")
LIST = _Sentinel("<list>")
SET = _Sentinel("<set>")
PERSISTENT = _Sentinel("<persistent>")
LONGSTR = _Sentinel("<long-str>")


@dataclass(frozen=True)
class GlobalRef:
    """An imported global on the symbolic stack."""

    module: str
    name: str

    @property
    def full(self) -> str:
        """``module.name``."""
        return f"{self.module}.{self.name}"


@dataclass
class Called:
    """Result of calling something (REDUCE, OBJ, INST, NEWOBJ)."""

    func: Any


class DictVal(dict):
    """A dict built by the pickle (only the first few small items are kept)."""


@dataclass
class DTypeVal:
    """A ``numpy.dtype(...)`` reconstruction."""

    descr: Any
    elsize: int | None = None
    fields: Any = None

    @property
    def hasobject(self) -> bool:
        """True when the dtype holds Python objects (data pickled, not raw)."""
        if isinstance(self.descr, str) and self.descr.lstrip("<>|=").startswith("O"):
            return True
        if isinstance(self.fields, dict):
            for value in self.fields.values():
                if (
                    isinstance(value, tuple)
                    and value
                    and isinstance(value[0], DTypeVal)
                    and value[0].hasobject
                ):
                    return True
        return False

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


@dataclass
class WrapperVal:
    """A ``joblib.numpy_pickle.NumpyArrayWrapper`` instance."""

    state: Any = None


# --------------------------------------------------------------------------- events


@dataclass(frozen=True)
class GlobalEvent:
    """A global imported by GLOBAL / STACK_GLOBAL / INST."""

    module: str
    name: str
    opcode: str
    offset: int
    stream: int


@dataclass(frozen=True)
class ComputedGlobalEvent:
    """STACK_GLOBAL whose operands are not literal strings."""

    opcode: str
    offset: int
    stream: int
    operands: str


@dataclass(frozen=True)
class ComputedCallEvent:
    """REDUCE / OBJ / NEWOBJ on something that is not an imported global."""

    opcode: str
    offset: int
    stream: int
    target: str


@dataclass(frozen=True)
class GlobalMutationEvent:
    """BUILD applied to an imported global itself (rebinding attributes of a class/module)."""

    target: str
    opcode: str
    offset: int
    stream: int


@dataclass(frozen=True)
class ExtensionEvent:
    """EXT1/EXT2/EXT4: import through the copyreg extension registry."""

    code: int
    opcode: str
    offset: int
    stream: int


@dataclass(frozen=True)
class ErrorEvent:
    """The stream could not be analysed completely."""

    kind: str  # "parse" | "trailing" | "limit" | "joblib"
    message: str
    offset: int
    stream: int
    opcode: str | None = None


Event = (
    GlobalEvent
    | ComputedGlobalEvent
    | ComputedCallEvent
    | GlobalMutationEvent
    | ExtensionEvent
    | ErrorEvent
)


@dataclass
class StreamResult:
    """Outcome of walking one pickle stream."""

    start: int
    end: int
    stopped: bool
    stop_value: Any = None
    opcodes: int = 0
    error: str | None = None
    error_offset: int | None = None
    error_opcode: str | None = None
    limit_hit: bool = False
    n_globals: int = 0


@dataclass
class PickleReport:
    """Everything the analysis found in one buffer region (possibly many streams)."""

    events: list[Event] = field(default_factory=list)
    streams: int = 0
    opcodes: int = 0
    legacy_torch: bool = False
    joblib: bool = False
    end: int = 0
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    def add_global(self, module: str, name: str, opcode: str, offset: int, stream: int) -> None:
        """Record an import once per (module, name, stream), at its first offset."""
        key = (module, name, stream)
        if key in self.seen:
            return
        self.seen.add(key)
        if module == "joblib.numpy_pickle" and name == "NumpyArrayWrapper":
            self.joblib = True
        self.events.append(GlobalEvent(module, name, opcode, offset, stream))


class _ParseError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _LimitError(Exception):
    pass


# opcode byte values
_OP_NAMES: dict[int, str] = {}
try:
    import pickletools as _pt

    for _info in _pt.opcodes:
        _OP_NAMES[ord(_info.code)] = _info.name
except Exception:  # pragma: no cover
    pass


def _opname(op: int) -> str:
    return _OP_NAMES.get(op, f"0x{op:02x}")


def _readline(buf: Buffer, pos: int, end: int) -> tuple[bytes, int]:
    nl = buf.find(b"\n", pos, end)
    if nl < 0:
        raise _ParseError("no newline found when trying to read a line argument")
    return bytes(buf[pos:nl]), nl + 1


def _need(pos: int, n: int, end: int) -> None:
    if n < 0 or pos + n > end:
        raise _ParseError(f"expected {n} bytes of data but only {max(end - pos, 0)} remain")


#: Opcodes with a length-prefixed argument: the prefix's format (None = one unsigned byte).
_LENGTH_PREFIX: dict[int, struct.Struct | None] = {
    0x8C: None,  # SHORT_BINUNICODE
    0x58: _U4,  # BINUNICODE
    0x8D: _U8,  # BINUNICODE8
    0x43: None,  # SHORT_BINBYTES
    0x42: _U4,  # BINBYTES
    0x8E: _U8,  # BINBYTES8
    0x96: _U8,  # BYTEARRAY8
    0x8A: None,  # LONG1
    0x8B: _I4,  # LONG4
    0x55: None,  # SHORT_BINSTRING
    0x54: _I4,  # BINSTRING
}


def _read_length(buf: Buffer, pos: int, end: int, op: int) -> tuple[int, int]:
    """Read an opcode's length prefix; return the length and the position of the data.

    Raises:
        _ParseError: the prefix or the data it announces runs past the end, or is negative.
    """
    fmt = _LENGTH_PREFIX[op]
    if fmt is None:
        _need(pos, 1, end)
        ln, pos = buf[pos], pos + 1
    else:
        _need(pos, fmt.size, end)
        ln, pos = fmt.unpack_from(buf, pos)[0], pos + fmt.size
        if ln < 0:
            raise _ParseError(f"{_opname(op)} with a negative length")
    _need(pos, ln, end)
    return ln, pos


def _short_str(buf: Buffer, pos: int, n: int, encoding: str) -> Any:
    if n > _MAX_STR:
        return LONGSTR
    raw = bytes(buf[pos : pos + n])
    try:
        return (
            raw.decode(encoding, "surrogatepass") if encoding == "utf-8" else raw.decode(encoding)
        )
    except UnicodeDecodeError as exc:
        raise _ParseError(f"invalid {encoding} string: {exc}") from None


def _int_line(raw: bytes) -> Any:
    text = raw.strip().rstrip(b"L")
    if len(text) > _MAX_INT_DIGITS:
        return OPAQUE
    try:
        return int(text)
    except ValueError:
        raise _ParseError(f"invalid integer literal {raw[:40]!r}") from None


def _pop_mark(stack: list[Any], metastack: list[list[Any]]) -> tuple[list[Any], list[Any]]:
    if not metastack:
        raise _ParseError("MARK not found on the stack")
    items = stack
    return items, metastack.pop()


def _describe(value: Any) -> str:
    if isinstance(value, GlobalRef):
        return value.full
    if isinstance(value, Called):
        return f"result of calling {_describe(value.func)}"
    if isinstance(value, str):
        return repr(value[:60])
    if isinstance(value, _Sentinel):
        return value.name
    return type(value).__name__


def walk_stream(
    buf: Buffer,
    pos: int,
    end: int,
    report: PickleReport,
    *,
    stream: int,
    max_opcodes: int,
    depth: int = 0,
) -> StreamResult:
    """Walk one pickle stream starting at ``pos``; record events in ``report``.

    Never raises on bad content: decode errors end the walk and are returned in the result.
    """
    start = pos
    stack: list[Any] = []
    metastack: list[list[Any]] = []
    memo: dict[int, Any] = {}
    n = 0
    op_start = pos
    op = -1
    n_globals = 0
    result = StreamResult(start=start, end=pos, stopped=False)
    try:
        while True:
            if pos >= end:
                raise _ParseError("stream ended without a STOP opcode (truncated pickle)")
            op_start = pos
            op = buf[pos]
            pos += 1
            n += 1
            if n > max_opcodes:
                raise _LimitError()
            # --- most frequent opcodes first
            if op == 0x71:  # BINPUT
                _need(pos, 1, end)
                if not stack:
                    raise _ParseError("PUT on an empty stack")
                memo[buf[pos]] = stack[-1]
                pos += 1
            elif op == 0x94:  # MEMOIZE
                if not stack:
                    raise _ParseError("MEMOIZE on an empty stack")
                memo[len(memo)] = stack[-1]
            elif op == 0x68:  # BINGET
                _need(pos, 1, end)
                idx = buf[pos]
                pos += 1
                if idx not in memo:
                    raise _ParseError(f"memo key {idx} missing (GET before PUT)")
                stack.append(memo[idx])
            elif op == 0x6A:  # LONG_BINGET
                _need(pos, 4, end)
                idx = _U4.unpack_from(buf, pos)[0]
                pos += 4
                if idx not in memo:
                    raise _ParseError(f"memo key {idx} missing (GET before PUT)")
                stack.append(memo[idx])
            elif op == 0x72:  # LONG_BINPUT
                _need(pos, 4, end)
                if not stack:
                    raise _ParseError("PUT on an empty stack")
                memo[_U4.unpack_from(buf, pos)[0]] = stack[-1]
                pos += 4
            elif op == 0x4B:  # BININT1
                _need(pos, 1, end)
                stack.append(buf[pos])
                pos += 1
            elif op == 0x4D:  # BININT2
                _need(pos, 2, end)
                stack.append(_U2.unpack_from(buf, pos)[0])
                pos += 2
            elif op == 0x4A:  # BININT
                _need(pos, 4, end)
                stack.append(_I4.unpack_from(buf, pos)[0])
                pos += 4
            elif op == 0x28:  # MARK
                metastack.append(stack)
                stack = []
            elif op == 0x65:  # APPENDS
                _items, stack = _pop_mark(stack, metastack)
                if not stack:
                    raise _ParseError("APPENDS without a list on the stack")
            elif op == 0x61:  # APPEND
                if len(stack) < 2:
                    raise _ParseError("APPEND on a stack with fewer than 2 items")
                stack.pop()
            elif op == 0x75:  # SETITEMS
                items, stack = _pop_mark(stack, metastack)
                if not stack:
                    raise _ParseError("SETITEMS without a dict on the stack")
                target = stack[-1]
                if isinstance(target, DictVal):
                    for i in range(0, len(items) - 1, 2):
                        if len(target) >= _MAX_DICT:
                            break
                        key = items[i]
                        if isinstance(key, (str, int)):
                            target[key] = items[i + 1]
            elif op == 0x73:  # SETITEM
                if len(stack) < 3:
                    raise _ParseError("SETITEM on a stack with fewer than 3 items")
                value = stack.pop()
                key = stack.pop()
                target = stack[-1]
                if (
                    isinstance(target, DictVal)
                    and len(target) < _MAX_DICT
                    and isinstance(key, (str, int))
                ):
                    target[key] = value
            elif op in (0x8C, 0x58, 0x8D):  # SHORT_BINUNICODE / BINUNICODE / BINUNICODE8
                ln, pos = _read_length(buf, pos, end, op)
                stack.append(_short_str(buf, pos, ln, "utf-8"))
                pos += ln
            elif op == 0x95:  # FRAME
                _need(pos, 8, end)
                pos += 8
            elif op in (0x85, 0x86, 0x87):  # TUPLE1/2/3
                k = op - 0x84
                if len(stack) < k:
                    raise _ParseError(f"{_opname(op)} on a stack with fewer than {k} items")
                items = stack[-k:]
                del stack[-k:]
                stack.append(tuple(items))
            elif op == 0x74:  # TUPLE
                items, stack = _pop_mark(stack, metastack)
                stack.append(tuple(items) if len(items) <= _MAX_TUPLE else OPAQUE)
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op == 0x5D:  # EMPTY_LIST
                stack.append(LIST)
            elif op == 0x7D:  # EMPTY_DICT
                stack.append(DictVal())
            elif op == 0x4E:  # NONE
                stack.append(None)
            elif op == 0x88:  # NEWTRUE
                stack.append(True)
            elif op == 0x89:  # NEWFALSE
                stack.append(False)
            elif op == 0x47:  # BINFLOAT
                _need(pos, 8, end)
                stack.append(_F8.unpack_from(buf, pos)[0])
                pos += 8
            elif op in (0x43, 0x42, 0x8E, 0x96):  # SHORT_BINBYTES/BINBYTES/BINBYTES8/BYTEARRAY8
                ln, pos = _read_length(buf, pos, end, op)
                pos += ln
                stack.append(BYTES)
            elif op == 0x52:  # REDUCE
                if len(stack) < 2:
                    raise _ParseError("REDUCE on a stack with fewer than 2 items")
                args = stack.pop()
                func = stack[-1]
                stack[-1] = _call(func, args, "REDUCE", op_start, stream, report)
            elif op == 0x62:  # BUILD
                if len(stack) < 2:
                    raise _ParseError("BUILD on a stack with fewer than 2 items")
                state = stack.pop()
                inst = stack[-1]
                if isinstance(inst, GlobalRef):
                    report.events.append(GlobalMutationEvent(inst.full, "BUILD", op_start, stream))
                elif isinstance(inst, DTypeVal):
                    if isinstance(state, tuple) and len(state) >= 6:
                        if isinstance(state[5], int) and not isinstance(state[5], bool):
                            inst.elsize = state[5]
                        if isinstance(state[4], dict):
                            inst.fields = state[4]
                elif isinstance(inst, WrapperVal):
                    inst.state = state
                    pos = _skip_joblib_array(
                        buf, pos, end, inst, report, stream, max_opcodes, depth, op_start
                    )
                    stack[-1] = OPAQUE
            elif op == 0x93:  # STACK_GLOBAL
                if len(stack) < 2:
                    raise _ParseError("STACK_GLOBAL on a stack with fewer than 2 items")
                name = stack.pop()
                module = stack.pop()
                if isinstance(module, str) and isinstance(name, str):
                    report.add_global(module, name, "STACK_GLOBAL", op_start, stream)
                    n_globals += 1
                    stack.append(GlobalRef(module, name))
                else:
                    report.events.append(
                        ComputedGlobalEvent(
                            "STACK_GLOBAL",
                            op_start,
                            stream,
                            f"module={_describe(module)}, name={_describe(name)}",
                        )
                    )
                    n_globals += 1
                    stack.append(OPAQUE)
            elif op == 0x63 or op == 0x69:  # GLOBAL / INST
                raw_mod, pos = _readline(buf, pos, end)
                raw_name, pos = _readline(buf, pos, end)
                try:
                    module = raw_mod.decode("utf-8")
                    name = raw_name.decode("utf-8")
                except UnicodeDecodeError:
                    raise _ParseError("GLOBAL operands are not valid UTF-8") from None
                opname = "GLOBAL" if op == 0x63 else "INST"
                report.add_global(module, name, opname, op_start, stream)
                n_globals += 1
                ref = GlobalRef(module, name)
                if op == 0x63:
                    stack.append(ref)
                else:
                    _items, stack = _pop_mark(stack, metastack)
                    stack.append(Called(ref))
            elif op == 0x6F:  # OBJ
                items, stack = _pop_mark(stack, metastack)
                if not items:
                    raise _ParseError("OBJ without a class on the stack")
                stack.append(_call(items[0], tuple(items[1:]), "OBJ", op_start, stream, report))
            elif op == 0x81:  # NEWOBJ
                if len(stack) < 2:
                    raise _ParseError("NEWOBJ on a stack with fewer than 2 items")
                args = stack.pop()
                cls = stack.pop()
                stack.append(_call(cls, args, "NEWOBJ", op_start, stream, report))
            elif op == 0x92:  # NEWOBJ_EX
                if len(stack) < 3:
                    raise _ParseError("NEWOBJ_EX on a stack with fewer than 3 items")
                stack.pop()
                args = stack.pop()
                cls = stack.pop()
                stack.append(_call(cls, args, "NEWOBJ_EX", op_start, stream, report))
            elif op == 0x2E:  # STOP
                if not stack:
                    raise _ParseError("STOP on an empty stack")
                result.stop_value = stack.pop()
                result.stopped = True
                break
            elif op == 0x80:  # PROTO
                _need(pos, 1, end)
                proto = buf[pos]
                pos += 1
                if proto > 5:
                    raise _ParseError(f"unsupported pickle protocol {proto}")
            elif op == 0x30:  # POP
                if stack:
                    stack.pop()
                else:
                    _items, stack = _pop_mark(stack, metastack)
            elif op == 0x31:  # POP_MARK
                _items, stack = _pop_mark(stack, metastack)
            elif op == 0x32:  # DUP
                if not stack:
                    raise _ParseError("DUP on an empty stack")
                stack.append(stack[-1])
            elif op == 0x6C:  # LIST
                _items, stack = _pop_mark(stack, metastack)
                stack.append(LIST)
            elif op == 0x64:  # DICT
                items, stack = _pop_mark(stack, metastack)
                d = DictVal()
                for i in range(0, min(len(items) - 1, 2 * _MAX_DICT), 2):
                    if isinstance(items[i], (str, int)):
                        d[items[i]] = items[i + 1]
                stack.append(d)
            elif op == 0x8F:  # EMPTY_SET
                stack.append(SET)
            elif op == 0x90:  # ADDITEMS
                _items, stack = _pop_mark(stack, metastack)
                if not stack:
                    raise _ParseError("ADDITEMS without a set on the stack")
            elif op == 0x91:  # FROZENSET
                _items, stack = _pop_mark(stack, metastack)
                stack.append(SET)
            elif op == 0x8A or op == 0x8B:  # LONG1 / LONG4
                ln, pos = _read_length(buf, pos, end, op)
                if ln <= 64:
                    stack.append(int.from_bytes(bytes(buf[pos : pos + ln]), "little", signed=True))
                else:
                    stack.append(OPAQUE)
                pos += ln
            elif op == 0x49:  # INT
                raw, pos = _readline(buf, pos, end)
                if raw == b"00":
                    stack.append(False)
                elif raw == b"01":
                    stack.append(True)
                else:
                    stack.append(_int_line(raw))
            elif op == 0x4C:  # LONG
                raw, pos = _readline(buf, pos, end)
                stack.append(_int_line(raw))
            elif op == 0x46:  # FLOAT
                raw, pos = _readline(buf, pos, end)
                try:
                    stack.append(float(raw))
                except ValueError:
                    raise _ParseError(f"invalid float literal {raw[:40]!r}") from None
            elif op == 0x53:  # STRING
                raw, pos = _readline(buf, pos, end)
                raw = raw.rstrip()
                if len(raw) < 2 or raw[0] != raw[-1] or raw[:1] not in (b"'", b'"'):
                    raise _ParseError("the STRING opcode argument must be quoted")
                if len(raw) > _MAX_STR:
                    stack.append(LONGSTR)
                else:
                    try:
                        stack.append(codecs.escape_decode(raw[1:-1])[0].decode("latin-1"))
                    except Exception:
                        raise _ParseError("invalid escape in STRING argument") from None
            elif op == 0x54 or op == 0x55:  # BINSTRING / SHORT_BINSTRING
                ln, pos = _read_length(buf, pos, end, op)
                stack.append(_short_str(buf, pos, ln, "latin-1"))
                pos += ln
            elif op == 0x56:  # UNICODE
                raw, pos = _readline(buf, pos, end)
                if len(raw) > _MAX_STR:
                    stack.append(LONGSTR)
                else:
                    try:
                        stack.append(raw.decode("raw-unicode-escape"))
                    except UnicodeDecodeError:
                        raise _ParseError("invalid UNICODE argument") from None
            elif op == 0x67 or op == 0x70:  # GET / PUT
                raw, pos = _readline(buf, pos, end)
                idx = _int_line(raw)
                if op == 0x67:
                    if idx not in memo:
                        raise _ParseError(f"memo key {idx} missing (GET before PUT)")
                    stack.append(memo[idx])
                else:
                    if not stack:
                        raise _ParseError("PUT on an empty stack")
                    memo[idx] = stack[-1]
            elif op == 0x50:  # PERSID
                _raw, pos = _readline(buf, pos, end)
                stack.append(PERSISTENT)
            elif op == 0x51:  # BINPERSID
                if not stack:
                    raise _ParseError("BINPERSID on an empty stack")
                stack[-1] = PERSISTENT
            elif op in (0x82, 0x83, 0x84):  # EXT1 / EXT2 / EXT4
                width = {0x82: 1, 0x83: 2, 0x84: 4}[op]
                _need(pos, width, end)
                code = int.from_bytes(bytes(buf[pos : pos + width]), "little", signed=op == 0x84)
                pos += width
                report.events.append(ExtensionEvent(code, _opname(op), op_start, stream))
                stack.append(OPAQUE)
            elif op == 0x97:  # NEXT_BUFFER
                stack.append(BYTES)
            elif op == 0x98:  # READONLY_BUFFER
                if not stack:
                    raise _ParseError("READONLY_BUFFER on an empty stack")
            else:
                raise _ParseError(f"invalid opcode byte 0x{op:02x}")
    except _LimitError:
        result.limit_hit = True
        result.error = f"more than {max_opcodes} opcodes in one stream"
        result.error_offset = op_start
        result.error_opcode = _opname(op)
    except _ParseError as exc:
        result.error = exc.message
        result.error_offset = op_start
        result.error_opcode = _opname(op) if op >= 0 else None
    except (IndexError, struct.error, TypeError, ValueError, OverflowError, MemoryError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        result.error_offset = op_start
        result.error_opcode = _opname(op) if op >= 0 else None
    result.end = pos
    result.opcodes = n
    result.n_globals = n_globals
    report.opcodes += n
    return result


def _call(func: Any, args: Any, opname: str, offset: int, stream: int, report: PickleReport) -> Any:
    """Symbolic result of calling ``func(*args)``; records calls on computed objects."""
    if isinstance(func, GlobalRef):
        if func.name == "dtype" and func.module in ("numpy", "numpy.core.multiarray"):
            descr = args[0] if isinstance(args, tuple) and args else None
            return DTypeVal(descr)
        if func.module == "joblib.numpy_pickle" and func.name == "NumpyArrayWrapper":
            return WrapperVal()
        if (
            func.module in ("copyreg", "copy_reg")
            and func.name == "_reconstructor"
            and isinstance(args, tuple)
            and args
            and isinstance(args[0], GlobalRef)
            and args[0].full == "joblib.numpy_pickle.NumpyArrayWrapper"
        ):
            return WrapperVal()
        return Called(func)
    report.events.append(ComputedCallEvent(opname, offset, stream, _describe(func)))
    return Called(func)


def _skip_joblib_array(
    buf: Buffer,
    pos: int,
    end: int,
    wrapper: WrapperVal,
    report: PickleReport,
    stream: int,
    max_opcodes: int,
    depth: int,
    op_start: int,
) -> int:
    """Skip (or analyse) the array data joblib writes right after a wrapper's BUILD."""
    state = wrapper.state
    if not isinstance(state, dict):
        raise _ParseError("joblib NumpyArrayWrapper state is not a dict; array size unknown")
    dtype = state.get("dtype")
    shape = state.get("shape")
    if not isinstance(dtype, DTypeVal):
        raise _ParseError("joblib NumpyArrayWrapper dtype could not be resolved")
    if dtype.hasobject:
        if depth >= 4:
            raise _ParseError("joblib object arrays nested too deeply")
        nested_index = stream  # the nested stream is read as part of this one
        nested = walk_stream(
            buf, pos, end, report, stream=nested_index, max_opcodes=max_opcodes, depth=depth + 1
        )
        if nested.error:
            report.events.append(
                ErrorEvent(
                    "limit" if nested.limit_hit else "parse",
                    f"nested object-array pickle at offset {pos}: {nested.error}",
                    nested.error_offset or pos,
                    nested_index,
                    nested.error_opcode,
                )
            )
            raise _ParseError("nested object-array pickle could not be parsed")
        return nested.end
    if not isinstance(shape, tuple) or not all(
        isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in shape
    ):
        raise _ParseError("joblib NumpyArrayWrapper shape could not be resolved")
    itemsize = dtype.itemsize()
    if itemsize is None:
        raise _ParseError(f"joblib array dtype {dtype.descr!r} has an unknown item size")
    count = math.prod(shape) if shape else 1
    if state.get("numpy_array_alignment_bytes") is not None:
        _need(pos, 1, end)
        pad = buf[pos]
        pos += 1 + pad
    size = count * itemsize
    _need(pos, size, end)
    return pos + size


def analyse_region(
    buf: Buffer,
    start: int,
    end: int,
    *,
    max_opcodes: int,
    max_streams: int = 100_000,
) -> PickleReport:
    """Analyse every concatenated pickle stream in ``buf[start:end]``.

    Legacy ``torch.save`` files are recognised by their magic-number first stream; after
    their five pickles the rest is raw storage data and is not parsed.
    """
    report = PickleReport()
    pos = start
    index = 0
    legacy_streams = 0
    while pos < end and index < max_streams:
        res = walk_stream(buf, pos, end, report, stream=index, max_opcodes=max_opcodes)
        report.streams = max(report.streams, index + 1)
        if res.error:
            if res.limit_hit:
                kind = "limit"
            elif index > 0 and res.n_globals == 0 and not res.stopped:
                kind = "trailing"
            else:
                kind = "parse"
            report.events.append(
                ErrorEvent(kind, res.error, res.error_offset or pos, index, res.error_opcode)
            )
            if kind == "trailing":
                _resync(buf, pos, end, report, index + 1, max_opcodes)
            report.end = res.end
            return report
        if index == 0 and res.stop_value == TORCH_LEGACY_MAGIC:
            report.legacy_torch = True
        pos = res.end
        index += 1
        if report.legacy_torch:
            legacy_streams += 1
            if legacy_streams >= 5:
                break
    report.end = pos
    return report


def _resync(
    buf: Buffer, pos: int, end: int, report: PickleReport, first_index: int, max_opcodes: int
) -> None:
    """Look for pickles hidden in trailing bytes (PROTO 2-5 markers); keep only their imports.

    Only events from candidates that decode to a complete stream with imports are kept, so
    random trailing bytes do not produce findings.
    """
    budget = 2_000_000
    tries = 0
    cursor = pos + 1
    index = first_index
    while budget > 0 and tries < 2_000:
        hit = buf.find(b"\x80", cursor, end)
        if hit < 0 or hit + 1 >= end:
            return
        cursor = hit + 1
        if not 2 <= buf[hit + 1] <= 5:
            continue
        tries += 1
        probe = PickleReport()
        res = walk_stream(buf, hit, end, probe, stream=index, max_opcodes=min(budget, max_opcodes))
        budget -= res.opcodes
        if res.stopped and res.n_globals:
            for event in probe.events:
                if isinstance(event, (GlobalEvent, ComputedGlobalEvent, ExtensionEvent)):
                    report.events.append(event)
            index += 1
            cursor = res.end


def sniff_pickle(buf: Buffer, start: int, end: int, max_opcodes: int = 200_000) -> bool:
    """Heuristic: does ``buf[start:end]`` look like a pickle that does not start with PROTO?

    True when the first stream decodes to STOP, or when it imports a well-formed global
    before failing (payload first, garbage after).
    """
    from .allowlist import is_identifier_path

    if end - start < 2:
        return False
    probe = PickleReport()
    res = walk_stream(buf, start, end, probe, stream=0, max_opcodes=max_opcodes)
    if res.stopped and res.opcodes >= 2:
        return True
    for event in probe.events:
        if isinstance(event, GlobalEvent):
            if is_identifier_path(event.module) and is_identifier_path(event.name):
                return True
        elif isinstance(event, ComputedGlobalEvent):
            return True
    return False
