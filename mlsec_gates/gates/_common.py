"""What every gate does around its own checks: load the policy, decide, write the reports."""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from importlib import metadata

from mlsec_gates import __version__
from mlsec_gates.errors import ConfigError
from mlsec_gates.policy import OnFail, Policy, parse_policy
from mlsec_gates.result import GateResult, Status
from mlsec_gates.storage import S3Options, Storage

Progress = Callable[[int, int, str], None]
"""``progress(done, total, what)``: called as a gate finishes each step (the CLI's bar)."""


def stepper(progress: Progress | None, total: int) -> Callable[[str], None]:
    """A ``step(what)`` that counts the finished steps of ``total`` and reports each one."""
    done = [0]

    def step(what: str) -> None:
        done[0] += 1
        if progress:
            progress(done[0], total, what)

    return step


def now() -> datetime:
    """The current time in UTC (reports use aware timestamps)."""
    return datetime.now(timezone.utc)


def load_policy(
    policy: Policy | str | None,
    *,
    storage: Storage,
    gate: str,
    on_fail: OnFail | None = None,
) -> Policy:
    """The policy for a path/URI, inline YAML text, a parsed policy, or the defaults.

    A string is YAML text when it contains a line break or ``": "``, or starts with ``{``
    (``on_fail: warn``), which a path or ``s3://`` URI never does; otherwise it names a file.
    None or a blank string means the defaults, which fail on every finding (KFP and Airflow
    templates render unset fields as empty strings). ``on_fail``, when given, overrides the
    setting for ``gate``.

    Raises:
        ConfigError: the policy is invalid.
        InputError: the policy file does not exist.
    """
    if on_fail not in (None, "fail", "warn"):
        raise ConfigError(f"on_fail must be 'fail' or 'warn', got {on_fail!r}")
    if isinstance(policy, Policy):
        loaded = policy
    elif policy is None or (isinstance(policy, str) and not policy.strip()):
        loaded = Policy()
    elif not isinstance(policy, str):
        raise ConfigError(f"policy must be a path, URI or YAML text, got {policy!r}")
    elif is_inline_text(policy):
        loaded = parse_policy(policy, source="<inline policy>", read=storage.read_text)
    else:
        text = storage.read_text(policy.strip())
        loaded = parse_policy(text, source=policy.strip(), read=storage.read_text)
    return loaded.overriding(gate, on_fail)


def is_inline_text(text: str) -> bool:
    """True when a policy or suite argument is the YAML/JSON text itself, not a path or URI."""
    stripped = text.strip()
    return "\n" in stripped or ": " in stripped or stripped.startswith("{")


def gate_storage(policy: Policy, s3: S3Options | None) -> Storage:
    """Storage for a gate run: the policy's S3 settings, with explicit options on top."""
    explicit = s3 or S3Options()
    merged = S3Options.from_policy(
        policy.storage.s3,
        endpoint_url=explicit.endpoint_url,
        region=explicit.region,
        profile=explicit.profile,
        access_key_id=explicit.access_key_id,
        secret_access_key=explicit.secret_access_key,
        session_token=explicit.session_token,
    )
    return Storage(merged)


def run_and_report(
    gate: str,
    run: Callable[[Policy, Storage], GateResult],
    *,
    policy: Policy | str | None,
    report_dir: str | None,
    s3: S3Options | None,
    on_fail: OnFail | None,
    json_out: str | None,
    run_context: Mapping[str, str] | None = None,
    sarif_out: str | None = None,
) -> GateResult:
    """What every gate's entry point does around its checks: policy, storage, run, reports.

    The policy is read with the explicit S3 options only (it may itself live in S3); the run
    and the reports then use the policy's ``storage.s3`` with the explicit options on top.
    Waivers (the policy's ``waivers`` and ``waivers_file``) are applied to the findings
    before the reports are written (:func:`mlsec_gates.waivers.apply_waivers`).
    The reports are written before the result is returned, so adapters decide afterwards.
    With ``ledger.uri`` set, the result is then appended to the provenance ledger, with
    ``run_context`` (where the task ran; it makes retries idempotent), and a failed append
    raises: see :mod:`mlsec_gates.ledger`. ``sarif_out`` receives a copy of the SARIF report
    (gates that write one: see :func:`mlsec_gates.reports.write_reports`).
    """
    from mlsec_gates.reports import write_reports
    from mlsec_gates.waivers import apply_waivers, load_waivers

    bootstrap = Storage(s3) if s3 else Storage()
    loaded = load_policy(policy, storage=bootstrap, gate=gate, on_fail=on_fail)
    storage = gate_storage(loaded, s3)
    result = run(loaded, storage)
    waivers = load_waivers(loaded, storage)
    if waivers:
        result = apply_waivers(
            result, waivers, allow_scanner_blocks=loaded.waivers_allow_scanner_blocks
        )
    result = write_reports(
        result,
        report_dir or default_report_dir(gate),
        storage=storage,
        json_copy=json_out,
        sarif_copy=sarif_out,
    )
    if loaded.ledger.uri:
        from mlsec_gates.ledger import record_result

        result = record_result(
            result, policy=loaded.ledger, storage=storage, run_context=run_context
        )
    return result


def decide(*, violations: bool, incomplete: bool, on_fail: OnFail) -> Status:
    """The gate status. Incomplete checks are an error whatever ``on_fail`` says."""
    if incomplete:
        return Status.ERROR
    if violations:
        return Status.WARN if on_fail == "warn" else Status.FAIL
    return Status.PASS


def default_report_dir(gate: str) -> str:
    """``./mlsec-gate-reports/<gate>-<UTC timestamp>``: one folder per run, never overwritten."""
    return f"mlsec-gate-reports/{gate}-{now().strftime('%Y%m%dT%H%M%S%fZ')}"


def tool_versions(*distributions: str) -> dict[str, str]:
    """Versions of mlsec-gates, Python and the libraries a gate used, for the report."""
    out = {"mlsec-gates": __version__, "python": platform.python_version()}
    for dist in distributions:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
