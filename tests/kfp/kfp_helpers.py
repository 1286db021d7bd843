"""Helpers of the KFP tests: model samples built as bytes (never loaded), pipeline loading.

A plain module rather than ``conftest``: ``from conftest import ...`` can pick up another
folder's conftest when the whole suite runs.
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path
from types import ModuleType
from typing import Any

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


def gate_outputs(root: Path) -> dict[str, Any]:
    """The output artifacts a gate component writes, as KFP would hand them to ``python_func``."""
    from kfp import dsl

    out = root / "outputs"
    out.mkdir()
    return {
        "report_html": dsl.HTML(uri=str(out / "report_html")),
        "report_md": dsl.Markdown(uri=str(out / "report_md")),
        "report_json": dsl.Artifact(uri=str(out / "report_json")),
        "report_files": dsl.Artifact(uri=str(out / "report_files")),
        "metrics": dsl.Metrics(uri=str(out / "metrics")),
    }


def report_locations(outs: dict[str, Any], gate: str) -> dict[str, str]:
    """Where a component's JSON report says its reports are: the files of ``report_files``.

    KFP names an output file after the output (``report_html``), which a browser shows as
    text, so the reports name the copies with extensions in the ``report_files`` folder.
    """
    folder = outs["report_files"].uri
    return {
        "json": f"{folder}/{gate}-report.json",
        "markdown": f"{folder}/{gate}-report.md",
        "html": f"{folder}/{gate}-report.html",
    }


def iris_like_csv(*, broken: bool = False) -> str:
    """A small CSV of the example pipeline's columns; ``broken`` blanks and breaks values."""
    rows = [
        ["5.1", "3.5", "1.4", "0.2", "setosa"],
        ["7.0", "3.2", "4.7", "1.4", "versicolor"],
        ["6.3", "3.3", "6.0", "2.5", "virginica"],
    ]
    rows *= 40  # the suite wants at least 100 rows
    if broken:
        rows[0] = ["", *rows[0][1:]]  # sepal_length missing
        rows[1] = [*rows[1][:3], "-4.0", rows[1][4]]  # petal_width below zero
    header = "sepal_length,sepal_width,petal_length,petal_width,species"
    return "\n".join([header, *(",".join(row) for row in rows)]) + "\n"
