"""What to do about a pickle finding, said for the library that wrote the file.

"Re-export as safetensors" helps a PyTorch user and nobody else: a scikit-learn pipeline has
skops, boosters have their own data-only model formats, data frames have Parquet, and a class
from the team's own code base needs an allowlist entry with a reason. The producer is read
off the globals the pickle imports (the first known library wins, in :data:`PRODUCERS`
order), so every finding of one file gets the same, applicable advice.
"""

from __future__ import annotations

import sys

#: Library roots -> producer, in priority order (a torch checkpoint may hold numpy arrays).
PRODUCERS: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"torch", "__torch__"}), "torch"),
    (frozenset({"xgboost", "lightgbm", "catboost"}), "boosting"),
    (frozenset({"sklearn", "_loss"}), "sklearn"),
    (frozenset({"statsmodels"}), "statsmodels"),
    (frozenset({"pandas", "pyarrow"}), "pandas"),
    (frozenset({"numpy", "scipy", "joblib"}), "numpy"),
)

#: How to write the artefact without pickle, per producer.
DATA_ONLY: dict[str, str] = {
    "torch": (
        "save the weights with safetensors (safetensors.torch.save_file(model.state_dict(), "
        "path)) or torch.save(model.state_dict()) and load them with "
        "torch.load(weights_only=True)"
    ),
    "boosting": (
        "save the booster in its own data-only format (XGBoost save_model('model.json' or "
        "'.ubj'), LightGBM save_model('model.txt'), CatBoost save_model(path, format='cbm')), "
        "which the scanner reads as data"
    ),
    "sklearn": (
        "save the scikit-learn model with skops (skops.io.dump; load with skops.io.load and "
        "an explicit trusted list) instead of pickle/joblib"
    ),
    "statsmodels": (
        "keep the fitted parameters (results.params, .cov_params()) as CSV/Parquet and re-fit "
        "or rebuild the results object from them; results.save() is a pickle"
    ),
    "pandas": "store the data frame as Parquet (DataFrame.to_parquet) instead of a pickle",
    "numpy": (
        "store arrays with np.save/np.savez without object arrays (loaded with "
        "allow_pickle=False) and sparse matrices with scipy.sparse.save_npz"
    ),
    "python": "re-export the artefact in a data-only format (safetensors, Parquet, JSON)",
}


def producer_of(modules: set[str], kind: str | None = None) -> str:
    """The library that most likely wrote a pickle importing from ``modules``."""
    roots = {m.partition(".")[0] for m in modules}
    if kind and kind.startswith(("pytorch", "torchscript")):
        return "torch"
    for names, producer in PRODUCERS:
        if roots & names:
            return producer
    return "python"


def _project_class(global_name: str) -> bool:
    root = global_name.partition(".")[0]
    if any(root in names for names, _ in PRODUCERS):
        return False
    return root not in sys.stdlib_module_names and root not in ("builtins", "__builtin__")


def unknown_global_advice(global_name: str, producer: str) -> str:
    """Remediation for a quarantined (unknown) global in a file from ``producer``."""
    if global_name.startswith("__main__."):
        return (
            f"{global_name} was pickled from a script's main module, so it cannot be checked "
            "or even loaded elsewhere: move the class into an importable package, re-export "
            "the model, then allowlist the class by its module path if it is reviewed code. "
            f"Better: {DATA_ONLY[producer]}."
        )
    if _project_class(global_name):
        return (
            f"{global_name} looks like a class of your own code base. If this artefact comes "
            f"from your pipeline and the class is reviewed, add `{global_name}` to the policy "
            "`gates.scan.allow_globals` with a reason (for example `reason: our feature "
            "transformer, reviewed`); otherwise do not load the file."
        )
    return (
        f"If the producer is trusted and {global_name} is expected, add it to the policy "
        f"`gates.scan.allow_globals` with a reason. To avoid the question: {DATA_ONLY[producer]}."
    )


def blocked_advice(producer: str) -> str:
    """Remediation for a blocked (code-executing) pickle from ``producer``."""
    return (
        "Do not load this file (no torch.load, joblib.load, pickle.load, pandas.read_pickle, "
        "numpy.load with allow_pickle). Rebuild the artefact in a trusted environment and "
        f"{DATA_ONLY[producer]}."
    )
