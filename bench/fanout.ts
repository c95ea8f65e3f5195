// npm run bench:fanout — one fan-out node (ROLE=fanout, Redis bus) holding N WebSocket clients,
// for N in BENCH_FANOUT_SIZES (1000,10000,50000). The clients live in other processes
// (bench/fanout-load.ts, BENCH_FANOUT_PER_LOADER clients each, spread over 127.0.0.x local
// addresses); this process publishes window updates with RedisBus.publish under its own key
// prefix, so the path measured is Redis (publish script + pub/sub) -> node -> N sockets.
//
// Per N: connections held by the node, its RSS before and after (process_resident_memory_bytes on
// /metrics) and per connection, the loaders' RSS per client, then BENCH_FANOUT_PAIRS blocks of
// BENCH_FANOUT_UPDATES updates: for each update, the time from publish to the first and to the last
// (all N) client receiving it, and the per-client p50/p99, reported as p50/p99 over every update;
// per block the node's CPU per client per update (user, system), reported as the median block.
//
// One process holds at most `ulimit -n` sockets: when N is above that (less a margin), the clients
// are spread evenly over ceil(N / BENCH_FANOUT_NODE_MAX) nodes, as a deployment would (fanout x3).
//
// Env: BENCH_FANOUT_SIZES, BENCH_FANOUT_UPDATES (20 per block), BENCH_FANOUT_PAIRS (5 blocks),
// BENCH_FANOUT_SETTLE_S (90: unmeasured updates first, while the node's heap settles),
// BENCH_FANOUT_IDLE_S (4: after each block, the node's CPU with no update going out, per second),
// BENCH_FANOUT_PER_LOADER (17000),
// BENCH_FANOUT_NODE_MAX (ulimit -n - 1000, at most 50000),
// BENCH_FANOUT_ADDRS_PER_LOADER (2), BENCH_FANOUT_CONCURRENCY (250 handshakes in flight per
// loader), BENCH_FANOUT_PING_MS (the node's WS_PING_INTERVAL_MS, 3600000: no heartbeat inside
// the measurement), EMO_SKIP_INFRA_UP=1,
// BENCH_FANOUT_FLOOR_SIZES (10000; empty: none).
//
// The floor: for each of BENCH_FANOUT_FLOOR_SIZES the same clients and updates are run against
// bench/bare-ws-server.mjs, a bare ws server that writes one prebuilt frame to every socket, so the
// node's CPU per client can be read against what the write loop and the kernel alone cost here.
// Both hold their clients at the same time and are measured in turn, node block, floor block, node
// block, ... (A B A B): on a shared 2-core machine whose speed drifts over minutes, a block's
// ratio to the floor block beside it is what is comparable. Reported: the median of the pairs'
// ratios and the spread (min, max); the floor's idle clients cost nothing while the node is measured.
// The npm script raises `ulimit -n` where the hard limit allows.
//
// Profiles and transports (issue 24): every size runs once per BENCH_FANOUT_VARIANTS entry
// (json/ws,compact/ws,json/sse,compact/sse): the same clients on /v1/live[?format=compact] or
// /v1/live/events, each with its own floor in its profile (json text frame, compact binary frame). The
// bytes on the wire per update per client for each profile and transport come from the encoders
// themselves (bench/wire-bytes.ts) over a seeded mix of 2-16 emojis per window, and are printed
// first. BENCH_FANOUT_BUS=memory runs the node on the in-process bus (bench/memory-fanout-server.ts)
// where no Redis is at hand: no pub/sub hop, the rest of the node's path is the same.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { repoRoot } from '../src/domain/schemas-dir.js';
import { RedisBus } from '../src/adapters/redis/redis-bus.js';
import { pct, report, sleep, startChild, startRoleChild, stopChild, type Row } from './lib.js';
import { wireBytes } from './wire-bytes.js';
import { encodeCompact } from '../src/wire/compact.js';
import { EmojiCatalog } from '../src/domain/catalog.js';
import { applyInfraEnv, infraDir } from '../helpers/infra-env.js';
import { scrapeMetrics } from '../helpers/metrics.js';

