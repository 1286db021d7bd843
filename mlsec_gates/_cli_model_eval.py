"""The ``mlsec-gates model-eval`` subcommand (kept apart from :mod:`mlsec_gates.cli`).

Registered by :func:`add_parser`, which :mod:`mlsec_gates.cli` calls with its shared option
helpers; the handler makes one gate call, like every subcommand.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from mlsec_gates.result import GateResult

EXAMPLES = """\
examples:
  mlsec-gates model-eval model.pkl --data holdout.csv --label-column approved \\
      --sensitive-columns sex,race
  mlsec-gates model-eval s3://ml-models/credit/model.onnx --data s3://ml-data/holdout.parquet \\
      --label-column default --policy gates.yaml --json-out model-eval.json
  mlsec-gates model-eval model.joblib --data holdout.csv --label-column y --budget 120

  Four checks on held-out data, each configurable under gates.model_eval in the policy:
    fairness        per-group accuracy, selection rate, TPR/FPR (fairlearn); demographic
                    parity ratio (four-fifths rule) and equalized odds, intersectional groups
    explainability  permutation importance; sensitive columns and their proxies at the top
    robustness      accuracy under noise and under an evasion attack (ART HopSkipJump / PGD)
    backdoor        a feature value that flips most predictions to one class
  The model is scanned first and loaded only on a scan pass, in a child process with memory
  and time limits. --budget is the seconds the checks share (default 40).

exit status: 0 every check passed (or on_fail: warn), 1 a check failed,
             2 usage, policy, storage or input error, the scan gate did not pass the model,
             it could not be loaded or run, or a check could not decide
"""


def add_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    common_options: Callable[[argparse.ArgumentParser], None],
    gate_options: Callable[[argparse.Namespace], dict[str, Any]],
    progress_printer: Callable[[bool], Any],
) -> None:
    """Add ``model-eval`` to the subcommands."""
    parser = sub.add_parser(
        "model-eval",
        help="evaluate a trained model: fairness, explanations, robustness, backdoors",
        description="Evaluate a trained model on held-out data: group fairness, feature "
        "importance and proxies of sensitive columns, robustness to noise and evasion, and "
        "backdoor triggers. The model is loaded only after the scan gate passes it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", metavar="MODEL", help="model file (pickle/joblib, ONNX, ...)")
    parser.add_argument("--data", required=True, metavar="EVAL", help="held-out data with labels")
    parser.add_argument("--label-column", metavar="L", help="the true label column")
    parser.add_argument(
        "--sensitive-columns",
        metavar="A,B",
        type=_columns,
        help="comma-separated sensitive columns (fairness groups, proxy search)",
    )
    parser.add_argument(
        "--budget",
        metavar="SECONDS",
        type=_seconds,
        help="CPU seconds the checks share (default 40)",
    )
    common_options(parser)

    def handler(args: argparse.Namespace) -> GateResult:
        from mlsec_gates.gates.model_eval import model_eval_gate

        return model_eval_gate(
            args.model,
            data=args.data,
            label_column=args.label_column,
            sensitive_columns=args.sensitive_columns,
            budget=args.budget,
            progress=progress_printer(args.quiet),
            **gate_options(args),
        )

    parser.set_defaults(handler=handler)


def _columns(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one column name")
    return names


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text!r}")
    return value


__all__ = ["EXAMPLES", "add_parser"]
