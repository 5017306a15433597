"""pydruid's SQLAlchemy dialect (`druid://host:port/druid/v2/sql/`) against `msq server`:
reflection through INFORMATION_SCHEMA (table and schema names, columns and their types,
has_table), SELECTs as text and built with SQLAlchemy Core on a reflected Table; with basic
auth when --user is given. Expected values come from the raw sample (wiki.py)."""

import collections
from urllib.parse import quote

from sqlalchemy import (
    MetaData,
    Table,
    create_engine,
    desc,
    exc,
    func,
    inspect,
    literal_column,
    select,
    text,
    types,
)

import wiki

# The columns the wikipedia INSERT writes, with the SQLAlchemy type pydruid maps Druid's
# JDBC type to: TIMESTAMP, VARCHAR → String, BIGINT → BigInteger.
COLUMNS = {
    "__time": types.TIMESTAMP,
    "channel": types.String,
    "page": types.String,
    "user": types.String,
    "added": types.BigInteger,
    "deleted": types.BigInteger,
    "delta": types.BigInteger,
    "cityName": types.String,
    "countryName": types.String,
    "isRobot": types.String,
    "metroCode": types.BigInteger,
}


def engine(a, password=None):
    creds = ""
    if a.user:
        pw = password if password is not None else a.password
        creds = f"{quote(a.user, safe='')}:{quote(pw, safe='')}@"
    return create_engine(f"druid://{creds}{a.host}:{a.port}/druid/v2/sql/")


def check_reflection(a, eng, checks):
    ds = a.datasource
    insp = inspect(eng)
    names = insp.get_table_names()
    assert ds in names, names
    assert insp.get_table_names(schema="druid") == [ds], insp.get_table_names(schema="druid")
    checks.ok(f"get_table_names lists {ds} (the druid schema: only {ds})")

    schemas = set(insp.get_schema_names())
    assert schemas == {"druid", "lookup", "sys", "view"}, schemas
    checks.ok(f"get_schema_names: {sorted(schemas)}")

    for schema in (None, "druid"):
        cols = insp.get_columns(ds, schema=schema)
        got = {c["name"]: c["type"] for c in cols}
        assert set(got) == set(COLUMNS), (sorted(got), sorted(COLUMNS))
        for name, typ in COLUMNS.items():
            assert type(got[name]) is typ, (name, got[name], typ)
        nullable = {c["name"]: c["nullable"] for c in cols}
        assert nullable["__time"] is False and nullable["channel"] is True, nullable
    checks.ok("get_columns: every column with its type (__time TIMESTAMP, added BIGINT, channel VARCHAR, ...)")

    assert insp.has_table(ds) is True
    assert insp.has_table("no_such_table") is False
    checks.ok("has_table")


def check_selects(a, eng, rows, checks):
    ds = a.datasource
    top = wiki.top_channels(rows)
    with eng.connect() as conn:
        q = (
            f"SELECT channel, COUNT(*) AS edits, SUM(added) AS added FROM {ds} "
            "GROUP BY channel ORDER BY edits DESC, channel LIMIT 5"
        )
        res = conn.execute(text(q))
        assert list(res.keys()) == ["channel", "edits", "added"], list(res.keys())
        got = [tuple(r) for r in res.fetchall()]
        assert got == top, (got, top)
        checks.ok("a SELECT through the engine: the top channels")

        en = sum(1 for r in rows if r["channel"] == "#en.wikipedia")
        n = conn.execute(text(f"SELECT COUNT(*) AS n FROM {ds} WHERE channel = :ch"), {"ch": "#en.wikipedia"})
        assert n.scalar() == en, en
        checks.ok(f"a bound parameter ({en} #en.wikipedia edits)")

    t = Table(ds, MetaData(), autoload_with=eng)
    assert [c.name for c in t.columns] and set(t.columns.keys()) == set(COLUMNS), t.columns.keys()
    with eng.connect() as conn:
        en_rows = conn.execute(select(t).where(t.c.channel == "#en.wikipedia")).fetchall()
        want = collections.Counter((r["time"], r["page"], r.get("added")) for r in rows if r["channel"] == "#en.wikipedia")
        got = collections.Counter((r.__time, r.page, r.added) for r in en_rows)
        assert got == want, (len(en_rows), sum(want.values()))
        checks.ok(f"select(table).where(channel == ...) on the reflected Table: {len(en_rows)} rows")

        chans = [c for c, _, _ in top[1:4]]
        stmt = (
            select(t.c.channel, func.count().label("edits"), func.sum(t.c.added).label("added"))
            .where(t.c.channel.in_(chans))
            .group_by(t.c.channel)
            .order_by(desc("edits"), t.c.channel)
            .limit(2)
        )
        got = [tuple(r) for r in conn.execute(stmt).fetchall()]
        assert got == top[1:3], (got, top[1:3])
        checks.ok(f"a Core aggregate with IN, GROUP BY, ORDER BY and LIMIT: {got}")

        # A time series as a dashboard asks for it: Druid's TIME_FLOOR, a time filter.
        hour = func.TIME_FLOOR(t.c.__time, "PT1H")
        stmt = (
            select(hour.label("hour"), func.count().label("edits"))
            .where(t.c.__time >= literal_column("TIMESTAMP '2015-09-12 20:00:00'"))
            .where(t.c.channel == "#en.wikipedia")
            .group_by(hour)
            .order_by(hour)
        )
        got = [tuple(r) for r in conn.execute(stmt).fetchall()]
        hours = collections.Counter(
            f"{r['time'][:13]}:00:00.000Z"
            for r in rows
            if r["channel"] == "#en.wikipedia" and r["time"] >= "2015-09-12T20"
        )
        assert got == sorted(hours.items()), (got, sorted(hours.items()))
        checks.ok(f"a TIME_FLOOR series with a time filter: {len(got)} hours")

    # Superset's documented URL has no trailing slash.
    bare = create_engine(eng.url.set(database="druid/v2/sql"))
    assert bare.url.database == "druid/v2/sql", bare.url
    with bare.connect() as conn:
        assert conn.execute(text(f"SELECT COUNT(*) FROM {ds}")).scalar() == len(rows)
    checks.ok("druid://host:port/druid/v2/sql (no trailing slash)")


def check_auth(a, checks):
    bad = engine(a, password=a.wrong_password)
    try:
        inspect(bad).get_table_names()
        raise AssertionError("a wrong password listed tables")
    except exc.DBAPIError as e:
        assert "Unauthorized" in str(e.orig), str(e)
    checks.ok("a wrong password: the dialect raises DBAPIError (401 Unauthorized)")


def main():
    a = wiki.parse_args()
    rows = wiki.raw_rows(a.data)
    checks = wiki.Checks("sqlalchemy")
    eng = engine(a)
    check_reflection(a, eng, checks)
    check_selects(a, eng, rows, checks)
    if a.user:
        check_auth(a, checks)
    checks.done()


if __name__ == "__main__":
    main()
