// `npm test`: every tier, in order. Unit/HTTP/e2e need nothing running; the integration tiers start
// the real Kafka, registry, Redis and Spark through scripts/infra (in CI a service that cannot start
// fails the run: nothing is skipped). Ends with one summary line: "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, ensureInstalled } from './ensure-install.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const only = process.env.EMO_TEST_TIERS?.split(',').map((s) => s.trim()).filter(Boolean);
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

function vitestTier(name, config) {
  return {
    name,
    run() {
      const out = path.join(resultsDir, `${name}.json`);
      const r = run(process.execPath, [path.join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--config', config, '--reporter=default', '--reporter=json', `--outputFile.json=${out}`]);
      if (!existsSync(out)) return { passed: 0, failed: 1 };
      const j = JSON.parse(readFileSync(out, 'utf8'));
      const failed = j.numFailedTests + (r.status !== 0 && j.numFailedTests === 0 ? 1 : 0);
      return { passed: j.numPassedTests, failed };
    },
  };
}

const infraUp = (services) => ({
  name: `infra:${services.join('+')}`,
  run() {
    const r = run('bash', [path.join(root, 'scripts/infra/up.sh'), ...services]);
    return r.status === 0 ? { passed: 0, failed: 0 } : { passed: 0, failed: 1, fatal: `could not start ${services.join(', ')}` };
  },
});

const tiers = [
  { name: 'typecheck', run: () => (run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']).status === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 }) },
  vitestTier('unit', 'vitest.config.ts'),
];
const intTests = files(path.join(root, 'test'), '.int.test.ts');
if (intTests.length > 0) tiers.push(infraUp(['kafka', 'registry', 'redis']), vitestTier('integration', 'vitest.int.config.ts'));
if (existsSync(path.join(root, 'spark/test.sh'))) {
  tiers.push({
    name: 'spark',
    run() {
      const r = run('bash', [path.join(root, 'spark/test.sh')], { capture: true });
      const passed = Number(/(\d+) passed/.exec(r.stdout ?? '')?.[1] ?? 0);
      const failed = Number(/(\d+) failed/.exec(r.stdout ?? '')?.[1] ?? 0) + Number(/(\d+) error/.exec(r.stdout ?? '')?.[1] ?? 0);
      return { passed, failed: r.status === 0 ? failed : Math.max(failed, 1) };
    },
  });
}
if (files(path.join(root, 'test'), '.browser.test.ts').length > 0) tiers.push(vitestTier('browser', 'vitest.browser.config.ts'));

ensureInstalled();
ensureBuilt();
let passed = 0;
let failed = 0;
const table = [];
for (const tier of tiers) {
  if (only && !only.some((o) => tier.name.startsWith(o))) continue;
  const started = Date.now();
  const r = tier.run();
  passed += r.passed;
  failed += r.failed;
  table.push({ tier: tier.name, passed: r.passed, failed: r.failed, seconds: ((Date.now() - started) / 1000).toFixed(1) });
  if (r.fatal) {
    console.error(`\n[emostream] ${r.fatal}: integration tests cannot run${process.env.CI ? ' (CI: failing, not skipping)' : ''}`);
    break;
  }
}
console.log('');
console.table(table);
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