const root = repoRoot();
const env = process.env;
const SIZES = (env.BENCH_FANOUT_SIZES ?? '1000,10000,50000').split(',').map(Number).filter((n) => n > 0);
const UPDATES = Number(env.BENCH_FANOUT_UPDATES ?? 20);
const PAIRS = Number(env.BENCH_FANOUT_PAIRS ?? 5);
const SETTLE_S = Number(env.BENCH_FANOUT_SETTLE_S ?? 90);
const IDLE_S = Number(env.BENCH_FANOUT_IDLE_S ?? 4);
const PER_LOADER = Number(env.BENCH_FANOUT_PER_LOADER ?? 17_000);
const ADDRS_PER_LOADER = Number(env.BENCH_FANOUT_ADDRS_PER_LOADER ?? 2);
const CONCURRENCY = Number(env.BENCH_FANOUT_CONCURRENCY ?? 250);
// The heartbeat (a ping to every socket, a pong back from each) is a cost per connection every
// WS_PING_INTERVAL_MS, not per update: at 30 s it would land in some measured blocks and not in
// others. Off the measurement unless asked for.
const PING_MS = env.BENCH_FANOUT_PING_MS ?? '3600000';
const FLOOR_SIZES = (env.BENCH_FANOUT_FLOOR_SIZES ?? '10000').split(',').map(Number).filter((n) => n > 0);
const BUS = env.BENCH_FANOUT_BUS ?? 'redis';
type Variant = { format: 'json' | 'compact'; transport: 'ws' | 'sse' };
const VARIANTS: Variant[] = (env.BENCH_FANOUT_VARIANTS ?? 'json/ws,compact/ws,json/sse,compact/sse').split(',').filter(Boolean).map((v) => {
  const [format, transport] = v.split('/') as [Variant['format'], Variant['transport']];
  if (!['json', 'compact'].includes(format) || !['ws', 'sse'].includes(transport)) throw new Error(`BENCH_FANOUT_VARIANTS: ${v} is not <json|compact>/<ws|sse>`);
  return { format, transport };
});
const emojiIndex = new Map(EmojiCatalog.load().entries.map((e, i) => [e.emoji, i]));
const RUN = `bench-fanout-${process.pid}-${Date.now().toString(36)}`;
const MATCH = 'bench-match';
const WINDOW_MS = 2000;
const clock = () => Number(process.hrtime.bigint()) / 1e6; // CLOCK_MONOTONIC, shared with the loaders
const round = (x: number, d = 0) => +x.toFixed(d);
const log = (msg: string) => console.error(`[bench:fanout] ${msg}`);

