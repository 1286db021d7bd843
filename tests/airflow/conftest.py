"""Fixtures for the Airflow adapter tests: sample model files and a fake task instance.

Samples come from the shared generators in :mod:`tests.fixtures.pickles`; none is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import pickles as fx


@pytest.fixture()
def clean_bytes() -> bytes:
    """Plain containers: no global is imported."""
    return fx.benign_dict_pickle()


@pytest.fixture()
def malicious_bytes() -> bytes:
    """A benign pickle followed by a second stream that calls ``os.system``."""
    return fx.payload_after_benign()


@pytest.fixture()
def clean_model(tmp_path: Path, clean_bytes: bytes) -> Path:
    path = tmp_path / "models" / "clean.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(clean_bytes)
    return path


@pytest.fixture()
def malicious_model(tmp_path: Path, malicious_bytes: bytes) -> Path:
    path = tmp_path / "models" / "malicious.pkl"
    path.parent.mkdir(parents=True)
    path.write_bytes(malicious_bytes)
    return path


class FakeTI:
    """Just enough of a task instance for ``execute()``: identity and ``xcom_push``."""

    def __init__(
        self,
        dag_id: str = "unit_dag",
        task_id: str = "scan",
        map_index: int = -1,
        try_number: int = 1,
    ):
        self.dag_id = dag_id
        self.task_id = task_id
        self.map_index = map_index
        self.try_number = try_number
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


@pytest.fixture()
def fake_context() -> dict[str, Any]:
    return {"ti": FakeTI(), "run_id": "manual__2026-01-01T00:00:00+00:00"}


@pytest.fixture()
def ec_keys(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway EC P-256 key pair: (private PEM, public PEM)."""
    from tests.fixtures.signing_keys import write_ec_key_pair

    return write_ec_key_pair(tmp_path / "keys")
