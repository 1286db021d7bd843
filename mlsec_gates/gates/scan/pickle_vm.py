"""The symbolic pickle machine: walks opcodes with a stack, metastack and memo, never unpickling.

One handler method per opcode, found through a 256-entry dispatch table. The decoding rules
are CPython's (``pickle._Unpickler`` / ``pickletools``): a stream that CPython would reject
stops the walk at the same opcode, so what precedes a parse error (payload first, garbage
after) is still analysed. Values are symbolic (:mod:`.pickle_ops`); calls, BUILDs, POPs and
STACK_GLOBALs are judged as they happen and recorded as events (:mod:`.pickle_events`):

* imports (GLOBAL, STACK_GLOBAL resolved through the memo, INST), computed names, EXT codes;
* call sites (REDUCE, OBJ, INST, NEWOBJ, NEWOBJ_EX) with the call rendered from its literal
  arguments, argument shapes of allowlisted callables, calls on computed objects;
* Sleepy-Pickle signals: method/special-attribute overrides by BUILD or setattr,
  ``types.MethodType``, mutation of imported globals or module dicts (ShadowPickle, with the
  later reach of the mutated name), call results dropped by POP / POP_MARK;
* code objects (``types.CodeType``, dill / cloudpickle builders, ``marshal.loads``) and
  nested payloads flowing into loader calls (rebuilt by :mod:`.pickle_nested`);
* FRAME divergence: an opcode that crosses the end of its frame, or a frame that overruns.

joblib's inline arrays are skipped (or, for object arrays, walked as nested streams) after the
``NumpyArrayWrapper`` BUILD, so the opcodes that follow are still checked. Large operands stay
in the buffer: the walker works on ``mmap`` / ``bytes`` without copying the file.
"""

from __future__ import annotations

import dataclasses
import math
import struct
import sys
from collections.abc import Callable
from typing import Any

from .allowlist import builtin_allowed, normalise
from .allowlist_data import (
    ARGUMENT_SHAPES,
    BYTES_DECODERS,
    CODE_BUILDER_NAMES,
    CODE_BUILDERS,
    CONDITIONAL_GLOBALS,
    HOOKED_METHODS,
    METHOD_BINDERS,
    NESTED_LOADERS,
    SETATTR_CALLABLES,
    SPECIAL_ATTRIBUTES,
)
from .pickle_events import (
    CallEvent,
    CodeObjectEvent,
    ComputedCallEvent,
    ComputedGlobalEvent,
    DiscardedCallEvent,
    ErrorEvent,
    ExtensionEvent,
    FrameEvent,
    GlobalMutationEvent,
    HookEvent,
    NestedLoadEvent,
    PickleReport,
    ShapeEvent,
    StreamResult,
)
from .pickle_nested import Unresolvable, rebuild
from .pickle_ops import (
    BUFFER,
    F8,
    I4,
    LIST,
    MAX_DICT,
    MAX_STR,
    MAX_TUPLE,
    OPAQUE,
    PERSISTENT,
    SET,
    U2,
    U4,
    U8,
    BytesRef,
    Called,
    DictVal,
    DTypeVal,
    GlobalRef,
    LimitError,
    ParseError,
    StrRef,
    WrapperVal,
    decode_text,
    describe,
    int_line,
    need,
    opname,
    read_length,
    readline,
    render,
    text_value,
)
from .pickle_shapes import INVALID, conditional_call, partial_state_ok, shape_mismatch
from .torch_fx import graph_module_ok

_NO_FRAME = sys.maxsize
_I4_FROM = I4.unpack_from
_U4_FROM = U4.unpack_from
_HOOK_KEYS = HOOKED_METHODS | SPECIAL_ATTRIBUTES
_MAX_CALL_EVENTS = 1000  # per region: one per (callable, stream) names the payload
_MAX_DEPTH = 4  # joblib object arrays nested inside each other
_LOADER_NAMES = frozenset({"loads", "load"})


class _Stop(Exception):
    """STOP reached: the stream is complete."""


def _is_literal(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str, bytes, BytesRef, StrRef))


def _is_decoded(value: Any) -> bool:
    """A call of a known bytes decoder (base64, hex, zlib...)."""
    return (
        isinstance(value, Called)
        and isinstance(value.func, GlobalRef)
        and value.func.full in BYTES_DECODERS
    )


def _is_code_builder(ref: GlobalRef) -> bool:
    if ref.full in CODE_BUILDERS:
        return True
    root = ref.full.partition(".")[0]
    return root in ("dill", "cloudpickle", "types") and ref.name.rpartition(".")[2] in (
        CODE_BUILDER_NAMES
    )


