import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { readInfraEnv } from '../../helpers/infra-env.js';

/**
 * The chaos tier's own services, started by the project's scripts on ports no other tier uses,
 * so killing them disturbs nobody else's tests.
 */
const root = path.resolve(import.meta.dirname, '../..');
// The defaults are the tier's assigned ports; CHAOS_* move it when another checkout on the same
// machine runs its own copy of the tier at the same time.
const env = (name: string, fallback: string) => process.env[`CHAOS_${name}`] ?? fallback;
export const chaosEnv: Record<string, string> = {
  EMOSTREAM_INFRA_DIR: env('INFRA_DIR', path.join(root, '.infra/chaos')),
  KAFKA_PORT: env('KAFKA_PORT', '29092'),
  KAFKA_CONTROLLER_PORT: env('KAFKA_CONTROLLER_PORT', '29093'),
  REGISTRY_PORT: env('REGISTRY_PORT', '28081'),
  REGISTRY_MANAGEMENT_PORT: env('REGISTRY_MANAGEMENT_PORT', '28082'),
  REDIS_PORT: env('REDIS_PORT', '26379'),
  KAFKA_HEAP_OPTS: '-Xms128m -Xmx512m',
};

export type Service = 'kafka' | 'registry' | 'redis';

function script(service: Service | 'up', ...args: string[]): string {
  const file = path.join(root, 'scripts/infra', `${service === 'up' ? 'up' : service}.sh`);
  return execFileSync('bash', [file, ...args], { env: { ...process.env, ...chaosEnv }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 60_000 });
}

/** Starts all three (a no-op for those already running) and returns their addresses. Throws if one cannot start. */
export function upAll(): { brokers: string; registryUrl: string; redisUrl: string } {
  // The registry's file store from an earlier run may be left unopenable by that run's kill -9
  // ("Writing to FileChannel failed" at start). Each run registers its own new subjects, so it
  // starts from an empty store; the kill -9 inside the run still tests that the store survives.
  script('registry', 'reset');
  // Only what the tier kills: PostgreSQL (the archive) is not part of it, and its port is the integration tier's.
  script('up', 'kafka', 'registry', 'redis');
  const env = readInfraEnv(path.join(chaosEnv.EMOSTREAM_INFRA_DIR!, 'env'));
  return { brokers: env.KAFKA_BROKERS!, registryUrl: env.SCHEMA_REGISTRY_URL!, redisUrl: env.REDIS_URL! };
}

export function start(service: Service): void {
  script(service, 'start');
}

export function stop(service: Service): void {
  script(service, 'stop');
}

function pidOf(service: Service): number {
  const out = script(service, 'status');
  const pid = /pid (\d+)/.exec(out)?.[1];
  if (!pid) throw new Error(`${service} is not running: ${out}`);
  return Number(pid);
}

/**
 * SIGSTOP, then SIGCONT after `ms`: a hung service, not a dead one. Its sockets stay open and
 * nothing answers: clients see timeouts, not refused connections, and no restart clears its state.
 */
export async function freeze(service: Service, ms: number): Promise<void> {
  const pid = pidOf(service);
  process.kill(pid, 'SIGSTOP');
  try {
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

/** kill -9 of the service's process: no shutdown, nothing flushed. */
export function kill9(service: Service): void {
  const pid = String(pidOf(service));
  process.kill(Number(pid), 'SIGKILL');
  // The scripts' status reads the pid file: wait until the process is really gone.
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(Number(pid), 0);
    } catch {
      return;
    }
    execFileSync('sleep', ['0.1']);
  }
}

/**
 * What the broker says about transactions and group offsets, for a fault the pipeline did not
 * recover from: open or hanging transactions (a pending offset commit no coordinator will end
 * blocks every read_committed OffsetFetch of its partitions) and each group's committed offsets.
 */
export function kafkaDiagnostics(brokers: string): string {
  const run = (args: string[]) => {
    try {
      return script('kafka', 'run-class', ...args) || '(nothing)';
    } catch (err) {
      return `failed: ${(err as Error).message.split('\n')[0]}`;
    }
  };
  return [
    `transactions not complete:\n${run(['org.apache.kafka.tools.TransactionsCommand', '--bootstrap-server', brokers, 'list'])
      .split('\n')
      .filter((l) => !/\b(CompleteCommit|CompleteAbort|Empty)\b/.test(l))
      .join('\n')}`,
    `hanging:\n${run(['org.apache.kafka.tools.TransactionsCommand', '--bootstrap-server', brokers, 'find-hanging', '--broker-id', '1'])}`,
    `groups:\n${run(['org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', '--bootstrap-server', brokers, '--describe', '--all-groups', '--offsets'])}`,
  ].join('\n');
}

/**
 * Copies the chaos services' logs (broker, registry, Redis) beside the test results, for a fault
 * the pipeline did not heal: CI keeps test-results/, while .infra/chaos goes with the machine.
 */
export function keepServiceLogs(label: string): string | undefined {
  const from = path.join(chaosEnv.EMOSTREAM_INFRA_DIR!, 'logs');
  if (!existsSync(from)) return undefined;
  const to = path.join(root, 'test-results', `chaos-logs-${label.replace(/[^A-Za-z0-9-]+/g, '_')}-${Date.now()}`);
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) if (/\.(log|out)(\.\d+)?$/.test(f)) cpSync(path.join(from, f), path.join(to, f));
  return to;
}
