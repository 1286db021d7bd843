"""The loaded model behind one interface, inside the child process only.

Runs in :mod:`._worker` (never in the gate's own process): it unpickles. A scikit-learn-API
model (pickle or joblib, including XGBoost/LightGBM/CatBoost estimators), an ONNX model
(onnxruntime) or a TorchScript module (when torch is installed) becomes a
:class:`LoadedModel` that predicts labels (as text, so ``1``, ``1.0`` and ``"1"`` compare
equal) and, where the model has them, class probabilities, for a DataFrame of the features.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Model kinds whose gradients an attack can use (see :mod:`.checks.robustness`).
DIFFERENTIABLE = ("logistic-regression", "svm", "torchscript")


class ModelLoadError(Exception):
    """The file is not a model this gate can run, or it failed to load or predict."""


def label_text(values: Any) -> np.ndarray:
    """Labels as text: integral numbers without ``.0``, booleans as ``True``/``False``."""
    arr = np.asarray(values)
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if finite.all() and np.all(arr == np.round(arr)):
            return arr.astype(np.int64).astype(str)
    if arr.dtype.kind == "b":
        return np.where(arr, "True", "False")
    return arr.astype(str)


@dataclass
class LoadedModel:
    """A model the checks can query: labels for rows, probabilities when it has them."""

    kind: str
    """``sklearn``, ``logistic-regression``, ``svm``, ``tree-ensemble``, ``onnx``,
    ``torchscript``."""
    classes: list[str]
    """Class labels as text, in the order of the probability columns."""
    features: list[str]
    """Input columns, in the order the model takes them."""
    _predict: Callable[[Any], np.ndarray]
    _proba: Callable[[Any], np.ndarray] | None = None
    estimator: Any = None
    """The raw object (scikit-learn estimator, ONNX proto path, torch module), for checks
    that need more than predictions (split thresholds, gradients)."""
    _predict_matrix: Callable[[np.ndarray], np.ndarray] | None = None
    queries: int = field(default=0)
    """Rows predicted so far (the attack budget counts them)."""
    named_inputs: bool = False
    """Whether the model records its input columns (else it takes them by position)."""

    def enable_matrix(self, sample: Any) -> bool:
        """Use a float-matrix fast path for attack queries if it predicts as the frame does.

        scikit-learn's DataFrame validation costs milliseconds per call, which a
        decision-based attack making hundreds of one-row calls per row pays every time.
        Checked on ``sample`` (rows of the data): a pipeline that selects columns by name
        refuses the matrix, and then the path stays off.
        """
        if self._predict_matrix is None:
            return False
        try:
            fast = label_text(self._predict_matrix(sample[self.features].to_numpy(dtype=float)))
        except Exception:  # the model insists on named columns
            self._predict_matrix = None
            return False
        if not np.array_equal(fast, self.predict(sample)):
            self._predict_matrix = None
            return False
        return True

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Labels for a float matrix of the features (after :meth:`enable_matrix`)."""
        if self._predict_matrix is None:
            import pandas as pd

            return self.predict(pd.DataFrame(matrix, columns=self.features))
        self.queries += len(matrix)
        return label_text(self._predict_matrix(matrix))

    def predict(self, frame: Any) -> np.ndarray:
        """Predicted labels (text) for the rows of ``frame`` (its feature columns)."""
        self.queries += len(frame)
        return label_text(self._predict(frame[self.features]))

    def predict_proba(self, frame: Any) -> np.ndarray | None:
        """Class probabilities (columns in :attr:`classes` order), or None."""
        if self._proba is None:
            return None
        self.queries += len(frame)
        return np.asarray(self._proba(frame[self.features]), dtype=float)


def load_model(path: str, *, features: list[str], label_values: list[str]) -> LoadedModel:
    """Load the model file at ``path`` (format by content) for the given feature columns.

    ``features`` are the data's candidate input columns (used when the model does not record
    its own); ``label_values`` are the labels in the data (used for models that only output
    class indexes).

    Raises:
        ModelLoadError: unsupported format, load failure, or no ``predict``.
    """
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head[:4] == b"PK\x03\x04":
        return _torchscript(path, features, label_values)
    if _looks_like_onnx(path, head):
        return _onnx(path, features, label_values)
    return _sklearn(path, features)


def _looks_like_onnx(path: str, head: bytes) -> bool:
    from mlsec_gates.gates.scan.formats import looks_like_onnx

    return bool(looks_like_onnx(head[:256])) and not head.startswith(b"\x80")


