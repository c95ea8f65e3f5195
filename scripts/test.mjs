// `npm test`: every tier, in order. Unit/HTTP/e2e need nothing running; the integration tiers start
// the real Kafka, registry, Redis and Spark through scripts/infra (in CI a service that cannot start
// fails the run: nothing is skipped). Ends with one summary line: "N passed, N failed, N skipped".
// In CI a skipped test fails the run: a skip there means a claim went untested.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, ensureInstalled, ensureKafkaBindingFor, ensureKafkaClient, ensureNode, SECOND_NODE_VERSION, withKafkaBinding } from './ensure-install.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const only = process.env.EMO_TEST_TIERS?.split(',').map((s) => s.trim()).filter(Boolean);
const inCi = Boolean(process.env.CI) && process.env.CI !== 'false';
const resultsDir = path.join(root, 'test-results');
mkdirSync(resultsDir, { recursive: true });

function files(dir, suffix) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(suffix));
}

function run(cmd, args, opts = {}) {
  console.log(`\n$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: opts.capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8', env: { ...process.env, ...opts.env } });
  if (opts.capture) process.stdout.write(r.stdout ?? '');
  return r;
}

/**
 * A vitest tier, on this Node or on `nodeBin` (a function: fetched when the tier runs). Its JSON
 * report is deleted first, so a tier that crashes is never read from a previous run.
 */
function vitestTier(name, config, needs, nodeBin) {
  return {
    name,
    needs,
    run() {
      const out = path.join(resultsDir, `${name.replace(/[^a-z0-9-]+/gi, '-')}.json`);
      rmSync(out, { force: true });
      const r = run(nodeBin?.() ?? process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', config, '--reporter=default', '--reporter=json', `--outputFile.json=${out}`]);
      if (!existsSync(out)) return { passed: 0, failed: 1, skipped: 0, failures: [`${name}: vitest exited with ${r.status ?? r.signal} and wrote no report`] };
      const j = JSON.parse(readFileSync(out, 'utf8'));
      const failed = j.numFailedTests + (r.status !== 0 && j.numFailedTests === 0 ? 1 : 0);
      const failures = failuresOf(j);
      if (r.status !== 0 && failures.length === 0) failures.push(`${name}: vitest exited with ${r.status ?? r.signal} without a failed test (an error outside the tests: see its output above)`);
      return { passed: j.numPassedTests, failed, skipped: (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0), failures };
    },
  };
}

/**
 * The failed tests of a vitest JSON report with the start of their messages. Printed again at the
 * end of the run: a CI log is often read from its tail, far below the tier that failed.
 */
function failuresOf(report) {
  const out = [];
  for (const file of report.testResults ?? []) {
    const rel = path.relative(root, file.name ?? '');
    for (const t of file.assertionResults ?? []) {
      if (t.status !== 'failed') continue;
      const msg = (t.failureMessages ?? []).join('\n').replace(/\u001b\[[0-9;]*m/g, '').split('\n').filter((l) => !/node_modules|<anonymous>|node:internal/.test(l)).slice(0, 12).join('\n');
      out.push(`${rel} > ${t.fullName ?? t.title}\n${msg}`);
    }
    // A file can fail outside its tests (a hook, an import) with every test passed or none run.
    if (file.status === 'failed' && !(file.assertionResults ?? []).some((t) => t.status === 'failed')) out.push(`${rel}\n${String(file.message ?? '').split('\n').slice(0, 12).join('\n')}`);
  }
  return out;
}

const infraUp = (services) => ({
  name: `infra:${services.join('+')}`,
  provides: 'infra',
  run() {
    const r = run('bash', [path.join(root, 'scripts/infra/up.sh'), ...services]);
    return r.status === 0 ? { passed: 0, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0, unavailable: `could not start ${services.join(', ')}` };
  },
});

const tiers = [
  { name: 'typecheck', run: () => (run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']).status === 0 ? { passed: 1, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0 }) },
  vitestTier('unit', 'vitest.config.ts'),
];
const intTests = files(path.join(root, 'test'), '.int.test.ts');
if (intTests.length > 0) tiers.push(infraUp(['kafka', 'registry', 'redis', 'postgres']), vitestTier('integration', 'vitest.int.config.ts', 'infra'));
if (existsSync(path.join(root, 'spark/test.sh'))) {
  tiers.push({
    name: 'spark',
    needs: 'infra',
    run() {
      const r = run('bash', [path.join(root, 'spark/test.sh')], { capture: true });
      const count = (word) => Number(new RegExp(`(\\d+) ${word}`).exec(r.stdout ?? '')?.[1] ?? 0);
      const failed = count('failed') + count('error');
      return { passed: count('passed'), failed: r.status === 0 ? failed : Math.max(failed, 1), skipped: count('skipped') };
    },
  });
}
// The unit and integration tiers again on the second supported Node (the LTS users run; README:
// Node versions), with node-rdkafka's binding built for it. About 8 minutes; EMO_NODE24_TESTS=0
// leaves them out of a local run.
const secondMajor = SECOND_NODE_VERSION.split('.')[0];
const secondWanted = process.env[`EMO_NODE${secondMajor}_TESTS`] !== '0' || Boolean(only?.some((o) => o.startsWith(`node${secondMajor}`)));
if (secondWanted) {
  const secondNode = () => ensureNode(SECOND_NODE_VERSION);
  tiers.push(vitestTier(`node${secondMajor}:unit`, 'vitest.config.ts', undefined, secondNode));
  if (intTests.length > 0) {
    const int = vitestTier(`node${secondMajor}:integration`, 'vitest.int.config.ts', 'infra', secondNode);
    tiers.push({ ...int, run: () => withKafkaBinding(ensureKafkaBindingFor(secondNode()), () => int.run()) });
  }
}
// Cluster tier: fault tests on the cluster profile (3 Kafka nodes, Redis + Sentinels, Spark
// standalone), its own ports and .infra/cluster, so it runs beside the single-node services.
// Part of every run (about 12 minutes on the 2-core machine); EMO_CLUSTER_TESTS=0 leaves it out
// of a local run.
const clusterWanted = process.env.EMO_CLUSTER_TESTS !== '0' || Boolean(only?.some((o) => o.startsWith('cluster') || o.startsWith('infra:cluster')));
if (clusterWanted && files(path.join(root, 'test'), '.cluster.test.ts').length > 0) {
  tiers.push(
    {
      name: 'infra:cluster',
      provides: 'cluster-infra',
      run() {
        const r = run('bash', [path.join(root, 'scripts/infra/up.sh'), '--profile', 'cluster']);
        return r.status === 0 ? { passed: 0, failed: 0, skipped: 0 } : { passed: 0, failed: 1, skipped: 0, unavailable: 'could not start the cluster profile' };
      },
    },
    vitestTier('cluster', 'vitest.cluster.config.ts', 'cluster-infra'),
  );
}
// Chaos: kills and restarts its own Kafka, registry and Redis (other ports, .infra/chaos), so it
// starts them itself and needs nothing from the tiers above; a service that cannot start fails it.
// Part of every run (about 4 minutes); EMO_CHAOS_TESTS=0 leaves it out of a local run.
const chaosWanted = process.env.EMO_CHAOS_TESTS !== '0' || Boolean(only?.some((o) => o.startsWith('chaos')));
if (chaosWanted && files(path.join(root, 'test'), '.chaos.test.ts').length > 0) tiers.push(vitestTier('chaos', 'vitest.chaos.config.ts'));
if (files(path.join(root, 'test'), '.browser.test.ts').length > 0) tiers.push(vitestTier('browser', 'vitest.browser.config.ts'));

/** A tier that cannot even start (a download or build it needs failed) is a failure, not a crash of the run. */
function runTier(tier) {
  try {
    return tier.run();
  } catch (err) {
    console.error(`\n[emostream] ${tier.name}: ${err?.stack ?? err}`);
    return { passed: 0, failed: 1, skipped: 0, failures: [`${tier.name}: could not run: ${err?.message ?? err}`] };
  }
}

ensureInstalled();
// The integration, cluster and chaos tiers talk to Kafka through node-rdkafka.
if (!only || only.some((o) => !['typecheck', 'unit', 'browser'].some((t) => o.startsWith(t)))) ensureKafkaClient();
ensureBuilt();
let passed = 0;
let failed = 0;
let skipped = 0;
const unavailable = new Set();
const table = [];
const failures = [];
for (const tier of tiers) {
  if (only && !only.some((o) => tier.name.startsWith(o))) continue;
  const started = Date.now();
  // A tier whose services could not start is not run: it counts as one failure (it tested nothing),
  // and the tiers that need nothing still run, so one broken service does not hide the rest.
  const r = tier.needs && unavailable.has(tier.needs)
    ? { passed: 0, failed: 1, skipped: 0, note: `not run: ${tier.needs} unavailable` }
    : runTier(tier);
  if (r.unavailable) {
    unavailable.add(tier.provides);
    console.error(`\n[emostream] ${r.unavailable}: the tiers that need it cannot run${inCi ? ' (CI: failing, not skipping)' : ''}`);
  }
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
  for (const f of r.failures ?? []) failures.push(`[${tier.name}] ${f}`);
  if (r.failed > 0 && !r.failures?.length) failures.push(`[${tier.name}] ${r.failed} failed${r.note ? ` (${r.note})` : ''}: see its output above`);
  table.push({ tier: tier.name, passed: r.passed, failed: r.failed, skipped: r.skipped, seconds: ((Date.now() - started) / 1000).toFixed(1), note: r.note ?? '' });
}
if (failures.length > 0) console.error(`\n[emostream] failed tests:\n\n${failures.join('\n\n')}`);
console.log('');
console.table(table);
if (inCi && skipped > 0) console.error(`\n[emostream] CI: ${skipped} test(s) skipped; a skip in CI fails the run`);
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || (inCi && skipped > 0) ? 1 : 0);
