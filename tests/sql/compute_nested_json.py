#!/usr/bin/env python3
"""Independent computation of the expected rows in tests/sql/nested_json.sqltest.

Reads testdata/nested_orders.json and testdata/nested_example.json with Python's json module
(not the engine) and applies Druid's rules for nested columns and the JSON functions as written
down here (paths, JSON_VALUE conversions, JSON_OBJECT's Java HashMap key order, ...). Prints
`case name: rows` for every case. Run: python3 tests/sql/compute_nested_json.py
"""
import json, re

def load(path):
    return [json.loads(l) for l in open(path, encoding='utf-8') if l.strip()]

orders = sorted(load('testdata/nested_orders.json'), key=lambda r: r['order'])
example = load('testdata/nested_example.json')

def out(name, value):
    print(f'{name}: {json.dumps(value, ensure_ascii=False)}')

def text(v):
    """Canonical JSON text (compact, keys in order), as COMPLEX<json> is stored."""
    return None if v is None else json.dumps(v, ensure_ascii=False, separators=(',', ':'))

# --- paths: JSONPath ($.a[0], $['a.b']) and jq (.a[0], ."a.b") ---
TOKEN = re.compile(r"""\.(?:"([^"]*)"|([^.\[?"]+))|\[(-?\d+)\]|\['(.*?)'\]|\["(.*?)"\]""")

def parse(path):
    body = path[1:] if path.startswith('$') else path
    parts, pos = [], 1 if body.startswith('.[') else 0
    while pos < len(body):
        if body[pos:] == '.':
            break
        m = TOKEN.match(body, pos)
        assert m, path
        q, name, idx, sq, dq = m.groups()
        parts.append(int(idx) if idx is not None else next(x for x in (q, name, sq, dq) if x is not None))
        pos = m.end()
    return parts

MISSING = object()

def find(v, path):
    for p in parse(path):
        if isinstance(p, int) and isinstance(v, list):
            i = p + len(v) if p < 0 else p
            if not 0 <= i < len(v):
                return MISSING
            v = v[i]
        elif isinstance(p, str) and isinstance(v, dict) and p in v:
            v = v[p]
        else:
            return MISSING
    return v

def java_double(d):
    s = repr(float(d))
    return s if ('e' not in s) else s.replace('e+', 'E').replace('e', 'E')

def scalar(v):
    """JSON_VALUE's literal: booleans are LONG 1/0; objects, arrays, null, missing are NULL."""
    if v is MISSING or v is None or isinstance(v, (dict, list)):
        return None
    if isinstance(v, bool):
        return int(v)
    return v

def json_value(v, path, returning='VARCHAR'):
    s = None if v is None else scalar(find(v, path))
    if s is None:
        return None
    if returning == 'VARCHAR':
        return s if isinstance(s, str) else (java_double(s) if isinstance(s, float) else str(s))
    if returning == 'BIGINT':
        if isinstance(s, str):
            try:
                return int(s.strip())
            except ValueError:
                try:
                    return int(float(s))
                except ValueError:
                    return None
        return int(s)
    try:
        return float(s)
    except ValueError:
        return None

def json_query(v, path):
    r = None if v is None else find(v, path)
    return None if r is MISSING else r

def json_keys(v, path):
    r = json_query(v, path)
    if isinstance(r, dict):
        return list(r)
    if isinstance(r, list):
        return [str(i) for i in range(len(r))]
    return None

def norm(parts):
    s = '$'
    for p in parts:
        if isinstance(p, int):
            s += f'[{p}]'
        elif any(c in p for c in ".'\"[]"):
            s += f"['{p}']"
        else:
            s += '.' + p
    return s

def json_paths(v, prefix=()):
    if v is None and not prefix:
        return None
    if isinstance(v, dict):
        return [p for k, x in v.items() for p in json_paths(x, prefix + (k,))]
    if isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v):
        return [p for i, x in enumerate(v) for p in json_paths(x, prefix + (i,))]
    return [norm(prefix)]

