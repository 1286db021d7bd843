"""Benchmark the poisoning detectors on offline data sets with injected poison.

Usage: python benchmarks/poison_bench.py [--datasets a,b] [--seeds N] [--rates 0.01,0.05,0.1]
       [--clean N] [--quick] [--speed-rows N]

Data sets ship inside scikit-learn or statsmodels (no download): ``breast_cancer``, ``wine``,
``digits``, ``iris`` (sklearn), ``anes96`` (vote), ``fair`` (any affair; two categorical
columns) (statsmodels). Each is split 50/50, stratified, into a trusted reference and a
current batch; poison goes into the current batch only:

* ``label_flip``: random rows relabelled to a random other class;
* ``targeted_flip``: majority-class rows relabelled to the minority class;
* ``trigger_rare`` / ``trigger_inbounds``: non-target rows get the two highest-cardinality
  numeric features set to the reference's 99.5th percentile / median, and the minority label;
* ``dup_flip``: copies of current rows with another label, appended;
* ``ref_dup_flip``: copies of reference rows with another label, appended;
* ``near_dup``: copies of three minority rows with 1e-3 SD noise, same label, appended.

Printed per data set (with the reference model's out-of-fold balanced accuracy, so strong and
weak signal are visible), attack and rate: row recall and precision of the merged suspects,
the batch alarm rate over seeds, and side by side the peer baseline from the field notes:
cleanlab ``find_label_issues`` on the same reference model's probabilities. Clean batches
(``--clean`` extra reshuffles per data set, plus each seed's own clean half) give the batch
false-alarm rate and the clean row suspect rate. ``--speed-rows`` times fit + assess on a
synthetic batch of that many rows (20 features), threads pinned to 1 as in the gate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore", module="cleanlab")
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mlsec_gates.gates.drift.poison import assess, fit_reference  # noqa: E402
from mlsec_gates.gates.drift.poison.model import predict_proba  # noqa: E402
from mlsec_gates.policy import PoisonPolicy  # noqa: E402

ATTACKS = (
    "label_flip",
    "targeted_flip",
    "trigger_rare",
    "trigger_inbounds",
    "dup_flip",
    "ref_dup_flip",
    "near_dup",
)
DEFAULT_DATASETS = ("breast_cancer", "wine", "digits", "anes96", "fair")


@dataclass
class Data:
    """A data set as a frame plus its column roles."""

    frame: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    label: str = "y"


def load(name: str) -> Data:
    """Load an offline data set with a label column ``y``."""
    if name in ("breast_cancer", "wine", "digits", "iris"):
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")(as_frame=True)
        frame = bunch.frame.rename(columns={"target": "y"})
        return Data(frame, [c for c in frame.columns if c != "y"], [])
    import statsmodels.api as sm

    if name == "anes96":
        frame = sm.datasets.anes96.load_pandas().data.rename(columns={"vote": "y"})
        frame["y"] = frame["y"].astype(int)
        return Data(frame, [c for c in frame.columns if c != "y"], [])
    if name == "fair":
        frame = sm.datasets.fair.load_pandas().data
        frame["y"] = (frame.pop("affairs") > 0).astype(int)
        for col in ("occupation", "occupation_husb"):
            frame[col] = "occ" + frame[col].astype(int).astype(str)
        numeric = ["rate_marriage", "age", "yrs_married", "children", "religious", "educ"]
        return Data(frame, numeric, ["occupation", "occupation_husb"])
    raise SystemExit(f"unknown data set {name!r}")


def split(data: Data, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified 50/50 reference / current split."""
    from sklearn.model_selection import train_test_split

    ref, cur = train_test_split(
        data.frame, test_size=0.5, stratify=data.frame[data.label], random_state=seed
    )
    return ref.reset_index(drop=True), cur.reset_index(drop=True)


