"""pydruid's DB-API against `msq server`, as a Druid user would call it: connect, cursors,
parameters (pydruid's `pyformat`), fetchone/fetchmany/fetchall, description, the header
option, errors; with basic auth when --user is given. Expected values come from the raw
sample (wiki.py), not from the engine. Exits non-zero on the first failed check."""

import collections

import requests
from pydruid.db import connect, exceptions
from pydruid.db.api import Type

import wiki

TOP = (
    "SELECT channel, COUNT(*) AS edits, SUM(added) AS added FROM {ds} "
    "GROUP BY channel ORDER BY edits DESC, channel LIMIT 5"
)


def connection(a, password=None, **kw):
    return connect(
        a.host,
        a.port,
        path="/druid/v2/sql/",
        scheme="http",
        user=a.user,
        password=password if password is not None else a.password,
        **kw,
    )


def check_queries(a, rows, checks):
    cur = connection(a).cursor()
    ds = a.datasource

    cur.execute(f"SELECT COUNT(*) AS cnt FROM {ds}")
    got = cur.fetchall()
    assert got == [(len(rows),)], got
    assert [d[0] for d in cur.description] == ["cnt"], cur.description
    assert cur.description[0][1] == Type.NUMBER, cur.description
    checks.ok(f"COUNT(*) = {len(rows)}")

    top = wiki.top_channels(rows)
    cur.execute(TOP.format(ds=ds))
    assert [d[0] for d in cur.description] == ["channel", "edits", "added"], cur.description
    assert [d[1] for d in cur.description] == [Type.STRING, Type.NUMBER, Type.NUMBER], cur.description
    assert cur.rowcount == 5, cur.rowcount
    first = cur.fetchone()
    assert (first.channel, first.edits, first.added) == top[0], (first, top[0])
    two = cur.fetchmany(2)
    rest = list(cur)
    assert cur.fetchone() is None
    got = [tuple(r) for r in [first, *two, *rest]]
    assert got == top, (got, top)
    checks.ok(f"top channels {[c for c, _, _ in top]} with fetchone/fetchmany/iteration")

    cur.execute(f"SELECT channel FROM {ds} WHERE channel = 'no such channel'")
    assert cur.fetchall() == [] and cur.description is None, cur.description
    checks.ok("an empty answer")

    # Every row, streamed: values and string escapes survive pydruid's chunk parser.
    cur.execute(f'SELECT __time, channel, page, "user", added FROM {ds}')
    got = collections.Counter(tuple(r) for r in cur.fetchall())
    want = collections.Counter((r["time"], r["channel"], r["page"], r["user"], r.get("added")) for r in rows)
    assert got == want, (len(got), len(want), list((got - want).items())[:3], list((want - got).items())[:3])
    checks.ok(f"all {len(rows)} rows equal the raw file's")


def check_parameters(a, rows, checks):
    cur = connection(a).cursor()
    ds = a.datasource
    en = sum(1 for r in rows if r["channel"] == "#en.wikipedia")
    cur.execute(f"SELECT COUNT(*) FROM {ds} WHERE channel = %(ch)s", {"ch": "#en.wikipedia"})
    assert cur.fetchall() == [(en,)], en
    assert [d[0] for d in cur.description] == ["EXPR$0"], cur.description
    checks.ok(f"a string parameter (#en.wikipedia: {en} edits)")

    page, edits = wiki.page_with_quote(rows)
    cur.execute(f"SELECT COUNT(*) AS edits FROM {ds} WHERE page = %(page)s", {"page": page})
    assert cur.fetchone() == (edits,), (page, edits)
    checks.ok(f"a parameter with a quote ({page!r}: {edits} edits)")

    big = sum(1 for r in rows if wiki.added(r) > 1000)
    cur.execute(f"SELECT COUNT(*) AS n FROM {ds} WHERE added > %(min)s", {"min": 1000})
    assert cur.fetchone().n == big, big
    checks.ok(f"a number parameter ({big} rows add more than 1000)")

    chans = ("#de.wikipedia", "#fr.wikipedia")
    both = sum(1 for r in rows if r["channel"] in chans)
    cur.execute(f"SELECT COUNT(*) AS n FROM {ds} WHERE channel IN (%(chans)s)", {"chans": chans})
    assert cur.fetchone().n == both, both
    checks.ok(f"a list parameter ({both} rows)")


