"""The Query view, driven as a user would: type the statement into a new tab's editor, Run it
(button or Ctrl+Enter), and read what the page shows through the DOM contract of
console/README.md. Each function is one scenario; `state` carries task ids to later ones."""

import os
import shutil
import tempfile

from selenium.webdriver.common.keys import Keys

from lib import PATIENCE, settle, wait
from wiki import LONG_INSERT_SQL, PAGING_SQL, TOP_CHANNELS_SQL

CANCELLED_DATASOURCE = "wiki_cancelled"
LONG_INSERT_COPIES = 30

# Every stage row of a stage table (inside `scope`): number, phase and each cell's text and
# data-value.
STAGES_JS = """
const scope = document.querySelector(arguments[0]);
if (!scope) return null;
return [...scope.querySelectorAll('[data-testid=stage-table] tr[data-testid=stage-row]')].map((r) => {
  const cells = {};
  for (const td of r.querySelectorAll('td[data-col]')) {
    cells[td.dataset.col] = { text: td.textContent.trim(), value: td.dataset.value ?? null };
  }
  return { stage: r.dataset.stage, phase: r.dataset.phase, cells };
});
"""

# The results grid: column names and types, and each shown row's cell texts (the last
# len(columns) cells of a row, after any row-number cell).
GRID_JS = """
const grid = document.querySelector('[data-testid=results-grid]');
if (!grid) return null;
const cols = [...grid.querySelectorAll('th[data-type]')].map((th) => ({
  name: th.querySelector('.col-name')?.textContent.trim() ?? th.textContent.trim(), type: th.dataset.type }));
const rows = [...grid.querySelectorAll('tr[data-testid=result-row]')].map((tr) =>
  [...tr.querySelectorAll('td')].slice(-cols.length).map((td) => td.textContent));
const info = document.querySelector('[data-testid=page-info]');
return { cols, rows, info: info ? { first: info.dataset.first, last: info.dataset.last, total: info.dataset.total } : null };
"""

STATE_JS = """
const s = document.querySelector('[data-testid=query-state]');
const id = document.querySelector('[data-testid=query-id]');
return { state: s?.dataset.state ?? null, code: s?.dataset.errorCode ?? null, id: id?.textContent.trim() ?? '' };
"""


def number(text):
    """A number as shown, without thousands separators."""
    return text.replace(",", "").replace("\u202f", "").replace("\u00a0", "").replace(" ", "").strip()


def value(row, col):
    """A stage cell's data-value as an int (None when absent)."""
    v = row["cells"].get(col, {}).get("value")
    return int(float(v)) if v not in (None, "") else None


def new_tab(b):
    """Opens a new editor tab and waits for it to be the active one."""
    before = len(b.find_all("[data-testid=query-tab]"))
    b.find("[data-testid=new-tab]").click()
    wait(lambda: len(b.find_all("[data-testid=query-tab]")) == before + 1, "a new query tab")
    wait(lambda: len(b.find_all("[data-testid=query-tab].active")) == 1, "one active tab")


def type_sql(b, sql):
    """Types `sql` into the editor, key by key, and checks the editor holds exactly it."""
    editor = b.find("textarea[data-testid=sql-editor]")
    editor.click()
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    editor.send_keys(sql)
    got = b.js("return document.querySelector('textarea[data-testid=sql-editor]').value")
    assert got == sql, f"the editor holds {got!r} after typing {sql!r}"


def query_state(b):
    return b.js(STATE_JS)


def wait_ended(b, what):
    """Waits for the statement of the active tab to end; returns its state."""
    return wait(lambda: (lambda s: s if s["state"] in ("SUCCESS", "FAILED") and s["id"] else None)(query_state(b)),
                f"{what} to end", PATIENCE)


def stages(b, scope="body"):
    """The stage rows of the stage table inside `scope` (the Query view: the whole page)."""
    return b.js(STAGES_JS, scope)


def wait_all_finished(b, scope="body"):
    """Waits until the stage table shows every stage FINISHED; returns its rows."""
    return wait(lambda: (lambda rows: rows if rows and all(r["phase"] == "FINISHED" for r in rows) else None)(
        stages(b, scope)), "every stage FINISHED in the stage table")