def poison(
    attack: str,
    data: Data,
    ref: pd.DataFrame,
    cur: pd.DataFrame,
    rate: float,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, set[int]]:
    """The current batch with ``rate`` poison, and the positions of the poisoned rows."""
    y = data.label
    n = max(1, round(rate * len(cur)))
    classes = np.sort(cur[y].unique())
    counts = ref[y].value_counts()
    target, majority = counts.idxmin(), counts.idxmax()
    out = cur.copy()
    if attack == "label_flip":
        rows = rng.choice(len(cur), n, replace=False)
        out.loc[rows, y] = [rng.choice(classes[classes != v]) for v in out.loc[rows, y]]
        return out, set(rows.tolist())
    if attack == "targeted_flip":
        pool = np.nonzero(cur[y].to_numpy() == majority)[0]
        rows = rng.choice(pool, min(n, len(pool)), replace=False)
        out.loc[rows, y] = target
        return out, set(rows.tolist())
    if attack in ("trigger_rare", "trigger_inbounds"):
        card = ref[data.numeric].nunique().sort_values(ascending=False, kind="stable")
        feats = list(card.index[:2])
        q = 0.995 if attack == "trigger_rare" else 0.5
        pool = np.nonzero(cur[y].to_numpy() != target)[0]
        rows = rng.choice(pool, min(n, len(pool)), replace=False)
        for f in feats:
            out.loc[rows, f] = float(ref[f].quantile(q))
        out.loc[rows, y] = target
        return out, set(rows.tolist())
    if attack == "dup_flip":
        rows = rng.choice(len(cur), n, replace=True)
        copies = cur.iloc[rows].copy()
        copies[y] = [rng.choice(classes[classes != v]) for v in copies[y]]
        out = pd.concat([cur, copies], ignore_index=True)
        return out, set(range(len(cur), len(out)))
    if attack == "ref_dup_flip":
        rows = rng.choice(len(ref), n, replace=len(ref) < n)
        copies = ref.iloc[rows].copy()
        copies[y] = [rng.choice(classes[classes != v]) for v in copies[y]]
        out = pd.concat([cur, copies], ignore_index=True)
        return out, set(range(len(cur), len(out)))
    if attack == "near_dup":
        pool = np.nonzero(cur[y].to_numpy() == target)[0]
        seeds = rng.choice(pool, min(3, len(pool)), replace=False)
        copies = cur.iloc[rng.choice(seeds, n, replace=True)].copy()
        sd = ref[data.numeric].std().to_numpy()
        copies[data.numeric] = (
            copies[data.numeric].to_numpy(float) + rng.normal(0, 1e-3, (n, len(data.numeric))) * sd
        )
        out = pd.concat([cur, copies], ignore_index=True)
        return out, set(range(len(cur), len(out)))
    raise ValueError(attack)


def peer_flags(ref_model_ref, frame: pd.DataFrame) -> set[int]:
    """The field notes' baseline: cleanlab find_label_issues on the reference model's probs."""
    from cleanlab.filter import find_label_issues

    enc = ref_model_ref.encoder.encode(frame, what="current")
    proba = predict_proba(
        ref_model_ref.model(), enc.model_matrix, len(ref_model_ref.encoder.classes)
    )
    ok = enc.y >= 0
    labels = enc.y[ok]
    if len(np.unique(labels)) < 2:
        return set()
    try:
        mask = find_label_issues(labels, proba[ok], filter_by="prune_by_noise_rate")
    except (ValueError, AssertionError):
        return set()
    return set(np.nonzero(ok)[0][mask].tolist())


@dataclass
class Tally:
    """Sums over seeds for one case."""

    tp: int = 0
    flagged: int = 0
    poison: int = 0
    alarms: int = 0
    runs: int = 0
    peer_tp: int = 0
    peer_flagged: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(self, got: set[int], truth: set[int], alarm: bool, peer: set[int], secs: float) -> None:
        """Record one run."""
        self.tp += len(got & truth)
        self.flagged += len(got)
        self.poison += len(truth)
        self.alarms += int(alarm)
        self.runs += 1
        self.peer_tp += len(peer & truth)
        self.peer_flagged += len(peer)
        self.seconds.append(secs)


def _strength(accuracy: float) -> str:
    """Signal strength label of a reference model's balanced accuracy."""
    if accuracy < 0.8:
        return "weak"
    return "strong" if accuracy >= 0.95 else "moderate"


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "  - "


def _fit(data: Data, ref: pd.DataFrame, settings: PoisonPolicy, seed: int):
    """The reference profile of ``ref`` with the dataset's label and columns."""
    return fit_reference(
        ref,
        label=data.label,
        numeric=data.numeric,
        categorical=data.categorical,
        settings=settings,
        seed=seed,
    )


def _score_clean(
    clean: Tally, profile, cur: pd.DataFrame, name: str, settings: PoisonPolicy
) -> None:
    """Assess an unpoisoned batch and count it in ``clean`` (no truth, no peer flags)."""
    t0 = time.perf_counter()
    result = assess(profile, cur, uri=name, settings=settings)
    secs = time.perf_counter() - t0
    clean.add({s.row for s in result.suspects}, set(), result.alarm, set(), secs)
    clean.poison += len(cur)  # rows, for the clean row suspect rate


