// Instants as a Druid user reads them: UTC, as Druid shows them, without the noise.

const pad = (n) => String(n).padStart(2, '0');

/** "2026-11-27T08:13:46.844Z" -> "2026-11-27 08:13:46" (UTC); "" when absent or unparsable. */
export function when(iso) {
  const t = Date.parse(iso);
  if (!iso || Number.isNaN(t)) return '';
  const d = new Date(t);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** Milliseconds since `iso` (0 when it is in the future or unparsable). */
export function since(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : Math.max(0, Date.now() - t);
}