function infra(): void {
  if (env.EMO_SKIP_INFRA_UP !== '1') execFileSync('bash', [path.join(root, 'scripts/infra/up.sh'), 'redis'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const envFile = path.join(infraDir(env), 'env');
  applyInfraEnv(envFile, env, { keepExisting: true });
}

interface Loader {
  child: ChildProcess;
  next<T>(type: string): Promise<T>;
}

function startLoader(): Loader {
  const child = fork(path.join(root, 'bench/fanout-load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<string, Array<{ resolve: (m: unknown) => void; reject: (err: Error) => void }>>();
  const queued = new Map<string, unknown[]>();
  child.on('message', (m: { type: string }) => {
    const w = waiting.get(m.type)?.shift();
    if (w) w.resolve(m);
    else queued.set(m.type, [...(queued.get(m.type) ?? []), m]);
  });
  child.once('exit', (code) => {
    for (const [type, ws] of waiting) for (const w of ws.splice(0)) w.reject(new Error(`loader exited with ${code} while waiting for ${type}`));
  });
  return {
    child,
    next<T>(type: string): Promise<T> {
      const q = queued.get(type);
      if (q && q.length > 0) return Promise.resolve(q.shift() as T);
      if (child.exitCode !== null) return Promise.reject(new Error(`loader exited with ${child.exitCode}`));
      return new Promise<T>((resolve, reject) => {
        waiting.set(type, [...(waiting.get(type) ?? []), { resolve: resolve as (m: unknown) => void, reject }]);
      });
    },
  };
}

function aggregate(seq: number) {
  const windowStart = seq * WINDOW_MS;
  return {
    matchId: MATCH,
    windowStart,
    windowEnd: windowStart + WINDOW_MS,
    counts: { '🔥': 2500, '😂': 1000, '👏': 800, '😡': 120, '😢': 90, '😮': 60, '❤️': 40, '👎': 10 },
    units: { '🔥': 3, '😂': 1, '👏': 1, '😡': 1, '😢': 1, '😮': 1, '❤️': 1, '👎': 1 },
    total: 4620,
    sentiment: 0.5123,
    seq,
  };
}

interface Node {
  child: Awaited<ReturnType<typeof startChild>>;
  url: string;
  share: number;
}

/** What holds the clients: fan-out nodes on the Redis bus, or the bare ws floor. */
interface Target {
  label: string;
  start(maxConnections: number, id: string): Promise<Node>;
  /** Sends update `seq` to every client of `nodes`; false when it was not sent (a dedupe). */
  publish(seq: number, nodes: Node[]): Promise<boolean>;
  /** Where a client of `v` connects. */
  path(v: Variant): string;
}

const livePath = (v: Variant) => `/v1/live${v.transport === 'sse' ? '/events' : ''}?matchId=${MATCH}${v.format === 'compact' ? '&format=compact' : ''}`;

const nodeEnv = (maxConnections: number, id: string): Record<string, string> => ({
  WS_MAX_CONNECTIONS: String(maxConnections + 100),
  WS_MAX_CONNECTIONS_PER_IP: String(maxConnections + 100),
  // The loaders open thousands a second from a few addresses: the admission rate is not under test.
  WS_ADMIT_PER_SEC: '10000000',
  WS_ADMIT_PER_IP_PER_SEC: '10000000',
  WS_PING_INTERVAL_MS: PING_MS,
  INSTANCE_ID: id,
});

/** The fan-out app on the in-process bus, published to over HTTP (no Redis). */
const memoryTarget: Target = {
  label: 'fanout',
  async start(max, id) {
    const child = await startChild(process.execPath, ['--import', 'tsx', path.join(root, 'bench/memory-fanout-server.ts')], { PORT: '0', LOG_LEVEL: 'warn', ...nodeEnv(max, id) }, /listening on (http:\/\/[^\s]+)/, 60_000);
    return { child, url: child.match[1]!, share: 0 };
  },
  async publish(seq, nodes) {
    const body = JSON.stringify(aggregate(seq));
    const r = await Promise.all(nodes.map((n) => fetch(`${n.url}/publish`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then((x) => x.text())));
    return r.every((x) => x === 'ok');
  },
  path: livePath,
};

function fanoutTarget(bus: RedisBus, prefix: string): Target {
  return { label: 'fanout', start: (max, id) => startNode(prefix, max, id), publish: async (seq) => (await bus.publish(aggregate(seq))) !== null, path: livePath };
}

const floorTarget = (format: Variant['format']): Target => ({
  label: 'bare ws (floor)',
  async start() {
    // BENCH_NODE_ARGS (e.g. --cpu-prof) as for the node: the two profiles then compare.
    const child = await startChild(process.execPath, [...(env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), path.join(root, 'bench/bare-ws-server.mjs')], { PORT: '0' }, /listening on (\d+)/);
    return { child, url: `http://127.0.0.1:${child.match[1]}`, share: 0 };
  },
  async publish(seq, nodes) {
    // The bytes the node would send for this update in this profile, framed once by the floor.
    const a = aggregate(seq);
    const body = format === 'json' ? JSON.stringify({ type: 'update', ...a }) : Buffer.from(encodeCompact({ ...a, type: 'update', prevSeq: seq - 1, epoch: 'e', viewers: 1 }, false, emojiIndex)).toString('latin1');
    await Promise.all(nodes.map((n) => fetch(`${n.url}/publish${format === 'compact' ? '?binary=1' : ''}`, { method: 'POST', body: format === 'compact' ? Buffer.from(body, 'latin1') : body }).then((r) => r.text())));
    return true;
  },
  path: () => `/v1/live?matchId=${MATCH}`,
});

async function startNode(prefix: string, maxConnections: number, id: string): Promise<Node> {
  const child = await startRoleChild({
      ROLE: 'fanout',
      BUS_ADAPTER: 'redis',
      REDIS_URL: env.REDIS_URL ?? 'redis://127.0.0.1:16379',
      REDIS_KEY_PREFIX: prefix,
      ...nodeEnv(maxConnections, id),
  });
  return { child, url: child.url, share: 0 };
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const cpu = (m: Record<string, number>[], metric = 'process_cpu_seconds_total') => sum(m.map((x) => x[metric] ?? 0)) * 1000;

/** N clients connected to a target's node(s) and warmed up, ready for measured blocks of updates. */
interface Fleet {
  n: number;
  target: Target;
  v: Variant;
  nodes: Node[];
  loaders: Loader[];
  open: number;
  failed: number;
  errors: Record<string, number>;
  held: number[];
  seq: number;
  row: Row;
  detail: Record<string, unknown>;
}

/** One measured block: `updates` updates to every client of a fleet, the node CPU they cost. */
interface Block {
  /** The block's wall time and the node's CPU in it (all threads), for the idle correction. */
  wallMs: number;
  cpuMs: number;
  userUs: number;
  systemUs: number;
  cpuUs: number;
  toAll: number[];
  toFirst: number[];
  clientP50: number[];
  clientP99: number[];
  missed: number;
}

/**
 * N clients over ceil(N / NODE_MAX) nodes (one process holds at most `ulimit -n` sockets), each
 * node's share over loaders of at most PER_LOADER clients; every viewer joined and one unmeasured
 * update received. The fleet stays connected until closeFleet, so blocks of updates can be
 * measured on it in turn with another fleet's (the node and its floor, alternately).
 */
async function openFleet(n: number, target: Target, nodeMax: number, v: Variant): Promise<Fleet> {
  const nNodes = Math.ceil(n / nodeMax);
  const f: Fleet = { n, target, v, nodes: [], loaders: [], open: 0, failed: 0, errors: {}, held: [], seq: 900_000_000 + (Math.floor(Date.now() / WINDOW_MS) % 1_000_000), row: {}, detail: {} };
  try {
    const { nodes, loaders } = f;
    for (let i = 0; i < nNodes; i++) nodes.push(await target.start(nodeMax, `${RUN}-${n}-${v.format}-${v.transport}-${target.label === 'fanout' ? 'node' : 'floor'}-${i}`));
    nodes.forEach((node, i) => (node.share = Math.floor(n / nNodes) + (i < n % nNodes ? 1 : 0)));
    await sleep(1000);
    const before = await Promise.all(nodes.map((x) => scrapeMetrics(x.url)));
    const plan: Array<{ node: Node; count: number }> = [];
    for (const node of nodes) for (let left = node.share; left > 0; left -= PER_LOADER) plan.push({ node, count: Math.min(PER_LOADER, left) });
    log(`N=${n} ${target.label} ${v.format}/${v.transport}: ${nodes.length} node(s), ${plan.length} loader process(es); node RSS ${before.map((b) => round(b.process_resident_memory_bytes! / 2 ** 20)).join(', ')} MiB`);
    const t0 = clock();
    const connected = await Promise.all(
      plan.map(({ node, count }) => {
        const k = nextLoader++;
        const l = startLoader();
        loaders.push(l);
        // Local addresses 127.0.0.(10 + k*A ..): each source address has its own ephemeral ports
        // (k counts the loaders of both fleets connected at the same time, the node's and its floor's).
        const localAddresses = Array.from({ length: ADDRS_PER_LOADER }, (_, a) => `127.0.0.${10 + k * ADDRS_PER_LOADER + a}`);
        const base = v.transport === 'ws' ? node.url.replace('http', 'ws') : node.url;
        l.child.send({ type: 'connect', url: `${base}${target.path(v)}`, count, localAddresses, concurrency: CONCURRENCY, transport: v.transport });
        return l.next<{ open: number; failed: number; errors: Record<string, number>; ms: number; cpuMs: number; rss: number }>('connected');
      }),
    );
    const connectMs = clock() - t0;
    const afterConnect = await Promise.all(nodes.map((x) => scrapeMetrics(x.url)));
    f.open = sum(connected.map((c) => c.open));
    f.failed = sum(connected.map((c) => c.failed));
    for (const c of connected) for (const [k, x] of Object.entries(c.errors)) f.errors[k] = (f.errors[k] ?? 0) + x;
    log(`N=${n}: ${f.open} open, ${f.failed} failed ${JSON.stringify(f.errors)} in ${round(connectMs / 1000, 1)} s`);

    // Every viewer joined (presence writes settle), then one unmeasured update reaches them all.
    const warm = await broadcast(loaders, target, nodes, ++f.seq, 60_000);
    await sleep(1000);
    const after = await Promise.all(nodes.map((x) => scrapeMetrics(x.url)));
    f.held = after.map((m) => m.emostream_ws_connections ?? 0);
    log(`N=${n}: warm-up update reached ${warm.received}/${f.open}; nodes hold ${f.held.join(', ')}`);
    const loadersRss = sum(loaders.map(loaderRss));
    const rssBefore = sum(before.map((m) => m.process_resident_memory_bytes!));
    const rssAfter = sum(after.map((m) => m.process_resident_memory_bytes!));
    f.row = {
      node: target.label,
      profile: v.format,
      transport: v.transport,
      clients: n,
      nodes: nodes.length,
      heldPerNode: f.held.join('/'),
      failed: f.failed,
      connectSec: round(connectMs / 1000, 1),
      nodeCpuMsPerConn: round((cpu(afterConnect) - cpu(before)) / Math.max(1, f.open), 2),
      loaderCpuMsPerConn: round(sum(connected.map((c) => c.cpuMs)) / Math.max(1, f.open), 2),
      nodeRssBeforeMiB: before.map((m) => round(m.process_resident_memory_bytes! / 2 ** 20)).join('/'),
      nodeRssAfterMiB: after.map((m) => round(m.process_resident_memory_bytes! / 2 ** 20)).join('/'),
      nodeKiBPerConn: round((rssAfter - rssBefore) / 1024 / Math.max(1, sum(f.held)), 1),
      loaderKiBPerConn: round(loadersRss / 1024 / Math.max(1, f.open), 1),
      loaders: loaders.length,
    };
    f.detail = { n, node: target.label, variant: `${v.format}/${v.transport}`, errors: f.errors, heapUsedMiB: after.map((m) => round((m.nodejs_heap_size_used_bytes ?? 0) / 2 ** 20, 1)), connectPerLoaderSec: connected.map((c) => round(c.ms / 1000, 1)) };
    return f;
  } catch (err) {
    await closeFleet(f);
    throw err;
  }
}

/**
 * `updates` updates, each to every client of the fleet, and the node CPU they cost per client per
 * update (user and system), read from /proc before and after the block (procCpu).
 * Split, because a loopback send is charged to the sender: the kernel delivers into the receiving
 * socket in the sending process's system time, which a real network would not.
 */
async function measure(f: Fleet, updates: number): Promise<Block> {
  const start = f.nodes.map((x) => procCpu(x.child.pid!));
  const t0 = clock();
  const b: Block = { wallMs: 0, cpuMs: 0, userUs: 0, systemUs: 0, cpuUs: 0, toAll: [], toFirst: [], clientP50: [], clientP99: [], missed: 0 };
  for (let u = 0; u < updates; u++) {
    await sleep(300 + Math.random() * 200);
    const seq = ++f.seq;
    const r = await broadcast(f.loaders, f.target, f.nodes, seq, 30_000);
    if (r.sample !== 'ok') throw new Error(`update ${seq}: a client received ${r.sample}`);
    b.missed += f.open - r.received;
    b.toAll.push(r.maxMs);
    b.toFirst.push(r.minMs);
    b.clientP50.push(r.p50Ms);
    b.clientP99.push(r.p99Ms);
  }
  const end = f.nodes.map((x) => procCpu(x.child.pid!));
  b.wallMs = clock() - t0;
  const per = (ms: number) => (ms / updates / Math.max(1, f.open)) * 1000;
  for (let i = 0; i < end.length; i++) {
    const ns = end[i]!.ns - start[i]!.ns;
    b.cpuMs += ns / 1e6;
    const user = end[i]!.userTicks - start[i]!.userTicks;
    const system = end[i]!.systemTicks - start[i]!.systemTicks;
    const userShare = user + system > 0 ? user / (user + system) : 0;
    b.userUs += per((ns / 1e6) * userShare);
    b.systemUs += per((ns / 1e6) * (1 - userShare));
  }
  b.cpuUs = b.userUs + b.systemUs;
  return b;
}

/**
 * The node's CPU per second with its clients connected and no update going out (timers, the
 * event-loop-delay monitor, V8's background threads), over IDLE_S: a cost per node per second, not
 * per update, which a block of updates 0.3-0.5 s apart carries too. Subtracted from a block, it
 * leaves what the updates themselves cost (the marginal figures).
 */
async function idleMsPerSec(f: Fleet): Promise<number> {
  const start = f.nodes.map((x) => procCpu(x.child.pid!));
  const t0 = clock();
  await sleep(IDLE_S * 1000);
  const end = f.nodes.map((x) => procCpu(x.child.pid!));
  return sum(end.map((e, i) => e.ns - start[i]!.ns)) / 1e6 / ((clock() - t0) / 1000);
}

/** A block's CPU per client per update less the node's idle CPU over the block's wall time. */
const marginalUs = (f: Fleet, b: Block, idle: number) => ((b.cpuMs - (idle * b.wallMs) / 1000) / b.toAll.length / Math.max(1, f.open)) * 1000;

/**
 * A process's CPU time so far, read from outside it, so that nothing runs in the node to measure
 * it (a /metrics scrape inside a block would be counted in it, and a node's scrape costs more than
 * the floor's: it counts 4000 descriptors and handles): the time its threads spent on a CPU in ns
 * (/proc/PID/task/* /schedstat), and its user and system clock ticks (/proc/PID/stat), which
 * split that time as the kernel splits it for getrusage.
 */
function procCpu(pid: number): { ns: number; userTicks: number; systemTicks: number } {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that exited meanwhile
    }
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ns, userTicks: Number(fields[11]), systemTicks: Number(fields[12]) };
}

/** The fleet's row: connection figures, latency over every measured update, CPU as the median block. */
function fleetRow(f: Fleet, blocks: Block[]): Row {
  const all = (k: 'toAll' | 'toFirst' | 'clientP50' | 'clientP99') => blocks.flatMap((b) => b[k]);
  return {
    ...f.row,
    updates: blocks.length * (blocks[0]?.toAll.length ?? 0),
    blocks: blocks.length,
    toAllP50Ms: round(pct(all('toAll'), 50), 1),
    toAllP99Ms: round(pct(all('toAll'), 99), 1),
    toFirstP50Ms: round(pct(all('toFirst'), 50), 1),
    clientP50Ms: round(pct(all('clientP50'), 50), 1),
    clientP99Ms: round(pct(all('clientP99'), 50), 1),
    missed: sum(blocks.map((b) => b.missed)),
    nodeCpuMsPerUpdate: round((median(blocks.map((b) => b.cpuUs)) * f.open) / 1000, 1),
    nodeUserUsPerClient: round(median(blocks.map((b) => b.userUs)), 2),
    nodeSystemUsPerClient: round(median(blocks.map((b) => b.systemUs)), 2),
    nodeCpuUsPerClient: round(median(blocks.map((b) => b.cpuUs)), 2),
  };
}

async function closeFleet(f: Fleet): Promise<void> {
  for (const l of f.loaders) l.child.send({ type: 'close' });
  await Promise.all(f.loaders.map((l) => (l.child.exitCode === null ? new Promise((r) => l.child.once('exit', r)) : undefined)));
  for (const node of f.nodes) await stopChild(node.child);
}

/** Deletes this run's keys (history, latest, epoch, presence), and only those. */
async function dropKeys(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } catch (err) {
    log(`redis cleanup failed: ${(err as Error).message}`);
  } finally {
    r.disconnect();
  }
}

/** A loader's current RSS, from /proc. */
function loaderRss(l: Loader): number {
  const status = readFileSync(`/proc/${l.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}

/** Arms every loader for `seq`, publishes it, and waits until every client got it (or the timeout). */
async function broadcast(loaders: Loader[], target: Target, nodes: Node[], seq: number, timeoutMs: number) {
  await Promise.all(
    loaders.map((l, k) => {
      l.child.send({ type: 'arm', round: seq, seq });
      return l.next<{ round: number }>('armed').then((m) => {
        if (m.round !== seq) throw new Error(`loader ${k} armed for ${m.round}, not ${seq}`);
      });
    }),
  );
  const t0 = clock();
  const published = await target.publish(seq, nodes);
  if (!published) throw new Error(`seq ${seq} was not published (dedupe)`);
  const timer = setTimeout(() => loaders.forEach((l) => l.child.send({ type: 'collect', round: seq })), timeoutMs);
  const results = await Promise.all(loaders.map((l) => l.next<{ round: number; times: number[]; complete: boolean; sample: string }>('received')));
  clearTimeout(timer);
  const lat: number[] = [];
  for (const r of results) for (const t of r.times) if (t === t) lat.push(t - t0);
  return {
    received: lat.length,
    minMs: Math.min(...lat),
    maxMs: Math.max(...lat),
    p50Ms: pct(lat, 50),
    p99Ms: pct(lat, 99),
    sample: results[0]!.sample,
  };
}

if (BUS !== 'memory') infra();
const fdLimit = execFileSync('bash', ['-c', 'ulimit -n']).toString().trim();
const portRange = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().replace(/\s+/g, '-');
// One process holds at most `ulimit -n` descriptors (sockets): past that, more nodes and loaders.
const NODE_MAX = Number(env.BENCH_FANOUT_NODE_MAX ?? Math.min(50_000, Number(fdLimit) - 1000));
log(`sizes ${SIZES.join(', ')}; ulimit -n ${fdLimit} -> at most ${NODE_MAX} clients per node, ${PER_LOADER} per loader; ip_local_port_range ${portRange}`);
if (PER_LOADER > Number(fdLimit) - 500) throw new Error(`BENCH_FANOUT_PER_LOADER=${PER_LOADER} is above ulimit -n ${fdLimit}`);
const rows: Row[] = [];
const details: Record<string, unknown>[] = [];
const summary: Row[] = [];
let stoppedAt: string | undefined;
let nextLoader = 0;
const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:16379';
const wire = wireBytes();
console.table(wire.rows);
try {
  for (const n of SIZES) {
    const withFloor = FLOOR_SIZES.includes(n) && n <= NODE_MAX;
    for (const v of VARIANTS) {
      // Each size and variant on a fresh node and its own key prefix: no history or presence carried over.
      const prefix = `${RUN}-${n}-${v.format}-${v.transport}:`;
      const nodeBus = BUS === 'memory' ? undefined : await RedisBus.connect({ url: redisUrl, keyPrefix: prefix, historySize: 300, presenceTtlSec: 10, logger: pino({ level: 'silent' }) });
      const fleets: Fleet[] = [];
      nextLoader = 0;
      try {
        const node = await openFleet(n, nodeBus ? fanoutTarget(nodeBus, prefix) : memoryTarget, NODE_MAX, v);
        fleets.push(node);
        if (node.failed > 0) {
          stoppedAt = `N=${n} ${v.format}/${v.transport}: ${node.failed} clients could not connect (${JSON.stringify(node.errors)})`;
          break;
        }
        // The floor's clients connect beside the node's and stay idle while the node is measured
        // (and the other way round): the two are measured in turn, A B A B, in the same minutes.
        const floor = withFloor ? await openFleet(n, floorTarget(v.format), NODE_MAX, { format: v.format, transport: 'ws' }) : undefined;
        if (floor) fleets.push(floor);
        // Settle: a node that just took N connections has grown its heap by their state, and V8
        // collects it in a few full GCs over the next minute or so (seen with a GC trace at 4000:
        // 25-100 ms pauses 16 to 85 s after the connections, where the floor's small heap needs
        // 3-12 ms ones). That is the connections' cost, not the updates': unmeasured updates go to
        // both for BENCH_FANOUT_SETTLE_S first.
        for (const until = clock() + SETTLE_S * 1000; clock() < until; ) {
          await measure(node, 1);
          if (floor) await measure(floor, 1);
        }
        const nodeBlocks: Block[] = [];
        const floorBlocks: Block[] = [];
        const nodeIdle: number[] = [];
        const floorIdle: number[] = [];
        for (let p = 0; p < PAIRS; p++) {
          nodeBlocks.push(await measure(node, UPDATES));
          nodeIdle.push(await idleMsPerSec(node));
          if (floor) {
            floorBlocks.push(await measure(floor, UPDATES));
            floorIdle.push(await idleMsPerSec(floor));
          }
          const last = nodeBlocks.at(-1)!;
          log(`N=${n} ${v.format}/${v.transport} pair ${p + 1}/${PAIRS}: node ${round(last.userUs, 2)} + ${round(last.systemUs, 2)} µs${floor ? `, floor ${round(floorBlocks.at(-1)!.userUs, 2)} + ${round(floorBlocks.at(-1)!.systemUs, 2)} µs, ratio ${round(last.cpuUs / floorBlocks.at(-1)!.cpuUs, 3)}` : ''}`);
        }
        const nodeRow = fleetRow(node, nodeBlocks);
        const perBlock = (bs: Block[], idle: number[]) => bs.map((b, i) => ({ userUs: round(b.userUs, 3), systemUs: round(b.systemUs, 3), wallMs: round(b.wallMs), cpuMs: round(b.cpuMs, 1), idleMsPerSec: round(idle[i] ?? NaN, 2) }));
        details.push({ ...node.detail, toAllMs: nodeBlocks.flatMap((b) => b.toAll.map((x) => round(x, 1))), blocks: perBlock(nodeBlocks, nodeIdle) });
        rows.push(nodeRow);
        if (floor) {
          const floorRow: Row = { ...fleetRow(floor, floorBlocks), floorOf: `${v.format}/${v.transport}` };
          details.push({ ...floor.detail, floorOf: `${v.format}/${v.transport}`, toAllMs: floorBlocks.flatMap((b) => b.toAll.map((x) => round(x, 1))), blocks: perBlock(floorBlocks, floorIdle) });
          rows.push(floorRow);
          // Node CPU per update per client against the floor's, pair by pair (the blocks next to
          // each other in time): the median pair and the spread.
          const ratios = nodeBlocks.map((b, i) => b.cpuUs / floorBlocks[i]!.cpuUs);
          const userRatios = nodeBlocks.map((b, i) => b.userUs / floorBlocks[i]!.userUs);
          // And over all blocks together (sum over sum): what a median leaves out, a block that a
          // GC or a neighbour's burst made costlier, is in this one.
          const allBlocks = sum(nodeBlocks.map((b) => b.cpuUs)) / sum(floorBlocks.map((b) => b.cpuUs));
          // What the updates cost, each target's idle CPU per second taken out (measured right
          // after each block): the node's timers and background threads are a cost per second,
          // which blocks of updates 0.3-0.5 s apart would otherwise charge to every update.
          const nodeMarginal = nodeBlocks.map((b, i) => marginalUs(node, b, nodeIdle[i]!));
          const floorMarginal = floorBlocks.map((b, i) => marginalUs(floor, b, floorIdle[i]!));
          const marginalRatios = nodeMarginal.map((x, i) => x / floorMarginal[i]!);
          Object.assign(nodeRow, { cpuVsFloor: round(median(ratios), 3), cpuVsFloorMin: round(Math.min(...ratios), 3), cpuVsFloorMax: round(Math.max(...ratios), 3), cpuVsFloorAllBlocks: round(allBlocks, 3), userVsFloor: round(median(userRatios), 2),
            nodeIdleMsPerSec: round(median(nodeIdle), 2), floorIdleMsPerSec: round(median(floorIdle), 2),
            nodeMarginalUsPerClient: round(median(nodeMarginal), 2), floorMarginalUsPerClient: round(median(floorMarginal), 2),
            marginalVsFloor: round(median(marginalRatios), 3), marginalVsFloorMin: round(Math.min(...marginalRatios), 3), marginalVsFloorMax: round(Math.max(...marginalRatios), 3) });
          summary.push({
            clients: n,
            variant: `${v.format}/${v.transport}`,
            nodeUserUs: nodeRow.nodeUserUsPerClient!,
            nodeSystemUs: nodeRow.nodeSystemUsPerClient!,
            floorUserUs: floorRow.nodeUserUsPerClient!,
            floorSystemUs: floorRow.nodeSystemUsPerClient!,
            nodeVsFloor: nodeRow.cpuVsFloor!,
            min: nodeRow.cpuVsFloorMin!,
            max: nodeRow.cpuVsFloorMax!,
            allBlocks: nodeRow.cpuVsFloorAllBlocks!,
            nodeIdleMsPerSec: nodeRow.nodeIdleMsPerSec!,
            floorIdleMsPerSec: nodeRow.floorIdleMsPerSec!,
            marginalVsFloor: nodeRow.marginalVsFloor!,
            marginalMin: nodeRow.marginalVsFloorMin!,
            marginalMax: nodeRow.marginalVsFloorMax!,
            userVsFloor: nodeRow.userVsFloor!,
            pairs: PAIRS,
          });
        }
      } catch (err) {
        stoppedAt = `N=${n} ${v.format}/${v.transport}: ${(err as Error).message}`;
        log(stoppedAt);
        break;
      } finally {
        for (const f of fleets) await closeFleet(f);
        await nodeBus?.close();
      }
    }
    if (stoppedAt) break;
  }
  // SSE against WebSocket, each as its ratio to the floor measured beside it: the floor takes out
  // the machine's drift between the two variants' runs, which were minutes apart.
  for (const r of summary) {
    const [format, transport] = String(r.variant).split('/');
    const ws = summary.find((w) => w.clients === r.clients && w.variant === `${format}/ws`);
    if (transport === 'sse' && ws) {
      r.sseVsWs = round(Number(r.nodeVsFloor) / Number(ws.nodeVsFloor), 2);
      r.sseVsWsMarginal = round(Number(r.marginalVsFloor) / Number(ws.marginalVsFloor), 2);
    }
  }
} finally {
  if (BUS !== 'memory') await dropKeys(redisUrl, `${RUN}-`);
}
report('fanout', rows, {
  run: RUN,
  bus: BUS,
  wireBytes: wire,
  updatesPerBlock: UPDATES,
  pairs: PAIRS,
  settleSec: SETTLE_S,
  summary,
  perLoader: PER_LOADER,
  addrsPerLoader: ADDRS_PER_LOADER,
  pingIntervalMs: Number(PING_MS),
  ulimitN: fdLimit,
  ipLocalPortRange: portRange,
  loadavg: loadavg().map((x) => round(x, 2)),
  ...(stoppedAt ? { stoppedAt } : {}),
  details,
  note: 'CPU: per client per update, the median of PAIRS blocks of UPDATES updates; with a floor, node and floor blocks alternate (A B A B) and nodeVsFloor is the median of the pairs\' ratios (min/max: the spread), allBlocks the ratio of the sums over every block; marginalVsFloor the same with each target\'s idle CPU per second (measured after each block) taken out of its blocks; sseVsWs divides the two variants\' nodeVsFloor. Fan-out node(s) (ROLE=fanout, Redis bus), loaders in other processes on the same 2 cores. toAll: publish (RedisBus.publish, Lua script + PUBLISH) -> the last of the N clients received it; toFirst: -> the first; clientP50/P99: per-client latency within an update (median over updates). Keys live under the run prefix in Redis (history trimmed to 300).',
});
console.table(summary);
process.exit(0);
