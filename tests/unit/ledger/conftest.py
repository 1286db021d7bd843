"""Fixtures of the ledger tests: a checkpoint key pair and a local ledger to record into."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlsec_gates.ledger import record_result
from mlsec_gates.policy import LedgerPolicy
from mlsec_gates.result import GateResult
from mlsec_gates.storage import Storage
from tests.unit.ledger.helpers import KeyPair, Record, make_result, write_key_pair


@pytest.fixture()
def keys(tmp_path: Path) -> KeyPair:
    """A P-256 checkpoint key pair (PEM files)."""
    return write_key_pair(tmp_path / "keys", "checkpoint")


@pytest.fixture()
def ledger_path(tmp_path: Path) -> str:
    return str(tmp_path / "ledger" / "ledger.jsonl")


@pytest.fixture()
def record(ledger_path: str, keys: KeyPair) -> Record:
    """Append a result to the local test ledger, checkpointing every 3 entries."""

    def _record(
        result: GateResult | None = None,
        *,
        run_context: dict[str, str] | None = None,
        uri: str | None = None,
        every: int = 3,
    ) -> GateResult:
        policy = LedgerPolicy(
            uri=uri or ledger_path, checkpoint_every=every, checkpoint_key=keys.private
        )
        return record_result(
            result or make_result(), policy=policy, storage=Storage(), run_context=run_context
        )

    return _record
