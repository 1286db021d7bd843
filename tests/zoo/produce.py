"""Write the benign zoo with whatever producing libraries this Python has.

Usage::

    python -m tests.zoo.produce OUT [--stack NAME] [--families a,b] [--formats all|rotate]

or, in a helper venv without this project installed, ``python tests/zoo/produce.py OUT``.
The script imports nothing from ``mlsec_gates`` and only *writes* files with the libraries'
own save functions (``pickle.dump``, ``joblib.dump``, ``DataFrame.to_pickle``, ``np.save``,
``save_model``, ``statsmodels ... .save``, ``onnx.save_model``, ``torch.save``,
``torch.jit.save``, ``torch.export.save``, ``keras.Model.save``). Nothing is loaded back.

Each file gets a manifest row (``OUT/manifest.json``): path, family, key (the object it
holds: every format of one object shares a key), half (``tune`` or ``holdout``, from a hash
of the key, so an estimator's files are all in one half), stack and the producing library
versions. Families whose library is missing are skipped and listed under ``skipped``.
The ``fresh`` family is a second held-out half (``half: fresh``): objects added only after
the allowlist was frozen on the tuning half, because the first held-out half was spent on
fixes (see ``benchmarks/scan_zoo.py``).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import pickle
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

Writer = Callable[[Path], None]

#: Pickle/joblib variants of one object: suffix -> writer factory.
PICKLE_FORMATS = ("p2.pkl", "p3.pkl", "p4.pkl", "p5.pkl")
JOBLIB_FORMATS = ("joblib", "z3.joblib", "joblib.gz", "joblib.bz2", "joblib.xz")
ALL_FORMATS = PICKLE_FORMATS + JOBLIB_FORMATS


def half_of(key: str) -> str:
    """``tune`` or ``holdout``: a stable hash of the object key (never of the file)."""
    return "holdout" if hashlib.sha256(key.encode()).digest()[0] & 1 else "tune"


def dump(obj: Any, path: Path, fmt: str) -> None:
    """Write ``obj`` with pickle (``pN.pkl``) or joblib (plain, compressed, by extension)."""
    if fmt.endswith(".pkl") and fmt.startswith("p"):
        with open(path, "wb") as fh:
            pickle.dump(obj, fh, protocol=int(fmt[1]))
        return
    import joblib

    if fmt == "z3.joblib":
        joblib.dump(obj, path, compress=3)
    else:
        joblib.dump(obj, path)  # compression from the extension (.gz, .bz2, .xz)


class Zoo:
    """Collects written files and their manifest rows."""

    def __init__(self, out: Path, stack: str, formats: str) -> None:
        self.out = out
        self.stack = stack
        self.formats = formats
        self.rows: list[dict[str, Any]] = []
        self.skipped: dict[str, str] = {}
        self.failed: list[str] = []

    def add(self, family: str, key: str, name: str, writer: Writer) -> None:
        """Write one file ``OUT/family/name`` with ``writer``; a producer error is recorded."""
        path = self.out / family / name
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                writer(path)
        except Exception as exc:  # the library refused this object: not a zoo file
            self.failed.append(f"{family}/{name}: {type(exc).__name__}: {exc}"[:300])
            if path.exists():
                path.unlink()
            return
        self._row(family, key, path)

    def add_dir(self, family: str, key: str, name: str, writer: Writer) -> None:
        """A producer that writes several files into ``OUT/family/name/``; one row each."""
        folder = self.out / family / name
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                writer(folder)
        except Exception as exc:
            self.failed.append(f"{family}/{name}/: {type(exc).__name__}: {exc}"[:300])
            return
        for written in sorted(p for p in folder.rglob("*") if p.is_file()):
            self._row(family, key, written)

    def _row(self, family: str, key: str, path: Path) -> None:
        self.rows.append(
            {
                "path": path.relative_to(self.out).as_posix(),
                "family": family,
                "key": key,
                "half": "fresh" if family == "fresh" else half_of(f"{family}:{key}"),
                "stack": self.stack,
            }
        )

    def objects(self, family: str, key: str, obj: Any, index: int) -> None:
        """Every pickle/joblib variant of ``obj`` (or one, rotating, in ``rotate`` mode)."""
        formats = ALL_FORMATS if self.formats == "all" else (ALL_FORMATS[index % 9],)
        for fmt in formats:
            self.add(family, key, f"{key}.{fmt}", lambda p, f=fmt: dump(obj, p, f))


# --------------------------------------------------------------------------- toy data


def _data() -> dict[str, Any]:
    import numpy as np

    rng = np.random.RandomState(0)
    X = rng.rand(48, 4)
    return {
        "X": X,
        "y_clf": np.array([0, 1, 2] * 16),
        "y_bin": np.array([0, 1] * 24),
        "y_reg": X @ np.array([1.0, -2.0, 0.5, 3.0]) + rng.rand(48) * 0.1,
        "y_multi": np.column_stack([np.array([0, 1] * 24), np.array([1, 1, 0] * 16)]),
        "y_reg2": np.column_stack([X[:, 0], X[:, 1] * 2]),
    }


def _frame() -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            "city": ["paris", "rome", "oslo", "rome", "paris", "oslo"] * 8,
            "kind": ["a", "b"] * 24,
            "size": [float(i % 7) for i in range(48)],
            "age": [float(i % 5 + 1) for i in range(48)],
        }
    )


# --------------------------------------------------------------------------- scikit-learn


def _base_for(name: str) -> Any:
    from sklearn.linear_model import LogisticRegression, Ridge

    if "Regressor" in name or "Regression" in name:
        return Ridge()
    return LogisticRegression(max_iter=200)


def _required_args(cls: type, name: str) -> dict[str, Any] | None:
    """Values for the constructor parameters without a default, or None if unknown."""
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    regress = "Regressor" in name or "Regression" in name
    kw: dict[str, Any] = {}
    for pname, param in inspect.signature(cls).parameters.items():
        if param.default is not inspect.Parameter.empty or param.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            continue
        if pname in ("estimator", "base_estimator", "regressor", "classifier"):
            kw[pname] = _base_for(name)
        elif pname == "estimators":
            kw[pname] = (
                [("ridge", Ridge()), ("tree", DecisionTreeRegressor(max_depth=2))]
                if regress
                else [
                    ("lr", LogisticRegression(max_iter=200)),
                    ("tree", DecisionTreeClassifier(max_depth=2)),
                ]
            )
        elif pname == "steps":
            kw[pname] = [("scale", StandardScaler()), ("model", _base_for(name))]
        elif pname == "transformers":
            kw[pname] = [("num", StandardScaler(), [0, 1]), ("rest", "passthrough", [2, 3])]
        elif pname == "transformer_list":
            kw[pname] = [("pca", PCA(2)), ("scale", StandardScaler())]
        elif pname in ("param_grid", "param_distributions"):
            kw[pname] = {"C": [0.1, 1.0]} if not regress else {"alpha": [0.1, 1.0]}
        elif pname == "dictionary":
            kw[pname] = np.random.RandomState(0).rand(3, 4)
        else:
            return None
    return kw


def _fit(est: Any, name: str, d: dict[str, Any]) -> bool:
    """Fit on the first toy input the estimator accepts."""
    import numpy as np
    from sklearn.base import is_classifier, is_regressor

    X = d["X"]
    docs = ["the cat sat", "a dog ran far", "the dog sat", "cats and dogs"] * 3
    special: dict[str, list[tuple[Any, ...]]] = {
        "CountVectorizer": [(docs,)],
        "TfidfVectorizer": [(docs,)],
        "HashingVectorizer": [(docs,)],
        "DictVectorizer": [([{"a": 1, "b": 2}, {"a": 3, "c": 1}],)],
        "FeatureHasher": [([{"a": 1, "b": 2}, {"a": 3, "c": 1}],)],
        "LabelEncoder": [(d["y_clf"],)],
        "LabelBinarizer": [(d["y_clf"],)],
        "MultiLabelBinarizer": [([[1, 2], [3], [2, 3]],)],
        "IsotonicRegression": [(X[:, 0], d["y_reg"])],
        "PatchExtractor": [(np.random.RandomState(0).rand(3, 8, 8),)],
        "KernelCenterer": [(X @ X.T,)],
        "TfidfTransformer": [((X * 10).astype(int),)],
    }
    try:
        kind = "classifier" if is_classifier(est) else "regressor" if is_regressor(est) else ""
    except Exception:
        kind = ""
    if name in special:
        tries = special[name]
    elif kind == "classifier":
        tries = [(X, d["y_clf"]), (X, d["y_bin"]), (X, d["y_multi"])]
    elif kind == "regressor":
        tries = [(X, d["y_reg"]), (X, d["y_reg2"]), (X, d["y_bin"])]
    else:
        tries = [(X,), (X, d["y_clf"]), (X, d["y_bin"]), (X, d["y_multi"])]
    for args in tries:
        try:
            est.fit(*args)
            return True
        except Exception:
            continue
    return False


def sklearn_estimators(zoo: Zoo) -> None:
    """Every ``all_estimators()`` entry that fits on toy data, in every pickle/joblib form."""
    from sklearn.utils import all_estimators

    d = _data()
    index = 0
    for name, cls in all_estimators():
        kw = _required_args(cls, name)
        if kw is None:
            zoo.failed.append(f"sklearn-estimator/{name}: constructor needs unknown arguments")
            continue
        try:
            est = cls(**kw)
        except Exception as exc:
            zoo.failed.append(f"sklearn-estimator/{name}: {exc}"[:200])
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = _fit(est, name, d)
        if not fitted:
            zoo.failed.append(f"sklearn-estimator/{name}: fits on none of the toy inputs")
            continue
        zoo.objects("sklearn-estimator", name, est, index)
        index += 1


def _pipelines() -> dict[str, Callable[[], Any]]:
    """Composite models as data teams build them (each fitted when called)."""
    import numpy as np

    def tabular() -> Any:
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        df = _frame()
        pre = ColumnTransformer(
            [
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "kind"]),
                ("num", StandardScaler(), ["size", "age"]),
            ]
        )
        return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=300))]).fit(
            df, [0, 1, 1, 0] * 12
        )

    def tabular_hgb() -> Any:
        from sklearn.compose import make_column_transformer
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OrdinalEncoder

        df = _frame()
        pre = make_column_transformer((OrdinalEncoder(), ["city", "kind"]), remainder="passthrough")
        model = HistGradientBoostingClassifier(max_iter=10, categorical_features=[0, 1])
        return make_pipeline(pre, model).fit(df, [0, 1, 1, 0] * 12)

    def hgb_native_categories() -> Any:
        from sklearn.ensemble import HistGradientBoostingRegressor

        df = _frame().astype({"city": "category", "kind": "category"})
        return HistGradientBoostingRegressor(max_iter=10, categorical_features="from_dtype").fit(
            df, np.arange(48.0)
        )

    def grid_search() -> Any:
        from sklearn.model_selection import GridSearchCV
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC

        pipe = Pipeline([("scale", StandardScaler()), ("svc", SVC())])
        d = _data()
        return GridSearchCV(pipe, {"svc__C": [0.1, 1.0]}, cv=3, scoring="f1_macro").fit(
            d["X"], d["y_clf"]
        )

    def random_search_scorer() -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import fbeta_score, make_scorer
        from sklearn.model_selection import RandomizedSearchCV

        d = _data()
        scorer = make_scorer(fbeta_score, beta=2, average="macro")
        return RandomizedSearchCV(
            LogisticRegression(max_iter=200),
            {"C": [0.1, 1, 10]},
            n_iter=2,
            cv=3,
            scoring={"f2": scorer, "acc": "accuracy"},
            refit="f2",
            random_state=0,
        ).fit(d["X"], d["y_clf"])

    def tfidf_text() -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import SGDClassifier
        from sklearn.pipeline import make_pipeline

        docs = ["Good movie", "bad film", "GREAT plot", "awful acting"] * 6
        vec = TfidfVectorizer(preprocessor=str.lower, ngram_range=(1, 2))
        return make_pipeline(vec, SGDClassifier(random_state=0)).fit(docs, [1, 0, 1, 0] * 6)

    def function_transformers() -> Any:
        from functools import partial

        from sklearn.compose import TransformedTargetRegressor
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer

        d = _data()
        pipe = make_pipeline(
            FunctionTransformer(np.log1p, inverse_func=np.expm1),
            FunctionTransformer(partial(np.clip, a_min=0.0, a_max=5.0)),
            FunctionTransformer(np.sqrt, validate=True),
            Ridge(),
        )
        return TransformedTargetRegressor(regressor=pipe, func=np.log1p, inverse_func=np.expm1).fit(
            d["X"], np.abs(d["y_reg"])
        )

    def select_and_impute() -> Any:
        from sklearn.feature_selection import SelectKBest, f_classif, mutual_info_classif
        from sklearn.impute import KNNImputer, SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        d = _data()
        X = d["X"].copy()
        X[::7, 1] = np.nan
        union = make_union(SelectKBest(f_classif, k=2), SelectKBest(mutual_info_classif, k=1))
        return make_pipeline(
            SimpleImputer(strategy="median"),
            KNNImputer(n_neighbors=2),
            union,
            LogisticRegression(max_iter=200),
        ).fit(X, d["y_clf"])

    def stacking() -> Any:
        from sklearn.ensemble import RandomForestClassifier, StackingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.neighbors import KNeighborsClassifier

        d = _data()
        return StackingClassifier(
            [
                ("rf", RandomForestClassifier(n_estimators=5, random_state=0)),
                ("knn", KNeighborsClassifier(3)),
            ],
            final_estimator=LogisticRegression(max_iter=200),
        ).fit(d["X"], d["y_clf"])

    def calibrated() -> Any:
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        d = _data()
        return CalibratedClassifierCV(LinearSVC(), cv=3).fit(d["X"], d["y_bin"])

    def cv_splitters() -> Any:
        from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

        return {
            "kf": KFold(3, shuffle=True, random_state=1),
            "skf": StratifiedKFold(4),
            "ts": TimeSeriesSplit(3),
        }

    def frame_fitted() -> Any:
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.preprocessing import OneHotEncoder

        df = _frame()
        enc = OneHotEncoder(sparse_output=False).fit(df[["city", "kind"]])
        rf = RandomForestRegressor(n_estimators=4, random_state=0).fit(
            df[["size", "age"]], df["size"]
        )
        return {"encoder": enc, "forest": rf, "names": np.array(["a", "b"], dtype=object)}

    def output_pandas() -> Any:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import MinMaxScaler, PolynomialFeatures

        df = _frame()[["size", "age"]]
        pipe = make_pipeline(PolynomialFeatures(2), MinMaxScaler()).set_output(transform="pandas")
        return pipe.fit(df)

    return {
        "tabular_logreg": tabular,
        "tabular_hgb": tabular_hgb,
        "hgb_native_categories": hgb_native_categories,
        "grid_search_svc": grid_search,
        "random_search_scorer": random_search_scorer,
        "tfidf_text": tfidf_text,
        "function_transformers": function_transformers,
        "select_and_impute": select_and_impute,
        "stacking": stacking,
        "calibrated_svc": calibrated,
        "cv_splitters": cv_splitters,
        "frame_fitted": frame_fitted,
        "output_pandas": output_pandas,
    }


def _every_form(zoo: Zoo, family: str, makers: dict[str, Callable[[], Any]]) -> None:
    """Build each object (a producer error is recorded) and write it in every form."""
    for key, make in makers.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                obj = make()
        except Exception as exc:
            zoo.failed.append(f"{family}/{key}: {type(exc).__name__}: {exc}"[:200])
            continue
        for fmt in ALL_FORMATS:
            zoo.add(family, key, f"{key}.{fmt}", lambda p, f=fmt, o=obj: dump(o, p, f))


def sklearn_pipelines(zoo: Zoo) -> None:
    """Composites (ColumnTransformer, GridSearchCV, TfidfVectorizer, FunctionTransformer...)."""
    _every_form(zoo, "sklearn-pipeline", _pipelines())


# --------------------------------------------------------------------------- pandas


def _pandas_objects() -> dict[str, Any]:
    import datetime as dt
    import zoneinfo

    import numpy as np
    import pandas as pd

    n = 6
    objs: dict[str, Any] = {
        "s_int64": pd.Series(np.arange(n)),
        "s_float32": pd.Series(np.linspace(0, 1, n, dtype="float32")),
        "s_bool": pd.Series([True, False] * 3),
        "s_object": pd.Series(["a", None, "c", "d", "e", "f"], dtype=object),
        "s_string_python": pd.Series(list("abcdef"), dtype="string[python]"),
        "s_Int64": pd.Series([1, None, 3, 4, 5, 6], dtype="Int64"),
        "s_UInt8": pd.Series([1, None, 3, 4, 5, 6], dtype="UInt8"),
        "s_Float64": pd.Series([1.5, None, 3, 4, 5, 6], dtype="Float64"),
        "s_boolean": pd.Series([True, None, False, True, True, False], dtype="boolean"),
        "s_category": pd.Series(list("abcabc"), dtype="category"),
        "s_ordered_category": pd.Series(
            pd.Categorical(["lo", "hi", "mid"] * 2, ["lo", "mid", "hi"], ordered=True)
        ),
        "s_datetime": pd.Series(pd.date_range("2024-01-01", periods=n, freq="D")),
        "s_datetime_utc": pd.Series(pd.date_range("2024-01-01", periods=n, tz="UTC")),
        "s_datetime_zoneinfo": pd.Series(
            pd.date_range("2024-01-01", periods=n, tz=zoneinfo.ZoneInfo("Europe/Berlin"))
        ),
        "s_timedelta": pd.Series(pd.to_timedelta(np.arange(n), unit="h")),
        "s_period": pd.Series(pd.period_range("2024-01", periods=n, freq="M")),
        "s_interval": pd.Series(pd.interval_range(0, n)),
        "s_sparse": pd.Series(pd.arrays.SparseArray([0.0, 0, 1, 0, 2, 0])),
        "s_complex": pd.Series(np.arange(n) * (1 + 1j)),
        "s_datetime_second": pd.Series(pd.date_range("2024", periods=n, freq="s")).astype(
            "datetime64[s]"
        ),
        "idx_range": pd.RangeIndex(0, 10, 2),
        "idx_category": pd.CategoricalIndex(list("abca")),
        "idx_datetime_freq": pd.date_range("2024-01-01", periods=n, freq="h"),
        "idx_period": pd.period_range("2020Q1", periods=n, freq="Q"),
        "idx_interval": pd.interval_range(0.0, 3.0, periods=3),
        "idx_timedelta": pd.timedelta_range("1 day", periods=3),
        "idx_multi": pd.MultiIndex.from_product([["a", "b"], [1, 2, 3]], names=["k", "n"]),
        "scalar_timestamp_tz": pd.Timestamp("2024-03-01 12:00", tz="America/New_York"),
        "scalar_timedelta": pd.Timedelta("3 days 2h"),
        "scalar_period": pd.Period("2024-03", freq="M"),
        "scalar_interval": pd.Interval(0, 1, closed="left"),
        "scalar_nat_na": {"nat": pd.NaT, "na": pd.NA},
        "offsets": [
            pd.offsets.BDay(2),
            pd.offsets.MonthEnd(),
            pd.DateOffset(months=1, days=2),
            pd.offsets.Week(weekday=0),
            pd.offsets.CustomBusinessDay(),
        ],
        "categorical": pd.Categorical(list("xyzx")),
        "df_mixed": pd.DataFrame(
            {
                "i": np.arange(n),
                "f": np.linspace(0, 1, n),
                "s": list("abcdef"),
                "c": pd.Categorical(list("aabbcc")),
                "d": pd.date_range("2024", periods=n, tz="UTC"),
                "b": pd.array([True, False, None] * 2, dtype="boolean"),
                "n": pd.array([1, None] * 3, dtype="Int32"),
            }
        ),
        "df_multiindex": pd.DataFrame(
            np.arange(12).reshape(6, 2),
            index=pd.MultiIndex.from_product([["x", "y"], [1, 2, 3]]),
            columns=pd.MultiIndex.from_tuples([("m", "a"), ("m", "b")]),
        ),
        "df_wide_float": pd.DataFrame(np.random.RandomState(1).rand(20, 30)),
        "df_empty": pd.DataFrame(),
        "df_datetime_index": pd.DataFrame(
            {"v": range(n)}, index=pd.date_range("2024", periods=n, freq="min")
        ),
    }
    try:
        import pytz

        objs["s_datetime_pytz"] = pd.Series(
            pd.date_range("2024-01-01", periods=n, tz=pytz.timezone("Asia/Tokyo"))
        )
    except Exception:
        pass
    try:
        from dateutil import tz as dtz

        objs["s_datetime_dateutil"] = pd.Series(
            pd.date_range("2024-01-01", periods=n, tz=dtz.gettz("Europe/London"))
        )
        objs["py_datetime_dateutil"] = dt.datetime(2024, 5, 1, tzinfo=dtz.tzutc())
    except Exception:  # dateutil missing, or this pandas rejects its zones
        pass
    try:
        import pyarrow  # noqa: F401

        objs["s_string_pyarrow"] = pd.Series(list("abcdef"), dtype="string[pyarrow]")
        objs["s_int64_pyarrow"] = pd.Series([1, 2, None, 4, 5, 6], dtype="int64[pyarrow]")
        objs["s_timestamp_pyarrow"] = pd.Series(
            pd.date_range("2024", periods=n), dtype="timestamp[ns][pyarrow]"
        )
        objs["df_pyarrow_backed"] = pd.DataFrame(
            {"a": ["x", "y", None], "b": [1.5, None, 2.0]}
        ).convert_dtypes(dtype_backend="pyarrow")
    except Exception:  # pyarrow missing or too old for this pandas
        pass
    objs["py_datetime_zoneinfo"] = dt.datetime(2024, 5, 1, tzinfo=zoneinfo.ZoneInfo("UTC"))
    return objs


def pandas_objects(zoo: Zoo) -> None:
    """Series/DataFrame/Index/scalars of every dtype via ``to_pickle`` and ``pickle``."""
    import pandas as pd

    for key, obj in _pandas_objects().items():
        if isinstance(obj, (pd.DataFrame, pd.Series)):
            for ext in ("pkl", "pkl.gz", "pkl.bz2", "pkl.xz", "pkl.zip"):
                zoo.add("pandas", key, f"{key}.to_pickle.{ext}", lambda p, o=obj: o.to_pickle(p))
        else:
            zoo.add("pandas", key, f"{key}.to_pickle.pkl", lambda p, o=obj: pd.to_pickle(o, p))
        for fmt in ("p2.pkl", "p4.pkl", "p5.pkl"):
            zoo.add("pandas", key, f"{key}.{fmt}", lambda p, o=obj, f=fmt: dump(o, p, f))


# --------------------------------------------------------------------------- NumPy / SciPy


def _numpy_objects() -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    structured = np.array(
        [(1, 2.5, b"ab"), (3, 4.5, b"cd")], dtype=[("i", "<i4"), ("f", "<f8"), ("s", "S2")]
    )
    return {
        "arr_float64": rng.random((4, 3)),
        "arr_int8": np.arange(10, dtype=np.int8),
        "arr_bool": np.array([True, False]),
        "arr_complex": np.arange(4) * 1j,
        "arr_fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "arr_unicode": np.array(["ab", "cde"]),
        "arr_object_str": np.array(["x", "y", None], dtype=object),
        "arr_datetime64": np.arange("2024-01", "2024-06", dtype="datetime64[M]"),
        "arr_timedelta64": np.array([1, 2], dtype="timedelta64[s]"),
        "arr_structured": structured,
        "arr_record": np.rec.array(structured),
        "arr_masked": np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0]),
        "arr_matrix": np.matrix([[1, 2], [3, 4]]),
        "arr_float16_big": rng.random(2000).astype(np.float16),
        "scalars": [
            np.float64(1.5),
            np.int32(7),
            np.bool_(True),
            np.datetime64("2024-01-01"),
            np.complex64(1 + 2j),
            np.str_("s"),
            np.uint64(3),
        ],
        "dtypes": [
            np.dtype("f4"),
            np.dtype(">i8"),
            structured.dtype,
            np.dtype("M8[ns]"),
            np.dtype("U5"),
            np.dtype(object),
        ],
        "scalar_types": [np.float32, np.int64, np.bool_, np.number, np.floating],
        "ufuncs": {"log1p": np.log1p, "add": np.add, "clip": np.clip, "mean": np.mean},
        "generator": np.random.default_rng(3),
        "random_state": np.random.RandomState(4),
        "seed_sequence": np.random.SeedSequence(5),
        "bit_generators": [np.random.MT19937(1), np.random.Philox(2), np.random.SFC64(3)],
    }


def _scipy_objects() -> dict[str, Any]:
    import numpy as np
    from scipy import interpolate, sparse, spatial, stats
    from scipy.spatial.transform import Rotation

    dense = np.eye(4)
    x = np.linspace(0, 1, 8)
    objs: dict[str, Any] = {
        f"sparse_{fmt}": getattr(sparse, f"{fmt}_matrix")(dense)
        for fmt in ("csr", "csc", "coo", "bsr", "dia", "dok", "lil")
    }
    objs.update(
        {f"sparray_{fmt}": getattr(sparse, f"{fmt}_array")(dense) for fmt in ("csr", "csc", "coo")}
    )
    objs.update(
        {
            "frozen_norm": stats.norm(0, 1),
            "frozen_gamma": stats.gamma(2.0, scale=3.0),
            "frozen_poisson": stats.poisson(3.0),
            "frozen_mvn": stats.multivariate_normal([0, 0], [[1, 0], [0, 1]]),
            "gaussian_kde": stats.gaussian_kde(np.random.default_rng(0).random(20)),
            "bspline": interpolate.make_interp_spline(x, x**2),
            "cubic_spline": interpolate.CubicSpline(x, np.sin(x)),
            "ppoly": interpolate.PchipInterpolator(x, np.cos(x)),
            "interp1d": interpolate.interp1d(x, x * 2),
            "kdtree": spatial.KDTree(np.random.default_rng(1).random((10, 2))),
            "ckdtree": spatial.cKDTree(np.random.default_rng(2).random((10, 2))),
            "rotation": Rotation.from_euler("xyz", [10, 20, 30], degrees=True),
        }
    )
    return objs


def numpy_scipy(zoo: Zoo) -> None:
    """NumPy/SciPy objects via pickle, ``np.save``/``np.savez`` and ``sparse.save_npz``."""
    import numpy as np

    for key, obj in _numpy_objects().items():
        for fmt in ("p2.pkl", "p4.pkl", "p5.pkl"):
            zoo.add("numpy", key, f"{key}.{fmt}", lambda p, o=obj, f=fmt: dump(o, p, f))
        if isinstance(obj, np.ndarray) and not isinstance(obj, np.ma.MaskedArray):
            zoo.add("numpy", key, f"{key}.npy", lambda p, o=obj: np.save(str(p), o))
    arrays = {k: v for k, v in _numpy_objects().items() if type(v) is np.ndarray}
    zoo.add("numpy", "npz_bundle", "bundle.npz", lambda p: np.savez(str(p), **arrays))
    zoo.add(
        "numpy",
        "npz_bundle_c",
        "bundle_c.npz",
        lambda p: np.savez_compressed(str(p), **arrays),
    )
    try:
        objs = _scipy_objects()
    except ImportError as exc:
        zoo.skipped["scipy"] = str(exc)
        return
    from scipy import sparse

    for key, obj in objs.items():
        for fmt in ("p2.pkl", "p5.pkl", "joblib"):
            zoo.add("scipy", key, f"{key}.{fmt}", lambda p, o=obj, f=fmt: dump(o, p, f))
        if key.startswith("sparse_") and key[7:] in ("csr", "csc", "coo", "bsr", "dia"):
            zoo.add("scipy", key, f"{key}.npz", lambda p, o=obj: sparse.save_npz(str(p), o))


# --------------------------------------------------------------------------- statsmodels


def statsmodels_results(zoo: Zoo) -> None:
    """Fitted statsmodels results written by their own ``.save()`` (a pickle)."""
    import numpy as np
    import statsmodels.api as sm

    d = _data()
    X = sm.add_constant(d["X"])
    t = np.sin(np.arange(60) / 5.0) + np.random.default_rng(0).normal(0, 0.1, 60)
    makers: dict[str, Callable[[], Any]] = {
        "ols": lambda: sm.OLS(d["y_reg"], X).fit(),
        "wls": lambda: sm.WLS(d["y_reg"], X, weights=np.ones(48)).fit(),
        "glm_poisson": lambda: sm.GLM(
            np.round(np.abs(d["y_reg"])), X, family=sm.families.Poisson()
        ).fit(),
        "logit": lambda: sm.Logit(d["y_bin"], X[:, :2]).fit(disp=0),
        "quantreg": lambda: sm.QuantReg(d["y_reg"], X).fit(q=0.5),
        "rlm": lambda: sm.RLM(d["y_reg"], X).fit(),
        "arima": lambda: sm.tsa.ARIMA(t, order=(1, 0, 0)).fit(),
        "exp_smoothing": lambda: sm.tsa.ExponentialSmoothing(t + 3, trend="add").fit(),
        "formula_ols": lambda: (
            __import__("statsmodels.formula.api")
            .formula.api.ols("size ~ age + C(city)", data=_frame())
            .fit()
        ),
    }
    for key, make in makers.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = make()
        except Exception as exc:
            zoo.failed.append(f"statsmodels/{key}: {type(exc).__name__}: {exc}"[:200])
            continue
        zoo.add("statsmodels", key, f"{key}.pickle", lambda p, r=res: r.save(str(p)))
        zoo.add(
            "statsmodels",
            key,
            f"{key}.small.pickle",
            lambda p, r=res: r.save(str(p), remove_data=True),
        )


# --------------------------------------------------------------------------- boosting


def boosting(zoo: Zoo) -> None:
    """XGBoost / LightGBM / CatBoost: sklearn-API pickles and their native formats."""
    d = _data()
    try:
        import xgboost as xgb

        for key, est in (
            ("xgb_classifier", xgb.XGBClassifier(n_estimators=5, max_depth=2)),
            ("xgb_regressor", xgb.XGBRegressor(n_estimators=5, max_depth=2)),
        ):
            y = d["y_clf"] if "class" in key else d["y_reg"]
            est.fit(d["X"], y)
            for fmt in ("p4.pkl", "p5.pkl", "joblib", "z3.joblib"):
                zoo.add("xgboost", key, f"{key}.{fmt}", lambda p, o=est, f=fmt: dump(o, p, f))
            for ext in ("json", "ubj"):
                zoo.add("xgboost", key, f"{key}.{ext}", lambda p, o=est: o.save_model(str(p)))
            booster = est.get_booster()
            zoo.add(
                "xgboost", key, f"{key}.booster.p4.pkl", lambda p, b=booster: dump(b, p, "p4.pkl")
            )
            zoo.add(
                "xgboost",
                key,
                f"{key}.raw.ubj",
                lambda p, b=booster: p.write_bytes(bytes(b.save_raw("ubj"))),
            )
    except ImportError as exc:
        zoo.skipped["xgboost"] = str(exc)
    try:
        import lightgbm as lgb

        for key, est in (
            ("lgbm_classifier", lgb.LGBMClassifier(n_estimators=5, verbose=-1)),
            ("lgbm_regressor", lgb.LGBMRegressor(n_estimators=5, verbose=-1, min_child_samples=2)),
        ):
            y = d["y_clf"] if "class" in key else d["y_reg"]
            est.fit(d["X"], y)
            for fmt in ("p4.pkl", "p5.pkl", "joblib", "z3.joblib"):
                zoo.add("lightgbm", key, f"{key}.{fmt}", lambda p, o=est, f=fmt: dump(o, p, f))
            booster = est.booster_
            zoo.add("lightgbm", key, f"{key}.txt", lambda p, b=booster: b.save_model(str(p)))
            zoo.add(
                "lightgbm",
                key,
                f"{key}.json",
                lambda p, b=booster: p.write_text(json.dumps(b.dump_model())),
            )
            zoo.add(
                "lightgbm", key, f"{key}.booster.p4.pkl", lambda p, b=booster: dump(b, p, "p4.pkl")
            )
    except ImportError as exc:
        zoo.skipped["lightgbm"] = str(exc)
    try:
        import catboost as cb

        for key, est in (
            (
                "catboost_classifier",
                cb.CatBoostClassifier(iterations=5, verbose=False, allow_writing_files=False),
            ),
            (
                "catboost_regressor",
                cb.CatBoostRegressor(iterations=5, verbose=False, allow_writing_files=False),
            ),
        ):
            y = d["y_clf"] if "class" in key else d["y_reg"]
            est.fit(d["X"], y)
            for fmt in ("p4.pkl", "p5.pkl", "joblib", "z3.joblib"):
                zoo.add("catboost", key, f"{key}.{fmt}", lambda p, o=est, f=fmt: dump(o, p, f))
            for ext, fmt in (("cbm", "cbm"), ("json", "json")):
                zoo.add(
                    "catboost",
                    key,
                    f"{key}.{ext}",
                    lambda p, o=est, f=fmt: o.save_model(str(p), format=f),
                )
    except ImportError as exc:
        zoo.skipped["catboost"] = str(exc)


# --------------------------------------------------------------------------- ONNX / Keras


def onnx_models(zoo: Zoo) -> None:
    """ONNX graphs from ``onnx.helper``, inline and with external data files."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def model(seed: int, n: int) -> Any:
        rng = np.random.default_rng(seed)
        w = numpy_helper.from_array(rng.random((n, n)).astype(np.float32), "W")
        b = numpy_helper.from_array(rng.random(n).astype(np.float32), "B")
        nodes = [
            helper.make_node("MatMul", ["X", "W"], ["H"]),
            helper.make_node("Add", ["H", "B"], ["Z"]),
            helper.make_node("Relu", ["Z"], ["Y"]),
        ]
        graph = helper.make_graph(
            nodes,
            f"mlp{seed}",
            [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, n])],
            [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, n])],
            [w, b],
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    for seed, n in ((0, 8), (1, 64), (2, 128)):
        key = f"mlp{n}"
        built = model(seed, n)
        zoo.add("onnx", key, f"{key}.onnx", lambda p, m=built: onnx.save_model(m, p))

        def external(folder: Path, m: Any = built, k: str = key) -> None:
            onnx.save_model(
                m,
                folder / f"{k}.onnx",
                save_as_external_data=True,
                all_tensors_to_one_file=True,
                location=f"{k}.onnx.data",
                size_threshold=0,
            )

        zoo.add_dir("onnx", key + "_ext", f"{key}_external", external)

        def split(folder: Path, m: Any = built, k: str = key) -> None:
            onnx.save_model(
                m,
                folder / f"{k}.onnx",
                save_as_external_data=True,
                all_tensors_to_one_file=False,
                size_threshold=0,
            )

        zoo.add_dir("onnx", key + "_split", f"{key}_split", split)


