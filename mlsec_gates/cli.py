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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``mlsec-gates``; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: GateResult = args.handler(args)
    except Error as exc:
        print(f"mlsec-gates {args.command}: error: {exc.diagnostics()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("mlsec-gates: interrupted", file=sys.stderr)
        return 130
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
    s3 = parser.add_argument_group("S3 (also read from the policy and the usual AWS_* variables)")
    s3.add_argument("--s3-endpoint-url", metavar="URL", help="S3-compatible endpoint (MinIO...)")
    s3.add_argument("--aws-region", metavar="REGION")
    s3.add_argument("--aws-profile", metavar="PROFILE")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the verdict line")


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
