"""Time the validate gate against plain Great Expectations on the same data and suite.

Usage: python benchmarks/validate_speed.py [--rows N] [--repeat K] [--runs R] [--keep DIR]

Generates N rows x 20 columns (ids, numeric, categorical strings, a timestamp, some nulls and
a few deliberate violations; seeded numpy) as one Parquet file, and a 15-expectation suite as
GX JSON. Then, in one run, times:

* **GX direct**, the way a GX user writes it: ephemeral context, pandas datasource,
  ``pd.read_parquet`` + ``ValidationDefinition.run(result_format="SUMMARY")``;
* **ours**: ``validate_gate(parquet, suite=...)`` end to end, reports included.

Each side runs in its own child process (K per side, interleaved GX/ours so that background
load hits both alike); a child imports, then validates R times in a row. Peak memory is the
child's own ``ru_maxrss``, so the two sides never mix. Reported: median import time, median
first run (what a pipeline task pays: one validation per process), median later runs, median
peak RSS, and the overhead ``ours / GX - 1`` (goal: <= 10 %, notes section 6.2 V1).

``--profile`` additionally runs our gate once under cProfile in a child and prints the top
functions by cumulative time (only mlsec_gates frames and the big GX/pandas calls).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

COUNTRIES = ["DE", "FR", "US", "GB", "ES", "IT", "NL", "PL", "SE", "JP"]
CHANNELS = ["web", "ios", "android"]
STATUSES = ["ok", "pending", "refunded", "chargeback"]
FEATURES = [f"f{i}" for i in range(8)]
COLUMNS = [
    "row_id",
    "txn_id",
    "user_id",
    "event_time",
    "age",
    "income",
    "amount",
    "score",
    "country",
    "channel",
    "status",
    "n_items",
    "label",
    *FEATURES,
]


def make_data(rows: int, path: Path, seed: int = 7) -> None:
    """Write the benchmark table: 21 columns, ~2 % nulls in two columns, a few bad values."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    row_id = rng.permutation(rows).astype("int64")
    income = rng.lognormal(10.5, 0.6, rows)
    income[rng.random(rows) < 0.02] = np.nan
    channel = np.asarray(CHANNELS, dtype=object)[rng.integers(0, len(CHANNELS), rows)]
    channel[rng.random(rows) < 0.01] = None
    age = rng.integers(18, 91, rows).astype("int64")
    age[rng.choice(rows, size=max(rows // 100_000, 1), replace=False)] = 150  # violations
    frame = pd.DataFrame(
        {
            "row_id": row_id,
            "txn_id": pd.Series(row_id).map("txn-{:08d}".format).to_numpy(dtype=object),
            "user_id": rng.integers(0, max(rows // 20, 1), rows).astype("int64"),
            "event_time": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 86_400 * 90, rows), unit="s"),
            "age": age,
            "income": income,
            "amount": np.round(rng.gamma(2.0, 30.0, rows), 2),
            "score": rng.random(rows),
            "country": pd.Categorical.from_codes(
                rng.integers(0, len(COUNTRIES), rows), categories=COUNTRIES
            )
            .astype(str)
            .astype(object),
            "channel": channel,
            "status": np.asarray(STATUSES, dtype=object)[
                rng.choice(len(STATUSES), rows, p=[0.9, 0.05, 0.04, 0.01])
            ],
            "n_items": rng.poisson(2.0, rows).astype("int64") + 1,
            "label": (rng.random(rows) < 0.03).astype("int64"),
            **{name: rng.normal(0.0, 1.0, rows) for name in FEATURES},
        }
    )
    frame.to_parquet(path, index=False)


def make_suite(rows: int) -> dict:
    """A 15-expectation suite in GX JSON (``ExpectationSuite.to_json_dict()`` layout).

    Two expectations fail on purpose (age has 150s, channel has 1 % nulls against mostly=0.999)
    so that the report paths for failed expectations and unexpected samples are exercised.
    """

    def exp(kind: str, **kwargs: object) -> dict:
        return {"type": kind, "kwargs": kwargs, "meta": {}}

    expectations = [
        exp("expect_table_row_count_to_be_between", min_value=rows, max_value=rows),
        exp("expect_table_columns_to_match_set", column_set=COLUMNS, exact_match=True),
        exp("expect_column_values_to_not_be_null", column="row_id"),
        exp("expect_column_values_to_be_unique", column="row_id"),
        exp("expect_column_values_to_not_be_null", column="income", mostly=0.95),
        exp("expect_column_values_to_not_be_null", column="channel", mostly=0.999),
        exp("expect_column_values_to_be_between", column="age", min_value=18, max_value=120),
        exp("expect_column_values_to_be_between", column="score", min_value=0, max_value=1),
        exp("expect_column_values_to_be_in_set", column="country", value_set=COUNTRIES),
        exp("expect_column_values_to_be_in_set", column="status", value_set=STATUSES),
        exp("expect_column_values_to_match_regex", column="txn_id", regex=r"^txn-\d{8}$"),
        exp(
            "expect_column_values_to_be_in_type_list",
            column="amount",
            type_list=["float64", "float32", "FLOAT", "REAL", "DOUBLE", "DOUBLE_PRECISION"],
        ),
        exp("expect_column_mean_to_be_between", column="amount", min_value=50, max_value=70),
        exp("expect_column_stdev_to_be_between", column="f0", min_value=0.9, max_value=1.1),
        exp("expect_column_median_to_be_between", column="f1", min_value=-0.1, max_value=0.1),
    ]
    return {"name": "bench", "expectations": expectations, "meta": {}}


# --------------------------------------------------------------------------- child bodies
# Each child prints one JSON line on stdout: import time, per-run times, peak RSS, outcome.

_GX_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import great_expectations as gx
import pandas as pd
t_import = time.perf_counter() - t0
parquet, suite_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
suite_dict = json.loads(open(suite_path).read())
times, cpu, success, n_failed = [], [], None, None
for i in range(runs):
    t0, c0 = time.perf_counter(), time.process_time()
    ctx = gx.get_context(mode="ephemeral")
    batch_def = (
        ctx.data_sources.add_pandas("pd")
        .add_dataframe_asset("frame")
        .add_batch_definition_whole_dataframe("whole")
    )
    suite = ctx.suites.add(gx.ExpectationSuite(**suite_dict))
    vd = ctx.validation_definitions.add(
        gx.ValidationDefinition(name="vd", data=batch_def, suite=suite)
    )
    df = pd.read_parquet(parquet)
    res = vd.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")
    success = bool(res.success)
    n_failed = sum(not r.success for r in res.results)
    del df, res
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"import": t_import, "times": times, "cpu": cpu, "rss": rss, "success": success,
                  "failed": n_failed}))
