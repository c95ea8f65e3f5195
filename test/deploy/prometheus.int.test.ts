import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startRoleProcess, type RoleProcess } from '../helpers/role-process.js';

const root = path.resolve(import.meta.dirname, '../..');
// PROMETHEUS_TEST_PORT moves it when another checkout on this machine runs the same tier.
const PROM_PORT = Number(process.env.PROMETHEUS_TEST_PORT ?? 19090);
const prom = `http://127.0.0.1:${PROM_PORT}`;

interface QueryResult { metric: Record<string, string>; value: [number, string] }

async function query(q: string): Promise<QueryResult[]> {
  const res = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`);
  const body = (await res.json()) as { status: string; data: { result: QueryResult[] }; error?: string };
  if (body.status !== 'success') throw new Error(`query ${q} failed: ${body.error}`);
  return body.data.result;
}

/**
 * The shipped deploy/prometheus config, scraping a real embedded role: a real Prometheus (Debian's,
 * from scripts/infra/apt-deps.sh; missing, the test fails) with its own data dir on 127.0.0.1:19090.
 */
describe('Prometheus scraping EmoStream with deploy/prometheus', () => {
  let role: RoleProcess;
  let prometheus: ChildProcess;
  let dataDir: string;
  let promLog = '';

  beforeAll(async () => {
    role = await startRoleProcess({ ROLE: 'all' });
    dataDir = mkdtempSync(path.join(tmpdir(), 'emostream-prom-'));
    // The shipped config with only the target, the intervals and the rule paths changed.
    const config = readFileSync(path.join(root, 'deploy/prometheus/prometheus-embedded.yml'), 'utf8')
      .replace(`'127.0.0.1:8080'`, `'${new URL(role.url).host}'`)
      .replace(/(scrape|evaluation)_interval: 15s/g, '$1_interval: 1s')
      .replace(/- rules\//g, `- ${path.join(root, 'deploy/prometheus/rules')}/`);
    expect(config).toContain(new URL(role.url).host);
    const configFile = path.join(dataDir, 'prometheus.yml');
    writeFileSync(configFile, config);
    prometheus = spawn('prometheus', [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dataDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${PROM_PORT}`,
      '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout!.on('data', (d: Buffer) => (promLog += d.toString()));
    prometheus.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
    const spawned = await new Promise<Error | null>((resolve) => {
      prometheus.once('spawn', () => resolve(null));
      prometheus.once('error', (err) => resolve(err));
    });
    if (spawned) throw new Error(`prometheus not runnable (${spawned.message}); install it with scripts/infra/apt-deps.sh`);
    await vi.waitFor(async () => {
      if (prometheus.exitCode !== null) throw new Error(`prometheus exited ${prometheus.exitCode}:\n${promLog}`);
      expect((await fetch(`${prom}/-/ready`)).status).toBe(200);
    }, { timeout: 60_000, interval: 250 });
  });

  async function post(n: number): Promise<void> {
    const batch = { reactions: Array.from({ length: n }, (_, i) => ({ matchId: 'prom-match', userId: `u${i}`, emoji: '🔥' })) };
    const res = await fetch(`${role.url}/v1/reactions/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) });
    expect(res.status).toBe(202);
  }

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus.once('exit', r));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await role?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('scrapes the role and answers a query of an EmoStream metric', async () => {
    await post(25);

    await vi.waitFor(async () => {
      const r = await query('emostream_reactions_accepted_total{job="emostream-all", role="all"}');
      expect(r).toHaveLength(1);
      expect(Number(r[0]!.value[1])).toBe(25);
    }, { timeout: 60_000, interval: 500 });
    const up = await query('up{job="emostream-all"}');
    expect(up.map((s) => s.value[1])).toEqual(['1']);
  });

  it('loads the shipped rules and evaluates them against the scraped series', async () => {
    type Rules = { data: { groups: { name: string; rules: { health: string; name: string }[] }[] } };
    const rules = async () => ((await (await fetch(`${prom}/api/v1/rules`)).json()) as Rules).data.groups;
    const groups = (await rules()).map((g) => g.name).sort();
    expect(groups).toEqual(['emostream-api', 'emostream-fanout', 'emostream-pipeline', 'emostream-recording']);
    // A recording rule over the scraped counter: non-zero once scrapes see the counter move.
    await vi.waitFor(async () => {
      await post(1);
      const r = await query('emostream:reactions_accepted:rate5m');
      expect(r).toHaveLength(1);
      expect(Number(r[0]!.value[1])).toBeGreaterThan(0);
    }, { timeout: 60_000, interval: 500 });
    // Every rule has been evaluated by now, none with an error.
    await vi.waitFor(async () => expect((await rules()).flatMap((g) => g.rules).filter((r) => r.health !== 'ok')).toEqual([]), { timeout: 30_000, interval: 500 });
  });
});
