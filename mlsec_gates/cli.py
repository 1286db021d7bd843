"""The ``mlsec-gates`` command line. Exit 0: gate passed; 1: gate failed; 2: could not run.

Each subcommand parses its options, calls one gate function and prints the one-screen
summary; all logic lives in :mod:`mlsec_gates.gates`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from mlsec_gates import __version__
from mlsec_gates.errors import ConfigError, Error
from mlsec_gates.result import GateResult, Status
from mlsec_gates.storage import S3Options

if TYPE_CHECKING:
    from mlsec_gates.chain import ChainResult, ChainStep
    from mlsec_gates.ledger import LedgerReport
    from mlsec_gates.policy import LedgerPolicy, WaiverEntry
    from mlsec_gates.storage import Storage

EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2

_SCAN_EXAMPLES = """\
examples:
  mlsec-gates scan model.pkl
  mlsec-gates scan models/ --policy gates.yaml --report-dir reports/
  mlsec-gates scan s3://ml-artifacts/models/resnet/ --s3-endpoint-url http://127.0.0.1:9000
  mlsec-gates scan checkpoint.pt --json-out scan.json && deploy checkpoint.pt
  mlsec-gates scan models/ --sarif-out scan.sarif       # for GitHub/GitLab code scanning
  mlsec-gates scan model.pt --explain --allowlist allowed-globals.yaml

exit status: 0 every file passed (or on_fail: warn), 1 a file was blocked or quarantined,
             2 usage, policy or storage error, or nothing could be checked
"""


_VALIDATE_EXAMPLES = """\
examples:
  mlsec-gates validate train.parquet --suite contract.yaml
  mlsec-gates validate s3://ml-data/train.csv --suite s3://ml-data/contract.yaml --policy gates.yaml
  mlsec-gates validate --sql-url sqlite:///features.db --table train --suite contract.yaml
  mlsec-gates validate batch.jsonl --suite contract.json --json-out validate.json
  mlsec-gates validate s3://lake/train/ --suite contract.yaml --engine spark   # docs/scale.md
  mlsec-gates validate --sql-url postgresql://wh/db --table train --suite contract.yaml

  contract.yaml uses Great Expectations' own names and arguments:
    name: train-contract
    expectations:
      - expect_column_values_to_not_be_null: {column: age}
      - expect_column_values_to_be_between: {column: age, min_value: 0, max_value: 120}
  (GX's own suite JSON, {"expectations": [{"type": ..., "kwargs": ...}]}, works too)

exit status: 0 every expectation held (or on_fail: warn), 1 an expectation failed,
             2 usage, suite, policy or storage error, unreadable data, zero rows, or an
             expectation that could not be evaluated
"""

_PROFILE_EXAMPLES = """\
examples:
  mlsec-gates validate-profile reference.parquet --out contract.yaml
  mlsec-gates validate-profile s3://ml-data/train.csv --out s3://ml-data/contract.yaml
  mlsec-gates validate-profile --sql-url postgresql://wh/db --table train --out contract.yaml

Review the suite before committing it: it describes the reference data, good or bad.
exit status: 0 the suite was written, 2 usage, storage or read error
"""

_SBOM_EXAMPLES = """\
examples:
  mlsec-gates sbom model/ --dataset data/train.csv --environment --out model.cdx.json
  mlsec-gates sbom model.pkl --requirements requirements.lock --gate-report scan.json
  mlsec-gates sbom s3://ml-artifacts/models/resnet/ --dataset s3://ml-data/train.parquet

  The BOM is CycloneDX 1.6 JSON: the model's files with SHA-256 hashes, the datasets, the
  Python packages (hashed from the lock file, or from each installed RECORD) and the
  verdicts of earlier gates (--gate-report, their JSON reports).

exit status: 0 the BOM was written and is complete, 1 it is incomplete or invalid,
             2 usage, policy, storage or read error
"""

_SIGN_EXAMPLES = """\
examples:
  mlsec-gates sign model/ --key signing-key.pem --out model.sig
  mlsec-gates sign model.pkl --kms-key-id arn:aws:kms:eu-west-1:111122223333:key/1234abcd
  mlsec-gates sign model/ --key signing-key.pem --attach model.cdx.json

  A test key (EC P-256; keep real keys in KMS or an HSM):
    openssl ecparam -name prime256v1 -genkey -noout -out signing-key.pem
    openssl ec -in signing-key.pem -pubout -out signing-key.pub.pem

  The bundle is in the OpenSSF model-signing format:
    model_signing verify key model/ --signature model.sig --public_key signing-key.pub.pem

exit status: 0 signed, 1 the gate refused to sign, 2 usage, key, policy or storage error
"""

_VERIFY_EXAMPLES = """\
examples:
  mlsec-gates verify model/ --signature model.sig --public-key signing-key.pub.pem
  mlsec-gates verify model.pkl --signature model.sig \\
      --kms-key-id arn:aws:kms:eu-west-1:111122223333:key/1234abcd && deploy model.pkl

exit status: 0 the signature is valid for these exact bytes, 1 it is not (a file changed,
             was added or removed, another key signed it, a refused path is present),
             2 usage, key, policy or storage error
"""

_LEDGER_EXAMPLES = """\
examples:
  mlsec-gates ledger verify ledger.jsonl --public-key checkpoint.pub.pem
  mlsec-gates ledger verify s3://ml-audit/ledger/ --kms-key-id alias/mlsec-ledger
  mlsec-gates ledger verify --policy gates.yaml        # ledger.uri and key from the policy
  mlsec-gates ledger verify ledger.jsonl --json > ledger-check.json

exit status: 0 every entry, the chain and every checkpoint check out, 1 a problem was found
             (edited, missing, reordered or cut-off entries, a bad or unsigned checkpoint),
             2 usage, policy, storage or key error, or no such ledger
"""

_LINEAGE_EXAMPLES = """\
examples:
  mlsec-gates lineage 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 \\
      --ledger ledger.jsonl
  mlsec-gates lineage sha256:9f86d0... --policy gates.yaml --json

  DIGEST is the SHA-256 of a model (its model-signing root digest, as in the BOM and the
  signature), of a model or dataset file, or of a report or BOM.

exit status: 0 entries were found, 1 the ledger records nothing for this digest,
             2 usage, policy or storage error
"""

_DRIFT_EXAMPLES = """\
examples:
  mlsec-gates drift --reference trusted.parquet --current batch.parquet --label-column label
  mlsec-gates drift --reference s3://ml-data/ref.csv --current s3://ml-data/2026-11-28.csv
  mlsec-gates drift --profile ref.npz --current batch.csv --suspects-out suspects.csv
  mlsec-gates drift --reference ref.csv --current batch.csv --policy gates.yaml --json-out d.json
  mlsec-gates drift --engine spark --reference s3://lake/ref/ --current s3://lake/2026-11-28/
  mlsec-gates drift --engine sql --sql-url postgresql://wh/db --reference ref_tbl --current cur_tbl

  Per-column drift uses Evidently's methods and default thresholds (K-S / chi-squared / z up
  to 1000 reference rows, normed Wasserstein / Jensen-Shannon above; PSI on request, see
  gates.drift in the policy). With --label-column the poisoning detectors also score every
  row; --suspects-out lists the suspicious ones (row, reason, score, detector).

