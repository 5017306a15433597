"""The Tasks and Datasources views, after the Query view's statements ran (their task ids are
in `state`; when the Query view could not ingest the sample, it is ingested through the API
so that these views are still tested)."""

from selenium.webdriver.support.ui import Select

from lib import PATIENCE, settle, wait
from query_view import CANCELLED_DATASOURCE, check_insert_stages, long_input, stop_if_running, wait_all_finished
from wiki import LONG_INSERT_SQL

TASK_ROWS_JS = """return [...document.querySelectorAll('tr[data-testid=task-row]')].map((r) =>
  ({ id: r.dataset.taskId, state: r.dataset.state, datasource: r.dataset.datasource }));"""


def ensure_ingested(b, api, sample, state):
    """The datasource the Query view should have written; ingested through the API when absent."""
    ds = b.args.datasource
    if ds not in api.datasources():
        print(f"console: {ds} is missing (the Query view's INSERT failed): ingesting it through the API", flush=True)
        state["insert_task"] = api.ingest(b.args.insert_sql)
    return ds


def task_rows(b):
    return b.js(TASK_ROWS_JS)


def choose(select_el, wanted):
    """Selects the option whose value or text is `wanted` (any case)."""
    s = Select(select_el)
    for o in s.options:
        if wanted.lower() in ((o.get_attribute("value") or "").lower(), o.text.strip().lower()):
            s.select_by_visible_text(o.text)
            return
    raise AssertionError(f"no option {wanted!r} in {[o.text for o in s.options]}")


def tasks(b, c, api, sample, state):
    """Every controller task of the Tasks API is listed with its state; filters; a task's
    report in the stage view; a cancelled task's error."""
    ds = ensure_ingested(b, api, sample, state)
    b.nav("tasks")
    listed = {t["id"]: t["status"] for t in api.get("/druid/indexer/v1/tasks") if t["type"] == "query_controller"}
    rows = wait(lambda: (lambda r: r if r and set(listed) <= {t["id"] for t in r} else None)(task_rows(b)),
                "every controller task in the list")
    by_id = {t["id"]: t for t in rows}
    c.eq("tasks: each task's state as the Tasks API has it", {i: by_id[i]["state"] for i in listed}, listed)
    insert_task = state["insert_task"]
    c.eq("tasks: the INSERT's datasource", by_id[insert_task]["datasource"], ds)
    cancelled = state.get("cancel_task")
    if cancelled:
        c.eq("tasks: the cancelled INSERT", (by_id[cancelled]["state"], by_id[cancelled]["datasource"]),
             ("FAILED", CANCELLED_DATASOURCE))

    choose(b.find("select[data-testid=task-filter-state]"), "FAILED")
    failed = {i for i, s in listed.items() if s == "FAILED"}
    rows = wait(lambda: (lambda r: r if {t["id"] for t in r} >= failed and all(t["state"] == "FAILED" for t in r)
                         else None)(task_rows(b)), "only FAILED tasks")
    c.eq("tasks: state filter FAILED", {t["id"] for t in rows if t["id"] in listed}, failed)
    Select(b.find("select[data-testid=task-filter-state]")).select_by_index(0)
    box = b.find("input[data-testid=task-filter-datasource]")
    box.send_keys(ds)
    rows = wait(lambda: (lambda r: r if r and all(t["datasource"] == ds for t in r) else None)(task_rows(b)),
                f"only {ds}'s tasks")
    c.true("tasks: datasource filter", insert_task in {t["id"] for t in rows}, rows)
    box.clear()
    box.send_keys(" \b")  # an input event with the box empty again

    b.find(f"tr[data-testid=task-row][data-task-id='{insert_task}'] [data-testid=task-open]").click()
    b.wait_for("[data-testid=task-detail] [data-testid=stage-table]")
    stage_rows = wait_all_finished(b, "[data-testid=task-detail]")
    api_stages = api.get(f"/druid/v2/sql/statements/{insert_task}?detail=true")["stages"]
    check_insert_stages(c, stage_rows, sample, api_stages, "tasks: the INSERT's report")
    c.page_clean(b, "tasks")
    if cancelled:
        b.find(f"tr[data-testid=task-row][data-task-id='{cancelled}'] [data-testid=task-open]").click()
        err = b.wait_for("[data-testid=task-detail] [data-testid=task-error]")
        c.eq("tasks: the cancelled task's error code", err.get_attribute("data-error-code"), "Canceled")
        c.page_clean(b, "tasks-canceled")

    cancel_from_list(b, c, api, sample, state)

    b.find(f"tr[data-testid=task-row][data-task-id='{insert_task}'] [data-testid=task-copy-sql]").click()
    wait(lambda: b.js("return document.getElementById('view')?.dataset.view") == "query", "the Query view")
    sql = wait(lambda: b.js("return document.querySelector('textarea[data-testid=sql-editor]')?.value"), "the SQL")
    c.eq("tasks: Copy SQL opens the INSERT in the Query view", sql, b.args.insert_sql)
    c.no_errors(b, "tasks-copy-sql")


