"""Run the evaluation in a short-lived child process with resource limits.

Loading a model runs its code (unpickling) and its native libraries (onnxruntime, torch,
XGBoost); a model that the scanner passed can still crash, hang or eat memory. So the gate
never loads one itself: :func:`evaluate_isolated` runs :mod:`._worker` with ``python -I``
(no user site, no environment-controlled imports, no working-directory modules), a small
environment (one BLAS thread by default, a private ``HOME``), an address-space and CPU-time
limit set by the child on itself, and a wall-clock timeout enforced here. A crash, a kill
or a timeout raises :class:`WorkerFailed`; the gate turns it into an ``error``.

The budget is CPU time (the checks size their work to the child's CPU clock), so the verdict
does not depend on the machine's load. The hard CPU limit is the startup allowance plus twice
the budget, per thread; the wall-clock timeout is :data:`WALL_FACTOR` times that, a safety net
for a model that blocks without using CPU (sleeps, waits on a lock) or a machine so loaded that
the child barely runs. Both fail closed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

#: CPU seconds the child gets for imports, loading the model and reading the data.
STARTUP_SECONDS = 90
#: Wall-clock timeout, as a multiple of the child's CPU allowance (startup + 2 x budget).
WALL_FACTOR = 5
#: Environment variables passed through to the child (OpenBLAS correctness settings).
_PASS_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "PATH", "LANG", "LD_LIBRARY_PATH")


class WorkerFailed(Exception):
    """The child crashed, was killed, timed out or answered something that is not JSON."""


def worker_command(job: str) -> list[str]:
    """The exact argv of the evaluation child for a job file."""
    return [sys.executable, "-I", "-m", "mlsec_gates.gates.model_eval._worker", job]


def evaluate_isolated(
    *,
    model: str,
    data: str,
    label_column: str,
    sensitive_columns: list[str],
    settings: dict[str, Any],
    workdir: str,
    budget_seconds: float,
    memory_mb: int,
    threads: int,
) -> dict[str, Any]:
    """The child's JSON answer for a local model file and data file (see :mod:`._worker`).

    Raises:
        WorkerFailed: the child died on a signal (a memory or CPU limit, a native crash),
            exceeded the wall-clock timeout, or left no readable answer.
    """
    allowance = STARTUP_SECONDS + 2 * budget_seconds
    timeout = WALL_FACTOR * allowance
    job = Path(workdir) / "job.json"
    answer = Path(workdir) / "answer.json"
    job.write_text(
        json.dumps(
            {
                "model": model,
                "data": data,
                "label_column": label_column,
                "sensitive_columns": sensitive_columns,
                "settings": settings,
                "budget_seconds": budget_seconds,
                "cpu_seconds": int(allowance * threads) + 10,
                "memory_bytes": memory_mb * 1024 * 1024,
                "threads": threads,
                "answer": str(answer),
            }
        ),
        encoding="utf-8",
    )
    env = {name: os.environ[name] for name in _PASS_THROUGH if name in os.environ}
    env.update(
        {
            "HOME": workdir,
            "OMP_NUM_THREADS": str(threads),
            "OPENBLAS_NUM_THREADS": str(threads),
            "MKL_NUM_THREADS": str(threads),
            "PYTHONHASHSEED": "0",
        }
    )
    try:
        proc = subprocess.run(
            worker_command(str(job)),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            env=env,
            cwd=workdir,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise WorkerFailed(
            f"the evaluation was stopped after {timeout:.0f} s of wall-clock time (the budget "
            f"is {budget_seconds:g} s of CPU time: a model that blocks, or an overloaded machine)"
        ) from None
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = str(-proc.returncode)
        hint = " (CPU-time limit)" if name == "SIGXCPU" else ""
        raise WorkerFailed(f"the evaluation process was killed by {name}{hint}")
    if proc.returncode or not answer.exists():
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise WorkerFailed(
            f"the evaluation process exited with status {proc.returncode}: {tail[0][:300]}"
        )
    try:
        body = json.loads(answer.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise WorkerFailed(f"the evaluation process answered garbage: {exc}") from None
    if not isinstance(body, dict):
        raise WorkerFailed("the evaluation process answered garbage: not an object")
    return body
