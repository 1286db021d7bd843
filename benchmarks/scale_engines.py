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
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def _tree(pid: int) -> tuple[int, dict[int, float]]:
    """Resident bytes of a process and all its descendants, and each one's CPU seconds.

    Read from /proc: the Spark JVM is a grandchild that the rusage of waited-for children
    would miss.
    """
    total = 0
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
            used = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
        cpu[int(entry)] = used
    stack, seen = [pid], {}
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        seen[p] = cpu.get(p, 0.0)
        stack.extend(children.get(p, []))
    return total, seen


def measure(argv: list[str]) -> dict[str, float]:
    """Run a child process; wall, CPU and peak RSS of its whole process tree."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    peak = [0]
    cpu: dict[int, float] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss, used = _tree(proc.pid)
            peak[0] = max(peak[0], rss)
            for pid, seconds in used.items():
                cpu[pid] = max(cpu.get(pid, 0.0), seconds)
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    done.set()
    sampler.join()
    wall = time.monotonic() - start
    result = json.loads(out.strip().splitlines()[-1]) if proc.returncode == 0 else {}
    return {
        "wall_s": wall,
        "cpu_s": sum(cpu.values()),
        "peak_mb": peak[0] / 1e6,
        "rc": proc.returncode,
        **result,
    }


def _policy(engine: str, gate: str) -> str:
    if gate == "drift":
        return (
            f"gates: {{drift: {{engine: {engine}, evidently_report: false}}}}\n"
            "spark: {master: 'local[2]'}"
        )
    return f"gates: {{validate: {{engine: {engine}}}}}\nspark: {{master: 'local[2]'}}"


def run_one(kind: str, engine: str, ref: str, cur: str, suite: str, out_dir: str) -> None:
    """One scenario in this process; prints a JSON line."""
    if kind == "validate":
        from mlsec_gates.gates.validate import validate_gate

        result = validate_gate(
            ref, suite=suite, policy=_policy(engine, "validate"), report_dir=out_dir
        )
        print(json.dumps({"status": result.status.value, "rows": result.metrics["rows"]}))
        return
    from mlsec_gates.gates.drift import drift_gate

    result = drift_gate(cur, reference=ref, policy=_policy(engine, "drift"), report_dir=out_dir)
    decisions = {c["column"]: c["drifted"] for c in result.details["checks"]}
    stats = {c["column"]: c["statistic"] for c in result.details["checks"]}
    print(json.dumps({"status": result.status.value, "decisions": decisions, "stats": stats}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--local-rows", type=int, default=2_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/mlsec-scale-bench"))
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    parser.add_argument("--one", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(*args.one)
        return
    from benchmarks.scale_data import generate

    big_ref, big_cur = generate(args.rows, args.dir)
    small_ref, small_cur = generate(args.local_rows, args.dir)
    suite = args.dir / "suite.yaml"
    if not suite.exists():
        from mlsec_gates.gates.validate.profile import profile_suite

        profile_suite(str(small_ref), out=str(suite), name="scale-bench")
    scenarios = {
        "local-validate": ("validate", "local", small_ref, small_cur),
        "spark-validate-small": ("validate", "spark", small_ref, small_cur),
        "spark-validate": ("validate", "spark", big_ref, big_cur),
        "local-drift": ("drift", "local", small_ref, small_cur),
        "spark-drift-small": ("drift", "spark", small_ref, small_cur),
        "spark-drift": ("drift", "spark", big_ref, big_cur),
    }
    results = (
        json.loads(saved.read_text()) if (saved := args.dir / "scale_engines.json").exists() else {}
    )
    for name, (kind, engine, ref, cur) in scenarios.items():
        if args.only and name not in args.only:
            continue
        out = str(args.dir / "reports" / name)
        argv = [sys.executable, __file__, "--one", kind, engine, str(ref), str(cur)]
        argv += [str(suite), out]
        load = os.getloadavg()[0]
        results[name] = {**measure(argv), "load_before": load, "load_after": os.getloadavg()[0]}
        r = results[name]
        print(
            f"{name:22s} wall {r['wall_s']:7.1f} s  cpu {r['cpu_s']:7.1f} s  "
            f"peak {r['peak_mb']:7.0f} MB  status {r.get('status')}  load {load:.1f}",
            flush=True,
        )
        saved.write_text(json.dumps(results, indent=2))  # kept between (long) runs
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
