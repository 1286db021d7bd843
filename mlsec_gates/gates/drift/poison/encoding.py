"""Turn a pandas batch into the plain arrays the detectors work on.

Numeric columns become float64 (NaN for missing), categorical columns ordinal codes taken
from the reference (most frequent first, at most :data:`MAX_CATEGORIES`; unseen, rarer and
missing values share the code ``-1``), the label an integer code into the reference's
classes (``-1`` for a label the reference never had, ``-2`` for a missing label). Row hashes
are computed from the raw feature values (categories as text), so two rows hash equal
exactly when their features are equal, whatever the encoding did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlsec_gates.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

#: Most categories kept per categorical column (the gradient-boosting model's native
#: categorical support takes codes below 255; the rest fall into the "other" code).
MAX_CATEGORIES = 250

_MISSING = "\x00missing"
UNSEEN_LABEL = -1
MISSING_LABEL = -2


def label_key(value: Any) -> str | None:
    """The text a label is matched by, so ``1``, ``1.0`` and ``"1"`` are the same class."""
    try:
        if value is None or bool(value != value):  # None, NaN, NaT
            return None
    except TypeError:  # pandas.NA refuses to be a boolean
        return None
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def category_text(values: pd.Series) -> pd.Series:
    """Category values as the text they are matched by (None when missing).

    ``1``, ``1.0`` and ``"1"`` are one category, and a missing value is missing whether it
    was read as None, NaN or ``pandas.NA``: a copied row is a copied row, whichever reader or
    dtype delivered it.
    """
    import pandas as pd

    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values.astype(object).where(values.notna(), None)
    return values.astype(object).map(label_key)


@dataclass(frozen=True)
class Encoder:
    """The reference's columns, category vocabularies and label classes."""

    label: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    """Per categorical column, its kept categories; a category's code is its position."""
    classes: tuple[str, ...]
    """The reference's label classes (as :func:`label_key` text), sorted."""

    @classmethod
    def fit(
        cls, frame: pd.DataFrame, *, label: str, numeric: list[str], categorical: list[str]
    ) -> Encoder:
        """Learn the vocabularies from the reference batch."""
        _check_columns(frame, label, numeric, categorical, "reference")
        categories = []
        for col in categorical:
            counts = category_text(frame[col]).dropna().value_counts(sort=False)
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            categories.append(tuple(k for k, _ in ordered[:MAX_CATEGORIES]))
        keys = {label_key(v) for v in frame[label].unique()}
        classes = tuple(sorted(k for k in keys if k is not None))
        if len(classes) < 2:
            raise InputError(
                f"reference label column {label!r} has {len(classes)} class(es); the poisoning "
                "detectors need at least 2"
            )
        return cls(label, tuple(numeric), tuple(categorical), tuple(categories), classes)

    @property
    def features(self) -> tuple[str, ...]:
        """Numeric then categorical columns, the order of the encoded matrix."""
        return self.numeric + self.categorical

    def encode(self, frame: pd.DataFrame, *, what: str) -> Encoded:
        """Encode a batch (the reference or a current batch) into arrays."""
        import pandas as pd

        _check_columns(frame, self.label, list(self.numeric), list(self.categorical), what)
        n = len(frame)
        x_num = np.empty((n, len(self.numeric)), dtype=np.float64)
        for j, col in enumerate(self.numeric):
            try:
                x_num[:, j] = pd.to_numeric(frame[col], errors="raise").to_numpy(np.float64)
            except (TypeError, ValueError) as exc:
                raise InputError(f"{what} column {col!r} is not numeric: {exc}") from None
        x_cat = np.empty((n, len(self.categorical)), dtype=np.int32)
        texts = []
        for j, col in enumerate(self.categorical):
            texts.append(category_text(frame[col]))
            x_cat[:, j] = pd.Categorical(texts[-1], categories=list(self.categories[j])).codes
        index = {c: i for i, c in enumerate(self.classes)}
        y = np.empty(n, dtype=np.int32)
        raw_labels = []
        for i, v in enumerate(frame[self.label].to_numpy(dtype=object)):
            key = label_key(v)
            raw_labels.append(key)
            y[i] = MISSING_LABEL if key is None else index.get(key, UNSEEN_LABEL)
        # -0.0 + 0.0 is 0.0: equal numbers hash equal; NaN hashes as NaN.
        hashable = pd.DataFrame(
            {f"n{j}": x_num[:, j] + 0.0 for j in range(x_num.shape[1])}
            | {f"c{j}": t.fillna(_MISSING).to_numpy() for j, t in enumerate(texts)}
        )
        hashes = (
            pd.util.hash_pandas_object(hashable, index=False).to_numpy(np.uint64)
            if hashable.shape[1]
            else np.zeros(n, dtype=np.uint64)
        )
        return Encoded(x_num, x_cat, y, hashes, tuple(raw_labels))

    def to_meta(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "label": self.label,
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "categories": [list(c) for c in self.categories],
            "classes": list(self.classes),
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Encoder:
        """Inverse of :meth:`to_meta`."""
        return cls(
            meta["label"],
            tuple(meta["numeric"]),
            tuple(meta["categorical"]),
            tuple(tuple(c) for c in meta["categories"]),
            tuple(meta["classes"]),
        )


@dataclass(frozen=True)
class Encoded:
    """One batch as arrays; row ``i`` is the ``i``-th row of the batch."""

    x_num: np.ndarray
    x_cat: np.ndarray
    y: np.ndarray
    hashes: np.ndarray
    raw_labels: tuple[str | None, ...]

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def model_matrix(self) -> np.ndarray:
        """Features for the model: numeric values, then category codes (-1 as missing)."""
        cat = np.where(self.x_cat < 0, np.nan, self.x_cat.astype(np.float64))
        return np.hstack([self.x_num, cat])

    def take(self, rows: np.ndarray) -> Encoded:
        """The given rows only."""
        return Encoded(
            self.x_num[rows],
            self.x_cat[rows],
            self.y[rows],
            self.hashes[rows],
            tuple(self.raw_labels[i] for i in rows),
        )


def _check_columns(
    frame: pd.DataFrame, label: str, numeric: list[str], categorical: list[str], what: str
) -> None:
    """Fail with one line naming the missing column or the empty feature list."""
    if not numeric and not categorical:
        raise InputError("the poisoning detectors need at least one feature column")
    for col in (label, *numeric, *categorical):
        if col not in frame.columns:
            raise InputError(f"{what} batch has no column {col!r}")
    if label in numeric or label in categorical:
        raise InputError(f"label column {label!r} is also listed as a feature")