"""

_OURS_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import great_expectations  # same import bill as the GX side, timed separately below
t_gx = time.perf_counter() - t0
from mlsec_gates.gates.validate import validate_gate
t_import = time.perf_counter() - t0
parquet, suite_path, runs, report_root = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
policy = sys.argv[5] if len(sys.argv) > 5 else None
times, cpu, status, n_failed = [], [], None, None
for i in range(runs):
    t0, c0 = time.perf_counter(), time.process_time()
    result = validate_gate(parquet, suite=suite_path, policy=policy,
                           report_dir=f"{report_root}/run-{i}")
    times.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
    status = result.status.value
    n_failed = len(result.findings)
    metrics = {k: v for k, v in result.metrics.items() if isinstance(v, (int, float, str, bool))}
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"import": t_import, "import_gx": t_gx, "times": times, "cpu": cpu, "rss": rss,
                  "status": status, "failed": n_failed, "metrics": metrics}))
"""

_PROFILE_CHILD = r"""
import cProfile, pstats, sys, io
import great_expectations
from mlsec_gates.gates.validate import validate_gate
parquet, suite_path, report_root, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
policy = sys.argv[5] if len(sys.argv) > 5 else None
validate_gate(parquet, suite=suite_path, policy=policy, report_dir=report_root + "/warm")
prof = cProfile.Profile()
prof.enable()
validate_gate(parquet, suite=suite_path, policy=policy, report_dir=report_root + "/prof")
prof.disable()
prof.dump_stats(out)
"""