def java_hash_map(pairs):
    """Key order of a java.util.HashMap: bucket of the spread String.hashCode, then insertion."""
    keys = list(dict(pairs))
    cap = 16
    while len(keys) > cap * 3 // 4:
        cap *= 2
    def bucket(k):
        units = k.encode('utf-16-le')
        h = 0
        for i in range(0, len(units), 2):
            h = (h * 31 + int.from_bytes(units[i:i + 2], 'little')) & 0xFFFFFFFF
        return (h ^ (h >> 16)) & (cap - 1)
    d = dict(pairs)
    return {k: d[k] for k in sorted(keys, key=lambda k: (bucket(k), keys.index(k)))}

# --- nested_orders ---
out('nested: select raw columns round trip', [[r['order'], r.get('shipTo'), r.get('details')] for r in orders])
out('nested: TO_JSON_STRING keeps key order', [[r['order'], text(r.get('shipTo')), text(r.get('details'))] for r in orders])
out('nested: JSON_VALUE defaults to VARCHAR', [[
    r['order'],
    json_value(r.get('shipTo'), '$.firstName'),
    json_value(r.get('shipTo'), '$.address.city'),
    json_value(r.get('shipTo'), '$.phoneNumbers[1].number'),
    json_value(r.get('shipTo'), '$.phoneNumbers[-1].type'),
    json_value(r.get('details'), '$.price'),
    json_value(r.get('details'), '$.tags'),
    json_value(r.get('shipTo'), '$.vip'),
    json_value(r.get('details'), '$'),
] for r in orders])
out('nested: JSON_VALUE RETURNING BIGINT and DOUBLE', [[
    r['order'],
    json_value(r.get('details'), '$.price', 'BIGINT'),
    json_value(r.get('details'), '$.price', 'DOUBLE'),
    json_value(r.get('shipTo'), '$.phoneNumbers[1].ext', 'BIGINT'),
    json_value(r.get('shipTo'), '$.address.zip', 'BIGINT'),
] for r in orders])
groups = {}
for r in orders:
    if json_value(r.get('shipTo'), '$.phoneNumbers[0].type') != 'primary':
        continue
    k = json_value(r.get('shipTo'), '$.address.country')
    g = groups.setdefault(k, [0, [], []])
    g[0] += 1
    for i, t in ((1, 'BIGINT'), (2, 'DOUBLE')):
        p = json_value(r.get('details'), '$.price', t)
        if p is not None:
            g[i].append(p)
out('nested: GROUP BY and WHERE on JSON_VALUE',
    [[k, n, sum(b) if b else None, max(d) if d else None] for k, (n, b, d) in groups.items()])
picked = [r for r in orders if (json_value(r.get('details'), '$.price', 'DOUBLE') or 0) > 100
          or json_value(r.get('shipTo'), '$.phoneNumbers[1].ext', 'DOUBLE') in (3, 6)]
prices = [p for p in (json_value(r.get('details'), '$.price', 'DOUBLE') for r in picked) if p is not None]
out('nested: JSON_VALUE type from its context', [[len(picked), round(sum(prices), 2), max(prices) * 2]])
def json_value_array(v, path, returning):
    """RETURNING <type> ARRAY: an array of literals (converted one by one), one literal as a
    one-element array; objects, arrays holding objects or arrays, null and missing are NULL."""
    x = json_query(v, path)
    if isinstance(x, list) and not any(isinstance(e, (dict, list)) for e in x):
        return [json_value(e, '$', returning) for e in x]
    if x is None or isinstance(x, (dict, list)):
        return None
    return [json_value(x, '$', returning)]