def keras_models(zoo: Zoo) -> None:
    """Keras 3 ``.keras`` archives and ``.weights.h5`` files (no Lambda layers)."""
    import keras

    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    hidden = keras.layers.Dropout(0.1)(hidden)
    outputs = keras.layers.Dense(2, activation="softmax")(hidden)
    functional = keras.Model(inputs, outputs)
    sequential = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(3),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(1),
        ]
    )
    for key, m in (("functional", functional), ("sequential", sequential)):
        zoo.add("keras", key, f"{key}.keras", lambda p, mm=m: mm.save(p))
        zoo.add("keras", key, f"{key}.weights.h5", lambda p, mm=m: mm.save_weights(p))


# --------------------------------------------------------------------------- torch


def torch_models(zoo: Zoo) -> None:
    """state_dict/module/optimizer (zip and legacy), TorchScript, torch.export, torch.fx."""
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.fc = nn.Linear(2 * 4 * 4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.fc(self.conv(x).flatten(1)))

    modules: dict[str, tuple[nn.Module, torch.Tensor]] = {
        "mlp": (nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), torch.rand(1, 4)),
        "block": (Block(), torch.rand(1, 1, 6, 6)),
        "lstm": (nn.LSTM(4, 5, batch_first=True), torch.rand(1, 3, 4)),
        "transformer": (
            nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
            torch.rand(1, 3, 8),
        ),
        "embedding": (
            nn.Sequential(nn.Embedding(20, 4), nn.LayerNorm(4)),
            torch.tensor([[1, 2, 3]]),
        ),
        "quantizable_mlp": (nn.Sequential(nn.Linear(4, 4), nn.Tanh()), torch.rand(2, 4)),
    }
    for key, (mod, example) in modules.items():
        mod.eval()
        zoo.add(
            "torch", key, f"{key}.state_dict.pt", lambda p, m=mod: torch.save(m.state_dict(), p)
        )
        zoo.add(
            "torch",
            key,
            f"{key}.state_dict.legacy.pt",
            lambda p, m=mod: torch.save(m.state_dict(), p, _use_new_zipfile_serialization=False),
        )
        opt = torch.optim.AdamW(mod.parameters(), lr=1e-3)
        for param in mod.parameters():
            param.grad = torch.ones_like(param)
        opt.step()
        zoo.add("torch", key, f"{key}.optimizer.pt", lambda p, o=opt: torch.save(o.state_dict(), p))
        sched = torch.optim.lr_scheduler.StepLR(opt, 2)
        zoo.add(
            "torch",
            key,
            f"{key}.checkpoint.pt",
            lambda p, m=mod, o=opt, s=sched: torch.save(
                {
                    "model": m.state_dict(),
                    "optim": o.state_dict(),
                    "sched": s.state_dict(),
                    "epoch": 3,
                    "metrics": {"loss": 0.25},
                },
                p,
            ),
        )
        if key not in ("block",):  # a class defined in this script: not importable on load
            zoo.add("torch", key, f"{key}.module.pt", lambda p, m=mod: torch.save(m, p))
        zoo.add(
            "torchscript",
            key,
            f"{key}.script.pt",
            lambda p, m=mod: torch.jit.save(torch.jit.script(m), str(p)),
        )
        zoo.add(
            "torchscript",
            key,
            f"{key}.trace.pt",
            lambda p, m=mod, e=example: torch.jit.save(torch.jit.trace(m, e), str(p)),
        )
        zoo.add(
            "torch-export",
            key,
            f"{key}.pt2",
            lambda p, m=mod, e=example: torch.export.save(torch.export.export(m, (e,)), p),
        )
        zoo.add(
            "torch-fx",
            key,
            f"{key}.fx.pt",
            lambda p, m=mod: torch.save(torch.fx.symbolic_trace(m), p),
        )