def _child(code: str, *args: str) -> dict:
    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="child processes per side")
    parser.add_argument("--runs", type=int, default=2, help="validations per child process")
    parser.add_argument(
        "--policy",
        default=None,
        help="policy for our gate (path or inline YAML); default: the built-in defaults",
    )
    parser.add_argument("--keep", metavar="DIR", help="write the data and reports here")
    parser.add_argument("--profile", action="store_true", help="cProfile one run of our gate")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="validate-bench-") as tmp:
        work = Path(args.keep or tmp)
        work.mkdir(parents=True, exist_ok=True)
        parquet = work / "data.parquet"
        suite_path = work / "suite.json"
        t0 = time.perf_counter()
        make_data(args.rows, parquet)
        suite_path.write_text(json.dumps(make_suite(args.rows), indent=1))
        n_exp = len(make_suite(args.rows)["expectations"])
        print(
            f"data: {args.rows:,} rows x {len(COLUMNS)} columns, "
            f"{parquet.stat().st_size / 1e6:.1f} MB Parquet, {n_exp} expectations "
            f"(generated in {time.perf_counter() - t0:.1f} s)"
        )
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; "
            f"{args.repeat} child processes per side x {args.runs} runs each\n"
        )

        gx_runs: list[dict] = []
        our_runs: list[dict] = []
        extra = [args.policy] if args.policy else []
        for k in range(args.repeat):
            gx_runs.append(_child(_GX_CHILD, str(parquet), str(suite_path), str(args.runs)))
            our_runs.append(
                _child(
                    _OURS_CHILD,
                    str(parquet),
                    str(suite_path),
                    str(args.runs),
                    str(work / f"reports-{k}"),
                    *extra,
                )
            )

        g, o = _summary(gx_runs), _summary(our_runs)
        print(
            f"{'':<22} {'import':>7} {'1st run':>8} {'later':>7} "
            f"{'1st CPU':>8} {'later CPU':>9} {'peak RSS':>9}"
        )
        for label, m in (("GX direct (SUMMARY)", g), ("ours: validate_gate", o)):
            print(
                f"{label:<22} {m['import']:>6.2f}s {m['first']:>7.2f}s {m['later']:>6.2f}s "
                f"{m['first_cpu']:>7.2f}s {m['later_cpu']:>8.2f}s {m['rss']:>6.0f} MB"
            )
        print("(wall and CPU seconds are medians; 'later' = runs after the first in a process)\n")
        print(
            f"import great_expectations (median over the children of both sides): "
            f"{_med([r['import'] for r in gx_runs] + [r['import_gx'] for r in our_runs]):.2f} s;"
            f" + mlsec_gates.gates.validate: "
            f"{_med([r['import'] - r['import_gx'] for r in our_runs]):.2f} s"
        )
        print(
            f"GX outcome:  success={gx_runs[0]['success']}, "
            f"{gx_runs[0]['failed']} failed expectation(s)"
        )
        print(
            f"our outcome: status={our_runs[0]['status']}, {our_runs[0]['failed']} finding(s); "
            f"metrics={our_runs[0]['metrics']}\n"
        )
        for label, key in (
            ("1st run, wall", "first"),
            ("later runs, wall", "later"),
            ("1st run, CPU", "first_cpu"),
            ("later runs, CPU", "later_cpu"),
        ):
            ratio = o[key] / g[key] - 1
            verdict = "within the 10 % goal" if ratio <= 0.10 else "OVER the 10 % goal"
            print(f"overhead {label:<17} ours/GX - 1 = {ratio:+6.1%}  ({verdict})")
        ratio_e2e = (o["import"] + o["first"]) / (g["import"] + g["first"]) - 1
        print(f"overhead {'import + 1st run':<17} ours/GX - 1 = {ratio_e2e:+6.1%}")
        print(f"peak RSS {'':<17} ours/GX - 1 = {o['rss'] / g['rss'] - 1:+6.1%}\n")
        print("raw wall (s), GX:  ", [[round(t, 2) for t in r["times"]] for r in gx_runs])
        print("raw wall (s), ours:", [[round(t, 2) for t in r["times"]] for r in our_runs])

        if args.profile:
            _profile(parquet, suite_path, work / "reports-prof", work / "ours.prof", extra)
    return 0


