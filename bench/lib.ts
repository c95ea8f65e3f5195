import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import autocannon from 'autocannon';
import { repoRoot } from '../src/domain/schemas-dir.js';
import { ensureBuilt } from '../scripts/ensure-install.mjs';
import { ROLE_NODE_FLAGS } from '../scripts/role-node-flags.mjs';

/** Starts a child process and waits for a line on stdout matching `ready`. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Starts a child process and waits for a line on stdout matching `ready`; returns it with the match. */
export async function startChild(cmd: string, args: string[], env: Record<string, string>, ready: RegExp, timeoutMs = 30_000): Promise<ChildProcess & { match: RegExpExecArray }> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] }) as ChildProcess & { match: RegExpExecArray };
  children.add(child);
  child.once('exit', () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start in ${timeoutMs} ms`)), timeoutMs);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = ready.exec(buf);
      if (m) {
        child.match = m;
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
  });
  child.stdout!.resume();
  return child;
}

/**
 * One EmoStream role as its own process on loopback and a free port; resolves with its base URL
 * once it printed it. Defaults below, overridden by `env`. It runs the build `npm start` runs
 * (dist/, rebuilt first when src/ is newer), not the sources through tsx: tsx's loader hooks and
 * esbuild's keepNames helper showed in the profiles as a few percent of the request path.
 */
export async function startRoleChild(env: Record<string, string>, timeoutMs = 60_000): Promise<ChildProcess & { match: RegExpExecArray; url: string }> {
  ensureBuilt();
  const child = await startChild(
    process.execPath,
    // BENCH_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": profile the role processes only.
    [...ROLE_NODE_FLAGS, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), '--enable-source-maps', path.join(repoRoot(), 'dist/src/main.js')],
    { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    /on (http:\/\/127\.0\.0\.1:(\d+))/,
    timeoutMs,
  );
  return Object.assign(child, { url: child.match[1]! });
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export interface Row {
  [k: string]: string | number;
}

/** Prints a readable table and writes the figures as JSON under bench/results/ (BENCH_RESULTS_DIR: the nightly suite's per-run folder). */
export function report(name: string, rows: Row[], extra: Record<string, unknown> = {}): void {
  const result = { bench: name, at: new Date().toISOString(), node: process.version, cpus: (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency, rows, ...extra };
  const dir = process.env.BENCH_RESULTS_DIR ?? path.join(repoRoot(), 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.table(rows);
  console.log(JSON.stringify(result));
  console.log(`\nwritten to ${path.relative(repoRoot(), file)}`);
}

export interface CannonResult {
  rps: number;
  reactionsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  /** Responses by status, e.g. "202:5000 503:12". */
  codes: string;
  accepted: number;
}

/** autocannon POSTing `bodies` in turn for `seconds`; accepted counts 2xx answers × reactions per request. */
export async function cannon(url: string, bodies: string[], perRequest: number, seconds: number, connections: number, headers: Record<string, string> = {}): Promise<CannonResult> {
  let k = 0;
  const r = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    connections,
    duration: seconds,
    pipelining: 1,
    requests: [{ setupRequest: (req) => ({ ...req, body: bodies[k++ % bodies.length]! }) }],
  });
  const ok = r.requests.total - r.non2xx;
  return {
    rps: Math.round(r.requests.average),
    reactionsPerSec: Math.round((ok * perRequest) / seconds),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    codes: Object.entries((r as unknown as { statusCodeStats?: Record<string, { count: number }> }).statusCodeStats ?? {})
      .map(([code, v]) => `${code}:${v.count}`)
      .join(' '),
    accepted: ok * perRequest,
  };
}

/** Nearest-rank percentile (p in 0..100); NaN for no samples. */
export function pct(xs: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(xs).sort();
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** A pause in a load schedule (pacing), never a wait for something to happen. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

