"""Child process of the model-eval gate: load the model, run the checks, print JSON.

The gate (:mod:`.isolation`) runs ``python -I -m mlsec_gates.gates.model_eval._worker JOB``
on a private copy of a model file that the scan gate has just passed. This process caps its
own address space, CPU time and core dumps, loads the model (pickle/joblib, ONNX,
TorchScript), reads the evaluation data, runs the enabled checks and prints one JSON object:
``{"checks": [...], "model": {...}}``, or ``{"error": ..., "stage": ...}`` when the model
or the data cannot be used. Unpickling happens here and only here, so a model that does
damage while loading or predicting (a bug, a bomb, an exhausted memory) takes down this
process, not the gate or the Airflow worker.

The checks share ``budget_seconds`` of this process's CPU time (:func:`budget_clock`), not
wall time, so that a loaded machine slows the evaluation down without changing its verdict.
BLAS and OpenMP pools are held to ``threads`` (threadpoolctl) from the checks on, so the
CPU a check can spend per wall second, and hence its work per budget, does not depend on
how many cores the worker has.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from typing import Any


def _limit(cpu_seconds: int, memory_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def evaluate(job: dict[str, Any]) -> dict[str, Any]:
    """Load, predict, run the checks; the JSON answer (see the module docstring)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from mlsec_gates.gates.drift.data import read_frame
    from mlsec_gates.gates.model_eval.checks import CHECKS, EvalContext
    from mlsec_gates.gates.model_eval.checks.base import budget_clock
    from mlsec_gates.gates.model_eval.model import ModelLoadError, label_text, load_model

    frame, _ = read_frame(job["data"])
    label = job["label_column"]
    sensitive = list(job["sensitive_columns"])
    settings = job["settings"]
    candidates = list(settings["feature_columns"]) or [c for c in frame.columns if c != label]
    y = label_text(frame[label].to_numpy())
    model = None
    try:
        model = load_model(job["model"], features=candidates, label_values=sorted(set(y)))
        missing = [c for c in model.features if c not in frame.columns]
        if missing:
            return {
                "error": f"the model needs columns the data lacks: {missing[:10]}",
                "stage": "data",
            }
        y_pred = model.predict(frame)
    except ModelLoadError as exc:
        return {"error": str(exc), "stage": "load"}
    except Exception as exc:  # the model's own code failing on the data: cannot evaluate
        hint = ""
        if model is not None and not model.named_inputs and not settings["feature_columns"]:
            hint = (
                f" (the model does not record its input columns, so it got every column but "
                f"the label, {candidates[:10]}: set gates.model_eval.feature_columns to its "
                "inputs)"
            )
        return {
            "error": f"the model cannot predict the data: {type(exc).__name__}: {exc}{hint}",
            "stage": "predict",
        }
    numeric = [c for c in model.features if frame[c].dtype.kind in "iuf" and c != label]
    ctx = EvalContext(
        model=model,
        frame=frame,
        y=y,
        y_pred=y_pred,
        sensitive=sensitive,
        numeric=numeric,
        settings=settings,
        budget_seconds=job["budget_seconds"],
        seed=int(job.get("seed", 0)),
    )
    enabled = [c for c in CHECKS if settings[c.name]["enabled"]]
    checks = []
    start, cpu_start = time.monotonic(), budget_clock()
    # Libraries loaded with the model (LightGBM's OpenMP) are loaded by now, so they are held too.
    threadpool_limits(limits=int(job["threads"]))
    for index, check_type in enumerate(enabled):
        # Each check gets its share of what is left: CPU time a quick check saves goes on.
        left = job["budget_seconds"] - (budget_clock() - cpu_start)
        share = check_type.share / sum(c.share for c in enabled[index:])
        # At least half its nominal share, even after an earlier check overran.
        floor = job["budget_seconds"] * check_type.share / 2
        began = budget_clock()
        deadline = began + max(left * share, floor)
        try:
            outcome = check_type(settings[check_type.name]).run(ctx, deadline)
            outcome.cpu_seconds = budget_clock() - began
            checks.append(outcome.to_dict())
        except Exception as exc:  # a check that breaks is an incomplete evaluation
            checks.append(
                {
                    "check": check_type.name,
                    "decision": "error",
                    "statistic": None,
                    "threshold": None,
                    "error": f"{type(exc).__name__}: {exc}",
                    "trace": traceback.format_exc(limit=6)[-2000:],
                    "flags": [],
                    "details": {},
                }
            )
    classes, counts = np.unique(y, return_counts=True)
    return {
        "checks": checks,
        "model": {
            "kind": model.kind,
            "type": type(model.estimator).__name__ if model.kind != "onnx" else "onnx",
            "classes": model.classes,
            "features": model.features,
            "numeric_features": numeric,
            "rows": len(frame),
            "accuracy": round(float(np.mean(y == y_pred)), 6),
            "label_counts": {str(c): int(n) for c, n in zip(classes, counts, strict=True)},
            "queries": int(model.queries),
            "seconds": round(time.monotonic() - start, 3),
            "cpu_seconds": round(budget_clock() - cpu_start, 3),
        },
    }


def main(argv: list[str]) -> int:
    """Entry point: ``JOB`` (a JSON file written by the gate)."""
    with open(argv[0], encoding="utf-8") as fh:
        job = json.load(fh)
    _limit(int(job["cpu_seconds"]), int(job["memory_bytes"]))
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(job["threads"])
    try:
        answer = evaluate(job)
    except MemoryError:
        answer = {"error": "the evaluation ran out of its memory limit", "stage": "memory"}
    except Exception as exc:  # reading the data or an unforeseen failure: report, not crash
        answer = {
            "error": f"{type(exc).__name__}: {exc}",
            "stage": "worker",
            "trace": traceback.format_exc(limit=8)[-3000:],
        }
    with open(job["answer"], "w", encoding="utf-8") as fh:
        json.dump(answer, fh, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