def _sklearn(path: str, features: list[str]) -> LoadedModel:
    import joblib

    try:
        model = joblib.load(path)  # the scan gate passed these exact bytes (see __init__)
    except Exception as exc:  # an unpickling error of any kind: not a loadable model
        raise ModelLoadError(f"cannot load the model: {type(exc).__name__}: {exc}") from None
    if not callable(getattr(model, "predict", None)):
        raise ModelLoadError(f"the file holds a {type(model).__name__}, which has no predict()")
    names = getattr(model, "feature_names_in_", None)
    if names is None and hasattr(model, "get_booster"):  # XGBoost keeps its own names
        names = getattr(model.get_booster(), "feature_names", None)
    n_in = getattr(model, "n_features_in_", None)
    if names is None and type(model).__module__.startswith("catboost"):
        names, n_in = _catboost_inputs(model, features)
    named = names is not None
    used = [str(n) for n in names] if named else list(features)
    recorded = used
    if named:
        used = _lightgbm_columns(used, features)
    if not named and n_in is not None and n_in != len(used):
        raise ModelLoadError(
            f"the model takes {n_in} features but the data has {len(used)} candidate "
            "columns: set gates.model_eval.feature_columns"
        )

    def inputs(frame: Any) -> Any:
        if not named:
            return frame.to_numpy()
        return frame if recorded == used else frame.set_axis(recorded, axis=1)

    proba = None
    if callable(getattr(model, "predict_proba", None)):

        def proba(frame: Any) -> np.ndarray:
            return np.asarray(model.predict_proba(inputs(frame)))

    def matrix(values: np.ndarray) -> np.ndarray:
        import warnings

        with warnings.catch_warnings():  # "X does not have valid feature names"
            warnings.simplefilter("ignore", UserWarning)
            return _one_column(model.predict(values))

    classes = [str(c) for c in label_text(getattr(model, "classes_", []))]
    return LoadedModel(
        kind=_sklearn_kind(model),
        classes=classes,
        features=used,
        _predict=lambda frame: _one_column(model.predict(inputs(frame))),
        _proba=proba if classes else None,
        estimator=model,
        _predict_matrix=matrix,
        named_inputs=named,
    )


def _lightgbm_columns(recorded: list[str], columns: list[str]) -> list[str]:
    """The data's columns for the names a model records, undoing LightGBM's renaming.

    LightGBM replaces whitespace in feature names by ``_`` when it trains (``mean radius``
    becomes ``mean_radius``) and reports the new names as ``feature_names_in_``; a name
    missing from the data is matched to the one data column that renames to it.
    """
    import re

    present = set(columns)
    renamed: dict[str, list[str]] = {}
    for column in columns:
        renamed.setdefault(re.sub(r"\s", "_", column), []).append(column)
    out = []
    for name in recorded:
        match = renamed.get(name, [])
        out.append(match[0] if name not in present and len(match) == 1 else name)
    return out


def _sklearn_kind(model: Any) -> str:
    name = type(model).__name__
    if name == "LogisticRegression":
        return "logistic-regression"
    if name in ("SVC", "LinearSVC"):
        return "svm"
    if name.endswith(("Forest", "Trees", "Boosting", "Tree")) or name.startswith(
        ("Random", "ExtraTree", "HistGradient", "GradientBoosting", "DecisionTree")
    ):
        return "tree-ensemble"
    if name in ("XGBClassifier", "LGBMClassifier", "CatBoostClassifier"):
        return "tree-ensemble"
    return "sklearn"


def _one_column(labels: Any) -> np.ndarray:
    """Predicted labels as a vector: CatBoost's multiclass ``predict`` gives an (n, 1) array."""
    arr = np.asarray(labels)
    return arr[:, 0] if arr.ndim == 2 and arr.shape[1] == 1 else arr


def _catboost_inputs(model: Any, features: list[str]) -> tuple[list[str] | None, int | None]:
    """A CatBoost model's input names (None: positional) and how many inputs it takes.

    CatBoost records its inputs in ``feature_names_`` (``"0"``, ``"1"``... when it was trained
    on a matrix); its ``n_features_in_`` reads 0 once the model has been unpickled.
    """
    names = [str(n) for n in getattr(model, "feature_names_", None) or []]
    positional = names == [str(i) for i in range(len(names))]
    if not names or (positional and not set(names) <= set(features)):
        return None, len(names) or None
    return names, len(names)