exit status: 0 no dataset drift and no poisoning alarm (or on_fail: warn), 1 drift or
             poisoning found, 2 usage, policy, storage or input error (missing label
             column, no common column, empty batch, a column's type differs)
"""

_DRIFT_PROFILE_EXAMPLES = """\
examples:
  mlsec-gates drift-profile trusted.parquet --out ref.npz --label-column label
  mlsec-gates drift-profile s3://ml-data/trusted.csv --out s3://ml-data/ref.npz
  mlsec-gates drift-profile s3://lake/ref/ --engine spark --out ref.npz   # sketches, docs/scale.md

  Then: mlsec-gates drift --profile ref.npz --current batch.parquet
exit status: 0 the profile was written, 2 usage, storage or read error
"""


_RUN_EXAMPLES = """\
examples:
  mlsec-gates run --policy gates.yaml
  mlsec-gates run --policy gates.yaml --report-dir reports/run-42

  gates.yaml lists the steps under 'chain' (omitted steps are skipped):
    chain:
      validate: {data: data/train.csv, suite: contract.yaml}
      drift: {reference: data/reference.csv, current: data/train.csv, label_column: label}
      train: {command: [python, train.py, --out, "{model_dir}"], model_dir: build/model}
      scan: {}                  # the train step's model_dir
      sbom: {requirements: requirements.lock}
      sign: {key: signing-key.pem}

exit status: 0 every step passed (or warned), 1 a gate failed (the chain stopped there),
             2 usage, policy or storage error, or a step could not check (error)
"""

_WAIVE_EXAMPLES = """\
examples:
  mlsec-gates waive 19ada725d52d4bbd --reason "vendor pickle, fix due in 1.4" \\
      --approver alice@example.com --expires 2026-12-31 --policy gates.yaml
  mlsec-gates waive 19ada725d52d4bbd --reason ... --approver ... --expires 2026-12-31 \\
      --waivers s3://ml-policies/waivers.yaml

  FINGERPRINT is the 16 hex characters every report shows for a finding. The waiver applies
  up to and including the --expires day (UTC). A finding that makes the scanner block a
  file is only waived when the policy sets waivers_allow_scanner_blocks: true.

exit status: 0 the waiver was written, 2 usage, policy or storage error
"""

_REPORT_EXAMPLES = """\
examples:
  mlsec-gates report reports/run-42/ --out reports/run-42/
  mlsec-gates report s3://ml-reports/dag=train/run=42/ --out s3://ml-reports/dag=train/run=42/
  mlsec-gates report validate-report.json scan-report.json --out combined/
  mlsec-gates report local_outputs/gated-training-2026-12-07-10-00-00-000000/ --out combined/

  A KFP run folder (kfp.local's, or a copy of the pipeline root's run folder) is read through
  the gate components' report_files/*-report.json and report_json outputs.

exit status: 0 the combined report was written, 2 no gate report found, or a read/write error
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mlsec-gates``; returns the exit status."""
    for stream in (sys.stdout, sys.stderr):  # a name that is not UTF-8 never breaks printing
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _run_command(args)
    except Error as exc:
        print(f"mlsec-gates {args.command}: error: {exc.diagnostics()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("mlsec-gates: interrupted", file=sys.stderr)
        return 130
    except RecursionError:
        print(
            f"mlsec-gates {args.command}: error: an input is nested too deeply to be checked",
            file=sys.stderr,
        )
        return EXIT_ERROR
    except MemoryError:
        print(f"mlsec-gates {args.command}: error: out of memory", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # the CLI's one boundary: exit 1 means "gate failed", only that
        text = str(exc).strip().splitlines()
        detail = f": {text[0]}" if text else ""
        print(
            f"mlsec-gates {args.command}: internal error: {type(exc).__name__}{detail} "
            "(nothing was decided; please report this)",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _run_command(args: argparse.Namespace) -> int:
    """Run the subcommand, print its outcome and return the exit status."""
    result: GateResult | Outcome = args.handler(args)
    if isinstance(result, Outcome):  # not a gate: validate-profile, ledger, lineage
        print(result.text)
        return result.code
    _print_summary(result, quiet=args.quiet)
    if getattr(args, "explain", False):
        from mlsec_gates.gates.scan.explain import explain_result

        print("\n" + explain_result(result), end="")
    if result.status is Status.ERROR:
        # The gate ran but could not decide: exit 2, with the reason as one line on stderr
        # like every other exit 2 (the summary above stays on stdout for people).
        reason = " ".join(result.summary.split()) or "the gate could not check its input"
        print(f"mlsec-gates {args.command}: error: {reason}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_PASS if result.passed else EXIT_FAIL


class Outcome(NamedTuple):
    """What a subcommand that is not a gate prints, and its exit status."""

    code: int
    text: str


def _scan(args: argparse.Namespace) -> GateResult:
    from mlsec_gates.gates.scan import scan_gate

    return scan_gate(
        args.targets,
        **_gate_options(args),
        sarif_out=args.sarif_out,
        allowlist=args.allowlist,
        cache=False if args.no_cache else None,
        progress=_progress_printer(args.quiet),
    )


def _validate(args: argparse.Namespace) -> GateResult:
    from mlsec_gates.gates.validate import validate_gate

    return validate_gate(
        args.data,
        suite=args.suite,
        sql_url=args.sql_url,
        table=args.table,
        engine=args.engine,
        **_gate_options(args),
    )


def _validate_profile(args: argparse.Namespace) -> Outcome:
    from mlsec_gates.gates.validate.profile import profile_suite

    where = profile_suite(
        args.reference,
        out=args.out,
        sql_url=args.sql_url,
        table=args.table,
        s3=_s3_options(args),
        policy=args.policy,
    )
    return Outcome(EXIT_PASS, f"mlsec-gates validate-profile: suite written to {where}")


def _sbom(args: argparse.Namespace) -> GateResult:
    from mlsec_gates.gates.sbom import sbom_gate

    return sbom_gate(
        args.model,
        datasets=args.datasets,
        requirements=args.requirements,
        environment=args.environment,
        out=args.out,
        gate_reports=args.gate_reports,
        **_gate_options(args),
    )


def _sign(args: argparse.Namespace) -> GateResult:
    from mlsec_gates.gates.sign import sign_gate

    return sign_gate(
        args.model,
        key=args.key,
        kms_key_id=args.kms_key_id,
        out=args.out,
        attach=args.attach,
        **_gate_options(args),
    )


def _verify(args: argparse.Namespace) -> GateResult:
    from mlsec_gates.gates.sign import verify_gate

    return verify_gate(
        args.model,
        signature=args.signature,
        public_key=args.public_key,
        kms_key_id=args.kms_key_id,
        **_gate_options(args),
    )


def _ledger_verify(args: argparse.Namespace) -> Outcome:
    from mlsec_gates.ledger import verify_ledger

    uri, ledger, storage = _ledger_settings(args)
    public_key, kms_key_id = _checkpoint_key(args, ledger)
    report = verify_ledger(uri, storage=storage, public_key=public_key, kms_key_id=kms_key_id)
    code = EXIT_PASS if report.ok else EXIT_FAIL
    if args.json:
        return Outcome(code, json.dumps(report.to_dict(), indent=2))
    return Outcome(code, _ledger_text(report))


def _lineage(args: argparse.Namespace) -> Outcome:
    from mlsec_gates.ledger import lineage

    uri, _, storage = _ledger_settings(args)
    try:
        entries = lineage(uri, args.digest, storage=storage)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    code = EXIT_PASS if entries else EXIT_FAIL
    if args.json:
        return Outcome(code, json.dumps(entries, indent=2))
    return Outcome(code, _lineage_text(args.digest, entries))


def _drift(args: argparse.Namespace) -> GateResult:
    from mlsec_gates.gates.drift import drift_gate

    return drift_gate(
        args.current,
        reference=args.reference,
        profile=args.profile,
        label_column=args.label_column,
        suspects_out=args.suspects_out,
        progress=_progress_printer(args.quiet),
        engine=args.engine,
        sql_url=args.sql_url,
        evidently_report=args.evidently_report,
        **_gate_options(args),
    )


def _drift_profile(args: argparse.Namespace) -> Outcome:
    from mlsec_gates.gates.drift import drift_profile

    where = drift_profile(
        args.reference,
        out=args.out,
        label_column=args.label_column,
        policy=args.policy,
        s3=_s3_options(args),
        engine=args.engine,
        sql_url=args.sql_url,
    )
    return Outcome(EXIT_PASS, f"mlsec-gates drift-profile: profile written to {where}")


def _run(args: argparse.Namespace) -> Outcome:
    from mlsec_gates.chain import run_chain

    outcome = run_chain(
        args.policy,
        report_dir=args.report_dir,
        s3=_s3_options(args),
        on_step=None if args.quiet else _print_step,
    )
    return Outcome(outcome.exit_code, _chain_text(outcome))


def _waive(args: argparse.Namespace) -> Outcome:
    from mlsec_gates.waivers import add_waiver

    where, storage = _waiver_file(args)
    waiver = add_waiver(
        where,
        fingerprint=args.fingerprint,
        reason=args.reason,
        approver=args.approver,
        expires=args.expires,
        gate=args.gate,
        storage=storage,
    )
    return Outcome(EXIT_PASS, f"mlsec-gates waive: {waiver.id} in {where} ({_until(waiver)})")


def _report(args: argparse.Namespace) -> Outcome:
    from mlsec_gates.reports.combined import write_combined_report
    from mlsec_gates.storage import Storage

    title = args.title or (_run_name(args.inputs[0]) if len(args.inputs) == 1 else None)
    written = write_combined_report(
        args.inputs, args.out, storage=Storage(_s3_options(args)), title=title
    )
    return Outcome(EXIT_PASS, f"mlsec-gates report: combined report: {written['html']}")


def _run_name(location: str) -> str | None:
    """A run folder's name as the report title (``.../gated-training-2026-...``)."""
    name = location.rstrip("/").rsplit("/", 1)[-1]
    return name if name and not name.endswith(".json") else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlsec-gates",
        description="Security gates for ML pipelines: stop bad data, booby-trapped model "
        "files and unsigned artifacts before they reach production.",
        epilog="Run 'mlsec-gates <gate> --help' for a gate's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"mlsec-gates {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="<gate>")

    scan = sub.add_parser(
        "scan",
        help="scan model files for code that runs at load time (pickle, PyTorch, NumPy, joblib)",
        description="Scan model artifacts without loading them. Every file under the given "
        "paths is recognised by content and gets a verdict: pass, block or quarantine.",
        epilog=_SCAN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scan.add_argument(
        "targets", nargs="+", metavar="PATH_OR_URI", help="file, directory or s3:// URI"
    )
    scan.add_argument("--sarif-out", metavar="FILE", help="also write the SARIF 2.1.0 report here")
    scan.add_argument(
        "--allowlist",
        metavar="FILE",
        help="project allowlist file (YAML list of {global, reason}); replaces the policy's "
        "gates.scan.allowlist_file, merged with gates.scan.allow_globals",
    )
    scan.add_argument(
        "--explain",
        action="store_true",
        help="print why each file got its verdict and the allowlist entry that would change it",
    )
    scan.add_argument(
        "--no-cache", action="store_true", help="scan every file again (ignore the verdict cache)"
    )
    _common_options(scan)
    scan.set_defaults(handler=_scan)

    validate = sub.add_parser(
        "validate",
        help="check a dataset (CSV, Parquet, JSON lines, SQL table) against an expectation suite",
        description="Validate data with a Great Expectations suite. Every failed expectation "
        "is a finding with the observed value, the failing row count and sample rows.",
        epilog=_VALIDATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    validate.add_argument(
        "data",
        nargs="?",
        metavar="DATA",
        help="CSV, Parquet or JSON-lines file, local or s3:// (omit with --sql-url/--table)",
    )
    validate.add_argument(
        "--suite", required=True, metavar="SUITE", help="expectation suite, YAML or JSON"
    )
    validate.add_argument(
        "--sql-url", metavar="URL", help="SQLAlchemy URL of a database (sqlite:///data.db)"
    )
    validate.add_argument("--table", metavar="NAME", help="table to validate in --sql-url")
    _engine_option(validate, ("local", "spark"), "gates.validate.engine")
    _common_options(validate)
    validate.set_defaults(handler=_validate)

    profile = sub.add_parser(
        "validate-profile",
        help="write a starting expectation suite from reference data",
        description="Profile reference data and write an expectation suite for 'validate'.",
        epilog=_PROFILE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    profile.add_argument(
        "reference",
        nargs="?",
        metavar="REFERENCE",
        help="reference data file or s3:// URI (omit with --sql-url/--table)",
    )
    profile.add_argument("--sql-url", metavar="URL", help="SQLAlchemy URL of the database")
    profile.add_argument("--table", metavar="NAME", help="reference table in --sql-url")
    profile.add_argument(
        "--out", required=True, metavar="SUITE", help="where to write the suite (YAML)"
    )
    profile.add_argument("--policy", metavar="FILE", help="policy YAML (path or s3:// URI)")
    _s3_arguments(profile)
    profile.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    profile.set_defaults(handler=_validate_profile)
    _provenance_parsers(sub)
    _chain_parsers(sub)
    _drift_parsers(sub)
    from mlsec_gates._cli_model_eval import add_parser as _model_eval_parser

    _model_eval_parser(sub, _common_options, _gate_options, _progress_printer)
    return parser


def _chain_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The run, waive and report subcommands."""
    run = sub.add_parser(
        "run",
        help="run the whole gate chain of a policy: validate, drift, train, scan, sbom, sign",
        description="Run the steps listed under 'chain' in the policy, in order; stop at the "
        "first failing gate and write one combined report for the run.",
        epilog=_RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--policy", required=True, metavar="FILE", help="policy YAML with 'chain'")
    run.add_argument(
        "--report-dir",
        metavar="DIR_OR_URI",
        help="where each step's reports and the combined report go "
        "(default: ./mlsec-gate-reports/chain-<timestamp>)",
    )
    _s3_arguments(run)
    run.add_argument("-q", "--quiet", action="store_true", help="print only the verdict")
    run.set_defaults(handler=_run)

    waive = sub.add_parser(
        "waive",
        help="accept one finding until a date (it then passes, marked waived)",
        description="Write a waiver for one finding into the waiver file.",
        epilog=_WAIVE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    waive.add_argument("fingerprint", metavar="FINDING_FINGERPRINT", help="from the report")
    waive.add_argument("--reason", required=True, help="why the risk is accepted")
    waive.add_argument("--approver", required=True, help="who accepted it")
    waive.add_argument(
        "--expires", required=True, metavar="YYYY-MM-DD", help="last day it applies (UTC)"
    )
    waive.add_argument("--gate", help="only for this gate (default: any gate)")
    waive.add_argument(
        "--waivers", metavar="FILE", help="waiver file (default: the policy's waivers_file)"
    )
    waive.add_argument("--policy", metavar="FILE", help="policy YAML that sets waivers_file")
    _s3_arguments(waive)
    waive.set_defaults(handler=_waive, quiet=False)

    report = sub.add_parser(
        "report",
        help="combine the gate reports of a pipeline run into one report",
        description="Gather the JSON reports of every gate of a run (folders, s3:// prefixes "
        "or files) into combined-report.html, .md and .json.",
        epilog=_REPORT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument(
        "inputs", nargs="+", metavar="RUN_DIR_OR_JSON", help="folder, s3:// prefix or report"
    )
    report.add_argument("--out", required=True, metavar="DIR_OR_URI", help="output folder")
    report.add_argument("--title", help="page title (default: the run folder's name)")
    _s3_arguments(report)
    report.set_defaults(handler=_report, quiet=False)


def _print_step(step: ChainStep, result: GateResult) -> None:
    print(f"{step.task_id:<9} {result.status.value.upper():<6} {result.summary}", flush=True)


def _chain_text(outcome: ChainResult) -> str:
    status = outcome.status.value.upper()
    where = f" at {outcome.stopped_at}" if outcome.stopped_at else ""
    lines = [f"mlsec-gates run: {status}{where}"]
    if outcome.not_run:
        lines.append(f"not run: {', '.join(outcome.not_run)}")
    lines.append(f"Combined report: {outcome.reports['html']}")
    return "\n".join(lines)


def _waiver_file(args: argparse.Namespace) -> tuple[str, Storage]:
    """The waiver file: ``--waivers``, else the policy's ``waivers_file``; and its storage."""
    from mlsec_gates.gates._common import gate_storage, load_policy
    from mlsec_gates.storage import Storage

    s3 = _s3_options(args)
    policy = load_policy(args.policy, storage=Storage(s3) if s3 else Storage(), gate="scan")
    where = args.waivers or policy.waivers_file
    if not where:
        raise ConfigError("which waiver file? give --waivers FILE or a --policy with waivers_file")
    return where, gate_storage(policy, s3)


def _until(waiver: WaiverEntry) -> str:
    return f"finding {waiver.fingerprint} by {waiver.approver}, until {waiver.expires} UTC"


def _provenance_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The sbom, sign, verify, ledger and lineage subcommands."""
    sbom = sub.add_parser(
        "sbom",
        help="write the CycloneDX ML-BOM of a model: files, datasets, packages, gate verdicts",
        description="Write a CycloneDX 1.6 ML-BOM of a model and check that it is complete "
        "and valid.",
        epilog=_SBOM_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sbom.add_argument("model", metavar="MODEL", help="model file or directory, or s3:// URI")
    sbom.add_argument(
        "--dataset",
        dest="datasets",
        action="append",
        default=[],
        metavar="URI",
        help="a dataset the model was trained on (repeat for more)",
    )
    packages = sbom.add_mutually_exclusive_group()
    packages.add_argument(
        "--requirements", metavar="FILE", help="pip requirements/lock file with --hash lines"
    )
    packages.add_argument(
        "--environment", action="store_true", help="list the packages installed here"
    )
    sbom.add_argument(
        "--gate-report",
        dest="gate_reports",
        action="append",
        default=[],
        metavar="JSON",
        help="JSON report of an earlier gate, recorded as evidence (repeat for more)",
    )
    sbom.add_argument("--out", metavar="FILE", help="where to write the BOM")
    _common_options(sbom)
    sbom.set_defaults(handler=_sbom)

    sign = sub.add_parser(
        "sign",
        help="sign a model (OpenSSF model-signing bundle) with an EC key or AWS KMS",
        description="Sign every file of a model; the bundle verifies with 'mlsec-gates "
        "verify' and with the stock model_signing CLI.",
        epilog=_SIGN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sign.add_argument("model", metavar="MODEL", help="model file or directory, or s3:// URI")
    signer = sign.add_mutually_exclusive_group(required=True)
    signer.add_argument("--key", metavar="KEY.pem", help="EC private key (P-256/384/521)")
    signer.add_argument("--kms-key-id", metavar="ARN", help="AWS KMS key id or ARN")
    sign.add_argument("--out", metavar="BUNDLE", help="where to write the signature bundle")
    sign.add_argument(
        "--attach",
        action="append",
        default=[],
        metavar="FILE",
        help="a file signed along with the model, e.g. its BOM (repeat for more)",
    )
    _common_options(sign)
    sign.set_defaults(handler=_sign)

    verify = sub.add_parser(
        "verify",
        help="verify a model against its signature bundle before deploying it",
        description="Verify, offline, that a model is byte for byte what was signed.",
        epilog=_VERIFY_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("model", metavar="MODEL", help="model file or directory, or s3:// URI")
    verify.add_argument("--signature", required=True, metavar="BUNDLE", help="the signature bundle")
    trusted = verify.add_mutually_exclusive_group(required=True)
    trusted.add_argument("--public-key", metavar="PUB.pem", help="the trusted public key")
    trusted.add_argument(
        "--kms-key-id", metavar="ARN", help="AWS KMS key whose public key is trusted"
    )
    _common_options(verify)
    verify.set_defaults(handler=_verify)

    ledger = sub.add_parser(
        "ledger",
        help="check the provenance ledger (the record of every gate decision)",
        description="Work with the provenance ledger named by 'ledger.uri' in the policy.",
    )
    ledger_sub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="<command>")
    ledger_verify = ledger_sub.add_parser(
        "verify",
        help="check every entry's hash, the chain and the signed checkpoints",
        description="Check the ledger: every entry's hash, the hash chain, the numbering and "
        "the signed checkpoints (which catch truncation and whole-chain rewrites).",
        epilog=_LEDGER_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ledger_verify.add_argument(
        "uri", nargs="?", metavar="URI", help="ledger file or s3:// prefix (default: the policy's)"
    )
    pinned = ledger_verify.add_mutually_exclusive_group()
    pinned.add_argument(
        "--public-key", metavar="PUB.pem", help="key the checkpoints must verify with"
    )
    pinned.add_argument("--kms-key-id", metavar="ARN", help="or the AWS KMS key that signs them")
    _ledger_options(ledger_verify)
    ledger_verify.set_defaults(handler=_ledger_verify, command="ledger verify")

    lineage = sub.add_parser(
        "lineage",
        help="everything the ledger records about a model, dataset or report digest",
        description="List the ledger entries that record a SHA-256: the gates a model or "
        "dataset went through, oldest first.",
        epilog=_LINEAGE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lineage.add_argument("digest", metavar="DIGEST", help="hex SHA-256, optionally sha256:...")
    lineage.add_argument("--ledger", dest="uri", metavar="URI", help="ledger file or s3:// prefix")
    _ledger_options(lineage)
    lineage.set_defaults(handler=_lineage)


def _drift_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The drift and drift-profile subcommands."""
    drift = sub.add_parser(
        "drift",
        help="compare a data batch with a trusted reference: drift per column, poisoned rows",
        description="Check a batch against trusted reference data (or its stored profile): "
        "distribution drift per column with Evidently's methods and thresholds, and, with a "
        "label column, row-level poisoning detectors (label flips, triggers, duplicates).",
        epilog=_DRIFT_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    drift.add_argument(
        "--current", required=True, metavar="CUR", help="batch to check: CSV/Parquet, or s3://"
    )
    source = drift.add_mutually_exclusive_group(required=True)
    source.add_argument("--reference", metavar="REF", help="trusted reference data")
    source.add_argument("--profile", metavar="FILE", help="reference profile (drift-profile)")
    drift.add_argument("--label-column", metavar="LABEL", help="label; runs the detectors")
    drift.add_argument(
        "--evidently-report",
        action="store_true",
        default=None,
        help="also render Evidently's drift page when the gate passes (default: only on failure)",
    )
    drift.add_argument(
        "--suspects-out", metavar="FILE", help="CSV of suspicious rows (row, reason, score)"
    )
    _engine_option(drift, ("local", "spark", "sql"), "gates.drift.engine")
    drift.add_argument(
        "--sql-url", metavar="URL", help="sql engine: database whose tables REF and CUR name"
    )
    _common_options(drift)
    drift.set_defaults(handler=_drift)

    profile = sub.add_parser(
        "drift-profile",
        help="store a reference's statistics once, for 'drift --profile'",
        description="Compute what the drift gate needs from trusted reference data (sorted "
        "values, category counts, the poisoning detectors' state) and store it in one file.",
        epilog=_DRIFT_PROFILE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    profile.add_argument("reference", metavar="REF", help="trusted reference data, or s3://")
    profile.add_argument("--out", required=True, metavar="FILE", help="where to write it (.npz)")
    profile.add_argument("--label-column", metavar="LABEL", help="label; fits the detectors")
    _engine_option(profile, ("local", "spark", "sql"), "gates.drift.engine")
    profile.add_argument("--sql-url", metavar="URL", help="sql engine: database of table REF")
    profile.add_argument("--policy", metavar="FILE", help="policy YAML (path or s3:// URI)")
    _s3_arguments(profile)
    profile.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    profile.set_defaults(handler=_drift_profile)


def _ledger_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy", metavar="FILE", help="policy YAML whose 'ledger' section names the ledger"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    _s3_arguments(parser)


def _ledger_settings(args: argparse.Namespace) -> tuple[str, LedgerPolicy, Storage]:
    """The ledger URI (argument, else the policy's), the ledger policy and the storage."""
    from mlsec_gates.gates._common import gate_storage, load_policy
    from mlsec_gates.storage import Storage

    s3 = _s3_options(args)
    policy = load_policy(args.policy, storage=Storage(s3) if s3 else Storage(), gate="sign")
    uri = args.uri or policy.ledger.uri
    if not uri:
        raise ConfigError("which ledger? give its URI or set ledger.uri in the --policy file")
    return uri, policy.ledger, gate_storage(policy, s3)


def _checkpoint_key(
    args: argparse.Namespace, ledger: LedgerPolicy
) -> tuple[str | None, str | None]:
    """The pinned checkpoint key: the options, else the policy's public key, else its KMS key."""
    if args.public_key or args.kms_key_id:
        return args.public_key, args.kms_key_id
    if ledger.checkpoint_public_key:
        return ledger.checkpoint_public_key, None
    return None, ledger.checkpoint_kms_key_id


def _ledger_text(report: LedgerReport) -> str:
    verdict = "OK" if report.ok else "FAILED"
    lines = [
        f"mlsec-gates ledger verify: {verdict}: {report.uri}: {report.entries} entries, "
        f"{report.checkpoints} checkpoint(s), {report.covered} covered by a verified "
        f"checkpoint, head {report.head or '-'}"
    ]
    lines += [f"  {p.kind}: {p.message}" for p in report.problems[:50]]
    hidden = len(report.problems) - 50 + report.more_problems
    if hidden > 0:
        lines.append(f"  ... and {hidden} more problem(s) (--json lists them)")
    return "\n".join(lines)


def _lineage_text(digest: str, entries: list[dict[str, Any]]) -> str:
    if not entries:
        return f"mlsec-gates lineage: the ledger records nothing for {digest}"
    lines = [f"mlsec-gates lineage: {len(entries)} entr{'y' if len(entries) == 1 else 'ies'}"]
    for entry in entries:
        run = entry.get("run") or {}
        where = "/".join(run[k] for k in ("dag_id", "run_id", "task_id") if run.get(k))
        mark = "" if entry.get("intact", True) else "  [EDITED: run ledger verify]"
        lines.append(
            f"  #{entry.get('seq')} {entry.get('ts', '')} {entry.get('gate', entry.get('kind'))}"
            f" {entry.get('status', '')} {where}: {entry.get('summary', '')}{mark}"
        )
    return "\n".join(lines)


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", metavar="FILE", help="policy YAML (path or s3:// URI)")
    parser.add_argument("--json-out", metavar="FILE", help="also write the JSON report here")
    parser.add_argument(
        "--report-dir",
        metavar="DIR_OR_URI",
        help="where to write the JSON/Markdown/HTML reports "
        "(default: ./mlsec-gate-reports/<gate>-<timestamp>)",
    )
    _s3_arguments(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the verdict line")


def _engine_option(parser: argparse.ArgumentParser, engines: tuple[str, ...], key: str) -> None:
    parser.add_argument(
        "--engine",
        choices=engines,
        help=f"where the statistics are computed (default: the policy's {key}, else local; "
        "see docs/scale.md)",
    )


def _s3_arguments(parser: argparse.ArgumentParser) -> None:
    s3 = parser.add_argument_group("S3 (also read from the policy and the usual AWS_* variables)")
    s3.add_argument("--s3-endpoint-url", metavar="URL", help="S3-compatible endpoint (MinIO...)")
    s3.add_argument("--aws-region", metavar="REGION")
    s3.add_argument("--aws-profile", metavar="PROFILE")


def _gate_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments every gate subcommand passes on (see ``_common_options``)."""
    return {
        "policy": args.policy,
        "report_dir": args.report_dir,
        "s3": _s3_options(args),
        "json_out": args.json_out,
    }


def _s3_options(args: argparse.Namespace) -> S3Options | None:
    if not (args.s3_endpoint_url or args.aws_region or args.aws_profile):
        return None
    return S3Options(
        endpoint_url=args.s3_endpoint_url, region=args.aws_region, profile=args.aws_profile
    )


def _progress_printer(quiet: bool) -> Callable[[int, int, str], None] | None:
    """Progress on an interactive terminal only: logs and CI stay clean."""
    if quiet or not sys.stderr.isatty() or os.environ.get("CI"):
        return None

    def show(done: int, total: int, path: str) -> None:
        name = path if len(path) <= 60 else "..." + path[-57:]
        end = "\n" if done == total else ""
        print(f"\r\033[K[{done}/{total}] {name}", end=end, file=sys.stderr, flush=True)

    return show


def _print_summary(result: GateResult, *, quiet: bool) -> None:
    if quiet:
        print(f"{result.gate}: {result.status.value}: {result.summary}")
        return
    from mlsec_gates.reports import render_markdown

    print(render_markdown(result), end="")


def run() -> NoReturn:
    """Console-script wrapper."""
    # This process is ours: skip pydantic's plugin discovery (an entry-point scan of every
    # installed distribution, a large part of the start-up) unless the user configured it.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    sys.exit(main())


if __name__ == "__main__":
    run()