def cancel_from_list(b, c, api, sample, state):
    """A long INSERT submitted through the API shows RUNNING in the list; its Cancel (after the
    browser's confirm) turns it FAILED with Canceled."""
    ds = CANCELLED_DATASOURCE + "_from_tasks"
    status, body, _ = api.call("POST", "/druid/v2/sql/task",
                               {"query": LONG_INSERT_SQL.format(ds=ds, dir=long_input(sample, state)),
                                "context": {"maxNumTasks": 2}})
    assert status == 200, f"POST /druid/v2/sql/task: {status} {body}"
    task = body["taskId"]
    try:
        row = f"tr[data-testid=task-row][data-task-id='{task}']"
        b.wait_for(f"{row}[data-state=RUNNING]", patience=PATIENCE)
        c.ok("tasks: a running task shows RUNNING")
        b.find(f"{row} [data-testid=task-cancel]").click()
        alert = wait(lambda: b.driver.switch_to.alert, "the confirm")
        alert.accept()
        b.wait_for(f"{row}[data-state=FAILED]", patience=PATIENCE)
        status = api.task_status(task)
        c.true("tasks: Cancel in the list stops the task with Canceled",
               status["status"] == "FAILED" and "Canceled" in (status.get("errorMsg") or ""), status)
        c.true("tasks: the cancelled task published nothing", ds not in api.datasources(), api.datasources())
    finally:
        stop_if_running(api, task)


# What Chromium logs for each request while offline; nothing else may be logged.
OFFLINE_LOG = "net::ERR_INTERNET_DISCONNECTED"


def unreachable(b, c, api, sample, state):
    """With the network cut (DevTools' offline emulation) the banner says the server cannot be
    reached; it goes away when the server answers again; failed polls log nothing else."""
    b.nav("tasks")
    b.wait_for("tr[data-testid=task-row]")
    banner_shown = "return !document.querySelector('[data-testid=unreachable]').hidden"
    c.eq("unreachable: no banner while the server answers", b.js(banner_shown), False)
    conditions = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    b.driver.execute_cdp_cmd("Network.enable", {})
    b.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": True, **conditions})
    try:
        wait(lambda: b.js(banner_shown), "the unreachable banner")
        c.ok("unreachable: the banner shows when the server cannot be reached")
        b.screenshot("unreachable")
        problems = b.layout_problems()
        c.true("unreachable: the banner overlaps nothing", not problems, problems)
    finally:
        b.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, **conditions})
    wait(lambda: not b.js(banner_shown), "the banner to go")
    c.ok("unreachable: the banner goes when the server answers again")
    others = [e for e in b.severe_logs() if OFFLINE_LOG not in e]
    c.true("unreachable: only the failed requests are logged (no uncaught errors)", not others, others)


CHUNKS_JS = """return [...document.querySelectorAll('[data-testid=datasource-detail] [data-testid=segment-chunk]')]
  .map((e) => ({ interval: e.dataset.interval, segments: e.dataset.segments, version: e.dataset.version,
                 tombstone: e.dataset.tombstone ?? null, rows: e.dataset.rows ?? null,
                 overshadowed: e.dataset.overshadowed ?? null }));"""


