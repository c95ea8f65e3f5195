// Archive bench, on both stores (PGlite in process, on disk as `npm start` keeps it; the project's
// PostgreSQL): archive writes per second as the archive stage writes them (batches of up to 2,000
// windows, one statement each), against the goal of 10,000 concurrent matches at one window per
// 2 s with 3x headroom (15,000 windows/s); then the query p50/p99 on a full 3.5-hour match (6,300
// windows) against the goal p99 <= 50 ms. Prints a table and JSON (bench/results/).
//
// BENCH_ARCHIVE_STORES=pglite,postgres (default both), BENCH_ARCHIVE_ROUNDS (6 rounds of 10,000
// windows), BENCH_ARCHIVE_QUERIES (200 per query). PostgreSQL: POSTGRES_URL, else the one
// scripts/infra/postgres.sh runs (started when it is not).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openPgliteArchive } from '../src/adapters/postgres/pglite-window-archive.js';
import { openPostgresArchive } from '../src/adapters/postgres/pg-window-archive.js';
import { scoreMoments } from '../src/archive/moments.js';
import { EmojiCatalog } from '../src/domain/catalog.js';
import { repoRoot } from '../src/domain/schemas-dir.js';
import type { WindowAggregate } from '../src/domain/types.js';
import type { WindowArchive } from '../src/ports/window-archive.js';
import { applyInfraEnv, infraDir } from '../helpers/infra-env.js';
import { pct, report, type Row } from './lib.js';

const catalog = EmojiCatalog.load();
const MATCHES = 10_000;
const WINDOW_MS = 2000;
const GOAL_WRITES = (3 * MATCHES * 1000) / WINDOW_MS; // 15,000 windows/s
const GOAL_P99_MS = 50;
const ROUNDS = Number(process.env.BENCH_ARCHIVE_ROUNDS ?? 6);
const QUERIES = Number(process.env.BENCH_ARCHIVE_QUERIES ?? 200);
const BATCH = 2000; // the archive stage's poll size
const T0 = 1_800_000_000_000;
const FULL_MATCH_WINDOWS = (3.5 * 3600 * 1000) / WINDOW_MS;

let seed = 42;
const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);

/** A realistic window: 4-8 emojis of the catalog, a few hundred to a few thousand reactions. */
function window(matchId: string, i: number, scale = 1): WindowAggregate {
  const n = 4 + Math.floor(rnd() * 5);
  const picked = [...catalog.entries].sort(() => rnd() - 0.5).slice(0, n);
  const counts: Record<string, number> = {};
  for (const e of picked) counts[e.emoji] = Math.max(1, Math.round(rnd() * 800 * scale));
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const units = Object.fromEntries(Object.entries(counts).map(([e, c]) => [e, Math.ceil(c / 1000)]));
  const sentiment = picked.reduce((a, e) => a + counts[e.emoji]! * e.valenceCenti, 0) / (100 * total);
  return { matchId, windowStart: T0 + i * WINDOW_MS, windowEnd: T0 + (i + 1) * WINDOW_MS, counts, units, total, sentiment };
}

async function time(f: () => Promise<unknown>, n: number): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(20, n); i++) await f(); // warm-up, unmeasured
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await f();
    ms.push(performance.now() - t);
  }
  return { p50: Number(pct(ms, 50).toFixed(2)), p99: Number(pct(ms, 99).toFixed(2)) };
}

