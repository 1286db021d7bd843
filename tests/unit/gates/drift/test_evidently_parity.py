"""Per-column decisions equal Evidently 0.7's ``DataDriftPreset``, statistics to ~1e-6.

Small frames, both sides of the 1000-row switch, with and without drift, every method the
gate offers (``auto`` and the six named ones), numeric, integer, <=5-unique numeric, binary
and categorical-as-strings columns, with missing and infinite values. Evidently runs once
per (size, drift, method): a Report with ``include_tests=True``, whose per-column test
status is its decision and whose ``ValueDrift`` value is its statistic.
"""

from __future__ import annotations

from typing import Any

import pytest

from mlsec_gates.gates.drift.engine import DriftSettings, check_columns, summarise

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
pytest.importorskip("evidently")

# Evidently's own chisquare divides by zero for values new in current (as does ours, silenced)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

KINDS = {
    "normal": "numeric",
    "skewed": "numeric",
    "counts": "numeric",
    "few": "numeric",
    "binary": "numeric",
    "holes": "numeric",
    "city": "categorical",
    "flag": "categorical",
}
METHODS = ("auto", "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi")
EVIDENTLY_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
}


def frame(n: int, *, drift: bool, seed: int) -> Any:
    """A frame of every column shape; ``drift`` moves every column a visible amount."""
    rng = np.random.default_rng(seed)
    shift = 0.6 if drift else 0.0
    holes = rng.normal(shift, 1.0, n)
    holes[rng.random(n) < 0.1] = np.nan
    holes[:2] = [np.inf, -np.inf]
    cities = np.array(["Lyon", "Oslo", "Porto", "Riga", "Turku", "Gent"])
    city_p = [0.4, 0.2, 0.1, 0.1, 0.1, 0.1] if drift else [1 / 6] * 6
    city = rng.choice(cities, n, p=city_p).astype(object)
    city[rng.random(n) < 0.05] = None
    return pd.DataFrame(
        {
            "normal": rng.normal(shift, 1.0, n),
            "skewed": rng.exponential(1.0 + shift, n),
            "counts": rng.poisson(30 + 10 * shift, n),
            "few": rng.integers(0, 4, n).astype(float) + (rng.random(n) < shift / 2),
            "binary": (rng.random(n) < 0.5 + shift / 3).astype(int),
            "holes": holes,
            "city": city,
            "flag": rng.choice(["yes", "no"], n, p=[0.5 + shift / 2, 0.5 - shift / 2]),
        }
    )


def evidently_columns(ref: Any, cur: Any, method: str) -> dict[str, tuple[str, float, bool]]:
    """Evidently's (method, statistic, drifted) per column, from one preset run."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    numeric = [c for c, k in KINDS.items() if k == "numeric"]
    categorical = [c for c, k in KINDS.items() if k == "categorical"]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    if method == "auto":
        preset = DataDriftPreset()
    else:  # a named method applies to the kinds Evidently allows it on
        applies = {"ks": "num", "wasserstein": "num", "chisquare": "cat", "z": "cat"}
        side = applies.get(method)
        preset = DataDriftPreset(
            num_method=method if side in (None, "num") else None,
            cat_method=method if side in (None, "cat") else None,
        )
    snapshot = Report([preset], include_tests=True).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    data = snapshot.dict()
    values = {
        m["config"]["column"]: (m["config"]["method"], float(m["value"]))
        for m in data["metrics"]
        if m["config"]["type"].endswith("ValueDrift")
    }
    out = {}
    for test in data["tests"]:
        if test["id"] != "drift":
            continue
        column = test["metric_config"]["params"]["column"]
        name, value = values[column]
        out[column] = (EVIDENTLY_NAMES.get(name, name), value, test["status"] == "FAIL")
    return out


def ours(ref: Any, cur: Any, method: str) -> dict[str, Any]:
    kinds = dict(KINDS)
    checks = check_columns(summarise(ref, kinds), kinds, cur, DriftSettings(method=method))
    return {c.column: c for c in checks}


@pytest.mark.parametrize("drift", [False, True], ids=["same", "drifted"])
@pytest.mark.parametrize("n_ref", [400, 1500], ids=["small-ref", "large-ref"])
@pytest.mark.parametrize("method", METHODS)
def test_every_column_decision_equals_evidently(method: str, n_ref: int, drift: bool) -> None:
    ref = frame(n_ref, drift=False, seed=1)
    cur = frame(700, drift=drift, seed=2)
    theirs = evidently_columns(ref, cur, method)
    mine = ours(ref, cur, method)
    assert set(theirs) == set(mine) == set(KINDS)
    for column, (their_method, their_stat, their_drift) in theirs.items():
        check = mine[column]
        assert check.method == their_method, column
        assert check.drifted is their_drift, (column, check, their_stat)
        assert check.statistic == pytest.approx(their_stat, rel=1e-6, abs=1e-9), column


def test_the_cases_cover_both_decisions_and_every_method() -> None:
    """The parity test above would prove little if every column agreed on 'no drift'."""
    seen_methods, decisions = set(), set()
    for n_ref in (400, 1500):
        for drift in (False, True):
            ref, cur = frame(n_ref, drift=False, seed=1), frame(700, drift=drift, seed=2)
            for method in METHODS:
                for check in ours(ref, cur, method).values():
                    seen_methods.add(check.method)
                    decisions.add(check.drifted)
    assert seen_methods == set(METHODS) - {"auto"}
    assert decisions == {True, False}
