"""The checks' budget is CPU time of the evaluation process, not wall-clock time.

On a loaded worker a check gets fewer CPU seconds per wall second; with a wall-clock budget
it then did less work (the attack reached one row) and the verdict changed with the load.
These tests show that waiting does not consume the budget, that CPU use (also in other
threads) does, and that the wall-clock safety net still stops a child that never finishes.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest

from mlsec_gates.gates.model_eval import isolation
from mlsec_gates.gates.model_eval.checks import EvalContext
from mlsec_gates.gates.model_eval.checks.base import budget_clock, time_left
from mlsec_gates.gates.model_eval.checks.explain import ExplainabilityCheck
from mlsec_gates.gates.model_eval.model import LoadedModel, label_text
from mlsec_gates.policy import ModelEvalPolicy


def _spin(cpu_seconds: float) -> None:
    end = time.thread_time() + cpu_seconds
    while time.thread_time() < end:
        sum(range(1000))


def test_waiting_does_not_use_the_budget_and_computing_does() -> None:
    deadline = budget_clock() + 0.5
    time.sleep(1.0)  # a wall-clock budget would be spent twice over
    assert time_left(deadline) > 0.4
    wall = time.monotonic()
    while time_left(deadline) > 0:
        sum(range(1000))
        assert time.monotonic() - wall < 60, "busy work never exhausted the CPU budget"
    assert time_left(deadline) == 0


def test_cpu_used_by_other_threads_counts() -> None:
    before = budget_clock()
    worker = threading.Thread(target=_spin, args=(0.4,))
    worker.start()
    worker.join()
    assert budget_clock() - before >= 0.35


def test_a_slow_waiting_model_gets_its_full_work_within_a_cpu_budget() -> None:
    """A model that waits 50 ms per call (a remote scorer, a lock) costs wall time, not CPU.

    Permutation importance sizes its repeats to the budget left: on a 0.3 s wall-clock budget
    it could afford two of its five repeats; on CPU time the waits are free and it does all.
    """
    from sklearn.inspection import permutation_importance  # noqa: F401  (before the clock runs)

    def waiting(frame: pd.DataFrame) -> np.ndarray:
        time.sleep(0.05)
        return (frame["amount"].to_numpy() > 0).astype(int)

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"code": rng.integers(0, 3, 300).astype(float)})
    frame["amount"] = rng.normal(size=300)
    model = LoadedModel(
        kind="sklearn", classes=["0", "1"], features=["code", "amount"], _predict=waiting
    )
    settings = ModelEvalPolicy().model_dump(mode="json")
    ctx = EvalContext(
        model=model,
        frame=frame,
        y=label_text((frame["amount"] > 0).astype(int).to_numpy()),
        y_pred=model.predict(frame),
        sensitive=[],
        numeric=["code", "amount"],
        settings=settings,
        budget_seconds=0.3,
    )
    wall = time.monotonic()
    outcome = ExplainabilityCheck(settings["explainability"]).run(ctx, budget_clock() + 0.3)
    assert time.monotonic() - wall > 0.3  # it did overrun the budget on the wall clock
    assert outcome.details["repeats"] == settings["explainability"]["repeats"]
    assert outcome.details["rows"] == len(frame)
    assert outcome.details["importance"][0]["feature"] == "amount"


def test_a_child_that_blocks_is_stopped_by_the_wall_clock_safety_net(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child that uses no CPU never reaches its CPU limit; the wall timeout fails closed."""
    monkeypatch.setattr(isolation, "STARTUP_SECONDS", 0)
    monkeypatch.setattr(isolation, "WALL_FACTOR", 1)  # timeout = 1 x (0 + 2 x 0.5 s)
    monkeypatch.setattr(
        isolation,
        "worker_command",
        lambda job: [sys.executable, "-I", "-c", "import time; time.sleep(60)"],
    )
    wall = time.monotonic()
    with pytest.raises(isolation.WorkerFailed, match="wall-clock time"):
        isolation.evaluate_isolated(
            model="unused",
            data="unused",
            label_column="y",
            sensitive_columns=[],
            settings={},
            workdir=str(tmp_path),
            budget_seconds=0.5,
            memory_mb=512,
            threads=1,
        )
    assert time.monotonic() - wall < 30
