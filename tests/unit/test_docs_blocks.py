"""Every code block of the docs: run it when it can run, else at least check it.

- A Python block runs when it is self-contained: every name it uses is defined in it (or a
  builtin) and every module it imports is installed. It runs in a folder holding the files
  the docs name (``models/``, ``gates.yaml``, ``train.parquet``, ``contract.yaml``,
  ``batch.parquet``, ``trusted.parquet``, ``docs/``), blocks of one page in order, so a
  block may use what an earlier one wrote (``reports/``). Other Python blocks must parse.
- A ``mlsec-gates ...`` command line must be accepted by the CLI's argument parser.
- A YAML block that is a policy must parse as one.
- The generated operator reference (docs/operators.md) must be what the code says.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from mlsec_gates.policy import Policy, parse_policy

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
_FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", flags=re.S | re.M)


def _blocks(lang: str) -> list[tuple[str, int, str]]:
    """``(page, index, code)`` of every ``lang`` block, dedented, in page order."""
    found = []
    for page in sorted(DOCS.glob("*.md")):
        blocks = [m for m in _FENCE.finditer(page.read_text()) if m.group(2) == lang]
        found += [(page.name, i, textwrap.dedent(m.group(3))) for i, m in enumerate(blocks)]
    return found


def _missing(code: str) -> set[str]:
    """Names the block uses without defining them, and modules it imports that are absent."""
    tree = ast.parse(code)
    defined = set(dir(builtins))
    used: set[str] = set()
    absent: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if module and not _installed(module):
                absent.add(module)
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
            defined.update(a.arg for a in node.args.args) if isinstance(
                node, ast.FunctionDef
            ) else None
        elif isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, ast.Store) else used).add(node.id)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    return (used - defined) | absent


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ModuleNotFoundError, ValueError):
        return False


PYTHON = _blocks("python")
RUNNABLE = [(page, i, code) for page, i, code in PYTHON if not _missing(code)]


@pytest.mark.parametrize(("page", "index", "code"), PYTHON, ids=[f"{p}#{i}" for p, i, _ in PYTHON])
def test_python_block_parses(page: str, index: int, code: str) -> None:
    ast.parse(code)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the docs' examples name, made from real data (iris) and a clean pickle."""
    import pickle

    import pandas as pd
    from sklearn.datasets import load_iris

    work = tmp_path_factory.mktemp("docs-examples")
    shutil.copytree(DOCS, work / "docs")
    (work / "models").mkdir()
    (work / "models" / "model.pkl").write_bytes(pickle.dumps({"coef": [0.5, -1.0]}, protocol=4))
    (work / "gates.yaml").write_text("version: 1\n")
    iris = load_iris(as_frame=True)
    frame = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame = frame.rename(columns={"target": "label"})
    train = frame.assign(species=iris.target_names[iris.target]).drop(columns="label")
    train.to_parquet(work / "train.parquet")
    (work / "contract.yaml").write_text((REPO / "dags" / "suites" / "iris.yaml").read_text())
    frame.iloc[::2].to_parquet(work / "trusted.parquet")
    frame.iloc[1::2].to_parquet(work / "batch.parquet")
    assert isinstance(pd.read_parquet(work / "batch.parquet"), pd.DataFrame)
    return work


def test_self_contained_blocks_run(workdir: Path) -> None:
    """The runnable blocks run, each with fresh globals, in one interpreter (imports once)."""
    import json

    assert len(RUNNABLE) >= 6, [f"{p}#{i}" for p, i, _ in RUNNABLE]
    blocks = workdir / "blocks.json"
    blocks.write_text(json.dumps([[f"{p} block {i}", code] for p, i, code in RUNNABLE]))
    driver = (
        "import json, sys, traceback\n"
        "for name, code in json.load(open(sys.argv[1])):\n"
        "    try:\n"
        "        exec(compile(code, name, 'exec'), {'__name__': '__main__'})\n"
        "    except BaseException:\n"
        "        print(f'FAILED {name}:\\n{code}\\n{traceback.format_exc()}')\n"
        "        sys.exit(1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", driver, str(blocks)],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]


def _commands() -> list[tuple[str, str]]:
    found = []
    for lang in ("bash", "sh", "console", "text", ""):
        for page, _, code in _blocks(lang):
            for line in code.replace("\\\n", " ").splitlines():
                for part in re.split(r"&&|\|\||;|\|", line):
                    part = part.strip().removeprefix("$ ")
                    if part.startswith("mlsec-gates ") and " [" not in part:  # not a synopsis
                        found.append((page, part.split(" #")[0]))
    return found


COMMANDS = _commands()


@pytest.mark.parametrize(("page", "line"), COMMANDS, ids=[f"{p}:{c[:40]}" for p, c in COMMANDS])
def test_cli_lines_are_accepted(page: str, line: str) -> None:
    from mlsec_gates.cli import _parser

    try:
        _parser().parse_args(shlex.split(line)[1:])
    except SystemExit as exc:  # argparse rejects it
        pytest.fail(f"{page}: {line}: rejected by the CLI (exit {exc.code})")


def test_policy_blocks_parse() -> None:
    checked = 0
    for page, index, code in _blocks("yaml"):
        data = yaml.safe_load(code)
        if isinstance(data, dict) and data and set(data) <= set(Policy.model_fields):
            parse_policy(code, source=f"{page}#{index}")
            checked += 1
    assert checked >= 3


def test_operator_reference_matches_the_code() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_operator_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