async function benchStore(name: string, archive: WindowArchive): Promise<Row[]> {
  const rows: Row[] = [];
  // Writes: round r is one window of each of 10,000 live matches, in the stage's batches.
  const writes: WindowAggregate[][] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round = Array.from({ length: MATCHES }, (_, m) => window(`live-${m}`, r));
    for (let i = 0; i < round.length; i += BATCH) writes.push(round.slice(i, i + BATCH));
  }
  await archive.upsert(writes[0]!); // first-touch costs (slots, plans) out of the figure
  const t = performance.now();
  for (const b of writes.slice(1)) await archive.upsert(b);
  const secs = (performance.now() - t) / 1000;
  const written = (writes.length - 1) * BATCH;
  const perSec = Math.round(written / secs);
  rows.push({ store: name, measure: 'archive writes/s', value: perSec, goal: `>= ${GOAL_WRITES}`, ok: perSec >= GOAL_WRITES ? 'yes' : 'NO', note: `${written} windows in batches of ${BATCH}; ${(perSec / (MATCHES / 2)).toFixed(1)}x of 10k matches` });
  // A redelivered batch costs the same: the upsert rewrites its rows.
  const replay = await time(() => archive.upsert(writes[1]!), 5);
  rows.push({ store: name, measure: 'replayed batch (2000, upsert) ms', value: replay.p50, goal: '-', ok: '-', note: `p99 ${replay.p99} ms` });

  // Queries on one full 3.5-hour match, beside the 10k live ones.
  const M = 'full-match';
  const full = Array.from({ length: FULL_MATCH_WINDOWS }, (_, i) => window(M, i, i % 900 === 450 ? 30 : 1));
  for (let i = 0; i < full.length; i += BATCH) await archive.upsert(full.slice(i, i + BATCH));
  const queries: Array<[string, () => Promise<unknown>]> = [
    ['timeline, whole match, 30 s steps (420 points)', () => archive.timeline(M, { step: 30_000, limit: 1000 })],
    ['timeline, whole match, 22 s steps (dashboard, 573 points)', () => archive.timeline(M, { step: 22_000, limit: 1000 })],
    ['timeline, 2 s steps, one page of 1000', () => archive.timeline(M, { step: 2000, limit: 1000, after: T0 + 2_000_000 })],
    ['moments top 10 (series + score + windows)', async () => {
      const series = await archive.series(M);
      const top = scoreMoments(series, { windowMs: WINDOW_MS, top: 10 });
      return archive.windowsAt(M, top.map((m) => m.windowStart));
    }],
    ['summary (totals + peak)', () => archive.totals(M)],
    ['version (the ETag check, a 304)', () => archive.version(M)],
  ];
  for (const [label, f] of queries) {
    const r = await time(f, QUERIES);
    rows.push({ store: name, measure: `${label} p50 ms`, value: r.p50, goal: `p99 <= ${GOAL_P99_MS}`, ok: r.p99 <= GOAL_P99_MS ? 'yes' : 'NO', note: `p99 ${r.p99} ms` });
  }
  return rows;
}

async function postgresUrl(): Promise<string> {
  const envFile = path.join(infraDir(), 'env');
  // No env file yet: nothing of the infra has been started on this checkout.
  if (existsSync(envFile)) applyInfraEnv(envFile, process.env, { keepExisting: true });
  if (!process.env.POSTGRES_URL) {
    execFileSync('bash', [path.join(repoRoot(), 'scripts/infra/up.sh'), 'postgres'], { stdio: 'inherit' });
    applyInfraEnv(path.join(infraDir(), 'env'), process.env, { keepExisting: true });
  }
  return process.env.POSTGRES_URL!;
}

async function main(): Promise<void> {
  const stores = (process.env.BENCH_ARCHIVE_STORES ?? 'pglite,postgres').split(',');
  const rows: Row[] = [];
  if (stores.includes('pglite')) {
    const dir = mkdtempSync(path.join(tmpdir(), 'emo-bench-pglite-'));
    const archive = await openPgliteArchive({ dir });
    try {
      rows.push(...(await benchStore('pglite', archive)));
    } finally {
      await archive.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  if (stores.includes('postgres')) {
    // A database of its own, dropped afterwards.
    const base = await postgresUrl();
    const db = `emo_bench_${process.pid}`;
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    const url = new URL(base);
    url.pathname = `/${db}`;
    const archive = await openPostgresArchive({ url: url.toString() });
    try {
      rows.push(...(await benchStore('postgres', archive)));
    } finally {
      await archive.close();
      await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await admin.end();
    }
  }
  report('archive', rows, { goals: { writesPerSec: GOAL_WRITES, queryP99Ms: GOAL_P99_MS }, matches: MATCHES, fullMatchWindows: FULL_MATCH_WINDOWS });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
