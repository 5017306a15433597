#!/usr/bin/env python3
"""msq-rs benchmark peer: runs the msq-rs suite's questions on DuckDB or DataFusion.

Usage:
  peer.py --engine duckdb|datafusion --json FILE --parquet FILE --out DIR --runs K

FILE --json is the generated newline-delimited JSON (.json or .json.gz), or the directory of
its parts (msq_benches::generate_parts: part-<i>.json[.gz], read together), --parquet the same
rows as Parquet (from msq_benches::generate). DIR receives the ingested, day-partitioned
Parquet (DIR/<engine>/wikipedia/day=YYYY-MM-DD/...); it is replaced on every run.

Prints one JSON object per measure on stdout (progress and errors go to stderr):
  {"engine","measure","rows","runs","median_s","min_s","max_s","peak_rss_mb"}
rows = rows in the input; peak_rss_mb = this process's peak RSS during the measure's runs: the
high-water mark is reset before the measure (writing 5 to /proc/self/clear_refs, Linux) and
VmHWM read after it; where that is not possible, getrusage's ru_maxrss (peak so far).

Only dependencies: `duckdb` and `datafusion` from PyPI (installed by benches/setup.sh).

The measures and their SQL. msq-rs runs the same questions (msq_benches::sql, benches/README.md):

insert -- msq-rs:
  INSERT INTO wikipedia
  SELECT TIME_PARSE("time") AS __time, channel, page, "user", namespace, comment, cityName,
         countryName, isRobot, added, deleted, delta
  FROM TABLE(EXTERN('{"type":"local","files":["<json>"]}', '{"type":"json"}', '<signature>'))
  PARTITIONED BY DAY CLUSTERED BY channel
insert -- peers (DuckDB; DataFusion reads the JSON through an external table `src` and ends
  with STORED AS PARQUET PARTITIONED BY (day)):
  COPY (SELECT <time parsed> AS __time, CAST(<time parsed> AS DATE) AS day, channel, page,
               "user", namespace, comment, cityName, countryName,
               CAST(isRobot AS VARCHAR) AS isRobot, added, deleted, delta
        FROM <json> ORDER BY day, channel, __time)
  TO '<out>' (FORMAT PARQUET, PARTITION_BY (day))
insert_from_parquet -- peers only: the same COPY reading the --parquet file instead of the JSON.

replace_one_day -- msq-rs:
  REPLACE INTO wikipedia OVERWRITE WHERE __time >= TIMESTAMP '2015-09-13 00:00:00'
                                     AND __time <  TIMESTAMP '2015-09-14 00:00:00'
  SELECT * FROM wikipedia WHERE __time >= TIMESTAMP '2015-09-13 00:00:00'
                            AND __time <  TIMESTAMP '2015-09-14 00:00:00'
                            AND channel <> '#en.wikipedia'
  PARTITIONED BY DAY CLUSTERED BY channel
replace_one_day -- peers: COPY (SELECT * FROM <out>/day=2015-09-13 WHERE channel <> '#en.wikipedia'
  ORDER BY channel, __time) TO <new file>, then swap the day's directory for the new one.

select_count:               SELECT COUNT(*) FROM wikipedia
select_top_channels:        SELECT channel, SUM(added) AS added FROM wikipedia GROUP BY channel
                            ORDER BY added DESC LIMIT 10
select_count_distinct_user: SELECT COUNT(DISTINCT "user") FROM wikipedia
select_hourly_one_day:      SELECT TIME_FLOOR(__time, 'PT1H') AS h, COUNT(*) FROM wikipedia
                            WHERE __time >= TIMESTAMP '2015-09-13 00:00:00'
                              AND __time < TIMESTAMP '2015-09-14 00:00:00' GROUP BY 1 ORDER BY 1
                            (peers: date_trunc('hour', __time) for TIME_FLOOR)
select_page_filter:         SELECT COUNT(*), SUM(delta) FROM wikipedia WHERE page = 'Jeremy Corbyn'
select_two_column_group:    SELECT channel, namespace, COUNT(*) AS c FROM wikipedia
                            GROUP BY channel, namespace ORDER BY c DESC LIMIT 10
The peers' `wikipedia` is the Parquet written by `insert`.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import time

REPLACE_DAY = "2015-09-13"
REPLACE_END = "2015-09-14"

# Ingested columns, as in msq_benches::sql::INGESTED_COLUMNS (isRobot read as a JSON boolean,
# written as the string "true"/"false" like msq-rs ingests it).
JSON_COLUMNS = [
    ("time", "VARCHAR"), ("channel", "VARCHAR"), ("page", "VARCHAR"), ("user", "VARCHAR"),
    ("namespace", "VARCHAR"), ("comment", "VARCHAR"), ("cityName", "VARCHAR"),
    ("countryName", "VARCHAR"), ("isRobot", "BOOLEAN"), ("added", "BIGINT"),
    ("deleted", "BIGINT"), ("delta", "BIGINT"),
]

# Identifiers quoted: DataFusion lower-cases unquoted ones.
REST = 'channel, page, "user", namespace, comment, "cityName", "countryName", {robot} AS "isRobot", added, deleted, delta'

SELECTS = [
    ("select_count", "SELECT COUNT(*) FROM wikipedia"),
    ("select_top_channels",
     "SELECT channel, SUM(added) AS added FROM wikipedia GROUP BY channel ORDER BY added DESC LIMIT 10"),
    ("select_count_distinct_user", 'SELECT COUNT(DISTINCT "user") FROM wikipedia'),
    ("select_hourly_one_day",
     "SELECT date_trunc('hour', __time) AS h, COUNT(*) FROM wikipedia "
     f"WHERE __time >= TIMESTAMP '{REPLACE_DAY} 00:00:00' AND __time < TIMESTAMP '{REPLACE_END} 00:00:00' "
     "GROUP BY 1 ORDER BY 1"),
    ("select_page_filter", "SELECT COUNT(*), SUM(delta) FROM wikipedia WHERE page = 'Jeremy Corbyn'"),
    ("select_two_column_group",
     "SELECT channel, namespace, COUNT(*) AS c FROM wikipedia GROUP BY channel, namespace ORDER BY c DESC LIMIT 10"),
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def reset_peak_rss():
    """Resets the process's RSS high-water mark (Linux); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is KiB on Linux, bytes on macOS.
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024 * 1024) if sys.platform == "darwin" else r / 1024