def check_insert_stages(c, rows, sample, api_stages, prefix):
    """The stage table of the wikipedia INSERT against the raw file (and the report's shape)."""
    c.eq(f"{prefix}: one row per stage", [r["stage"] for r in rows], [str(s["stageNumber"]) for s in api_stages])
    c.eq(f"{prefix}: every stage FINISHED", {r["phase"] for r in rows}, {"FINISHED"})
    first, last = rows[0], rows[-1]
    c.eq(f"{prefix}: stage 0 input rows = rows of the raw file", value(first, "input-rows"), len(sample.rows))
    c.eq(f"{prefix}: stage 0 input files", value(first, "input-files"), 1)
    c.eq(f"{prefix}: stage 0 input bytes = size of the raw file", value(first, "input-bytes"), sample.file_bytes)
    c.eq(f"{prefix}: stage 0 output rows", value(first, "output-rows"), len(sample.rows))
    c.eq(f"{prefix}: stage 0 shuffle rows", value(first, "shuffle-rows"), len(sample.rows))
    c.eq(f"{prefix}: last stage input rows", value(last, "input-rows"), len(sample.rows))
    c.true(f"{prefix}: stage 0 processor is a scan", "scan" in first["cells"]["processor"]["text"].lower(),
           first["cells"]["processor"])
    c.true(f"{prefix}: last stage processor generates segments",
           "segment" in last["cells"]["processor"]["text"].lower(), last["cells"]["processor"])
    # segments: the segments generated (24 hourly) or the rows pushed into them.
    c.true(f"{prefix}: last stage segments column", value(last, "segments") in (24, len(sample.rows)),
           last["cells"].get("segments"))
    c.eq(f"{prefix}: workers per stage", [value(r, "workers") for r in rows], [s["workerCount"] for s in api_stages])
    c.eq(f"{prefix}: partitions per stage", [value(r, "partitions") for r in rows],
         [s["partitionCount"] for s in api_stages])


def insert(b, c, api, sample, state):
    """Runs the wikipedia INSERT from the Query view: every stage FINISHED with the raw file's
    row counts, the stage detail per worker and partition, and the 24 hourly chunks written."""
    ds = b.args.datasource
    b.open("/#/query")
    new_tab(b)
    type_sql(b, b.args.insert_sql)
    b.find("[data-testid=run]").click()
    st = wait_ended(b, "the INSERT")
    c.eq("insert: query state", (st["state"], st["code"]), ("SUCCESS", None))
    task = st["id"]
    state["insert_task"] = task
    api_status = api.task_status(task)
    c.eq("insert: query-id is the task id, SUCCESS in the Tasks API", api_status["status"], "SUCCESS")
    c.eq("insert: task's datasource", api_status.get("dataSource"), ds)
    api_stages = api.get(f"/druid/v2/sql/statements/{task}?detail=true")["stages"]
    rows = wait_all_finished(b)
    check_insert_stages(c, rows, sample, api_stages, "insert")
    c.eq("insert: progress 100%", b.attr("[data-testid=progress]", "data-percent"), "100")

    hourly = sample.hourly()
    want_chunks = [(iv, "1", str(n)) for iv, n in hourly]
    chunks = settle(lambda: b.js("""return [...document.querySelectorAll(
        '[data-testid=segments-written] tr[data-testid=chunk-row]')].map((r) =>
        [r.dataset.interval, r.dataset.segments, r.dataset.rows])"""), lambda v: [tuple(ch) for ch in v] == want_chunks,
        "the segments written")
    c.eq("insert: 24 hourly chunks written", len(chunks), 24)
    c.eq("insert: each chunk's interval, one segment, rows per hour of the raw file",
         [tuple(ch) for ch in chunks], want_chunks)

    last = rows[-1]["stage"]
    b.find(f"tr[data-testid=stage-row][data-stage='{last}']").click()
    detail = b.wait_for("[data-testid=stage-detail]")
    workers = wait(lambda: detail.find_elements("css selector", "tr[data-testid=worker-row]"), "worker rows")
    c.eq("insert: stage detail has a row per worker", len(workers), api_stages[-1]["workerCount"])
    parts = detail.find_elements("css selector", "tr[data-testid=partition-row]")
    c.eq("insert: stage detail has a row per partition", len(parts), api_stages[-1]["partitionCount"])
    c.page_clean(b, "query-insert")

    b.find("[data-testid=explain]").click()
    b.wait_for("[data-testid=explain-dag]")
    shown = wait(lambda: b.find_all("[data-testid=explain-dag] [data-testid=explain-stage]"), "the explained stages")
    c.eq("insert: EXPLAIN draws a box per stage", len(shown), len(api_stages))
    c.page_clean(b, "query-explain")


