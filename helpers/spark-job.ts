// Runs the Spark job (spark/run.sh) as a child process for the conformance test and the benchmark.
// The child leads its own process group (python driver + the JVM it launches), so stop() and the
// exit hook end the whole group; --run-seconds caps an orphan's life if this process is killed hard.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { repoRoot, schemasDir } from '../src/domain/schemas-dir.js';

export interface SparkJobOptions {
  brokers: string;
  registryUrl: string;
  reactionsTopic: string;
  aggregatesTopic: string;
  /** A fresh directory per run (the state layout is tied to it). */
  checkpoint: string;
  /** Where the child's stdout + stderr go. */
  logFile: string;
  master?: string;
  driverMemory?: string;
  shufflePartitions?: number;
  /** The processingTime trigger (the job's --trigger-ms, SPARK_TRIGGER_MS); default 2000. */
  triggerMs?: number;
  /** The same in seconds (older option; triggerMs wins). */
  triggerSeconds?: number;
  /** Hard cap on the job's life (the job stops itself); a safety net for orphans. */
  runSeconds?: number;
  env?: Record<string, string>;
  /** Extra Spark conf (K=V), each passed as --conf. */
  conf?: string[];
}

export interface LogLine {
  at: number;
  text: string;
}

export interface SparkJob {
  readonly pid: number;
  readonly startedAt: number;
  readonly lines: LogLine[];
  /** Resolves with the first line (already seen or future) matching `re`; rejects on timeout or exit. */
  waitForLine(re: RegExp, timeoutMs: number): Promise<LogLine & { match: RegExpExecArray }>;
  /** The last lines of output, for failure messages. */
  tail(n?: number): string;
  readonly exitCode: number | null;
  /** SIGTERM (the job stops its query), then SIGKILL after `graceMs`; whole process group. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL to the whole process group at once (a driver crash: no query stop, no flush). */
  kill(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* gone */
    }
  }
}
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of live) killGroup(c, 'SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const c of live) killGroup(c, 'SIGKILL');
      process.exit(130);
    });
  }
}

/** spark/install.sh (cached, a no-op when installed); throws when it cannot install. */
export function ensureSparkInstalled(): void {
  execFileSync('bash', [path.join(repoRoot(), 'spark/install.sh')], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
}

export function startSparkJob(o: SparkJobOptions): SparkJob {
  hookExit();
  const args = [
    path.join(repoRoot(), 'spark/run.sh'),
    '--bootstrap', o.brokers,
    '--registry-url', o.registryUrl,
    '--reactions-topic', o.reactionsTopic,
    '--aggregates-topic', o.aggregatesTopic,
    '--checkpoint', o.checkpoint,
    '--schemas-dir', schemasDir(),
    '--master', o.master ?? 'local[2]',
    '--driver-memory', o.driverMemory ?? '1g',
    '--shuffle-partitions', String(o.shufflePartitions ?? 2),
    '--trigger-ms', String(o.triggerMs ?? Math.round((o.triggerSeconds ?? 2) * 1000)),
    '--starting-offsets', 'earliest',
    '--conf', 'spark.default.parallelism=2',
    ...(o.conf ?? []).flatMap((kv) => ['--conf', kv]),
    ...(o.runSeconds ? ['--run-seconds', String(o.runSeconds)] : []),
  ];
  const startedAt = Date.now();
  const child = spawn('bash', args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'INFO', EMOSTREAM_SPARK_LOG_LEVEL: 'WARN', SPARK_SUBMIT: '0', ...o.env },
  });
  live.add(child);
  const lines: LogLine[] = [];
  const waiters = new Set<() => void>();
  const file = createWriteStream(o.logFile);
  let partial = '';
  const onData = (d: Buffer) => {
    file.write(d);
    const at = Date.now();
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    for (const text of parts) lines.push({ at, text });
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      file.end();
      resolve();
      for (const w of waiters) w();
    }),
  );

  const tail = (n = 40) => lines.slice(-n).map((l) => l.text).join('\n');
  return {
    pid: child.pid!,
    startedAt,
    lines,
    tail,
    get exitCode() {
      return child.exitCode;
    },
    waitForLine(re, timeoutMs) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < lines.length; seen++) {
            const m = re.exec(lines[seen]!.text);
            if (m) {
              done();
              resolve({ ...lines[seen]!, match: m });
              return;
            }
          }
          if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`Spark job exited (${child.exitCode ?? child.signalCode}) before ${re}; output:\n${tail()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`Spark job: no line matching ${re} within ${timeoutMs} ms; output:\n${tail()}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // The JVM exits with its python parent (stdin EOF); make sure nothing of the group stays.
      killGroup(child, 'SIGKILL');
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child, 'SIGKILL');
      await exited;
    },
  };
}

/** Parsed "progress batch=..." lines of the job (one per micro-batch). */
export interface SparkProgress {
  at: number;
  batch: number;
  input: number;
  durationMs: number;
  /** Batch start (the trigger time) in ms since the epoch. */
  startedAt: number;
  removed: number;
  droppedLate: number;
  /** Spark's durationMs per phase (addBatch, queryPlanning, walCommit...), when the job logs them. */
  phases: Record<string, number>;
}

export function sparkProgress(lines: LogLine[]): SparkProgress[] {
  const out: SparkProgress[] = [];
  const re = /progress batch=(\d+) input=(\d+) durationMs=(-?\d+) watermark=\S+ timestamp=(\S+) stateRows=\d+ removed=(\d+) droppedLate=(\d+)(?: phases=(\S+))?/;
  for (const l of lines) {
    const m = re.exec(l.text);
    if (!m) continue;
    const phases: Record<string, number> = {};
    for (const kv of m[7] && m[7] !== '-' ? m[7].split(',') : []) {
      const [k, v] = kv.split(':');
      if (k && v !== undefined && Number.isFinite(Number(v))) phases[k] = Number(v);
    }
    out.push({ at: l.at, batch: +m[1]!, input: +m[2]!, durationMs: +m[3]!, startedAt: Date.parse(m[4]!), removed: +m[5]!, droppedLate: +m[6]!, phases });
  }
  return out;
}
