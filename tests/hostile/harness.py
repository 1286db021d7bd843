"""Run many ``mlsec-gates`` command lines in one process, each under a time limit.

``python -m tests.hostile.harness CASES.json RESULTS.json``: every case is an argv for
:func:`mlsec_gates.cli.main` (the function the ``mlsec-gates`` console script calls). Its
exit status, stdout, stderr and wall time are recorded; a call still running after the limit
is interrupted by ``SIGALRM`` (which also breaks a blocking ``open()`` of a FIFO) and
recorded as timed out. One process for all cases keeps the heavy imports (GX, pandas,
Evidently) to one start; the suite runs the real executable for a subset besides.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import time
import traceback
from typing import Any


class _TimedOut(BaseException):
    """Raised by the alarm; a BaseException so no ``except Exception`` swallows it."""


def _alarm(signum: int, frame: Any) -> None:
    raise _TimedOut


def run_case(argv: list[str], limit: int) -> dict[str, Any]:
    """Run one command line; never raises."""
    from mlsec_gates.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    timed_out = escaped = False
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(limit)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code: Any = main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code
    except _TimedOut:
        code, timed_out = None, True
    except BaseException:
        code, escaped = None, True
        err.write(traceback.format_exc())
    finally:
        signal.alarm(0)
    return {
        "argv": argv,
        "code": code,
        "stdout": out.getvalue()[-2000:],
        "stderr": err.getvalue()[-4000:],
        "seconds": round(time.monotonic() - started, 2),
        "timed_out": timed_out,
        "escaped": escaped,
    }


def main() -> int:
    cases_path, results_path = sys.argv[1], sys.argv[2]
    with open(cases_path, "rb") as fh:
        spec = json.load(fh)
    os.chdir(spec["cwd"])
    results = [
        run_case([os.fsdecode(os.fsencode(a)) for a in case], spec["limit"])
        for case in spec["cases"]
    ]
    with open(results_path, "w", encoding="utf-8") as fh:
        json.dump(results, fh, ensure_ascii=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