# Druid's DATA_TYPE of each column the wikipedia INSERT writes.
DATA_TYPES = {
    "__time": "TIMESTAMP",
    "channel": "VARCHAR",
    "page": "VARCHAR",
    "user": "VARCHAR",
    "added": "BIGINT",
    "deleted": "BIGINT",
    "delta": "BIGINT",
    "cityName": "VARCHAR",
    "countryName": "VARCHAR",
    "isRobot": "VARCHAR",
    "metroCode": "BIGINT",
}


def check_catalog(a, checks):
    """The queries pydruid's console runs for SHOW TABLES and DESC <table>."""
    cur = connection(a).cursor()
    tables = [r.TABLE_NAME for r in cur.execute("SELECT TABLE_NAME FROM INFORMATION_SCHEMA.TABLES")]
    assert a.datasource in tables, tables
    desc = f"""
        SELECT COLUMN_NAME,
               ORDINAL_POSITION,
               COLUMN_DEFAULT,
               IS_NULLABLE,
               DATA_TYPE
          FROM INFORMATION_SCHEMA.COLUMNS
         WHERE TABLE_NAME='{a.datasource}'
    """
    cols = sorted(cur.execute(desc).fetchall(), key=lambda r: int(r.ORDINAL_POSITION))
    assert {r.COLUMN_NAME: r.DATA_TYPE for r in cols} == DATA_TYPES, cols
    # In the order the INSERT wrote them (DATA_TYPES' order), at consecutive positions.
    assert [r.COLUMN_NAME for r in cols] == list(DATA_TYPES), cols
    first = int(cols[0].ORDINAL_POSITION)
    assert [int(r.ORDINAL_POSITION) for r in cols] == list(range(first, first + len(cols))), cols
    assert cols[0].COLUMN_NAME == "__time" and cols[0].IS_NULLABLE == "NO", cols[0]
    checks.ok(f"the console's SHOW TABLES and DESC {a.datasource}: {len(cols)} columns with their types")


def check_options(a, rows, checks):
    ds = a.datasource
    # With `header`, the first row names the columns: a description even without rows.
    cur = connection(a, header=True).cursor()
    cur.execute(f"SELECT channel, COUNT(*) AS edits FROM {ds} WHERE channel = 'none' GROUP BY channel")
    assert cur.description == [("channel", None), ("edits", None)], cur.description
    assert cur.fetchall() == []
    cur.execute(TOP.format(ds=ds))
    assert [d[0] for d in cur.description] == ["channel", "edits", "added"], cur.description
    assert [tuple(r) for r in cur.fetchall()] == wiki.top_channels(rows)
    checks.ok("header=True: description from the header row")

    cur = connection(a, context={"sqlQueryId": "pydruid-context-query"}).cursor()
    cur.execute(f"SELECT COUNT(*) AS cnt FROM {ds}")
    assert cur.fetchone() == (len(rows),)
    checks.ok("a query context is accepted")

    conn = connection(a)
    try:
        conn.cursor().execute("SELECT nope FROM no_such_table")
        raise AssertionError("a query of an unknown table succeeded")
    except exceptions.ProgrammingError as e:
        assert "no_such_table" in str(e), str(e)
        checks.ok(f"an unknown table raises ProgrammingError: {e}")
    conn.close()
    try:
        conn.cursor()
        raise AssertionError("a closed connection gave a cursor")
    except exceptions.Error:
        checks.ok("a closed connection refuses cursors")


def check_auth(a, checks):
    """Wrong or missing credentials: pydruid raises; the server answers 401 with a challenge."""
    ds = a.datasource
    for label, user, password in [("a wrong password", a.user, a.wrong_password), ("no credentials", None, None)]:
        conn = connect(a.host, a.port, path="/druid/v2/sql/", scheme="http", user=user, password=password)
        try:
            conn.cursor().execute(f"SELECT COUNT(*) FROM {ds}")
            raise AssertionError(f"{label}: the query succeeded")
        except exceptions.ProgrammingError as e:
            assert "Unauthorized" in str(e), str(e)
        auth = (user, password) if user else None
        r = requests.post(f"http://{a.host}:{a.port}/druid/v2/sql/", json={"query": "SELECT 1"}, auth=auth)
        assert r.status_code == 401, (r.status_code, r.text)
        assert r.headers.get("WWW-Authenticate", "").startswith("Basic"), r.headers
        checks.ok(f"{label}: 401 and pydruid raises ProgrammingError")


def main():
    a = wiki.parse_args()
    rows = wiki.raw_rows(a.data)
    checks = wiki.Checks("dbapi")
    check_queries(a, rows, checks)
    check_parameters(a, rows, checks)
    check_catalog(a, checks)
    check_options(a, rows, checks)
    if a.user:
        check_auth(a, checks)
    checks.done()


if __name__ == "__main__":
    main()
