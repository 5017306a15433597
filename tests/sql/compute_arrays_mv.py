#!/usr/bin/env python3
"""Independent computation of the expected values in tests/sql/arrays_mv.sqltest.

Reads testdata/arrays-mv.json with Python's json module (not the engine) and applies Druid's
documented array / multi-value string semantics in plain Python. Prints `case name: value`.
Run: python3 tests/sql/compute_arrays_mv.py
"""
import collections, json, re

rows = [json.loads(l) for l in open('testdata/arrays-mv.json') if l.strip()]
for r in rows:
    for k in ('tags', 'nums', 'dbls'):
        v = r.get(k)
        r[k] = v if isinstance(v, list) else None
by_label = sorted(rows, key=lambda r: r['label'])


def out(name, value):
    print(f'{name}: {json.dumps(value, ensure_ascii=False)}')


def offset(a, i):
    return a[i] if a is not None and 0 <= i < len(a) else None


def slice_(a, s, e):
    if a is None or s < 0 or s > len(a) or s > e:
        return None
    return a[s:min(e, len(a))]


def java_split(s, pattern):
    if s == '':
        return ['']
    parts, last = [], 0
    for m in re.finditer(pattern, s):
        if m.end() == 0:
            continue
        parts.append(s[last:m.start()])
        last = m.end()
    parts.append(s[last:])
    while len(parts) > 1 and parts[-1] == '':
        parts.pop()
    return [] if parts == [''] else parts


def to_string(a, d):
    if a is None or a == [None]:
        return None
    return d.join('null' if v is None else str(v) for v in a)


def mv_render(a):
    """A multi-value row as Druid renders it: one value as a string, several as an array."""
    if not a:
        return None
    return a[0] if len(a) == 1 else a


n = len(rows)
out('array: ingest arrays (arrayIngestMode array)', n)
out('array: round trip', [[r['label'], r['tags'], r['nums'], r['dbls']] for r in by_label])
out('array: ARRAY_LENGTH, ARRAY_OFFSET, ARRAY_ORDINAL', [
    [r['label'], None if r['tags'] is None else len(r['tags']), offset(r['tags'], 0), offset(r['nums'], 1)]
    for r in by_label])
out('array: ARRAY_CONTAINS filter', sum(1 for r in rows if r['tags'] is not None and 'a' in r['tags']))
out('array: ARRAY_CONTAINS all of an array', sorted(r['label'] for r in rows
    if r['tags'] is not None and all(x in r['tags'] for x in ['a', 'b'])))
out('array: ARRAY_OVERLAP', sorted(r['label'] for r in rows
    if r['tags'] is not None and any(x in ['d', 'e'] for x in r['tags'])))
out('array: ARRAY_SLICE and ARRAY_CONCAT', [
    [r['label'], slice_(r['nums'], 1, 3), None if r['tags'] is None else r['tags'] + ['z']] for r in by_label])
out('array: ARRAY_TO_STRING and ARRAY_OFFSET_OF', [
    [r['label'], to_string(r['tags'], '|'),
     (r['tags'].index('a') if r['tags'] is not None and 'a' in r['tags'] else None)] for r in by_label])
out('array: STRING_TO_ARRAY splits on a regular expression', [
    [r['label'], java_split(r['label'] + '-x--y', '-+')] for r in by_label[:2]])
c = collections.Counter(t for r in rows if r['tags'] for t in r['tags'])
out('array: UNNEST of an array column on three workers', [[k, v] for k, v in c.items()])
c = collections.Counter(x for r in rows if r['nums'] for x in r['nums'])
out('array: UNNEST of a numeric array, summed', sum(x for x in c.elements() if x is not None))
out('array: ARRAY_AGG and ARRAY_AGG DISTINCT', [n, len({offset(r['tags'], 0) for r in rows})])
size = 5 + sum(1 + 4 + len(r['label']) for r in rows)
out('array: ARRAY_AGG over its size limit', f'size [{size}] is larger than max [10]')
out('array: GROUP BY an array column', len({json.dumps(r['tags']) for r in rows}))

# --- multi-value strings: the same tags stored as multi-value strings ---
# Druid's multi-value strings do not tell an empty row from a NULL one: r3's [] is stored NULL.
arrays = {r['label']: r['tags'] for r in rows}
for r in rows:
    r['tags'] = r['tags'] or None
