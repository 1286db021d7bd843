"""Adapters stay thin: the logic lives in the gates, where it is tested once.

Habit 1 of docs/style: an operator's ``execute`` is at most 25 lines, a gate's ``run_gate``
and a CLI subcommand at most 15, and each calls exactly one gate function.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import textwrap

import pytest

from mlsec_gates import cli, operators
from mlsec_gates.operators.base import GateOperator


def _body_lines(func: object) -> int:
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    node = tree.body[0]
    assert isinstance(node, ast.FunctionDef)
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring does not count
    return body[-1].end_lineno - body[0].lineno + 1


def _gate_calls(func: object) -> list[str]:
    """Names called in ``func`` imported from the core (gates, ledger, chain, waivers, reports)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith(
            (
                "mlsec_gates.gates",
                "mlsec_gates.ledger",
                "mlsec_gates.chain",
                "mlsec_gates.waivers",
                "mlsec_gates.reports.combined",
            )
        )
        for alias in node.names
    }
    return [
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in imported
    ]


GATE_OPERATORS = [
    obj
    for obj in vars(operators).values()
    if inspect.isclass(obj) and issubclass(obj, GateOperator) and obj is not GateOperator
]


def test_there_are_gate_operators() -> None:
    assert GATE_OPERATORS, "no gate operator found: the test below would check nothing"
    assert {op.__name__ for op in GATE_OPERATORS} >= {
        "SbomGateOperator",
        "SignArtifactsOperator",
        "VerifySignatureGateOperator",
    }


def test_base_execute_is_a_screen() -> None:
    assert _body_lines(GateOperator.execute) <= 25


@pytest.mark.parametrize("op", GATE_OPERATORS, ids=lambda c: c.__name__)
def test_run_gate_is_one_gate_call(op: type[GateOperator]) -> None:
    assert _body_lines(op.run_gate) <= 15
    assert len(_gate_calls(op.run_gate)) == 1


def _cli_handlers() -> dict[str, object]:
    """Every subcommand's handler, found in the parser itself so a new command cannot slip by."""
    found: dict[str, object] = {}

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    handler = sub.get_default("handler")
                    if handler is not None:
                        found[f"{prefix}{name}"] = handler
                    walk(sub, f"{prefix}{name} ")

    walk(cli._parser(), "")
    return found


def test_cli_subcommands_are_one_gate_call() -> None:
    handlers = _cli_handlers()
    assert {"scan", "validate", "drift", "drift-profile", "run", "sbom", "sign", "verify"} <= set(
        handlers
    )
    for name, handler in handlers.items():
        assert _body_lines(handler) <= 15, name
        assert len(_gate_calls(handler)) == 1, name
