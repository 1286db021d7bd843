"""The poisoning reference: encoding, storable state without pickle, input errors."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from mlsec_gates.errors import ConfigError, InputError
from mlsec_gates.gates.drift.poison import PoisonReference, assess, fit_reference
from mlsec_gates.gates.drift.poison.rules import RULES
from mlsec_gates.policy import PoisonPolicy, parse_policy

SETTINGS = PoisonPolicy()


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    frame = pd.DataFrame(x, columns=["a", "b"])
    frame["shop"] = rng.choice(["s1", "s2", "s3"], size=n)
    frame["label"] = (x[:, 0] > 0).astype(int)
    return frame


def test_state_round_trips_through_npz_without_pickle() -> None:
    ref = fit_reference(
        _frame(300, 0), label="label", numeric=["a", "b"], categorical=["shop"], settings=SETTINGS
    )
    meta, arrays = ref.to_state()
    assert all(a.dtype != object for a in arrays.values())
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as stored:
        loaded = PoisonReference.from_state(json.loads(json.dumps(meta)), dict(stored))
    batch = _frame(300, 1)
    batch.loc[:29, "label"] = 1 - batch.loc[:29, "label"]
    first = assess(ref, batch, uri="b", settings=SETTINGS)
    again = assess(loaded, batch, uri="b", settings=SETTINGS)
    assert first.suspects == again.suspects
    assert [o.statistic for o in first.outcomes] == [o.statistic for o in again.outcomes]


def test_same_reference_and_seed_give_the_same_state() -> None:
    frame = _frame(200, 0)
    one = fit_reference(
        frame, label="label", numeric=["a", "b"], categorical=["shop"], settings=SETTINGS
    )
    two = fit_reference(
        frame, label="label", numeric=["a", "b"], categorical=["shop"], settings=SETTINGS
    )
    assert one.to_state()[0] == two.to_state()[0]
    for key, value in one.to_state()[1].items():
        np.testing.assert_array_equal(value, two.to_state()[1][key])


def test_unseen_category_and_float_labels_are_handled() -> None:
    ref = fit_reference(
        _frame(200, 0), label="label", numeric=["a", "b"], categorical=["shop"], settings=SETTINGS
    )
    batch = _frame(100, 1)
    batch["shop"] = "brand-new"
    batch["label"] = batch["label"].astype(float)  # 1.0 is the class "1"
    result = assess(ref, batch, uri="b", settings=SETTINGS)
    assert result.outcomes[3].name == "label_distribution"
    assert result.outcomes[3].details["unseen_label_rows"] == 0


def test_training_sample_is_bounded_and_stratified() -> None:
    frame = _frame(1000, 0)
    settings = PoisonPolicy(max_training_rows=200)
    ref = fit_reference(
        frame, label="label", numeric=["a", "b"], categorical=["shop"], settings=settings
    )
    meta, arrays = ref.to_state()
    assert meta["rows"] == 1000
    assert 190 <= meta["sample_rows"] <= 210
    assert arrays["dup_ref_hashes"].shape[0] == 1000  # exact duplicates: every reference row
    share = np.mean(arrays["sample_y"] == 1)
    assert abs(share - frame["label"].mean()) < 0.03


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["b"]), "no column 'b'"),
        (lambda f: f.assign(label=1), "at least 2"),
        (lambda f: f.iloc[:20], "at least 50"),
        (lambda f: f.assign(a="x"), "not numeric"),
    ],
)
def test_bad_reference_is_a_one_line_input_error(change, message: str) -> None:
    with pytest.raises(InputError, match=message):
        fit_reference(
            change(_frame(100, 0)),
            label="label",
            numeric=["a", "b"],
            categorical=[],
            settings=SETTINGS,
        )


def test_state_of_another_version_is_refused() -> None:
    ref = fit_reference(
        _frame(100, 0), label="label", numeric=["a"], categorical=[], settings=SETTINGS
    )
    meta, arrays = ref.to_state()
    with pytest.raises(InputError, match="layout version"):
        PoisonReference.from_state({**meta, "version": 99}, arrays)
    with pytest.raises(InputError, match="lacks"):
        PoisonReference.from_state(meta, {k: v for k, v in arrays.items() if k != "label_cdf"})


def test_empty_batch_is_an_input_error() -> None:
    ref = fit_reference(
        _frame(100, 0), label="label", numeric=["a"], categorical=[], settings=SETTINGS
    )
    with pytest.raises(InputError, match="no rows"):
        assess(ref, _frame(100, 1).iloc[:0], uri="empty.csv", settings=SETTINGS)


def test_policy_keys_are_strict() -> None:
    policy = parse_policy(
        "gates:\n  drift:\n    poison:\n      threads: 2\n      detectors: [duplicates]\n"
    )
    assert policy.gates.drift.poison.threads == 2
    with pytest.raises(ConfigError, match="threads"):
        parse_policy("gates:\n  drift:\n    poison:\n      threads: true\n")
    with pytest.raises(ConfigError, match="detectors"):
        parse_policy("gates:\n  drift:\n    poison:\n      detectors: [isolation_forest]\n")


def test_rules_have_unique_ids_and_advice() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    assert all(
        rule.id.startswith("drift.poison.") and rule.remediation and rule.why for rule in RULES
    )
