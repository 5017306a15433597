// Druid's ISO intervals as people read them (UTC), time-axis ticks, and which time chunks
// a newer version overshadows. Pure functions.

const pad = (n) => String(n).padStart(2, '0');
const HOUR = 3600e3;
const DAY = 24 * HOUR;

/** An instant in ms; -Infinity/Infinity for Druid's ETERNITY ends (years beyond Date's range). */
export function instant(iso) {
  const t = Date.parse(iso);
  if (!Number.isNaN(t)) return t;
  return String(iso).startsWith('-') ? -Infinity : Infinity;
}

/** An instant as ISO 8601 ("-∞"/"+∞" for ETERNITY's ends). */
export const iso = (t) => (Number.isFinite(t) ? new Date(t).toISOString() : t < 0 ? '-∞' : '+∞');

/** "a/b" -> { start, end } in ms. */
export function parseInterval(text) {
  const [a, b] = String(text).split('/');
  return { start: instant(a), end: instant(b) };
}

const date = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;

function clock(d) {
  const hm = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  if (d.getUTCMilliseconds()) return `${hm}:${pad(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0')}`;
  return d.getUTCSeconds() ? `${hm}:${pad(d.getUTCSeconds())}` : hm;
}

/** An instant as "2015-09-12" at midnight, else "2015-09-12 01:00". */
export function moment(t) {
  if (!Number.isFinite(t)) return t < 0 ? '−∞' : '+∞';
  const d = new Date(t);
  return t % DAY === 0 ? date(d) : `${date(d)} ${clock(d)}`;
}

/** A span as "1 hour", "24 hours", "3 days", "15 minutes". */
export function span(ms) {
  if (!Number.isFinite(ms)) return 'all time';
  const units = [[DAY, 'day'], [HOUR, 'hour'], [60e3, 'minute'], [1e3, 'second']];
  for (const [u, name] of units) {
    if (ms >= u && ms % u === 0) {
      const n = ms / u;
      return `${n.toLocaleString('en-US')} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return `${ms.toLocaleString('en-US')} ms`;
}

/** An interval as people read it: "2015-09-12 00:00 → 01:00", "2015-09-12 → 2015-09-14", "all time". */
export function readable(start, end) {
  if (!Number.isFinite(start) && !Number.isFinite(end)) return 'all time';
  if (!Number.isFinite(start) || !Number.isFinite(end)) return `${moment(start)} → ${moment(end)}`;
  const s = new Date(start);
  const e = new Date(end);
  if (start % DAY === 0 && end % DAY === 0) {
    return end - start === DAY ? date(s) : `${date(s)} → ${date(e)}`;
  }
  if (date(s) === date(e) || (end % DAY === 0 && end - start <= DAY)) {
    return `${date(s)} ${clock(s)} → ${end % DAY === 0 && date(s) !== date(e) ? '24:00' : clock(e)}`;
  }
  return `${moment(start)} → ${moment(end)}`;
}

/**
 * A short label for a chunk on the timeline: "01:00", "09-12", "2015-09", "2015"; `narrow`:
 * the shortest ("01h", "12" for a day, "Sep", "2015").
 */
export function chunkLabel(start, end, narrow = false) {
  if (!Number.isFinite(start) || !Number.isFinite(end)) return 'all time';
  const s = new Date(start);
  const len = end - start;
  if (len >= 365 * DAY) return String(s.getUTCFullYear());
  if (len >= 28 * DAY) {
    return narrow ? s.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' }) : `${s.getUTCFullYear()}-${pad(s.getUTCMonth() + 1)}`;
  }
  if (len >= DAY) return narrow ? String(s.getUTCDate()) : `${pad(s.getUTCMonth() + 1)}-${pad(s.getUTCDate())}`;
  return narrow && len >= HOUR && start % HOUR === 0 ? `${pad(s.getUTCHours())}h` : clock(s);
}

const STEPS = [
  60e3, 5 * 60e3, 15 * 60e3, 30 * 60e3, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY,
];

/** At most about `max` round instants in [min, max]: { t, label }. */
export function ticks(min, maxT, max = 10) {
  if (!Number.isFinite(min) || !Number.isFinite(maxT) || maxT <= min) return [];
  const range = maxT - min;
  let step = STEPS.find((s) => range / s <= max);
  if (!step) step = Math.ceil(range / max / (365 * DAY)) * 365 * DAY;
  if (step >= 28 * DAY) return monthTicks(min, maxT, Math.max(1, Math.round(step / (30.4 * DAY))));
  const out = [];
  for (let t = Math.ceil(min / step) * step; t <= maxT; t += step) {
    const d = new Date(t);
    const label = step >= DAY || t % DAY === 0 ? date(d) : clock(d);
    out.push({ t, label });
  }
  return out;
}

/** Ticks at the first of every `every`-th month. */
function monthTicks(min, maxT, every) {
  const d = new Date(min);
  const y = d.getUTCFullYear();
  let m = Math.ceil((d.getUTCMonth() + (min > Date.UTC(y, d.getUTCMonth(), 1) ? 1 : 0)) / every) * every;
  const out = [];
  for (let t = Date.UTC(y, m, 1); t <= maxT; m += every, t = Date.UTC(y, m, 1)) {
    const td = new Date(t);
    out.push({ t, label: every >= 12 ? String(td.getUTCFullYear()) : `${td.getUTCFullYear()}-${pad(td.getUTCMonth() + 1)}` });
  }
  return out;
}

/** Whether the intervals `covers` (each { start, end }) together cover [start, end). */
function covered(start, end, covers) {
  let reach = start;
  for (const c of covers.slice().sort((a, b) => a.start - b.start)) {
    if (c.start > reach) return false;
    reach = Math.max(reach, c.end);
    if (reach >= end) return true;
  }
  return reach >= end;
}

/**
 * The keys of chunks that newer versions overshadow: chunks whose whole interval is covered
 * by chunks of newer versions. `chunks`: [{ key, start, end, version }].
 */
export function overshadowedKeys(chunks) {
  const out = new Set();
  for (const c of chunks) {
    const newer = chunks.filter((o) => o.version > c.version && o.start < c.end && o.end > c.start);
    if (newer.length && covered(c.start, c.end, newer)) out.add(c.key);
  }
  return out;
}
