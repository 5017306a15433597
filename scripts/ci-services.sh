# shellcheck shell=bash
# Starts the services the integration tests use, for the shell that sources it:
#
#   * a throwaway PostgreSQL server on 127.0.0.1 (Debian's `postgresql` package; installed
#     with apt-get when missing and running as root) → exports MSQ_TEST_POSTGRES_URL;
#   * a `moto` S3-compatible server from PyPI, in the venv .ci/.venv → exports
#     MSQ_TEST_S3_ENDPOINT;
#   * the Python Druid clients (pinned pydruid, SQLAlchemy) in that venv, for
#     tests/python_clients.rs (scripts/python-test-env.sh) → exports MSQ_TEST_PYTHON;
#   * Debian's chromium and chromium-driver for the console's browser tests, driven by the
#     pinned selenium of that venv (scripts/browser-test-env.sh) → exports MSQ_TEST_CHROMEDRIVER.
#
# Both are stopped by an EXIT trap of the sourcing shell. A step that fails prints why and
# the script goes on: tests whose service is missing print a reason and skip. Sourcing it
# twice in one shell starts nothing new; leftovers of an earlier, killed run are cleaned up.
#
# Usage: `source scripts/ci-services.sh` (from .ci/run, before `cargo test`).

if [ -n "${_MSQ_CI_SERVICES_SOURCED:-}" ]; then
    return 0 2>/dev/null || exit 0
fi
_MSQ_CI_SERVICES_SOURCED=1

# This file runs inside the caller's shell, often under `set -euo pipefail`: relax that here
# (every step handles its own failure) and restore it at the end.
_msq_ci_saved_opts=""
shopt -qo errexit && _msq_ci_saved_opts+=" -e"
shopt -qo nounset && _msq_ci_saved_opts+=" -u"
shopt -qo pipefail && _msq_ci_saved_opts+=" -o pipefail"
set +e +u +o pipefail

MOTO_VERSION="5.2.5"
_msq_ci_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_msq_ci_tmp="${TMPDIR:-/tmp}"
_msq_ci_pg_dir="$_msq_ci_tmp/msq-ci-pg"
_msq_ci_pg_user=""
_msq_ci_pg_bin=""
_msq_ci_pg_started=""
_msq_ci_moto_pidfile="$_msq_ci_tmp/msq-ci-moto.pid"
_msq_ci_moto_pid=""

_msq_ci_say() { echo "ci-services: $*" >&2; }

