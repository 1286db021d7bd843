"""Helpers of the KFP tests: model samples built as bytes (never loaded), pipeline loading.

A plain module rather than ``conftest``: ``from conftest import ...`` can pick up another
folder's conftest when the whole suite runs.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
PIPELINES = REPO / "pipelines"


def clean_pickle() -> bytes:
    """A model-like pickle with no globals at all (dict, list, float, str)."""
    return pickle.dumps({"coef": [[0.25, -1.5], [2.0, 0.125]], "classes": ["a", "b"]}, protocol=4)


def os_system_pickle(command: bytes = b"echo pwned") -> bytes:
    """PROTO 2, GLOBAL os.system, BINUNICODE command, TUPLE1, REDUCE, STOP. Never loaded."""
    return b"\x80\x02cos\nsystem\nX" + len(command).to_bytes(4, "little") + command + b"\x85R."


def load_pipeline_module(path: Path) -> ModuleType:
    """Import a file of pipelines/ by path (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"pipelines_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
