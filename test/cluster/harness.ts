// The cluster fault tests' pipeline: role processes on the cluster profile's services, a load of
// reactions through the API with every answer recorded, live clients on every fan-out node, and the
// per-fault accounting (time without updates, reactions acknowledged meanwhile, lost, duplicated).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocket } from 'ws';
import { windowStartFor } from '../../src/domain/windows.js';
import type { Config } from '../../src/config/config.js';
import { EmoStreamClient, type LiveMessage, type LiveSubscription } from '../../packages/sdk/src/index.js';
import type { WebSocketCtor } from '../../packages/sdk/src/types.js';
import { createTopics, envFor, kafkaConfig } from '../../helpers/kafka.js';
import { startRoleProcess, type RoleProcess } from '../helpers/role-process.js';

export const root = path.resolve(import.meta.dirname, '../..');
export const clusterDir = path.join(root, '.infra/cluster');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one of scripts/infra's cluster scripts and returns its stdout. */
export function infra(script: 'kafka-cluster' | 'redis-ha' | 'spark-cluster' | 'cluster', ...args: string[]): string {
  return execFileSync('bash', [path.join(root, `scripts/infra/${script}.sh`), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EMOSTREAM_INFRA_DIR: clusterDir } }).trim();
}

/** kill -9 of a pid; resolves once it is gone. */
export async function kill9(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
  throw new Error(`pid ${pid} still alive after SIGKILL`);
}

export function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

const opened: Array<{ close(): Promise<void> }> = [];
/** Closes, newest first, every pipeline and viewer set this file started (afterAll). */
export async function closeAll(): Promise<void> {
  for (const o of opened.splice(0).reverse()) await o.close();
}

export const MATCHES = ['m-0', 'm-1', 'm-2', 'm-3'];
const EMOJIS = ['🔥', '😂', '😢', '🏏', '👏'];

export interface Pipeline {
  config: Config;
  env: Record<string, string>;
  api: RoleProcess;
  aggregators: RoleProcess[];
  publisher: RoleProcess;
  fanouts: RoleProcess[];
  close(): Promise<void>;
}

/**
 * api, two aggregators (INSTANCE_ID agg-0/agg-1, as StatefulSet ordinals), the publisher and two
 * fan-out nodes, each its own process, on fresh topics of the cluster (replication 3).
 */
export async function startPipeline(opts: { aggregators?: number; graceMs?: number; publisherTopic?: (config: Config) => string; extraEnv?: Record<string, string> } = {}): Promise<Pipeline> {
  const config = kafkaConfig({ kafka: { reactionsPartitions: 6, replicationFactor: 3 }, ...(opts.graceMs !== undefined ? { aggregation: { graceMs: opts.graceMs } } : {}) });
  await createTopics(config);
  // The publisher may read another writer's aggregates (the Spark job's) than the aggregators write.
  const publisherTopic = opts.publisherTopic?.(config);
  if (publisherTopic) await createTopics({ ...config, log: { ...config.log, aggregatesTopic: publisherTopic } });
  const env = { ...envFor(config), KAFKA_REPLICATION_FACTOR: '3', USER_RATE_PER_SEC: '1000000', USER_BURST: '10000000', ...opts.extraEnv };
  const procs: RoleProcess[] = [];
  const start = async (e: Record<string, string>) => {
    const p = await startRoleProcess({ ...env, ...e }, 90_000);
    procs.push(p);
    return p;
  };
  try {
    const api = await start({ ROLE: 'api', INSTANCE_ID: 'api-0' });
    const aggregators: RoleProcess[] = [];
    for (let i = 0; i < (opts.aggregators ?? 2); i++) aggregators.push(await start({ ROLE: 'aggregator', INSTANCE_ID: `agg-${i}` }));
    const publisher = await start({ ROLE: 'publisher', INSTANCE_ID: 'pub-0', ...(publisherTopic ? { AGGREGATES_TOPIC: publisherTopic } : {}) });
    const fanouts = [await start({ ROLE: 'fanout', INSTANCE_ID: 'fan-0' }), await start({ ROLE: 'fanout', INSTANCE_ID: 'fan-1' })];
    const pipeline: Pipeline = {
      config,
      env,
      api,
      aggregators,
      publisher,
      fanouts,
      async close() {
        for (const p of procs.reverse()) await p.stop();
      },
    };
    opened.push(pipeline);
    return pipeline;
  } catch (err) {
    for (const p of procs.reverse()) await p.stop();
    throw err;
  }
}

interface SentBatch {
  at: number;
  status: number | 'network';
  /** The error code and message of a non-202 answer, to tell a refusal's cause in a failure. */
  error?: string;
  reactions: Array<{ matchId: string; userId: string; emoji: string; ts: number }>;
}

/**
 * Reactions through the API: a batch of `batchSize` every `everyMs`, ts set here, each answer kept.
 * No retries: a 202 is an acknowledged reaction; anything else is an unknown outcome (it may or
 * may not be in the log), which bounds the expected counts from above only.
 */
