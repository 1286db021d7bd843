"""A second, independent reading of each pickle region, by fickling.

Our opcode walker (:mod:`.pickle_analysis`) decides the verdict: it is fast, skips joblib's
inline arrays and resolves the memo. fickling's parser and symbolic interpreter
(``fickling.fickle.Pickled`` / ``Interpreter``) read the same bytes independently; an import
that fickling sees and our walker does not is a parser differential, the kind of gap that
pickle-scanner bypasses exploit (CVE-2025-1716 .. -10157 and fickling's own advisories).
Nothing is ever unpickled: fickling's interpreter only builds an AST.
"""

from __future__ import annotations

import ast
import contextlib
import io
from dataclasses import dataclass

#: Regions larger than this, or with more opcodes than below, are not cross-checked: fickling
#: reads ~40 MB/s of bytes-heavy and ~0.1 M opcodes/s of opcode-heavy pickles, so the walker's
#: verdict stands alone for them (a big vocabulary would otherwise take minutes).
MAX_CROSS_CHECK_BYTES = 64 * 1024 * 1024
MAX_CROSS_CHECK_OPCODES = 300_000


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
    sink = io.StringIO()  # fickling prints warnings about malformed input; they are not ours
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
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


def _imports(pickled: object, interpreter_cls: type, limits: object) -> set[tuple[str, str]]:
    """``(module, name)`` of every import fickling's interpreter records for one stream."""
    interpreter = interpreter_cls(pickled, limits=limits)
    with contextlib.suppress(Exception):  # a malformed stream ends early; keep what was seen
        while True:
            interpreter.step()
    out: set[tuple[str, str]] = set()
    for stmt in interpreter.module_body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module:
            out.update((stmt.module, alias.name) for alias in stmt.names)
    return out
