"""The reference model: trained only on the trusted reference (boosting + logistic blend).

A fitted model is never stored (that would need pickle); the profile keeps its bounded
training sample and the model is refitted, deterministically, when the profile is loaded.
Out-of-fold probabilities on the reference calibrate what "clean" looks like.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

# Imported when this module is, not inside the functions: threadpoolctl caps only the OpenMP
# runtime already loaded when a ``threadpool_limits`` block starts, and boosting's libgomp is
# loaded by this import. Imported lazily inside ``fit_model``, the detectors' thread caps did
# nothing, and on a busy worker the spinning OpenMP threads cost 10-40x the CPU time.
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

#: Folds of the out-of-fold probabilities on the reference (fewer on large references,
#: where each fold's model is already close to the full one).
CV_FOLDS = 5
CV_FOLDS_LARGE = 3
LARGE_REFERENCE = 1000
#: Boosting rounds and step: 50 rounds at 0.2 fit like 100 at sklearn's 0.1 for a third of
#: the CPU (the gate runs on every batch); early stopping above 10k training rows.
MAX_ITER = 50
LEARNING_RATE = 0.2


class _Blend:
    """Average of gradient boosting and a regularised logistic regression.

    Boosting captures interactions on large references; the linear model is better
    calibrated on small ones (a few hundred rows), where boosting alone misjudges clean rows.
    """

    def __init__(self, models: list[Any]) -> None:
        self.models = models
        self.classes_ = models[0].classes_

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.mean([m.predict_proba(x) for m in self.models], axis=0)


def fit_model(x: np.ndarray, y: np.ndarray, n_categorical: int, seed: int) -> _Blend:
    """Fit the blend on encoded rows (numeric values, then categorical codes; NaN missing)."""
    n_numeric = x.shape[1] - n_categorical
    mask = np.zeros(x.shape[1], dtype=bool)
    mask[n_numeric:] = True
    boosting = HistGradientBoostingClassifier(
        max_iter=MAX_ITER,
        learning_rate=LEARNING_RATE,
        categorical_features=mask if n_categorical else None,
        random_state=seed,
    )
    parts = []
    if n_numeric:
        numeric = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()
        )
        parts.append(("num", numeric, list(range(n_numeric))))
    if n_categorical:
        categorical = make_pipeline(
            SimpleImputer(strategy="constant", fill_value=-1, keep_empty_features=True),
            OneHotEncoder(handle_unknown="ignore"),
        )
        parts.append(("cat", categorical, list(range(n_numeric, x.shape[1]))))
    linear = make_pipeline(ColumnTransformer(parts), LogisticRegression(max_iter=500))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _Blend([boosting.fit(x, y), linear.fit(x, y)])


def predict_proba(model: _Blend, x: np.ndarray, n_classes: int) -> np.ndarray:
    """Class probabilities with one column per reference class (0 for unseen-in-fit ones)."""
    out = np.zeros((x.shape[0], n_classes), dtype=np.float64)
    if x.shape[0]:
        out[:, model.classes_] = model.predict_proba(x)
    return out


def out_of_fold_proba(
    x: np.ndarray, y: np.ndarray, n_classes: int, n_categorical: int, seed: int
) -> np.ndarray:
    """Probabilities for every reference row from a model that did not see it."""
    counts = np.bincount(y, minlength=n_classes)
    wanted = CV_FOLDS_LARGE if y.shape[0] >= LARGE_REFERENCE else CV_FOLDS
    folds = int(min(wanted, max(2, counts[counts > 0].min())))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out = np.zeros((y.shape[0], n_classes), dtype=np.float64)
    for train, test in splitter.split(x, y):
        model = fit_model(x[train], y[train], n_categorical, seed)
        out[test] = predict_proba(model, x[test], n_classes)
    return out


def balanced_accuracy(y: np.ndarray, proba: np.ndarray) -> float:
    """Mean per-class recall of the most probable class."""
    pred = proba.argmax(axis=1)
    recalls = [float(np.mean(pred[y == c] == c)) for c in np.unique(y)]
    return float(np.mean(recalls))
