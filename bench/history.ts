// The nightly suite's history: one JSON line per run in <results>/history.jsonl (append-only), the
// metrics of every bench flattened to (bench, case, metric) -> value, so runs can be compared and
// charted without the benches' own formats. Format documented in bench/README.md.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** A bench's JSON output (bench/lib.ts report()). */
export interface BenchResultFile {
  bench: string;
  rows: Array<Record<string, string | number>>;
}

export interface Metric {
  /** The result's name: embedded, kafka-http, kafka-producer, kafka-aggregator, fanout, spark. */
  bench: string;
  /** The row's identity: its label columns joined with " · ". */
  case: string;
  metric: string;
  value: number;
  better: 'higher' | 'lower';
  /** `ratio`: against a baseline measured in the same run (robust to the machine's speed). */
  kind: 'absolute' | 'ratio';
}

export interface BenchOutcome {
  name: string;
  status: 'ok' | 'failed' | 'timeout' | 'skipped';
  seconds: number;
  error?: string;
  /** JSON files the bench wrote, relative to the results folder. */
  files: string[];
}

export interface RunRecord {
  id: string;
  at: string;
  commit: string;
  node: string;
  smoke: boolean;
  budgetS: number;
  benches: BenchOutcome[];
  metrics: Metric[];
}

/** Columns that name a row rather than measure it. */
const LABELS = ['part', 'case', 'log', 'aggregator', 'measured', 'compression', 'lingerMs', 'clients'];
const HIGHER = new Set(['rps', 'reactionsPerSec', 'msgsPerSec', 'ratio', 'ratioToMemory']);
const LOWER = new Set(['p50Ms', 'p99Ms', 'maxMs', 'ackP50Ms', 'ackP99Ms', 'toAllP50Ms', 'toAllP99Ms', 'toFirstP50Ms', 'clientP50Ms', 'clientP99Ms', 'nodeKiBPerConn', 'nodeCpuMsPerUpdate']);
const RATIOS = new Set(['ratio', 'ratioToMemory']);

export const historyFile = (dir: string) => path.join(dir, 'history.jsonl');

/** The figures of one bench result that can get better or worse, each with its direction. */
export function metricsOf(result: BenchResultFile): Metric[] {
  const out: Metric[] = [];
  for (const row of result.rows) {
    const label = LABELS.filter((k) => row[k] !== undefined).map((k) => (k === 'case' ? String(row[k]) : `${k}=${row[k]}`)).join(' · ');
    for (const [metric, value] of Object.entries(row)) {
      if (typeof value !== 'number' || !Number.isFinite(value) || LABELS.includes(metric)) continue;
      if (!HIGHER.has(metric) && !LOWER.has(metric)) continue;
      // Spark's latency rows carry a ratio of latencies (Spark p50 / TypeScript p50): lower is better.
      const latencyRatio = RATIOS.has(metric) && row.p50Ms !== undefined;
      out.push({
        bench: result.bench,
        case: label,
        metric,
        value,
        better: HIGHER.has(metric) && !latencyRatio ? 'higher' : 'lower',
        kind: RATIOS.has(metric) ? 'ratio' : 'absolute',
      });
    }
  }
  return out;
}

export function readHistory(dir: string): RunRecord[] {
  const file = historyFile(dir);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l, i) => {
      try {
        return JSON.parse(l) as RunRecord;
      } catch (err) {
        throw new Error(`${file}:${i + 1} is not a JSON run record: ${(err as Error).message}`, { cause: err });
      }
    });
}

export function appendRun(dir: string, run: RunRecord): void {
  mkdirSync(dir, { recursive: true });
  appendFileSync(historyFile(dir), `${JSON.stringify(run)}\n`);
}

export const metricKey = (m: Pick<Metric, 'bench' | 'case' | 'metric'>) => `${m.bench}\u0000${m.case}\u0000${m.metric}`;