out('mv: ingest string arrays as multi-value strings (mvd)', n)
out('mv: rendering', [[r['label'], mv_render(r['tags'])] for r in by_label])
c = collections.Counter()
for r in rows:
    for t in (r['tags'] or [None]):
        c[t] += 1
out('mv: GROUP BY unnests the values', [[k, v] for k, v in c.items()])
out('mv: GROUP BY on three workers', [[k, v] for k, v in c.items()])
out('mv: filter matches any value', sum(1 for r in rows if r['tags'] and 'a' in r['tags']))
out('mv: IN matches any value', sorted(r['label'] for r in rows if r['tags'] and ({'d', 'e'} & set(r['tags']))))
out('mv: not equal matches rows without the value', sorted(r['label'] for r in rows
    if r['tags'] is not None and 'a' not in r['tags']))
c = collections.Counter()
for r in rows:
    if r['tags'] and 'a' in r['tags']:
        for t in r['tags']:
            c[t] += 1
out('mv: filter before unnesting (Druid docs)', [[k, v] for k, v in c.items()])
keep = ['a', 'b']
out('mv: MV_ functions', [[
    r['label'],
    None if r['tags'] is None else len(r['tags']),
    offset(r['tags'], 0),
    offset(r['tags'], 1),
    None if r['tags'] is None else 'a' in r['tags'],
    to_string(r['tags'], ','),
    None if r['tags'] is None else mv_render([t for t in r['tags'] if t in keep]),
    None if r['tags'] is None else mv_render([t for t in r['tags'] if t not in keep]),
] for r in by_label])
out('mv: MV_TO_ARRAY, MV_APPEND, MV_SLICE', [[
    r['label'], r['tags'],
    None if r['tags'] is None else mv_render(r['tags'] + ['z']),
    None if r['tags'] is None else mv_render(slice_(r['tags'], 1, 2)),
] for r in by_label])
c = collections.Counter(t for r in rows if r['tags'] for t in r['tags'])
out('mv: UNNEST of a multi-value column through MV_TO_ARRAY', [[k, v] for k, v in c.items()])
def index_of(a, v, base):
    return a.index(v) + base if a is not None and v in a else None
out('mv: MV_OFFSET_OF, MV_ORDINAL_OF, MV_PREPEND, MV_OVERLAP', [[
    r['label'], index_of(r['tags'], 'b', 0), index_of(r['tags'], 'b', 1),
    None if r['tags'] is None else mv_render(['z'] + r['tags']),
    None if r['tags'] is None else any(t in ['c', 'f'] for t in r['tags']),
] for r in by_label])
out('mv: ARRAY_TO_MV of a numeric array', [[r['label'], mv_render([None if x is None else str(x) for x in r['nums']])]
    for r in by_label if r['label'] in ('r1', 'r2', 'r5')])
def mv_map(a, f):
    return mv_render([f(v) for v in (a or [None])])
out('mv: string functions map over the values', [[
    r['label'],
    mv_map(r['tags'], lambda v: None if v is None else v.upper()),
    mv_map(r['tags'], lambda v: None if v is None else v + '!'),
    mv_map(r['tags'], lambda v: None if v is None else v.upper().lower().replace('a', 'x')),
] for r in by_label])
c = collections.Counter(t for r in rows if r['tags'] and 'b' in r['tags'] for t in r['tags'])
out('mv: the clustered copy reads back', [[k, v] for k, v in c.items()])
groups = {(r['timestamp'][:10], json.dumps(r['tags'])) for r in rows}
out('mv: rollup keeping whole rows (Druid\'s console: MV_TO_ARRAY with unnesting off)', len(groups))
out('mv: the rollup\'s rows', [[n, len(groups)]])
out('mv: ARRAY_TO_MV in the default mode', [[r['label'], mv_render(r['tags'])] for r in by_label])

# --- Druid docs: docs/querying/multi-value-dimensions.md ---
doc = [["t1", "t2", "t3"], ["t3", "t4", "t5"], ["t5", "t6", "t7"], []]
def doc_groups(pred):
    c = collections.Counter()
    for tags in doc:
        if pred(tags):
            for t in tags or [None]:
                c[t] += 1
    return sorted([k, v] for k, v in c.items())
