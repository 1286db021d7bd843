"""Whole-process time of ``mlsec-gates scan`` next to ``picklescan``: start-up included.

Usage: ``python benchmarks/scan_cold_start.py [--repeat N] [--size-mb 100]``

A CI job scans one artefact per process, so what the user waits for is the whole process:
interpreter start, imports, the scan, the reports. Each tool runs ``--repeat`` times
(alternating, so load changes hit both) on

* ``small.pkl``: a 40-byte dict pickle (start-up dominates);
* ``bytes-heavy.pkl``: ~105 MB of float arrays, ``pickle.dumps`` protocol 4 (as in
  ``benchmarks/scan_speed.py``).

Commands: ``mlsec-gates scan FILE --report-dir DIR --no-cache`` (writes the JSON, Markdown,
HTML and SARIF reports, as users run it) and ``picklescan -p FILE``; plus ``python -c pass``
as the floor. One untimed warm-up run per tool writes the bytecode caches an installed
package has (``PYTHONDONTWRITEBYTECODE`` is removed from the children's environment).
Reported per input and tool: median wall and median CPU (user+sys of the child,
``os.wait4``), and the speed ratio picklescan/ours (>= 1 means we are faster). The load
average is printed: on a loaded machine wall times stretch, CPU times much less.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


#: Children run as an installed tool does: bytecode caches written and used (a development
#: shell often sets PYTHONDONTWRITEBYTECODE, which recompiles every module each start).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit code) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--size-mb", type=int, default=100)
    args = parser.parse_args(argv)
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="cold-") as tmp:
        root = Path(tmp)
        small = root / "small.pkl"
        small.write_bytes(pickle.dumps({"a": [1, 2, 3]}))
        rng = np.random.default_rng(0)
        big = root / "bytes-heavy.pkl"
        big.write_bytes(
            pickle.dumps(
                [rng.random(512 * 1024) for _ in range(max(1, args.size_mb // 4))], protocol=4
            )
        )
        tools = {
            "python -c pass": lambda f: [sys.executable, "-c", "pass"],
            "mlsec-gates": lambda f: [
                str(BIN / "mlsec-gates"),
                "scan",
                str(f),
                "--report-dir",
                str(root / "rep"),
                "--no-cache",
            ],
            "picklescan": lambda f: [str(BIN / "picklescan"), "-p", str(f)],
        }
        print(f"load average before: {os.getloadavg()}")
        for make in tools.values():  # warm-up: bytecode caches, page cache
            run(make(small))
        for path in (small, big):
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in tools}
            codes: dict[str, set[int]] = {name: set() for name in tools}
            for _ in range(args.repeat):
                for name, make in tools.items():
                    wall, cpu, code = run(make(path))
                    times[name].append((wall, cpu))
                    codes[name].add(code)
            size = path.stat().st_size / 1e6
            print(f"\n{path.name} ({size:.1f} MB), {args.repeat} runs each, medians:")
            med = {
                name: (
                    statistics.median(w for w, _ in runs),
                    statistics.median(c for _, c in runs),
                )
                for name, runs in times.items()
            }
            for name, (wall, cpu) in med.items():
                print(
                    f"  {name:<16} wall {wall:7.3f} s   cpu {cpu:7.3f} s   "
                    f"exit {sorted(codes[name])}"
                )
            ours, peer = med["mlsec-gates"], med["picklescan"]
            print(
                f"  speed ratio picklescan/mlsec-gates: wall {peer[0] / ours[0]:.2f}x, "
                f"cpu {peer[1] / ours[1]:.2f}x"
            )
        print(f"\nload average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
