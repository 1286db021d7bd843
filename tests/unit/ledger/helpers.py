"""Results and keys shared by the ledger tests (imported as tests.unit.ledger.helpers)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from mlsec_gates.result import GateResult, Status, Subject
from tests.fixtures.signing_keys import write_ec_key_pair


@dataclass(frozen=True)
class KeyPair:
    private: str
    public: str


def write_key_pair(directory: Path, name: str) -> KeyPair:
    private, public = write_ec_key_pair(directory, name)
    return KeyPair(private=str(private), public=str(public))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_result(
    gate: str = "scan",
    *,
    subjects: tuple[tuple[str, str], ...] = (("model.pkl", digest("model")),),
    status: Status = Status.PASS,
) -> GateResult:
    """A gate result without reports (subjects given as (path, sha256))."""
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return GateResult(
        gate=gate,
        status=status,
        summary=f"{gate}: {status.value}",
        findings=(),
        subjects=tuple(Subject(path=p, sha256=d, verdict="pass") for p, d in subjects),
        started_at=at,
        finished_at=at,
        policy={"source": "<test>"},
    )


Record = Callable[..., GateResult]
