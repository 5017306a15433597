"""The console behind HTTP basic auth: without credentials the server answers 401 (and the
browser gets no console); with them the page loads and its API calls go through (the
browser keeps the credentials for the origin, as after the user answers its prompt)."""

import urllib.parse

from lib import wait
from query_view import GRID_JS, new_tab, type_sql, wait_ended


def auth(b, c, api, sample, state):
    args = b.args
    assert args.user, "the auth scenario needs --user and --password"
    for path in ("/", "/unified-console.html", "/console/js/main.js", "/druid/v2/sql/statements/x"):
        status, _, headers = api.call("GET", path, auth=False)
        challenge = {k.lower(): v for k, v in headers.items()}.get("www-authenticate", "")
        c.true(f"auth: GET {path} without credentials is 401 with a Basic challenge",
               status == 401 and challenge.lower().startswith("basic"), f"{status} {headers}")
        status, _, _ = api.call("GET", path)
        c.true(f"auth: GET {path} with credentials is past auth", status != 401, status)

    b.open("/")
    wait(lambda: b.js("return document.readyState") == "complete", "the 401 page")
    c.eq("auth: without credentials the browser gets no console", len(b.find_all("a[data-nav]")), 0)
    b.severe_logs()  # the 401 itself is logged as an error: expected here

    ds = args.datasource
    api.ingest(args.insert_sql)
    user = urllib.parse.quote(args.user, safe="")
    password = urllib.parse.quote(args.password, safe="")
    # Credentials in the URL answer the first 401; the browser keeps them for the origin.
    b.open("/#/query", base=f"http://{user}:{password}@{args.addr}")
    b.wait_for("a[data-nav=query]")
    # The page itself, without credentials in its address, as after the prompt.
    b.open("/#/datasources")
    b.wait_for(f"tr[data-testid=datasource-row][data-datasource='{ds}']")
    c.ok("auth: with credentials the Datasources view lists the datasource")
    b.nav("query")
    new_tab(b)
    type_sql(b, f'SELECT COUNT(*) AS n FROM "{ds}"')
    b.find("[data-testid=run]").click()
    st = wait_ended(b, "the COUNT(*)")
    c.eq("auth: a SELECT runs from the Query view", st["state"], "SUCCESS")
    grid = wait(lambda: (lambda g: g if g and g["rows"] else None)(b.js(GRID_JS)), "the result row")
    c.eq("auth: its row", [r[-1].replace(",", "") for r in grid["rows"]], [str(len(sample.rows))])
    c.page_clean(b, "auth-query")
