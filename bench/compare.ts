// Compares a run with the history: each metric against its value in the latest earlier run of the
// same kind (smoke with smoke, full with full) that has it. Ratio metrics compare the in-run
// baselines across runs (e.g. POST /v1/reactions vs a bare node:http server measured alongside).
import { metricKey, type Metric, type RunRecord } from './history.js';

export interface Comparison {
  bench: string;
  case: string;
  metric: string;
  kind: Metric['kind'];
  better: Metric['better'];
  previous: number;
  previousRun: string;
  current: number;
  /** Signed change, current vs previous, in % of previous. */
  changePct: number;
  /** Worse than previous by more than the threshold, in the metric's direction. */
  regression: boolean;
}

export function compareRuns(history: RunRecord[], current: RunRecord, thresholdPct: number): Comparison[] {
  const earlier = history.filter((r) => r.id !== current.id && r.smoke === current.smoke);
  const latest = new Map<string, { value: number; run: string }>();
  for (const run of earlier) for (const m of run.metrics) latest.set(metricKey(m), { value: m.value, run: run.id });
  const out: Comparison[] = [];
  for (const m of current.metrics) {
    const prev = latest.get(metricKey(m));
    if (!prev || prev.value === 0) continue;
    const changePct = ((m.value - prev.value) / Math.abs(prev.value)) * 100;
    const worsePct = m.better === 'higher' ? -changePct : changePct;
    out.push({ bench: m.bench, case: m.case, metric: m.metric, kind: m.kind, better: m.better, previous: prev.value, previousRun: prev.run, current: m.value, changePct, regression: worsePct > thresholdPct });
  }
  return out;
}

/** The regressions as a printable table (console.table rows). */
export function regressionRows(comparisons: Comparison[]): Array<Record<string, string | number>> {
  return comparisons
    .filter((c) => c.regression)
    .sort((a, b) => Math.abs(b.changePct) - Math.abs(a.changePct))
    .map((c) => ({
      bench: c.bench,
      case: c.case,
      metric: `${c.metric}${c.kind === 'ratio' ? ' (vs in-run baseline)' : ''}`,
      better: c.better,
      previous: c.previous,
      current: c.current,
      change: `${c.changePct >= 0 ? '+' : ''}${c.changePct.toFixed(1)}%`,
    }));
}