# --------------------------------------------------------------------------- fresh held-out


def _fresh_objects() -> dict[str, Callable[[], Any]]:
    """Objects written only after the allowlist was frozen: the second held-out half."""
    import numpy as np

    d = _data()

    def imputer_power() -> Any:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import SGDRegressor
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import PowerTransformer, QuantileTransformer

        X = d["X"].copy()
        X[::5, 2] = np.nan
        return make_pipeline(
            SimpleImputer(), PowerTransformer(), QuantileTransformer(n_quantiles=10), SGDRegressor()
        ).fit(X, d["y_reg"])

    def voting_bagging() -> Any:
        from sklearn.ensemble import BaggingClassifier, VotingClassifier
        from sklearn.naive_bayes import GaussianNB
        from sklearn.neighbors import KNeighborsClassifier

        return VotingClassifier(
            [
                ("bag", BaggingClassifier(KNeighborsClassifier(3), n_estimators=3)),
                ("nb", GaussianNB()),
            ],
            voting="soft",
        ).fit(d["X"], d["y_clf"])

    def spline_ridge() -> Any:
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import KBinsDiscretizer, SplineTransformer

        return make_pipeline(SplineTransformer(n_knots=4), KBinsDiscretizer(3), RidgeCV()).fit(
            d["X"], d["y_reg"]
        )

    def target_encoder_frame() -> Any:
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import GradientBoostingRegressor
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import TargetEncoder

        df = _frame()
        pre = ColumnTransformer(
            [("te", TargetEncoder(target_type="continuous", cv=2), ["city", "kind"])],
            remainder="passthrough",
            verbose_feature_names_out=False,
        )
        return Pipeline([("pre", pre), ("gb", GradientBoostingRegressor(n_estimators=5))]).fit(
            df, np.arange(48.0)
        )

    def kernel_svc_search() -> Any:
        from sklearn.kernel_approximation import Nystroem
        from sklearn.metrics import make_scorer, mean_absolute_error
        from sklearn.model_selection import GridSearchCV
        from sklearn.pipeline import make_pipeline
        from sklearn.svm import LinearSVR

        pipe = make_pipeline(Nystroem(n_components=10), LinearSVR())
        scorer = make_scorer(mean_absolute_error, greater_is_better=False)
        return GridSearchCV(pipe, {"linearsvr__C": [0.5, 1]}, scoring=scorer, cv=2).fit(
            d["X"], d["y_reg"]
        )

    def text_variants() -> Any:
        from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
        from sklearn.naive_bayes import MultinomialNB
        from sklearn.pipeline import make_pipeline, make_union

        docs = ["Red apple", "green pear", "RED cherry", "yellow banana"] * 5
        union = make_union(
            TfidfVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False),
            CountVectorizer(analyzer="char_wb", ngram_range=(2, 3)),
        )
        return make_pipeline(union, MultinomialNB()).fit(docs, [0, 1, 0, 1] * 5)

    def rounding_functions() -> Any:
        from functools import partial

        from sklearn.feature_selection import SelectFromModel
        from sklearn.linear_model import Lasso
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import FunctionTransformer

        return make_pipeline(
            FunctionTransformer(np.exp),
            FunctionTransformer(partial(np.round, decimals=2)),
            SelectFromModel(Lasso(alpha=0.01)),
        ).fit(d["X"], d["y_reg"])

    def mixture() -> Any:
        from sklearn.decomposition import PCA
        from sklearn.mixture import GaussianMixture
        from sklearn.pipeline import make_pipeline

        return make_pipeline(PCA(2), GaussianMixture(2, random_state=0)).fit(d["X"])

    def frozen_discrete() -> Any:
        from scipy import stats

        return [
            stats.binom(10, 0.3),
            stats.nbinom(5, 0.5),
            stats.geom(0.2),
            stats.randint(0, 5),
            stats.bernoulli(0.4),
        ]

    def frozen_continuous() -> Any:
        from scipy import stats

        return {
            "expon": stats.expon(scale=2),
            "beta": stats.beta(2, 3),
            "lognorm": stats.lognorm(0.5),
            "t": stats.t(4),
        }

    def interpolators() -> Any:
        from scipy import interpolate

        x = np.linspace(0, 1, 10)
        grid = interpolate.RegularGridInterpolator((x, x), np.outer(x, x))
        return {
            "grid": grid,
            "uspline": interpolate.UnivariateSpline(x, np.sin(x)),
            "akima": interpolate.Akima1DInterpolator(x, np.cos(x)),
        }

    def frame_periods() -> Any:
        import pandas as pd

        frame = pd.DataFrame(
            {
                "p": pd.period_range("2024-01", periods=4, freq="M"),
                "iv": pd.interval_range(0, 4),
                "cd": pd.Categorical(pd.date_range("2024", periods=4)),
                "lists": [[1, 2], [], [3], None],
                "i8": pd.array([1, None, 3, 4], dtype="Int8"),
                "u64": pd.array([1, 2, None, 4], dtype="UInt64"),
            }
        )
        frame.attrs["source"] = "fresh"
        return frame

    def offsets_fresh() -> Any:
        import pandas as pd

        return [
            pd.DateOffset(hours=3),
            pd.offsets.QuarterEnd(startingMonth=2),
            pd.offsets.BusinessHour(),
            pd.offsets.YearBegin(2),
        ]

    def dateutil_kolkata() -> Any:
        import pandas as pd
        from dateutil import tz as dtz

        return pd.Series(pd.date_range("2024-01-01", periods=4, tz=dtz.gettz("Asia/Kolkata")))

    return {
        "imputer_power": imputer_power,
        "voting_bagging": voting_bagging,
        "spline_ridge": spline_ridge,
        "target_encoder_frame": target_encoder_frame,
        "kernel_svc_search": kernel_svc_search,
        "text_variants": text_variants,
        "rounding_functions": rounding_functions,
        "mixture": mixture,
        "frozen_discrete": frozen_discrete,
        "frozen_continuous": frozen_continuous,
        "interpolators": interpolators,
        "frame_periods": frame_periods,
        "offsets_fresh": offsets_fresh,
        "dateutil_kolkata": dateutil_kolkata,
    }


