// The SDK as its users get it: `npm pack` in packages/sdk, the tarball installed into a throwaway
// project (offline from npm's cache, with `ws` for Node 20), and a script there that imports
// `@emostream/sdk` by name, reacts and subscribes against a running embedded server.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/domain/schemas-dir.js';
import { startEmbedded, type Pipeline } from '../../src/roles/embedded.js';
import { silentLogger, testConfig } from '../../helpers/fixtures.js';

const sdkDir = path.join(repoRoot(), 'packages/sdk');
const wsVersion = (JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies.ws!;
const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

// Runs in the consumer project: only the installed package and ws are reachable from there.
const consumer = `
import { EmoStreamClient } from '@emostream/sdk';
import { WebSocket } from 'ws';
const [baseUrl, matchId] = process.argv.slice(2);
const client = new EmoStreamClient({ baseUrl, userId: 'packaged-viewer', WebSocket, flushMs: 10 });
const deadline = setTimeout(() => { console.error('no update counting the reactions'); process.exit(2); }, 60_000);
const sub = client.subscribe(matchId, (u) => {
  if (u.type === 'update' && u.counts['🔥'] === 3) {
    console.log(JSON.stringify(u));
    clearTimeout(deadline);
    void client.close().then(() => process.exit(0));
  }
}, {
  state: (s) => {
    if (s !== 'connected') return;
    for (let i = 0; i < 3; i++) client.react(matchId, '🔥');
    void client.flush();
  },
});
`;

describe('@emostream/sdk packed and installed', () => {
  let work: string;
  let tarball: string;
  let pipeline: Pipeline;
  let baseUrl: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'emostream-sdk-pack-'));
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', work], sdkDir)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    tarball = path.join(work, packed[0]!.filename);
    const project = path.join(work, 'app');
    execFileSync('mkdir', ['-p', project]);
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'sdk-consumer', private: true, type: 'module' }));
    writeFileSync(path.join(project, 'consumer.mjs'), consumer);
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `ws@${wsVersion}`], project);
    const config = testConfig({ aggregation: { windowMs: 500, graceMs: 500, unitScale: 1, topN: 8 }, punctuateMs: 20 });
    pipeline = await startEmbedded(config, { logger: silentLogger });
    await pipeline.app.listen({ host: '127.0.0.1', port: 0 });
    baseUrl = `http://127.0.0.1:${(pipeline.app.server.address() as { port: number }).port}`;
  }, 180_000);

  afterAll(async () => {
    await pipeline?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships ESM, declarations and the browser bundle, and no server code', () => {
    const installed = path.join(work, 'app/node_modules/@emostream/sdk');
    const dist = readdirSync(path.join(installed, 'dist'), { recursive: true }).map(String);
    // One ES module; declarations for the package and for the wire contract it is built with (src/wire).
    const types = path.join('types', 'packages', 'sdk', 'src');
    expect(dist).toEqual(expect.arrayContaining(['index.js', path.join(types, 'index.d.ts'), path.join(types, 'client.d.ts'), path.join('types', 'src', 'wire', 'types.d.ts'), path.join('browser', 'emostream-sdk.js')]));
    for (const f of dist.filter((x) => /\.(js|d\.ts)$/.test(x))) {
      const text = readFileSync(path.join(installed, 'dist', f), 'utf8');
      // Every import resolves inside the package or to its one dependency: no server module is reachable.
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        const spec = m[1]!;
        if (spec.startsWith('.')) expect(path.resolve(path.dirname(path.join(installed, 'dist', f)), spec).startsWith(installed), `${f} imports ${spec}`).toBe(true);
        else expect(spec, `${f} imports ${spec}`).toBe('eventemitter3');
      }
    }
    const pkg = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(pkg.dependencies)).toEqual(['eventemitter3']);
  });

  it('reacts and receives the update counting the reactions from a running server', async () => {
    // Asynchronous: the server runs in this process and must keep answering meanwhile.
    const r = await promisify(execFile)(process.execPath, ['consumer.mjs', baseUrl, 'packaged-match'], { cwd: path.join(work, 'app'), encoding: 'utf8', timeout: 90_000 });
    expect(r.stderr).toBe('');
    const update = JSON.parse(r.stdout.trim().split('\n').pop()!) as { type: string; matchId: string; counts: Record<string, number>; total: number; seq: number };
    expect(update).toMatchObject({ type: 'update', matchId: 'packaged-match', counts: { '🔥': 3 }, total: 3 });
    expect(Number.isInteger(update.seq)).toBe(true);
  }, 120_000);
});