class Walker:
    """Walks the pickle streams of one buffer region, recording events in ``report``."""

    def __init__(
        self, buf: Any, end: int, report: PickleReport, *, max_opcodes: int, depth: int = 0
    ) -> None:
        self.buf = buf
        self.end = end
        self.report = report
        self.max_opcodes = max_opcodes
        self.depth = depth
        self.refs: dict[tuple[str, str], GlobalRef] = {}
        self.called: set[tuple[str, int]] = set()
        self.mutated: dict[str, int] = {}  # mutated global -> index of its event
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[Any, Any] = {}
        self.stream = 0
        self.n = 0
        self.n_globals = 0
        self.frame_end = _NO_FRAME
        self.stop_value: Any = None
        self.has_cond = False  # a conditional global was imported: count every GET of it
        self.table: list[Callable[[int], int]] = [self._invalid] * 256
        for code, handler in self._handlers().items():
            self.table[code] = handler

    # ------------------------------------------------------------------ driver
    def walk(self, pos: int, stream: int) -> StreamResult:
        """Walk one stream from ``pos``. Never raises on bad content."""
        self.stack, self.metastack, self.memo = [], [], {}
        self.stream, self.n_globals, self.frame_end = stream, 0, _NO_FRAME
        result = StreamResult(start=pos, end=pos, stopped=False)
        buf, end, table, limit = self.buf, self.end, self.table, self.max_opcodes
        stack, memo, frame_end = self.stack, self.memo, self.frame_end
        fast_get = not self.has_cond
        n = 0
        op = -1
        start = pos
        try:
            while True:
                if pos >= end:
                    raise ParseError("stream ended without a STOP opcode (truncated pickle)")
                start = pos
                op = buf[pos]
                n += 1
                if n > limit:
                    raise LimitError()
                # Fast path for the opcodes that dominate big pickles (memo traffic and ints);
                # they record no events. Everything else goes through the dispatch table.
                if op == 0x71 and pos + 2 <= end and stack:  # BINPUT
                    memo[buf[pos + 1]] = stack[-1]
                    pos += 2
                elif op == 0x94 and stack:  # MEMOIZE
                    memo[len(memo)] = stack[-1]
                    pos += 1
                elif op == 0x68 and fast_get and pos + 2 <= end and buf[pos + 1] in memo:
                    stack.append(memo[buf[pos + 1]])  # BINGET
                    pos += 2
                elif op == 0x6A and fast_get and pos + 5 <= end:  # LONG_BINGET
                    stack.append(memo[_U4_FROM(buf, pos + 1)[0]])
                    pos += 5
                elif op == 0x4A and pos + 5 <= end:  # BININT
                    stack.append(_I4_FROM(buf, pos + 1)[0])
                    pos += 5
                elif op == 0x4B and pos + 2 <= end:  # BININT1
                    stack.append(buf[pos + 1])
                    pos += 2
                else:
                    self.n = n
                    pos = table[op](pos)
                    stack, frame_end = self.stack, self.frame_end
                    fast_get = not self.has_cond
                if pos >= frame_end:
                    self._leave_frame(start, pos, op)
                    frame_end = self.frame_end
        except _Stop:
            pos = start + 1
            if pos > self.frame_end:
                self._leave_frame(start, pos, op)
            result.stopped = True
            result.stop_value = self.stop_value
        except LimitError:
            result.limit_hit = True
            result.error = f"more than {limit} opcodes in one stream"
        except ParseError as exc:
            result.error = exc.message
        except KeyError as exc:  # LONG_BINGET fast path
            result.error = f"memo key {exc.args[0]!r} missing (GET before PUT)"
        except (
            IndexError,
            struct.error,
            TypeError,
            ValueError,
            OverflowError,
            MemoryError,
        ) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
        if result.error is not None:
            result.error_offset = start
            result.error_opcode = opname(op) if op >= 0 else None
        result.end = pos
        result.opcodes = n
        result.n_globals = self.n_globals
        self.report.opcodes += n
        self.stack, self.metastack, self.memo = [], [], {}
        return result

    def _leave_frame(self, start: int, pos: int, op: int) -> None:
        """The opcode at ``start`` ended at or after the current frame's end."""
        if start < self.frame_end < pos:
            self._event(
                FrameEvent,
                f"{opname(op)} at offset {start} runs {pos - self.frame_end} bytes past the "
                f"end of its FRAME (offset {self.frame_end})",
                opname(op),
                start,
            )
        self.frame_end = _NO_FRAME

    def _event(self, cls: type, *fields: Any) -> None:
        """Append ``cls(*fields, stream, opcode index)``; ``fields`` end with opcode, offset."""
        self.report.events.append(cls(*fields, self.stream, self.n))

    # ------------------------------------------------------------------ stack helpers
    def _pop_mark(self) -> list[Any]:
        if not self.metastack:
            raise ParseError("MARK not found on the stack")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _pop(self, k: int, opcode: int) -> list[Any]:
        stack = self.stack
        if len(stack) < k:
            raise ParseError(f"{opname(opcode)} on a stack with fewer than {k} items")
        items = stack[-k:]
        del stack[-k:]
        return items

    def _ref(self, module: str, name: str) -> GlobalRef:
        key = (module, name)
        ref = self.refs.get(key)
        if ref is None:
            nmod, nname = normalise(module, name)
            full = f"{nmod}.{nname}"
            if full in CONDITIONAL_GLOBALS:
                ref = GlobalRef(module, name, full, False, True)
            else:
                ref = GlobalRef(module, name, full, builtin_allowed(module, name))
            self.refs[key] = ref
        return ref

    def _pushed(self, value: Any) -> None:
        """Count one more stack occurrence of a conditional global."""
        if isinstance(value, GlobalRef) and value.conditional:
            key = (value.module, value.name, self.stream)
            self.report.uses[key] = self.report.uses.get(key, 0) + 1

    def _import(self, module: str, name: str, opcode: str, offset: int) -> GlobalRef:
        ref = self._ref(module, name)
        self.report.add_global(module, name, opcode, offset, self.stream, self.n)
        self.n_globals += 1
        if ref.conditional:
            self.has_cond = True
            self._pushed(ref)
        if self.mutated:
            self._note_reach(ref, offset)
        return ref

    def _note_reach(self, ref: GlobalRef, offset: int) -> None:
        """A global (or a name inside a module) mutated earlier is reached again."""
        for target, idx in list(self.mutated.items()):
            if ref.raw == target or ref.raw.startswith(target + ".") or ref.full == target:
                events = self.report.events
                events[idx] = dataclasses.replace(events[idx], reached_later=offset)
                del self.mutated[target]

    def _mutation(self, target: GlobalRef, attributes: tuple[str, ...], how: str, pos: int) -> None:
        self.report.events.append(
            GlobalMutationEvent(target.raw, how, pos, self.stream, self.n, attributes)
        )
        self.mutated[target.raw] = len(self.report.events) - 1

    # ------------------------------------------------------------------ calls
    def _call(self, func: Any, args: Any, opcode: str, pos: int) -> Any:
        """Symbolic result of ``func(*args)``; records what the call reveals."""
        if not isinstance(func, GlobalRef):
            self.report.events.append(
                ComputedCallEvent(opcode, pos, self.stream, describe(func), self.n)
            )
            return Called(func, args, pos)
        full = func.full
        if func.conditional:
            if full == "torch.fx.graph_module.reduce_graph_module":
                value = self._graph_module(func, args, opcode)
            else:
                value = conditional_call(func, args, opcode, self._ref)
            if value is not INVALID:
                key = (func.module, func.name, self.stream)
                self.report.fitting[key] = self.report.fitting.get(key, 0) + 1
                if isinstance(value, GlobalRef) and value.conditional:
                    # a construct that evaluates to another conditional global: judged as
                    # an import of it, every use of which must fit in turn
                    self.report.add_global(value.module, value.name, opcode, pos, self.stream)
                    self.has_cond = True
                    self._pushed(value)
                return value
        if func.trusted:
            if full in ARGUMENT_SHAPES:
                expected = shape_mismatch(full, args)
                if expected is not None:
                    payload = render(Called(func, args))
                    self._event(ShapeEvent, func.raw, expected, payload, opcode, pos)
            if full == "numpy.dtype":
                return DTypeVal(args[0] if isinstance(args, tuple) and args else None)
            if full == "joblib.numpy_pickle.NumpyArrayWrapper":
                return WrapperVal()
            if (
                full == "copyreg._reconstructor"
                and isinstance(args, tuple)
                and args
                and isinstance(args[0], GlobalRef)
                and args[0].full == "joblib.numpy_pickle.NumpyArrayWrapper"
            ):
                return WrapperVal()
            return Called(func, args, pos)
        result = Called(func, args, pos)
        self._untrusted_call(func, args, result, opcode, pos)
        return result

    def _graph_module(self, func: GlobalRef, args: Any, opcode: str) -> Any:
        """``reduce_graph_module(body, import_block)`` whose code is fx's own dialect."""
        if opcode != "REDUCE" or not isinstance(args, tuple) or len(args) != 2:
            return INVALID
        if not graph_module_ok(args[0], args[1], self._text):
            return INVALID
        tracer = args[0].get("_tracer_cls")
        if isinstance(tracer, GlobalRef) and tracer.conditional:
            key = (tracer.module, tracer.name, self.stream)
            self.report.fitting[key] = self.report.fitting.get(key, 0) + 1
        return Called(func, args)

    def _text(self, value: Any) -> str | None:
        """The string a symbolic value stands for (long ones read from the buffer)."""
        if isinstance(value, str):
            return value
        if isinstance(value, StrRef) and value.length <= 16 << 20:
            try:
                raw = bytes(self.buf[value.start : value.start + value.length])
                return decode_text(raw, value.encoding)
            except Exception:
                return None
        return None

    def _untrusted_call(self, func: GlobalRef, args: Any, result: Called, opcode: str, pos: int):
        full = func.full
        key = (func.raw, self.stream)
        if key not in self.called and len(self.called) < _MAX_CALL_EVENTS:
            self.called.add(key)
            self._event(CallEvent, func.module, func.name, render(result), opcode, pos)
        targs = args if isinstance(args, tuple) else ()
        if full in SETATTR_CALLABLES and len(targs) >= 2 and isinstance(targs[1], str):
            if isinstance(targs[0], GlobalRef):
                self._mutation(targs[0], (targs[1],), opcode, pos)
            else:
                self._event(HookEvent, "setattr", (targs[1],), render(result), opcode, pos)
        elif full in METHOD_BINDERS:
            self._event(HookEvent, "method-type", (), render(result), opcode, pos)
        if _is_code_builder(func) or NESTED_LOADERS.get(full) == "code":
            self._event(CodeObjectEvent, func.raw, render(result), opcode, pos)
        elif full in NESTED_LOADERS:
            self._nested(func, targs[:1], result, opcode, pos)
        elif func.name.rpartition(".")[2] in _LOADER_NAMES:
            # any other ``*.loads`` / ``*.load`` (e.g. the unbound ``Grammar.loads(g, data)``):
            # a bytes constant or decoded value among its arguments is what it deserialises
            data = [a for a in targs if isinstance(a, BytesRef) or _is_decoded(a)]
            if data:
                self._nested(func, tuple(data[:1]), result, opcode, pos)

    def _nested(self, func: GlobalRef, args: tuple[Any, ...], result: Called, op: str, pos: int):
        """Rebuild the bytes a loader call receives, for the engine to scan."""
        data, problem = None, "the loader gets no argument to check"
        kind = NESTED_LOADERS.get(func.full, "pickle")
        if args and kind == "file" and isinstance(args[0], (str, StrRef)):
            problem = f"it reads the file {render(args[0])}, outside the scanned artefact"
        elif args:
            try:
                data, problem = rebuild(self.buf, args[0]), None
            except Unresolvable as exc:
                problem = str(exc)
        self.report.events.append(
            NestedLoadEvent(func.raw, render(result), op, pos, self.stream, self.n, data, problem)
        )

    def _check_state(self, inst: Any, state: Any, pos: int) -> None:
        """BUILD state that overrides methods or special attributes (Sleepy Pickle)."""
        dicts = [state]
        if isinstance(state, tuple) and len(state) == 2:
            dicts = list(state)
        hooks: list[str] = []
        for d in dicts:
            if not isinstance(d, DictVal):
                continue
            for key in _HOOK_KEYS.intersection(k for k in d if isinstance(k, str)):
                value = d[key]
                if key in SPECIAL_ATTRIBUTES or not (
                    _is_literal(value)
                    or (isinstance(value, Called) and getattr(value.func, "trusted", False))
                ):
                    hooks.append(key)
        if hooks:
            payload = f"BUILD {render(inst)} with state {render(state)}"
            self._event(HookEvent, "build", tuple(sorted(hooks)), payload, "BUILD", pos)

    # ------------------------------------------------------------------ handler table
    def _handlers(self) -> dict[int, Callable[[int], int]]:
        return {
            0x71: self._binput,
            0x94: self._memoize,
            0x68: self._binget,
            0x6A: self._long_binget,
            0x72: self._long_binput,
            0x4B: self._binint1,
            0x4D: self._binint2,
            0x4A: self._binint,
            0x28: self._mark,
            0x65: self._appends,
            0x61: self._append,
            0x75: self._setitems,
            0x73: self._setitem,
            0x8C: self._unicode_len,
            0x58: self._unicode_len,
            0x8D: self._unicode_len,
            0x55: self._binstring,
            0x54: self._binstring,
            0x43: self._bytes_len,
            0x42: self._bytes_len,
            0x8E: self._bytes_len,
            0x96: self._bytes_len,
            0x95: self._frame,
            0x85: self._tuple1,
            0x86: self._tuple2,
            0x87: self._tuple3,
            0x74: self._tuple,
            0x29: self._empty_tuple,
            0x5D: self._empty_list,
            0x7D: self._empty_dict,
            0x4E: self._none,
            0x88: self._true,
            0x89: self._false,
            0x47: self._binfloat,
            0x52: self._reduce,
            0x62: self._build,
            0x93: self._stack_global,
            0x63: self._global,
            0x69: self._inst,
            0x6F: self._obj,
            0x81: self._newobj,
            0x92: self._newobj_ex,
            0x2E: self._stop,
            0x80: self._proto,
            0x30: self._pop_op,
            0x31: self._pop_mark_op,
            0x32: self._dup,
            0x6C: self._list,
            0x64: self._dict,
            0x8F: self._empty_set,
            0x90: self._additems,
            0x91: self._frozenset,
            0x8A: self._long_n,
            0x8B: self._long_n,
            0x49: self._int,
            0x4C: self._long,
            0x46: self._float,
            0x53: self._string,
            0x56: self._unicode,
            0x67: self._get,
            0x70: self._put,
            0x50: self._persid,
            0x51: self._binpersid,
            0x82: self._ext,
            0x83: self._ext,
            0x84: self._ext,
            0x97: self._next_buffer,
            0x98: self._readonly_buffer,
        }

    def _invalid(self, pos: int) -> int:
        raise ParseError(f"invalid opcode byte 0x{self.buf[pos]:02x}")

    # memo
    def _binput(self, pos: int) -> int:
        need(pos + 1, 1, self.end)
        if not self.stack:
            raise ParseError("PUT on an empty stack")
        self.memo[self.buf[pos + 1]] = self.stack[-1]
        return pos + 2

    def _long_binput(self, pos: int) -> int:
        need(pos + 1, 4, self.end)
        if not self.stack:
            raise ParseError("PUT on an empty stack")
        self.memo[U4.unpack_from(self.buf, pos + 1)[0]] = self.stack[-1]
        return pos + 5

    def _memoize(self, pos: int) -> int:
        if not self.stack:
            raise ParseError("MEMOIZE on an empty stack")
        self.memo[len(self.memo)] = self.stack[-1]
        return pos + 1

    def _memo_get(self, idx: Any) -> None:
        try:
            value = self.memo[idx]
        except KeyError:
            raise ParseError(f"memo key {idx!r} missing (GET before PUT)") from None
        self.stack.append(value)
        self._pushed(value)

    def _binget(self, pos: int) -> int:
        need(pos + 1, 1, self.end)
        self._memo_get(self.buf[pos + 1])
        return pos + 2

    def _long_binget(self, pos: int) -> int:
        need(pos + 1, 4, self.end)
        self._memo_get(U4.unpack_from(self.buf, pos + 1)[0])
        return pos + 5

    def _get(self, pos: int) -> int:
        raw, pos = readline(self.buf, pos + 1, self.end)
        self._memo_get(int_line(raw))
        return pos

    def _put(self, pos: int) -> int:
        raw, pos = readline(self.buf, pos + 1, self.end)
        if not self.stack:
            raise ParseError("PUT on an empty stack")
        self.memo[int_line(raw)] = self.stack[-1]
        return pos

    # numbers and constants
    def _binint1(self, pos: int) -> int:
        need(pos + 1, 1, self.end)
        self.stack.append(self.buf[pos + 1])
        return pos + 2

    def _binint2(self, pos: int) -> int:
        need(pos + 1, 2, self.end)
        self.stack.append(U2.unpack_from(self.buf, pos + 1)[0])
        return pos + 3

    def _binint(self, pos: int) -> int:
        need(pos + 1, 4, self.end)
        self.stack.append(I4.unpack_from(self.buf, pos + 1)[0])
        return pos + 5

    def _binfloat(self, pos: int) -> int:
        need(pos + 1, 8, self.end)
        self.stack.append(F8.unpack_from(self.buf, pos + 1)[0])
        return pos + 9

    def _long_n(self, pos: int) -> int:
        ln, data = read_length(self.buf, pos + 1, self.end, self.buf[pos])
        if ln <= 64:
            value = int.from_bytes(bytes(self.buf[data : data + ln]), "little", signed=True)
            self.stack.append(value)
        else:
            self.stack.append(OPAQUE)
        return data + ln

    def _int(self, pos: int) -> int:
        raw, pos = readline(self.buf, pos + 1, self.end)
        if raw == b"00":
            self.stack.append(False)
        elif raw == b"01":
            self.stack.append(True)
        else:
            self.stack.append(int_line(raw))
        return pos

    def _long(self, pos: int) -> int:
        raw, pos = readline(self.buf, pos + 1, self.end)
        self.stack.append(int_line(raw))
        return pos

    def _float(self, pos: int) -> int:
        raw, pos = readline(self.buf, pos + 1, self.end)
        try:
            self.stack.append(float(raw))
        except ValueError:
            raise ParseError(f"invalid float literal {raw[:40]!r}") from None
        return pos

    def _none(self, pos: int) -> int:
        self.stack.append(None)
        return pos + 1

    def _true(self, pos: int) -> int:
        self.stack.append(True)
        return pos + 1

    def _false(self, pos: int) -> int:
        self.stack.append(False)
        return pos + 1

    # strings and bytes
    def _unicode_len(self, pos: int) -> int:
        ln, data = read_length(self.buf, pos + 1, self.end, self.buf[pos])
        self.stack.append(text_value(self.buf, data, ln, "utf-8"))
        return data + ln

    def _binstring(self, pos: int) -> int:
        ln, data = read_length(self.buf, pos + 1, self.end, self.buf[pos])
        self.stack.append(text_value(self.buf, data, ln, "latin-1"))
        return data + ln

    def _bytes_len(self, pos: int) -> int:
        ln, data = read_length(self.buf, pos + 1, self.end, self.buf[pos])
        self.stack.append(BytesRef(data, ln))
        return data + ln

    def _string(self, pos: int) -> int:
        raw, nxt = readline(self.buf, pos + 1, self.end)
        raw = raw.rstrip()
        if len(raw) < 2 or raw[0] != raw[-1] or raw[:1] not in (b"'", b'"'):
            raise ParseError("the STRING opcode argument must be quoted")
        if len(raw) > MAX_STR:
            self.stack.append(StrRef(pos + 2, len(raw) - 2, "string-escape"))
            return nxt
        try:
            self.stack.append(decode_text(raw[1:-1], "string-escape"))
        except Exception:
            raise ParseError("invalid escape in STRING argument") from None
        return nxt

    def _unicode(self, pos: int) -> int:
        raw, nxt = readline(self.buf, pos + 1, self.end)
        if len(raw) > MAX_STR:
            self.stack.append(StrRef(pos + 1, len(raw), "raw-unicode-escape"))
            return nxt
        try:
            self.stack.append(raw.decode("raw-unicode-escape"))
        except UnicodeDecodeError:
            raise ParseError("invalid UNICODE argument") from None
        return nxt

    # containers
    def _mark(self, pos: int) -> int:
        self.metastack.append(self.stack)
        self.stack = []
        return pos + 1

    def _appends(self, pos: int) -> int:
        self._pop_mark()
        if not self.stack:
            raise ParseError("APPENDS without a list on the stack")
        return pos + 1

    def _append(self, pos: int) -> int:
        if len(self.stack) < 2:
            raise ParseError("APPEND on a stack with fewer than 2 items")
        self.stack.pop()
        return pos + 1

    def _store(self, target: Any, key: Any, value: Any, pos: int) -> None:
        if isinstance(target, DictVal):
            if isinstance(key, (str, int)) and (len(target) < MAX_DICT or key in _HOOK_KEYS):
                target[key] = value
        elif isinstance(target, GlobalRef):  # e.g. sys.modules[...] = ..., vars(module)
            self._mutation(target, (render(key),), "SETITEM", pos)

    def _setitems(self, pos: int) -> int:
        items = self._pop_mark()
        if not self.stack:
            raise ParseError("SETITEMS without a dict on the stack")
        target = self.stack[-1]
        if isinstance(target, DictVal) and len(target) >= MAX_DICT:
            for i in range(0, len(items) - 1, 2):
                if isinstance(items[i], str) and items[i] in _HOOK_KEYS:
                    target[items[i]] = items[i + 1]
        elif isinstance(target, (DictVal, GlobalRef)):
            for i in range(0, len(items) - 1, 2):
                self._store(target, items[i], items[i + 1], pos)
        return pos + 1

    def _setitem(self, pos: int) -> int:
        if len(self.stack) < 3:
            raise ParseError("SETITEM on a stack with fewer than 3 items")
        value = self.stack.pop()
        key = self.stack.pop()
        self._store(self.stack[-1], key, value, pos)
        return pos + 1

    def _tuple1(self, pos: int) -> int:
        stack = self.stack
        if not stack:
            raise ParseError("TUPLE1 on an empty stack")
        stack[-1] = (stack[-1],)
        return pos + 1

    def _tuple2(self, pos: int) -> int:
        stack = self.stack
        if len(stack) < 2:
            raise ParseError("TUPLE2 on a stack with fewer than 2 items")
        stack[-2:] = [(stack[-2], stack[-1])]
        return pos + 1

    def _tuple3(self, pos: int) -> int:
        stack = self.stack
        if len(stack) < 3:
            raise ParseError("TUPLE3 on a stack with fewer than 3 items")
        stack[-3:] = [(stack[-3], stack[-2], stack[-1])]
        return pos + 1

    def _tuple(self, pos: int) -> int:
        items = self._pop_mark()
        self.stack.append(tuple(items) if len(items) <= MAX_TUPLE else OPAQUE)
        return pos + 1

    def _empty_tuple(self, pos: int) -> int:
        self.stack.append(())
        return pos + 1

    def _empty_list(self, pos: int) -> int:
        self.stack.append(LIST)
        return pos + 1

    def _empty_dict(self, pos: int) -> int:
        self.stack.append(DictVal())
        return pos + 1

    def _empty_set(self, pos: int) -> int:
        self.stack.append(SET)
        return pos + 1

    def _list(self, pos: int) -> int:
        self._pop_mark()
        self.stack.append(LIST)
        return pos + 1

    def _dict(self, pos: int) -> int:
        items = self._pop_mark()
        d = DictVal()
        for i in range(0, len(items) - 1, 2):
            key = items[i]
            if isinstance(key, (str, int)) and (len(d) < MAX_DICT or key in _HOOK_KEYS):
                d[key] = items[i + 1]
        self.stack.append(d)
        return pos + 1

    def _additems(self, pos: int) -> int:
        self._pop_mark()
        if not self.stack:
            raise ParseError("ADDITEMS without a set on the stack")
        return pos + 1

    def _frozenset(self, pos: int) -> int:
        self._pop_mark()
        self.stack.append(SET)
        return pos + 1

    # stack manipulation
    def _discarded(self, values: list[Any], opcode: str, pos: int) -> None:
        for value in values:
            if isinstance(value, Called) and not getattr(value.func, "trusted", False):
                self._event(DiscardedCallEvent, render(value), opcode, pos)
                return

    def _pop_op(self, pos: int) -> int:
        if self.stack:
            self._discarded([self.stack.pop()], "POP", pos)
        else:
            self._discarded(self._pop_mark(), "POP", pos)
        return pos + 1

    def _pop_mark_op(self, pos: int) -> int:
        self._discarded(self._pop_mark(), "POP_MARK", pos)
        return pos + 1

    def _dup(self, pos: int) -> int:
        if not self.stack:
            raise ParseError("DUP on an empty stack")
        self.stack.append(self.stack[-1])
        self._pushed(self.stack[-1])
        return pos + 1

    # framing and protocol
    def _frame(self, pos: int) -> int:
        need(pos + 1, 8, self.end)
        length = U8.unpack_from(self.buf, pos + 1)[0]
        if self.frame_end != _NO_FRAME and pos < self.frame_end:
            self._event(
                FrameEvent,
                f"FRAME at offset {pos} starts before the current frame ends "
                f"(offset {self.frame_end})",
                "FRAME",
                pos,
            )
        start = pos + 9
        if start + length > self.end:
            self._event(
                FrameEvent,
                f"FRAME at offset {pos} announces {length} bytes but only "
                f"{self.end - start} remain",
                "FRAME",
                pos,
            )
            self.frame_end = _NO_FRAME
        else:
            self.frame_end = start + length
        return start

    def _proto(self, pos: int) -> int:
        need(pos + 1, 1, self.end)
        if self.buf[pos + 1] > 5:
            raise ParseError(f"unsupported pickle protocol {self.buf[pos + 1]}")
        return pos + 2

    def _stop(self, pos: int) -> int:
        if not self.stack:
            raise ParseError("STOP on an empty stack")
        self.stop_value = self.stack.pop()
        raise _Stop()

    # imports
    def _global(self, pos: int) -> int:
        module, name, nxt = self._global_operands(pos)
        self.stack.append(self._import(module, name, "GLOBAL", pos))
        return nxt

    def _global_operands(self, pos: int) -> tuple[str, str, int]:
        raw_mod, nxt = readline(self.buf, pos + 1, self.end)
        raw_name, nxt = readline(self.buf, nxt, self.end)
        try:
            return raw_mod.decode("utf-8"), raw_name.decode("utf-8"), nxt
        except UnicodeDecodeError:
            raise ParseError("GLOBAL operands are not valid UTF-8") from None

    def _stack_global(self, pos: int) -> int:
        module, name = self._pop(2, 0x93)
        if isinstance(module, str) and isinstance(name, str):
            self.stack.append(self._import(module, name, "STACK_GLOBAL", pos))
        else:
            operands = f"module={describe(module)}, name={describe(name)}"
            self.report.events.append(
                ComputedGlobalEvent("STACK_GLOBAL", pos, self.stream, operands, self.n)
            )
            self.n_globals += 1
            self.stack.append(OPAQUE)
        return pos + 1

    def _ext(self, pos: int) -> int:
        op = self.buf[pos]
        width = {0x82: 1, 0x83: 2, 0x84: 4}[op]
        need(pos + 1, width, self.end)
        code = int.from_bytes(bytes(self.buf[pos + 1 : pos + 1 + width]), "little", signed=False)
        self.report.events.append(ExtensionEvent(code, opname(op), pos, self.stream, self.n))
        self.n_globals += 1
        self.stack.append(OPAQUE)
        return pos + 1 + width

    # calls
    def _reduce(self, pos: int) -> int:
        if len(self.stack) < 2:
            raise ParseError("REDUCE on a stack with fewer than 2 items")
        args = self.stack.pop()
        self.stack[-1] = self._call(self.stack[-1], args, "REDUCE", pos)
        return pos + 1

    def _inst(self, pos: int) -> int:
        module, name, nxt = self._global_operands(pos)
        ref = self._import(module, name, "INST", pos)
        items = self._pop_mark()
        self.stack.append(self._call(ref, tuple(items), "INST", pos))
        return nxt

    def _obj(self, pos: int) -> int:
        items = self._pop_mark()
        if not items:
            raise ParseError("OBJ without a class on the stack")
        self.stack.append(self._call(items[0], tuple(items[1:]), "OBJ", pos))
        return pos + 1

    def _newobj(self, pos: int) -> int:
        cls, args = self._pop(2, 0x81)
        self.stack.append(self._call(cls, args, "NEWOBJ", pos))
        return pos + 1

    def _newobj_ex(self, pos: int) -> int:
        cls, args, _kwargs = self._pop(3, 0x92)
        self.stack.append(self._call(cls, args, "NEWOBJ_EX", pos))
        return pos + 1

    def _build(self, pos: int) -> int:
        if len(self.stack) < 2:
            raise ParseError("BUILD on a stack with fewer than 2 items")
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, GlobalRef):
            keys = tuple(sorted(str(k) for k in state)) if isinstance(state, dict) else ()
            self._mutation(inst, keys, "BUILD", pos)
        elif isinstance(inst, DTypeVal):
            if isinstance(state, tuple) and len(state) >= 6:
                if isinstance(state[5], int) and not isinstance(state[5], bool):
                    inst.elsize = state[5]
                if isinstance(state[4], dict):
                    inst.fields = state[4]
        elif (
            isinstance(inst, Called)
            and isinstance(inst.func, GlobalRef)
            and inst.func.full == "functools.partial"
        ):
            if not partial_state_ok(state):
                target = inst.func
                self.report.misused.add((target.module, target.name, self.stream))
                self._check_state(inst, state, pos)
        elif isinstance(inst, WrapperVal):
            inst.state = state
            if pos + 1 >= self.frame_end:  # joblib writes the array after closing the frame
                self._leave_frame(pos, pos + 1, 0x62)
            nxt = self._skip_joblib_array(pos + 1, inst)
            self.stack[-1] = OPAQUE
            return nxt
        else:
            self._check_state(inst, state, pos)
        return pos + 1

    # persistent ids and buffers
    def _persid(self, pos: int) -> int:
        raw, nxt = readline(self.buf, pos + 1, self.end)
        if not raw.isascii():  # the unpickler decodes the id as ASCII and rejects the stream
            raise ParseError("persistent IDs in protocol 0 must be ASCII strings")
        self.stack.append(PERSISTENT)
        return nxt

    def _binpersid(self, pos: int) -> int:
        if not self.stack:
            raise ParseError("BINPERSID on an empty stack")
        pid = self.stack[-1]
        # legacy torch.save: ('module', cls, source_file, source) loads as the class itself
        is_class = isinstance(pid, tuple) and len(pid) >= 2 and pid[0] == "module"
        self.stack[-1] = pid[1] if is_class and isinstance(pid[1], GlobalRef) else PERSISTENT
        return pos + 1

    def _next_buffer(self, pos: int) -> int:
        self.stack.append(BUFFER)
        return pos + 1

    def _readonly_buffer(self, pos: int) -> int:
        if not self.stack:
            raise ParseError("READONLY_BUFFER on an empty stack")
        return pos + 1

    # ------------------------------------------------------------------ joblib
    def _skip_joblib_array(self, pos: int, wrapper: WrapperVal) -> int:
        """Skip (or walk) the array data joblib writes right after a wrapper's BUILD."""
        state = wrapper.state
        if not isinstance(state, dict):
            raise ParseError("joblib NumpyArrayWrapper state is not a dict; array size unknown")
        dtype = state.get("dtype")
        shape = state.get("shape")
        if not isinstance(dtype, DTypeVal):
            raise ParseError("joblib NumpyArrayWrapper dtype could not be resolved")
        if dtype.hasobject:
            if self.depth >= _MAX_DEPTH:
                raise ParseError("joblib object arrays nested too deeply")
            inner = Walker(
                self.buf,
                self.end,
                self.report,
                max_opcodes=self.max_opcodes,
                depth=self.depth + 1,
            )
            nested = inner.walk(pos, self.stream)
            if nested.error:
                self.report.events.append(
                    ErrorEvent(
                        "limit" if nested.limit_hit else "parse",
                        f"nested object-array pickle at offset {pos}: {nested.error}",
                        nested.error_offset or pos,
                        self.stream,
                        nested.error_opcode,
                    )
                )
                raise ParseError("nested object-array pickle could not be parsed")
            if self.depth == 0:
                self.report.inline.append((pos, nested.end, True))
            return nested.end
        if not isinstance(shape, tuple) or not all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in shape
        ):
            raise ParseError("joblib NumpyArrayWrapper shape could not be resolved")
        itemsize = dtype.itemsize()
        if itemsize is None:
            raise ParseError(f"joblib array dtype {dtype.descr!r} has an unknown item size")
        count = math.prod(shape) if shape else 1
        start = pos
        if state.get("numpy_array_alignment_bytes") is not None:
            need(pos, 1, self.end)
            pos += 1 + self.buf[pos]
        size = count * itemsize
        need(pos, size, self.end)
        if self.depth == 0:
            self.report.inline.append((start, pos + size, False))
        return pos + size
