// The numbers of a live MSQ report, computed without touching the DOM: per-stage sums of the
// channel counters over workers, per-worker and per-partition breakdowns, and progress
// estimates from the stage phases and counters (as Druid's console estimates them).

/** `{stages, counters, status}` of a task report (`multiStageQuery.payload`) or of a
 * statements API `?detail=true` status (which has no report status). */
export function reportParts(report) {
  const payload = report && report.multiStageQuery && report.multiStageQuery.payload;
  const src = payload || report || {};
  return {
    stages: Array.isArray(src.stages) ? src.stages : [],
    counters: src.counters || {},
    status: payload ? payload.status || null : null,
  };
}

const sum = (arr) => (Array.isArray(arr) ? arr.reduce((a, b) => a + (Number(b) || 0), 0) : 0);

/** The processor type of a stage definition (`scan`, `groupByPreShuffle`, ...). */
export const processorOf = (stage) =>
  (stage.definition && stage.definition.processor && stage.definition.processor.type) || '';

/** Names of the input channels a worker counted (`input0`, `input1`, ...). */
const inputNames = (w) => Object.keys(w).filter((k) => /^input\d+$/.test(k));

/** Totals of one worker's counters (an object of named counters). */
export function workerTotals(w = {}) {
  const t = {
    inputRows: 0, inputFiles: 0, inputTotalFiles: 0, inputBytes: 0,
    outputRows: 0, outputBytes: 0, shuffleRows: 0, shuffleBytes: 0,
    sort: null, segments: null,
  };
  for (const name of inputNames(w)) {
    t.inputRows += sum(w[name].rows);
    t.inputBytes += sum(w[name].bytes);
    t.inputFiles += sum(w[name].files);
    t.inputTotalFiles += sum(w[name].totalFiles);
  }
  if (w.output) {
    t.outputRows = sum(w.output.rows);
    t.outputBytes = sum(w.output.bytes);
  }
  if (w.shuffle) {
    t.shuffleRows = sum(w.shuffle.rows);
    t.shuffleBytes = sum(w.shuffle.bytes);
  }
  if (w.sortProgress) t.sort = Number(w.sortProgress.progressDigest) || 0;
  if (w.segmentGenerationProgress) t.segments = { ...w.segmentGenerationProgress };
  return t;
}

/** Totals of a stage over its workers; `sort` is the mean digest of the workers that sort. */
export function stageTotals(stageCounters = {}) {
  const t = workerTotals({});
  let sorts = 0;
  let sortSum = 0;
  for (const w of Object.values(stageCounters)) {
    const wt = workerTotals(w);
    for (const k of ['inputRows', 'inputFiles', 'inputTotalFiles', 'inputBytes', 'outputRows', 'outputBytes', 'shuffleRows', 'shuffleBytes']) {
      t[k] += wt[k];
    }
    if (wt.sort !== null) {
      sorts += 1;
      sortSum += wt.sort;
    }
    if (wt.segments) {
      t.segments = t.segments || { rowsProcessed: 0, rowsPersisted: 0, rowsMerged: 0, rowsPushed: 0 };
      for (const k of Object.keys(t.segments)) t.segments[k] += Number(wt.segments[k]) || 0;
    }
  }
  t.sort = sorts ? sortSum / sorts : null;
  return t;
}

/** Per-partition sums over workers: `{channel: [{rows, bytes}, ...]}` for each channel
 * counter (input0.., output, shuffle). */
export function partitionTotals(stageCounters = {}) {
  const out = {};
  for (const w of Object.values(stageCounters)) {
    for (const [name, c] of Object.entries(w)) {
      if (!c || c.type !== 'channel') continue;
      const parts = out[name] || (out[name] = []);
      const n = Math.max((c.rows || []).length, (c.bytes || []).length);
      for (let i = 0; i < n; i += 1) {
        const p = parts[i] || (parts[i] = { rows: 0, bytes: 0 });
        p.rows += Number((c.rows || [])[i]) || 0;
        p.bytes += Number((c.bytes || [])[i]) || 0;
      }
    }
  }
  return out;
}

