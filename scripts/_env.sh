# Shared by scripts/test.sh and scripts/demo.sh: a project venv with the tested versions.
# Source it; it leaves PY pointing at the venv's python.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${MLSEC_VENV:-$ROOT/.venv}"
BASE_PY="${PYTHON:-python3}"
if [[ ! -x "$VENV/bin/python" ]]; then
  echo "==> creating $VENV" >&2
  "$BASE_PY" -m venv "$VENV"
fi
PY="$VENV/bin/python"
stamp="$VENV/.mlsec-installed"
want="$(cat constraints.txt pyproject.toml | sha256sum | cut -c1-16)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "==> installing mlsec-gates and its tested dependencies (constraints.txt)" >&2
  "$PY" -m pip install -q --upgrade pip
  "$PY" -m pip install -q -c constraints.txt -e ".[scan,validate,drift,model-eval,sbom,sign,s3,airflow,kfp,spark,postgres,test,docs,bench]"
  echo "$want" > "$stamp"
fi
export PY