def _onnx(path: str, features: list[str], label_values: list[str]) -> LoadedModel:
    try:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    except ImportError:
        raise ModelLoadError(
            "onnxruntime is not installed: pip install 'mlsec-gates[model-eval]'"
        ) from None
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelLoadError(f"onnxruntime cannot load the model: {exc}") from None
    inputs = session.get_inputs()
    outputs = session.get_outputs()
    per_column = len(inputs) > 1 or (inputs[0].name in features and len(features) == 1)
    used = [i.name for i in inputs] if per_column else list(features)
    missing = [c for c in used if c not in features]
    if missing:
        raise ModelLoadError(f"the ONNX model takes inputs the data lacks: {missing[:5]}")

    def feed(frame: Any) -> dict[str, np.ndarray]:
        if not per_column:
            return {inputs[0].name: frame.to_numpy(dtype=np.float32)}
        out = {}
        for spec in inputs:
            column = frame[spec.name].to_numpy()
            dtype = {"tensor(string)": object, "tensor(int64)": np.int64}.get(spec.type, np.float32)
            out[spec.name] = column.astype(dtype).reshape(-1, 1)
        return out

    def run(frame: Any) -> list[Any]:
        return session.run(None, feed(frame))

    labelled = outputs[0].type in ("tensor(int64)", "tensor(string)") and len(outputs) >= 1
    classes: list[str] = []
    proba: Callable[[Any], np.ndarray] | None = None
    if labelled and len(outputs) > 1:
        classes = _onnx_classes(path) or []
        if classes:

            def proba(frame: Any) -> np.ndarray:
                raw = run(frame)[1]
                if isinstance(raw, list):  # ZipMap: one {class: probability} per row
                    keys = [str(k) for k in raw[0]] if raw else classes
                    order = [keys.index(c) for c in classes]
                    return np.array([[list(row.values())[i] for i in order] for row in raw])
                return np.asarray(raw)

    if labelled:
        predict = lambda frame: np.asarray(run(frame)[0]).reshape(-1)  # noqa: E731
    else:  # one score tensor: class index = argmax (or score > 0.5 with one column)
        classes = sorted(label_values, key=_natural)

        def scores(frame: Any) -> np.ndarray:
            raw = np.asarray(run(frame)[0], dtype=float)
            return raw.reshape(len(frame), -1)

        def predict(frame: Any) -> np.ndarray:
            s = scores(frame)
            index = (s[:, 0] > 0.5).astype(int) if s.shape[1] == 1 else s.argmax(axis=1)
            return np.asarray(classes, dtype=object)[index]

    return LoadedModel(
        kind="onnx",
        classes=classes,
        features=used,
        _predict=predict,
        _proba=proba,
        estimator=path,
        _predict_matrix=None if per_column else lambda m: predict(_Frame(m, used)),
        named_inputs=per_column,
    )


class _Frame:
    """Just enough of a DataFrame for the ONNX feed: ``to_numpy`` and ``len``."""

    def __init__(self, matrix: np.ndarray, columns: list[str]) -> None:
        self.matrix, self.columns = matrix, columns

    def to_numpy(self, dtype: Any = None) -> np.ndarray:
        return self.matrix.astype(dtype) if dtype is not None else self.matrix

    def __len__(self) -> int:
        return len(self.matrix)


def _onnx_classes(path: str) -> list[str] | None:
    """Class labels of a scikit-learn-style ONNX classifier (``classlabels_*`` attributes)."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.name == "classlabels_int64s" and attr.ints:
                return [str(v) for v in attr.ints]
            if attr.name == "classlabels_strings" and attr.strings:
                return [v.decode() for v in attr.strings]
    return None


def _torchscript(path: str, features: list[str], label_values: list[str]) -> LoadedModel:
    try:
        import torch
    except ImportError:
        raise ModelLoadError(
            "a zip archive: TorchScript models need torch, which is not installed"
        ) from None
    try:
        module = torch.jit.load(path, map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError/ValueError on non-TorchScript zips
        raise ModelLoadError(f"not a TorchScript model: {type(exc).__name__}: {exc}") from None
    module.eval()

    def scores(frame: Any) -> np.ndarray:
        with torch.no_grad():
            out = module(torch.as_tensor(frame.to_numpy(dtype=np.float32)))
        return np.asarray(out.detach().cpu().numpy(), dtype=float).reshape(len(frame), -1)

    def proba(frame: Any) -> np.ndarray:
        s = scores(frame)
        if s.shape[1] == 1:
            p = 1 / (1 + np.exp(-s[:, 0]))
            return np.column_stack([1 - p, p])
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    classes = sorted(label_values, key=_natural)  # output index i is the i-th label

    def predict(frame: Any) -> np.ndarray:
        return np.asarray(classes, dtype=object)[proba(frame).argmax(axis=1)]

    return LoadedModel(
        kind="torchscript",
        classes=classes,
        features=list(features),
        _predict=predict,
        _proba=proba,
        estimator=module,
    )


def _natural(text: str) -> tuple[int, float | str]:
    try:
        return (0, float(text))
    except ValueError:
        return (1, text)
