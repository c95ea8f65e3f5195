import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { scrapeMetric } from '../../helpers/metrics.js';
import { ROLE_NODE_FLAGS } from '../../scripts/role-node-flags.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface RoleProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** kill -9: no shutdown hooks, no flush, an open transaction left behind. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
  /** Throws when the process does not export the metric (an absent series is not a zero). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

/** Runs `src/main.ts` as its own process (one role), as a deployment would, and waits for its URL. */
export async function startRoleProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<RoleProcess> {
  const child = spawn(process.execPath, [...ROLE_NODE_FLAGS, '--import', 'tsx', path.join(root, 'src/main.ts')], {
    cwd: root,
    // node-rdkafka's blocking calls run on libuv's pool (4 threads by default); see scripts/start.mjs.
    env: { UV_THREADPOOL_SIZE: '16', ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env, ...(process.env.EMO_ROLE_LOG_LEVEL ? { LOG_LEVEL: process.env.EMO_ROLE_LOG_LEVEL } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  // EMO_ROLE_LOG_DIR keeps each role's whole output in a file (with EMO_ROLE_LOG_LEVEL=info and
  // KAFKA_DEBUG, what a rare fault was spent on); the in-memory copy is what a failure prints.
  const file = process.env.EMO_ROLE_LOG_DIR ? logFile(process.env.EMO_ROLE_LOG_DIR, env.ROLE ?? 'all', child.pid) : undefined;
  const take = (d: Buffer) => {
    out += d.toString();
    file?.write(d);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  child.once('exit', () => file?.end());
  const exited = new Promise<void>((resolve) => child.once('exit', () => (live.delete(child), resolve())));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`role did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const check = () => {
      const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`role exited with ${code} before starting:\n${out}`));
    });
  });
  return {
    child,
    url,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async metric(name: string, labels?: Record<string, string>) {
      return scrapeMetric(url, name, labels);
    },
  };
}

function logFile(dir: string, role: string, pid: number | undefined) {
  mkdirSync(dir, { recursive: true });
  return createWriteStream(path.join(dir, `${role}-${pid ?? 'x'}.log`));
}
