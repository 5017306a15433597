"""The raw wikipedia sample read independently of the engine (gzip + json), and the answers
the console must show, computed here from it: row counts, rows per hour, the top channels,
the rows of the paging query in their order."""

import collections
import gzip
import json
import os
import re

# What the browser tests run besides the wikipedia INSERT (tests/common/mod.rs
# insert_wikipedia_sql, given by tests/console_browser.rs as --insert-sql); they read the
# datasource it writes.
TOP_CHANNELS_SQL = """SELECT channel, COUNT(*) AS edits, SUM(added) AS added FROM {ds}
GROUP BY channel ORDER BY edits DESC, channel LIMIT 5"""

# Every selected column is also a sort key after __time, so rows that tie are identical and
# the order of the displayed values is fully determined.
PAGING_SQL = """SELECT channel, page, "user", added FROM {ds}
ORDER BY __time, channel, page, "user", added"""

# Many copies of the sample through a filter: long enough to cancel while it reads.
LONG_INSERT_SQL = """INSERT INTO {ds} SELECT TIME_PARSE("time") AS __time, channel, page, added
FROM TABLE(EXTERN('{{"type":"local","baseDir":"{dir}","filter":"*.json.gz"}}', '{{"type":"json"}}',
  '[{{"name":"time","type":"string"}},{{"name":"channel","type":"string"}},{{"name":"page","type":"string"}},{{"name":"added","type":"long"}}]'))
PARTITIONED BY HOUR CLUSTERED BY channel"""

TIME = re.compile(r"2015-09-12T(\d\d):\d\d:\d\d\.\d{3}Z")


class Sample:
    """The raw file and what follows from it."""

    def __init__(self, path):
        self.path = path
        with gzip.open(path, "rt", encoding="utf-8") as f:
            self.rows = [json.loads(line) for line in f if line.strip()]
        for r in self.rows:
            assert TIME.fullmatch(r["time"]), r["time"]

    @property
    def file_bytes(self):
        """The size of the file read (the `bytes` an input counter reports for one file)."""
        return os.path.getsize(self.path)

    def hourly(self):
        """[(interval, rows)] of the 24 hourly time chunks, in time order."""
        counts = collections.Counter(TIME.fullmatch(r["time"]).group(1) for r in self.rows)
        out = []
        for hour, n in sorted(counts.items()):
            start = f"2015-09-12T{hour}:00:00.000Z"
            end = f"2015-09-12T{int(hour) + 1:02d}:00:00.000Z" if hour != "23" else "2015-09-13T00:00:00.000Z"
            out.append((f"{start}/{end}", n))
        return out

    def top_channels(self, n=5):
        """The n busiest channels as [channel, edits, added], ties by name."""
        edits = collections.Counter(r["channel"] for r in self.rows)
        added = collections.Counter()
        for r in self.rows:
            added[r["channel"]] += r.get("added") or 0
        ranked = sorted(edits.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return [[c, e, added[c]] for c, e in ranked]

    def paging_rows(self):
        """The rows of PAGING_SQL in order, as lists of display strings."""
        key = lambda r: (r["time"], r["channel"], r["page"], r["user"], r["added"])  # noqa: E731
        return [[r["channel"], r["page"], r["user"], str(r["added"])] for r in sorted(self.rows, key=key)]
