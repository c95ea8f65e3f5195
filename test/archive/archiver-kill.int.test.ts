import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfluentSchemaRegistry } from '../../src/adapters/confluent/confluent-registry.js';
import { openPostgresArchive } from '../../src/adapters/postgres/pg-window-archive.js';
import { createSerdes } from '../../src/codec/serde.js';
import type { WindowAggregate } from '../../src/domain/types.js';
import { createTopics, envFor, expectedAggregates, kafkaConfig, produceReactions, unique } from '../../helpers/kafka.js';
import { WebSocket } from 'ws';
import { EmoStreamClient, type LiveMessage } from '../../packages/sdk/src/index.js';
import { startRoleProcess, type RoleProcess } from '../helpers/role-process.js';

const procs: RoleProcess[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) await p.stop();
});

/** A database of this test's own on the project's PostgreSQL, so match ids of other runs never mix in. */
async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.POSTGRES_URL;
  if (!base) throw new Error('POSTGRES_URL not set: scripts/infra/up.sh postgres did not start PostgreSQL');
  const name = unique('emo_archive').replace(/[^a-z0-9_]/gi, '_').toLowerCase();
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

describe('archive on Kafka + PostgreSQL', () => {
  const drops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const d of drops) await d();
  });

  it('exactly one row per window, each exact, after an aggregator kill -9 and an archiver kill -9', async () => {
    const db = await freshDatabase();
    drops.push(db.drop);
    const config = kafkaConfig({ aggregation: { graceMs: 1500 } });
    await createTopics(config);
    const serdes = await createSerdes(new ConfluentSchemaRegistry(config.registryUrl), config.log);
    const env = { ...envFor(config), ARCHIVE_ADAPTER: 'postgres', POSTGRES_URL: db.url };
    const archive = await openPostgresArchive({ url: db.url });
    const rows = async () => (await Promise.all(Array.from({ length: 5 }, (_, m) => archive.series(`match-${m}`)))).reduce((a, s) => a + s.length, 0);

    const start = async (role: string, id: string) => {
      const p = await startRoleProcess({ ...env, ROLE: role, INSTANCE_ID: id });
      procs.push(p);
      return p;
    };
    let aggregator = await start('aggregator', 'agg');
    let archiver = await start('archiver', 'arc');
    let aggKilled = false;
    let arcKilled = false;
    // Part one: the aggregator dies mid-stream and comes back under its instance id.
    const sent = await produceReactions(config, serdes.reaction, 20_000, {
      matches: 5,
      perSecond: 4000,
      onProgress: async (n) => {
        if (!aggKilled && n >= 8_000) {
          aggKilled = true;
          await aggregator.kill9();
          aggregator = await start('aggregator', 'agg');
        }
      },
    });
    // Part two, once the archiver has written: it dies mid-stream too, between some write and its commit.
    const wrote = Date.now() + 60_000;
    while ((await rows()) === 0 && Date.now() < wrote) await new Promise((r) => setTimeout(r, 200));
    const rowsBefore = await rows();
    expect(rowsBefore, archiver.output()).toBeGreaterThan(0);
    sent.push(
      ...(await produceReactions(config, serdes.reaction, 20_000, {
        matches: 5,
        perSecond: 4000,
        onProgress: async (n) => {
          if (!arcKilled && n >= 8_000) {
            arcKilled = true;
            await archiver.kill9();
            archiver = await start('archiver', 'arc');
          }
        },
      })),
    );
    expect(aggKilled && arcKilled).toBe(true);

    const expected = expectedAggregates(config, sent);
    const deadline = Date.now() + 120_000;
    while ((await rows()) < expected.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    // A little longer: a duplicate or a stray window would show up now.
    await new Promise((r) => setTimeout(r, 2000));
    const stored: WindowAggregate[] = [];
    for (let m = 0; m < 5; m++) stored.push(...(await archive.windows(`match-${m}`, 0, 100_000)));
    expect(stored).toHaveLength(expected.size);
    const problems: string[] = [];
    for (const w of stored) {
      const want = expected.get(`${w.matchId}|${w.windowStart}`);
      if (!want) problems.push(`unexpected window ${w.matchId}|${w.windowStart}`);
      else if (JSON.stringify({ ...w, counts: sorted(w.counts), units: sorted(w.units) }) !== JSON.stringify({ ...want, counts: sorted(want.counts), units: sorted(want.units) })) problems.push(`window ${w.matchId}|${w.windowStart} differs`);
    }
    expect(problems).toEqual([]);
    // One row per (match, window) in the table itself, whatever was replayed after the kills.
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const dup = await c.query('SELECT match_id, window_start, count(*) FROM emo_archive_windows GROUP BY 1, 2 HAVING count(*) > 1');
    const total = await c.query('SELECT count(*)::int AS n FROM emo_archive_windows');
    await c.end();
    expect(dup.rows).toEqual([]);
    expect(total.rows[0].n).toBe(expected.size);

    // The archiver role serves what it archived: the replay of match-0 and its timeline are the windows the aggregator emitted.
    const want = [...expected.values()].filter((w) => w.matchId === 'match-0').sort((a, b) => a.windowStart - b.windowStart);
    const client = new EmoStreamClient({ baseUrl: archiver.url, userId: 'vod', WebSocket: WebSocket as never });
    const replayed: LiveMessage[] = [];
    const sub = client.replay('match-0', (m) => replayed.push(m), { offset: 0, speed: 64 });
    const until = Date.now() + 30_000;
    while (replayed.length < want.length && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    sub.close();
    await client.close(100);
    const windowMs = config.aggregation.windowMs;
    expect(replayed.map((m) => [m.seq, m.windowStart, m.total, sorted(m.counts), sorted(m.units), m.sentiment])).toEqual(
      want.map((w) => [w.windowStart / windowMs, w.windowStart, w.total, sorted(w.counts), sorted(w.units), w.sentiment]),
    );
    for (let i = 1; i < replayed.length; i++) expect(replayed[i]!.prevSeq).toBe(replayed[i - 1]!.seq);
    const timeline = (await (await fetch(`${archiver.url}/v1/matches/match-0/timeline`)).json()) as { points: Array<{ t: number; total: number }> };
    expect(timeline.points.map((p) => [p.t, p.total])).toEqual(want.map((w) => [w.windowStart, w.total]));
    await archive.close();
  });
});

function sorted(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));
}
