"""Every gate's CLI against hostile inputs: a verdict, or exit 2 with one line (issue 13).

Inputs (``tests/hostile/inputs.py``): a FIFO, a symbolic link loop, a dangling link, empty
and header-only files, a file whose name is not UTF-8, a YAML alias bomb and a
self-referencing alias, 100,000-deep JSON, 3,000-deep YAML, binary junk; folders holding a
symbolic link to a folder with a malicious pickle, an unreadable sub-folder, FIFOs and
looping or dangling links, and a malicious pickle under a non-UTF-8 name.

Each goes into every slot where a command reads a file or a folder: scan, validate,
validate-profile, drift, drift-profile, sbom, sign, verify, waive, ledger verify, lineage,
report, run and model-eval (its MODEL and --data slots). Every call must end within
:data:`LIMIT` seconds with exit 0 or 1 (a real verdict, no traceback) or exit 2 with exactly
one line on stderr; a hostile *model folder* must never pass scan, sign, verify, sbom, run
or model-eval.

Unreadable entries: CI runs as root, which reads through ``chmod 000``; the cases run under
``setpriv --bounding-set=-dac_override,-dac_read_search`` then (``tests/hostile/privilege.py``),
so permission bits apply to uid 0 as to anyone. The whole matrix runs in one child process
(``tests/hostile/harness.py``, which calls the same ``main()`` as the console script, with
an alarm per call); a sample of it also runs through the installed ``mlsec-gates`` executable.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.hostile import inputs
from tests.hostile.privilege import unprivileged_prefix

REPO = Path(__file__).resolve().parents[2]
LIMIT = 120
"""Seconds one call may take (bombs and deep inputs end in a few seconds on an idle core)."""

FP = "0123456789abcdef"

#: command -> file slots (``{X}`` is the hostile input, ``{o}`` a fresh output folder).
FILE_SLOTS: dict[str, list[str]] = {
    "scan": ["scan {X} --report-dir {o}", "scan {model} --policy {X} --report-dir {o}"],
    "validate": [
        "validate {X} --suite {suite} --report-dir {o}",
        "validate {data} --suite {X} --report-dir {o}",
    ],
    "validate-profile": ["validate-profile {X} --out {o}/suite.yaml"],
    "drift": ["drift --reference {data} --current {X} --report-dir {o}"],
    "drift-profile": ["drift-profile {X} --out {o}/ref.npz"],
    "sbom": [
        "sbom {X} --out {o}/bom.json --report-dir {o}",
        "sbom {model} --gate-report {X} --out {o}/bom.json --report-dir {o}",
    ],
    "sign": [
        "sign {X} --key {key} --out {o}/m.sig --report-dir {o}",
        "sign {model} --key {X} --out {o}/m.sig --report-dir {o}",
    ],
    "verify": [
        "verify {model} --signature {X} --public-key {pub} --report-dir {o}",
        "verify {model} --signature {sig} --public-key {X} --report-dir {o}",
    ],
    "waive": [
        f"waive {FP} --reason vendor-fix --approver alice --expires 2999-01-01 --waivers {{X}}"
    ],
    "ledger verify": ["ledger verify {X}"],
    "lineage": ["lineage {digest} --ledger {X}"],
    "report": ["report {X} --out {o}"],
    "run": ["run --policy {X} --report-dir {o}"],
    "model-eval": [
        "model-eval {X} --data {data} --label-column species --budget 10 --report-dir {o}",
        "model-eval {eval_model} --data {X} --label-column species --budget 10 --report-dir {o}",
    ],
}

#: command -> folder slots; a hostile folder must not pass these.
DIR_SLOTS: dict[str, str] = {
    "scan": "scan {X} --report-dir {o}",
    "sbom": "sbom {X} --out {o}/bom.json --report-dir {o}",
    "sign": "sign {X} --key {key} --out {o}/m.sig --report-dir {o}",
    "verify": "verify {X} --signature {sig} --public-key {pub} --report-dir {o}",
    "run": "run --policy {chain} --report-dir {o}",
    "report": "report {X} --out {o}",
    "model-eval": "model-eval {X} --data {data} --label-column species --report-dir {o}",
}
MUST_NOT_PASS = {"scan", "sbom", "sign", "verify", "run", "model-eval"}


def _argv(template: str, values: dict[str, str]) -> list[str]:
    return [part.format(**values) for part in template.split(" ")]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    root = tmp_path_factory.mktemp("hostile")
    hostile = inputs.build(root / "in")
    good = inputs.good_inputs(root / "good")
    cases: list[dict[str, Any]] = []
    n = 0
    for command, templates in FILE_SLOTS.items():
        for template in templates:
            for kind in inputs.FILE_KINDS:
                n += 1
                values = {**good, "X": hostile[kind], "o": str(root / "out" / str(n))}
                cases.append(
                    {
                        "command": command,
                        "kind": kind,
                        "dir": False,
                        "template": template,
                        "argv": _argv(template, values),
                    }
                )
    for command, template in DIR_SLOTS.items():
        for kind in inputs.DIR_KINDS:
            n += 1
            chain = root / "chains" / f"{n}.yaml"
            chain.parent.mkdir(exist_ok=True)
            chain.write_text(f"chain:\n  scan: {{targets: [{json.dumps(hostile[kind])}]}}\n")
            values = {
                **good,
                "X": hostile[kind],
                "o": str(root / "out" / str(n)),
                "chain": str(chain),
            }
            cases.append(
                {
                    "command": command,
                    "kind": kind,
                    "dir": True,
                    "template": template,
                    "argv": _argv(template, values),
                }
            )
    spec = root / "cases.json"
    spec.write_text(
        json.dumps({"cwd": str(root), "limit": LIMIT, "cases": [c["argv"] for c in cases]})
    )
    out = root / "results.json"
    try:
        subprocess.run(
            [
                *unprivileged_prefix(),
                sys.executable,
                "-m",
                "tests.hostile.harness",
                str(spec),
                str(out),
            ],
            cwd=REPO,
            check=True,
            timeout=LIMIT * len(cases),
        )
    finally:
        inputs.unlock(root / "in")
    results = json.loads(out.read_text())
    return [{**case, **result} for case, result in zip(cases, results, strict=True)]


def _problem(case: dict[str, Any]) -> str | None:
    """Why a case broke the contract, or None."""
    code, err = case["code"], case["stderr"]
    if case["timed_out"]:
        return f"no answer within {LIMIT} s"
    if case["escaped"] or "Traceback" in err:
        return "traceback: " + err.strip().splitlines()[-1]
    if code not in (0, 1, 2):
        return f"exit {code!r}"
    if code == 2 and len(err.strip().splitlines()) != 1:
        return f"exit 2 with {len(err.strip().splitlines())} stderr lines: {err[:300]!r}"
    if case["dir"] and case["command"] in MUST_NOT_PASS and code == 0:
        return "a hostile model folder passed"
    return None


def test_every_command_answers_every_hostile_input(matrix: list[dict[str, Any]]) -> None:
    broken = [
        f"{c['command']} [{c['template']}] x {c['kind']}: {why}"
        for c in matrix
        if (why := _problem(c))
    ]
    assert not broken, "\n".join(broken)


def test_the_matrix_covers_every_command_and_input(matrix: list[dict[str, Any]]) -> None:
    assert {c["command"] for c in matrix} == set(FILE_SLOTS)
    assert {c["kind"] for c in matrix} == set(inputs.FILE_KINDS) | set(inputs.DIR_KINDS)
    slowest = max(matrix, key=lambda c: c["seconds"])
    print(f"{len(matrix)} calls; slowest {slowest['seconds']} s: {slowest['argv'][:3]}")


def test_hostile_scan_folders_are_findings_not_errors(matrix: list[dict[str, Any]]) -> None:
    """The scan gate reports what it could not scan as findings (exit 1), never passes."""
    scans = {c["kind"]: c for c in matrix if c["dir"] and c["command"] in ("scan", "run")}
    for case in scans.values():
        assert case["code"] == 1, (case["argv"], case["stderr"])


@pytest.mark.parametrize(
    "kind, args",
    [
        ("fifo", ["validate", "{X}", "--suite", "{suite}"]),
        ("alias_bomb", ["scan", "{model}", "--policy", "{X}"]),
        ("deep_json", ["verify", "{model}", "--signature", "{X}", "--public-key", "{pub}"]),
        ("loop", ["sign", "{X}", "--key", "{key}"]),
        ("non_utf8_name", ["drift", "--reference", "{data}", "--current", "{X}"]),
        ("linked_folder", ["scan", "{X}"]),
        ("linked_folder", ["model-eval", "{X}", "--data", "{data}", "--label-column", "species"]),
        ("binary", ["model-eval", "{eval_model}", "--data", "{X}", "--label-column", "species"]),
    ],
)
def test_the_installed_executable_behaves_the_same(
    tmp_path: Path, kind: str, args: list[str]
) -> None:
    hostile = inputs.build(tmp_path / "in")
    good = inputs.good_inputs(tmp_path / "good")
    argv = [a.format(**good, X=hostile[kind]) for a in args]
    exe = Path(sys.executable).with_name("mlsec-gates")
    done = subprocess.run(
        [str(exe), *argv, "--report-dir", str(tmp_path / "r")],
        capture_output=True,
        timeout=LIMIT,
        cwd=tmp_path,
    )
    inputs.unlock(tmp_path / "in")
    err = done.stderr.decode("utf-8", "replace")
    assert b"Traceback" not in done.stderr
    assert done.returncode in (0, 1, 2), err
    if kind == "linked_folder" and args[0] == "scan":
        assert done.returncode == 1, err
    if args[0] == "model-eval":  # a hostile model folder or data: never a pass
        assert done.returncode != 0, err
    if done.returncode == 2:
        assert len(err.strip().splitlines()) == 1, err
