"""The ``mlsec-gates`` command line. Exit 0: gate passed; 1: gate failed; 2: could not run.

Each subcommand parses its options, calls one gate function and prints the one-screen
summary; all logic lives in :mod:`mlsec_gates.gates`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from mlsec_gates import __version__
from mlsec_gates.errors import Error
from mlsec_gates.result import GateResult, Status
from mlsec_gates.storage import S3Options

EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2

_SCAN_EXAMPLES = """\
examples:
  mlsec-gates scan model.pkl
  mlsec-gates scan models/ --policy gates.yaml --report-dir reports/
  mlsec-gates scan s3://ml-artifacts/models/resnet/ --s3-endpoint-url http://127.0.0.1:9000
  mlsec-gates scan checkpoint.pt --json-out scan.json && deploy checkpoint.pt

exit status: 0 every file passed (or on_fail: warn), 1 a file was blocked or quarantined,
             2 usage, policy or storage error, or nothing could be checked
"""


_VALIDATE_EXAMPLES = """\
examples:
  mlsec-gates validate train.parquet --suite contract.yaml
  mlsec-gates validate s3://ml-data/train.csv --suite s3://ml-data/contract.yaml --policy gates.yaml
  mlsec-gates validate --sql-url sqlite:///features.db --table train --suite contract.yaml
  mlsec-gates validate batch.jsonl --suite contract.json --json-out validate.json

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

Review the suite before committing it: it describes the reference data, good or bad.
exit status: 0 the suite was written, 2 usage, storage or read error
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mlsec-gates``; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: GateResult | str = args.handler(args)
    except Error as exc:
        print(f"mlsec-gates {args.command}: error: {exc.diagnostics()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("mlsec-gates: interrupted", file=sys.stderr)
        return 130
    if not isinstance(result, GateResult):  # validate-profile: not a gate, it writes a file
        print(f"mlsec-gates {args.command}: suite written to {result}")
        return EXIT_PASS
    _print_summary(result, quiet=args.quiet)
    if result.status is Status.ERROR:
        return EXIT_ERROR
    return EXIT_PASS if result.passed else EXIT_FAIL


def _scan(args: argparse.Namespace) -> GateResult:
    from mlsec_gates.gates.scan import scan_gate

    return scan_gate(
        args.targets,
        policy=args.policy,
        report_dir=args.report_dir,
        s3=_s3_options(args),
        json_out=args.json_out,
        progress=_progress_printer(args.quiet),
    )


def _validate(args: argparse.Namespace) -> GateResult:
    from mlsec_gates.gates.validate import validate_gate

    return validate_gate(
        args.data,
        suite=args.suite,
        sql_url=args.sql_url,
        table=args.table,
        policy=args.policy,
        report_dir=args.report_dir,
        s3=_s3_options(args),
        json_out=args.json_out,
    )


def _validate_profile(args: argparse.Namespace) -> str:
    from mlsec_gates.gates.validate.profile import profile_suite

    where = profile_suite(args.reference, out=args.out, s3=_s3_options(args), policy=args.policy)
    return str(where)


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
    _common_options(validate)
    validate.set_defaults(handler=_validate)

    profile = sub.add_parser(
        "validate-profile",
        help="write a starting expectation suite from reference data",
        description="Profile reference data and write an expectation suite for 'validate'.",
        epilog=_PROFILE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    profile.add_argument("reference", metavar="REFERENCE", help="reference data file or s3:// URI")
    profile.add_argument(
        "--out", required=True, metavar="SUITE", help="where to write the suite (YAML)"
    )
    profile.add_argument("--policy", metavar="FILE", help="policy YAML (path or s3:// URI)")
    _s3_arguments(profile)
    profile.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    profile.set_defaults(handler=_validate_profile)
    return parser


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


def _s3_arguments(parser: argparse.ArgumentParser) -> None:
    s3 = parser.add_argument_group("S3 (also read from the policy and the usual AWS_* variables)")
    s3.add_argument("--s3-endpoint-url", metavar="URL", help="S3-compatible endpoint (MinIO...)")
    s3.add_argument("--aws-region", metavar="REGION")
    s3.add_argument("--aws-profile", metavar="PROFILE")


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
    sys.exit(main())


if __name__ == "__main__":
    run()
