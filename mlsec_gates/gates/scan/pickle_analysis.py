"""Static analysis of pickle byte regions, without ever unpickling them.

Entry points: :func:`analyse_region` (every concatenated stream of a region, legacy
``torch.save`` layout, trailing-bytes resynchronisation) and :func:`sniff_pickle` (does a
region without PROTO look like a pickle). The opcode machine lives in :mod:`.pickle_vm`, the
operand readers and symbolic values in :mod:`.pickle_ops`, the events in
:mod:`.pickle_events`; the names are re-exported here for the engine.
"""

from __future__ import annotations

from .pickle_events import (
    CallEvent,
    CodeObjectEvent,
    ComputedCallEvent,
    ComputedGlobalEvent,
    DiscardedCallEvent,
    ErrorEvent,
    Event,
    ExtensionEvent,
    FrameEvent,
    GlobalEvent,
    GlobalMutationEvent,
    HookEvent,
    NestedLoadEvent,
    PickleReport,
    ShapeEvent,
    StreamResult,
)
from .pickle_ops import Buffer
from .pickle_vm import Walker

__all__ = [
    "TORCH_LEGACY_MAGIC",
    "CallEvent",
    "CodeObjectEvent",
    "ComputedCallEvent",
    "ComputedGlobalEvent",
    "DiscardedCallEvent",
    "ErrorEvent",
    "Event",
    "ExtensionEvent",
    "FrameEvent",
    "GlobalEvent",
    "GlobalMutationEvent",
    "HookEvent",
    "NestedLoadEvent",
    "PickleReport",
    "ShapeEvent",
    "StreamResult",
    "analyse_region",
    "sniff_pickle",
]

#: Magic number that opens a legacy (pre-zip) ``torch.save`` file.
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

#: Only imports-and-calls events of streams found by resynchronisation are kept.
_RESYNC_KEEP = (
    GlobalEvent,
    ComputedGlobalEvent,
    ExtensionEvent,
    CallEvent,
    CodeObjectEvent,
    NestedLoadEvent,
    HookEvent,
    GlobalMutationEvent,
)


def analyse_region(
    buf: Buffer,
    start: int,
    end: int,
    *,
    max_opcodes: int,
    max_streams: int = 100_000,
) -> PickleReport:
    """Analyse every concatenated pickle stream in ``buf[start:end]``.

    Analysis goes on up to the first parse error (what precedes it is still reported).
    Legacy ``torch.save`` files are recognised by their magic-number first stream; after
    their five pickles the rest is raw storage data and is not parsed.
    """
    report = PickleReport()
    walker = Walker(buf, end, report, max_opcodes=max_opcodes)
    pos = start
    index = 0
    legacy_streams = 0
    while pos < end and index < max_streams:
        res = walker.walk(pos, index)
        report.streams = max(report.streams, index + 1)
        if res.error:
            if res.limit_hit:
                kind = "limit"
            elif index > 0 and res.n_globals == 0 and not res.stopped:
                kind = "trailing"
            else:
                kind = "parse"
            report.events.append(
                ErrorEvent(
                    kind, res.error, res.error_offset or pos, index, res.error_opcode, res.opcodes
                )
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
        walker = Walker(buf, end, probe, max_opcodes=min(budget, max_opcodes))
        res = walker.walk(hit, index)
        budget -= res.opcodes
        if res.stopped and res.n_globals:
            report.events.extend(e for e in probe.events if isinstance(e, _RESYNC_KEEP))
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
    res = Walker(buf, end, probe, max_opcodes=max_opcodes).walk(start, 0)
    if res.stopped and res.opcodes >= 2:
        return True
    for event in probe.events:
        if isinstance(event, GlobalEvent):
            if is_identifier_path(event.module) and is_identifier_path(event.name):
                return True
        elif isinstance(event, ComputedGlobalEvent):
            return True
    return False