def json_files(path):
    """The JSON file, or the sorted part files of a directory."""
    if os.path.isdir(path):
        return sorted(os.path.join(path, f) for f in os.listdir(path) if ".json" in f)
    return [path]


def q(s):
    """SQL string literal."""
    return "'" + str(s).replace("'", "''") + "'"


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.dirname(path.rstrip("/")) or ".", exist_ok=True)


def swap_day(dataset, new_file):
    """Replaces the day's partition directory by one holding just new_file."""
    day_dir = os.path.join(dataset, f"day={REPLACE_DAY}")
    staged = day_dir + ".new"
    shutil.rmtree(staged, ignore_errors=True)
    os.makedirs(staged)
    if os.path.exists(new_file):
        os.replace(new_file, os.path.join(staged, "part-0.parquet"))
    shutil.rmtree(day_dir, ignore_errors=True)
    os.replace(staged, day_dir)


def has_day(dataset):
    d = os.path.join(dataset, f"day={REPLACE_DAY}")
    return os.path.isdir(d) and any(f.endswith(".parquet") for f in os.listdir(d))


class DuckDB:
    name = "duckdb"

    def __init__(self):
        import duckdb
        self.duckdb = duckdb
        self.version = duckdb.__version__

    def connect(self):
        return self.duckdb.connect()

    def count_rows(self, parquet):
        return self.connect().execute(f"SELECT COUNT(*) FROM read_parquet({q(parquet)})").fetchone()[0]

    def _copy_insert(self, con, source_sql, robot, out):
        t = "strptime(time, '%Y-%m-%dT%H:%M:%S.%gZ')"
        con.execute(
            f"COPY (SELECT {t} AS __time, CAST({t} AS DATE) AS day, {REST.format(robot=robot)} "
            f"FROM {source_sql} ORDER BY day, channel, __time) "
            f"TO {q(out)} (FORMAT PARQUET, PARTITION_BY (day))")

    def insert(self, json_file, out):
        cols = "{" + ", ".join(f"{q(n)}: {q(t)}" for n, t in JSON_COLUMNS) + "}"
        files = "[" + ", ".join(q(f) for f in json_files(json_file)) + "]"
        src = f"read_json({files}, format='newline_delimited', columns={cols})"
        self._copy_insert(self.connect(), src, 'CAST("isRobot" AS VARCHAR)', out)

    def insert_from_parquet(self, parquet, out):
        self._copy_insert(self.connect(), f"read_parquet({q(parquet)})", '"isRobot"', out)

    def replace(self, dataset, new_file):
        day = os.path.join(dataset, f"day={REPLACE_DAY}", "*.parquet")
        self.connect().execute(
            f"COPY (SELECT * FROM read_parquet({q(day)}) WHERE channel <> '#en.wikipedia' "
            f"ORDER BY channel, __time) TO {q(new_file)} (FORMAT PARQUET)")

    def selects(self, dataset):
        con = self.connect()
        con.execute(
            "CREATE VIEW wikipedia AS SELECT * FROM read_parquet("
            f"{q(os.path.join(dataset, '*', '*.parquet'))}, hive_partitioning = true)")
        return lambda sql: con.execute(sql).fetchall()


