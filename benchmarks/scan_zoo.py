"""False positives on the benign zoo, per family and half, side by side with the peer scanners.

Usage::

    python benchmarks/scan_zoo.py [ZOO_DIR ...] [--no-modelscan] [--no-fickling]
                                  [--failures tune|all|none]

Without ``ZOO_DIR`` it writes the project-venv zoo (``python -m tests.zoo.produce``, a few
minutes of CPU: every ``all_estimators()`` entry in 9 pickle/joblib forms, pipelines,
pandas, NumPy/SciPy, statsmodels, ONNX; a second, smaller run after importing
``airflow.models.dag`` as an Airflow task does, so dill hooks the pickler) into a temporary
directory and adds the committed zoos of the helper stacks (``tests/zoo/committed/*``: an
older NumPy 1.x / pandas 2.2 / scikit-learn 1.5 stack, a current pandas 3 stack with
XGBoost / LightGBM / CatBoost, and torch 2.13 with TorchScript, ``torch.export``, torch.fx
and Keras 3).

Every file is benign, so a cell counts the files a tool lets *pass*. Rows are stack/family;
columns per tool give ``passed/total`` for the tuning half, the held-out half (the split is a
hash of the object key, see :func:`tests.zoo.produce.half_of`) and the ``fresh`` half.
``--failures tune`` lists only tuning-half failures. History: the first held-out half was
looked at once the allowlist was frozen and showed four mechanisms (dill's ``_getattr`` and
``MethodType``, ``numpy.vectorize``, dateutil 4's ``_tzfile``); they were fixed, so that half
is spent, and the ``fresh`` family (objects written after that) is the untouched held-out.

- mlsec-gates: ``run_scan`` on each zoo directory (the gate, so an ONNX model's external
  data file is judged with the model that references it); block/quarantine = not passed.
- picklescan 1.0.5 (``scan_file_path``), fickling 0.1.12 (default scan, block at
  LIKELY_UNSAFE), modelscan 0.8.8 (CLI in its own venv, see ``benchmarks/scan_peers.py``):
  as in ``benchmarks/scan_peers.py``; an error counts as not passed, a skipped file as passed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

COMMITTED = REPO / "tests" / "zoo" / "committed"

Verdict = tuple[str, str]


def produce_project_zoo(out: Path) -> list[Path]:
    """Write the zoo of this venv (plain and inside an Airflow-like process) under ``out``."""
    roots = [out / "project", out / "project-airflow"]
    cmds = [
        [sys.executable, "-m", "tests.zoo.produce", str(roots[0]), "--stack", "project"],
        [
            sys.executable,
            "-m",
            "tests.zoo.produce",
            str(roots[1]),
            "--stack",
            "project-airflow",
            "--airflow",
            "--formats",
            "rotate",
            "--families",
            "sklearn-estimator,sklearn-pipeline,pandas,numpy,statsmodels,fresh",
        ],
    ]
    for cmd in cmds:
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"zoo producer failed: {proc.stderr[-2000:]}")
        print(
            f"{cmd[4]}: {proc.stdout.strip().splitlines()[-1]} ({time.perf_counter() - t0:.0f} s)"
        )
    return roots


def manifest_rows(root: Path) -> list[dict[str, str]]:
    """Manifest rows of one zoo directory, with ``root`` kept for locating files."""
    manifest = json.loads((root / "manifest.json").read_text())
    return [dict(row, root=str(root)) for row in manifest["files"]]


def ours(root: Path, rows: list[dict[str, str]]) -> dict[str, Verdict]:
    """The scan gate over one zoo directory; verdict and worst finding per file."""
    from mlsec_gates.gates.scan import run_scan
    from mlsec_gates.policy import Policy

    result = run_scan([str(root)], policy=Policy())
    worst: dict[str, str] = {}
    for finding in sorted(result.findings, key=lambda f: f.severity):
        worst[finding.location.uri] = f"{finding.rule_id}: {finding.message}"
    by_path = {Path(s.path).resolve(): s for s in result.subjects}
    out: dict[str, Verdict] = {}
    for row in rows:
        subject = by_path.get((root / row["path"]).resolve())
        if subject is None:
            out[row["path"]] = ("error", "not listed by the gate")
        else:
            out[row["path"]] = (subject.verdict, worst.get(subject.path, ""))
    return out


def per_file(tool, root: Path, rows: list[dict[str, str]]) -> dict[str, Verdict]:
    """A library peer file by file."""
    return {row["path"]: tool(root / row["path"]) for row in rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zoos", nargs="*", type=Path, help="zoo directories (manifest.json)")
    parser.add_argument("--no-modelscan", action="store_true")
    parser.add_argument("--no-fickling", action="store_true")
    parser.add_argument("--no-picklescan", action="store_true")
    parser.add_argument(
        "--failures",
        choices=("tune", "all", "none"),
        default="tune",
        help="list mlsec-gates' non-passing files of this half",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("NO_ANALYTICS", "1")
    tmp = None
    roots = list(args.zoos)
    if not roots:
        tmp = tempfile.TemporaryDirectory(prefix="zoo-")
        roots = produce_project_zoo(Path(tmp.name))
        roots += sorted(p for p in COMMITTED.iterdir() if (p / "manifest.json").exists())

    from benchmarks.scan_peers import fickling_default, modelscan_verdicts, picklescan

    tools = ["mlsec-gates"]
    if not args.no_picklescan:
        tools.append("picklescan")
    if not args.no_fickling:
        tools.append("fickling")
    if not args.no_modelscan:
        tools.append("modelscan")
    rows: list[dict[str, str]] = []
    verdicts: dict[str, dict[tuple[str, str], Verdict]] = {t: {} for t in tools}
    wall: dict[str, float] = dict.fromkeys(tools, 0.0)
    for root in roots:
        zoo_rows = manifest_rows(root)
        rows += zoo_rows
        for tool in tools:
            t0 = time.perf_counter()
            if tool == "mlsec-gates":
                got = ours(root, zoo_rows)
            elif tool == "picklescan":
                got = per_file(picklescan, root, zoo_rows)
            elif tool == "fickling":
                got = per_file(fickling_default, root, zoo_rows)
            else:
                got, _ = modelscan_verdicts(root, zoo_rows)
            wall[tool] += time.perf_counter() - t0
            for rel, verdict in got.items():
                verdicts[tool][(str(root), rel)] = verdict

    groups: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        groups[f"{row['stack']}/{row['family']}"].append(row)
    head = f"{'stack/family':<34} {'files':>6} | " + " | ".join(f"{t:^32}" for t in tools)
    print(
        f"\n{head}\n{'':<34} {'':>6} | "
        + " | ".join(f"{'tune':>10} {'held-out':>10} {'fresh':>10}" for _ in tools)
    )
    print("-" * len(head))

    def cell(tool: str, subset: list[dict[str, str]], half: str) -> tuple[int, int]:
        part = [r for r in subset if r["half"] == half]
        ok = sum(verdicts[tool][(r["root"], r["path"])][0] in ("pass", "skip") for r in part)
        return ok, len(part)

    halves = ("tune", "holdout", "fresh")
    totals = {t: {h: [0, 0] for h in halves} for t in tools}
    for name in sorted(groups):
        subset = groups[name]
        cells = []
        for tool in tools:
            parts = []
            for half in halves:
                ok, n = cell(tool, subset, half)
                totals[tool][half][0] += ok
                totals[tool][half][1] += n
                parts.append(f"{ok:>4}/{n:<5}")
            cells.append(" ".join(parts))
        print(f"{name:<34} {len(subset):>6} | " + " | ".join(cells))
    print("-" * len(head))
    cells = []
    for tool in tools:
        parts = [f"{totals[tool][h][0]:>4}/{totals[tool][h][1]:<5}" for h in halves]
        cells.append(" ".join(parts))
    print(f"{'total':<34} {len(rows):>6} | " + " | ".join(cells))
    print()
    for tool in tools:
        kinds: dict[str, int] = defaultdict(int)
        for verdict, _ in verdicts[tool].values():
            kinds[verdict] += 1
        rate = {h: 100.0 * totals[tool][h][0] / max(totals[tool][h][1], 1) for h in halves}
        every = sum(totals[tool][h][0] for h in halves)
        print(
            f"{tool:<12} pass rate all {100.0 * every / max(len(rows), 1):6.2f} %  "
            f"tune {rate['tune']:6.2f} %  held-out {rate['holdout']:6.2f} %  "
            f"fresh {rate['fresh']:6.2f} %"
            f"  wall {wall[tool]:7.1f} s  verdicts: "
            + ", ".join(f"{k}={n}" for k, n in sorted(kinds.items()))
        )
    if args.failures != "none":
        shown = [
            (r, verdicts["mlsec-gates"][(r["root"], r["path"])])
            for r in rows
            if (args.failures == "all" or r["half"] == "tune")
            and verdicts["mlsec-gates"][(r["root"], r["path"])][0] not in ("pass", "skip")
        ]
        print(f"\nmlsec-gates, not passed ({args.failures} half): {len(shown)}")
        for row, (verdict, why) in shown:
            print(f"  {verdict:<10} {row['stack']}/{row['path']}\n      {why[:220]}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