const DONE = new Set(['RESULTS_READY', 'FINISHED']);

/** The stage numbers a stage reads from. */
export const inputStages = (stage) =>
  ((stage.definition && stage.definition.input) || [])
    .filter((i) => i && i.type === 'stage')
    .map((i) => i.stage);

/** Rows a stage hands downstream: its shuffle rows when it shuffles, else its output rows. */
const handedDown = (t) => (t.shuffleRows > 0 ? t.shuffleRows : t.outputRows);

/** Fraction of its input a stage has read, or null when it cannot be told. */
function readFraction(stage, totals, totalsByStage, stagesByNumber) {
  if (totals.inputTotalFiles > 0) return Math.min(1, totals.inputFiles / totals.inputTotalFiles);
  const ups = inputStages(stage);
  if (ups.length && ups.every((n) => stagesByNumber.has(n) && DONE.has(stagesByNumber.get(n).phase))) {
    const expected = ups.reduce((a, n) => a + handedDown(totalsByStage.get(n) || workerTotals()), 0);
    if (expected > 0) return Math.min(1, totals.inputRows / expected);
  }
  return null;
}

/** Progress of one stage in [0, 1]: reading input is the first half of a sorting stage (all of
 * one that does not sort), sorting the second; segment generation counts rows pushed. */
export function stageProgress(stage, totals, totalsByStage, stagesByNumber) {
  const phase = stage.phase || 'NEW';
  if (DONE.has(phase)) return 1;
  if (phase === 'NEW' || !stage.phase) return 0;
  const sorts = Boolean(stage.sort);
  const readShare = sorts ? 0.5 : 1;
  if (phase === 'READING_INPUT') {
    const f = readFraction(stage, totals, totalsByStage, stagesByNumber);
    if (totals.segments && totals.inputRows > 0) {
      return Math.min(0.99, totals.segments.rowsPushed / totals.inputRows);
    }
    return f === null ? 0 : Math.min(0.99, f * readShare);
  }
  if (phase === 'MERGING_STATISTICS') return readShare;
  if (phase === 'POST_READING') return sorts ? 0.5 + 0.5 * Math.min(0.99, totals.sort || 0) : 0.99;
  return 0;
}

/** Everything the stage table shows, one entry per stage (in stage-number order), and the
 * overall progress (the mean of the stages'), with the shared time axis of the Gantt lanes. */
export function analyze(report, now = Date.now()) {
  const { stages, counters, status } = reportParts(report);
  const sorted = [...stages].sort((a, b) => a.stageNumber - b.stageNumber);
  const totalsByStage = new Map(sorted.map((s) => [s.stageNumber, stageTotals(counters[s.stageNumber])]));
  const stagesByNumber = new Map(sorted.map((s) => [s.stageNumber, s]));
  let axisStart = Infinity;
  let axisEnd = -Infinity;
  const rows = sorted.map((s) => {
    const totals = totalsByStage.get(s.stageNumber);
    const start = s.startTime ? Date.parse(s.startTime) : NaN;
    const dur = typeof s.duration === 'number' && s.duration >= 0 ? s.duration : null;
    if (!Number.isNaN(start)) {
      axisStart = Math.min(axisStart, start);
      axisEnd = Math.max(axisEnd, start + (dur === null ? 0 : dur));
    }
    return {
      stage: s,
      number: s.stageNumber,
      processor: processorOf(s),
      phase: s.phase || 'NEW',
      totals,
      counted: Object.keys(counters[s.stageNumber] || {}).length > 0,
      start: Number.isNaN(start) ? null : start,
      duration: dur,
      progress: stageProgress(s, totals, totalsByStage, stagesByNumber),
    };
  });
  const overall = rows.length ? rows.reduce((a, r) => a + r.progress, 0) / rows.length : 0;
  if (!Number.isFinite(axisStart)) {
    axisStart = now;
    axisEnd = now;
  }
  return { rows, overall, status, counters, axis: { start: axisStart, end: Math.max(axisEnd, axisStart + 1) } };
}