# A free TCP port on 127.0.0.1.
_msq_ci_free_port() {
    python3 - <<'PY' 2>/dev/null && return 0
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Runs a command as the PostgreSQL user (postgres refuses to run as root).
_msq_ci_as_pg() {
    if [ "$(id -u)" != "0" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$_msq_ci_pg_user" -- "$@"
    else
        su "$_msq_ci_pg_user" -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
}

_msq_ci_find_pg_bin() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
            echo "$d"
            return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

_msq_ci_start_postgres() {
    _msq_ci_pg_bin="$(_msq_ci_find_pg_bin)"
    if [ -z "$_msq_ci_pg_bin" ]; then
        if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
            _msq_ci_say "installing PostgreSQL (apt-get install postgresql)"
            export DEBIAN_FRONTEND=noninteractive
            if ! apt-get install -y -q postgresql >"$_msq_ci_tmp/msq-ci-apt.log" 2>&1; then
                apt-get update -q >>"$_msq_ci_tmp/msq-ci-apt.log" 2>&1
                apt-get install -y -q postgresql >>"$_msq_ci_tmp/msq-ci-apt.log" 2>&1 ||
                    { _msq_ci_say "apt-get install postgresql failed (see $_msq_ci_tmp/msq-ci-apt.log)"; return 1; }
            fi
            _msq_ci_pg_bin="$(_msq_ci_find_pg_bin)"
        fi
        if [ -z "$_msq_ci_pg_bin" ]; then
            _msq_ci_say "no PostgreSQL server binaries (initdb, pg_ctl) and cannot install them here"
            return 1
        fi
    fi

    if [ "$(id -u)" = "0" ]; then
        _msq_ci_pg_user=postgres
        if ! id "$_msq_ci_pg_user" >/dev/null 2>&1; then
            useradd --system --no-create-home --shell /bin/sh "$_msq_ci_pg_user" >/dev/null 2>&1 ||
                { _msq_ci_say "cannot create the system user $_msq_ci_pg_user"; return 1; }
        fi
    else
        _msq_ci_pg_user="$(id -un)"
    fi

    # A server left by an earlier run that was killed before its trap ran.
    if [ -f "$_msq_ci_pg_dir/postmaster.pid" ]; then
        _msq_ci_as_pg "$_msq_ci_pg_bin/pg_ctl" -D "$_msq_ci_pg_dir" -m immediate -w stop >/dev/null 2>&1
    fi
    rm -rf "$_msq_ci_pg_dir"
    mkdir -p "$_msq_ci_pg_dir" || { _msq_ci_say "cannot create $_msq_ci_pg_dir"; return 1; }
    chmod 700 "$_msq_ci_pg_dir"
    [ "$(id -u)" = "0" ] && chown "$_msq_ci_pg_user" "$_msq_ci_pg_dir"

    local log="$_msq_ci_tmp/msq-ci-pg.log"
    : >"$log"
    [ "$(id -u)" = "0" ] && chown "$_msq_ci_pg_user" "$log"
    if ! _msq_ci_as_pg "$_msq_ci_pg_bin/initdb" -D "$_msq_ci_pg_dir" -U postgres --auth=trust \
        --encoding=UTF8 --locale=C -N >>"$log" 2>&1; then
        _msq_ci_say "initdb failed (see $log)"
        return 1
    fi
    local port
    port="$(_msq_ci_free_port)" || { _msq_ci_say "no free port for PostgreSQL"; return 1; }
    if ! _msq_ci_as_pg "$_msq_ci_pg_bin/pg_ctl" -D "$_msq_ci_pg_dir" -l "$log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $_msq_ci_pg_dir -F -c max_connections=200" start >/dev/null 2>&1; then
        _msq_ci_say "PostgreSQL did not start (see $log)"
        return 1
    fi
    _msq_ci_pg_started=1
    local createdb="$_msq_ci_pg_bin/createdb"
    [ -x "$createdb" ] || createdb="$(command -v createdb)"
    if ! _msq_ci_as_pg "$createdb" -h 127.0.0.1 -p "$port" -U postgres msq_test >>"$log" 2>&1; then
        _msq_ci_say "createdb msq_test failed (see $log)"
        return 1
    fi
    export MSQ_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/msq_test"
    _msq_ci_say "PostgreSQL $("$_msq_ci_pg_bin/postgres" --version 2>/dev/null | awk '{print $3}') at $MSQ_TEST_POSTGRES_URL"
}

_msq_ci_stop_postgres() {
    if [ -n "$_msq_ci_pg_started" ]; then
        _msq_ci_as_pg "$_msq_ci_pg_bin/pg_ctl" -D "$_msq_ci_pg_dir" -m fast -w -t 30 stop >/dev/null 2>&1
        _msq_ci_pg_started=""
        rm -rf "$_msq_ci_pg_dir"
    fi
}

# 0 when an HTTP server answers at $1.
_msq_ci_http_up() {
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null --max-time 2 "$1"
    else
        python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" >/dev/null 2>&1
    fi
}

_msq_ci_start_moto() {
    local venv="$_msq_ci_root/.ci/.venv"
    if [ -f "$_msq_ci_moto_pidfile" ]; then
        local old
        old="$(cat "$_msq_ci_moto_pidfile" 2>/dev/null)"
        if [ -n "$old" ] && grep -q moto_server "/proc/$old/cmdline" 2>/dev/null; then
            kill "$old" 2>/dev/null
        fi
        rm -f "$_msq_ci_moto_pidfile"
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        _msq_ci_say "python3 not found: cannot run the moto S3 server"
        return 1
    fi
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" >/dev/null 2>&1 || { _msq_ci_say "python3 -m venv $venv failed"; return 1; }
    fi
    if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$MOTO_VERSION')" \
        2>/dev/null || [ ! -x "$venv/bin/moto_server" ]; then
        _msq_ci_say "installing moto[server]==$MOTO_VERSION into .ci/.venv"
        if ! "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" \
            >"$_msq_ci_tmp/msq-ci-pip.log" 2>&1; then
            _msq_ci_say "pip install moto[server]==$MOTO_VERSION failed (see $_msq_ci_tmp/msq-ci-pip.log)"
            return 1
        fi
    fi
    local port
    port="$(_msq_ci_free_port)" || { _msq_ci_say "no free port for moto"; return 1; }
    "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$_msq_ci_tmp/msq-ci-moto.log" 2>&1 </dev/null &
    _msq_ci_moto_pid=$!
    echo "$_msq_ci_moto_pid" >"$_msq_ci_moto_pidfile"
    local i
    for i in $(seq 1 100); do
        if _msq_ci_http_up "http://127.0.0.1:$port/"; then
            export MSQ_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
            _msq_ci_say "moto $MOTO_VERSION S3 server at $MSQ_TEST_S3_ENDPOINT"
            return 0
        fi
        if ! kill -0 "$_msq_ci_moto_pid" 2>/dev/null; then
            break
        fi
        sleep 0.3
    done
    _msq_ci_say "moto server did not answer (see $_msq_ci_tmp/msq-ci-moto.log)"
    _msq_ci_stop_moto
    return 1
}

_msq_ci_stop_moto() {
    if [ -n "$_msq_ci_moto_pid" ]; then
        kill "$_msq_ci_moto_pid" 2>/dev/null
        wait "$_msq_ci_moto_pid" 2>/dev/null
        _msq_ci_moto_pid=""
        rm -f "$_msq_ci_moto_pidfile"
    fi
}

_msq_ci_services_stop() {
    _msq_ci_stop_moto
    _msq_ci_stop_postgres
}

# Chain onto an EXIT trap the caller may already have.
_msq_ci_prev_trap="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")"
if [ -n "$_msq_ci_prev_trap" ]; then
    # shellcheck disable=SC2064
    trap "_msq_ci_services_stop; $_msq_ci_prev_trap" EXIT
else
    trap _msq_ci_services_stop EXIT
fi

_msq_ci_start_postgres || _msq_ci_say "PostgreSQL metadata tests will be skipped"
_msq_ci_start_moto || _msq_ci_say "S3 tests will be skipped"
# pydruid and SQLAlchemy for the Python client tests, into the same venv.
source "$_msq_ci_root/scripts/python-test-env.sh"
_msq_ci_python_clients || _msq_ci_say "Python client tests (pydruid, SQLAlchemy) will be skipped"
# Headless Chromium for the console's browser tests (selenium is pinned with pydruid above).
source "$_msq_ci_root/scripts/browser-test-env.sh"
_msq_ci_browser || _msq_ci_say "console browser tests will be skipped"

# shellcheck disable=SC2086
[ -n "$_msq_ci_saved_opts" ] && set $_msq_ci_saved_opts
unset _msq_ci_saved_opts
