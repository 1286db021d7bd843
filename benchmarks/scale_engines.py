"""Validate and drift at scale: Spark local[2] on 20M x 20 vs the in-memory engine, side by side.

``python benchmarks/scale_engines.py [--rows 20000000] [--local-rows 2000000]`` runs each
scenario in its own process and prints wall time, CPU time (user+sys of the whole process
tree, the Spark JVM included) and the peak resident memory of that tree, sampled every
0.2 s (for Spark: the Python driver plus the local-mode JVM, i.e. the whole "driver"):

- ``spark-validate``: the validate gate, GX's Spark datasource, on the big Parquet file;
- ``spark-drift``: the drift gate (Spark engine) between the big reference and current files;
- ``local-validate`` / ``local-drift``: the in-memory engine on ``--local-rows``, the largest
  size it handles within the same 2 GB budget, as the reference point;
- ``spark-validate-small`` / ``spark-drift-small``: Spark on the same ``--local-rows`` files,
  for per-row rates, with the verdicts and drift decisions compared to the in-memory run.

Data come from ``benchmarks/scale_data.py`` (generated once and reused). The suite is
profiled once from the small reference. The load of the machine is printed with the results:
timings on shared cores move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks._proctree import measure  # noqa: E402


def _policy(engine: str, gate: str) -> str:
    """The run's policy: the engine, local[2], and any ``--conf`` from the parent (JSON)."""
    conf = json.loads(os.environ.get("MLSEC_BENCH_SPARK_CONF") or "{}")
    section = {"engine": engine}
    if gate == "drift":
        section["evidently_report"] = False
    spark = {"master": "local[2]", "conf": conf}
    return json.dumps({"gates": {gate: section}, "spark": spark})  # JSON is YAML


def run_one(kind: str, engine: str, ref: str, cur: str, suite: str, out_dir: str) -> None:
    """One scenario in this process; prints a JSON line."""
    if kind == "validate":
        from mlsec_gates.gates.validate import validate_gate

        result = validate_gate(
            ref, suite=suite, policy=_policy(engine, "validate"), report_dir=out_dir
        )
        failed = [f.rule_id for f in result.findings if f.severity > f.severity.INFO]
        print(
            json.dumps(
                {"status": result.status.value, "rows": result.metrics["rows"], "failed": failed}
            )
        )
        return
    from mlsec_gates.gates.drift import drift_gate

    result = drift_gate(cur, reference=ref, policy=_policy(engine, "drift"), report_dir=out_dir)
    decisions = {c["column"]: c["drifted"] for c in result.details["checks"]}
    stats = {c["column"]: c["statistic"] for c in result.details["checks"]}
    print(
        json.dumps(
            {
                "status": result.status.value,
                "rows": result.metrics["rows_current"],
                "summary": result.summary,
                "decisions": decisions,
                "stats": stats,
            }
        )
    )


def _suite(directory: Path, profiled_from: Path, rows: int) -> Path:
    """The suite profiled once from the small reference, its row-count band set to ``rows``.

    The profile's band describes the file it was profiled from; each size gets its own
    contract so the clean data pass on every size (and the engines do the same work).
    """
    import yaml

    profiled = directory / "suite.yaml"
    if not profiled.exists():
        from mlsec_gates.gates.validate.profile import profile_suite

        profile_suite(str(profiled_from), out=str(profiled), name="scale-bench")
    spec = yaml.safe_load(profiled.read_text())
    for entry in spec["expectations"]:
        if "expect_table_row_count_to_be_between" in entry:
            entry["expect_table_row_count_to_be_between"] = {
                "min_value": rows // 2,
                "max_value": rows * 2,
            }
    out = directory / f"suite-{rows}.yaml"
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out


def _line(name: str, r: dict) -> str:
    rows = r.get("rows") or 0
    per = f"{r['cpu_s'] / rows * 1e6:6.1f}" if rows else "     -"
    return (
        f"{name:22s} {rows / 1e6:5.0f}M {r['wall_s']:8.1f} {r['cpu_s']:8.1f} {per} "
        f"{r['peak_mb']:6d} {r.get('peak_jvm_mb', 0):6d} {r.get('peak_python_mb', 0):6d}  "
        f"{r.get('status')!s:6s} {r.get('load_mean', 0):5.1f}"
    )


HEADER = (
    f"{'scenario':22s} {'rows':>6s} {'wall s':>8s} {'cpu s':>8s} {'s/1M':>6s} "
    f"{'peakMB':>6s} {'jvmMB':>6s} {'pyMB':>6s}  {'status':6s} {'load':>5s}"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--local-rows", type=int, default=2_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mlsec-scale-bench"))
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument(
        "--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark conf"
    )
    parser.add_argument("--tag", default="", help="suffix of the scenario names in the results")
    parser.add_argument("--one", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(*args.one)
        return
    from benchmarks.scale_data import generate

    big_ref, big_cur = generate(args.rows, args.dir)
    small_ref, small_cur = generate(args.local_rows, args.dir)
    suites = {n: _suite(args.dir, small_ref, n) for n in (args.rows, args.local_rows)}
    scenarios = {
        "local-validate": ("validate", "local", small_ref, small_cur, args.local_rows),
        "spark-validate-small": ("validate", "spark", small_ref, small_cur, args.local_rows),
        "spark-validate": ("validate", "spark", big_ref, big_cur, args.rows),
        "local-drift": ("drift", "local", small_ref, small_cur, args.local_rows),
        "spark-drift-small": ("drift", "spark", small_ref, small_cur, args.local_rows),
        "spark-drift": ("drift", "spark", big_ref, big_cur, args.rows),
    }
    conf = dict(item.split("=", 1) for item in args.conf)
    env = {**os.environ, "MLSEC_BENCH_SPARK_CONF": json.dumps(conf)}
    saved = args.dir / "scale_engines.json"
    results = json.loads(saved.read_text()) if saved.exists() else {}
    print(HEADER, flush=True)
    for name, (kind, engine, ref, cur, rows) in scenarios.items():
        if args.only and name not in args.only:
            continue
        out = str(args.dir / "reports" / name)
        argv = [sys.executable, __file__, "--one", kind, engine, str(ref), str(cur)]
        argv += [str(suites[rows]), out]
        key = name + args.tag
        results[key] = {**measure(argv, env=env), "conf": conf}
        print(_line(key, results[key]), flush=True)
        saved.write_text(json.dumps(results, indent=2))  # kept between (long) runs
    print("\nside by side (all results kept in", saved, ")")
    print(HEADER)
    for key, r in results.items():
        if "cpu_s" in r and "peak_jvm_mb" in r:
            print(_line(key, r))
    if "local-drift" in results and "spark-drift-small" in results:
        a, b = results["local-drift"], results["spark-drift-small"]
        same = a.get("decisions") == b.get("decisions")
        worst = max((abs(a["stats"][c] - b["stats"][c]) for c in a.get("stats", {})), default=None)
        print(
            f"drift decisions local vs spark on {args.local_rows} rows: equal={same}, "
            f"largest statistic difference {worst}"
        )


if __name__ == "__main__":
    main()