function errorOf(body: string): string {
  try {
    const e = JSON.parse(body) as { code?: string; message?: string };
    return `${e.code}: ${e.message}`;
  } catch {
    return body.slice(0, 200);
  }
}

export class Load {
  readonly batches: SentBatch[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inflight = new Set<Promise<void>>();
  #n = 0;

  constructor(private readonly apiUrl: string, private readonly o: { batchSize: number; everyMs: number; matches?: string[] }) {}

  start(): void {
    this.#timer = setInterval(() => this.#send(), this.o.everyMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.all(this.#inflight);
  }

  /** One reaction now, outside the steady load (e.g. to push Spark's watermark past the last window). */
  async one(matchId: string): Promise<number> {
    const r = { matchId, userId: 'flush', emoji: '🔥', ts: Date.now() };
    const res = await fetch(`${this.apiUrl}/v1/reactions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(r) });
    return res.status;
  }

  #send(): void {
    const matches = this.o.matches ?? MATCHES;
    const reactions: SentBatch['reactions'] = [];
    const ts = Date.now();
    for (let i = 0; i < this.o.batchSize; i++) {
      const k = this.#n++;
      reactions.push({ matchId: matches[k % matches.length]!, userId: `u${k % 997}`, emoji: EMOJIS[(k * 7) % EMOJIS.length]!, ts });
    }
    const p = fetch(`${this.apiUrl}/v1/reactions/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ reactions }), signal: AbortSignal.timeout(60_000) })
      .then(
        async (res) => {
          const body = await res.text();
          const batch: SentBatch = { at: Date.now(), status: res.status, reactions };
          if (res.status !== 202) batch.error = errorOf(body);
          this.batches.push(batch);
        },
        () => {
          this.batches.push({ at: Date.now(), status: 'network', reactions });
        },
      )
      .finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }

  acknowledged(from = 0, to = Infinity): number {
    return this.batches.filter((b) => b.status === 202 && b.at >= from && b.at < to).reduce((n, b) => n + b.reactions.length, 0);
  }

  /** Non-202 answers by code and message. */
  errors(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const b of this.batches) if (b.error !== undefined) out[b.error] = (out[b.error] ?? 0) + 1;
    return out;
  }

  statuses(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const b of this.batches) out[String(b.status)] = (out[String(b.status)] ?? 0) + 1;
    return out;
  }

  /** Per window (matchId|windowStart): reactions acknowledged, and those whose outcome is unknown. */
  expected(windowMs: number): Map<string, { acked: number; unknown: number }> {
    const m = new Map<string, { acked: number; unknown: number }>();
    for (const b of this.batches) {
      for (const r of b.reactions) {
        const key = `${r.matchId}|${windowStartFor(r.ts, windowMs)}`;
        const e = m.get(key) ?? { acked: 0, unknown: 0 };
        if (b.status === 202) e.acked++;
        else if (b.status === 'network' || b.status >= 500) e.unknown++;
        m.set(key, e);
      }
    }
    return m;
  }
}

export interface Received {
  at: number;
  msg: LiveMessage;
}

/** Live clients: `perNode` subscriptions to every match on each fan-out node. */
export class Viewers {
  readonly got = new Map<string, Received[]>();
  readonly gaps = new Map<string, string[]>();
  readonly subs: LiveSubscription[] = [];
  readonly clients: EmoStreamClient[] = [];

  constructor(nodes: RoleProcess[], matches = MATCHES) {
    opened.push(this);
    nodes.forEach((node, n) => {
      for (const m of matches) {
        const id = `node${n}/${m}`;
        const c = new EmoStreamClient({ baseUrl: node.url, userId: `viewer-${id}`, WebSocket: WebSocket as unknown as WebSocketCtor, reconnectBaseMs: 100, reconnectMaxMs: 1000 });
        this.clients.push(c);
        this.got.set(id, []);
        this.gaps.set(id, []);
        this.subs.push(c.subscribe(m, (msg) => msg.type === 'update' && this.got.get(id)!.push({ at: Date.now(), msg }), { gap: (g) => this.gaps.get(id)!.push(g.reason) }));
      }
    });
  }

  connected(): boolean {
    return this.subs.every((s) => s.state === 'connected');
  }

  /** Longest time any client went without an update between `from` and `to` (ms). */
  longestSilence(from: number, to: number): number {
    return this.silence(from, to).ms;
  }

  /**
   * The longest silence, with where it was: the client (node/match), when it began and the window
   * of the update that ended it, so a long one can be told apart (the node's death, or its return).
   */
  silence(from: number, to: number): { ms: number; client: string; from: number; endedBy: number | undefined } {
    let worst = { ms: 0, client: '', from, endedBy: undefined as number | undefined };
    for (const [client, list] of this.got) {
      let prev = from;
      for (const r of list) {
        if (r.at < from) continue;
        if (r.at > to) break;
        if (r.at - prev > worst.ms) worst = { ms: r.at - prev, client, from: prev, endedBy: r.msg.type === 'update' ? r.msg.windowStart : undefined };
        prev = r.at;
      }
      const tail = Math.min(to, Date.now()) - prev;
      if (tail > worst.ms) worst = { ms: tail, client, from: prev, endedBy: undefined };
    }
    return worst;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close(500)));
  }
}