def select_top_channels(b, c, api, sample, state):
    """Runs the top-channels SELECT with Ctrl+Enter and reads the grid."""
    ds = b.args.datasource
    new_tab(b)
    type_sql(b, TOP_CHANNELS_SQL.format(ds=ds))
    context = b.find("textarea[data-testid=context-editor]")
    context.send_keys(Keys.CONTROL, "a")
    context.send_keys('{"maxNumTasks": ')
    shown = wait(lambda: b.js("""const e = document.querySelector('[data-testid=context-error]');
        return e && !e.hidden && document.querySelector('[data-testid=run]').disabled"""), "the context error")
    c.true("select: a context that is not JSON shows its error and disables Run", shown)
    context.send_keys("2}")
    wait(lambda: b.js("""const e = document.querySelector('[data-testid=context-error]');
        return (!e || e.hidden) && !document.querySelector('[data-testid=run]').disabled"""), "the context accepted")
    c.ok("select: a JSON context enables Run again")
    b.find("textarea[data-testid=sql-editor]").send_keys(Keys.CONTROL, Keys.ENTER)
    st = wait_ended(b, "the top-channels SELECT")
    c.eq("select: Ctrl+Enter ran it to SUCCESS", st["state"], "SUCCESS")
    state["select_task"] = st["id"]
    grid = wait(lambda: (lambda g: g if g and len(g["rows"]) == 5 else None)(b.js(GRID_JS)), "five result rows")
    c.eq("select: column names", [col["name"] for col in grid["cols"]], ["channel", "edits", "added"])
    types = [col["type"].upper() for col in grid["cols"]]
    c.true("select: column types", types[0] in ("VARCHAR", "STRING") and all(t in ("BIGINT", "LONG") for t in types[1:]),
           types)
    shown = [[r[0], number(r[1]), number(r[2])] for r in grid["rows"]]
    want = [[ch, str(e), str(a)] for ch, e, a in sample.top_channels()]
    c.eq("select: the five busiest channels, edits and added of the raw file", shown, want)
    c.eq("select: pager", grid["info"], {"first": "1", "last": "5", "total": "5"})
    href = b.attr("a[data-testid=download-csv]", "href")
    path = href[len(b.base):] if href and href.startswith(b.base) else href
    status, body, _ = api.call("GET", path)
    lines = body.splitlines() if isinstance(body, str) else []
    c.true("select: the CSV download holds the rows", status == 200 and all(
        f"{ch},{e},{a}" in lines for ch, e, a in sample.top_channels()), f"{status} {body!r:.300}")
    c.true("select: a JSON download link", bool(b.attr("a[data-testid=download-json]", "href")))
    c.page_clean(b, "query-select")

    # Tabs live in browser storage: after a reload the same tabs, the SQL, and the tab
    # reattached to its statement's results.
    tabs = len(b.find_all("[data-testid=query-tab]"))
    b.driver.refresh()
    b.wait_for("[data-testid=query-tab]")
    c.eq("select: the tabs survive a reload", len(b.find_all("[data-testid=query-tab]")), tabs)
    c.eq("select: the active tab's SQL survives a reload",
         b.js("return document.querySelector('textarea[data-testid=sql-editor]').value"), TOP_CHANNELS_SQL.format(ds=ds))
    grid = wait(lambda: (lambda g: g if g and len(g["rows"]) == 5 else None)(b.js(GRID_JS)), "the results again")
    c.eq("select: the results again after a reload", [[r[0], number(r[1]), number(r[2])] for r in grid["rows"]], want)
    c.no_errors(b, "query-reload")


def shown_rows(grid):
    return [[r[0], r[1], r[2], number(r[3])] for r in grid["rows"]]


def settled_page(b, expected, first):
    """The grid once it shows the page starting at row `first` (pager and rows: the pager may
    name the new page while the previous page's rows are still shown, until they load)."""
    def probe():
        g = b.js(GRID_JS)
        if not (g and g["info"] and g["info"]["first"] == str(first)):
            return None
        last = int(g["info"]["last"])
        return g if len(g["rows"]) == last - first + 1 and shown_rows(g) == expected[first - 1:last] else None

    try:
        return wait(probe, f"the page starting at row {first}")
    except AssertionError:
        return b.js(GRID_JS)  # checked (and failing) below, with what it shows


def check_page(c, grid, expected, name):
    """The rows shown are the rows data-first..data-last of the expected order."""
    first, last = int(grid["info"]["first"]), int(grid["info"]["last"])
    c.eq(f"paging: {name}: rows shown = last - first + 1", len(grid["rows"]), last - first + 1)
    c.eq(f"paging: {name}: rows {first}..{last} in order", shown_rows(grid), expected[first - 1:last])


