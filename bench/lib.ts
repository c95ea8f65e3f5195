import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../src/domain/schemas-dir.js';

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

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

export interface Row {
  [k: string]: string | number;
}

/** Prints a readable table and writes the figures as JSON under bench/results/. */
export function report(name: string, rows: Row[], extra: Record<string, unknown> = {}): void {
  const result = { bench: name, at: new Date().toISOString(), node: process.version, cpus: (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency, rows, ...extra };
  const dir = path.join(repoRoot(), 'bench/results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  console.table(rows);
  console.log(JSON.stringify(result));
  console.log(`\nwritten to ${path.relative(repoRoot(), file)}`);
}