def run(args: argparse.Namespace) -> None:
    """Run every case and print the tables."""
    settings = PoisonPolicy()
    rates = [float(r) for r in args.rates.split(",")]
    print(
        f"poison_bench: seeds={args.seeds} rates={rates} clean reshuffles={args.clean} "
        f"threads={settings.threads} false_alarm_rate={settings.false_alarm_rate} "
        f"suspect_fdr={settings.suspect_fdr}"
    )
    summary = []
    for name in args.datasets.split(","):
        data = load(name)
        cases: dict[tuple[str, float], Tally] = {}
        clean = Tally()
        accuracies = []
        t_fit = []
        for seed in range(args.seeds):
            ref, cur = split(data, seed)
            t0 = time.perf_counter()
            profile = _fit(data, ref, settings, seed)
            t_fit.append(time.perf_counter() - t0)
            accuracies.append(profile.detectability["reference_balanced_accuracy"])
            _score_clean(clean, profile, cur, name, settings)
            for attack in ATTACKS:
                for rate in rates:
                    rng = np.random.default_rng(1000 * seed + int(rate * 1000))
                    batch, truth = poison(attack, data, ref, cur, rate, rng)
                    t0 = time.perf_counter()
                    result = assess(profile, batch, uri=name, settings=settings)
                    secs = time.perf_counter() - t0
                    peer = peer_flags(profile, batch)
                    cases.setdefault((attack, rate), Tally()).add(
                        {s.row for s in result.suspects}, truth, result.alarm, peer, secs
                    )
        for i in range(args.clean):
            ref, cur = split(data, 100 + i)
            profile = _fit(data, ref, settings, 100 + i)
            _score_clean(clean, profile, cur, name, settings)
        acc = float(np.mean(accuracies))
        print(
            f"\n== {name}: {len(data.frame)} rows, {len(data.numeric)} numeric + "
            f"{len(data.categorical)} categorical, {data.frame[data.label].nunique()} classes; "
            f"reference model balanced accuracy {acc:.3f} ({_strength(acc)} signal); "
            f"fit {np.median(t_fit):.2f} s, assess {np.median(clean.seconds):.2f} s (median)"
        )
        print(
            f"{'attack':17} {'rate':>5} {'recall':>6} {'prec':>6} {'alarm':>6}   "
            f"{'peer R':>6} {'peer P':>6}"
        )
        for (attack, rate), t in cases.items():
            line = (
                f"{attack:17} {rate:5.2f} {_ratio(t.tp, t.poison):>6} {_ratio(t.tp, t.flagged):>6} "
                f"{_ratio(t.alarms, t.runs):>6}   {_ratio(t.peer_tp, t.poison):>6} "
                f"{_ratio(t.peer_tp, t.peer_flagged):>6}"
            )
            print(line)
            summary.append((name, acc, attack, rate, t))
        print(
            f"{'clean':17} {'':>5} batch false alarms {clean.alarms}/{clean.runs} "
            f"({clean.alarms / clean.runs:.2f}); clean row suspect rate "
            f"{clean.flagged / max(1, clean.poison):.4f}"
        )
    _goals(summary)
    if args.speed_rows:
        speed(args.speed_rows, settings)


def _goals(summary: list) -> None:
    """Check the brief's goals where they apply (strong-signal data for flips)."""
    print("\n== goals (strong signal = reference balanced accuracy >= 0.95 for flips)")
    for name, acc, attack, rate, t in summary:
        if rate < 0.05 and attack != "dup_flip":
            continue
        recall = t.tp / t.poison if t.poison else 0.0
        precision = t.tp / t.flagged if t.flagged else 0.0
        if attack in ("label_flip", "targeted_flip") and acc >= 0.95:
            ok = recall >= 0.9 and precision >= 0.75
            goal = "R>=0.90 P>=0.75"
        elif attack.startswith("trigger"):
            ok, goal = recall >= 0.9, "R>=0.90"
        elif attack == "dup_flip":
            ok, goal = recall >= 0.95, "R>=0.95"
        else:
            continue
        print(
            f"{name:14} {attack:17} {rate:4.2f} {goal:16} R={recall:.2f} P={precision:.2f} "
            f"{'ok' if ok else 'MISSED'}"
        )


def speed(rows: int, settings: PoisonPolicy) -> None:
    """Time fit + assess at scale on synthetic data (half reference, half current)."""
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=2 * rows, n_features=20, n_informative=8, random_state=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])
    frame["y"] = y
    ref, cur = frame.iloc[:rows].reset_index(drop=True), frame.iloc[rows:].reset_index(drop=True)
    t0 = time.perf_counter()
    profile = fit_reference(
        ref, label="y", numeric=list(frame.columns[:20]), categorical=[], settings=settings
    )
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    assess(profile, cur, uri="synthetic", settings=settings)
    t_assess = time.perf_counter() - t0
    print(
        f"\n== speed: {rows} reference + {rows} current rows x 20 features, 1 thread: "
        f"fit {t_fit:.1f} s, assess {t_assess:.1f} s, total {t_fit + t_assess:.1f} s "
        "(goal P8: <= 60 s)"
    )


def main() -> None:
    """Parse options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rates", default="0.01,0.05,0.1")
    parser.add_argument("--clean", type=int, default=5, help="extra clean reshuffles per data set")
    parser.add_argument("--quick", action="store_true", help="2 data sets, 2 seeds, 3 clean")
    parser.add_argument("--speed-rows", type=int, default=0)
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.seeds, args.clean = "breast_cancer,wine", 2, 3
    run(args)


if __name__ == "__main__":
    main()
