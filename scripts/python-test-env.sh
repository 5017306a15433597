# shellcheck shell=bash
# The Python Druid clients the integration tests drive (tests/python_clients.rs): `pydruid`
# with its SQLAlchemy extra, and `selenium` for the console's browser tests (tests/console_browser.rs),
# at pinned versions, in the project's one test venv .ci/.venv
# (the one scripts/ci-services.sh runs moto from) → exports MSQ_TEST_PYTHON, the venv's
# python, once both import and SQLAlchemy finds pydruid's `druid` dialect.
#
# Idempotent and fast when already installed: pip runs only when a pin is missing or at
# another version. A failed step says why (pip's output goes to $TMPDIR/msq-ci-pip-clients.log)
# and returns non-zero; the tests then print that MSQ_TEST_PYTHON is unset and skip.
#
# Usage: sourced by scripts/ci-services.sh, which calls `_msq_ci_python_clients`.

# pydruid 0.6.9 is the newest release. Its dialect is written for SQLAlchemy 1.4: under 2.x,
# `inspect(engine).has_table()` passes `info_cache=` to pydruid's has_table, which does not take
# it (TypeError), so SQLAlchemy stays on the last 1.4 release.
PYDRUID_VERSION="0.6.9"
SQLALCHEMY_VERSION="1.4.54"
# Selenium drives Debian's chromium through chromium-driver for the console's browser tests
# (tests/console_browser.rs; the browser itself: scripts/browser-test-env.sh). 4.51.0, as 4.52.0
# wants a certifi (>=2026.10.23) that the package index does not have yet.
SELENIUM_VERSION="4.51.0"

_msq_ci_python_clients() {
    local root venv log
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    venv="$root/.ci/.venv"
    log="${TMPDIR:-/tmp}/msq-ci-pip-clients.log"
    local say=(echo "ci-services:")
    if ! command -v python3 >/dev/null 2>&1; then
        "${say[@]}" "python3 not found: cannot install pydruid" >&2
        return 1
    fi
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" >/dev/null 2>&1 || { "${say[@]}" "python3 -m venv $venv failed" >&2; return 1; }
    fi
    # 0 when every pin is installed at its version.
    local check="import importlib.metadata as m, sys
want = {'pydruid': '$PYDRUID_VERSION', 'sqlalchemy': '$SQLALCHEMY_VERSION', 'selenium': '$SELENIUM_VERSION'}
def version(name):
    try:
        return m.version(name)
    except m.PackageNotFoundError:
        return None
sys.exit(any(version(n) != v for n, v in want.items()))"
    if ! "$venv/bin/python" -c "$check" 2>/dev/null; then
        "${say[@]}" "installing pydruid[sqlalchemy]==$PYDRUID_VERSION SQLAlchemy==$SQLALCHEMY_VERSION selenium==$SELENIUM_VERSION into .ci/.venv" >&2
        if ! "$venv/bin/pip" install -q --disable-pip-version-check \
            "pydruid[sqlalchemy]==$PYDRUID_VERSION" "SQLAlchemy==$SQLALCHEMY_VERSION" \
            "selenium==$SELENIUM_VERSION" >"$log" 2>&1; then
            "${say[@]}" "pip install pydruid[sqlalchemy]==$PYDRUID_VERSION SQLAlchemy==$SQLALCHEMY_VERSION selenium==$SELENIUM_VERSION failed (see $log)" >&2
            return 1
        fi
    fi
    if ! "$venv/bin/python" -c "import pydruid.db, selenium.webdriver, sqlalchemy.dialects as d; d.registry.load('druid')" >"$log" 2>&1; then
        "${say[@]}" "pydruid, its SQLAlchemy dialect or selenium does not import in .ci/.venv (see $log)" >&2
        return 1
    fi
    export MSQ_TEST_PYTHON="$venv/bin/python"
    "${say[@]}" "pydruid $PYDRUID_VERSION, SQLAlchemy $SQLALCHEMY_VERSION, selenium $SELENIUM_VERSION: MSQ_TEST_PYTHON=$MSQ_TEST_PYTHON" >&2
}