def paging(b, c, api, sample, state):
    """Pages through all 39,244 rows: first page, the next, on to the last, and back."""
    new_tab(b)
    type_sql(b, PAGING_SQL.format(ds=b.args.datasource))
    b.find("[data-testid=run]").click()
    st = wait_ended(b, "the paging SELECT")
    c.eq("paging: SUCCESS", st["state"], "SUCCESS")
    expected = sample.paging_rows()
    total = str(len(expected))

    def page_after(prev_last):
        return settled_page(b, expected, prev_last + 1)

    grid = page_after(0)
    c.eq("paging: total rows = rows of the raw file", grid["info"]["total"], total)
    c.true("paging: the first page holds fewer than all rows", int(grid["info"]["last"]) < len(expected), grid["info"])
    check_page(c, grid, expected, "first page")
    pages, wrong = 1, []
    while grid["info"]["last"] != total:
        last = int(grid["info"]["last"])
        b.find("[data-testid=next-page]").click()
        grid = page_after(last)
        pages += 1
        if pages == 2:
            check_page(c, grid, expected, "second page")
        first, last = int(grid["info"]["first"]), int(grid["info"]["last"])
        if shown_rows(grid) != expected[first - 1:last]:
            wrong.append(f"{first}..{last}")
        assert pages <= len(expected), "the pager never reached the last row"
    c.eq("paging: every page shows its rows", wrong, [])
    check_page(c, grid, expected, "last page")
    c.page_clean(b, "query-paging")
    last_first = int(grid["info"]["first"])
    b.find("[data-testid=prev-page]").click()
    before = wait(lambda: (lambda g: g if g and g["info"]["last"] == str(last_first - 1) else None)(b.js(GRID_JS)),
                  "the pager to go back one page")
    grid = settled_page(b, expected, int(before["info"]["first"]))
    check_page(c, grid, expected, "back one page")
    print(f"console: paged through {pages} pages", flush=True)


def long_input(sample, state):
    """A directory of LONG_INSERT_COPIES copies of the sample (made once; run.py removes it)."""
    if "copies" not in state:
        state["copies"] = tempfile.mkdtemp(prefix="msq-console-long-")
        for i in range(LONG_INSERT_COPIES):
            shutil.copy(sample.path, os.path.join(state["copies"], f"wiki-{i:02d}.json.gz"))
    return state["copies"]


def stop_if_running(api, task):
    """Stops `task` when a check failed before the page cancelled it, so that it neither runs on
    nor fails over its input files going away."""
    if task and api.task_status(task)["status"] == "RUNNING":
        api.call("POST", f"/druid/indexer/v1/task/{task}/shutdown")
        wait(lambda: api.task_status(task)["status"] != "RUNNING", f"{task} to stop", PATIENCE)


def cancel(b, c, api, sample, state):
    """Starts an INSERT of many copies of the sample, watches it read, cancels it and sees
    Canceled; nothing is published."""
    copies = long_input(sample, state)
    try:
        new_tab(b)
        type_sql(b, LONG_INSERT_SQL.format(ds=CANCELLED_DATASOURCE, dir=copies))
        b.find("[data-testid=run]").click()

        def reading():
            st = query_state(b)
            rows = stages(b) or []
            first = rows[0] if rows else None
            if st["state"] == "RUNNING" and st["id"] and first and (value(first, "input-rows") or 0) > 0:
                return st, rows
            return None

        st, rows = wait(reading, "the long INSERT to show input rows read while RUNNING", PATIENCE)
        state["cancel_task"] = st["id"]
        c.true("cancel: the live stage table shows stage 0 reading before it finishes",
               rows[0]["phase"] != "FINISHED" and 0 < value(rows[0], "input-rows") < LONG_INSERT_COPIES * len(sample.rows),
               rows[0])
        c.eq("cancel: the task is RUNNING in the Tasks API", api.task_status(st["id"])["status"], "RUNNING")
        c.page_clean(b, "query-running")
        b.find("[data-testid=cancel]").click()
        st = wait_ended(b, "the cancelled INSERT")
        c.eq("cancel: FAILED with Canceled", (st["state"], st["code"]), ("FAILED", "Canceled"))
        err = b.wait_for("[data-testid=query-error]")
        c.eq("cancel: the error shows Canceled", err.get_attribute("data-error-code"), "Canceled")
        status = api.task_status(st["id"])
        c.true("cancel: FAILED with Canceled in the Tasks API",
               status["status"] == "FAILED" and "Canceled" in (status.get("errorMsg") or ""), status)
        names = [d for d in api.datasources()]
        c.true("cancel: nothing published", CANCELLED_DATASOURCE not in names, names)
        c.page_clean(b, "query-canceled")
    finally:
        stop_if_running(api, state.get("cancel_task"))
