"""What the pickle walker observes: one event class per kind of observation.

Every event carries where it happened: byte ``offset`` (absolute in the scanned buffer),
``stream`` (index of the concatenated pickle) and ``index`` (opcode number inside that
stream). The engine maps events to rule findings; the walker itself never decides a verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GlobalEvent:
    """A global imported by GLOBAL / STACK_GLOBAL / INST."""

    module: str
    name: str
    opcode: str
    offset: int
    stream: int
    index: int = -1


@dataclass(frozen=True)
class ComputedGlobalEvent:
    """STACK_GLOBAL whose operands are not literal strings (the name is computed)."""

    opcode: str
    offset: int
    stream: int
    operands: str
    index: int = -1


@dataclass(frozen=True)
class ComputedCallEvent:
    """REDUCE / OBJ / NEWOBJ on something that is not an imported global."""

    opcode: str
    offset: int
    stream: int
    target: str
    index: int = -1


@dataclass(frozen=True)
class CallEvent:
    """A call on an imported global that the built-in allowlist does not trust.

    ``payload`` renders the call with its literal arguments (``os.system('id')``); the
    engine attaches it to the finding about the import.
    """

    module: str
    name: str
    payload: str
    opcode: str
    offset: int
    stream: int
    index: int = -1


@dataclass(frozen=True)
class GlobalMutationEvent:
    """BUILD / setattr applied to an imported global itself (rebinding library code)."""

    target: str
    opcode: str
    offset: int
    stream: int
    index: int = -1
    attributes: tuple[str, ...] = ()
    reached_later: int | None = None


@dataclass(frozen=True)
class ExtensionEvent:
    """EXT1/EXT2/EXT4: import through the copyreg extension registry."""

    code: int
    opcode: str
    offset: int
    stream: int
    index: int = -1


@dataclass(frozen=True)
class ShapeEvent:
    """An allowlisted callable called with arguments it never gets from its serialiser."""

    target: str
    expected: str
    payload: str
    opcode: str
    offset: int
    stream: int
    index: int = -1


@dataclass(frozen=True)
class HookEvent:
    """A method or special attribute replaced on an object (Sleepy-Pickle hook).

    ``how`` is ``setattr`` (a setattr call), ``build`` (BUILD state dict / slot state) or
    ``method-type`` (``types.MethodType`` binding a function to an object).
    """

    how: str
    attributes: tuple[str, ...]
    payload: str
    opcode: str
    offset: int
    stream: int
    index: int = -1


@dataclass(frozen=True)
class DiscardedCallEvent:
    """POP / POP_MARK dropped the result of a call: it only ran for its side effects."""

    payload: str
    opcode: str
    offset: int
    stream: int
    index: int = -1


@dataclass(frozen=True)
class CodeObjectEvent:
    """A code or function object is built from serialised bytecode."""

    target: str
    payload: str
    opcode: str
    offset: int
    stream: int
    index: int = -1


@dataclass(frozen=True)
class NestedLoadEvent:
    """Bytes that flow into a loader call (``pickle.loads``, ``torch.load``...).

    ``data`` is ``(buffer, start, end)`` of the nested payload when the walker could
    reconstruct it, else None and ``problem`` says why; the engine scans the payload.
    """

    loader: str
    payload: str
    opcode: str
    offset: int
    stream: int
    index: int = -1
    data: tuple[Any, int, int] | None = field(default=None, compare=False, repr=False)
    problem: str | None = None


@dataclass(frozen=True)
class FrameEvent:
    """An opcode crosses the end of the FRAME that holds it (framing divergence)."""

    message: str
    opcode: str
    offset: int
    stream: int
    index: int = -1


@dataclass(frozen=True)
class ErrorEvent:
    """The stream could not be analysed completely."""

    kind: str  # "parse" | "trailing" | "limit" | "joblib"
    message: str
    offset: int
    stream: int
    opcode: str | None = None
    index: int = -1


Event = (
    GlobalEvent
    | ComputedGlobalEvent
    | ComputedCallEvent
    | CallEvent
    | GlobalMutationEvent
    | ExtensionEvent
    | ShapeEvent
    | HookEvent
    | DiscardedCallEvent
    | CodeObjectEvent
    | NestedLoadEvent
    | FrameEvent
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
    uses: dict[tuple[str, str, int], int] = field(default_factory=dict)
    """Conditional globals (module, name, stream): times pushed on the stack."""
    fitting: dict[tuple[str, str, int], int] = field(default_factory=dict)
    """Conditional globals: times consumed by a call whose arguments fit."""
    misused: set[tuple[str, str, int]] = field(default_factory=set)
    """Conditional globals whose result was later given a state that does not fit."""
    inline: list[tuple[int, int, bool]] = field(default_factory=list)
    """joblib arrays written inline after their wrapper: (start, end, holds a pickle)."""

    def accepted(self, module: str, name: str, stream: int) -> bool:
        """A conditional global every use of which was a call with fitting arguments."""
        key = (module, name, stream)
        uses = self.uses.get(key, 0)
        return bool(uses) and self.fitting.get(key, 0) == uses and key not in self.misused

    def add_global(
        self, module: str, name: str, opcode: str, offset: int, stream: int, index: int = -1
    ) -> None:
        """Record an import once per (module, name, stream), at its first offset."""
        key = (module, name, stream)
        if key in self.seen:
            return
        self.seen.add(key)
        if module == "joblib.numpy_pickle" and name == "NumpyArrayWrapper":
            self.joblib = True
        self.events.append(GlobalEvent(module, name, opcode, offset, stream, index))
