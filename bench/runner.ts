// Runs the benches one after the other, each in its own process group under what is left of the
// time budget (killed when it runs over), with smaller parameters in a smoke run. Each bench writes
// its JSON into its own folder (BENCH_RESULTS_DIR), read back here.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../src/domain/schemas-dir.js';
import type { BenchOutcome, BenchResultFile } from './history.js';

export interface BenchSpec {
  name: string;
  script: string;
  /** Environment of a smoke run (seconds instead of minutes); the caller's own env wins. */
  smokeEnv: Record<string, string>;
  /** Holds tens of thousands of sockets: raise `ulimit -n` first, as `npm run bench:fanout` does. */
  manyFiles?: boolean;
}

export const BENCHES: BenchSpec[] = [
  { name: 'embedded', script: 'bench/embedded.ts', smokeEnv: { BENCH_SECONDS: '1', BENCH_WARMUP_SECONDS: '0', BENCH_CONNECTIONS: '10', BENCH_AGG_REACTIONS: '100000' } },
  {
    name: 'kafka',
    script: 'bench/kafka.ts',
    smokeEnv: { BENCH_SECONDS: '1', BENCH_CONNECTIONS: '10', BENCH_PRODUCER_MESSAGES: '20000', BENCH_LINGERS: '5', BENCH_COMPRESSIONS: 'lz4', BENCH_AGG_REACTIONS: '20000' },
  },
  { name: 'fanout', script: 'bench/fanout.ts', smokeEnv: { BENCH_FANOUT_SIZES: '200', BENCH_FANOUT_FLOOR_SIZES: '200', BENCH_FANOUT_UPDATES: '3', BENCH_FANOUT_PAIRS: '2', BENCH_FANOUT_SETTLE_S: '0', BENCH_FANOUT_IDLE_S: '1' }, manyFiles: true },
  { name: 'spark', script: 'bench/spark.ts', smokeEnv: { BENCH_REACTIONS: '5000', BENCH_RATE: '2500' } },
];

export interface RunOptions {
  smoke: boolean;
  /** Folder of this run's raw results; each bench writes into <dir>/<bench>/. */
  dir: string;
  /** Results folder the file paths in the outcome are relative to. */
  resultsDir: string;
  deadline: number;
  /** Seconds given to a bench to stop after SIGTERM before SIGKILL. */
  graceS?: number;
  log?: (line: string) => void;
}

/** Runs one bench; never throws: a failure or a timeout is the outcome. */
export async function runBench(spec: BenchSpec, o: RunOptions): Promise<{ outcome: BenchOutcome; results: BenchResultFile[] }> {
  const started = Date.now();
  const left = o.deadline - started;
  const elapsed = () => (Date.now() - started) / 1000;
  if (left < 5_000) return { outcome: { name: spec.name, status: 'skipped', seconds: 0, error: 'time budget spent', files: [] }, results: [] };
  const dir = path.join(o.dir, spec.name);
  mkdirSync(dir, { recursive: true });
  const node = `${JSON.stringify(process.execPath)} --import tsx ${JSON.stringify(spec.script)}`;
  const command = spec.manyFiles ? `ulimit -n 200000 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${node}` : `exec ${node}`;
  const env = { ...(o.smoke ? spec.smokeEnv : {}), ...process.env, BENCH_RESULTS_DIR: dir };
  o.log?.(`[bench] ${spec.name}: starting (${Math.round(left / 1000)} s of budget left)`);
  const child = spawn('bash', ['-c', command], { cwd: repoRoot(), env, stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  let timedOut = false;
  const kill = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig); // the whole group: the bench's servers and loaders too
    } catch {
      /* already gone */
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill('SIGTERM');
    setTimeout(() => kill('SIGKILL'), (o.graceS ?? 10) * 1000).unref();
  }, left);
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', (c) => resolve(c));
    child.once('error', () => resolve(null));
  });
  clearTimeout(timer);
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const results = files.map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as BenchResultFile);
  const rel = files.map((f) => path.relative(o.resultsDir, path.join(dir, f)));
  const status: BenchOutcome['status'] = timedOut ? 'timeout' : code === 0 ? 'ok' : 'failed';
  const outcome: BenchOutcome = { name: spec.name, status, seconds: elapsed(), files: rel };
  if (status === 'timeout') outcome.error = `over the time budget after ${Math.round(elapsed())} s`;
  if (status === 'failed') outcome.error = `exited with ${code}`;
  o.log?.(`[bench] ${spec.name}: ${status} in ${elapsed().toFixed(1)} s, ${results.length} result file(s)`);
  return { outcome, results };
}