def fresh(zoo: Zoo) -> None:
    """The second held-out half: new objects in every pickle/joblib form (half ``fresh``)."""
    _every_form(zoo, "fresh", _fresh_objects())


FAMILIES: dict[str, tuple[str, Callable[[Zoo], None]]] = {
    "sklearn-estimator": ("sklearn", sklearn_estimators),
    "sklearn-pipeline": ("sklearn", sklearn_pipelines),
    "pandas": ("pandas", pandas_objects),
    "numpy": ("numpy", numpy_scipy),
    "statsmodels": ("statsmodels", statsmodels_results),
    "boosting": ("sklearn", boosting),
    "onnx": ("onnx", onnx_models),
    "keras": ("keras", keras_models),
    "torch": ("torch", torch_models),
    "fresh": ("sklearn", fresh),
}
_VERSIONED = (
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "sklearn",
    "joblib",
    "statsmodels",
    "xgboost",
    "lightgbm",
    "catboost",
    "onnx",
    "keras",
    "torch",
    "dill",
    "airflow",
)


def versions() -> dict[str, str]:
    """Versions of the producing libraries importable here (and Python's)."""
    found = {"python": platform.python_version()}
    for name in _VERSIONED:
        mod = sys.modules.get(name)
        if mod is not None:
            found[name] = str(getattr(mod, "__version__", "?"))
    return found