out('nested: JSON_VALUE RETURNING an array type', [[
    r['order'],
    json_value_array(r.get('details'), '$.tags', 'VARCHAR'),
    json_value_array(r.get('details'), '$.price', 'DOUBLE'),
    json_value_array(r.get('details'), '$.dims', 'BIGINT'),
    json_value_array(r.get('details'), '$', 'BIGINT'),
] for r in orders])
out('nested: JSON_QUERY objects arrays and scalars', [[
    r['order'],
    json_query(r.get('shipTo'), '$.address'),
    json_query(r.get('shipTo'), '$.phoneNumbers[0]'),
    json_query(r.get('details'), '$.dims[0]'),
    json_query(r.get('shipTo'), "$['a.b']"),
    json_query(r.get('details'), '$.price'),
] for r in orders])
out('nested: jq paths', [[
    r['order'],
    json_value(r.get('shipTo'), '.address.country'),
    json_value(r.get('shipTo'), '."a.b".c'),
    json_value(r.get('shipTo'), '.phoneNumbers[0].number'),
    json_query(r.get('details'), '.["tags"]'),
] for r in orders])
out('nested: JSON_KEYS', [[r['order'], json_keys(r.get('shipTo'), '$.'), json_keys(r.get('shipTo'), '$.phoneNumbers'), json_keys(r.get('details'), '$.price')] for r in orders])
out('nested: JSON_PATHS', [[r['order'], json_paths(r.get('details')), json_paths(r.get('shipTo'))] for r in orders])
def query_array(v, path):
    x = json_query(v, path)
    return None if x is None else (x if isinstance(x, list) else [x])
out('nested: JSON_QUERY_ARRAY', [[r['order'], query_array(r.get('shipTo'), '$.phoneNumbers'), query_array(r.get('shipTo'), '$.firstName')] for r in orders])
phones = {}
for r in orders:
    for ph in query_array(r.get('shipTo'), '$.phoneNumbers') or []:
        g = phones.setdefault(json_value(ph, '$.type'), [0, [], []])
        g[0] += 1
        g[1].append(json_value(ph, '$.number'))
        ext = json_value(ph, '$.ext', 'BIGINT')
        if ext is not None:
            g[2].append(ext)
out('nested: UNNEST of JSON_QUERY_ARRAY items',
    [[t, n, max(x for x in nums if x is not None), sum(exts) if exts else None] for t, (n, nums, exts) in phones.items()])
def merged(*vs):
    if any(v is None for v in vs):
        return None
    acc = vs[0]
    for v in vs[1:]:
        acc = {**acc, **v} if isinstance(acc, dict) and isinstance(v, dict) else v
    return acc
out('nested: JSON_OBJECT and JSON_MERGE', [[
    r['order'],
    text(java_hash_map([('order', r['order']), ('city', json_query(r.get('shipTo'), '$.address.city')), ('product', r['product'])])),
    text(merged(r.get('details'), {'seen': True})),
] for r in orders])
out('nested: JSON_OBJECT forms keep the rest of the statement as written',
    [[text(java_hash_map([("it's", "a'b"), ('n', 2)])), "c'd"]])
transformed = [[r['order'], json_value(r.get('shipTo'), '$.lastName'), json_query(r.get('shipTo'), '$.address'),
                java_hash_map([('product', r['product']), ('details', r.get('details'))])] for r in orders]
out('nested: transformed INSERT round trip', transformed)

# A TSV line: a field typed COMPLEX<json> is a JSON string; the other is parsed by PARSE_JSON.
j, t = '{"a":1}\t{"a":2}'.split('\t')
out('nested: a TSV field typed COMPLEX<json> is a JSON string', [[text(j), j, json.loads(t)['a']]])

inline = json.loads('{"t":1,"n":{"a":[5,6]}}')
out("nested: EXTEND with TYPE('COMPLEX<json>')", [[inline['t'], inline['n'], json_value(inline['n'], '$.a[1]', 'BIGINT')]])

# --- Druid's docs: nested_data_example (nested-columns.md) ---
out('docs: nested-columns JSON_OBJECT combinedJson', [[text(java_hash_map([('shipTo', r['shipTo']), ('details', r['details'])]))] for r in example])
out('docs: nested-columns transform example round trip', [[
    json_value(r['shipTo'], '$.firstName'), json_value(r['shipTo'], '$.lastName'), json_query(r['shipTo'], '$.address'),
    text(java_hash_map([('product', r['product']), ('details', r['details']), ('department', r['department'])]))] for r in example])
