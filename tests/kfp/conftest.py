"""Fixtures of the KFP tests.

No ``__init__.py`` in this folder on purpose: it would make a package named ``kfp`` that
shadows the real one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kfp_helpers import clean_pickle, os_system_pickle


@pytest.fixture()
def clean_model(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "clean.pkl"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(clean_pickle())
    return path


@pytest.fixture()
def malicious_model(tmp_path: Path) -> Path:
    """A clean pickle followed by a second stream that calls os.system (stacked pickles)."""
    path = tmp_path / "models" / "tampered.pkl"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(clean_pickle() + os_system_pickle())
    return path


@pytest.fixture()
def local_root(tmp_path: Path) -> Path:
    """kfp.local with the current interpreter (editable mlsec-gates), raising on failure."""
    from kfp import local

    root = tmp_path / "pipeline_root"
    local.init(
        runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True
    )
    return root
