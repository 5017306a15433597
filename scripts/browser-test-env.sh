# shellcheck shell=bash
# The browser the console's end-to-end tests drive (tests/console_browser.rs): Debian's
# `chromium` and `chromium-driver` packages (without their recommends, but with the fonts the
# screenshots and text-clipping checks need) → exports MSQ_TEST_CHROMIUM and
# MSQ_TEST_CHROMEDRIVER once both answer `--version`. (Selenium, the Python side, is pinned in
# scripts/python-test-env.sh, in the same venv as pydruid.)
#
# Idempotent: apt-get runs only when /usr/bin/chromium or /usr/bin/chromedriver is missing,
# and only as root (CI runs as root on a fresh Debian 12 machine). A failed step says why
# (apt's output goes to $TMPDIR/msq-ci-apt-chromium.log) and returns non-zero; the browser
# tests then print that MSQ_TEST_CHROMEDRIVER is unset and skip.
#
# Usage: sourced by scripts/ci-services.sh, which calls `_msq_ci_browser`.

_msq_ci_browser() {
    local chromium=/usr/bin/chromium driver=/usr/bin/chromedriver
    local log="${TMPDIR:-/tmp}/msq-ci-apt-chromium.log"
    local say=(echo "ci-services:")
    if [ ! -x "$chromium" ] || [ ! -x "$driver" ]; then
        if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
            "${say[@]}" "no $chromium or $driver, and cannot install them here (needs root and apt-get:" \
                "apt-get install chromium chromium-driver)" >&2
            return 1
        fi
        local packages=(chromium chromium-driver fonts-liberation fonts-dejavu-core)
        "${say[@]}" "installing Chromium (apt-get install ${packages[*]})" >&2
        export DEBIAN_FRONTEND=noninteractive
        local apt=(apt-get -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends)
        if ! "${apt[@]}" install "${packages[@]}" >"$log" 2>&1; then
            # A fresh machine has no package lists yet.
            apt-get -q -o DPkg::Lock::Timeout=300 update >>"$log" 2>&1
            if ! "${apt[@]}" install "${packages[@]}" >>"$log" 2>&1; then
                "${say[@]}" "apt-get install ${packages[*]} failed (see $log)" >&2
                return 1
            fi
        fi
    fi
    local version driver_version
    if ! version="$("$chromium" --version 2>>"$log")"; then
        "${say[@]}" "$chromium --version failed (see $log)" >&2
        return 1
    fi
    if ! driver_version="$("$driver" --version 2>>"$log")"; then
        "${say[@]}" "$driver --version failed (see $log)" >&2
        return 1
    fi
    export MSQ_TEST_CHROMIUM="$chromium" MSQ_TEST_CHROMEDRIVER="$driver"
    "${say[@]}" "$version, $(echo "$driver_version" | awk '{print $1, $2}'): MSQ_TEST_CHROMEDRIVER=$driver" >&2
}
