#!/usr/bin/env python3
"""Independent computation of the expected values in tests/sql/export_delete.sqltest.

Reads the raw wikipedia sample with Python's gzip/json modules (not the engine) and replays
the cases' exports, deletes and reindexing on plain lists of rows, printing every value the
cases assert as `case name: value`. Run: python3 tests/sql/compute_export_delete.py
"""
import collections, datetime as dt, gzip, json

UTC = dt.timezone.utc
rows = [json.loads(l) for l in gzip.open('testdata/wikiticker-2015-09-12-sampled.json.gz', 'rt') if l.strip()]
for r in rows:
    r['t'] = dt.datetime.strptime(r['time'], '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=UTC)
    r['hour'] = r['t'].hour


def out(name, value):
    print(f'{name}: {json.dumps(value, ensure_ascii=False)}')


def pages(n, rows_per_page):
    return [min(rows_per_page, n - k) for k in range(0, n, rows_per_page)]


# --- export ---
de = [r for r in rows if r['channel'] == '#de.wikipedia']
out('ex: CSV export split by rowsPerPage (SET, as in the docs)', {'written': len(de), 'rows': pages(len(de), 1000)})
out('ex: the exported CSV reads back', [[len(de), sum(r['added'] for r in de), len({r['page'] for r in de})]])
c = collections.Counter(r['page'] for r in rows)
top = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
out('ex: ORDER BY and LIMIT export to one file', ['page,edits'] + [f'{p},{n}' for p, n in top])
out('docs: LOCAL export with a path relative to the base directory', len({r['channel'] for r in rows}))
geo = [r for r in rows if r['countryName'] is not None]
out('ex: Parquet export (msq-rs extension)', len(geo))
out('ex: the exported Parquet reads back', [[len(geo), sum(r['delta'] for r in geo), min(r['t'] for r in geo).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3] + 'Z']])

# --- deleting rows ---
live = list(rows)
out('del: setup copy with range clustering', len(live))
h0 = [r for r in live if r['hour'] == 0]
keep = [r for r in h0 if r['channel'] != '#en.wikipedia']
out('del: the Druid way (REPLACE OVERWRITE WHERE ... WHERE NOT)', len(keep))
live = [r for r in live if not (r['hour'] == 0 and r['channel'] == '#en.wikipedia')]
out('del: after the Druid way', [[len(live)]])
live = [r for r in live if r['channel'] != '#vi.wikipedia']
out('del: DELETE FROM ... WHERE channel (every chunk rewritten)', len(live))
h56 = [r for r in live if r['hour'] in (5, 6)]
out('del: DELETE with a __time range rewrites only its chunks', len([r for r in h56 if not r['isRobot']]))
live = [r for r in live if not (r['hour'] in (5, 6) and r['isRobot'])]
# metroCode > 600 is NULL for rows without a metroCode: those rows stay.
out('del: DELETE keeps rows where the condition is NULL', len([r for r in live if not (r['metroCode'] is not None and r["metroCode"] > 600)]))
live = [r for r in live if not (r['metroCode'] is not None and r["metroCode"] > 600)]
out('del: after the DELETEs', [[len(live), sum(r['metroCode'] is not None for r in live), sum(r['added'] for r in live),
                                 sum(r['channel'] == '#vi.wikipedia' for r in live)]])
live = [r for r in live if r['hour'] != 23]
out('del: after deleting a whole chunk', [[len(live), len({r['hour'] for r in live})]])
out('del: DELETE without WHERE setup', len(de))

# --- reindexing ---
pairs = collections.defaultdict(lambda: [0, 0, 0])
for r in rows:
    p = pairs[(r['hour'], r['channel'])]
    p[0] += 1
    p[1] += r['added']
    p[2] += r['deleted']
out('re: reindex into itself with rollup and new partitioning', len(pairs))
out('re: the rolled-up version', [[len(pairs), len(rows), sum(r['added'] for r in rows), sum(r['deleted'] for r in rows)]])
e_pairs = [k for k in pairs if k[1].startswith('#e')]
out('re: INSERT INTO another datasource from the reindexed one', {'written': len(e_pairs), 'intervals': len({h for h, _ in e_pairs})})
out('re: DELETE keeps the DAY granularity and range clustering', len([k for k in pairs if k[1] != '#en.wikipedia']))
# DELETE in sqlTimeZone America/Los_Angeles (UTC-7 on 2015-09-12): 15:00 local is 22:00 UTC.
late = [k for k in e_pairs if k[0] >= 22]
out('del: DELETE literals are in sqlTimeZone', len([k for k in late if pairs[k][0] <= 5]))
# Druid's docs/data-management/delete.md: "use REPLACE with WHERE userName <> 'bob'".
out('docs: delete specific records with REPLACE ... WHERE user <> x', len([r for r in rows if r['user'] != 'TuanminhBot']))