def _summary(runs: list[dict]) -> dict[str, float]:
    return {
        "import": _med([r["import"] for r in runs]),
        "first": _med([r["times"][0] for r in runs]),
        "later": _med([t for r in runs for t in r["times"][1:]]),
        "first_cpu": _med([r["cpu"][0] for r in runs]),
        "later_cpu": _med([t for r in runs for t in r["cpu"][1:]]),
        "rss": _med([r["rss"] for r in runs]) / 2**20,
    }


# (label, path suffix, function name): where a validate_gate run spends its time.
_BREAKDOWN = (
    ("validate_gate, total", "mlsec_gates/gates/validate/__init__.py", "validate_gate"),
    ("  load policy", "mlsec_gates/gates/_common.py", "load_policy"),
    ("  parse + check suite", "mlsec_gates/gates/validate/suite.py", "load_suite"),
    ("  sha256 of the input", "mlsec_gates/storage.py", "sha256_of"),
    ("  read Parquet to pandas", "mlsec_gates/gates/validate/data.py", "_read_whole"),
    ("  GX: setup + run + describe", "mlsec_gates/gates/validate/engine.py", "_run_gx"),
    ("    new ephemeral context", "mlsec_gates/gates/validate/_gx.py", "new_context"),
    ("    ValidationDefinition.run", "great_expectations/core/validation_definition.py", "run"),
    (
        "    describe_dict",
        "great_expectations/core/expectation_validation_result.py",
        "describe_dict",
    ),
    ("  findings (failed expectations)", "mlsec_gates/gates/validate/engine.py", "_failed"),
    ("  merge GX result (masking)", "mlsec_gates/gates/validate/engine.py", "_merge"),
    ("  tool versions", "mlsec_gates/gates/_common.py", "tool_versions"),
    ("  write JSON/MD/HTML reports", "mlsec_gates/reports/__init__.py", "write_reports"),
)


def _profile(parquet: Path, suite: Path, reports: Path, out: Path, extra: list[str]) -> None:
    """cProfile one warm gate run in a child; print where the time goes and the top calls."""
    import pstats

    env = {**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": str(REPO)}
    subprocess.run(
        [
            sys.executable,
            "-c",
            _PROFILE_CHILD,
            str(parquet),
            str(suite),
            str(reports),
            str(out),
            *extra,
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    stats = pstats.Stats(str(out))
    table = stats.stats  # type: ignore[attr-defined]
    print(
        "\ncProfile of one warm validate_gate run (cumulative seconds; cProfile inflates "
        "Python-heavy code):"
    )
    total = None
    accounted = 0.0
    for label, suffix, func in _BREAKDOWN:
        cum = max(  # max, not sum: describe_dict calls itself per expectation
            (
                v[3]
                for (file, _line, name), v in table.items()
                if file.endswith(suffix) and name == func
            ),
            default=0.0,
        )
        if total is None:
            total = cum
        elif "ValidationDefinition.run" in label or "read Parquet" in label:
            accounted += cum
        print(f"  {label:<34} {cum:7.3f} s" + (f"  ({cum / total:5.1%})" if total else ""))
    if total:
        rest = total - accounted
        print(f"  {'=> wrapper (all but read + GX run)':<34} {rest:7.3f} s  ({rest / total:5.1%})")
    print("\ntop 15 mlsec_gates functions by cumulative time:")
    stats.sort_stats("cumulative").print_stats("mlsec_gates", 15)


if __name__ == "__main__":
    sys.exit(main())
