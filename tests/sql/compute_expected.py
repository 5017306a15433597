#!/usr/bin/env python3
"""Independent computation of the expected values in tests/sql/*.sqltest.

Reads the raw files in testdata/ with Python's json/csv modules (not the engine) and prints
every number the cases assert, keyed by case name. Run: python3 tests/sql/compute_expected.py
"""
import collections, datetime as dt, gzip, json, math, re
from zoneinfo import ZoneInfo

UTC = dt.timezone.utc
rows = [json.loads(l) for l in gzip.open('testdata/wikiticker-2015-09-12-sampled.json.gz', 'rt') if l.strip()]
for r in rows:
    r['t'] = dt.datetime.strptime(r['time'], '%Y-%m-%dT%H:%M:%S.%fZ').replace(tzinfo=UTC)

def iso(t):
    return t.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.') + f'{t.microsecond // 1000:03d}Z'

def local_iso(t, z):
    """Druid's rendering of a TIMESTAMP result in sqlTimeZone z: local time with its offset."""
    l = t.astimezone(z)
    off = l.strftime('%z')
    off = 'Z' if off == '+0000' else off[:3] + ':' + off[3:]
    return l.strftime('%Y-%m-%dT%H:%M:%S.') + f'{l.microsecond // 1000:03d}' + off

def ts(s):
    return dt.datetime.fromisoformat(s.replace('Z', '+00:00'))

def out(name, value):
    print(f'{name}: {json.dumps(value, ensure_ascii=False)}')

LA, KOL, TOKYO = ZoneInfo('America/Los_Angeles'), ZoneInfo('Asia/Kolkata'), ZoneInfo('Asia/Tokyo')

# --- time zones ---
def local_floor_day(t, z):
    l = t.astimezone(z)
    return dt.datetime(l.year, l.month, l.day, tzinfo=z)
c = collections.Counter(local_iso(local_floor_day(r['t'], LA), LA) for r in rows)
out('tz: TIME_FLOOR P1D in Los Angeles', sorted([k, v] for k, v in c.items()))
c = collections.Counter(iso(local_floor_day(r['t'], TOKYO)) for r in rows)
out('tz: explicit zone argument (Tokyo days)', sorted([k, v] for k, v in c.items()))
def local_floor_hour(t, z):
    l = t.astimezone(z)
    return dt.datetime(l.year, l.month, l.day, l.hour, tzinfo=z)
c = collections.Counter(local_iso(local_floor_hour(r['t'], KOL), KOL) for r in rows)
out('tz: FLOOR TO HOUR in Kolkata (first two)', sorted([k, v] for k, v in c.items())[:2])
mn = min(r['t'] for r in rows)
la_mn = mn.astimezone(LA)
out('tz: functions in Los Angeles', [la_mn.isoformat(timespec='milliseconds'), la_mn.hour, la_mn.day,
    local_iso(dt.datetime(2015, 9, 11, 17, 46, 58, tzinfo=LA), LA)])
out('tz: literal in Los Angeles', sum(1 for r in rows if r['t'] >= dt.datetime(2015, 9, 12, tzinfo=LA)))
now = ts('2015-09-12T05:06:07.008Z')
kol_now = now.astimezone(KOL)
out('tz: CURRENT_TIMESTAMP, CURRENT_DATE, TIMESTAMPADD in Kolkata', [
    local_iso(now, KOL), local_iso(dt.datetime(kol_now.year, kol_now.month, kol_now.day, tzinfo=KOL), KOL),
    local_iso(dt.datetime(2015, 9, 12, tzinfo=KOL) + dt.timedelta(hours=2), KOL)])
t = ts('2015-09-12T00:46:58Z')
out('tz: explicit zone arguments', [t.astimezone(TOKYO).strftime('%Y-%m-%d %H:%M'),
    local_iso(dt.datetime(2015, 9, 12, 9, 0, tzinfo=TOKYO), LA), t.astimezone(UTC).day])

# --- strings ---
pages = [r['page'] for r in rows]
out('fn: LIKE / REGEXP_LIKE / CONTAINS_STRING / ICONTAINS_STRING', [
    sum(p.startswith('Wikipedia:') for p in pages), sum(bool(re.search('^Talk:', p)) for p in pages),
    sum('Corbyn' in p for p in pages), sum('corbyn' in p.lower() for p in pages)])
c = collections.Counter(re.search(r'#([a-z]+)\.', r['channel']).group(1) for r in rows)
out('fn: REGEXP_EXTRACT group', sorted(([k, v] for k, v in c.items()), key=lambda kv: -kv[1])[:3])
out('fn: literal strings', ['abc', 'ABC', 'abc', 'ab', 'ell', len('héllo'), 3, 'x', 'hi', 'a-b-'])
out('fn: padding, positions, format, parse', ['**abc', 'abc  ', 'abc', 'hello'.find('ll') + 1,
    'hello'.find('l') + 1, 'x-5-3.14', 123, 255, 31, None])
out('fn: NULL handling', [None, 'ab', 'd', 3, 'b', None])

# --- dates ---
mx = max(r['t'] for r in rows)
out('fn: TIMESTAMPDIFF, DATE_TRUNC, TIMESTAMPADD', [int((mx - mn).total_seconds() // 60),
    iso(mx.replace(minute=0, second=0, microsecond=0)), iso(mn + dt.timedelta(days=1))])
out('fn: TIMESTAMPDIFF MONTH', [1, 0, 57])
out('fn: TIME_IN_INTERVAL', sum(1 for r in rows if ts('2015-09-12T01:00:00Z') <= r['t'] < ts('2015-09-12T03:00:00Z')))

# --- rollup ---
groups = collections.defaultdict(list)
for r in rows:
    groups[(r['t'].replace(minute=0, second=0, microsecond=0), r['channel'])].append(r)
out('rollup: written', len(groups))
out('rollup: totals', [len(rows), sum(r['added'] for r in rows), min(r['delta'] for r in rows), max(r['delta'] for r in rows)])
g = groups[(ts('2015-09-12T00:00:00Z'), '#en.wikipedia')]
latest = max(g, key=lambda r: r['t']); earliest = min(g, key=lambda r: r['t'])
assert sum(1 for r in g if r['t'] == latest['t']) == 1 and sum(1 for r in g if r['t'] == earliest['t']) == 1
out('rollup: one group', [len(g), sum(r['added'] for r in g), latest['page'], earliest['page'], len({r['user'] for r in g})])
n = len(set(pages))
out('rollup: distinct pages exact and HLL bounds (2%)', [n, math.floor(n * 0.98), math.ceil(n * 1.02), len({r['channel'] for r in rows})])
out('rollup: COUNT(DISTINCT user) of #en.wikipedia', len({r['user'] for r in rows if r['channel'] == '#en.wikipedia'}))

# --- PARTITIONED BY ---
def chunks(sel, step):
    s = sorted({step(r['t']) for r in rows if sel(r)})
    return s
def fixed(sec):
    return lambda t: dt.datetime.fromtimestamp(int(t.timestamp()) // sec * sec, UTC)
early = lambda r: r['t'] < ts('2015-09-12T03:00:00Z')
de = lambda r: r['channel'] == '#de.wikipedia'
out('part: rows early / de / first seconds', [sum(map(early, rows)), sum(map(de, rows)),
    sum(1 for r in rows if r['t'] < ts('2015-09-12T00:48:00Z'))])
out('part: SECOND chunks (before 00:48)', len(chunks(lambda r: r['t'] < ts('2015-09-12T00:48:00Z'), fixed(1))))
out('part: SECOND chunks whole day', len(chunks(lambda r: True, fixed(1))))
for name, sec in [('MINUTE', 60), ('FIVE_MINUTE', 300), ('TEN_MINUTE', 600), ('FIFTEEN_MINUTE', 900),
                  ('THIRTY_MINUTE', 1800), ('HOUR', 3600)]:
    cs = chunks(early, fixed(sec))
    out(f'part: {name} (before 03:00)', [len(cs), iso(cs[0]), iso(cs[-1])])
for name, sec in [('SIX_HOUR', 6 * 3600), ('EIGHT_HOUR', 8 * 3600), ('DAY', 86400)]:
    cs = chunks(de, fixed(sec))
    out(f'part: {name} (#de)', [len(cs), iso(cs[0]), iso(cs[-1])])

# --- joins ---
geo = [json.loads(l) for l in open('testdata/wikipedia-geo.json') if l.strip()]
caps = {l.split('\t')[3].strip(): l.split('\t')[1] for l in open('testdata/countries.tsv').readlines()[1:]}
out('join: EXTERN to EXTERN', sorted([r['page'], caps[r['countryIsoCode']]] for r in geo if r['countryIsoCode'] in caps))
langs = {'#en.wikipedia': 'English', '#fr.wikipedia': 'French'}
c = collections.Counter(langs[r['channel']] for r in geo if r['channel'] in langs)
out('join: EXTERN to inline', sorted([k, v] for k, v in c.items()))
out('join: docs w003 LEFT JOIN capitals', sorted(([r['page'], caps.get(r['countryIsoCode'])] for r in geo), key=str))
langs = {'#en.wikipedia': 'English', '#de.wikipedia': 'German'}
c = collections.Counter(langs[r['channel']] for r in rows if r['channel'] in langs)
out('join: datasource to inline', sorted([k, v] for k, v in c.items()))
cc = collections.Counter(r['channel'] for r in rows)
out('join: datasource to aggregate', sum(v for v in cc.values() if v > 5000))

# --- windows ---
best = {}
for r in rows:
    if r['channel'] in ('#ca.wikipedia', '#nl.wikipedia'):
        k = (-r['added'], r['page'])
        if r['channel'] not in best or k < best[r['channel']][0]:
            best[r['channel']] = (k, r)
out('window: ROW_NUMBER per channel', [[ch, best[ch][1]['page'], best[ch][1]['added']] for ch in sorted(best)])
tot = collections.defaultdict(int)
for r in rows:
    tot[r['channel']] += r['added']
out('window: SUM OVER PARTITION', [[ch, tot[ch]] for ch in ('#ca.wikipedia', '#nl.wikipedia')])

# --- docs: wikipedia-sampled-2.json (a sample of https://druid.apache.org/data/wikipedia.json.gz) ---
s2 = [json.loads(l) for l in open('testdata/wikipedia-sampled-2.json') if l.strip()]
out('docs: w000 rows', len(s2))
g = {(r['timestamp'][:16], r['channel'], r.get('countryIsoCode'), r.get('countryName'), r.get('regionIsoCode'),
      r.get('regionName'), r['page']) for r in s2}
out('docs: w002 / w000 reindex groups', len(g))

# --- misc counts ---
cc = collections.Counter(r['channel'] for r in rows)
out('misc: rows of #de + #fr', cc['#de.wikipedia'] + cc['#fr.wikipedia'])
out('misc: channels by count, LIMIT 2 OFFSET 2', [list(kv) for kv in sorted(cc.items(), key=lambda kv: (-kv[1], kv[0]))[2:4]])
jc = [r for r in rows if r['page'] == 'Jeremy Corbyn']
out('misc: Jeremy Corbyn rows / top channel / page bytes', [len(jc), collections.Counter(r['channel'] for r in jc).most_common(1)[0], len('Jeremy Corbyn'.encode())])
