// `npm run bench:recovery [-- --minutes 10]`: how long an aggregator's partitions stay silent after
// it is killed with -9 following N minutes of steady load. Two aggregators, one API and one
// publisher as processes on the services scripts/infra starts; reactions for 8 matches spread over
// the partitions; after N minutes one aggregator is killed and the clock runs until every match
// has a window newer than the kill in Redis (the surviving aggregator took the partitions, loaded
// their changelog and emitted). Prints a table and JSON (bench/results/).
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { pino } from 'pino';
import { RedisBus } from '../src/adapters/redis/redis-bus.js';
import { repoRoot } from '../src/domain/schemas-dir.js';
import { report, sleep, startRoleChild, stopChild } from './lib.js';
import { applyInfraEnv, infraDir } from '../helpers/infra-env.js';

const root = repoRoot();
const env = process.env;
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const MINUTES = arg('minutes', 10);
const RATE = arg('rate', 400); // reactions per second
const MATCHES = Array.from({ length: 8 }, (_, i) => `rec-${i}`);

function infra(): void {
  if (env.EMO_SKIP_INFRA_UP !== '1') execFileSync('bash', [path.join(root, 'scripts/infra/up.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const envFile = path.join(infraDir(env), 'env');
  applyInfraEnv(envFile, env, { keepExisting: true });
}

async function main(): Promise<void> {
  infra();
  const run = `recovery-${Date.now().toString(36)}`;
  const common = {
    LOG_ADAPTER: 'kafka',
    REGISTRY_ADAPTER: 'confluent',
    BUS_ADAPTER: 'redis',
    KAFKA_BROKERS: env.KAFKA_BROKERS!,
    SCHEMA_REGISTRY_URL: env.SCHEMA_REGISTRY_URL!,
    REDIS_URL: env.REDIS_URL!,
    REDIS_KEY_PREFIX: `${run}:`,
    REACTIONS_TOPIC: `${run}.reactions`,
    AGGREGATES_TOPIC: `${run}.aggregates`,
    KAFKA_REACTIONS_PARTITIONS: '4',
    WINDOW_MS: '1000',
    GRACE_MS: '2000',
    USER_RATE_PER_SEC: '100000',
    USER_BURST: '1000000',
  };
  const api = await startRoleChild({ ...common, ROLE: 'api', INSTANCE_ID: 'api' });
  const aggs = [await startRoleChild({ ...common, ROLE: 'aggregator', INSTANCE_ID: 'agg-1' }), await startRoleChild({ ...common, ROLE: 'aggregator', INSTANCE_ID: 'agg-2' })];
  const publisher = await startRoleChild({ ...common, ROLE: 'publisher', INSTANCE_ID: 'publisher' });
  const bus = await RedisBus.connect({ url: common.REDIS_URL, keyPrefix: common.REDIS_KEY_PREFIX, historySize: 10, presenceTtlSec: 10, logger: pino({ level: 'silent' }) });
  let sent = 0;
  let failed = 0;
  const perTick = Math.max(1, Math.round(RATE / 10));
  const load = setInterval(() => {
    const reactions = Array.from({ length: perTick }, (_, i) => ({ matchId: MATCHES[(sent + i) % MATCHES.length]!, userId: `u${i % 50}`, emoji: '🔥' }));
    sent += perTick;
    fetch(`${api.url}/v1/reactions/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reactions }) }).then(
      (r) => (r.status === 202 ? undefined : failed++),
      () => failed++,
    );
  }, 100);
  const started = Date.now();
  try {
    console.error(`[bench:recovery] steady load ${RATE}/s for ${MINUTES} min`);
    await sleep(MINUTES * 60_000);
    const killedAt = Date.now();
    aggs[0]!.kill('SIGKILL');
    // Resumed when every match has a window that opened after the kill.
    const resumedAt = new Map<string, number>();
    while (resumedAt.size < MATCHES.length && Date.now() - killedAt < 180_000) {
      for (const m of MATCHES) {
        if (resumedAt.has(m)) continue;
        const latest = await bus.latest(m);
        if (latest && latest.windowStart >= killedAt) resumedAt.set(m, Date.now());
      }
      await sleep(100);
    }
    const times = [...resumedAt.values()].map((t) => (t - killedAt) / 1000);
    report('recovery', [
      {
        uptimeMin: Number(((killedAt - started) / 60_000).toFixed(1)),
        reactionsPerSec: RATE,
        matchesResumed: `${resumedAt.size}/${MATCHES.length}`,
        // The window that opened at the kill closes ~windowMs + graceMs later: that much is the pipeline's own delay.
        firstWindowAfterKillSec: times.length ? Number(Math.max(...times).toFixed(1)) : -1,
        windowPlusGraceSec: 3,
        requestsFailed: failed,
      },
    ]);
  } finally {
    clearInterval(load);
    await bus.close();
    for (const c of [api, aggs[1]!, publisher]) await stopChild(c);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
