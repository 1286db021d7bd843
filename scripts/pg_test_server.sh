#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on a local port for the warehouse-engine tests.
#   eval "$(bash scripts/pg_test_server.sh start)"   -> exports MLSEC_TEST_PG_URL
#   bash scripts/pg_test_server.sh stop
# Uses Debian's postgresql package (initdb/pg_ctl of the newest installed version). Run as
# root, the cluster belongs to the unprivileged 'postgres' user (PostgreSQL refuses root).
# Idempotent: a running cluster in the same directory is reused.
set -euo pipefail
DIR="${MLSEC_PG_DIR:-/tmp/mlsec-gates-pg}"
PORT="${MLSEC_PG_PORT:-55432}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
if [[ -z "$BIN" || ! -x "$BIN/initdb" ]]; then
  echo "pg_test_server: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 1
fi
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-start}" in
  start)
    if [[ ! -f "$DIR/data/PG_VERSION" ]]; then
      mkdir -p "$DIR"
      [[ $(id -u) -eq 0 ]] && chown postgres: "$DIR"
      as_owner "$BIN/initdb" -D "$DIR/data" -U mlsec --auth=trust -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1
    fi
    if ! as_owner "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
      as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
        -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >&2
    fi
    for _ in $(seq 1 30); do
      "$BIN/pg_isready" -h 127.0.0.1 -p "$PORT" -q && break
      sleep 1
    done
    "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U mlsec -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='mlsec'" | grep -q 1 ||
      "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U mlsec mlsec
    echo "export MLSEC_TEST_PG_URL=postgresql://mlsec@127.0.0.1:$PORT/mlsec"
    ;;
  stop)
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >&2 || true
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
