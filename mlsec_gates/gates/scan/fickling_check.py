"""A second, independent reading of each pickle region, by fickling.

Our opcode walker (:mod:`.pickle_analysis`) decides the verdict: it is fast, skips joblib's
inline arrays and resolves the memo. fickling's parser and symbolic interpreter
(``fickling.fickle.Pickled`` / ``Interpreter``) read the same bytes independently; an import
that fickling sees and our walker does not is a parser differential, the kind of gap that
pickle-scanner bypasses exploit (CVE-2025-1716 .. -10157 and fickling's own advisories).
Nothing is ever unpickled: fickling's interpreter only builds an AST.

When it runs (decided by :func:`cross_check_wanted`; measured with
``benchmarks/scan_speed.py`` and cProfile on 2 shared cores): fickling's parser and
interpreter step ~30-40 k opcodes/s (a 4.4 k-opcode torch ``data.pkl`` costs ~0.12 s, the
1.2 M-opcode ``list(range(...))`` ~39 s and 530 MB) and hold the region in memory, against
several M opcodes/s and zero-copy reading for the walker. Cross-checking every region made
fickling the bottleneck of the scan (every checkpoint paid ~0.1-1 s, big vocabularies
minutes), so it is the semantic cross-check only for

* small regions (<= :data:`ALWAYS_CROSS_CHECK_BYTES` and
  :data:`ALWAYS_CROSS_CHECK_OPCODES`): hand-crafted parser differentials live there and the
  cost stays below ~0.1 s;
* regions the walker found suspicious but did not block (unknown globals, parse errors,
  shape mismatches...), up to :data:`MAX_CROSS_CHECK_BYTES` and
  :data:`MAX_CROSS_CHECK_OPCODES`, so a differential can still raise a quarantine to a block.

A region the walker already blocks is not cross-checked: nothing can change its verdict.
"""

from __future__ import annotations

import ast
import contextlib
import io
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Regions up to this size and opcode count are always cross-checked (< ~0.1 s of fickling).
ALWAYS_CROSS_CHECK_BYTES = 256 * 1024
ALWAYS_CROSS_CHECK_OPCODES = 3_000
#: Suspicious regions beyond these limits are not cross-checked (the walker's verdict stands).
MAX_CROSS_CHECK_BYTES = 64 * 1024 * 1024
MAX_CROSS_CHECK_OPCODES = 300_000


def cross_check_wanted(size: int, opcodes: int, *, suspicious: bool) -> bool:
    """Whether a region of ``size`` bytes and ``opcodes`` opcodes is worth fickling's time."""
    if suspicious:
        return size <= MAX_CROSS_CHECK_BYTES and opcodes <= MAX_CROSS_CHECK_OPCODES
    return size <= ALWAYS_CROSS_CHECK_BYTES and opcodes <= ALWAYS_CROSS_CHECK_OPCODES


@dataclass(frozen=True)
class FicklingView:
    """What fickling saw in a region: the imports of every stream it could parse."""

    imports: frozenset[tuple[str, str]]
    streams: int


def fickling_imports(data: bytes, *, max_opcodes: int, max_streams: int = 1000) -> FicklingView:
    """Imports fickling finds in each concatenated pickle stream of ``data``.

    Reading stops at the first stream fickling cannot decode (fickling keeps the opcodes
    before a decode error, so a payload-first stream still counts). Interpretation errors and
    resource limits end that stream's reading; they are the walker's business to report.
    """
    from fickling.fickle import Interpreter, InterpreterLimits, Pickled

    limits = InterpreterLimits(
        max_opcodes=max_opcodes,
        max_stack_depth=1_000_000,
        max_memo_size=max_opcodes,
        max_get_ratio=max_opcodes,
    )
    stream = io.BytesIO(data)
    found: set[tuple[str, str]] = set()
    count = 0
    with _quiet_thread():  # fickling prints warnings about malformed input; they are not ours
        while stream.tell() < len(data) and count < max_streams:
            start = stream.tell()
            try:
                pickled = Pickled.load(stream, fail_on_decode_error=False)
            except Exception:  # fickling raises many types (NotImplementedError
                # for opcodes it lacks); where it stops reading, the walker's verdict stands alone
                break
            count += 1
            found.update(_imports(pickled, Interpreter, limits))
            if pickled.has_invalid_opcode or stream.tell() <= start:
                break
    return FicklingView(imports=frozenset(found), streams=count)


def _imports(pickled: Any, interpreter_cls: type, limits: object) -> set[tuple[str, str]]:
    """``(module, name)`` of every import fickling reads from *literal* operands in one stream.

    fickling turns a ``STACK_GLOBAL`` whose operands are not string constants into an
    import of a synthetic name (``_var0.dtype``, ``NumpyArrayWrapper.dtype``: the text of an
    attribute access it modelled, e.g. inside joblib's inline array bytes, which it reads as
    opcodes). Such a name was never written in the file, so it is not an import the walker
    could have missed; a computed name is the walker's own ``ComputedGlobal`` finding.
    Only ``GLOBAL``/``INST`` operands and ``STACK_GLOBAL`` with two string constants on
    fickling's stack count.
    """
    interpreter = interpreter_cls(pickled, limits=limits)
    out: set[tuple[str, str]] = set()
    steps = 0
    with contextlib.suppress(Exception):  # a malformed stream ends early; keep what was seen
        while True:
            nxt = pickled[steps] if steps < len(pickled) else None
            literal = True
            if type(nxt).__name__ == "StackGlobal":
                top = interpreter.stack[-2:]
                literal = len(top) == 2 and all(
                    isinstance(v, ast.Constant) and isinstance(v.value, str) for v in top
                )
            before = len(interpreter.module_body)
            interpreter.step()
            steps += 1
            if literal:
                for stmt in interpreter.module_body[before:]:
                    if isinstance(stmt, ast.ImportFrom) and stmt.module:
                        out.update((stmt.module, alias.name) for alias in stmt.names)
    return out


class _ThreadQuiet:
    """A stand-in for ``sys.stdout``/``sys.stderr``: drops what quiet threads write."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def write(self, text: str) -> int:
        if getattr(_quiet, "on", False):
            return len(text)
        return int(self._target.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


_quiet = threading.local()
_quiet_lock = threading.Lock()
_quiet_state: dict[str, Any] = {"depth": 0, "saved": None}


@contextlib.contextmanager
def _quiet_thread() -> Iterator[None]:
    """Silence ``sys.stdout``/``sys.stderr`` for the calling thread only.

    ``contextlib.redirect_stdout`` swaps the process-wide stream: with scan threads
    (``gates.scan.workers`` > 1) their swaps interleave and the last one restores another
    thread's sink, so every later print of the process vanished (a CLI summary, a benchmark's
    rows: the run still exited 0). Here the first thread in installs one filter, the last out
    restores the streams it saved, and only quiet threads' writes are dropped.
    """
    with _quiet_lock:
        if _quiet_state["depth"] == 0:
            _quiet_state["saved"] = (sys.stdout, sys.stderr)
            sys.stdout, sys.stderr = _ThreadQuiet(sys.stdout), _ThreadQuiet(sys.stderr)
        _quiet_state["depth"] += 1
    _quiet.on = True
    try:
        yield
    finally:
        _quiet.on = False
        with _quiet_lock:
            _quiet_state["depth"] -= 1
            if _quiet_state["depth"] == 0:
                sys.stdout, sys.stderr = _quiet_state["saved"]