def produce(
    out: Path, *, stack: str, families: list[str] | None = None, formats: str = "all"
) -> dict[str, Any]:
    """Write the zoo into ``out`` and return the manifest (also written to manifest.json)."""
    import importlib

    out.mkdir(parents=True, exist_ok=True)
    zoo = Zoo(out, stack, formats)
    started = time.process_time()
    for family in families or list(FAMILIES):
        needs, make = FAMILIES[family]
        try:
            importlib.import_module(needs)
        except ImportError as exc:
            zoo.skipped[family] = f"{needs} not importable: {exc}"
            continue
        make(zoo)
    manifest = {
        "stack": stack,
        "versions": versions(),
        "dill_hooks": "dill" in sys.modules,
        "cpu_seconds": round(time.process_time() - started, 1),
        "files": zoo.rows,
        "skipped": zoo.skipped,
        "producer_errors": zoo.failed,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    """Command line: write the zoo, print counts per family."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--stack", default="project")
    parser.add_argument("--families", default="", help="comma-separated (default: all)")
    parser.add_argument(
        "--formats",
        choices=("all", "rotate"),
        default="all",
        help="every pickle/joblib variant per estimator, or one (rotating)",
    )
    parser.add_argument(
        "--airflow",
        action="store_true",
        help="import airflow.models.dag first, as an Airflow task process does "
        "(dill then hooks the pure-Python pickler joblib uses)",
    )
    args = parser.parse_args(argv)
    if args.airflow:
        os.environ.setdefault("AIRFLOW_HOME", str(args.out / ".airflow-home"))
        importlib_airflow = __import__("importlib").import_module
        importlib_airflow("airflow.models.dag")
    families = [f for f in args.families.split(",") if f] or None
    manifest = produce(args.out, stack=args.stack, families=families, formats=args.formats)
    counts: dict[str, int] = {}
    for row in manifest["files"]:
        counts[row["family"]] = counts.get(row["family"], 0) + 1
    for family, n in sorted(counts.items()):
        print(f"{family:<20} {n}")
    print(
        f"files: {len(manifest['files'])}, producer errors: {len(manifest['producer_errors'])}, "
        f"skipped: {sorted(manifest['skipped'])}, cpu {manifest['cpu_seconds']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