def segment_rows(b):
    """The data-interval of each segment row shown."""
    return b.js("""return [...document.querySelectorAll('[data-testid=datasource-detail] tr[data-testid=segment-row]')]
      .map((r) => r.dataset.interval);""")


def datasources(b, c, api, sample, state):
    """The datasource with its rows, size, 24 hourly segments and time range; its timeline;
    the query shortcut."""
    ds = ensure_ingested(b, api, sample, state)
    b.nav("datasources")
    row_css = f"tr[data-testid=datasource-row][data-datasource='{ds}']"
    b.wait_for(row_css)
    cell = lambda col: b.js(  # noqa: E731
        "const td = document.querySelector(arguments[0] + ' td[data-col=' + arguments[1] + ']');"
        "return td ? { text: td.textContent.trim(), value: td.dataset.value ?? null } : null;", row_css, col)
    segs = api.get(f"/druid/coordinator/v1/metadata/datasources/{ds}/segments?full")
    settle(lambda: [(cell(col) or {}).get("value") for col in ("rows", "segments", "size")],
           lambda v: v == [str(len(sample.rows)), "24", str(sum(s["size"] for s in segs))], "the numbers filled in")
    c.eq("datasources: rows = rows of the raw file", cell("rows")["value"], str(len(sample.rows)))
    c.eq("datasources: 24 segments", cell("segments")["value"], "24")
    c.eq("datasources: size = the segments' sizes", cell("size")["value"], str(sum(s["size"] for s in segs)))
    c.true("datasources: time range", "2015-09-12" in cell("time-range")["text"], cell("time-range"))
    names = b.js("return [...document.querySelectorAll('tr[data-testid=datasource-row]')].map((r) => r.dataset.datasource)")
    c.true("datasources: the cancelled INSERT published nothing", CANCELLED_DATASOURCE not in names, names)

    b.find(row_css).click()
    b.wait_for("[data-testid=datasource-detail] [data-testid=segment-timeline]")
    chunks = settle(lambda: b.js(CHUNKS_JS), lambda ch: len(ch) >= 24 and all(x["rows"] for x in ch), "24 time chunks")
    c.eq("datasources: the timeline's hourly chunks, one segment each",
         [(ch["interval"], ch["segments"], ch["tombstone"]) for ch in chunks],
         [(iv, "1", None) for iv, _ in sample.hourly()])
    c.eq("datasources: chunk versions as the metadata has them", {ch["version"] for ch in chunks},
         {s["version"] for s in segs})
    c.eq("datasources: each chunk's rows = rows per hour of the raw file, none overshadowed",
         [(ch["rows"], ch["overshadowed"]) for ch in chunks], [(str(n), None) for _, n in sample.hourly()])
    c.eq("datasources: time range as an ISO interval", cell("time-range")["value"],
         "2015-09-12T00:00:00.000Z/2015-09-13T00:00:00.000Z")
    c.eq("datasources: a row per segment, by interval", sorted(segment_rows(b)), [iv for iv, _ in sample.hourly()])
    c.page_clean(b, "datasources")
    first = b.find("[data-testid=datasource-detail] [data-testid=segment-chunk]")
    first.click()
    one = wait(lambda: (lambda r: r if len(r) == 1 else None)(segment_rows(b)), "the rows of one chunk")
    c.eq("datasources: clicking a chunk limits the segments to it", one, [sample.hourly()[0][0]])
    first.click()
    wait(lambda: len(segment_rows(b)) == 24, "all segment rows again")
    c.ok("datasources: clicking it again shows all segments")

    b.find("[data-testid=query-datasource]").click()
    wait(lambda: b.js("return document.getElementById('view')?.dataset.view") == "query", "the Query view")
    sql = wait(lambda: b.js("return document.querySelector('textarea[data-testid=sql-editor]')?.value"), "the SQL")
    c.eq("datasources: query shortcut opens a tab with the SELECT", sql, f'SELECT * FROM "{ds}" LIMIT 100')
    c.no_errors(b, "query-shortcut")