class DataFusion:
    name = "datafusion"

    def __init__(self):
        import datafusion
        self.df = datafusion
        self.version = datafusion.__version__

    def connect(self):
        return self.df.SessionContext()

    def count_rows(self, parquet):
        ctx = self.connect()
        ctx.register_parquet("input", parquet)
        return ctx.sql("SELECT COUNT(*) AS n FROM input").to_pydict()["n"][0]

    def _copy_insert(self, ctx, robot, out):
        t = 'to_timestamp_millis("time")'
        ctx.sql(
            f"COPY (SELECT {t} AS __time, CAST({t} AS DATE) AS day, {REST.format(robot=robot)} "
            f"FROM src ORDER BY day, channel, __time) "
            f"TO {q(out.rstrip('/') + '/')} STORED AS PARQUET PARTITIONED BY (day)").collect()

    def insert(self, json_file, out):
        ctx = self.connect()
        cols = ", ".join(f'"{n}" {t}' for n, t in JSON_COLUMNS)
        gz = json_files(json_file)[0].endswith(".gz")
        opts = " OPTIONS ('format.compression' 'gzip')" if gz else ""
        # A directory is read whole (all its parts); its LOCATION ends with '/'.
        location = json_file.rstrip("/") + "/" if os.path.isdir(json_file) else json_file
        ctx.sql(f"CREATE EXTERNAL TABLE src ({cols}) STORED AS JSON LOCATION {q(location)}{opts}").collect()
        self._copy_insert(ctx, 'CAST("isRobot" AS VARCHAR)', out)

    def insert_from_parquet(self, parquet, out):
        ctx = self.connect()
        ctx.register_parquet("src", parquet)
        self._copy_insert(ctx, '"isRobot"', out)

    def replace(self, dataset, new_file):
        ctx = self.connect()
        ctx.register_parquet("day_src", os.path.join(dataset, f"day={REPLACE_DAY}") + "/")
        ctx.sql(
            "COPY (SELECT * FROM day_src WHERE channel <> '#en.wikipedia' ORDER BY channel, __time) "
            f"TO {q(new_file)} STORED AS PARQUET").collect()

    def selects(self, dataset):
        ctx = self.connect()
        ctx.register_parquet("wikipedia", dataset.rstrip("/") + "/")
        return lambda sql: ctx.sql(sql).collect()


def timed(fn, runs, before=None):
    reset_peak_rss()
    times = []
    for _ in range(runs):
        if before:
            before()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def emit(engine, measure, rows, times):
    print(json.dumps({
        "engine": engine, "measure": measure, "rows": rows, "runs": len(times),
        "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", required=True, choices=["duckdb", "datafusion"])
    ap.add_argument("--json", required=True,
                    help="generated newline-delimited JSON (.json or .json.gz), or a directory of its parts")
    ap.add_argument("--parquet", required=True, help="the same rows as Parquet")
    ap.add_argument("--out", required=True, help="directory for the ingested Parquet")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-parquet-insert", action="store_true", help="do not run insert_from_parquet")
    a = ap.parse_args()
    if a.runs < 1:
        ap.error("--runs must be at least 1")
    json_file, parquet = os.path.abspath(a.json), os.path.abspath(a.parquet)
    if not (os.path.isfile(json_file) or (os.path.isdir(json_file) and json_files(json_file))):
        ap.error(f"no such file: {json_file}")
    if not os.path.isfile(parquet):
        ap.error(f"no such file: {parquet}")

    eng = DuckDB() if a.engine == "duckdb" else DataFusion()
    log(f"{eng.name} {eng.version}")
    rows = eng.count_rows(parquet)
    base = os.path.join(os.path.abspath(a.out), eng.name)
    dataset = os.path.join(base, "wikipedia")

    if not a.skip_parquet_insert:
        from_parquet = os.path.join(base, "wikipedia-from-parquet")
        emit(eng.name, "insert_from_parquet", rows,
             timed(lambda: eng.insert_from_parquet(parquet, from_parquet), a.runs, lambda: fresh_dir(from_parquet)))
        shutil.rmtree(from_parquet, ignore_errors=True)

    # The last insert run's output is the dataset the rest of the suite reads.
    emit(eng.name, "insert", rows, timed(lambda: eng.insert(json_file, dataset), a.runs, lambda: fresh_dir(dataset)))

    if has_day(dataset):
        new_file = os.path.join(base, "replace.parquet")

        def replace():
            eng.replace(dataset, new_file)
            swap_day(dataset, new_file)

        emit(eng.name, "replace_one_day", rows, timed(replace, a.runs))
    else:
        log(f"no rows on {REPLACE_DAY}: replace_one_day skipped")

    run = eng.selects(dataset)
    for name, sql in SELECTS:
        emit(eng.name, name, rows, timed(lambda: run(sql), a.runs))


if __name__ == "__main__":
    main()
