"""Model-eval gate on real public data: clean-model false alarms, planted-problem detection, speed.

    python benchmarks/model_eval_bench.py [--part all|clean|detect|speed] [--out results.json]

Data sets ship with scikit-learn and statsmodels (no download). Each is split 50/50 into a
training half and a held-out evaluation half; models are written with ``pickle.dump`` (what
the scanner passes today) and evaluated by the gate exactly as a user would run it.

- **clean**: a gradient-boosting and a logistic-regression model per data set, with a random
  ``group`` column (independent of everything) as the sensitive column; every check that
  decides ``fail`` is a false alarm, ``inconclusive`` is counted separately.
- **detect**: per data set, (a) a backdoor: 8 % of training rows get an exact, rare in-range
  value of one feature (or a value far above its range) and the minority label; counted
  only when the trained model obeys the trigger (attack success >= 50 % on the evaluation
  rows), caught when the check names that feature and class; (b) labels that depend on a
  sensitive attribute the model sees (fairness must fail); (c) the same labels with the
  attribute replaced by a proxy (explainability must flag the proxy).
- **speed**: 10,000 evaluation rows (statsmodels ``randhie``), gradient boosting, all four
  checks with the default budget: wall and CPU seconds of the gate and its child process.

Tuning half (defaults were chosen looking at these): breast_cancer, digits, diabetes, anes96,
fair, grunfeld. Held-out half (not looked at before the run): wine, iris, randhie, star98,
macrodata, modechoice, engel.
"""

from __future__ import annotations

import argparse
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

TUNING = ("breast_cancer", "digits", "diabetes", "anes96", "fair", "grunfeld")
HELD_OUT = ("wine", "iris", "randhie", "star98", "macrodata", "modechoice", "engel")


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


def split(name: str, seed: int = 0):
    from sklearn.model_selection import train_test_split

    x, y = LOADERS[name]()
    x = x.apply(pd.to_numeric, errors="coerce").fillna(0.0)
    x.columns = [str(c) for c in x.columns]
    return train_test_split(x, y, test_size=0.5, random_state=seed, stratify=y)


def models():
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "gradient_boosting": lambda: GradientBoostingClassifier(random_state=0),
        "logistic_regression": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=2000)
        ),
    }


def evaluate(model, x_eval, y_eval, folder: Path, *, sensitive=None, policy=None, budget=None):
    from mlsec_gates.gates.model_eval import run_model_eval

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


def clean_part(folder: Path) -> list[dict]:
    rows = []
    for name in (*TUNING, *HELD_OUT):
        x_tr, x_te, y_tr, y_te = split(name)
        rng = np.random.default_rng(11)
        for label, make in models().items():
            model = make().fit(x_tr, y_tr)
            x_eval = x_te.assign(group=rng.choice(["a", "b"], len(x_te), p=[0.6, 0.4]))
            result, checks, seconds = evaluate(model, x_eval, y_te, folder, sensitive=["group"])
            if any(f.rule_id == "model_eval.scan-not-passed" for f in result.findings):
                # Today's scanner quarantines some estimators (multiclass gradient boosting:
                # issue 11); evaluate a random forest in its place and say so.
                from sklearn.ensemble import RandomForestClassifier

                print(json.dumps({"dataset": name, "model": label, "scanner": "refused"}))
                label = f"{label} -> random_forest (scanner refused)"
                model = RandomForestClassifier(random_state=0).fit(x_tr, y_tr)
                result, checks, seconds = evaluate(model, x_eval, y_te, folder, sensitive=["group"])
            row = {
                "dataset": name,
                "half": "tuning" if name in TUNING else "held-out",
                "model": label,
                "rows": len(x_te),
                "status": result.status.value,
                "seconds": round(seconds, 1),
                **{k: checks[k]["decision"] for k in checks},
                "notes": {k: c.get("summary", c.get("error", "")) for k, c in checks.items()},
            }
            print(json.dumps({k: v for k, v in row.items() if k != "notes"}), flush=True)
            rows.append(row)
    return rows


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


def detect_part(folder: Path) -> list[dict]:
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier

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
    for name in (*TUNING, *HELD_OUT):
        x_tr, x_te, y_tr, y_te = split(name)
        rng = np.random.default_rng(5)
        numeric = [c for c in x_tr.columns if x_tr[c].nunique() > 5]
        values, counts = np.unique(y_tr, return_counts=True)
        target = values[int(np.argmin(counts))]
        # Today's scanner quarantines multiclass gradient boosting (issue 11): forests there.
        trees = GradientBoostingClassifier if len(values) == 2 else RandomForestClassifier
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
                "half": "tuning" if name in TUNING else "held-out",
                "problem": f"backdoor {kind}",
                "model": trees.__name__,
                "feature": column,
                "target": str(target),
                "attack_success": round(success, 3),
                "learned": success >= 0.5,
                "decision": checks["backdoor"]["decision"],
                "caught_and_named": named,
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
        half = len(x_tr)
        for problem, inputs in (
            ("unfair labels", ["planted_group"]),
            ("proxy", ["planted_district"]),
        ):
            features = [*x_tr.columns, *inputs]
            model = trees(random_state=0).fit(x_all[features][:half], y_all[:half])
            result, checks, seconds = evaluate(
                model,
                x_all[half:],
                y_all[half:],
                folder,
                sensitive=["planted_group"],
                policy=fair_explain,
            )
            rules = {f.rule_id for f in result.findings}
            row = {
                "dataset": name,
                "half": "tuning" if name in TUNING else "held-out",
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

    x_tr, x_te, y_tr, y_te = split("randhie")
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
        "per_check_seconds": {k: c.get("seconds") for k, c in checks.items()},
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
        for half in ("tuning", "held-out"):
            rows = [r for r in results["clean"] if r["half"] == half]
            parts = []
            for check in ("fairness", "explainability", "robustness", "backdoor"):
                fails = sum(r[check] == "fail" for r in rows)
                undecided = sum(r[check] in ("inconclusive", "error") for r in rows)
                parts.append(f"{check} {fails}/{len(rows)} [{undecided}]")
            print(f"  {half:9} " + ", ".join(parts))
    if "detect" in results:
        print("\nplanted problems: caught / present")
        for half in ("tuning", "held-out"):
            rows = [r for r in results["detect"] if r["half"] == half]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("all", "clean", "detect", "speed"), default="all")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--datasets", help="comma-separated subset (default: all of them)")
    args = parser.parse_args(argv)
    if args.datasets:
        chosen = set(args.datasets.split(","))
        global TUNING, HELD_OUT
        TUNING = tuple(d for d in TUNING if d in chosen)
        HELD_OUT = tuple(d for d in HELD_OUT if d in chosen)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="model-eval-bench-") as tmp:
        folder = Path(tmp)
        if args.part in ("all", "speed"):
            results["speed"] = speed_part(folder)
        if args.part in ("all", "clean"):
            results["clean"] = clean_part(folder)
        if args.part in ("all", "detect"):
            results["detect"] = detect_part(folder)
    summarize(results)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
