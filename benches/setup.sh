#!/usr/bin/env bash
# Create benches/.venv with the peer engines (DuckDB, DataFusion) pinned; idempotent, quiet.
# Prints the virtualenv's python path on stdout (last line) for `msq bench` to use.
set -euo pipefail

DUCKDB_VERSION="${DUCKDB_VERSION:-2.0.0}"
DATAFUSION_VERSION="${DATAFUSION_VERSION:-55.0.0}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${MSQ_BENCH_VENV:-$here/.venv}"
py="$venv/bin/python"
python="${PYTHON:-python3}"

if [ ! -x "$py" ]; then
  "$python" -m venv "$venv" >&2
fi

# Already installed at the pinned versions? Then nothing to do.
if ! "$py" - "$DUCKDB_VERSION" "$DATAFUSION_VERSION" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
assert version("duckdb") == sys.argv[1], "duckdb"
assert version("datafusion") == sys.argv[2], "datafusion"
PY
then
  "$py" -m pip install --quiet --disable-pip-version-check \
    "duckdb==$DUCKDB_VERSION" "datafusion==$DATAFUSION_VERSION" >&2
fi

echo "$py"
