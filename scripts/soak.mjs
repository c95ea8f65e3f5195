// `npm run test:soak [N]`: the chaos tier N times in a row (EMO_SOAK_RUNS, default 10), one row per
// run and fault (seconds to recover, acknowledged during the fault, lost, duplicated), then a
// summary. A fault that happens once in several runs (a wedge after a broker outage) shows up here
// as a row, where a single green run proves nothing. Exits 1 if any run failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, ensureInstalled } from './ensure-install.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const runs = Number(process.argv[2] ?? process.env.EMO_SOAK_RUNS ?? 10);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`[soak] runs must be a positive integer, got ${process.argv[2] ?? process.env.EMO_SOAK_RUNS}`);
  process.exit(2);
}
const resultsDir = path.join(root, 'test-results');
mkdirSync(resultsDir, { recursive: true });
ensureInstalled();
ensureBuilt();

const all = [];
const failedRuns = [];
for (let run = 1; run <= runs; run++) {
  const rowsFile = path.join(resultsDir, `soak-rows-${run}.json`);
  rmSync(rowsFile, { force: true });
  const started = Date.now();
  console.log(`\n[soak] run ${run} of ${runs}`);
  const r = spawnSync(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'vitest.chaos.config.ts'], {
    cwd: root,
    stdio: 'inherit',
    // The long faults too (a 60 s broker outage), which CI's chaos tier leaves out until they heal.
    env: { EMO_CHAOS_LONG: '1', ...process.env, EMO_CHAOS_ROWS_FILE: rowsFile },
  });
  const rows = existsSync(rowsFile) ? JSON.parse(readFileSync(rowsFile, 'utf8')) : [];
  for (const row of rows) all.push({ run, ...row });
  if (r.status !== 0) failedRuns.push(run);
  console.log(`[soak] run ${run}: ${r.status === 0 ? 'passed' : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

const wedges = all.filter((r) => r.recoverSec === 'never');
const recovered = all.filter((r) => r.recoverSec !== 'never').map((r) => Number(r.recoverSec));
const summary = {
  runs,
  failedRuns,
  faults: all.length,
  wedges: wedges.length,
  lost: all.reduce((n, r) => n + r.lost, 0),
  duplicated: all.reduce((n, r) => n + r.duplicated, 0),
  maxRecoverSec: recovered.length ? Math.max(...recovered) : null,
};
console.log('\n[soak] every run and fault');
console.table(all);
console.log('[soak] summary');
console.table([summary]);
const out = path.join(resultsDir, `soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ summary, rows: all }, null, 2));
console.log(`[soak] written to ${path.relative(root, out)}`);
process.exit(failedRuns.length > 0 ? 1 : 0);
