"""Shared by the console's browser tests (run by tests/console_browser.rs): the command line,
headless Chromium through Selenium at a 1280x800 viewport, waiting on the DOM contract of
console/README.md, layout and browser-log checks, screenshots, the HTTP API for cross-checks,
and check bookkeeping (a failed scenario is reported and the next one still runs)."""

import argparse
import base64
import json
import os
import tempfile
import time
import traceback
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import JavascriptException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service

WIDTH, HEIGHT = 1280, 800
# Flags that work headless as root on a CI machine with no display and no network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--window-size={WIDTH},{HEIGHT}",
]
# Guards against a hang, not timed assertions: long enough for a debug build on 2 cores. A
# statement gets PATIENCE to end; an element of a view already shown gets DOM_PATIENCE.
PATIENCE = 240.0
DOM_PATIENCE = 30.0
LAYOUT_JS = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "layout.js"), encoding="utf-8").read()


def parse_args():
    """--addr host:port, --data (the raw .json.gz), --datasource and --insert-sql (the INSERT
    of the sample into it), --artifacts (screenshots), --chromium, --chromedriver, --scenarios
    (comma-separated), and --user/--password when the server checks basic auth."""
    p = argparse.ArgumentParser()
    p.add_argument("--addr", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--artifacts", required=True)
    p.add_argument("--chromium", default="/usr/bin/chromium")
    p.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    p.add_argument("--scenarios", required=True)
    p.add_argument("--datasource", required=True)
    p.add_argument("--insert-sql", required=True, help="the INSERT of the whole sample into --datasource")
    p.add_argument("--user")
    p.add_argument("--password")
    return p.parse_args()


class Api:
    """The public HTTP API, for the test's own cross-checks (never what the page shows)."""

    def __init__(self, addr, user=None, password=None):
        self.base = f"http://{addr}"
        self.auth = None
        if user is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self.auth = f"Basic {token}"

    def call(self, method, path, body=None, auth=True):
        """(status, parsed JSON or text, headers)."""
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if auth and self.auth:
            headers["Authorization"] = self.auth
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                status, raw, hdrs = r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as e:
            status, raw, hdrs = e.code, e.read(), dict(e.headers)
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text), hdrs
        except ValueError:
            return status, text, hdrs

    def get(self, path):
        status, body, _ = self.call("GET", path)
        assert status == 200, f"GET {path}: {status} {body}"
        return body

    def task_status(self, task_id):
        return self.get(f"/druid/indexer/v1/task/{task_id}/status")["status"]

    def datasources(self):
        return self.get("/druid/coordinator/v1/datasources")

    def ingest(self, sql):
        """Runs an INSERT through the task endpoint and waits for it; returns its task id."""
        status, body, _ = self.call("POST", "/druid/v2/sql/task", {"query": sql, "context": {"maxNumTasks": 2}})
        assert status == 200, f"POST /druid/v2/sql/task: {status} {body}"
        task = body["taskId"]
        wait(lambda: self.task_status(task)["status"] != "RUNNING", f"task {task} to finish", PATIENCE)
        assert self.task_status(task)["status"] == "SUCCESS", self.task_status(task)
        return task


