"""Rules every operator follows: constructors only store, light imports, provider metadata."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
import textwrap
from importlib import metadata, resources
from pathlib import Path

import pytest

import mlsec_gates.operators

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[2]
HEAVY = (
    "great_expectations",
    "evidently",
    "pandas",
    "pyarrow",
    "kfp",
    "fickling",
    "torch",
    "sklearn",
    "boto3",
    "numpy",
    "cyclonedx",
    "model_signing",
    "fairlearn",
    "art",
    "onnxruntime",
    "shap",
    "scipy",
)


def _operator_classes() -> list[type]:
    from airflow.sdk import BaseOperator

    found = {}
    for info in pkgutil.iter_modules(mlsec_gates.operators.__path__):
        module = importlib.import_module(f"mlsec_gates.operators.{info.name}")
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, BaseOperator)
                and obj.__module__ == module.__name__
            ):
                found[obj.__qualname__] = obj
    return sorted(found.values(), key=lambda c: c.__name__)


def _is_super_init(stmt: ast.stmt) -> bool:
    """``super().__init__(**kwargs)`` and nothing else."""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    call = stmt.value
    return (
        isinstance(call.func, ast.Attribute)
        and call.func.attr == "__init__"
        and isinstance(call.func.value, ast.Call)
        and isinstance(call.func.value.func, ast.Name)
        and call.func.value.func.id == "super"
        and not call.args
        and len(call.keywords) == 1
        and call.keywords[0].arg is None
    )


def _only_params_and_constants(node: ast.expr, params: set[str]) -> bool:
    """``x``, ``x or []``, constants: no call, no attribute access, no I/O."""
    allowed = (ast.Name, ast.Constant, ast.BoolOp, ast.Or, ast.Load, ast.List, ast.Tuple, ast.Dict)
    for sub in ast.walk(node):
        if not isinstance(sub, allowed):
            return False
        if isinstance(sub, ast.Name) and sub.id not in params:
            return False
    return True


def test_every_operator_is_checked() -> None:
    names = {cls.__name__ for cls in _operator_classes()}
    assert {
        "GateOperator",
        "ArtifactScanGateOperator",
        "DataValidationGateOperator",
        "SbomGateOperator",
        "SignArtifactsOperator",
        "VerifySignatureGateOperator",
    } <= names
    assert set(mlsec_gates.operators.__all__) >= names


def _constructor_problems(source: str) -> list[str]:
    """What in an ``__init__`` goes beyond ``super().__init__(**kwargs)`` and ``self.x = x``."""
    func = ast.parse(textwrap.dedent(source)).body[0]
    assert isinstance(func, ast.FunctionDef)
    params = {a.arg for a in func.args.kwonlyargs}
    problems = []
    if func.args.args[1:] or func.args.vararg:
        problems.append("arguments must be keyword-only")
    if func.args.kwarg is None:
        problems.append("**kwargs must be passed on to BaseOperator")
    body = list(func.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # docstring
    if not body or not _is_super_init(body[0]):
        problems.append("first statement must be super().__init__(**kwargs)")
    stored = set()
    for stmt in body[1:]:
        if not (
            isinstance(stmt, ast.Assign)
            and all(
                isinstance(t, ast.Attribute)
                and isinstance(t.value, ast.Name)
                and t.value.id == "self"
                for t in stmt.targets
            )
            and _only_params_and_constants(stmt.value, params)
        ):
            problems.append(f"not a plain store: {ast.unparse(stmt)}")
            continue
        stored |= {t.attr for t in stmt.targets}  # type: ignore[attr-defined]
    if stored != params:
        problems.append(f"arguments not stored under their own name: {sorted(params ^ stored)}")
    return problems


@pytest.mark.parametrize("cls", _operator_classes(), ids=lambda c: c.__name__)
def test_constructor_only_stores_arguments(cls: type) -> None:
    assert _constructor_problems(inspect.getsource(cls.__init__)) == []


def test_constructor_check_catches_work_in_init() -> None:
    source = """
    def __init__(self, *, targets, policy=None, **kwargs):
        super().__init__(**kwargs)
        self.targets = targets
        self.policy = load_policy(policy)
        if not targets:
            raise ValueError("no targets")
    """
    problems = _constructor_problems(source)
    assert "not a plain store: self.policy = load_policy(policy)" in problems
    assert any(p.startswith("not a plain store: if not targets") for p in problems)


_GUARD_SCRIPT = f"""
import importlib.util, json, sys

def heavy():
    return sorted(m for m in {HEAVY!r} if m in sys.modules)

import mlsec_gates.operators
after_operators = heavy()
for name in (
    "example_scan_model",
    "example_deploy_model",
    "example_gated_training",
    "example_existing_dag_with_gates",
):
    spec = importlib.util.spec_from_file_location(name, f"dags/{{name}}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.dag.dag_id == name
print(json.dumps({{"operators": after_operators, "example_dag": heavy()}}))
"""


def test_operators_and_example_dag_import_no_heavy_library() -> None:
    # A fresh interpreter: this pytest process has long since imported everything.
    proc = subprocess.run(
        [sys.executable, "-c", _GUARD_SCRIPT],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == {"operators": [], "example_dag": []}


def test_provider_entry_point_and_info() -> None:
    ours = [
        ep
        for ep in metadata.entry_points(group="apache_airflow_provider")
        if ep.value.startswith("mlsec_gates.")
    ]
    assert len(ours) == 1
    info = ours[0].load()()
    assert info["package-name"] == "mlsec-gates"
    assert info["name"] and info["description"]
    for link in info["extra-links"]:
        module, _, name = link.rpartition(".")
        assert hasattr(importlib.import_module(module), name), link
    for group in info.get("operators", []):
        for module in group["python-modules"]:
            importlib.import_module(module)


def test_provider_info_matches_airflow_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from mlsec_gates.operators.provider_info import get_provider_info

    schema_file = resources.files("airflow") / "provider_info.schema.json"
    schema = json.loads(schema_file.read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_airflow_discovers_the_provider() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "mlsec-gates" in manager.providers
    assert "mlsec_gates.operators.links.GateReportLink" in manager.extra_links_class_names
