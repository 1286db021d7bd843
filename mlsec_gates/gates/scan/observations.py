"""What the format parsers hand back to the engine: observations and one error type.

Every format module (:mod:`.safetensors`, :mod:`.keras`, :mod:`.onnx_model`, :mod:`.gguf`,
:mod:`.chat_template`, :mod:`.archives`) exposes functions that take ``(buf, start, end)``
and either return :class:`Observation` objects or raise :class:`FormatError` when the
structure is broken. Any other exception escaping them is a bug (the fuzz tests rely on
this contract); the engine turns both into findings of the rule each observation names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class FormatError(Exception):
    """The bytes do not follow the format they claim; ``offset`` is relative to ``start``."""

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset


@dataclass(frozen=True)
class Observation:
    """One thing a format parser saw that the engine reports as a finding of ``rule``."""

    rule: Any
    """The :class:`~mlsec_gates.gates.scan.rules.Rule` subclass the finding belongs to."""
    message: str
    offset: int | None = None
    """Byte offset relative to the start of the parsed region, when known."""
    where: str | None = None
    """Sub-location inside the file (layer, tensor, metadata key, member...)."""
    evidence: dict[str, Any] = field(default_factory=dict)
