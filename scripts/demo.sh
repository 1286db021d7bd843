#!/usr/bin/env bash
# The demo: clean data and model, corrupted training data and a tampered model through the
# example Airflow DAG (real Airflow on SQLite) and the example KFP pipeline (run locally),
# then where the HTML reports are.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
exec "$PY" scripts/demo.py "$@"
