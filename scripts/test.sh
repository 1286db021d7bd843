#!/usr/bin/env bash
# Lint and run the whole test suite. Fails on any failure, and when no test ran.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
"$PY" -m pip check
"$PY" -m ruff check mlsec_gates tests dags pipelines benchmarks scripts
"$PY" -m ruff format --check mlsec_gates tests dags pipelines benchmarks scripts
set +e
"$PY" -m pytest "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "pytest collected no tests: failing (a suite that ran nothing proves nothing)" >&2
  exit 1
fi
exit $rc
