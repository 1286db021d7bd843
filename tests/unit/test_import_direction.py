"""Dependencies between core modules go one way (issue 13).

``ledger/store.py`` picks a backend and imports ``ledger/s3_store.py``; the S3 store imports
only the shared append types (``ledger/append.py``). ``policy.py`` reads files through
``storage.py``; storage never imports the policy (not even for type checking: it takes the
``storage.s3`` section through a protocol). Any import counts: top level, inside functions
and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "mlsec_gates"

FORBIDDEN = [
    ("ledger/s3_store.py", "mlsec_gates.ledger.store"),
    ("ledger/append.py", "mlsec_gates.ledger.store"),
    ("ledger/append.py", "mlsec_gates.ledger.s3_store"),
    ("storage.py", "mlsec_gates.policy"),
]


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize(("module", "forbidden"), FORBIDDEN)
def test_dependency_is_one_way(module: str, forbidden: str) -> None:
    imported = _imports(PACKAGE / module)
    assert not {name for name in imported if name == forbidden or name.startswith(forbidden + ".")}


def test_the_allowed_direction_is_still_used() -> None:
    """The guard checks something real: the reverse imports exist."""
    assert "mlsec_gates.ledger.s3_store" in _imports(PACKAGE / "ledger/store.py")
    assert "mlsec_gates.storage" in _imports(PACKAGE / "policy.py")