/** Live clients on every fan-out node, then the load, running until its updates reach them all. */
export async function startFlow(pipeline: Pipeline, o: { batchSize: number; everyMs: number; firstUpdateTimeoutMs?: number }): Promise<{ viewers: Viewers; load: Load; t0: number }> {
  const viewers = new Viewers(pipeline.fanouts);
  await waitFor('live clients connected', () => viewers.connected(), 30_000);
  const load = new Load(pipeline.api.url, o);
  const t0 = Date.now();
  load.start();
  opened.push({ close: () => load.stop() });
  await waitFor('updates flowing to every client', () => [...viewers.got.values()].every((l) => l.length >= 2), o.firstUpdateTimeoutMs ?? 180_000);
  return { viewers, load, t0 };
}

export interface Verdict {
  lost: number;
  duplicated: number;
  windowsChecked: number;
  problems: string[];
}

/**
 * What every client saw against what the API acknowledged, window by window: each window once, in
 * order, linked by prevSeq (one gap allowed per client where `allowGaps` says so), and
 * acked <= counted <= acked + unknown. Windows from `from` on (ts) only; the last open one is left out.
 */
export function verify(load: Load, viewers: Viewers, windowMs: number, o: { from?: number; until: number; allowGaps?: number }): Verdict {
  const expected = load.expected(windowMs);
  const problems: string[] = [];
  let lost = 0;
  let duplicated = 0;
  let windowsChecked = 0;
  for (const [id, list] of viewers.got) {
    const match = id.slice(id.indexOf('/') + 1);
    const seen = new Map<number, LiveMessage>();
    let gaps = 0;
    list.forEach((r, i) => {
      const u = r.msg;
      if (seen.has(u.windowStart)) {
        duplicated += u.total;
        problems.push(`${id}: window ${u.windowStart} delivered twice`);
      }
      seen.set(u.windowStart, u);
      if (i > 0 && u.prevSeq !== list[i - 1]!.msg.seq) {
        gaps++;
        if (gaps > (o.allowGaps ?? 0)) problems.push(`${id}: update ${u.seq} follows ${list[i - 1]!.msg.seq} but links to ${u.prevSeq}`);
      }
    });
    for (const [key, e] of expected) {
      const [m, startText] = key.split('|');
      const start = Number(startText);
      if (m !== match || start < (o.from ?? 0) || start + windowMs > o.until) continue;
      windowsChecked++;
      const got = seen.get(start)?.total ?? 0;
      if (got < e.acked) {
        lost += e.acked - got;
        problems.push(`${id}: window ${key} has ${got}, ${e.acked} acknowledged`);
      }
      if (got > e.acked + e.unknown) {
        duplicated += got - e.acked - e.unknown;
        problems.push(`${id}: window ${key} has ${got}, at most ${e.acked + e.unknown} sent`);
      }
    }
  }
  return { lost, duplicated, windowsChecked, problems };
}

export interface FaultRow {
  fault: string;
  'no updates (s)': string;
  'acked during fault': number;
  'non-202 answers': number;
  lost: number;
  duplicated: number;
  windows: number;
}

export function printRow(row: FaultRow): void {
  console.log(`\n[cluster] ${row.fault}`);
  console.table([row]);
}

/** RSS of the cluster's service processes (scripts/infra/cluster.sh rss) and of this test's roles. */
export function printMemory(roles: Record<string, RoleProcess | { pid: number }>): void {
  console.log(`\n[cluster] resident memory of the cluster processes\n${infra('cluster', 'rss')}`);
  const rows = Object.entries(roles).map(([name, p]) => {
    const pid = 'child' in p ? p.child.pid! : p.pid;
    return { role: name, pid, 'RSS MiB': rssMiB(pid) };
  });
  console.table(rows);
}

/** The broker leading a partition of `topic`, per partition (kafka-topics --describe). */
export function partitionLeaders(topic: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of infra('kafka-cluster', 'topics', '--describe', '--topic', topic).split('\n')) {
    const m = /Partition:\s*(\d+)\s+Leader:\s*(-?\d+)/.exec(line);
    if (m) out.set(Number(m[1]), Number(m[2]));
  }
  return out;
}

/** The node coordinating a transactional id (kafka-transactions describe). */
export function transactionCoordinator(transactionalId: string): number {
  const out = infra('kafka-cluster', 'run-class', 'org.apache.kafka.tools.TransactionsCommand', '--bootstrap-server', infra('kafka-cluster', 'bootstrap'), 'describe', '--transactional-id', transactionalId);
  const lines = out.split('\n').filter((l) => l.trim());
  const header = lines.findIndex((l) => /CoordinatorId/.test(l));
  if (header < 0 || !lines[header + 1]) throw new Error(`no CoordinatorId in:\n${out}`);
  const cols = lines[header]!.trim().split(/\s+/);
  return Number(lines[header + 1]!.trim().split(/\s+/)[cols.indexOf('CoordinatorId')]);
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
