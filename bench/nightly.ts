// npm run bench — the nightly suite: every bench in sequence within a time budget, each run
// appended to the history, compared with the previous run (absolute figures and the in-run ratios),
// a table of regressions beyond the threshold, and an HTML report with charts over time.
//
// Options (flag or environment): --smoke / BENCH_SMOKE=1 (minutes become seconds),
// --only embedded,kafka / BENCH_ONLY, --budget S / BENCH_BUDGET_S (3600; smoke 600),
// --threshold P / BENCH_REGRESSION_PCT (15), --out DIR / BENCH_HISTORY_DIR (bench/results).
// Exit code: 0 fine, 1 a regression beyond the threshold, 2 a bench failed or ran out of time.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../src/domain/schemas-dir.js';
import { compareRuns, regressionRows } from './compare.js';
import { appendRun, historyFile, metricsOf, readHistory, type RunRecord } from './history.js';
import { chartsOf, writeReport } from './report.js';
import { BENCHES, runBench } from './runner.js';

const env = process.env;
const { values: args } = parseArgs({
  options: {
    smoke: { type: 'boolean', default: env.BENCH_SMOKE === '1' || env.BENCH_SMOKE === 'true' },
    only: { type: 'string', default: env.BENCH_ONLY ?? '' },
    budget: { type: 'string', default: env.BENCH_BUDGET_S ?? '' },
    threshold: { type: 'string', default: env.BENCH_REGRESSION_PCT ?? '15' },
    out: { type: 'string', default: env.BENCH_HISTORY_DIR ?? path.join(repoRoot(), 'bench/results') },
  },
});

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`[bench] ${name} must be a positive number, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

const smoke = args.smoke!;
const budgetS = positive('BENCH_BUDGET_S', args.budget || (smoke ? '600' : '3600'));
const thresholdPct = positive('BENCH_REGRESSION_PCT', args.threshold!);
const out = path.resolve(args.out!);
const only = args.only!.split(',').map((s) => s.trim()).filter(Boolean);
const unknown = only.filter((n) => !BENCHES.some((b) => b.name === n));
if (unknown.length) {
  console.error(`[bench] unknown bench(es) ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.name).join(', ')}`);
  process.exit(2);
}

const at = new Date();
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
} catch {
  /* not a git checkout */
}
const id = `${at.toISOString().replace(/[:.]/g, '-')}-${commit}`;
const runDir = path.join(out, 'runs', id);
const history = readHistory(out);
const run: RunRecord = { id, at: at.toISOString(), commit, node: process.version, smoke, budgetS, benches: [], metrics: [] };
const deadline = Date.now() + budgetS * 1000;

for (const spec of BENCHES.filter((b) => only.length === 0 || only.includes(b.name))) {
  const { outcome, results } = await runBench(spec, { smoke, dir: runDir, resultsDir: out, deadline, log: (l) => console.error(l) });
  run.benches.push(outcome);
  for (const r of results) run.metrics.push(...metricsOf(r));
}

const comparisons = compareRuns(history, run, thresholdPct);
appendRun(out, run);
const report = writeReport(path.join(out, 'report.html'), {
  generatedAt: new Date().toISOString(),
  current: run,
  thresholdPct,
  charts: chartsOf([...history, run], smoke),
  comparisons,
});

console.log(`\n[bench] run ${id}${smoke ? ' (smoke)' : ''}`);
console.table(run.benches.map((b) => ({ bench: b.name, status: b.status, seconds: +b.seconds.toFixed(1), results: b.files.length, error: b.error ?? '' })));
const regressions = regressionRows(comparisons);
if (comparisons.length === 0) console.log('[bench] no earlier run of this kind to compare with');
else if (regressions.length === 0) console.log(`[bench] ${comparisons.length} figures compared with the previous run: no regression beyond ${thresholdPct}%`);
else {
  console.log(`[bench] ${regressions.length} regression(s) beyond ${thresholdPct}% of ${comparisons.length} figures compared with the previous run:`);
  console.table(regressions);
}
console.log(`[bench] history: ${path.relative(process.cwd(), historyFile(out))} (${history.length + 1} runs); report: ${path.relative(process.cwd(), report)}`);
const failed = run.benches.some((b) => b.status === 'failed' || b.status === 'timeout');
process.exit(failed ? 2 : regressions.length > 0 ? 1 : 0);
