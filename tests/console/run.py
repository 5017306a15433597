"""The console's end-to-end browser test (run by tests/console_browser.rs): one headless
Chromium against a real `msq server`, the scenarios named by --scenarios in order, each
checked against the raw sample read by Python itself. Prints each check, a screenshot path
per view, and last `console: all N checks ok`; exits 1 when a scenario failed."""

import os
import shutil
import sys

sys.dont_write_bytecode = True

from auth_view import auth  # noqa: E402
from lib import Api, Browser, Checks, parse_args  # noqa: E402
from other_views import datasources, tasks, unreachable  # noqa: E402
from query_view import cancel, insert, paging, select_top_channels  # noqa: E402
from wiki import Sample  # noqa: E402

SCENARIOS = {
    "insert": insert,
    "select": select_top_channels,
    "paging": paging,
    "cancel": cancel,
    "tasks": tasks,
    "datasources": datasources,
    "unreachable": unreachable,
    "auth": auth,
}


def main():
    args = parse_args()
    os.makedirs(args.artifacts, exist_ok=True)
    names = args.scenarios.split(",")
    unknown = [n for n in names if n not in SCENARIOS]
    assert not unknown, f"unknown scenarios {unknown}; known: {list(SCENARIOS)}"
    sample = Sample(args.data)
    api = Api(args.addr, args.user, args.password)
    checks = Checks("console")
    browser = Browser(args)
    state = {}
    try:
        for name in names:
            checks.scenario(name, lambda: SCENARIOS[name](browser, checks, api, sample, state), browser)
    finally:
        browser.quit()
        if "copies" in state:
            shutil.rmtree(state["copies"], ignore_errors=True)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