def short(value, limit=1500):
    """`repr(value)`, cut to `limit` characters (a failure names what it saw, not 39,244 rows)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def wait(probe, what, patience=DOM_PATIENCE, every=0.05):
    """Polls `probe()` until it is truthy and returns it; fails naming `what` after `patience`."""
    deadline = time.monotonic() + patience
    last = None
    while True:
        try:
            last = probe()
        except (StaleElementReferenceException, JavascriptException) as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {patience:.0f} s for {what}; last seen: {short(last)}")
        time.sleep(every)


def settle(probe, ok, what, patience=DOM_PATIENCE):
    """`probe()` once `ok` holds of it; after `patience`, its last value anyway, for the check
    that follows to fail on and show (a view may fill its numbers in after it first paints)."""
    try:
        return wait(lambda: (lambda v: v if ok(v) else None)(probe()), what, patience)
    except AssertionError as e:
        print(f"console: {e}", flush=True)
        return probe()


class Browser:
    """One headless Chromium with a fresh profile, its viewport exactly WIDTH x HEIGHT."""

    def __init__(self, args):
        self.args = args
        self.base = f"http://{args.addr}"
        self.profile = tempfile.TemporaryDirectory(prefix="msq-console-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = args.chromium
        for flag in CHROMIUM_FLAGS:
            opts.add_argument(flag)
        opts.add_argument(f"--user-data-dir={self.profile.name}")
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # The given chromedriver: Selenium Manager never looks for (or downloads) another.
        self.driver = webdriver.Chrome(options=opts, service=Service(executable_path=args.chromedriver))
        self.driver.set_script_timeout(60)
        self.fit_viewport()

    def fit_viewport(self):
        """Sizes the window so that the page's viewport is WIDTH x HEIGHT."""
        inner = self.js("return [window.innerWidth, window.innerHeight]")
        outer = self.driver.get_window_size()
        self.driver.set_window_size(outer["width"] + WIDTH - inner[0], outer["height"] + HEIGHT - inner[1])
        inner = self.js("return [window.innerWidth, window.innerHeight]")
        assert inner == [WIDTH, HEIGHT], f"viewport is {inner}, not {WIDTH}x{HEIGHT}"

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def open(self, path="/", base=None):
        self.driver.get((base or self.base) + path)

    def nav(self, view):
        """Clicks the navigation link of `view` and waits for the router to mount it."""
        self.driver.find_element("css selector", f"a[data-nav={view}]").click()
        wait(lambda: self.js("return document.getElementById('view')?.dataset.view") == view, f"the {view} view",
             DOM_PATIENCE)

    def find(self, css):
        return self.driver.find_element("css selector", css)

    def find_all(self, css):
        return self.driver.find_elements("css selector", css)

    def attr(self, css, name):
        """`name` of the first element matching `css` (None when absent)."""
        return self.js("const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null", css, name)

    def wait_for(self, css, what=None, patience=DOM_PATIENCE):
        """Waits until an element matching `css` is in the page; returns it."""
        return wait(lambda: (self.find_all(css) or [None])[0], what or css, patience)

    def layout_problems(self):
        return self.js(LAYOUT_JS)

    def severe_logs(self):
        """The browser log's SEVERE entries since the last call (reading drains the log)."""
        return [e["message"] for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]

    def screenshot(self, name):
        path = os.path.join(self.args.artifacts, f"{name}.png")
        self.driver.save_screenshot(path)
        print(f"console: screenshot {path}", flush=True)
        return path

    def quit(self):
        self.driver.quit()
        self.profile.cleanup()


class Checks:
    """Names each passed check on stdout; records failed scenarios and goes on."""

    def __init__(self, suite):
        self.suite = suite
        self.passed = 0
        self.failed = []

    def ok(self, name):
        self.passed += 1
        print(f"{self.suite}: ok {name}", flush=True)

    def eq(self, name, got, want):
        assert got == want, f"{name}: got {short(got)}, want {short(want)}"
        self.ok(name)

    def true(self, name, cond, detail=""):
        assert cond, f"{name}: {short(detail)}"
        self.ok(name)

    def page_clean(self, browser, view):
        """The view at 1280x800 has no layout problems and the browser logged no errors;
        saves its screenshot first (so a failure can be looked at)."""
        browser.screenshot(view)
        problems = browser.layout_problems()
        assert not problems, f"{view}: layout problems at {WIDTH}x{HEIGHT}:\n  " + "\n  ".join(problems)
        self.ok(f"{view}: nothing overflows, overlaps or is cut off at {WIDTH}x{HEIGHT}")
        self.no_errors(browser, view)

    def no_errors(self, browser, view):
        errors = browser.severe_logs()
        assert not errors, f"{view}: the browser logged errors:\n  " + "\n  ".join(errors)
        self.ok(f"{view}: no errors in the browser log")

    def scenario(self, name, fn, browser):
        """Runs one scenario; a failure is printed, screenshotted and remembered."""
        print(f"{self.suite}: scenario {name}", flush=True)
        try:
            fn()
        except Exception as e:  # noqa: BLE001 (every failure is reported, then the next scenario runs)
            self.failed.append((name, f"{type(e).__name__}: {e}"))
            print(f"{self.suite}: FAILED scenario {name}:\n{traceback.format_exc()}", flush=True)
            try:
                browser.screenshot(f"{name}-failure")
                for line in browser.severe_logs():
                    print(f"{self.suite}: browser log: {line}", flush=True)
            except Exception as shot:  # noqa: BLE001
                print(f"{self.suite}: no failure screenshot: {shot}", flush=True)

    def finish(self):
        """Prints the summary; the exit code: 0 when every scenario passed."""
        if self.failed:
            print(f"{self.suite}: {len(self.failed)} scenario(s) failed, {self.passed} checks ok:", flush=True)
            for name, why in self.failed:
                print(f"{self.suite}: FAILED {name}: {why.splitlines()[0][:600]}", flush=True)
            return 1
        print(f"{self.suite}: all {self.passed} checks ok", flush=True)
        return 0