out('docs mvd: selector filter then grouping', doc_groups(lambda t: 't3' in t))
out('docs mvd: grouping without a filter', doc_groups(lambda t: len(t) > 0))
out('docs mvd: a null filter matches the empty row', sum(1 for t in doc if not t))
out('docs mvd: or filter', sum(1 for t in doc if 't1' in t or 't3' in t))
out('docs mvd: and filter', sum(1 for t in doc if 't1' in t and 't3' in t))

# --- Druid docs: docs/querying/arrays.md (its five example rows) ---
ex = [
    {"label": "row1", "s": ["a", "b"], "l": [1, None, 3], "d": [1.1, 2.2, None]},
    {"label": "row2", "s": [None, "b"], "l": None, "d": [999, None, 5.5]},
    {"label": "row3", "s": [], "l": [1, 2, 3], "d": [None, 2.2, 1.1]},
    {"label": "row4", "s": ["a", "b"], "l": [1, 2, 3], "d": []},
    {"label": "row5", "s": None, "l": [], "d": None},
]
out('docs arrays: equality', [[r['label'], r['s'], r['l'], r['d']] for r in ex if r['l'] == [1, 2, 3]])
out('docs arrays: null', [[r['label'], r['s'], r['l'], r['d']] for r in ex if r['l'] is None])
def ge(a, b):  # SQL array order: element by element, NULL first, a prefix first
    for x, y in zip(a, b):
        if x == y:
            continue
        if x is None or y is None:
            return y is None
        return x > y
    return len(a) >= len(b)
out('docs arrays: range', [[r['label']] for r in ex if r['s'] is not None and ge(r['s'], ['a', 'b'])])
out('docs arrays: ARRAY_CONTAINS', [[r['label']] for r in ex if r['s'] is not None and 'a' in r['s']])
out('docs arrays: grouping on the whole array', [[r['label'], r['s']] for r in ex])
out('docs arrays: UNNEST', sorted({(r['label'], v) for r in ex for v in (r['s'] or [])}, key=str))
c = collections.Counter(v for r in ex for v in (r['s'] or [None]))
out('docs arrays: the multi-value copy groups by value', [[k, v] for k, v in c.items()])

# --- wrong arguments ---
r1 = next(r for r in rows if r['label'] == 'r1')
out('errors: huge and negative indexes give NULL', [[offset(arrays['r1'], 2**63 - 1), slice_(r1['nums'], -1, 2),
    offset(arrays['r1'], -2**63 - 1)]])

# --- JSON arrays in a column declared STRING (testdata/mv-mixed.json): multi-value strings ---
mixed = [json.loads(l) for l in open('testdata/mv-mixed.json') if l.strip()]
def mv_values(v):
    if v is None or v == []:
        return None
    vals = v if isinstance(v, list) else [v]
    return [x if isinstance(x, str) or x is None else json.dumps(x) for x in vals]
mixed_rows = sorted([[r['label'], mv_values(r.get('tags'))] for r in mixed])
out('mv string column: JSON arrays read as multi-value strings', [[l, mv_render(v)] for l, v in mixed_rows])
out('mv string column: ingest', len(mixed))
c = collections.Counter(t for _, v in mixed_rows for t in (v or [None]))
out('mv string column: GROUP BY the ingested column', [[k, v] for k, v in c.items()])
arr_as_string = [mv_values(json.loads(l).get('tags')) for l in open('testdata/arrays-mv.json') if l.strip()]
out('mv string column: a filter over the EXTERN', sum(1 for v in arr_as_string if v and 'a' in v))

# --- ARRAY_CONCAT_AGG ---
sel = [arrays[l] for l in ('r1', 'r8')]
out('array: ARRAY_CONCAT_AGG', [[sum(len(a) for a in sel), sorted({t for a in sel for t in a})]])
every = [t for a in arrays.values() if a for t in a]
size = 5 + sum(1 + (0 if t is None else 4 + len(t.encode())) for t in every)
out('array: ARRAY_CONCAT_AGG of every row, over its size limit', f'size [{size}] is larger than max [50]')
