// npm run bench:embedded — accepted reactions/s on POST /v1/reactions and /v1/reactions/batch
// (autocannon in this process, the server in another), beside a bare node:http server measured in
// the same run, and the aggregator's decode + window + emit rate on one core.
import path from 'node:path';
import { SignJWT } from 'jose';
import { WindowAggregator } from '../src/aggregate/window-aggregator.js';
import { MemorySchemaRegistry } from '../src/adapters/memory/memory-schema-registry.js';
import { createSerdes } from '../src/codec/serde.js';
import { EmojiCatalog } from '../src/domain/catalog.js';
import { repoRoot } from '../src/domain/schemas-dir.js';
import { cannon, report, startChild, startRoleChild, stopChild, type Row } from './lib.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const warmupSeconds = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const root = repoRoot();

async function http(): Promise<Row[]> {
  // Limits high enough that the benchmark measures the path, not the per-user limiter.
  const limits = { USER_RATE_PER_SEC: '1000000', USER_BURST: '10000000', CLIENT_RATE_PER_SEC: '10000000', CLIENT_BURST: '100000000', LOG_CAPACITY: '50000000', LOG_CAPACITY_BYTES: String(4 * 1024 ** 3) };
  const server = await startRoleChild(limits);
  const bare = await startChild(process.execPath, [path.join(root, 'bench/bare-http-server.mjs')], { PORT: '0' }, /listening on (\d+)/);
  const fastify = await startChild(process.execPath, [path.join(root, 'bench/bare-fastify-server.mjs')], { PORT: '0' }, /listening on (\d+)/);
  // The ingest role alone (what a distributed deployment scales out), on the memory log: no
  // aggregator or fan-out sharing its core, nothing consuming the log.
  const api = await startRoleChild({ ...limits, ROLE: 'api' });
  // The same embedded role with viewer identity on: every request carries a signed token (HS256),
  // verified once and then cached until its exp.
  const secret = 'bench-secret-of-at-least-32-characters!!';
  const withJwt = await startRoleChild({ ...limits, JWT_SECRET: secret });
  const jwt = await new SignJWT({ sub: 'bench-user' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('2h').sign(new TextEncoder().encode(secret));
  const bearer = { authorization: `Bearer ${jwt}` };
  const port = Number(server.match[2]);
  const barePort = Number(bare.match[1]);
  const one = JSON.stringify({ matchId: 'bench-match', userId: 'bench-user', emoji: '🔥' });
  const batch = JSON.stringify({ reactions: Array.from({ length: 100 }, (_, i) => ({ matchId: `bench-${i % 4}`, userId: `u${i}`, emoji: i % 3 ? '🔥' : '😂' })) });
  // Every server gets the same unmeasured warm-up first (JIT, heap sizing, connections): a cold
  // first run would count the compiler's work against the servers with more code in their path.
  // A viewer's batch: its own reactions only (a JWT's sub is the one user a request may name).
  const viewerBatch = JSON.stringify({ reactions: Array.from({ length: 100 }, (_, i) => ({ matchId: 'bench-match', userId: 'bench-user', emoji: i % 3 ? '🔥' : '😂' })) });
  const measure = async (url: string, body: string, perRequest: number, headers: Record<string, string> = {}) => {
    if (warmupSeconds > 0) await cannon(url, [body], perRequest, warmupSeconds, connections, headers);
    return cannon(url, [body], perRequest, seconds, connections, headers);
  };
  try {
    const bareOne = await measure(`http://127.0.0.1:${barePort}/`, one, 1);
    const floor = await measure(`http://127.0.0.1:${Number(fastify.match[1])}/`, one, 1);
    const single = await measure(`http://127.0.0.1:${port}/v1/reactions`, one, 1);
    const apiOnly = await measure(`http://127.0.0.1:${Number(api.match[2])}/v1/reactions`, one, 1);
    const batched = await measure(`http://127.0.0.1:${port}/v1/reactions/batch`, batch, 100);
    const jwtPort = Number(withJwt.match[2]);
    const oneViewer = await measure(`http://127.0.0.1:${port}/v1/reactions/batch`, viewerBatch, 100);
    const singleJwt = await measure(`http://127.0.0.1:${jwtPort}/v1/reactions`, one, 1, bearer);
    const batchJwt = await measure(`http://127.0.0.1:${jwtPort}/v1/reactions/batch`, viewerBatch, 100, bearer);
    return [
      { case: 'bare node:http 202 (baseline)', ...bareOne, ratio: 1 },
      { case: 'minimal Fastify POST route (framework floor)', ...floor, ratio: +(floor.rps / bareOne.rps).toFixed(3) },
      { case: 'POST /v1/reactions', ...single, ratio: +(single.rps / bareOne.rps).toFixed(3) },
      { case: 'POST /v1/reactions (ROLE=api alone)', ...apiOnly, ratio: +(apiOnly.rps / bareOne.rps).toFixed(3) },
      { case: 'POST /v1/reactions/batch (100/req)', ...batched, ratio: +(batched.rps / bareOne.rps).toFixed(3) },
      // JWT rows: `vsNoAuth` is the same request's rate on the same role without auth (goal >= 0.9).
      { case: 'POST /v1/reactions/batch (100/req, one viewer)', ...oneViewer, ratio: +(oneViewer.rps / bareOne.rps).toFixed(3) },
      { case: 'POST /v1/reactions (JWT)', ...singleJwt, ratio: +(singleJwt.rps / bareOne.rps).toFixed(3), vsNoAuth: +(singleJwt.rps / single.rps).toFixed(3) },
      { case: 'POST /v1/reactions/batch (100/req, one viewer, JWT)', ...batchJwt, ratio: +(batchJwt.rps / bareOne.rps).toFixed(3), vsNoAuth: +(batchJwt.rps / oneViewer.rps).toFixed(3) },
    ];
  } finally {
    await stopChild(server);
    await stopChild(bare);
    await stopChild(fastify);
    await stopChild(api);
    await stopChild(withJwt);
  }
}

async function aggregator(): Promise<Row[]> {
  const catalog = EmojiCatalog.load();
  const serdes = await createSerdes(new MemorySchemaRegistry(), { reactionsTopic: 'r', aggregatesTopic: 'a' });
  const n = Number(process.env.BENCH_AGG_REACTIONS ?? 2_000_000);
  const matches = 50;
  const t0 = 1_800_000_000_000;
  // 2 M reactions over 100 s of event time: 50 windows per match, each closed by stream time.
  const encoded = Array.from({ length: n }, (_, i) =>
    serdes.reaction.encode({ matchId: `m${i % matches}`, userId: `u${i % 10_000}`, emoji: catalog.entries[i % catalog.size]!.emoji, ts: t0 + Math.floor((i / n) * 100_000), receivedAt: t0 + Math.floor((i / n) * 100_000) }),
  );
  const agg = new WindowAggregator(catalog, { windowMs: 2000, graceMs: 500, unitScale: 1000, topN: 8, tsToleranceMs: 250 });
  let windows = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    agg.process(serdes.reaction.decodeKnown(encoded[i]!));
    if ((i & 4095) === 0) windows += agg.takeOutput().map((a) => serdes.aggregate.encode(a)).length;
  }
  agg.punctuate(Number.MAX_SAFE_INTEGER);
  windows += agg.takeOutput().map((a) => serdes.aggregate.encode(a)).length;
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  return [{ case: 'aggregator decode+window+emit (1 core)', reactions: n, windows, seconds: +secs.toFixed(2), reactionsPerSec: Math.round(n / secs) }];
}

const httpRows = await http();
const aggRows = await aggregator();
report('embedded', [...httpRows, ...aggRows], { seconds, warmupSeconds, connections });
