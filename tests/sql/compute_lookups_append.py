#!/usr/bin/env python3
"""Expected values of tests/sql/lookups_append.sqltest, computed from the raw inputs only
(stdlib): the wikipedia sample (testdata/wikiticker-2015-09-12-sampled.json.gz), the lookups
file the suite loads (testdata/lookups-wiki.json) and the INLINE data of the cases.
Prints `case name: value` lines."""

import csv
import gzip
import json
import os
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "..", "testdata")

rows = []
with gzip.open(os.path.join(TESTDATA, "wikiticker-2015-09-12-sampled.json.gz"), "rt", encoding="utf-8") as f:
    for line in f:
        if line.strip():
            rows.append(json.loads(line))

with open(os.path.join(TESTDATA, "lookups-wiki.json"), encoding="utf-8") as f:
    config = json.load(f)
lang = config["__default"]["channel_language"]["lookupExtractorFactory"]["map"]
robot = config["__default"]["robot_label"]["lookupExtractorFactory"]["map"]


def out(name, value):
    print(f"{name}: {json.dumps(value, ensure_ascii=False)}")


# LOOKUP(channel, 'channel_language'): groups by language, NULL for unmapped channels.
by_lang = Counter(lang.get(r["channel"]) for r in rows)
out("lookup group by", sorted(([k, v] for k, v in by_lang.items()), key=lambda x: (-x[1], x[0] or "")))

# With a default: unmapped channels become 'Other'.
by_lang_default = Counter(lang.get(r["channel"], "Other") for r in rows)
out("lookup with default", sorted(([k, v] for k, v in by_lang_default.items()), key=lambda x: (-x[1], x[0])))

# WHERE LOOKUP(...) = 'German'.
out("lookup in where", [[sum(1 for r in rows if lang.get(r["channel"]) == "German")]])

# Sum of added per language over mapped channels only, via JOIN lookup.channel_language.
added = defaultdict(int)
for r in rows:
    if r["channel"] in lang:
        added[lang[r["channel"]]] += r["added"]
out("join lookup table", sorted(([k, v] for k, v in added.items()), key=lambda x: -x[1]))

# The lookup table itself, ordered by key.
out("lookup table", [[k, lang[k]] for k in sorted(lang)])

# isRobot (a string column) through robot_label.
# The JSON booleans were ingested as VARCHAR "true" / "false".
by_robot = Counter(robot.get(json.dumps(r["isRobot"])) for r in rows)
out("lookup of isRobot", sorted([k, v] for k, v in by_robot.items()))

# Distinct channels with no language.
out("unmapped channels", [[len({r["channel"] for r in rows if r["channel"] not in lang})]])

# APPEND of two tables made from wikipedia: #de (channel, added) and #fr (channel, deleted).
de = [r for r in rows if r["channel"] == "#de.wikipedia"]
fr = [r for r in rows if r["channel"] == "#fr.wikipedia"]
out("append counts", [[len(de) + len(fr), len(de), len(fr), sum(r["added"] for r in de), sum(r["deleted"] for r in fr)]])
out("append by channel", [["#de.wikipedia", len(de)], ["#fr.wikipedia", len(fr)]])
noon = "2015-09-12T12:00:00"
out("append time filter", [[sum(1 for r in de + fr if r["time"] < noon)]])
out("append twice", [[2 * len(rows)]])
out("append de rows written", len(de))
out("append fr rows written", len(fr))
# A one-row table whose `added` is DOUBLE 0.5, appended to append_de (BIGINT added).
out("append double rows written", 1)
out("append mixed types", [[sum(r["added"] for r in de) + 0.5]])

# LOCALFILES over the raw gz sample.
out("localfiles json", [[len(rows), sum(r["added"] for r in rows)]])

# INLINE csv data (Druid's docs example shape), parsed with the csv module.
inline = list(csv.reader(["a,1", "b,2"]))
out("inline csv", [[x, int(y)] for x, y in inline])

# INSERT through LOOKUP, then read back: rows per language of #de/#fr/#en.
ins = Counter(lang.get(r["channel"]) for r in rows if r["channel"] in ("#de.wikipedia", "#fr.wikipedia", "#en.wikipedia"))
out("insert lookup rows written", sum(ins.values()))
out("insert lookup read back", sorted([k, v] for k, v in ins.items()))
