// What the Datasources view reads: per-datasource totals from `sys.segments` over
// `POST /druid/v2/sql` (with the coordinator's `?simple` list for anything SQL misses), and
// one datasource's segments from the metadata endpoint with their row counts from `sys.segments`.

import { post, datasources as coordinator } from '../api.js';
import { instant, parseInterval } from './intervals.js';

/** A SQL string literal. */
const literal = (s) => `'${String(s).replace(/'/g, "''")}'`;

const sql = (query) => post('/druid/v2/sql', { query, resultFormat: 'array' });

const SUMMARY = `SELECT datasource, COUNT(*), SUM(num_rows), SUM("size"), MIN("start"), MAX("end"),
  SUM(CASE WHEN shard_spec LIKE '%"tombstone"%' THEN 1 ELSE 0 END)
FROM sys.segments WHERE is_published = 1 AND is_overshadowed = 0
GROUP BY datasource ORDER BY datasource`;

/** Every datasource: { name, segments, tombstones, rows, size, start, end } (ms; rows null when unknown). */
export async function listDatasources() {
  const [rows, simple] = await Promise.all([sql(SUMMARY).catch(() => null), coordinator.list().catch(() => null)]);
  if (rows === null && simple === null) throw new Error('neither sys.segments nor the coordinator answered');
  const byName = new Map();
  for (const [name, segments, numRows, size, start, end, tombstones] of rows || []) {
    byName.set(name, { name, segments, rows: numRows, size, start: instant(start), end: instant(end), tombstones });
  }
  for (const d of simple || []) {
    if (byName.has(d.name)) continue;
    const s = (d.properties && d.properties.segments) || {};
    byName.set(d.name, {
      name: d.name, segments: s.count ?? null, rows: null, size: s.size ?? null,
      start: s.minTime ? instant(s.minTime) : NaN, end: s.maxTime ? instant(s.maxTime) : NaN, tombstones: 0,
    });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * A shard spec as people read it: "numbered 0/1", "range [channel] 2/8", "tombstone", and
 * "numbered 2 (appended)" for a partition beyond the chunk's core partitions.
 */
export function shardText(spec) {
  if (!spec || !spec.type) return '';
  if (spec.type === 'tombstone') return 'tombstone';
  const core = spec.numCorePartitions ?? spec.partitions;
  const num = spec.partitionNum ?? 0;
  const dims = spec.dimensions || spec.partitionDimensions;
  const keys = Array.isArray(dims) && dims.length ? ` [${dims.join(', ')}]` : '';
  if (core === undefined || core === null) return `${spec.type}${keys} ${num}`;
  return num < core ? `${spec.type}${keys} ${num}/${core}` : `${spec.type}${keys} ${num} (appended)`;
}

/** Druid's "a,b,c" (or an array) as a list. */
const listOf = (v) => (Array.isArray(v) ? v : typeof v === 'string' && v ? v.split(',') : []);

/**
 * The segments of `ds` (used ones, from the metadata store), each as { id, start, end,
 * interval, version, partition, shardSpec, shardType, tombstone, rows, size, dimensions, metrics }.
 */
export async function segmentsOf(ds) {
  const [full, counts] = await Promise.all([
    coordinator.segments(ds),
    sql(`SELECT segment_id, num_rows FROM sys.segments WHERE datasource = ${literal(ds)}`).catch(() => []),
  ]);
  const rows = new Map((counts || []).map(([id, n]) => [id, n]));
  return (full || []).map((s) => {
    const { start, end } = parseInterval(s.interval);
    const spec = s.shardSpec || {};
    const tombstone = spec.type === 'tombstone' || (s.loadSpec && s.loadSpec.type === 'tombstone');
    return {
      id: s.identifier, start, end, interval: s.interval, version: s.version,
      partition: spec.partitionNum ?? 0, shardSpec: spec, shardType: spec.type || '', tombstone,
      rows: rows.has(s.identifier) ? rows.get(s.identifier) : null, size: s.size,
      dimensions: listOf(s.dimensions), metrics: listOf(s.metrics),
    };
  });
}

/**
 * Segments grouped into time chunks (one per interval and version): { key, start, end,
 * interval, version, segments, rows, size, shardTypes, tombstone }, oldest first.
 */
export function chunksOf(segments) {
  const map = new Map();
  for (const s of segments) {
    const key = `${s.interval}/${s.version}`;
    let c = map.get(key);
    if (!c) {
      c = { key, start: s.start, end: s.end, interval: s.interval, version: s.version, segments: [], rows: 0, size: 0, shardTypes: new Set(), tombstone: true };
      map.set(key, c);
    }
    c.segments.push(s);
    c.rows = c.rows === null || s.rows === null ? null : c.rows + s.rows;
    c.size += s.size || 0;
    c.shardTypes.add(s.shardType);
    c.tombstone = c.tombstone && s.tombstone;
  }
  return [...map.values()].sort((a, b) => a.start - b.start || (a.version < b.version ? -1 : 1));
}
