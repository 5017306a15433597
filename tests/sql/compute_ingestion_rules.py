#!/usr/bin/env python3
"""Independent computation of the expected values in tests/sql/ingestion_rules.sqltest.

Reads the raw wikipedia sample with Python's gzip/json modules (not the engine) and prints every
number the cases assert, keyed by case name. Run: python3 tests/sql/compute_ingestion_rules.py
"""
import datetime as dt, gzip, json, math
from zoneinfo import ZoneInfo

rows = [json.loads(l) for l in gzip.open('testdata/wikiticker-2015-09-12-sampled.json.gz', 'rt') if l.strip()]
MAX_PARTITIONS = 25000

def out(name, value):
    print(f'{name}: {json.dumps(value, ensure_ascii=False)}')

def of(channel):
    return [r for r in rows if r['channel'] == channel]

out('rowsPerSegment 1 over every row: segments needed (> 25000 fails)', [len(rows), len(rows) > MAX_PARTITIONS])
hu = of('#hu.wikipedia')
out('rowsPerSegment 1: one segment per row of #hu.wikipedia', [len(hu), len(hu)])
out('rules: every row once in rules_one', [len(hu), len({r['page'] for r in hu})])
eu = of('#eu.wikipedia')
out('rowsPerSegment 1 with CLUSTERED BY: #eu.wikipedia rows', [len(eu), [1] * len(eu)])
de = of('#de.wikipedia')
out('rowsPerSegment 500 over #de.wikipedia: at least ceil(rows / 500) segments', [len(de), math.ceil(len(de) / 500)])

LA = ZoneInfo('America/Los_Angeles')
def local_iso(t, z):
    l = t.astimezone(z)
    off = l.strftime('%z')
    off = 'Z' if off == '+0000' else off[:3] + ':' + off[3:]
    return l.strftime('%Y-%m-%dT%H:%M:%S.') + f'{l.microsecond // 1000:03d}' + off
ts = [dt.datetime.strptime(r['time'], '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=dt.timezone.utc) for r in rows]
mn = min(ts)
mn_la = mn.astimezone(LA)
out('tz: MIN(__time) and CAST AS DATE in Los Angeles', [local_iso(mn, LA),
    local_iso(dt.datetime(mn_la.year, mn_la.month, mn_la.day, tzinfo=LA), LA)])
out('tz: an offset zone', local_iso(mn, dt.timezone(dt.timedelta(hours=5, minutes=30))))
out('tz: UTC renders with Z', local_iso(mn, dt.timezone.utc))
