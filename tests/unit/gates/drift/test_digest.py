"""The drift report's plain-language top: headline, rounded numbers, one fix, signal wording."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from mlsec_gates.gates.drift import digest
from mlsec_gates.gates.drift.poison.outcome import Suspect


def test_headline_says_what_happened_in_words() -> None:
    text = digest.headline_for(
        rows=150, drifted=[], columns=4, suspects=14, kinds={"label_consistency": 14}, alarm=True
    )
    assert text == "14 of 150 rows look mislabeled."
    mixed = digest.headline_for(
        rows=5000,
        drifted=["income", "age"],
        columns=20,
        suspects=3,
        kinds={"duplicates": 2, "label_consistency": 1},
        alarm=True,
    )
    assert mixed.startswith("3 of 5,000 rows look poisoned (2 repeat earlier rows, 1 carry")
    assert "2 of 20 columns drifted (income, age), under the 50% dataset-drift share" in mixed
    assert digest.headline_for(rows=10, drifted=[], columns=3, suspects=0, kinds={}) == (
        "No drift in 3 columns of 10 rows."
    )


def test_numbers_are_rounded_to_what_matters() -> None:
    assert digest.fmt(0.123456) == "0.123"
    assert digest.fmt(12345.678) == "12,346"
    assert digest.fmt(0.0000123) == "1.23e-05"
    assert digest.fmt(None) == "-"
    assert digest.fmt_p(5e-101) == "p < 0.001"
    assert digest.fmt_p(0.0312) == "p = 0.031"


def test_suspects_table_has_values_label_and_expected_label() -> None:
    frame = pd.DataFrame({"x": [0.123456, 2.0], "colour": ["red", None], "y": ["a", "b"]})
    suspects = [
        Suspect(
            1,
            0.9,
            "label 'b' unlikely (0.02); the reference model expects 'a' (0.98)",
            "label_consistency",
            p=0.01,
            label="b",
            expected="a",
            expected_p=0.98,
        ),
    ]
    section = digest.suspects_section(suspects, frame, "y", ["x", "colour"], 1)
    assert section["columns"] == ["row", "y", "model expects (probability)", "why", "x", "colour"]
    assert section["rows"] == [[1, "b", "a (0.98)", suspects[0].reason, "2", None]]
    # a sample pulled by Spark or SQL: values from the sample, the row named in the batch
    sampled = digest.suspects_section(
        suspects, frame, "y", ["x", "colour"], 1, positions=[70_001, 912_345]
    )
    assert sampled["rows"] == [[912_345, "b", "a (0.98)", suspects[0].reason, "2", None]]


def test_headline_says_when_the_detectors_saw_a_sample() -> None:
    text = digest.headline_for(
        rows=20_000_000,
        sampled=200_000,
        drifted=[],
        columns=4,
        suspects=14,
        kinds={"label_consistency": 14},
        alarm=True,
    )
    assert text == "14 of 200,000 sampled rows (of 20,000,000) look mislabeled."


def test_one_fix_per_gate_by_what_was_found() -> None:
    assert (
        digest.what_to_do(alarm=True, dataset=True, warned=False, incomplete=False)
        == (digest.WHAT_TO_DO["poison"])
    )
    assert (
        digest.what_to_do(alarm=False, dataset=False, warned=True, incomplete=False)
        == (digest.WHAT_TO_DO["warn"])
    )
    assert digest.what_to_do(alarm=False, dataset=False, warned=False, incomplete=False) == ""


def test_weak_signal_wording_never_contradicts_itself() -> None:
    weak = digest.signal_text(
        {"reference_balanced_accuracy": 0.63, "expected_flip_recall": 0.91, "weak_signal": True}
    )
    assert weak.startswith("Label checks are weak on this data")
    assert "0.63" in weak and "91" not in weak  # the high recall is not quoted as a promise
    strong = digest.signal_text(
        {"reference_balanced_accuracy": 0.97, "expected_flip_recall": 0.98, "weak_signal": False}
    )
    assert strong.startswith("Label checks are reliable on this data")


def test_drift_table_rounds_statistics() -> None:
    check = SimpleNamespace(
        column="income",
        method="wasserstein",
        statistic=0.2345678,
        threshold=0.1,
        p_value=False,
        drifted=True,
        note="",
    )
    table = digest.drift_section([check])
    assert table["rows"] == [["income", "wasserstein", "0.235", "0.1", ""]]
