"""Each poisoning detector finds its attack on a small case and stays quiet on a clean one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlsec_gates.gates.drift.poison import PoisonReference, assess, fit_reference
from mlsec_gates.policy import PoisonPolicy

NUMERIC = ["a", "b", "c", "d"]
SETTINGS = PoisonPolicy()


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    frame = pd.DataFrame(x, columns=NUMERIC)
    frame["colour"] = rng.choice(["red", "green", "blue"], size=n)
    frame["y"] = np.where(x[:, 0] + x[:, 1] > 0, "yes", "no")
    return frame


@pytest.fixture(scope="module")
def reference() -> PoisonReference:
    return fit_reference(
        _frame(500, 0), label="y", numeric=NUMERIC, categorical=["colour"], settings=SETTINGS
    )


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return _frame(500, 1)


def _outcome(result, name):
    return next(o for o in result.outcomes if o.name == name)


def _rows(outcome) -> set[int]:
    return {s.row for s in outcome.suspects}


def test_clean_batch_raises_no_alarm(reference: PoisonReference, clean: pd.DataFrame) -> None:
    result = assess(reference, clean, uri="clean.csv", settings=SETTINGS)
    assert not result.alarm, [o.summary for o in result.outcomes if o.alarm]
    assert len(result.suspects) <= 5
    assert result.findings == ()
    assert not result.detectability["weak_signal"]


def test_label_consistency_finds_flips(reference: PoisonReference, clean: pd.DataFrame) -> None:
    batch = clean.copy()
    rows = np.random.default_rng(2).choice(len(batch), 40, replace=False)
    batch.loc[rows, "y"] = batch.loc[rows, "y"].map({"yes": "no", "no": "yes"})
    result = assess(reference, batch, uri="b.csv", settings=SETTINGS)
    outcome = _outcome(result, "label_consistency")
    assert outcome.alarm
    found = _rows(outcome)
    assert len(found & set(rows)) >= 32
    assert len(found & set(rows)) / len(found) >= 0.75
    assert any(f.rule_id == "drift.poison.label-consistency" for f in result.findings)
    evidence = [s.p for s in result.suspects]  # strongest evidence first
    assert evidence == sorted(evidence) and max(evidence) <= SETTINGS.suspect_fdr
    flipped = next(s for s in result.suspects if s.row in set(rows))
    assert flipped.label in ("yes", "no") and flipped.expected != flipped.label


def test_spike_finds_in_bounds_trigger(reference: PoisonReference, clean: pd.DataFrame) -> None:
    batch = clean.copy()
    pool = np.nonzero(batch["y"].to_numpy() == "no")[0]
    rows = np.random.default_rng(3).choice(pool, 25, replace=False)
    batch.loc[rows, ["c", "d"]] = 0.1234  # in-bounds values, labels unrelated to c and d
    batch.loc[rows, "y"] = "yes"
    result = assess(reference, batch, uri="b.csv", settings=SETTINGS)
    outcome = _outcome(result, "value_label_spike")
    assert outcome.alarm
    assert set(rows) <= _rows(outcome)
    assert len(_rows(outcome) - set(rows)) <= 2
    assert any(cell["feature"] in ("c", "d") for cell in outcome.details["excess_cells"])


def test_duplicates_find_label_changed_copies(
    reference: PoisonReference, clean: pd.DataFrame
) -> None:
    copies = clean.iloc[:20].copy()
    copies["y"] = copies["y"].map({"yes": "no", "no": "yes"})
    batch = pd.concat([clean, copies], ignore_index=True)
    result = assess(reference, batch, uri="b.csv", settings=SETTINGS)
    outcome = _outcome(result, "duplicates")
    assert outcome.alarm and outcome.details["conflict_alarm"]
    assert _rows(outcome) == set(range(500, 520))  # only the later copies
    assert any(f.rule_id == "drift.poison.conflicting-duplicates" for f in result.findings)


def test_duplicates_find_near_copy_flood(reference: PoisonReference, clean: pd.DataFrame) -> None:
    rng = np.random.default_rng(4)
    copies = clean.iloc[[0, 1, 2] * 10].copy()
    copies[NUMERIC] += rng.normal(0, 1e-3, size=(30, 4))
    batch = pd.concat([clean, copies], ignore_index=True)
    outcome = _outcome(assess(reference, batch, uri="b.csv", settings=SETTINGS), "duplicates")
    assert outcome.details["repeat_alarm"]
    assert _rows(outcome) == set(range(500, 530))


def test_label_distribution_finds_a_moved_prior(
    reference: PoisonReference, clean: pd.DataFrame
) -> None:
    batch = clean.copy()
    no_rows = np.nonzero(batch["y"].to_numpy() == "no")[0][:60]
    batch.loc[no_rows, "y"] = "yes"
    result = assess(reference, batch, uri="b.csv", settings=SETTINGS)
    assert _outcome(result, "label_distribution").alarm
    assert _outcome(result, "class_conditional").alarm


def test_unseen_label_is_a_suspect_and_shifts_the_distribution(
    reference: PoisonReference, clean: pd.DataFrame
) -> None:
    batch = clean.copy()
    batch.loc[:24, "y"] = "maybe"
    result = assess(reference, batch, uri="b.csv", settings=SETTINGS)
    assert _outcome(result, "label_distribution").alarm
    assert set(range(25)) <= {s.row for s in result.suspects}
    assert "never seen" in next(s for s in result.suspects if s.row == 0).reason


def test_weak_signal_is_reported_not_hidden() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=["a", "b", "c"])
    frame["y"] = rng.integers(0, 2, size=400)
    ref = fit_reference(
        frame, label="y", numeric=["a", "b", "c"], categorical=[], settings=SETTINGS
    )
    assert ref.detectability["weak_signal"]
    assert ref.detectability["expected_flip_recall"] < 0.5
    result = assess(ref, frame.iloc[:200], uri="b.csv", settings=SETTINGS)
    assert any(f.rule_id == "drift.poison.weak-signal" for f in result.findings)


def test_only_selected_detectors_run(reference: PoisonReference, clean: pd.DataFrame) -> None:
    settings = PoisonPolicy(detectors=("duplicates",))
    result = assess(reference, clean, uri="b.csv", settings=settings)
    assert [o.name for o in result.outcomes] == ["duplicates"]
    assert result.outcomes[0].threshold == pytest.approx(settings.false_alarm_rate)


def test_copies_of_reference_rows_are_found_across_dtypes_and_missing_values() -> None:
    """A copied row is a copied row: NaN vs None, int vs float, "1" vs 1 do not hide it."""
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(0, 1000, size=n),
            "c": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "k": rng.choice([1, 2, 3], size=n).astype(object),
        }
    )
    frame.loc[rng.random(n) < 0.1, "k"] = np.nan
    frame["y"] = np.where(frame["a"] > 0, 1, 0)
    ref = fit_reference(
        frame, label="y", numeric=["a", "b", "c"], categorical=["k"], settings=SETTINGS
    )
    batch = pd.DataFrame(
        {
            "a": rng.normal(size=300),
            "b": rng.integers(0, 1000, size=300),
            "c": rng.normal(size=300),
            "k": rng.choice([1, 2, 3], size=300).astype(object),
        }
    )
    batch["y"] = np.where(batch["a"] > 0, 1, 0)
    copies = frame.sample(n=15, random_state=1).copy()
    copies["y"] = 1 - copies["y"]
    copies["b"] = copies["b"].astype(float)  # another reader's dtype
    copies["k"] = copies["k"].map(lambda v: None if pd.isna(v) else str(v))  # text, None
    copies["y"] = copies["y"].astype(float)
    poisoned = pd.concat([batch, copies], ignore_index=True)
    result = assess(ref, poisoned, uri="b.csv", settings=SETTINGS)
    found = {s.row for s in result.suspects if "duplicates" in s.detector}
    assert set(range(300, 315)) <= found
    assert any(f.rule_id == "drift.poison.conflicting-duplicates" for f in result.findings)
